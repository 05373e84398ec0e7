"""The driver's loop of `--executor slurm`: submit cells and jobs, read what comes back, judge each job's end.

Every few seconds it looks at Slurm (squeue) and at the scheduler (which workers are connected, which cells
started on which job), submits the cells the ledger lets go out, and keeps as many jobs as there are cells to
compute (at most `max_jobs`). In between it waits on the cells' futures. A cell whose worker died is judged by
its job's end: `TIMEOUT` resumes it in a new job for free, anything else is a retry.
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tcrbench.executors import OnLost, OnRows
from tcrbench.executors.limits import Limits
from tcrbench.executors.slurm_jobs import JobPool
from tcrbench.executors.slurm_ledger import CellLedger
from tcrbench.executors.worker import WorkerSetupError, WorkerStopped

if TYPE_CHECKING:
    from tcrbench.executors.slurm_backend import SlurmExecutor

log = logging.getLogger("tcrbench.run")


def progress_mark(folder: Path | None) -> str | None:
    """A digest of the run's cache (names and sizes): it changes whenever some cell checkpoints or pretrains."""
    if folder is None or not folder.is_dir():
        return None
    digest = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            digest.update(f"{p.relative_to(folder)}:{p.stat().st_size}\n".encode())
    return digest.hexdigest()


