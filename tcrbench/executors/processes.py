"""`--executor processes`: cells on a pool of local worker processes (spawned, so no torch state is forked).

The pool is N single-process executors rather than one N-process executor: when a worker dies, Python breaks
every future of its pool, so with one pool nobody could tell the cell that killed the worker from the cells that
merely shared it. With one process per slot, the broken slot's only cell is the one that was running: that cell
alone is charged a retry, the slot is rebuilt, and the other workers never notice. The same isolation stops a
hanging cell: past --cell-timeout its slot's process is killed, the cell becomes failed rows, and the slot is
rebuilt for the next cell; past --max-time's grace every slot is killed.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from tcrbench.executors import CellTask, Compute, OnLost, OnRows
from tcrbench.executors.job import JobSpec
from tcrbench.executors.limits import Limits
from tcrbench.executors.worker import WorkerSetupError, WorkerStopped, as_job, pin_gpu, prepare

log = logging.getLogger("tcrbench.run")


class _Slot:
    """One worker process; rebuilt after it dies (or is killed for time)."""

    def __init__(self, index: int, gpu: int | None) -> None:
        self.index, self.gpu = index, gpu
        self.pool: ProcessPoolExecutor | None = None
        self.started: Future | None = None
        self.ready_at: float | None = None  # when the process had rebuilt the run (time.monotonic)

    def submit(self, job: Compute, task: CellTask) -> Future:
        if self.pool is None:
            self.pool = ProcessPoolExecutor(
                1, mp_context=multiprocessing.get_context("spawn"), initializer=pin_gpu, initargs=(self.gpu,)
            )
            self.ready_at = None
            self.started = self.pool.submit(os.getpid)  # runs first: proves the process came up at all
            ready = self.pool.submit(prepare, job)  # then the run is rebuilt: a cell's clock starts after it
            pool = self.pool
            ready.add_done_callback(lambda _: self._ready(pool))
        return self.pool.submit(job, task)

    def _ready(self, pool: ProcessPoolExecutor) -> None:
        if pool is self.pool:
            self.ready_at = time.monotonic()

    def cell_started(self, submitted: float) -> float | None:
        """When the slot's current cell began computing; None while the process is still starting."""
        return None if self.ready_at is None else max(self.ready_at, submitted)

    def died_starting(self) -> bool:
        """A process that never answered its first call died starting, not computing: retrying cannot help."""
        if self.started is None:
            return False
        try:  # a broken pool fails every waiting call, this one first; the wait only covers that race
            return self.started.exception(timeout=10) is not None
        except TimeoutError:
            return False

    def discard(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None

    def kill(self) -> None:
        """End the process now, whatever it is doing (a hanging cell), and forget the pool."""
        if self.pool is None:
            return
        for proc in list(getattr(self.pool, "_processes", {}).values()):
            proc.kill()
        self.discard()

    def close(self, kill: bool) -> None:
        if self.pool is None:
            return
        if kill:  # an error in the driver: do not wait for a long cell whose row nobody will write
            for proc in list(getattr(self.pool, "_processes", {}).values()):
                proc.kill()
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.pool = None


@dataclass
class _Running:
    slot: _Slot
    task: CellTask
    attempt: int
    submitted: float


class ProcessExecutor:
    """Up to `workers` cells at a time, each worker process keeping its prepared run between cells."""

    name = "processes"
    remote = True  # the runner hands it plain data (a JobSpec) that a worker rebuilds the run from
    enforces_limits = True

    def __init__(self, workers: int, max_retries: int = 2, gpus: list[int] | None = None) -> None:
        if workers < 1:
            from tcrbench.errors import UsageError

            raise UsageError(f"--workers must be at least 1, got {workers}")
        self.workers = workers
        self.max_retries = max_retries
        self.gpus = gpus

    @property
    def slots(self) -> int:
        """Cells at a time (the progress display's ETA divides by it)."""
        return self.workers

    def run(
        self,
        tasks: list[CellTask],
        compute: JobSpec | Compute,
        on_rows: OnRows,
        on_lost: OnLost,
        limits: Limits | None = None,
    ) -> None:
        """Keep every worker busy until the tasks are done; a stop lets running cells finish, then re-raises."""
        job = as_job(compute)
        pending: deque[tuple[CellTask, int]] = deque((t, 0) for t in tasks)
        slots = [_Slot(i, self.gpus[i] if self.gpus else None) for i in range(min(self.workers, len(tasks)))]
        running: dict[Future, _Running] = {}

        stopped: list[WorkerStopped] = []

        def feed(slot: _Slot) -> None:
            if pending and not stopped:
                task, attempt = pending.popleft()
                running[slot.submit(job, task)] = _Running(slot, task, attempt, time.monotonic())

        ok = False
        try:
            for slot in slots:
                feed(slot)
            while running:
                done, _ = wait(list(running), timeout=self._poll(running, limits), return_when=FIRST_COMPLETED)
                for fut in done:
                    run = running.pop(fut)
                    try:
                        self._settle(fut, run, on_rows, on_lost, pending)
                    except WorkerStopped as stop:  # start nothing new; cells already running may still finish
                        stopped.append(stop)
                    del fut  # release the result as soon as its rows are written
                    feed(run.slot)
                if limits is not None:
                    for slot in self._enforce(limits, running, on_lost, stopped):
                        feed(slot)
            ok = True
        finally:
            for slot in slots:
                slot.close(kill=not ok)
        if stopped:
            raise stopped[0].original

    @staticmethod
    def _poll(running: dict[Future, _Running], limits: Limits | None) -> float | None:
        """How long to wait for a cell to finish before the limits are checked again."""
        if limits is None:
            return None
        ends = [limits.stop_at] if limits.stop_at is not None else []
        for run in running.values():
            began = run.slot.cell_started(run.submitted)
            if began is None:
                return 0.5  # a process is still starting: look again soon for its cell's start
            end = limits.cell_deadline(began)
            if end is not None:
                ends.append(end)
        return max(min(ends) - time.monotonic(), 0.01) if ends else None

    def _enforce(
        self, limits: Limits, running: dict[Future, _Running], on_lost: OnLost, stopped: list[WorkerStopped]
    ) -> list[_Slot]:
        """Kill the cells past their time: failed rows past --cell-timeout, the whole run past --max-time's grace.
        Returns the slots freed (to be fed the next cell)."""
        now = time.monotonic()
        if limits.out_of_time(now):
            for run in running.values():
                run.slot.kill()
            if stopped:
                raise stopped[0].original
            raise limits.stopped([run.task.label for run in running.values()])
        freed = []
        for fut, run in list(running.items()):
            began = run.slot.cell_started(run.submitted)
            if began is None or not limits.timed_out(began, now):
                continue
            del running[fut]
            log.error("%s: %s; its worker process was killed", run.task.label, limits.timeout_reason())
            run.slot.kill()
            on_lost(run.task, limits.timeout_reason())
            freed.append(run.slot)
        return freed

    def _settle(
        self, fut: Future, run: _Running, on_rows: OnRows, on_lost: OnLost, pending: deque[tuple[CellTask, int]]
    ) -> None:
        slot, task, attempt = run.slot, run.task, run.attempt
        try:
            rows = fut.result()
        except BrokenProcessPool:
            if slot.died_starting():
                raise WorkerSetupError(
                    "a worker process died while starting; a script that runs tcrbench with parallel workers needs"
                    " `if __name__ == '__main__':` around its entry point (workers are spawned and re-import it)"
                ) from None
            slot.discard()
            if attempt < self.max_retries:
                log.warning("worker died computing %s; retry %d of %d", task.label, attempt + 1, self.max_retries)
                pending.appendleft((task, attempt + 1))
            else:
                on_lost(task, f"its worker process died {attempt + 1} times (killed, out of memory or crashed)")
            return
        except (WorkerSetupError, WorkerStopped):
            raise
        except Exception as exc:  # the cell's own errors are rows already; this is the plumbing failing
            on_lost(task, f"{type(exc).__name__}: {exc}")
            return
        on_rows(task, rows)
