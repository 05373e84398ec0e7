"""The Slurm jobs of one `--executor slurm` run: submitted, watched and cancelled through Slurm's own commands.

The driver submits each job itself (`sbatch --parsable`, with the script dask-jobqueue writes), rather than leaving
it to the cluster object's background scaling: a submission Slurm refuses then stops the run with Slurm's own
words, and every job is known by its id from the start, so the driver can tell which job a cell died with, why
that job ended (`TIMEOUT` is a wall-time kill), and how long each job took to start.
"""

from __future__ import annotations

import functools
import logging
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from tcrbench.errors import UsageError

log = logging.getLogger("tcrbench.run")

RESUME = "finished rows are kept; run the same command again to resume"
ACTIVE = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "RESIZING", "REQUEUED", "STOPPED"}
# pending reasons that no amount of waiting ends: stop at once instead of after --pending-timeout
NEVER = {
    "PartitionTimeLimit",
    "PartitionNodeLimit",
    "PartitionConfig",
    "BadConstraints",
    "InvalidAccount",
    "InvalidQOS",
    "AssocMaxWallDurationPerJobLimit",
    "QOSMaxWallDurationPerJobLimit",
    "QOSMaxCpuPerJobLimit",
    "QOSMaxMemoryPerJob",
    "QOSMaxGRESPerJob",
    "AccountNotAllowed",
    "JobHeldAdmin",
}


class SlurmError(UsageError):
    """Slurm cannot run this run's jobs (no controller, a refused or never-starting job): one line, exit 2."""

    @property
    def transient(self) -> bool:
        """A busy or restarting controller, which the next look may find answering again."""
        return any(t in str(self) for t in TRANSIENT)


# what sbatch and squeue say while slurmctld is busy or restarting (e.g. during an upgrade): worth another try
TRANSIENT = ("Unable to contact slurm controller", "Socket timed out", "ransient", "try again", "gave no answer")


@dataclass
class JobState:
    """What Slurm says about one job (squeue -t all: kept for MinJobAge after it ends)."""

    state: str  # RUNNING, PENDING, TIMEOUT, NODE_FAIL, CANCELLED, ...
    reason: str
    start: Optional[float]  # epoch seconds; None before it starts
    limit: Optional[float]  # seconds
    elapsed: float

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def walltime(self) -> bool:
        """Ended (or ending) because it reached its time limit."""
        near = self.limit is not None and self.elapsed >= self.limit - 5
        return self.state == "TIMEOUT" or self.reason == "TimeLimit" or (near and not self.active)


def _clock(text: str) -> Optional[float]:
    """Seconds of a Slurm duration `[D-][HH:]MM:SS`; None for UNLIMITED, INVALID and the like."""
    days, _, rest = text.strip().rpartition("-")
    try:
        parts = [int(p) for p in rest.split(":")]
        total = sum(v * 60**i for i, v in enumerate(reversed(parts)))
        return float(total + (int(days) * 86400 if days else 0))
    except ValueError:
        return None


def _epoch(text: str) -> Optional[float]:
    try:  # squeue prints local time without a zone
        return float(time.mktime(time.strptime(text.strip(), "%Y-%m-%dT%H:%M:%S")))
    except ValueError:
        return None


class SlurmCli:
    """sbatch, squeue, scancel and scontrol; a failure is a SlurmError quoting Slurm's last line."""

    def __init__(self, timeout: float = 60.0, user: str | None = None) -> None:
        self.timeout = timeout
        self.user = user

    def call(self, *args: str) -> str:
        try:
            done = subprocess.run(list(args), capture_output=True, text=True, timeout=self.timeout, check=False)
        except FileNotFoundError:
            raise SlurmError(
                f"--executor slurm: {args[0]} not found: run tcrbench where Slurm's commands are (a login node)"
            ) from None
        except subprocess.TimeoutExpired:
            raise SlurmError(f"--executor slurm: {args[0]} gave no answer in {self.timeout:g} s; {RESUME}") from None
        if done.returncode != 0:
            lines = [ln.strip() for ln in (done.stderr + done.stdout).splitlines() if ln.strip() and "*" not in ln]
            raise SlurmError(f"--executor slurm: {' '.join(args[:2])} failed: {lines[-1] if lines else 'no output'}")
        return done.stdout

    def ping(self) -> None:
        """Refuse to start when the controller does not answer (before any cluster or job exists)."""
        try:
            out = self.call("scontrol", "ping")
        except SlurmError as exc:
            raise SlurmError(f"--executor slurm: the Slurm controller is unreachable ({exc})") from None
        if "UP" not in out:
            raise SlurmError(f"--executor slurm: the Slurm controller is unreachable ({out.strip()})")

    def submit(self, script: Path) -> str:
        out = self.call("sbatch", "--parsable", str(script)).strip()
        return out.split(";")[0]

    def cancel(self, jobs: Iterable[str]) -> None:
        ids = sorted(set(jobs))
        if ids:
            try:
                self.call("scancel", *ids)
            except SlurmError:
                pass  # a job already gone; cancelling is a courtesy at the end of a run

    def states(self, jobs: Iterable[str]) -> dict[str, JobState]:
        """Every listed job Slurm still knows; a job missing from the answer has been forgotten (ended)."""
        ids = set(jobs)
        if not ids:
            return {}
        args = ["squeue", "-h", "-t", "all", "-o", "%i|%T|%r|%S|%l|%M"]
        args += ["-u", self.user] if self.user else ["--me"]
        out: dict[str, JobState] = {}
        for line in self.call(*args).splitlines():
            parts = line.strip().split("|")
            if len(parts) == 6 and parts[0] in ids:
                job, state, reason, start, limit, used = parts
                out[job] = JobState(state, reason, _epoch(start), _clock(limit), _clock(used) or 0.0)
        return out


