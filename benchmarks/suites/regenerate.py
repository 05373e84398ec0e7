"""Run the real-data suites and write their results into docs/results/<suite>/: one command regenerates them.

    python benchmarks/suites/regenerate.py                 # every suite, as committed (about 55 min on 2 cores)
    python benchmarks/suites/regenerate.py immrep22 nettcr # some of them
    python benchmarks/suites/regenerate.py --data-dir /elsewhere/data --results /tmp/results

Each suite is `tcrbench run --config benchmarks/suites/<suite>.toml` into runs/suites/<suite>, then `tcrbench
report` into docs/results/<suite>/ (leaderboard.md/.html/.json), the plots as PNG files, the suite's resolved
config, its environment, and README.md with the exact command and its wall time. A finished run is resumed, not
recomputed, so an interrupted regeneration picks up where it stopped. Extra arguments after `--` go to every
`tcrbench run` (the tests use `-- --subsample 300 --pretrain-steps 2 --steps 2` to keep CI short).

When the results go to the repository's docs/results (the default), the last step re-renders docs/case-study.md
from every suite folder there (benchmarks/suites/case_study.py), so the page's numbers are the boards'; results
written anywhere else (`--results /tmp/results`, as the tests do) leave the page alone.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

SUITES_DIR = Path(__file__).resolve().parent
REPO = SUITES_DIR.parents[1]
ORDER = ("course-3fold", "course", "immrep22", "nettcr", "nettcr-random", "nettcr-olga")


def suite_names() -> list[str]:
    found = sorted(p.stem for p in SUITES_DIR.glob("*.toml"))
    return [s for s in ORDER if s in found] + [s for s in found if s not in ORDER]


def data_override(suite: str, data_dir: Path | None) -> list[str]:
    """`--data` pointing into another folder that holds a file of the same name as the suite's."""
    if data_dir is None:
        return []
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # Python 3.10: the package's fallback
        import tomli as tomllib

    name = Path(tomllib.loads((SUITES_DIR / f"{suite}.toml").read_text())["data"]).name
    return ["--data", str(data_dir / name)]


def run_suite(suite: str, runs: Path, results: Path, data_dir: Path | None, run_args: list[str]) -> float:
    run_dir = runs / suite
    shown = run_dir.relative_to(REPO) if run_dir.is_relative_to(REPO) else run_dir  # portable in the README
    command = ["tcrbench", "run", "--config", str((SUITES_DIR / f"{suite}.toml").relative_to(REPO)),
               *data_override(suite, data_dir), "--out", str(shown), "--quiet", *run_args]
    print("$", shlex.join(command), flush=True)
    start = time.perf_counter()
    code = subprocess.call([sys.executable, "-m", "tcrbench", *command[1:]], cwd=REPO)  # this venv's tcrbench
    if code not in (0, 1):  # 1: some cells failed; their rows are still reported
        raise SystemExit(f"suite {suite}: tcrbench run exited with {code}")
    seconds = accumulated_wall_time(run_dir, time.perf_counter() - start)
    # the new results are written beside the old ones and swapped in only when complete: a run that crashed
    # (exit status 1 from a traceback looks like "some cells failed") must not cost the committed results
    final = results / suite
    out = results / f".{suite}.new"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    report = [sys.executable, "-m", "tcrbench", "report", str(run_dir), "--out", str(out), "--quiet"]
    subprocess.check_call(report, cwd=REPO, stdout=subprocess.DEVNULL)
    for name in ("config.toml", "environment.json", "config_hash"):
        shutil.copy2(run_dir / name, out / name)
    portable_copies(out)
    plots = write_plots(run_dir, out)
    write_readme(suite, out, command, seconds, code, plots)
    if final.exists():
        shutil.rmtree(final)
    out.rename(final)
    return seconds


WALL_FILE = "regenerate_wall_seconds.json"


def accumulated_wall_time(run_dir: Path, seconds: float) -> float:
    """The suite's wall time summed over every invocation that worked on its run folder.

    A resumed regeneration (after a kill, or to add a new baseline's cells) times only what it computed; the
    README must report what the whole suite cost, so each invocation adds its time to a file in the run folder.
    """
    path = run_dir / WALL_FILE
    total = float(json.loads(path.read_text())["seconds"]) if path.is_file() else 0.0
    total += seconds
    path.write_text(json.dumps({"seconds": total}))
    return total


def portable_copies(out: Path) -> None:
    """The copied config and environment name the data file relative to the results folder, never by the
    absolute path of the machine that ran the suite."""
    config = out / "config.toml"
    lines = []
    for line in config.read_text().splitlines():
        if line.startswith("data = "):
            path = Path(json.loads(line.split("=", 1)[1].strip()))
            if path.is_absolute():
                line = f"data = {json.dumps(os.path.relpath(path, out))}"
        lines.append(line)
    config.write_text("\n".join(lines) + "\n")
    env_file = out / "environment.json"
    env = json.loads(env_file.read_text())
    data = env.get("data") or {}
    if isinstance(data.get("source"), str) and Path(data["source"]).is_absolute():
        data["source"] = Path(data["source"]).name
        env_file.write_text(json.dumps(env, indent=2, sort_keys=True))


