"""`--executor slurm` against a live one-node Slurm (.ci/slurm-up): a grid whose pretraining cell outlives its
job's 1-minute wall time is killed by Slurm, resumed from its checkpoint in a new job, and ends with exactly the
serial run's numbers; and the failure modes (no controller, a job that never starts, a node lost mid-cell) each
stop or recover with one line.

The test uses the Slurm that answers here, or starts one with .ci/slurm-up (root and apt-get needed) and stops it
after; it skips, saying why, only where Slurm cannot be had.
"""

from __future__ import annotations

import functools
import json
import math
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tcrbench.errors import UsageError

pytestmark = [pytest.mark.slow, pytest.mark.slurm]

REPO = Path(__file__).resolve().parents[1]
TARGET_PRETRAIN_S = 120.0  # longer than the 60-90 s a 1-minute job lives (Slurm checks limits every 30 s)


def _answers() -> bool:
    try:
        ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=20)
        state = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "UP" in ping.stdout and any(s in state.stdout for s in ("idle", "mixed", "allocated"))


@pytest.fixture(scope="module")
def slurm():
    """The node's name, once a Slurm controller and node answer (started here, and stopped after, if need be)."""
    reason = os.environ.get("TCRBENCH_SLURM_UNAVAILABLE")
    if reason:
        pytest.skip(f"no Slurm here: {reason}")
    folder = os.environ.get("TCRBENCH_SLURM_DIR", "/tmp/tcrbench-slurm")
    with pytest.MonkeyPatch.context() as mp:
        if "SLURM_CONF" not in os.environ and (Path(folder) / "slurm.conf").exists():
            mp.setenv("SLURM_CONF", str(Path(folder) / "slurm.conf"))
        started = False
        if not _answers():
            up = subprocess.run([str(REPO / ".ci" / "slurm-up"), folder], capture_output=True, text=True, timeout=900)
            if up.returncode != 0:
                lines = (up.stderr or up.stdout).strip().splitlines()
                pytest.skip(f"Slurm cannot be started here: {lines[-1] if lines else 'slurm-up failed'}")
            mp.setenv("SLURM_CONF", str(Path(folder) / "slurm.conf"))
            started = True
        node = subprocess.run(["sinfo", "-h", "-o", "%n"], capture_output=True, text=True).stdout.split()[0]
        limit = subprocess.run(["sinfo", "-h", "-o", "%l"], capture_output=True, text=True).stdout.split()[0]
        try:
            yield {"node": node, "max_time": limit}
        finally:
            if started:
                subprocess.run([str(REPO / ".ci" / "slurm-down"), folder], capture_output=True, timeout=120)


def _data(folder: Path) -> Path:
    """A generated table with one given fold (a quarter of the rows test): one pretraining cell in the grid."""
    import polars as pl

    from tcrbench.data.synthetic import synthesize

    frame = synthesize(n_peptides=3, n_positives_per_peptide=20, seed=0)
    split = ["test" if i % 4 == 0 else "train" for i in range(frame.height)]
    path = folder / "pairs.tsv"
    frame.with_columns(pl.Series("partition", split)).write_csv(path, separator="\t")
    return path


def _config(data: Path, steps: int):
    from tcrbench.run.config import Budget, RunConfig

    budget = Budget(pretrain_steps=steps, pretrain_batch=32, finetune_steps=3, batch_size=32)
    return RunConfig(
        data=str(data), split="given", encoder="transformer:size=tiny", baselines=["majority"], budget=budget, threads=1
    )


def _rows(run: Path) -> dict[str, dict]:
    from tcrbench.results.schema import comparable

    return {p.stem: comparable(json.loads(p.read_text())) for p in sorted((run / "rows").glob("*.json"))}


SERIAL = """
import sys
from tcrbench.plugins.loader import get_plugins
from tcrbench.run.config import load_config_file
from tcrbench.run.runner import Runner
Runner(load_config_file(sys.argv[1]), get_plugins(), out=sys.argv[2], quiet=True).run()
"""


