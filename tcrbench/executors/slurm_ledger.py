"""Which cell runs where on Slurm, and what each job's end means for it: the `--executor slurm` bookkeeping.

Kept apart from Dask and Slurm so that its rules can be tested alone:
- a cell has at most one attempt out at a time, and every result, kill or start that is not about that attempt
  is ignored, so no cell runs twice at once and nothing is counted or written twice;
- a job that reached its wall time costs the cell nothing (it resumes from its checkpoint in the next job), unless
  the cell has spent most of a job without changing the run's cache twice running: a phase without checkpoints
  that outlasts the wall time would otherwise be resubmitted for ever;
- any other end of a job (a node lost, a cancel, a crash) counts against `max_retries`, and the cell waits until
  that job is gone from Slurm before it is submitted again: a worker cut off from the scheduler may still be
  computing, and two copies of a cell would write the same checkpoints.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Literal, Optional

from tcrbench.executors import CellTask

State = Literal["waiting", "submitted", "done", "lost"]


@dataclass
class CellRecord:
    """One cell's history in this run."""

    task: CellTask
    state: State = "waiting"
    key: Optional[str] = None  # the attempt now out (submitted), None otherwise
    tries: int = 0  # attempts submitted so far
    jobs: list[str] = field(default_factory=list)  # Slurm jobs that started computing it, in order, each once
    job: Optional[str] = None  # the job the current attempt started on
    started: Optional[float] = None  # when the current attempt started (the worker's clock)
    walltime_kills: int = 0
    deaths: int = 0  # ends other than the wall time: charged against max_retries
    stalls: int = 0  # wall-time kills in a row without progress
    blocked_by: Optional[str] = None  # a job that must leave Slurm before the next attempt
    mark: Hashable = None  # the run's progress marker when the current attempt was submitted
    reason: str = ""  # why it was lost

    def as_dict(self) -> dict[str, object]:
        """What the run's slurm.json says about the cell."""
        return {
            "cell": self.task.index,
            "label": self.task.label,
            "state": self.state,
            "jobs": list(self.jobs),
            "walltime_kills": self.walltime_kills,
            "other_job_ends": self.deaths,
            **({"reason": self.reason} if self.reason else {}),
        }


@dataclass(frozen=True)
class Verdict:
    """What happens to a cell after its job ended under it."""

    resubmit: bool
    reason: str = ""  # set when the cell is lost: the one line its failed rows carry


