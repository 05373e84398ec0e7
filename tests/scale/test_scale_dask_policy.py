"""The Dask backend's promises with cheap cells on a real loopback cluster that it joins (as it joins a
dask-jobqueue cluster): each finished cell reaches the driver once, a cell whose worker dies is retried a bounded
number of times, setup errors stop the run, and a local cluster gives each worker one GPU."""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
import sys
from pathlib import Path

import pytest

from tcrbench.executors import CellTask
from tcrbench.executors.worker import WorkerSetupError

distributed = pytest.importorskip("distributed", reason="dask is not installed (pip install 'tcrbench[dask]')")
pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def scheduler():
    """A 2-worker loopback cluster configured as `--executor dask` configures its own."""
    import dask.config

    sys.path.insert(0, str(HERE))  # workers are spawned from here and inherit it: scale_helpers imports there
    try:
        with dask.config.set({"distributed.scheduler.allowed-failures": 0,
                              "distributed.scheduler.worker-saturation": 1.0}):
            cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                               dashboard_address=None)
        with cluster:
            yield cluster.scheduler_address
    finally:
        sys.path.remove(str(HERE))


def _tasks(n: int) -> list[CellTask]:
    return [CellTask(i, ("finetune",), f"cell {i}") for i in range(n)]


class Driver:
    def __init__(self) -> None:
        self.rows: dict[int, list[dict]] = {}
        self.lost: dict[int, str] = {}

    def on_rows(self, task: CellTask, rows: list[dict]) -> None:
        assert task.index not in self.rows and task.index not in self.lost, f"cell {task.index} delivered twice"
        self.rows[task.index] = rows

    def on_lost(self, task: CellTask, reason: str) -> None:
        assert task.index not in self.rows and task.index not in self.lost
        self.lost[task.index] = reason


def _executor(scheduler, **kw):
    from tcrbench.executors.dask_backend import DaskExecutor

    return DaskExecutor(scheduler=scheduler, **kw)


def test_a_cell_whose_worker_dies_once_is_retried(scheduler, tmp_path, helpers, caplog):
    driver = Driver()
    with caplog.at_level(logging.WARNING, logger="tcrbench.run"):
        _executor(scheduler).run(_tasks(5), functools.partial(helpers.flaky, str(tmp_path), 2, False),
                                 driver.on_rows, driver.on_lost)
    assert (tmp_path / "died-2").exists()
    assert sorted(driver.rows) == [0, 1, 2, 3, 4] and not driver.lost
    assert "worker died computing cell 2; retry 1 of 2" in caplog.text


def test_a_cell_that_always_kills_its_worker_is_lost_after_the_retries(scheduler, tmp_path, helpers):
    driver = Driver()
    _executor(scheduler, max_retries=1).run(_tasks(4), functools.partial(helpers.flaky, str(tmp_path), 1, True),
                                            driver.on_rows, driver.on_lost)
    assert sorted(driver.rows) == [0, 2, 3]
    assert driver.lost == {1: "its worker process died 2 times (killed, out of memory or crashed)"}


def test_setup_errors_stop_the_run_and_plumbing_errors_lose_one_cell(scheduler, helpers):
    driver = Driver()
    with pytest.raises(WorkerSetupError, match="plugin 'x' is missing here"):
        _executor(scheduler).run(_tasks(3), helpers.bad_setup, driver.on_rows, driver.on_lost)
    driver = Driver()
    _executor(scheduler).run(_tasks(3), helpers.plumbing_error, driver.on_rows, driver.on_lost)
    assert driver.lost == {1: "RuntimeError: result could not be sent"} and sorted(driver.rows) == [0, 2]


def test_a_cell_that_stops_the_run_ends_it_cleanly_as_the_same_exit(scheduler, helpers):
    driver = Driver()
    with pytest.raises(SystemExit) as stop:
        _executor(scheduler).run(_tasks(8), functools.partial(helpers.stop_at, 1), driver.on_rows, driver.on_lost)
    assert type(stop.value).__name__ == "Stop" and stop.value.code == 3
    assert str(stop.value) == "stopped before cell 1; run again to resume"
    assert not driver.lost and 1 not in driver.rows and len(driver.rows) < 7


def test_a_scheduler_file_joins_the_cluster(scheduler, tmp_path, helpers):
    path = tmp_path / "scheduler.json"
    path.write_text(json.dumps({"address": scheduler}))  # what `dask scheduler --scheduler-file` writes, in part
    driver = Driver()
    _executor(None, scheduler_file=str(path)).run(_tasks(3), helpers.cuda_visible, driver.on_rows, driver.on_lost)
    assert sorted(driver.rows) == [0, 1, 2]


def test_an_unreachable_scheduler_is_a_usage_error():
    from tcrbench.errors import UsageError

    with pytest.raises(UsageError, match=r"--scheduler tcp://127.0.0.1:9: cannot join the cluster"):
        _executor("tcp://127.0.0.1:9", connect_timeout=1).run(_tasks(1), print, print, print)


def test_our_local_cluster_listens_on_loopback_only():
    from tcrbench.executors.dask_backend import DaskExecutor

    with DaskExecutor(workers=1).local_cluster() as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        assert {s.getsockname()[0] for s in cluster.scheduler.http_server._sockets.values()} == {"127.0.0.1"}
        assert all(addr.startswith("tcp://127.0.0.1:") for addr in cluster.scheduler.workers)
        assert cluster.scheduler.allowed_failures == 0  # the retry bound is ours (--max-retries)


@pytest.mark.skipif(importlib.util.find_spec("bokeh") is not None, reason="bokeh is installed here")
def test_the_dashboard_without_bokeh_says_what_to_install():
    from tcrbench.errors import UsageError
    from tcrbench.executors.dask_backend import DaskExecutor

    with pytest.raises(UsageError, match=r"--dashboard needs the bokeh package"):
        DaskExecutor(dashboard=True)


def test_a_local_cluster_gives_each_worker_one_gpu(helpers):
    from tcrbench.executors.dask_backend import DaskExecutor

    with DaskExecutor(gpus=[3, 5]).local_cluster() as cluster, distributed.Client(cluster) as client:
        client.wait_for_workers(2, timeout=60)
        seen = client.run(helpers.cuda_visible, CellTask(0, (), ""))  # on every worker
        assert sorted(rows[0]["cuda"] for rows in seen.values()) == ["3", "5"]
        assert {w["nthreads"] for w in client.scheduler_info()["workers"].values()} == {1}
