"""`--executor dask`: cells on a Dask cluster: a loopback LocalCluster, or an existing one (dask-jobqueue on
Slurm, PBS or LSF, Kubernetes, `dask scheduler` + `dask worker` by hand) joined by address or scheduler file.

Dask already reschedules the tasks of a dead worker; we only decide how often, and whom to charge. On a cluster we
start, the scheduler gives up on the first death (allowed-failures 0) and this module retries the cell itself up
to `max_retries` times, so the bound is the same on every backend; on a cluster we join, that cluster's own
`distributed.scheduler.allowed-failures` applies to each of our attempts.

A dead worker may have held cells besides the one it ran (a short grid is not queued on the scheduler: Dask hands
every task out at once). So each cell announces on the worker that it has started (an event on a topic of this
run), and a death is charged to the cell that was running: a cell that was only waiting on the dead worker, while
another cell is known to have been running there, is submitted again for free. The same announcements start each
cell's --cell-timeout clock; a cell past it is cancelled and its worker restarted.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from tcrbench.errors import UsageError
from tcrbench.executors import CellTask, Compute, OnLost, OnRows
from tcrbench.executors.dask_cluster import connect, distributed_module, local_cluster, take_down
from tcrbench.executors.job import JobSpec
from tcrbench.executors.limits import Limits
from tcrbench.executors.worker import WorkerSetupError, WorkerStopped, as_job, prepare

log = logging.getLogger("tcrbench.run")

POLL = 0.1  # seconds between looks at finished futures and limits when nothing has finished


@dataclass(frozen=True)
class AnnouncedCell:
    """What a Dask worker runs: rebuild the run (once per process), say on `topic` that this cell has started and
    where, then compute it."""

    job: Any
    topic: str

    def __call__(self, task: CellTask) -> list[dict[str, Any]]:
        from distributed import get_client, get_worker

        prepare(self.job)
        worker = get_worker()
        msg = {"key": worker.get_current_task(), "worker": worker.address}
        try:  # a round trip: the scheduler has it before the cell runs, even if the cell kills this process at once
            get_client().log_event(self.topic, msg)
        except Exception:  # no client from inside a task here: the worker's own stream, a few ms later
            worker.log_event(self.topic, msg)
        rows: list[dict[str, Any]] = self.job(task)
        return rows


class _Starts:
    """The announcements of started cells (key -> worker address, when the driver heard of it)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.where: dict[str, tuple[str, float]] = {}

    def record(self, event: tuple[float, Any]) -> None:  # called on the client's event loop
        msg = event[1]
        if isinstance(msg, dict) and "key" in msg:
            with self.lock:
                # the latest start: a joined cluster that allows failures may run the same key again elsewhere
                self.where[str(msg["key"])] = (str(msg.get("worker", "")), time.monotonic())

    def get(self, key: str) -> tuple[str, float] | None:
        with self.lock:
            return self.where.get(key)


@dataclass
class _Flight:
    future: Any
    task: CellTask
    attempt: int


