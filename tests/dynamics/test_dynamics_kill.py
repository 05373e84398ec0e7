"""The issue's promise, end to end through the command line: SIGKILL a run at random points, several times,
stop it once with --max-time (exit status 3), re-run the same command each time: the rows equal those of a
run that was never interrupted."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

TOTAL_ROWS = 2 * (1 + 1 + 5)  # 2 folds x (supervised probe, pretrained probe, dynamics steps 0, 10, 20, 30, 40)


def _cli(out: Path, extra: tuple[str, ...] = ()) -> subprocess.Popen:
    args = ["run", "--dataset", "synthetic:n_peptides=3,n_positives_per_peptide=20", "--aug", "mask1",
            "--objective", "ntxent", "--folds", "2", "--pretrain-steps", "40", "--pretrain-batch", "32",
            "--steps", "2", "--batch-size", "32", "--no-baselines", "--protocol", "probe", "--eval-every", "10",
            "--checkpoint-every", "3", "--threads", "1", "--quiet", "--out", str(out), *extra]
    code = "import sys; from tcrbench.cli.main import main; main(sys.argv[1:])"
    return subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={k: v for k, v in os.environ.items() if not k.startswith("TCRBENCH_")})


def _checkpoints(out: Path) -> set[Path]:
    return set((out / "cache" / "checkpoints").glob("*/step-*.ckpt"))


def _rows(out: Path) -> dict[str, dict]:
    import json

    from tcrbench.results.schema import comparable

    return {p.stem: comparable(json.loads(p.read_text())) for p in sorted((out / "rows").glob("*.json"))}


@pytest.mark.slow
def test_killed_and_stopped_runs_resume_to_the_uninterrupted_rows(tmp_path):
    reference = _cli(tmp_path / "ref")
    _, err = reference.communicate(timeout=300)
    assert reference.returncode == 0, err
    expected = _rows(tmp_path / "ref")
    assert len(expected) == TOTAL_ROWS

    out, rng = tmp_path / "victim", random.Random(7)
    for kill in range(3):
        before = _checkpoints(out)
        victim = _cli(out)
        deadline = time.time() + 120
        while time.time() < deadline and victim.poll() is None and not (_checkpoints(out) - before):
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.4))  # a random point after this run's first new checkpoint
        assert victim.poll() is None, f"kill {kill}: the run ended before it could be killed mid-cell"
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        assert len(list((out / "rows").glob("*.json"))) < TOTAL_ROWS

    stopped = _cli(out, ("--max-time", "0.001"))
    _, err = stopped.communicate(timeout=300)
    assert stopped.returncode == 3, err
    assert "stopped for --max-time" in err and "run the same command again" in err

    final = _cli(out)
    _, err = final.communicate(timeout=300)
    assert final.returncode == 0, err
    assert _rows(out) == expected
    assert "pretraining resumed from the checkpoint of step" in (out / "run.log").read_text()  # kills hit mid-cell
    assert not list((out / "cache").rglob("*.ckpt"))  # finished cells keep no resume state


@pytest.mark.parametrize("option, value, message", [
    ("--eval-every", "log:1", "error: --eval-every 'log:1': log:N needs N >= 2 points"),
    ("--max-time", "soon", "error: --max-time 'soon': expected seconds or a duration"),
    ("--dynamics-protocol", "baseline", "dynamics_protocol: must be one of 'probe', 'finetune'"),
])
def test_bad_options_are_one_line_errors(tmp_path, option, value, message):
    from typer.testing import CliRunner

    from tcrbench.cli.main import app

    result = CliRunner().invoke(app, ["run", "--out", str(tmp_path / "run"), "--quiet", option, value])
    assert result.exit_code == 2 and message in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()
