"""`--executor processes`: cells on a pool of local worker processes (spawned, so no torch state is forked).

The pool is N single-process executors rather than one N-process executor: when a worker dies, Python breaks
every future of its pool, so with one pool nobody could tell the cell that killed the worker from the cells that
merely shared it. With one process per slot, the broken slot's only cell is the one that was running: that cell
alone is charged a retry, the slot is rebuilt, and the other workers never notice.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from tcrbench.executors import CellTask, Compute, OnLost, OnRows
from tcrbench.executors.job import JobSpec
from tcrbench.executors.worker import WorkerSetupError, WorkerStopped, as_job, pin_gpu

log = logging.getLogger("tcrbench.run")


class _Slot:
    """One worker process; rebuilt after it dies."""

    def __init__(self, index: int, gpu: int | None) -> None:
        self.index, self.gpu = index, gpu
        self.pool: ProcessPoolExecutor | None = None
        self.started: Future | None = None

    def submit(self, job: Compute, task: CellTask) -> Future:
        if self.pool is None:
            self.pool = ProcessPoolExecutor(
                1, mp_context=multiprocessing.get_context("spawn"), initializer=pin_gpu, initargs=(self.gpu,)
            )
            self.started = self.pool.submit(os.getpid)  # runs first: proves the process came up at all
        return self.pool.submit(job, task)

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

    def close(self, kill: bool) -> None:
        if self.pool is None:
            return
        if kill:  # an error in the driver: do not wait for a long cell whose row nobody will write
            for proc in list(getattr(self.pool, "_processes", {}).values()):
                proc.kill()
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.pool = None


class ProcessExecutor:
    """Up to `workers` cells at a time, each worker process keeping its prepared run between cells."""

    name = "processes"
    remote = True  # the runner hands it plain data (a JobSpec) that a worker rebuilds the run from

    def __init__(
        self, workers: int, max_retries: int = 2, threads: int | None = None, gpus: list[int] | None = None
    ) -> None:
        if workers < 1:
            from tcrbench.errors import UsageError

            raise UsageError(f"--workers must be at least 1, got {workers}")
        self.workers = workers
        self.max_retries = max_retries
        self.threads = threads
        self.gpus = gpus

    def run(self, tasks: list[CellTask], compute: JobSpec | Compute, on_rows: OnRows, on_lost: OnLost) -> None:
        """Keep every worker busy until the tasks are done; a stop lets running cells finish, then re-raises."""
        job = as_job(compute, self.threads)
        pending: deque[tuple[CellTask, int]] = deque((t, 0) for t in tasks)
        slots = [_Slot(i, self.gpus[i] if self.gpus else None) for i in range(min(self.workers, len(tasks)))]
        running: dict[Future, tuple[_Slot, CellTask, int]] = {}

        stopped: list[WorkerStopped] = []

        def feed(slot: _Slot) -> None:
            if pending and not stopped:
                task, attempt = pending.popleft()
                running[slot.submit(job, task)] = (slot, task, attempt)

        ok = False
        try:
            for slot in slots:
                feed(slot)
            while running:
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for fut in done:
                    slot, task, attempt = running.pop(fut)
                    try:
                        self._settle(fut, slot, task, attempt, on_rows, on_lost, pending)
                    except WorkerStopped as stop:  # start nothing new; cells already running may still finish
                        stopped.append(stop)
                    del fut  # release the result as soon as its rows are written
                    feed(slot)
            ok = True
        finally:
            for slot in slots:
                slot.close(kill=not ok)
        if stopped:
            raise stopped[0].original

    def _settle(
        self,
        fut: Future,
        slot: _Slot,
        task: CellTask,
        attempt: int,
        on_rows: OnRows,
        on_lost: OnLost,
        pending: deque[tuple[CellTask, int]],
    ) -> None:
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