class CellLedger:
    """Attempts, jobs and kills of every cell of one `run` call."""

    def __init__(
        self, tasks: Iterable[CellTask], tag: str, walltime: float, max_retries: int = 2, stall_limit: int = 2
    ) -> None:
        self.cells = {t.index: CellRecord(t) for t in tasks}
        self.tag = tag
        self.walltime = walltime
        self.max_retries = max_retries
        self.stall_limit = stall_limit
        self._by_key: dict[str, CellRecord] = {}

    # ------------------------------------------------------------ submitting
    def to_submit(self, active_jobs: set[str], mark: Hashable = None) -> list[tuple[CellTask, str]]:
        """Waiting cells that may go out now (their blocking job has left Slurm), each with a fresh key."""
        out = []
        for rec in self.cells.values():
            if rec.state != "waiting" or (rec.blocked_by is not None and rec.blocked_by in active_jobs):
                continue
            rec.blocked_by = None
            rec.tries += 1
            rec.key = f"{self.tag}-cell{rec.task.index}-try{rec.tries}"
            rec.state, rec.job, rec.started, rec.mark = "submitted", None, None, mark
            self._by_key[rec.key] = rec
            out.append((rec.task, rec.key))
        return out

    def current(self, key: str) -> CellRecord | None:
        """The cell whose outstanding attempt `key` is; None for a stale or unknown key."""
        rec = self._by_key.get(key)
        return rec if rec is not None and rec.key == key and rec.state == "submitted" else None

    # ------------------------------------------------------------ what comes back
    def started(self, key: str, job: str, when: float) -> bool:
        """A worker of `job` began the attempt `key`; True when that job is new to the cell (counted once)."""
        rec = self.current(key)
        if rec is None:
            return False
        rec.job, rec.started = job, when
        if job in rec.jobs:
            return False
        rec.jobs.append(job)
        return True

    def finished(self, key: str) -> CellTask | None:
        """The cell whose rows just came back, or None when `key` is not its current attempt (never written twice)."""
        rec = self.current(key)
        if rec is None:
            return None
        rec.state, rec.key = "done", None
        return rec.task

    def killed(
        self,
        key: str,
        job: str | None,
        walltime: bool,
        now: float,
        mark: Hashable = None,
        why: str = "",
        ran: bool = True,
    ) -> Verdict | None:
        """The attempt's job ended under it (at its wall time, or otherwise: `why`); None for a stale key.

        `ran` False: the cell was only queued on that job's worker, behind another cell: it goes out again at no
        cost. Either way the next attempt waits until the job has left Slurm (a job at its wall time gets SIGTERM,
        then SIGKILL KillWait seconds later: until then its worker may still be writing the cell's checkpoints).
        """
        rec = self.current(key)
        if rec is None:
            return None
        rec.key = None
        rec.blocked_by = job  # the next attempt waits until Slurm has ended every process of this job
        if not ran:
            rec.state = "waiting"
            return Verdict(True)
        if walltime:
            rec.walltime_kills += 1
            spent = now - rec.started if rec.started is not None else 0.0
            if mark is None or mark != rec.mark:
                rec.stalls = 0
            elif spent >= self.walltime / 2:  # most of a job spent, and the run's cache did not change
                rec.stalls += 1
            if rec.stalls >= self.stall_limit:
                minutes = f"{self.walltime / 60:g} min"
                return self._lose(
                    rec,
                    f"it made no progress in {rec.stalls} Slurm jobs of {minutes} each: a part of the cell without "
                    "checkpoints (fine-tuning, evaluation) takes longer than the wall time; raise [slurm] walltime",
                )
            rec.state = "waiting"
            return Verdict(True)
        rec.deaths += 1
        if rec.deaths > self.max_retries:
            jobs = "its Slurm job" if rec.deaths == 1 else f"{rec.deaths} Slurm jobs"
            return self._lose(rec, f"{jobs} ended under it, not at the wall time (last: {why or 'unknown'})")
        rec.state = "waiting"
        return Verdict(True)

    def fail(self, key: str, reason: str) -> CellTask | None:
        """The attempt broke in the plumbing (not a job's end): the cell is lost with `reason`, never retried."""
        rec = self.current(key)
        if rec is None:
            return None
        rec.key = None
        self._lose(rec, reason)
        return rec.task

    def cancelled(self, key: str) -> None:
        """An attempt taken back by the driver (a stop): the cell is left unfinished, not lost."""
        rec = self.current(key)
        if rec is not None:
            rec.state, rec.key = "waiting", None

    def _lose(self, rec: CellRecord, reason: str) -> Verdict:
        rec.state, rec.reason = "lost", reason
        return Verdict(False, reason)

    # ------------------------------------------------------------ the whole run
    def unfinished(self) -> int:
        """Cells still to compute (out, or waiting to go out): what the number of jobs follows."""
        return sum(rec.state in ("waiting", "submitted") for rec in self.cells.values())

    def waiting(self) -> list[CellRecord]:
        """Cells to submit (some perhaps held until their last job has left Slurm)."""
        return [rec for rec in self.cells.values() if rec.state == "waiting"]

    def outstanding(self) -> list[str]:
        """Keys of the attempts now out."""
        return [rec.key for rec in self.cells.values() if rec.key is not None and rec.state == "submitted"]

    def jobs_per_cell(self) -> dict[int, int]:
        """How many Slurm jobs each cell took (a cell that never started: 0)."""
        return {i: len(rec.jobs) for i, rec in self.cells.items()}

    def summary(self) -> str:
        """One line for the end of a run: cells, jobs, and the cells that needed more than one."""
        jobs = self.jobs_per_cell()
        total = len({j for rec in self.cells.values() for j in rec.jobs})
        many = [rec for rec in self.cells.values() if len(rec.jobs) > 1]
        line = f"slurm: {len(jobs)} cells in {total} jobs"
        if many:
            worst = max(many, key=lambda r: len(r.jobs))
            line += f"; {len(many)} took more than one job (most: {len(worst.jobs)}, {worst.task.label})"
        return line
