"""`--executor dask`: cells on a Dask cluster: a loopback LocalCluster, or an existing one (dask-jobqueue on
Slurm, PBS or LSF, Kubernetes, `dask scheduler` + `dask worker` by hand) joined by address or scheduler file.

Dask already reschedules the tasks of a dead worker; we only decide how often. On a cluster we start, the
scheduler gives up on the first death (allowed-failures 0) and this module retries the cell itself up to
`max_retries` times, so the bound is the same on every backend; on a cluster we join, that cluster's own
`distributed.scheduler.allowed-failures` applies to each of our attempts. Each worker runs one cell at a time
(one thread) and is sent only the cell it runs (worker-saturation 1.0), so a dead worker's cell is the only one
charged for its death.
"""

from __future__ import annotations

import copy
import importlib.util
import logging
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from tcrbench.errors import UsageError
from tcrbench.executors import CellTask, Compute, OnLost, OnRows
from tcrbench.executors.job import JobSpec
from tcrbench.executors.worker import WorkerSetupError, WorkerStopped, as_job

log = logging.getLogger("tcrbench.run")

MISSING = "--executor dask needs the dask distributed package: pip install 'tcrbench[dask]'"


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise UsageError(MISSING) from None
    return distributed


class DaskExecutor:
    """Submit every missing cell; write each one's rows the moment its future finishes, then release it."""

    name = "dask"
    remote = True  # the runner hands it plain data (a JobSpec) that a worker rebuilds the run from

    def __init__(
        self,
        workers: int | None = None,
        scheduler: str | None = None,
        scheduler_file: str | None = None,
        dashboard: bool = False,
        max_retries: int = 2,
        threads: int | None = None,
        gpus: list[int] | None = None,
        say: Callable[[str], None] | None = None,
        connect_timeout: float = 30.0,
    ) -> None:
        if scheduler and scheduler_file:
            raise UsageError("--scheduler and --scheduler-file both name a cluster: give one")
        if workers is not None and workers < 1:
            raise UsageError(f"--workers must be at least 1, got {workers}")
        _distributed()
        if dashboard and importlib.util.find_spec("bokeh") is None:
            raise UsageError("--dashboard needs the bokeh package: pip install 'bokeh>=3.1'")
        self.workers = workers or (len(gpus) if gpus else 2)
        self.scheduler = scheduler
        self.scheduler_file = scheduler_file
        self.dashboard = dashboard
        self.max_retries = max_retries
        self.threads = threads
        self.gpus = gpus
        self.say = say or (lambda message: None)
        self.connect_timeout = connect_timeout

    # ------------------------------------------------------------ the cluster
    def local_cluster(self) -> Any:
        """A loopback cluster: one single-threaded worker process per requested worker (or per GPU)."""
        import dask.config
        from distributed import LocalCluster

        settings = {
            "distributed.scheduler.allowed-failures": 0,
            "distributed.scheduler.worker-saturation": 1.0,
            # a cell is seconds to hours of torch in one thread: sampling its stack every 10 ms tells
            # nothing and takes CPU from the cell (a few percent, measured on a 2-core machine)
            "distributed.worker.profile.enabled": False,
        }
        kw = dict(
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            silence_logs=logging.ERROR,
            dashboard_address="127.0.0.1:8787" if self.dashboard else None,
        )
        if not self.dashboard:  # the scheduler's health routes still listen: on a free loopback port, not 8787
            kw["scheduler_kwargs"] = {"dashboard": False, "dashboard_address": "127.0.0.1:0"}
        with dask.config.set(settings):
            if not self.gpus:
                return LocalCluster(n_workers=self.workers, **kw)
            cluster = LocalCluster(n_workers=0, **kw)
            for gpu in self.gpus:  # one worker per GPU, each seeing only its own
                spec = copy.deepcopy(cluster.new_spec)
                spec["options"] = {**spec["options"], "env": {"CUDA_VISIBLE_DEVICES": str(gpu)}}
                cluster.worker_spec[f"gpu-{gpu}"] = spec
            cluster.scale(len(self.gpus))
            return cluster

    def _client(self, stack: ExitStack) -> Any:
        from distributed import Client

        if self.scheduler_file:
            try:
                client = stack.enter_context(Client(scheduler_file=self.scheduler_file, timeout=self.connect_timeout))
            except (OSError, ValueError) as exc:
                raise UsageError(f"--scheduler-file {self.scheduler_file}: cannot join the cluster ({exc})") from None
        elif self.scheduler:
            try:
                client = stack.enter_context(Client(self.scheduler, timeout=self.connect_timeout))
            except (OSError, ValueError) as exc:
                raise UsageError(f"--scheduler {self.scheduler}: cannot join the cluster ({exc})") from None
        else:
            cluster = stack.enter_context(self.local_cluster())
            client = stack.enter_context(Client(cluster))
            client.wait_for_workers(len(self.gpus) if self.gpus else self.workers, timeout=120)
        if self.dashboard:
            self.say(f"dask dashboard: {client.dashboard_link}")
        return client

    # ------------------------------------------------------------ the loop
    def run(self, tasks: list[CellTask], compute: JobSpec | Compute, on_rows: OnRows, on_lost: OnLost) -> None:
        """Submit every task, write each cell as its future finishes, retry cells whose worker died."""
        if not tasks:
            return
        from distributed import as_completed
        from distributed.scheduler import KilledWorker

        job = as_job(compute, self.threads)
        tag = uuid.uuid4().hex[:8]  # keys unique to this run: a shared cluster may hold another run's cells
        with ExitStack() as stack:
            client = self._client(stack)
            attempts: dict[str, tuple[CellTask, int]] = {}

            def submit(task: CellTask, attempt: int) -> Any:
                key = f"tcrbench-{tag}-cell{task.index}-try{attempt}"
                attempts[key] = (task, attempt)
                return client.submit(job, task, key=key, pure=False)

            futures = as_completed([submit(t, 0) for t in tasks])
            stopped: list[WorkerStopped] = []
            try:
                for fut in futures:
                    task, attempt = attempts.pop(fut.key)
                    if fut.status == "cancelled":  # left unstarted after a stop
                        continue
                    if fut.status == "finished":
                        rows = fut.result()
                        fut.release()  # the driver holds no result longer than it takes to write it
                        on_rows(task, rows)
                        continue
                    exc = fut.exception()
                    fut.release()
                    if isinstance(exc, KilledWorker):
                        if attempt < self.max_retries:
                            log.warning(
                                "worker died computing %s; retry %d of %d", task.label, attempt + 1, self.max_retries
                            )
                            futures.add(submit(task, attempt + 1))
                        else:
                            on_lost(
                                task, f"its worker process died {attempt + 1} times (killed, out of memory or crashed)"
                            )
                    elif isinstance(exc, WorkerSetupError):
                        raise exc
                    elif isinstance(exc, WorkerStopped):  # no new cells; the ones already running may finish
                        if not stopped:
                            running = {key for keys in client.processing().values() for key in keys}
                            client.cancel([f for f in futures.futures if f.key not in running])
                        stopped.append(exc)
                    else:
                        on_lost(task, f"{type(exc).__name__}: {exc}")
            finally:  # on an error: nobody will write these cells' rows, so stop computing them
                client.cancel(list(futures.futures))
            if stopped:
                raise stopped[0].original
