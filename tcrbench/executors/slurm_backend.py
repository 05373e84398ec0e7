"""`--executor slurm`: cells on Slurm jobs, one Dask worker per job, started through dask-jobqueue's SLURMCluster.

The Dask executor's model is kept (the scheduler runs in the driver, each worker computes one cell at a time, the
driver alone writes rows) and one thing is added: a job ends. A job that reaches its wall time takes its cell
down with it; the cell resumes from its latest checkpoint in the next job, at no cost to `--max-retries`, and its
checkpoints come every `checkpoint_fraction` of the wall time, so a kill loses at most that much. Any other end of a
job (a node lost, a cancel) is charged as a retry. `slurm_ledger.py` holds these rules, `slurm_jobs.py` the jobs;
the run's `slurm/report.json` says how many jobs each cell took and how long jobs took to start.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from tcrbench.executors import CellTask, Compute, OnLost, OnRows
from tcrbench.executors.dask_backend import DaskExecutor
from tcrbench.executors.job import JobSpec
from tcrbench.executors.limits import Limits
from tcrbench.executors.slurm_jobs import JobPool, SlurmCli, SlurmError, overhead
from tcrbench.executors.slurm_ledger import CellLedger
from tcrbench.executors.slurm_loop import DriverLoop
from tcrbench.executors.slurm_spec import SlurmSpec
from tcrbench.executors.worker import as_job, prepare

log = logging.getLogger("tcrbench.run")

MISSING = "--executor slurm needs dask-jobqueue: pip install 'tcrbench[slurm]'"


@dataclasses.dataclass(frozen=True)
class SlurmCellJob:
    """What a worker runs: the cell, after telling the driver which Slurm job started it (a Dask event)."""

    inner: Any  # the WorkerJob (or a test's plain callable)
    topic: str

    def __call__(self, task: CellTask) -> list[dict[str, Any]]:
        """The cell's rows; the start event carries the job id, so the driver counts each job once per cell."""
        from distributed import get_worker

        prepare(self.inner)  # the run rebuilt first: a cell's start (and its --cell-timeout) counts the cell only
        worker = get_worker()
        event = {"key": worker.get_current_task(), "cell": task.index, "time": time.time()}
        worker.log_event(self.topic, {**event, "job": os.environ.get("SLURM_JOB_ID", ""), "worker": worker.name})
        return self.inner(task)


