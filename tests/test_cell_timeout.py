"""A cell that hangs cannot hold the grid: past --cell-timeout it becomes failed rows and the grid goes on, and past
--max-time (and its grace) the run stops, exit status 3, whatever the cell is doing; on every executor.

The hanging plugins are a baseline whose fit sleeps and an augmentation that sleeps on its first call (a hang
inside pretraining, the first cell to run), written to a --plugins-dir folder so that worker processes load them.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tcrbench.errors import UsageError
from tcrbench.executors.limits import CellInterrupted, Limits, grace, interrupt_at
from tcrbench.testing import temporary_plugins, tiny_config

HANG = '''
import time
from dataclasses import dataclass
from typing import ClassVar

from tcrbench.plugins.hookspecs import hookimpl
from tcrbench.plugins.params import param
from tcrbench_plugins.augmentations import Mask1


@dataclass
class Hang:
    seconds: float = param(3600.0, help="how long fit_predict sleeps")
    name: ClassVar[str] = "hang"
    description: ClassVar[str] = "a baseline whose fit sleeps (tests --cell-timeout)"
    shortcut: ClassVar[bool] = False

    def fit_predict(self, train, test, seed):
        time.sleep(self.seconds)
        return [0.5] * train.height, [0.5] * test.height


@dataclass
class Sleepy(Mask1):
    name: ClassVar[str] = "sleepy"
    description: ClassVar[str] = "mask1 that sleeps for an hour when first called (a hang inside pretraining)"

    def __call__(self, batch, generator):
        time.sleep(3600)
        return super().__call__(batch, generator)


@hookimpl
def register_baselines(register):
    register(Hang)


@hookimpl
def register_augmentations(register):
    register(Sleepy)
'''

NO_DASK = importlib.util.find_spec("distributed") is None


@pytest.fixture
def plugins_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "hang.py").write_text(HANG)
    return folder


def _run(cfg, out: Path, plugins_dir: Path, backend: str = "serial"):
    from tcrbench.executors.select import build_executor
    from tcrbench.run.runner import Runner

    with temporary_plugins(plugins_dir=plugins_dir) as plugins:
        executor = build_executor(backend, workers=None if backend == "serial" else 2)
        return Runner(cfg, plugins, out=out, quiet=True).run(executor)


# ------------------------------------------------------------------------------------ the interrupt itself
def test_a_sleep_in_the_main_thread_is_interrupted_at_its_deadline_and_only_then():
    handler = signal.getsignal(signal.SIGALRM)
    began = time.monotonic()
    with pytest.raises(CellInterrupted), interrupt_at(time.monotonic() + 0.3):
        time.sleep(30)
    assert 0.25 < time.monotonic() - began < 5
    with interrupt_at(time.monotonic() + 0.2):  # a block that ends in time is never interrupted, then or later
        pass
    time.sleep(0.4)
    assert signal.getsignal(signal.SIGALRM) == handler and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_someone_elses_alarm_is_given_back():
    fired = []
    previous = signal.signal(signal.SIGALRM, lambda *_: fired.append(1))
    try:
        signal.setitimer(signal.ITIMER_REAL, 1.0)
        with interrupt_at(time.monotonic() + 30):
            time.sleep(0.1)
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 0.5 < left < 1.0  # re-armed with what was left of it
        time.sleep(1.2)
        assert fired == [1]  # and it reached its own handler
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_a_busy_cell_in_another_thread_is_interrupted_too():
    outcome: list[str] = []

    def cell() -> None:
        try:
            with interrupt_at(time.monotonic() + 0.3):
                while True:
                    pass
        except CellInterrupted:
            outcome.append("interrupted")

    worker = threading.Thread(target=cell)
    worker.start()
    worker.join(10)
    assert not worker.is_alive() and outcome == ["interrupted"]


def test_limits_arithmetic():
    limits = Limits(cell_timeout=10, max_time=100, started=1000.0)
    assert grace(100) == 5 and grace(3600) == 180 and grace(36000) == 300
    assert limits.stop_at == 1105 and limits.cell_deadline(1090) == 1100 and limits.cell_deadline(1100) == 1105
    assert limits.timed_out(1000, now=1010) and not limits.timed_out(1000, now=1009.9)
    assert limits.out_of_time(now=1105) and not limits.out_of_time(now=1104)
    assert Limits().cell_deadline(5) is None and not Limits().out_of_time()
    assert limits.timeout_reason() == "cell timed out after 10s (--cell-timeout)"
    assert Limits(cell_timeout=5400).timeout_reason() == "cell timed out after 1h30m (--cell-timeout)"


# ------------------------------------------------------------------------------------ the setting
def test_cell_timeout_is_read_validated_and_kept_out_of_the_hash(tmp_path):
    from tcrbench.run.config import DEFAULT_CELL_TIMEOUT, RunConfig, load_config_file

    assert RunConfig().cell_timeout == DEFAULT_CELL_TIMEOUT == 6 * 3600
    toml = tmp_path / "grid.toml"
    toml.write_text('cell_timeout = "1h30m"\nmax_time = "2h"\n')
    cfg = load_config_file(toml)
    assert (cfg.cell_timeout, cfg.max_time) == (5400, 7200)
    assert cfg.config_hash("x") == RunConfig().config_hash("x")  # a time limit never changes a number
    toml.write_text("cell_timeout = 0\n")
    with pytest.raises(UsageError, match=r"--cell-timeout must be a finite number above 0, got 0.0"):
        load_config_file(toml)
    toml.write_text('cell_timeout = "soon"\n')
    with pytest.raises(UsageError, match="cell_timeout 'soon': expected seconds or a duration"):
        load_config_file(toml)


def test_a_bad_cell_timeout_on_the_command_line_is_one_line_before_any_folder(tmp_path):
    from tcrbench.cli.main import app

    result = CliRunner().invoke(app, ["run", "--cell-timeout", "0", "--out", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert result.output.strip() == "error: --cell-timeout '0': must be more than zero"
    assert not (tmp_path / "run").exists()


# ------------------------------------------------------------------------------------ serial (in this process)
def test_the_serial_executor_loses_a_late_cell_and_goes_on():
    from tcrbench.executors import CellTask, SerialExecutor

    rows, lost = {}, {}

    def compute(task: CellTask) -> list[dict]:
        time.sleep(3600 if task.index == 1 else 0.01)
        return [{"index": task.index}]

    tasks = [CellTask(i, ("probe",), f"cell {i}") for i in range(3)]
    began = time.monotonic()
    SerialExecutor().run(tasks, compute, lambda t, r: rows.__setitem__(t.index, r),
                         lambda t, reason: lost.__setitem__(t.index, reason), limits=Limits(cell_timeout=0.5))
    assert time.monotonic() - began < 5
    assert sorted(rows) == [0, 2] and lost == {1: "cell timed out after 0.5s (--cell-timeout)"}


@pytest.mark.slow
def test_a_hanging_cell_times_out_and_the_grid_goes_on(tmp_path, plugins_dir):
    # the timeout leaves a healthy tiny cell time to finish on a busy machine; the hung ones would take an hour
    cfg = tiny_config(baselines=["majority", "hang"], protocols=["probe"], cell_timeout=8.0)
    began = time.monotonic()
    summary = _run(cfg, tmp_path / "run", plugins_dir)
    assert time.monotonic() - began < 60
    failed = {(r["baseline"], r["fold"]): r["reason"] for r in summary.failed}
    assert failed == {("hang", 0): "cell timed out after 8s (--cell-timeout)",
                      ("hang", 1): "cell timed out after 8s (--cell-timeout)"}
    ok = [r for r in summary.rows if r["status"] == "ok"]
    assert len(ok) == 6 and {r["label"] for r in ok if r["arm"] == "baseline"} == {"majority"}
    assert "cell timed out after 8s" in (tmp_path / "run" / "run.log").read_text()


def test_max_time_stops_a_run_whose_cell_hangs_with_exit_status_3(tmp_path, plugins_dir, monkeypatch):
    from tcrbench.cli.main import app

    monkeypatch.setenv("TCRBENCH_PLUGINS_DIR", str(plugins_dir))  # --plugins-dir sets it: undone after the test

    out = tmp_path / "run"
    args = ["--plugins-dir", str(plugins_dir), "run", "--dataset", "synthetic:n_peptides=3,n_positives_per_peptide=20",
            "--aug", "sleepy", "--objective", "ntxent", "--encoder", "transformer:size=tiny", "--folds", "2",
            "--pretrain-steps", "3", "--pretrain-batch", "32", "--steps", "3", "--batch-size", "32", "--baseline",
            "majority", "--protocol", "probe", "--max-time", "1s", "--quiet", "--out", str(out)]
    began = time.monotonic()
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 3, result.output
    assert time.monotonic() - began < 1 + grace(1) + 25  # the hang lasts an hour
    assert "stopped for --max-time 1s (plus 5s grace); stopped 1 running cell(s): sleepy" in result.output
    assert "run the same command again to resume" in result.output
    assert not [p for p in (out / "rows").glob("*.json") if '"failed"' in p.read_text()]  # a stop is no failure


# ------------------------------------------------------------------------------------ worker processes
@pytest.mark.slow
@pytest.mark.parametrize("backend", [
    "processes",
    pytest.param("dask", marks=pytest.mark.skipif(NO_DASK, reason="dask is not installed (pip install 'tcrbench[dask]')")),
])
def test_a_hanging_cell_on_a_worker_is_killed_and_the_other_workers_go_on(backend, tmp_path, plugins_dir):
    cfg = tiny_config(baselines=["majority", "hang"], protocols=["probe"], cell_timeout=12.0)
    summary = _run(cfg, tmp_path / "run", plugins_dir, backend)
    assert {(r["baseline"], r["fold"]): r["reason"] for r in summary.failed} == {
        ("hang", 0): "cell timed out after 12s (--cell-timeout)",
        ("hang", 1): "cell timed out after 12s (--cell-timeout)",
    }
    assert sum(r["status"] == "ok" for r in summary.rows) == 6 and summary.computed == 8
    log = (tmp_path / "run" / "run.log").read_text()
    assert log.count("cell timed out after 12s (--cell-timeout); its worker") == 2


@pytest.mark.slow
def test_max_time_kills_worker_processes_whose_cell_hangs(tmp_path, plugins_dir):
    from tcrbench.training.checkpoint import StoppedForTime

    cfg = tiny_config(augs=["sleepy"], baselines=["majority"], protocols=["probe"], max_time=1.0)
    before = set(_sleeping_workers())  # another test's workers may still be on their way out
    began = time.monotonic()
    with pytest.raises(StoppedForTime, match=r"stopped for --max-time 1s \(plus 5s grace\)"):
        _run(cfg, tmp_path / "run", plugins_dir, "processes")
    assert time.monotonic() - began < 60
    for _ in range(50):  # a killed process takes a moment to be gone
        if not set(_sleeping_workers()) - before:
            break
        time.sleep(0.1)
    assert not set(_sleeping_workers()) - before  # every worker process was killed, none left sleeping


def _sleeping_workers() -> list[Path]:
    """This process's spawned workers still alive (not zombies), on Linux."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            state, parent = (proc / "stat").read_text().rsplit(")", 1)[1].split()[:2]
            cmdline = (proc / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        if int(parent) == os.getpid() and state != "Z" and b"spawn_main" in cmdline:
            found.append(proc)
    return found