@dataclass
class JobRecord:
    """One submitted job; times are the driver's epoch seconds."""

    name: str  # the Dask worker's name, unique to this run
    job: str  # Slurm job id
    submitted: float
    started: Optional[float] = None  # Slurm started it
    joined: Optional[float] = None  # its worker reached the scheduler (seen at the driver's next look)
    first_cell: Optional[float] = None  # a cell started on it (the worker's clock)
    ended: Optional[float] = None  # of no more use to the run: over, or its worker gone
    state: str = "PENDING"
    reason: str = ""
    retiring: bool = False
    ours: bool = False  # cancelled by the driver (not needed any more, or the run ended)

    def as_dict(self) -> dict[str, object]:
        def since(t: Optional[float]) -> Optional[float]:
            return None if t is None else round(t - self.submitted, 2)

        return {
            "job": self.job,
            "worker": self.name,
            "state": self.state,
            "queued_s": since(self.started),
            "first_cell_s": since(self.first_cell),
            "ran_s": None if self.ended is None or self.started is None else round(self.ended - self.started, 2),
        }


class JobPool:
    """The run's jobs: as many as there are cells to compute (at most `max_jobs`), and why each one ended."""

    FAILED_STARTS = 3  # jobs in a row that end before their worker joins: the job script itself is broken

    def __init__(
        self,
        cli: SlurmCli,
        script: Callable[[str], str],
        folder: Path,
        tag: str,
        max_jobs: int,
        pending_timeout: float,
        logs: Path | None = None,
    ) -> None:
        self.cli, self.script, self.folder, self.tag, self.logs = cli, script, folder, tag, logs or folder
        self.max_jobs, self.pending_timeout = max_jobs, pending_timeout
        self.jobs: dict[str, JobRecord] = {}
        self.by_name: dict[str, JobRecord] = {}
        self.failed_starts: list[JobRecord] = []  # since a worker last joined
        self._last_worker = time.time()  # the last moment a worker was connected (or the run began)
        self._silent_since: float | None = None  # Slurm's commands have failed since then (transiently)

    def _try(self, call: Callable[[], Any]) -> Any:
        """A Slurm command; a transient failure is logged and skipped (the next look tries again) until Slurm
        has not answered for `pending_timeout`; any other failure stops the run."""
        try:
            out = call()
        except SlurmError as exc:
            if not exc.transient:
                raise
            now = time.time()
            self._silent_since = self._silent_since or now
            if now - self._silent_since >= self.pending_timeout:
                raise SlurmError(
                    f"--executor slurm: Slurm has not answered for {now - self._silent_since:.0f} s ({exc}); {RESUME}"
                ) from None
            log.warning("Slurm did not answer (%s); trying again", exc)
            return None
        self._silent_since = None
        return out

    def live(self) -> list[JobRecord]:
        return [r for r in self.jobs.values() if r.ended is None]

    def active_ids(self) -> set[str]:
        """Jobs Slurm still runs, queues or is ending (a cell whose job ended waits until it is gone)."""
        return {r.job for r in self.jobs.values() if r.state in ACTIVE}

    def submit(self, n: int) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for _ in range(n):
            name = f"{self.tag}-{len(self.jobs)}"
            path = self.folder / f"{name}.sh"
            path.write_text(self.script(name))
            job = self._try(functools.partial(self.cli.submit, path))
            if job is None:
                return
            rec = JobRecord(name, job, time.time())
            self.jobs[job] = rec
            self.by_name[name] = rec

    def update(self, job: str, st: JobState | None, now: float | None = None) -> None:
        """Take in what Slurm says about one job (None: Slurm has forgotten it, so it ended a while ago)."""
        rec = self.jobs.get(job)
        if rec is None:
            return
        now = time.time() if now is None else now
        if st is None:
            rec.state = "GONE" if rec.state in ACTIVE else rec.state
        else:
            rec.state, rec.reason = st.state, st.reason
            if st.start is not None and st.state != "PENDING" and rec.started is None:
                rec.started = min(max(st.start, rec.submitted), now)  # squeue's clock has whole seconds
        if rec.state not in ACTIVE and rec.ended is None:
            rec.ended = now
            if rec.joined is None and not rec.ours:
                self.failed_starts.append(rec)

    def refresh(self, connected: set[str], ask_slurm: bool = True) -> None:
        """See which workers are connected to the scheduler and, with `ask_slurm`, what Slurm says of each job
        it may still hold (squeue is not asked at every look: busy clusters ask users to poll it sparingly)."""
        now = time.time()
        watched = [r for r in self.jobs.values() if r.state in ACTIVE]
        states = self._try(lambda: self.cli.states(r.job for r in watched)) if ask_slurm and watched else None
        for rec in watched:
            if states is not None:
                self.update(rec.job, states.get(rec.job), now)
            if rec.name in connected and rec.joined is None:
                rec.joined = now
                self.failed_starts.clear()
            if rec.joined is not None and rec.name not in connected and rec.ended is None:
                rec.ended = now  # its worker left: the job is of no more use, whatever Slurm says yet
        if connected:
            self._last_worker = now

    def working(self) -> bool:
        """Whether some job's worker is connected now."""
        return any(r.joined is not None and r.ended is None for r in self.jobs.values())

    def scale(self, wanted: int, idle: Callable[[list[str]], list[str]]) -> list[str]:
        """Submit or release jobs so that `wanted` (capped at max_jobs) are live; the names of workers to retire.

        Jobs still queued go first, then workers `idle` says have nothing to do; a busy job is never released.
        """
        wanted = min(wanted, self.max_jobs)
        live = [r for r in self.live() if not r.retiring]
        if len(live) < wanted:
            if len(self.failed_starts) < self.FAILED_STARTS:
                self.submit(wanted - len(live))
            return []
        excess = len(live) - wanted
        queued = [r for r in live if r.joined is None][::-1][:excess]
        self.cancel(queued)
        retire = idle([r.name for r in live if r.joined is not None])[: excess - len(queued)]
        for name in retire:
            self.by_name[name].retiring = True
        return retire

    def check(self, waiting: bool) -> None:
        """Stop the run when its jobs will not start: a reason Slurm never lifts, jobs that end before their
        worker joins, or no worker at all for `pending_timeout`."""
        for rec in self.live():
            if rec.state == "PENDING" and rec.reason in NEVER:
                raise SlurmError(
                    f"--executor slurm: job {rec.job} cannot start ({rec.reason}): check the [slurm] partition,"
                    f" account and walltime against the cluster's limits; {RESUME}"
                )
        if len(self.failed_starts) >= self.FAILED_STARTS:
            last = self.failed_starts[-1]
            raise SlurmError(
                f"--executor slurm: {len(self.failed_starts)} jobs in a row ended ({last.state}) before their worker"
                f" joined; job {last.job}'s log ends: {self.log_tail(last.job)!r}; {RESUME}"
            )
        if not waiting or self.working():
            return
        idle_for = time.time() - self._last_worker
        if idle_for < self.pending_timeout:
            return
        live = sorted(self.live(), key=lambda r: r.submitted)
        if live and live[0].state == "PENDING":
            why = f"job {live[0].job} is still pending ({live[0].reason or 'no reason given'})"
        elif live:
            why = f"job {live[0].job} is {live[0].state.lower()} but its worker never joined (see {self.logs})"
        else:
            why = "no job is queued or running"
        raise SlurmError(f"--executor slurm: no worker for {idle_for:.0f} s: {why}; {RESUME}")

    def log_tail(self, job: str) -> str:
        """The last line a job wrote to its stderr file (where a broken environment says what is wrong)."""
        for path in sorted(self.logs.glob(f"*-{job}.err")):
            lines = [ln.strip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
            if lines:
                return lines[-1][:300]
        return "(empty)"

    def cancel(self, recs: Iterable[JobRecord], final: bool = False) -> None:
        """Cancel jobs the run no longer needs. Their state stays Slurm's (a cell waiting for one to end waits until
        squeue says so), except at the end of the run (`final`), when nothing waits any more."""
        recs = [r for r in recs if r.state in ACTIVE]
        self.cli.cancel(r.job for r in recs)
        now = time.time()
        for r in recs:
            r.ours = True
            r.state = "CANCELLED" if final else r.state
            if r.ended is None:
                r.ended = now

    def cancel_all(self) -> None:
        self.cancel(list(self.jobs.values()), final=True)


def overhead(jobs: Iterable[JobRecord]) -> dict[str, Optional[float]]:
    """Median seconds from submission to Slurm starting the job, and to the first cell starting on it; and from
    Slurm's start to that cell (the worker's own start-up: Python, torch, the run's data)."""
    import statistics

    recs = list(jobs)

    def median(values: list[Optional[float]]) -> Optional[float]:
        got = [v for v in values if v is not None]
        return round(statistics.median(got), 2) if got else None

    return {
        "jobs": len(recs),
        "queued_s": median([r.started - r.submitted if r.started else None for r in recs]),
        "startup_s": median([r.first_cell - r.started if r.first_cell and r.started else None for r in recs]),
        "first_cell_s": median([r.first_cell - r.submitted if r.first_cell else None for r in recs]),
    }