class SlurmExecutor(DaskExecutor):
    """Every missing cell on Slurm jobs (at most `max_jobs` at once), resumed in a new job after a wall-time kill."""

    name = "slurm"
    remote = True

    def __init__(
        self,
        spec: SlurmSpec,
        max_retries: int = 2,
        say: Callable[[str], None] | None = None,
        cli: SlurmCli | None = None,
        poll: float = 1.0,
        refresh: float = 3.0,
        slurm_every: float = 30.0,
    ) -> None:
        super().__init__(max_retries=max_retries, say=say)
        try:
            import dask_jobqueue  # noqa: F401
        except ImportError:
            from tcrbench.errors import UsageError

            raise UsageError(MISSING) from None
        self.spec = spec
        self.cli = cli or SlurmCli()
        # the driver looks at its futures every `poll` s, at the scheduler every `refresh` s, and asks squeue every
        # `slurm_every` s (every `refresh` while a cell waits for a job to end, or while no worker is running)
        self.poll, self.refresh, self.slurm_every = poll, refresh, slurm_every
        self.slots = spec.max_jobs  # cells at a time, for the progress display's estimate
        self.report: dict[str, Any] = {}  # what the last run() wrote to slurm/report.json

    # ------------------------------------------------------------ set-up
    def _job(self, compute: JobSpec | Compute, topic: str) -> tuple[SlurmCellJob, Path | None]:
        """The cell job, with checkpoints every `checkpoint_fraction` of the wall time; the run folder."""
        job = as_job(compute)
        if not isinstance(compute, JobSpec):
            return SlurmCellJob(job, topic), None
        if job.cell_threads() != self.spec.cores:
            self.say(
                f"warning: [slurm] cores = {self.spec.cores} CPUs per job, but each cell runs {job.cell_threads()}"
                " torch thread(s): set threads (--threads) to the same number"
            )
        minutes = self.spec.checkpoint_minutes
        if job.cfg.checkpoint_minutes and job.cfg.checkpoint_minutes < minutes:
            minutes = job.cfg.checkpoint_minutes
        cfg = dataclasses.replace(job.cfg, checkpoint_minutes=minutes)  # not in the configuration hash
        return SlurmCellJob(dataclasses.replace(job, cfg=cfg), topic), Path(job.out)

    def _cluster(self, kwargs: dict[str, Any]) -> Any:
        """A SLURMCluster with no workers of its own: its scheduler runs here, and its job script is the jobs'."""
        import dask.config
        from dask_jobqueue import SLURMCluster

        settings = {
            "distributed.scheduler.allowed-failures": 0,  # a dead worker's cell comes back to us, to be judged
            "distributed.scheduler.worker-saturation": 1.0,
        }
        with dask.config.set(settings):
            try:
                return SLURMCluster(
                    n_workers=0,
                    scheduler_options={"dashboard": False, "dashboard_address": ":0"},
                    silence_logs=logging.CRITICAL,  # a worker killed at its wall time is expected; we say so
                    **kwargs,
                )
            except (ValueError, OSError) as exc:
                raise SlurmError(f"--executor slurm: the cluster could not start ({exc})") from None

    def _kwargs(self, logs: Path) -> dict[str, Any]:
        kwargs = self.spec.job_kwargs(str(logs))
        # a job that ends early is resubmitted by us, as a new job: Slurm requeueing it too would start a second
        # worker of the same name, perhaps while we already run its cell elsewhere
        kwargs["job_extra_directives"] = ["--no-requeue", *kwargs["job_extra_directives"]]
        # workers read their own Dask configuration: profiling a cell's thread every 10 ms only takes its CPU
        kwargs["job_script_prologue"] = [
            *kwargs["job_script_prologue"],
            "export DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False",
        ]
        return kwargs

    @staticmethod
    def job_script(cluster: Any, kwargs: dict[str, Any], name: str) -> str:
        """The batch script of the job whose worker is called `name` (the cluster's own script, named)."""
        from dask_jobqueue.slurm import SLURMJob

        return str(SLURMJob(cluster.scheduler_address, name=name, **kwargs).job_script())

    # ------------------------------------------------------------ the loop
    def run(
        self,
        tasks: list[CellTask],
        compute: JobSpec | Compute,
        on_rows: OnRows,
        on_lost: OnLost,
        limits: Limits | None = None,
    ) -> None:
        """Compute every task on Slurm jobs; write each cell as it finishes; resume wall-time kills in new jobs."""
        if not tasks:
            return
        from distributed import Client

        self.cli.ping()
        tag = f"tcrbench-{uuid.uuid4().hex[:8]}"
        job, out = self._job(compute, tag)
        folder = out / "slurm" if out is not None else Path(tempfile.mkdtemp(prefix="tcrbench-slurm-"))
        cache = out / "cache" if out is not None else None
        ledger = CellLedger(tasks, tag, self.spec.walltime, self.max_retries)
        kwargs = self._kwargs(folder / "logs")
        with ExitStack() as stack:
            cluster = stack.enter_context(self._cluster(kwargs))
            client = stack.enter_context(Client(cluster))
            pool = JobPool(
                self.cli,
                lambda name: self.job_script(cluster, kwargs, name),
                folder / "jobs",
                tag,
                self.spec.max_jobs,
                self.spec.pending_timeout,
                logs=Path(kwargs["log_directory"]),
            )
            loop = DriverLoop(self, client, job, ledger, pool, cache, on_rows, on_lost, limits)
            try:
                loop.run()
            finally:
                loop.cancel()
                pool.cancel_all()
                self._write_report(folder, ledger, pool)
        self.say(ledger.summary())
        if loop.stopped:
            raise loop.stopped[0].original

    def _write_report(self, folder: Path, ledger: CellLedger, pool: JobPool) -> None:
        from tcrbench.results.atomic import write_text

        report = {
            "spec": dataclasses.asdict(self.spec),
            "walltime_s": self.spec.walltime,
            "checkpoint_minutes": round(self.spec.checkpoint_minutes, 3),
            "jobs_per_cell": {str(k): v for k, v in ledger.jobs_per_cell().items()},
            "overhead": overhead(pool.jobs.values()),
            "cells": [rec.as_dict() for rec in ledger.cells.values()],
            "jobs": [rec.as_dict() for rec in pool.jobs.values()],
        }
        self.report = json.loads(json.dumps(report))  # as the file reads back (lists, string keys)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            write_text(folder / "report.json", json.dumps(self.report, indent=1) + "\n")
        except OSError as exc:  # the report informs; it must not cost the rows already written
            log.warning("slurm report not written: %s", exc)


__all__ = ["SlurmCellJob", "SlurmError", "SlurmExecutor"]