def write_plots(run_dir: Path, out: Path) -> list[str]:
    from tcrbench.report.board import load_board
    from tcrbench.report.plots import board_plots

    names = []
    for plot in board_plots(load_board(run_dir)):
        (out / f"{plot.name}.png").write_bytes(plot.png)
        names.append(f"![{plot.title}]({plot.name}.png)\n\n*{plot.title}.* {plot.caption}")
    return names


def write_readme(suite: str, out: Path, command: list[str], seconds: float, code: int, plots: list[str]) -> None:
    env = json.loads((out / "environment.json").read_text())
    board = (out / "leaderboard.md").read_text()
    lines = [
        f"# Suite `{suite}`", "",
        "Regenerate: `python benchmarks/suites/regenerate.py " + suite + "` (see docs/case-study.md).", "",
        f"- command: `{shlex.join(command)}`",
        f"- wall time: {seconds / 60:.1f} min on {os.cpu_count()} CPU cores (summed over the regenerations that "
        "worked on this run folder)"
        + (" (exit status 1: some cells failed, listed below)" if code == 1 else ""),
        f"- device: {env.get('device', '?')}; torch threads: {env.get('threads', '?')}; "
        f"config hash `{(out / 'config_hash').read_text().strip()}`",
        "- files: leaderboard.md (below), leaderboard.html (with plots), leaderboard.json, config.toml, "
        "environment.json", "",
        *plots, "",
        "\n".join("#" + line if line.startswith("#") else line for line in board.splitlines()),
    ]
    (out / "README.md").write_text("\n".join(lines))


def write_index(results: Path) -> None:
    """docs/results/README.md: one line per suite folder, with its wall time and links to its reports."""
    lines = ["# Suite results", "",
             "Written by `python benchmarks/suites/regenerate.py`; what they mean: "
             "[the case study](../case-study.md).", "",
             "| suite | wall time | results |", "|---|---:|---|"]
    for suite in suite_names():
        readme = results / suite / "README.md"
        if not readme.is_file():
            continue
        wall = next((line.split(": ", 1)[1].split(" on ")[0] for line in readme.read_text().splitlines()
                     if line.startswith("- wall time: ")), "?")
        lines.append(f"| `{suite}` | {wall} | [leaderboard]({suite}/README.md) · [HTML]({suite}/leaderboard.html) "
                     f"· [JSON]({suite}/leaderboard.json) |")
    others = [("[controls/](controls/README.md)", "the known-answer controls (`benchmarks/suites/controls.py`)"),
              ("[stats_calibration.json](stats_calibration.json)",
               "the default test's measured calibration and power (`benchmarks/stats_calibration.py`)")]
    present = [(link, what) for link, what in others if (results / link.split("(")[1].rstrip(")")).exists()]
    if present:
        lines += ["", "Written by their own scripts:", "", *(f"- {link}: {what}" for link, what in present)]
    (results / "README.md").write_text("\n".join(lines) + "\n")


def write_case_study(results: Path) -> None:
    """docs/case-study.md rendered from `results` by case_study.py, loaded from its file like this module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("case_study", SUITES_DIR / "case_study.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    module.main(["--results", str(results), "--out", str(REPO / "docs" / "case-study.md")])


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    run_args: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, run_args = argv[:i], argv[i + 1:]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("suites", nargs="*", help=f"suites to run (default all: {', '.join(suite_names())})")
    parser.add_argument("--runs", type=Path, default=REPO / "runs" / "suites", help="run folders (resumable)")
    parser.add_argument("--results", type=Path, default=REPO / "docs" / "results", help="where results go")
    parser.add_argument("--executor", default="processes",
                        help="tcrbench run --executor (default processes: 2 single-threaded workers)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="folder with the data files (default: the suites' ../shared/data)")
    args = parser.parse_args(argv)
    unknown = [s for s in args.suites if s not in suite_names()]
    if unknown:
        parser.error(f"unknown suite {unknown[0]!r}; suites: {', '.join(suite_names())}")
    timings = {}
    for suite in args.suites or suite_names():
        timings[suite] = run_suite(suite, args.runs.resolve(), args.results.resolve(), args.data_dir,
                                   ["--executor", args.executor, *run_args])
        print(f"{suite}: {timings[suite] / 60:.1f} min", flush=True)
    write_index(args.results.resolve())
    if args.results.resolve() == (REPO / "docs" / "results").resolve():
        write_case_study(args.results.resolve())
    print(f"all: {sum(timings.values()) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