def test_a_cell_killed_at_its_wall_time_resumes_in_a_new_job_with_the_serial_numbers(slurm, tmp_path):
    from tcrbench.executors.slurm_backend import SlurmExecutor
    from tcrbench.executors.slurm_spec import SlurmSpec
    from tcrbench.plugins.loader import get_plugins
    from tcrbench.run.runner import Runner

    began = time.monotonic()
    data = _data(tmp_path)
    # calibrate: enough pretraining steps that the cell outlives a 1-minute job on this machine
    probe = Runner(_config(data, 40), get_plugins(), out=tmp_path / "probe", quiet=True).run()
    per_step = max(r["pretrain_seconds"] for r in probe.rows) / 40
    steps = min(max(math.ceil(TARGET_PRETRAIN_S / per_step), 600), 20000)
    cfg = _config(data, steps)

    # the serial reference runs beside the Slurm run (in its own process): the test takes one run's time, not two
    toml = tmp_path / "grid.toml"
    toml.write_text(cfg.to_toml())
    serial = subprocess.Popen([sys.executable, "-c", SERIAL, str(toml), str(tmp_path / "serial")])
    try:
        spec = SlurmSpec.from_table({"walltime": "1m", "memory": "1GB", "max_jobs": 2, "pending_timeout": "5m"})
        executor = SlurmExecutor(spec)
        summary = Runner(cfg, get_plugins(), out=tmp_path / "slurm", quiet=True).run(executor)
    finally:
        assert serial.wait(timeout=900) == 0

    assert not summary.failed
    serial_rows, slurm_rows = _rows(tmp_path / "serial"), _rows(tmp_path / "slurm")
    assert len(serial_rows) == 5 and serial_rows == slurm_rows  # every number, bit for bit

    report = json.loads((tmp_path / "slurm" / "slurm" / "report.json").read_text())
    assert report == executor.report and report["checkpoint_minutes"] == pytest.approx(0.1)  # 10% of 1 min
    cells = {c["label"]: c for c in report["cells"]}
    long = max(cells.values(), key=lambda c: len(c["jobs"]))
    assert "ntxent" in long["label"] and long["state"] == "done"
    assert len(long["jobs"]) >= 2 and long["walltime_kills"] >= 1 and long["other_job_ends"] == 0
    assert report["jobs_per_cell"][str(long["cell"])] == len(long["jobs"])
    assert all(c["state"] == "done" and len(c["jobs"]) >= 1 for c in cells.values())
    killed = [j for j in report["jobs"] if j["job"] in long["jobs"][:-1]]
    assert killed and all(j["state"] == "TIMEOUT" for j in killed)
    log = (tmp_path / "slurm" / "run.log").read_text()
    assert "reached its wall time; resuming from its checkpoint" in log
    assert "pretraining resumed from the checkpoint of step" in log  # resumed, not started over
    overhead = report["overhead"]
    print(
        f"\nslurm live: {steps} steps ({per_step * 1000:.0f} ms each), jobs per cell {report['jobs_per_cell']},"
        f" overhead {overhead}, {time.monotonic() - began:.0f} s in all"
    )
    assert overhead["first_cell_s"] is not None and overhead["first_cell_s"] < 60


# ---------------------------------------------------------------- failure modes

COUNTER = '''
import os, time
from pathlib import Path

def count(folder, ticks, task):
    """A cell that keeps its progress in a file: killed, it goes on from there."""
    path = Path(folder) / f"count-{task.index}"
    n = start = int(path.read_text() or 0) if path.exists() else 0
    while n < ticks:
        time.sleep(0.5)
        n += 1
        path.write_text(str(n))
    return [{"index": task.index, "job": os.environ.get("SLURM_JOB_ID"), "resumed_from": start}]
'''


@pytest.fixture
def counter(tmp_path, monkeypatch):
    """The counting cell, importable here and in every Slurm job (which inherits PYTHONPATH from sbatch)."""
    folder = tmp_path / "helpers"
    folder.mkdir()
    (folder / "slurm_counter.py").write_text(COUNTER)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.syspath_prepend(str(folder))
    import slurm_counter

    yield slurm_counter
    sys.modules.pop("slurm_counter", None)


