"""--max-time inside one process: when to stop, and the rule that every stopped run leaves more than it found."""

from __future__ import annotations

import time

from tcrbench.training.checkpoint import StoppedForTime


class TimeLimit:
    """The deadline of this process's share of a run, started by the first encoder cell that asks for it.

    Started lazily rather than at set-up, so preparing data and building the grid never eat into it. Work done
    (a pretraining finished, an evaluation cached, a cell's rows) is recorded, because a stop before any work
    would make a run that is re-run with the same limit stop forever at the same place.
    """

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self._stop_at: float | None = None
        self.worked = False

    def deadline(self) -> float | None:
        """When the limit runs out (a time.monotonic value), counted from the first call; None without one."""
        if self.seconds is None:
            return None
        if self._stop_at is None:
            self._stop_at = time.monotonic() + self.seconds
        return self._stop_at

    def did_work(self) -> None:
        """Record that this process has made progress, so the next check may stop it."""
        self.worked = True

    def check(self, before: str) -> None:
        """Raise StoppedForTime if the limit has run out, but never before this process has done some work."""
        deadline = self.deadline()
        if deadline is not None and time.monotonic() >= deadline and self.worked:
            raise StoppedForTime(f"stopped for --max-time before {before}; run the same command again to resume")
