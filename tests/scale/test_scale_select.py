"""Choosing an executor from the command line: the defaults, one GPU per worker, and one-line errors for
combinations that cannot mean what they say."""

from __future__ import annotations

import builtins
import importlib.util

import pytest
from typer.testing import CliRunner

from tcrbench.errors import UsageError
from tcrbench.executors import SerialExecutor, select
from tcrbench.executors.dask_backend import DaskExecutor
from tcrbench.executors.processes import ProcessExecutor

needs_dask = pytest.mark.skipif(importlib.util.find_spec("distributed") is None,
                                reason="dask is not installed (pip install 'tcrbench[dask]')")


def test_defaults_follow_the_options(monkeypatch):
    monkeypatch.setattr(select, "local_cores", lambda: 16)
    assert isinstance(select.build_executor(), SerialExecutor)
    assert isinstance(select.build_executor(workers=1), SerialExecutor)
    pool = select.build_executor(workers=3)
    assert isinstance(pool, ProcessExecutor) and pool.workers == 3 and pool.gpus is None
    assert select.build_executor("processes").workers == 16  # one 1-thread cell per core
    assert select.build_executor("processes", threads=2).workers == 8  # cells of --threads 2: half as many
    monkeypatch.setattr(select, "local_cores", lambda: 2)
    assert select.build_executor("processes").workers == 2
    assert select.build_executor("processes", threads=4).workers == 2  # at least 2


@needs_dask
def test_a_named_cluster_means_dask():
    joined = select.build_executor(scheduler="tcp://127.0.0.1:8786")
    assert isinstance(joined, DaskExecutor) and joined.scheduler == "tcp://127.0.0.1:8786"


def test_executors_never_choose_a_cells_thread_count(monkeypatch, tmp_path):
    """The configuration fixes it (--threads, else 1): the same configuration gives the same numbers anywhere."""
    from tcrbench.executors.worker import WorkerJob
    from tcrbench.run.config import RunConfig

    monkeypatch.setattr(select, "local_cores", lambda: 8)
    for executor in (select.build_executor("processes", workers=2), select.build_executor("processes", workers=3)):
        assert not hasattr(executor, "threads")
    job = WorkerJob(RunConfig(), str(tmp_path), "0" * 16, 1, (), False, None, (), ())
    assert job.cell_threads() == 1
    job = WorkerJob(RunConfig(threads=3), str(tmp_path), "0" * 16, 1, (), False, None, (), ())
    assert job.cell_threads() == 3
    with pytest.raises(UsageError, match="--threads must be at least 1, got 0"):
        select.build_executor("processes", threads=0)


def test_one_worker_per_gpu(monkeypatch):
    monkeypatch.setattr(select, "local_gpus", lambda device: [0, 1, 2] if device in ("auto", "cuda") else [])
    pool = select.build_executor("processes")
    assert pool.workers == 3 and pool.gpus == [0, 1, 2]
    assert select.build_executor("processes", workers=2).gpus == [0, 1]
    assert select.build_executor("processes", workers=4, device="cpu").gpus is None
    with pytest.raises(UsageError, match=r"--workers 4: each worker takes one GPU and 3 are visible"):
        select.build_executor("processes", workers=4)


def test_local_gpus_are_only_spread_for_auto_or_cuda():
    assert select.local_gpus("cpu") == [] and select.local_gpus("cuda:1") == []


@pytest.mark.parametrize("kwargs,message", [
    (dict(kind="threads"), "--executor 'threads': choose serial, processes, dask or slurm"),
    (dict(kind="serial", workers=2), "--workers 2: the serial executor runs one cell at a time"),
    (dict(kind="processes", scheduler="tcp://h:1"), "--scheduler/--scheduler-file join a Dask cluster"),
    (dict(kind="processes", dashboard=True), "--dashboard shows Dask's dashboard: it needs --executor dask"),
    (dict(kind="dask", scheduler="tcp://h:1", workers=2), "--workers starts a local cluster"),
    (dict(kind="processes", workers=0), "--workers must be at least 1, got 0"),
    (dict(kind="dask", max_retries=-1), "--max-retries must be 0 or more, got -1"),
])
def test_contradictions_are_one_line_errors(kwargs, message):
    kind = kwargs.pop("kind")
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        select.build_executor(kind, **kwargs)


def test_two_clusters_named_at_once():
    with pytest.raises(UsageError, match="--scheduler and --scheduler-file both name a cluster: give one"):
        select.build_executor("dask", scheduler="tcp://h:1", scheduler_file="s.json")


def test_missing_dask_says_which_extra_to_install(monkeypatch):
    real_import = builtins.__import__

    def no_distributed(name, *args, **kwargs):
        if name == "distributed" or name.startswith("distributed."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_distributed)
    with pytest.raises(UsageError) as err:
        select.build_executor("dask")
    assert str(err.value) == "--executor dask needs the dask distributed package: pip install 'tcrbench[dask]'"


def test_cli_rejects_contradictions_before_any_work(tmp_path):
    from tcrbench.cli.main import app

    result = CliRunner().invoke(app, ["run", "--executor", "serial", "--workers", "3", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: --workers 3: the serial executor runs one cell at a time; use --executor processes or --executor dask"]
    assert not (tmp_path / "r").exists()
