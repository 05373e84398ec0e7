"""The process pool's promises with cheap cells: each finished cell reaches the driver once, a cell that kills
its worker is retried a bounded number of times and then becomes a lost cell, the other workers never notice,
setup errors stop the run, and each worker sees only its own GPU."""

from __future__ import annotations

import functools
import logging

import pytest

from tcrbench.errors import UsageError
from tcrbench.executors import CellTask
from tcrbench.executors.processes import ProcessExecutor
from tcrbench.executors.worker import WorkerSetupError


def _tasks(n: int) -> list[CellTask]:
    return [CellTask(i, ("finetune",), f"cell {i}") for i in range(n)]


class Driver:
    """Records what an executor hands back, as the runner's accept_rows/lose_task would see it."""

    def __init__(self) -> None:
        self.rows: dict[int, list[dict]] = {}
        self.lost: dict[int, str] = {}
        self.calls = 0

    def on_rows(self, task: CellTask, rows: list[dict]) -> None:
        self.calls += 1
        assert task.index not in self.rows, f"cell {task.index} delivered twice"
        self.rows[task.index] = rows

    def on_lost(self, task: CellTask, reason: str) -> None:
        self.calls += 1
        self.lost[task.index] = reason


def test_a_cell_that_kills_its_worker_once_is_retried_and_nothing_is_lost(tmp_path, helpers, caplog):
    driver = Driver()
    compute = functools.partial(helpers.flaky, str(tmp_path), 2, False)
    with caplog.at_level(logging.WARNING, logger="tcrbench.run"):
        ProcessExecutor(2, max_retries=2).run(_tasks(5), compute, driver.on_rows, driver.on_lost)
    assert (tmp_path / "died-2").exists()  # the kill did happen
    assert sorted(driver.rows) == [0, 1, 2, 3, 4] and not driver.lost and driver.calls == 5
    assert "worker died computing cell 2; retry 1 of 2" in caplog.text
    pids = {r[0]["pid"] for r in driver.rows.values()}
    assert len(pids) >= 2  # the rebuilt worker is a new process


def test_a_cell_that_always_kills_its_worker_is_lost_after_the_retries_and_the_grid_goes_on(tmp_path, helpers):
    driver = Driver()
    compute = functools.partial(helpers.flaky, str(tmp_path), 1, True)
    ProcessExecutor(2, max_retries=1).run(_tasks(4), compute, driver.on_rows, driver.on_lost)
    assert sorted(driver.rows) == [0, 2, 3]
    assert driver.lost == {1: "its worker process died 2 times (killed, out of memory or crashed)"}


def test_zero_retries_loses_the_cell_at_its_first_death(tmp_path, helpers):
    driver = Driver()
    ProcessExecutor(1, max_retries=0).run(_tasks(2), functools.partial(helpers.flaky, str(tmp_path), 0, False),
                                          driver.on_rows, driver.on_lost)
    assert list(driver.lost) == [0] and "died 1 times" in driver.lost[0] and sorted(driver.rows) == [1]


def test_a_setup_error_in_a_worker_stops_the_run(helpers):
    driver = Driver()
    with pytest.raises(WorkerSetupError, match="plugin 'x' is missing here"):
        ProcessExecutor(2).run(_tasks(3), helpers.bad_setup, driver.on_rows, driver.on_lost)
    assert not driver.rows


def test_an_error_outside_the_cell_becomes_a_lost_cell(helpers):
    driver = Driver()
    ProcessExecutor(2).run(_tasks(3), helpers.plumbing_error, driver.on_rows, driver.on_lost)
    assert driver.lost == {1: "RuntimeError: result could not be sent"} and sorted(driver.rows) == [0, 2]


def test_a_cell_that_stops_the_run_ends_it_cleanly_as_the_same_exit(helpers):
    driver = Driver()
    with pytest.raises(SystemExit) as stop:
        ProcessExecutor(2).run(_tasks(8), functools.partial(helpers.stop_at, 1), driver.on_rows, driver.on_lost)
    assert type(stop.value).__name__ == "Stop" and stop.value.code == 3
    assert str(stop.value) == "stopped before cell 1; run again to resume"
    assert not driver.lost and 1 not in driver.rows  # nothing failed: the stopped cell is simply not done
    assert 0 in driver.rows and len(driver.rows) < 7  # the running cell finished; no new ones were started


def test_each_worker_sees_only_its_own_gpu(helpers):
    driver = Driver()
    ProcessExecutor(2, gpus=[3, 5]).run(_tasks(2), helpers.cuda_visible, driver.on_rows, driver.on_lost)
    assert sorted(r[0]["cuda"] for r in driver.rows.values()) == ["3", "5"]


def test_a_script_without_a_main_guard_gets_told_so(tmp_path):
    import subprocess
    import sys

    script = tmp_path / "unguarded.py"
    script.write_text("from tcrbench.executors import CellTask\n"
                      "from tcrbench.executors.processes import ProcessExecutor\n"
                      "ProcessExecutor(1).run([CellTask(0, ('finetune',), 'cell 0')], print, print, print)\n")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "a worker process died while starting" in proc.stderr
    assert "needs `if __name__ == '__main__':` around its entry point" in proc.stderr


def test_workers_must_be_positive():
    with pytest.raises(UsageError, match="--workers must be at least 1, got 0"):
        ProcessExecutor(0)