class DaskExecutor:
    """Submit every missing cell; write each one's rows the moment its future finishes, then release it."""

    name = "dask"
    remote = True  # the runner hands it plain data (a JobSpec) that a worker rebuilds the run from
    enforces_limits = True

    def __init__(
        self,
        workers: int | None = None,
        scheduler: str | None = None,
        scheduler_file: str | None = None,
        dashboard: bool = False,
        max_retries: int = 2,
        gpus: list[int] | None = None,
        say: Callable[[str], None] | None = None,
        connect_timeout: float = 30.0,
    ) -> None:
        if scheduler and scheduler_file:
            raise UsageError("--scheduler and --scheduler-file both name a cluster: give one")
        if workers is not None and workers < 1:
            raise UsageError(f"--workers must be at least 1, got {workers}")
        distributed_module()
        if dashboard and importlib.util.find_spec("bokeh") is None:
            raise UsageError("--dashboard needs the bokeh package: pip install 'bokeh>=3.1'")
        self.workers = workers or (len(gpus) if gpus else 2)
        self.scheduler = scheduler
        self.scheduler_file = scheduler_file
        self.dashboard = dashboard
        self.max_retries = max_retries
        self.gpus = gpus
        self.say = say or (lambda message: None)
        self.connect_timeout = connect_timeout
        self.slots = self.workers  # cells at a time; a joined cluster's threads once connected

    def local_cluster(self) -> Any:
        """A loopback cluster: one single-threaded worker process per requested worker (or per GPU)."""
        return local_cluster(self.workers, self.gpus, self.dashboard)

    def _client(self, stack: ExitStack) -> Any:
        client = connect(
            stack,
            self.scheduler,
            self.scheduler_file,
            self.connect_timeout,
            self.local_cluster,
            len(self.gpus) if self.gpus else self.workers,
        )
        if self.scheduler or self.scheduler_file:
            try:
                self.slots = max(1, sum(client.nthreads().values()))
            except Exception:  # only the progress display's ETA uses it
                pass
        if self.dashboard:
            self.say(f"dask dashboard: {client.dashboard_link}")
        return client

    # ------------------------------------------------------------ the loop
    def run(
        self,
        tasks: list[CellTask],
        compute: JobSpec | Compute,
        on_rows: OnRows,
        on_lost: OnLost,
        limits: Limits | None = None,
    ) -> None:
        """Submit every task, write each cell as its future finishes, retry cells whose worker died."""
        if not tasks:
            return
        from distributed import as_completed

        tag = uuid.uuid4().hex[:8]  # keys unique to this run: a shared cluster may hold another run's cells
        topic = f"tcrbench-{tag}-started"
        cell = AnnouncedCell(as_job(compute), topic)
        starts = _Starts()
        with ExitStack() as stack:
            client = self._client(stack)
            client.subscribe_topic(topic, starts.record)
            flights: dict[str, _Flight] = {}

            def submit(task: CellTask, attempt: int, spare: int = 0) -> Any:
                key = f"tcrbench-{tag}-cell{task.index}-try{attempt}" + (f"-again{spare}" if spare else "")
                future = client.submit(cell, task, key=key, pure=False)
                flights[key] = _Flight(future, task, attempt)
                return future

            futures = as_completed([submit(t, 0) for t in tasks])
            state = _Loop(self, client, flights, starts, submit, futures, on_rows, on_lost, limits)
            try:
                state.drive()
            finally:  # on an error: nobody will write these cells' rows, so stop computing them
                client.cancel([f.future for f in flights.values()])
                if not state.ok:  # a hanging cell would hold its worker (and our cluster's closing) forever
                    take_down(client, state.running_workers())
                try:
                    client.unsubscribe_topic(topic)
                except Exception:
                    pass
            if state.stopped:
                raise state.stopped[0].original