class DriverLoop:
    """One run on Slurm, from the first submission to the last row."""

    def __init__(
        self,
        ex: SlurmExecutor,
        client: Any,
        job: Any,
        ledger: CellLedger,
        pool: JobPool,
        cache: Path | None,
        on_rows: OnRows,
        on_lost: OnLost,
        limits: Limits | None = None,
    ) -> None:
        self.ex, self.client, self.job, self.ledger, self.pool, self.cache = ex, client, job, ledger, pool, cache
        self.on_rows, self.on_lost, self.limits = on_rows, on_lost, limits
        self.futures: dict[str, Any] = {}
        self.began: dict[str, tuple[str, float]] = {}  # key -> (job, when the driver heard it start: monotonic)
        self.stopped: list[WorkerStopped] = []
        self._seen = 0.0  # events up to this time are read
        self._asked = 0.0  # when squeue was last asked (time.monotonic)

    def run(self) -> None:
        from distributed import TimeoutError as WaitedEnough
        from distributed import wait

        due = 0.0
        while self.futures or (self.ledger.unfinished() and not self.stopped):
            if time.monotonic() >= due:
                self.housekeeping()
                due = time.monotonic() + self.ex.refresh
            self.enforce()
            if not self.futures:
                time.sleep(self.ex.poll)
                continue
            try:
                done, _ = wait(list(self.futures.values()), timeout=self.ex.poll, return_when="FIRST_COMPLETED")
            except WaitedEnough:  # (builtins.TimeoutError from Python 3.11; asyncio's before)
                continue
            for fut in done:
                self.settle(fut)

    # ------------------------------------------------------------ jobs and submissions
    def housekeeping(self) -> None:
        """Jobs and workers as Slurm and the scheduler see them; new attempts; as many jobs as cells to run."""
        info = self.client.scheduler_info()["workers"]
        waiting = self.ledger.waiting()
        now = time.monotonic()
        held = any(rec.blocked_by is not None for rec in waiting)
        ask = held or not self.pool.working() or now - self._asked >= self.ex.slurm_every
        self.pool.refresh({w["name"] for w in info.values()}, ask_slurm=ask)
        self._asked = now if ask else self._asked
        self.read_events()
        if waiting and not self.stopped:
            ready = self.ledger.to_submit(self.pool.active_ids(), progress_mark(self.cache))
            for task, key in ready:
                self.futures[key] = self.client.submit(self.job, task, key=key, pure=False)
        wanted = self.ledger.unfinished() if not self.stopped else 0
        retire = self.pool.scale(wanted, lambda names: self.idle(names, info))
        if retire:
            addresses = [a for a, w in info.items() if w["name"] in retire]
            self.client.retire_workers(workers=addresses, close_workers=True)
        self.pool.check(waiting=bool(self.ledger.unfinished()) and not self.stopped)

    def idle(self, names: list[str], info: dict[str, Any]) -> list[str]:
        """Which of these workers hold no cell (running or queued on them)."""
        busy = {info[a]["name"] for a, keys in self.client.processing().items() if keys and a in info}
        return [n for n in names if n not in busy]

    def read_events(self) -> None:
        """The workers' start announcements: which job each attempt started on (each job counted once)."""
        for when, msg in self.client.get_events(self.job.topic):
            if when < self._seen or not isinstance(msg, dict):
                continue
            self._seen = when
            key, job = str(msg["key"]), str(msg["job"])
            if self.ledger.current(key) is not None and self.began.get(key, ("",))[0] != job:
                self.began[key] = (job, time.monotonic())
            if self.ledger.started(key, job, float(msg["time"])):
                rec = self.ledger.current(key)
                if rec is not None and len(rec.jobs) > 1:
                    log.info("%s resumed in Slurm job %s (its job %d)", rec.task.label, job, len(rec.jobs))
            first = self.pool.jobs.get(job)
            if first is not None and first.first_cell is None:
                first.first_cell = float(msg["time"])

    # ------------------------------------------------------------ what comes back
    def settle(self, fut: Any) -> None:
        from distributed.scheduler import KilledWorker

        key = fut.key
        self.futures.pop(key, None)
        rec = self.ledger.current(key)
        if fut.status == "cancelled":
            self.ledger.cancelled(key)
            return
        if rec is not None and rec.job is None:  # a short cell ends before the next look: its job, first
            self.read_events()  # (the worker sent the event before the result, on the same stream)
        if fut.status == "finished":
            rows = fut.result()
            fut.release()  # the driver holds no result longer than it takes to write it
            task = self.ledger.finished(key)
            if task is not None:
                self.on_rows(task, rows)
                if rec is not None and len(rec.jobs) > 1:
                    log.info("%s took %d Slurm jobs (%s)", task.label, len(rec.jobs), ", ".join(rec.jobs))
            return
        exc = fut.exception()
        fut.release()
        if rec is None:
            return
        if isinstance(exc, KilledWorker):
            self.job_ended(key, exc)
        elif isinstance(exc, WorkerSetupError):
            raise exc
        elif isinstance(exc, WorkerStopped):  # no new cells; the ones already running may finish
            if not self.stopped:
                self.client.cancel([f for k, f in self.futures.items() if k not in self.began])
            self.stopped.append(exc)
            self.ledger.cancelled(key)
        else:
            reason = f"{type(exc).__name__}: {exc}"
            if self.ledger.fail(key, reason) is not None:
                self.on_lost(rec.task, reason)

    def job_ended(self, key: str, exc: Any) -> None:
        """The attempt's worker died: at its job's wall time (resume, free), or otherwise (a retry)."""
        rec = self.ledger.current(key)
        assert rec is not None
        worker = getattr(exc, "last_worker", None)
        executing = {str(k) for k in (getattr(worker, "executing", None) or {})}
        named = self.pool.by_name.get(str(getattr(worker, "name", "")))
        job = rec.job or (named.job if named is not None else None)
        ran = rec.job is not None or key in executing  # else it only waited on that worker
        state = self.ex.cli.states([job]).get(job) if job else None
        if job:
            self.pool.update(job, state)
        walltime = state.walltime if state is not None else False
        why = f"job {job}, {state.state if state else 'gone from Slurm'}"
        if state is not None and state.reason not in ("", "None"):
            why += f" ({state.reason})"
        if not walltime and state is not None and state.active and job:
            self.pool.cancel([self.pool.jobs[job]])  # its worker may still compute, cut off: the cell waits
        verdict = self.ledger.killed(key, job, walltime, time.time(), progress_mark(self.cache), why, ran=ran)
        self.began.pop(key, None)
        if verdict is None:
            return
        if not verdict.resubmit:
            log.error("%s lost: %s", rec.task.label, verdict.reason)
            self.on_lost(rec.task, verdict.reason)
        elif not ran:
            log.info("%s was queued on Slurm %s, which ended; submitted again", rec.task.label, why)
        elif walltime:
            log.warning("%s: Slurm job %s reached its wall time; resuming from its checkpoint", rec.task.label, job)
        else:
            log.warning("%s: its Slurm %s; retry %d of %d", rec.task.label, why, rec.deaths, self.ex.max_retries)

    # ------------------------------------------------------------ time limits and the end
    def enforce(self) -> None:
        """--max-time's hard end stops the run; a cell past --cell-timeout fails and its job is cancelled."""
        limits = self.limits
        if limits is None:
            return
        now = time.monotonic()
        running = {k: v for k, v in self.began.items() if k in self.futures and self.ledger.current(k) is not None}
        if limits.out_of_time(now):
            raise limits.stopped([rec.task.label for k in running if (rec := self.ledger.current(k))])
        for key, (job, began) in running.items():
            if not limits.timed_out(began, now):
                continue
            rec = self.ledger.current(key)
            assert rec is not None
            self.futures.pop(key).cancel()
            self.began.pop(key, None)
            reason = limits.timeout_reason()
            log.error("%s: %s; its Slurm job %s is cancelled", rec.task.label, reason, job)
            self.pool.cancel([self.pool.jobs[job]] if job in self.pool.jobs else [])
            if self.ledger.fail(key, reason) is not None:
                self.on_lost(rec.task, reason)

    def cancel(self) -> None:
        """Nobody will write these cells' rows: stop computing them."""
        if self.futures:
            self.client.cancel(list(self.futures.values()))


__all__ = ["DriverLoop", "progress_mark"]