def _run(spec_table, compute, n=1, max_retries=2, limits=None):
    from tcrbench.executors import CellTask
    from tcrbench.executors.slurm_backend import SlurmExecutor
    from tcrbench.executors.slurm_spec import SlurmSpec

    table = {"walltime": "1m", "memory": "500MB", "max_jobs": 1, **spec_table}
    executor = SlurmExecutor(SlurmSpec.from_table(table), max_retries=max_retries, refresh=1.0)
    rows, lost = {}, {}
    tasks = [CellTask(i, ("x",), f"cell {i}") for i in range(n)]
    executor.run(
        tasks, compute, lambda t, r: rows.__setitem__(t.index, r), lambda t, why: lost.__setitem__(t.index, why), limits
    )
    return executor, rows, lost


def _jobs_left(name: str) -> list[str]:
    out = subprocess.run(["squeue", "-h", "-o", "%i %T %j"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line.split()[2] == name and line.split()[1] in ("PENDING", "RUNNING")]


def test_an_unreachable_controller_is_one_line_before_anything_starts(slurm, tmp_path, monkeypatch, counter):
    conf = Path(os.environ["SLURM_CONF"]).read_text()
    bogus = tmp_path / "slurm.conf"
    bogus.write_text(conf.replace("ClusterName=", "SlurmctldPort=9\nClusterName=", 1))  # nothing listens there
    monkeypatch.setenv("SLURM_CONF", str(bogus))
    began = time.monotonic()
    with pytest.raises(UsageError) as err:
        _run({}, functools.partial(counter.count, str(tmp_path), 1))
    assert "the Slurm controller is unreachable" in str(err.value) and "\n" not in str(err.value)
    assert time.monotonic() - began < 30


def test_a_job_that_cannot_start_or_stays_pending_stops_the_run_with_its_reason(slurm, tmp_path, counter):
    compute = functools.partial(counter.count, str(tmp_path), 1)
    if slurm["max_time"] in ("1:00", "2:00"):  # .ci/slurm-up's partition: a 5-minute job never starts there
        with pytest.raises(UsageError, match=r"job \d+ cannot start \((PartitionTimeLimit|PartitionConfig)\)"):
            _run({"walltime": "5m"}, compute)
    began = time.monotonic()
    with pytest.raises(UsageError) as err:
        _run({"job_extra": ["--begin=now+1hour"], "pending_timeout": "6s"}, compute)
    message = str(err.value)
    assert "no worker for" in message and "is still pending (BeginTime)" in message and "\n" not in message
    assert "run the same command again to resume" in message
    assert time.monotonic() - began < 60
    assert not _jobs_left("tcrbench")  # the run's jobs were cancelled on the way out


def test_a_node_lost_mid_cell_costs_a_retry_and_the_cell_goes_on_from_its_checkpoint(slurm, tmp_path, counter):
    node = slurm["node"]
    progress = tmp_path / "count-0"

    def lose_the_node() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (not progress.exists() or int(progress.read_text() or 0) < 4):
            time.sleep(0.2)
        subprocess.run(["scontrol", "update", f"nodename={node}", "state=down", "reason=tcrbench-test"], check=True)
        time.sleep(3)
        subprocess.run(["scontrol", "update", f"nodename={node}", "state=resume"], capture_output=True)

    saboteur = threading.Thread(target=lose_the_node, daemon=True)
    saboteur.start()
    executor, rows, lost = _run({"walltime": "2m"}, functools.partial(counter.count, str(tmp_path), 16))
    saboteur.join(timeout=10)
    assert lost == {} and rows[0][0]["resumed_from"] >= 4  # went on from its file, not from 0
    cell = executor.report["cells"][0]
    assert cell["other_job_ends"] == 1 and cell["walltime_kills"] == 0 and len(cell["jobs"]) == 2
    first = next(j for j in executor.report["jobs"] if j["job"] == cell["jobs"][0])
    assert first["state"] == "NODE_FAIL"


def test_a_cell_past_its_cell_timeout_fails_and_its_job_is_cancelled(slurm, tmp_path, counter):
    from tcrbench.executors.limits import Limits

    executor, rows, lost = _run({}, functools.partial(counter.count, str(tmp_path), 200), limits=Limits(cell_timeout=4))
    assert rows == {} and lost == {0: "cell timed out after 4s (--cell-timeout)"}
    (job,) = executor.report["jobs"]
    assert job["state"] == "CANCELLED" and job["ran_s"] < 30
    assert not _jobs_left("tcrbench")
