"""Scaling: wall time of a grid of 8 small cells on 2 workers against the serial run, and the cost of
`import tcrbench`, as ratios against references measured in the same session.

    pytest benchmarks/test_bench_scale.py --benchmark-only

prints the ratio table at the end (and writes it to .benchmarks/scale_table.md, or to $TCRBENCH_SCALE_TABLE).

The grid: 4 configurations (3 augmentations x NT-Xent, and the supervised arm) x 2 folds, fine-tuning only, no
simple baselines, tiny transformer, TCRBENCH_BENCH_SCALE_STEPS (default 100) pretraining and fine-tuning steps
per cell (about 5 s of work each, against about 5 s to start a worker process, paid once per run). Every run
times `Runner.run` end to end: for the parallel backends that includes starting the worker processes and each
worker's own data preparation, as a user pays it. References: the serial executor with 1
torch thread (the ideal that 2 single-threaded workers can at most halve) and with 2 threads (what one process
can get from 2 cores without workers). The parallel rows are checked equal to the serial rows.

A second reference says what this machine can give right now: the throughput of 2 processes doing plain torch
work against 1 (on an idle 2-core machine about 2x; on a shared one less, and no grid can beat it).

Import time is measured in fresh subprocesses (the fastest of several rounds): `python -c "import tcrbench"`
against `python -c pass`; `python -X importtime` gives the package's own cumulative share.
"""

from __future__ import annotations

import os
import sys

# OpenMP threads that spin while waiting make a 2-thread run crawl when another process holds the other core;
# passive waiting removes that artefact (read when torch loads, so only if nothing imported torch before).
if "torch" not in sys.modules:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
OMP_POLICY = os.environ.get("OMP_WAIT_POLICY", "default") if "torch" not in sys.modules else "unknown"

import re  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from tcrbench.results.schema import comparable  # noqa: E402
from tcrbench.run.config import Budget, RunConfig  # noqa: E402

STEPS = int(os.environ.get("TCRBENCH_BENCH_SCALE_STEPS", "100"))
REPO = Path(__file__).resolve().parents[1]
TABLE = Path(os.environ.get("TCRBENCH_SCALE_TABLE", REPO / ".benchmarks" / "scale_table.md"))
IMPORT_ROUNDS = 7

_times: dict[str, float] = {}
_rows: dict[str, dict[str, dict]] = {}
_notes: dict[str, str] = {}
_cell_seconds: dict[str, float] = {}


def grid(threads: int) -> RunConfig:
    budget = Budget(pretrain_steps=STEPS, pretrain_batch=64, finetune_steps=STEPS, batch_size=64)
    return RunConfig(dataset="synthetic:n_peptides=4,n_positives_per_peptide=50", augs=["mask1", "mask", "substitute"],
                     objectives=["ntxent"], encoder="transformer:size=tiny", folds=2, seeds=[0], baselines=[],
                     protocols=["finetune"], budget=budget, threads=threads)


def _run_grid(backend: str, out: Path) -> float:
    from tcrbench.executors.select import build_executor
    from tcrbench.run.runner import Runner
    from tcrbench.testing import temporary_plugins

    kind, threads = {"serial-1-thread": ("serial", 1), "serial-2-threads": ("serial", 2),
                     "processes": ("processes", 1), "dask": ("dask", 1)}[backend]
    start = time.perf_counter()
    with temporary_plugins() as plugins:
        executor = build_executor(kind, workers=None if kind == "serial" else 2, threads=threads)
        summary = Runner(grid(threads), plugins, out=out, quiet=True).run(executor)
    elapsed = time.perf_counter() - start
    assert len(summary.rows) == 8 and not summary.failed
    _rows[backend] = {r["row_key"]: comparable(r) for r in summary.rows}
    _cell_seconds[backend] = sum(r["seconds"] for r in summary.rows)  # one row per cell: fine-tuning only
    return elapsed


@pytest.mark.parametrize("backend", ["serial-1-thread", "serial-2-threads", "processes", "dask"])
def test_grid_of_8_cells(benchmark, backend: str, tmp_path: Path) -> None:
    if backend == "dask":
        pytest.importorskip("distributed", reason="dask is not installed (pip install 'tcrbench[dask]')")
    benchmark.group = "grid of 8 cells"
    benchmark.pedantic(_run_grid, args=(backend, tmp_path / "run"), rounds=1, iterations=1)
    _times[backend] = benchmark.stats.stats.min
    if backend in ("processes", "dask") and "serial-1-thread" in _rows:
        assert _rows[backend] == _rows["serial-1-thread"], f"{backend} computed other numbers than serial"


# about a second of single-threaded torch arithmetic (what a cell mostly is), started at an agreed moment so that
# concurrent copies overlap; prints its own duration
WORK = """
import sys, time, torch
torch.set_num_threads(1)
a = torch.randn(256, 256, generator=torch.Generator().manual_seed(0))
for _ in range(50):
    a = torch.tanh(a @ a * 0.01)
time.sleep(max(0.0, float(sys.argv[1]) - time.time()))
start = time.perf_counter()
for _ in range(1000):
    a = torch.tanh(a @ a * 0.01)
print(time.perf_counter() - start)
"""


