"""The worker side, in this process: a WorkerJob rebuilds the driver's run and computes the rows the driver
would, and refuses to compute against other plugins, other data or another configuration."""

from __future__ import annotations

import dataclasses
import pickle

import pytest
import torch

from tcrbench.errors import UsageError
from tcrbench.executors import worker
from tcrbench.executors.worker import WorkerJob, WorkerSetupError, WorkerStopped
from tcrbench.results.schema import comparable
from tcrbench.run.runner import Runner
from tcrbench.testing import plugin_module, temporary_plugins


@pytest.fixture
def driver(tmp_path, kit, monkeypatch):
    """A set-up driver and its job; the worker's cached runner and torch's thread count are restored after."""
    monkeypatch.setattr(worker, "_cached", None)
    threads = torch.get_num_threads()
    with temporary_plugins(plugins_dir=kit.plugins_dir) as plugins:
        runner = Runner(kit.config(threads=1), plugins, out=tmp_path / "run", quiet=True)
        runner.setup()
        runner._cells, _, runner._redraws = runner.cells()
        yield runner, WorkerJob.of(runner)
    torch.set_num_threads(threads)


def _baseline_task(runner):
    from tcrbench.executors import CellTask

    index = next(i for i, c in enumerate(runner._cells) if c.conf.arm == "baseline")
    return CellTask(index, ("baseline",), "a baseline cell")


def test_a_job_survives_pickling_and_computes_the_drivers_rows(driver, kit):
    runner, job = driver
    task = _baseline_task(runner)
    job = pickle.loads(pickle.dumps(job))  # what a worker receives
    torch.set_num_threads(2)
    rows = job(task)
    assert torch.get_num_threads() == 1  # set inside the cell, from --threads
    assert [comparable(r) for r in rows] == [comparable(r) for r in runner.compute_task(task)]
    assert job.plugins_dir == str(kit.plugins_dir) and not job.entry_points  # as the driver loaded its plugins
    assert worker.runner_for(job) is worker.runner_for(job)  # built once per worker process


def test_other_plugins_on_a_worker_stop_the_run(driver):
    runner, job = driver
    sources = tuple((n, "file sha256:0000") if n == "killer" else (n, s) for n, s in job.plugin_sources)
    with pytest.raises(WorkerSetupError, match=r"plugin 'killer' is file \S+ here but file sha256:0000 on the driver"):
        dataclasses.replace(job, plugin_sources=sources)(_baseline_task(runner))


def test_another_configuration_hash_on_a_worker_stops_the_run(driver):
    runner, job = driver
    with pytest.raises(WorkerSetupError, match=r"configuration hash \w+ differs from the driver's 0000000000000000"):
        dataclasses.replace(job, config_hash="0" * 16)(_baseline_task(runner))


def test_a_data_file_a_worker_cannot_see_stops_the_run(driver, tmp_path):
    runner, job = driver
    cfg = dataclasses.replace(job.cfg, data="relative/missing.csv")
    with pytest.raises(WorkerSetupError, match=r"--data relative/missing.csv not found from .*; use an absolute path"):
        dataclasses.replace(job, cfg=cfg)(_baseline_task(runner))


def test_plugins_registered_in_process_cannot_reach_workers(tmp_path, kit):
    from tcrbench.executors.processes import ProcessExecutor

    @dataclasses.dataclass
    class Constant:
        name = "constant"
        description = "a baseline that lives only in this process"
        shortcut = False

        def fit_predict(self, train, test, seed):
            return [0.5] * train.height, [0.5] * test.height

    with temporary_plugins(plugin_module("in_memory", baselines=[Constant])) as plugins:
        runner = Runner(kit.config(baselines=["constant"]), plugins, out=tmp_path / "run", quiet=True)
        with pytest.raises(UsageError, match=r"plugin 'in_memory' was registered in-process .* --plugins-dir"):
            runner.run(ProcessExecutor(2))
    assert not list((tmp_path / "run" / "rows").glob("*.json"))  # refused before any cell ran


def test_a_batch_observer_needs_the_serial_executor(tmp_path, kit):
    from tcrbench.executors.processes import ProcessExecutor

    with temporary_plugins() as plugins:
        runner = Runner(kit.config(), plugins, out=tmp_path / "run", quiet=True,
                        observe_pretrain_batch=lambda cell, batch: None)
        with pytest.raises(UsageError, match="observe_pretrain_batch sees batches in this process only"):
            runner.run(ProcessExecutor(2))


def test_a_stop_crosses_processes_as_itself(helpers):
    stop = pickle.loads(pickle.dumps(WorkerStopped(helpers.Stop("stopped for --max-time before cell 3"))))
    assert isinstance(stop, WorkerStopped) and type(stop.original) is helpers.Stop
    assert stop.original.code == 3 and str(stop.original) == "stopped for --max-time before cell 3"


@pytest.mark.parametrize("env,changed", [({"MALLOC_TRIM_THRESHOLD_": "65536"}, True), ({}, False)])
def test_a_pinned_malloc_trim_threshold_is_undone_in_workers(env, changed):
    import os
    import subprocess
    import sys

    if not sys.platform.startswith("linux"):
        pytest.skip("glibc's mallopt is Linux-only")
    code = "from tcrbench.executors.worker import undo_malloc_trim; print(undo_malloc_trim())"
    base = {k: v for k, v in os.environ.items() if k != "MALLOC_TRIM_THRESHOLD_"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**base, **env},
                         check=True)
    assert out.stdout.strip() == str(changed)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["processes", "dask"])
def test_a_full_disk_in_a_worker_stops_the_run_without_failed_rows(kit, tmp_path, backend):
    """In a worker as in one process: ENOSPC inside a cell is not a result; the driver stops the run with it."""
    from tcrbench.errors import StorageFault

    cfg = kit.config(baselines=["majority", "full_disk"])
    with pytest.raises(StorageFault, match="No space left on device"):
        kit.run(cfg, tmp_path / "run", backend, plugins_dir=kit.plugins_dir)
    rows = kit.rows(tmp_path / "run")
    assert not any(r["status"] == "failed" for r in rows.values())
    assert not any(r["baseline"] == "full_disk" for r in rows.values())
