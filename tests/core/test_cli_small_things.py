"""Small things of the command line: `tcrbench --version`, the last line of a run, and Ctrl-C during a run."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from typer.testing import CliRunner

from tcrbench.cli.main import app
from tcrbench.run.runner import Runner

TINY = ["run", "--dataset", "synthetic:n_peptides=3,n_positives_per_peptide=20", "--aug", "mask1",
        "--objective", "ntxent", "--folds", "2", "--pretrain-steps", "2", "--pretrain-batch", "32", "--steps", "2",
        "--batch-size", "32", "--baseline", "majority", "--protocol", "probe", "--threads", "1", "--quiet"]


# ------------------------------------------------------------------------------------ --version
def test_version_prints_the_distribution_version_without_torch() -> None:
    code = ("import sys\nfrom tcrbench.cli.main import main\n"
            "try:\n    main(['--version'])\nexcept SystemExit as exc:\n    code = exc.code\n"
            "print('exit', code, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [f"tcrbench {version('tcrbench')}", "exit 0 False"]


def test_python_m_tcrbench_version_exits_zero() -> None:
    out = subprocess.run([sys.executable, "-m", "tcrbench", "--plugins-dir", "nowhere", "--version"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"tcrbench {version('tcrbench')}\n"


def test_version_through_the_app_and_in_help() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output == f"tcrbench {version('tcrbench')}\n"
    assert "--version" in CliRunner().invoke(app, ["--help"]).output


# ------------------------------------------------------------------------------------ the end of a run
def test_a_run_ends_with_where_the_results_are_and_the_next_command(tmp_path: Path) -> None:
    out = tmp_path / "my run"
    result = CliRunner().invoke(app, [*TINY, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == f"results: {out}  ·  next: tcrbench report '{out}'"
    assert "run folder:" in result.output  # print_summary's lines come first


def test_ctrl_c_says_how_many_rows_are_done_and_exits_130(tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "run"

    def interrupted(self: Runner, executor: object = None) -> None:
        self.path = out
        (out / "rows").mkdir(parents=True)
        for key in ("a", "b", "c"):
            (out / "rows" / f"{key}.json").write_text(json.dumps({"row_key": key}))
        raise KeyboardInterrupt

    monkeypatch.setattr(Runner, "run", interrupted)
    result = CliRunner().invoke(app, [*TINY, "--out", str(out)])
    assert result.exit_code == 130, result.output
    lines = result.output.strip().splitlines()
    assert lines == [f"interrupted: 3 rows finished in {out}; run the same command again to resume"]
    assert "Traceback" not in result.output and "Aborted" not in result.output


def test_ctrl_c_before_the_folder_exists(tmp_path: Path, monkeypatch) -> None:
    def interrupted(self: Runner, executor: object = None) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(Runner, "run", interrupted)
    result = CliRunner().invoke(app, [*TINY, "--out", str(tmp_path / "run")])
    assert result.exit_code == 130, result.output
    assert len(result.output.strip().splitlines()) == 1 and "run the same command again" in result.output