def _concurrent(n: int) -> float:
    """Wall time of the work when n processes do it at once (the slowest of them)."""
    at = str(time.time() + 8.0)  # time for every copy to import torch first
    procs = [subprocess.Popen([sys.executable, "-c", WORK, at], stdout=subprocess.PIPE, text=True) for _ in range(n)]
    return max(float(p.communicate()[0]) for p in procs)


def test_machine_parallel_ceiling(benchmark) -> None:
    benchmark.group = "machine"
    one = min(_concurrent(1) for _ in range(2))
    two: list[float] = []  # the work's own duration, not the wall time of starting the processes
    benchmark.pedantic(lambda: two.append(_concurrent(2)), rounds=2, iterations=1)
    _times["ceiling"] = 2 * one / min(two)  # 2 units of work in that time, against 1


def _wall(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return time.perf_counter() - start


@pytest.mark.parametrize("what,code", [("python -c pass", "pass"), ("import tcrbench", "import tcrbench"),
                                       ("import tcrbench.cli.main", "import tcrbench.cli.main")])
def test_import_time(benchmark, what: str, code: str) -> None:
    benchmark.group = "import"
    benchmark.pedantic(_wall, args=(code,), rounds=IMPORT_ROUNDS, iterations=1, warmup_rounds=1)
    _times[what] = benchmark.stats.stats.min
    if code != "pass":
        res = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True,
                             check=True)
        top = code.split()[-1]
        cumulative = [int(m.group(1)) for m in re.finditer(rf"\|\s*(\d+) \|\s*{re.escape(top)}$", res.stderr, re.M)]
        _times[f"self {what}"] = cumulative[-1] / 1e6 if cumulative else float("nan")
        loaded = subprocess.run([sys.executable, "-c", f"{code}; import sys; print(sorted(sys.modules))"],
                                capture_output=True, text=True, check=True).stdout
        heavy = [m for m in ("dask", "distributed", "wandb", "mlflow", "tensorboard") if f"'{m}'" in loaded]
        _notes[what] = "imports " + ", ".join(heavy) if heavy else "no engine or tracker imported"


# ------------------------------------------------------------------------------------------ the table


def _row(what: str, value: str, goal: str, met: bool | None, note: str = "") -> str:
    mark = {True: "yes", False: "**no**", None: "n/a"}[met]
    return f"| {what} | {value} | {goal} | {mark} | {note} |"


def ratio_table() -> list[str]:
    rows = ["| measurement | measured | goal | met | note |", "|---|---|---|---|---|"]
    for backend in ("serial-1-thread", "serial-2-threads", "processes", "dask"):
        if backend in _times:
            busy = _cell_seconds.get(backend, float("nan")) / _times[backend]
            rows.append(_row(f"grid of 8 cells, {backend}", f"{_times[backend]:.1f} s", "(reference)"
                             if backend.startswith("serial") else "", None,
                             f"sum of cell times {_cell_seconds.get(backend, float('nan')):.1f} s = {busy:.2f}x wall"))
    if "ceiling" in _times:
        rows.append(_row("2 processes / 1 process, plain torch work", f"{_times['ceiling']:.2f}x",
                         "(this machine's ceiling now)", None, "≈ 2x on an idle 2-core machine"))
    for backend in ("processes", "dask"):
        if backend in _times and "serial-1-thread" in _times:
            r = _times["serial-1-thread"] / _times[backend]
            note = "worker start-up included"
            if "ceiling" in _times:
                note += f"; {r / _times['ceiling']:.0%} of the machine's ceiling"
            rows.append(_row(f"speed-up, 2 workers ({backend}) / serial 1 thread", f"{r:.2f}x", "≥ 1.6x", r >= 1.6,
                             note))
        if backend in _times and "serial-2-threads" in _times:
            r = _times["serial-2-threads"] / _times[backend]
            rows.append(_row(f"speed-up, 2 workers ({backend}) / serial 2 threads", f"{r:.2f}x", "(for reference)",
                             None))
    if "import tcrbench" in _times:
        base = _times.get("python -c pass")
        for what in ("import tcrbench", "import tcrbench.cli.main"):
            if what not in _times:
                continue
            t = _times[what]
            goal, met = ("< 1 s", t < 1.0) if what == "import tcrbench" else ("(for reference)", None)
            ratio = f", {t / base:.2f}x python -c pass" if base else ""
            rows.append(_row(f"{what}, fresh process", f"{t:.2f} s{ratio}", goal, met,
                             f"own share {_times.get('self ' + what, float('nan')):.3f} s; {_notes.get(what, '')}"))
    return rows


@pytest.fixture(scope="module", autouse=True)
def _write_ratio_table(request):
    yield
    if not _times:
        return
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else ["?"]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    header = [f"{cores} cores, {STEPS} steps per cell, OMP_WAIT_POLICY={OMP_POLICY}, "
              f"{time.strftime('%Y-%m-%d %H:%M')}, load average at the end {' '.join(load)}", ""]
    lines = header + ratio_table()
    TABLE.parent.mkdir(parents=True, exist_ok=True)
    TABLE.write_text("\n".join(lines) + "\n")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line("")
        reporter.write_line(f"scale ratio table (also in {TABLE}):")
        for line in lines:
            reporter.write_line(line)