class _Loop:
    """One run's bookkeeping on the driver: futures in flight, deaths, stops and time limits."""

    def __init__(
        self,
        executor: DaskExecutor,
        client: Any,
        flights: dict[str, _Flight],
        starts: _Starts,
        submit: Callable[..., Any],
        futures: Any,
        on_rows: OnRows,
        on_lost: OnLost,
        limits: Limits | None,
    ) -> None:
        self.executor, self.client, self.flights, self.starts = executor, client, flights, starts
        self.submit, self.futures, self.on_rows, self.on_lost, self.limits = submit, futures, on_rows, on_lost, limits
        self.stopped: list[WorkerStopped] = []
        self.done: set[str] = set()  # keys whose cell returned: no longer running anywhere
        self.spares = 0
        self.ok = False

    def drive(self) -> None:
        while not self.futures.is_empty():
            batch = self.futures.next_batch(block=False)
            if not batch:
                if self.limits is not None:
                    self.enforce()
                time.sleep(POLL)
                continue
            for fut in batch:
                self.settle(fut)
            if self.limits is not None:
                self.enforce()
        self.ok = True

    def settle(self, fut: Any) -> None:
        from distributed.scheduler import KilledWorker

        flight = self.flights.get(fut.key)
        if flight is None or fut.status == "cancelled":  # stopped for time, or left unstarted after a stop
            self.flights.pop(fut.key, None)
            return
        if fut.status not in ("finished", "error"):  # finished, then its result was lost with a worker: recomputed
            self.futures.add(fut)
            return
        del self.flights[fut.key]
        task, attempt = flight.task, flight.attempt
        if fut.status == "finished":
            rows = fut.result()
            fut.release()  # the driver holds no result longer than it takes to write it
            self.done.add(fut.key)
            self.on_rows(task, rows)
            return
        exc = fut.exception()
        fut.release()
        if isinstance(exc, KilledWorker):
            self.died(fut.key, task, attempt, exc)
        elif isinstance(exc, WorkerSetupError):
            raise exc
        elif isinstance(exc, WorkerStopped):  # no new cells; the ones already running may finish
            self.done.add(fut.key)
            if not self.stopped:
                waiting = [f.future for k, f in self.flights.items() if self.starts.get(k) is None]
                self.client.cancel(waiting)
            self.stopped.append(exc)
        else:
            self.done.add(fut.key)
            self.on_lost(task, f"{type(exc).__name__}: {exc}")

    def died(self, key: str, task: CellTask, attempt: int, exc: Any) -> None:
        """Charge a worker's death to the cell that was running on it; a cell that only waited there goes again."""
        if not self.charged(key, exc):
            self.spares += 1
            log.warning("worker died while %s waited on it behind another cell; submitted again", task.label)
            self.futures.add(self.submit(task, attempt, self.spares))
            return
        max_retries = self.executor.max_retries
        if attempt < max_retries:
            log.warning("worker died computing %s; retry %d of %d", task.label, attempt + 1, max_retries)
            self.futures.add(self.submit(task, attempt + 1))
        else:
            self.on_lost(task, f"its worker process died {attempt + 1} times (killed, out of memory or crashed)")

    def charged(self, key: str, exc: Any) -> bool:
        """Whether the dead worker was running this cell: it said it started, or the scheduler last saw it
        executing, or no other cell is known to have been running on that worker."""
        worker = getattr(exc, "last_worker", None)
        address = str(getattr(worker, "address", ""))
        executing = {str(k) for k in (getattr(worker, "executing", None) or {})}
        start = self.starts.get(key)
        if key in executing or (start is not None and (not address or start[0] == address)):
            return True
        with self.starts.lock:
            there = {k for k, (where, _) in self.starts.where.items() if where == address and k not in self.done}
        return not ((there | executing) - {key})

    # ------------------------------------------------------------ time limits
    def running(self) -> dict[str, tuple[str, float]]:
        """Our cells that have started and not returned: key -> (worker address, start)."""
        out = {}
        for key in self.flights:
            start = self.starts.get(key)
            if start is not None:
                out[key] = start
        return out

    def running_workers(self) -> list[str]:
        return sorted({where for where, _ in self.running().values() if where})

    def enforce(self) -> None:
        """Stop the cells past --cell-timeout (failed rows), and everything past --max-time's grace."""
        limits = self.limits
        assert limits is not None
        now = time.monotonic()
        if limits.out_of_time(now):
            labels = [self.flights[k].task.label for k in self.running()]
            if self.stopped:
                raise self.stopped[0].original
            raise limits.stopped(labels)
        late = {k: where for k, (where, began) in self.running().items() if limits.timed_out(began, now)}
        if not late:
            return
        reason = limits.timeout_reason()
        for key, where in late.items():
            flight = self.flights.pop(key)
            flight.future.cancel()
            log.error("%s: %s; its worker %s is restarted", flight.task.label, reason, where or "(unknown)")
            self.on_lost(flight.task, reason)
        take_down(self.client, sorted({w for w in late.values() if w}))
