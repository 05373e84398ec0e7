"""Time limits that the executor running a cell enforces from outside the cell: `--cell-timeout` and the hard
end of `--max-time`.

A cell checks `--max-time` itself at clean points (between pretraining steps, before the next cell), which is
how a run stops with its checkpoints saved; a cell that hangs never reaches one. So the executor holds the
limits too: a cell past its `--cell-timeout` is stopped (serial: interrupted in this process; processes: its
worker killed; Dask: cancelled and its worker restarted) and recorded as failed while the grid goes on, and a
grid still running a grace period past `--max-time` is stopped whatever its cells are doing.

Light on purpose (no torch): the executors import it, and the command line's help imports nothing heavy.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field


class RunOutOfTime(Exception):
    """The grid ran past --max-time and its grace: the executor stopped every cell (the runner turns this into
    the same StoppedForTime, exit status 3, as a clean stop)."""


class CellInterrupted(BaseException):
    """Raised inside a cell that ran out of time in this process. A BaseException, like KeyboardInterrupt, so a
    plugin's `except Exception` cannot swallow it and the cell's own error capture does not record it."""


def grace(max_time: float) -> float:
    """How long past --max-time a cell may still run before it is stopped from outside: 5% of the limit, at least
    5 s and at most 5 min. A cell that is pretraining stops cleanly within one step; this covers the rest."""
    return min(max(5.0, 0.05 * max_time), 300.0)


def format_duration(seconds: float) -> str:
    """`20s`, `1m30s`, `6h`: how the limits are written on the command line, for messages and reasons."""
    if seconds < 60:
        return f"{seconds:g}s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else "", f"{secs}s" if secs else ""]
    return "".join(parts)


@dataclass(frozen=True)
class Limits:
    """A grid's time limits, as seconds; `started` is when the executor began computing (time.monotonic)."""

    cell_timeout: float | None = None
    max_time: float | None = None
    started: float = field(default_factory=time.monotonic)

    @property
    def stop_at(self) -> float | None:
        """When the whole grid is stopped from outside (--max-time plus its grace), or None."""
        return None if self.max_time is None else self.started + self.max_time + grace(self.max_time)

    def out_of_time(self, now: float | None = None) -> bool:
        """Whether the grid has run past --max-time and its grace."""
        stop_at = self.stop_at
        return stop_at is not None and (time.monotonic() if now is None else now) >= stop_at

    def cell_deadline(self, started: float) -> float | None:
        """When a cell that started at `started` must be stopped: its timeout or the grid's end, whichever first."""
        timeout = None if self.cell_timeout is None else started + self.cell_timeout
        ends = [t for t in (self.stop_at, timeout) if t is not None]
        return min(ends) if ends else None

    def timed_out(self, started: float, now: float | None = None) -> bool:
        """Whether a cell that started at `started` has run past --cell-timeout."""
        now = time.monotonic() if now is None else now
        return self.cell_timeout is not None and now - started >= self.cell_timeout

    def timeout_reason(self) -> str:
        """The failed row's reason for a cell stopped by --cell-timeout."""
        return f"cell timed out after {format_duration(self.cell_timeout or 0)} (--cell-timeout)"

    def stopped(self, running: list[str]) -> RunOutOfTime:
        """The stop, saying which cells were still running (they are computed again when the run resumes)."""
        limit = format_duration(self.max_time or 0)
        cells = f"; stopped {len(running)} running cell(s): {', '.join(running[:3])}" if running else ""
        return RunOutOfTime(
            f"stopped for --max-time {limit} (plus {format_duration(grace(self.max_time or 0))} grace){cells};"
            " run the same command again to resume"
        )


@contextlib.contextmanager
def interrupt_at(deadline: float | None) -> Iterator[None]:
    """Raise CellInterrupted in this thread if the block is still running at `deadline` (time.monotonic).

    In the main thread a SIGALRM timer does it, which also breaks a sleep or a blocking read; elsewhere a watchdog
    thread raises it asynchronously, which takes effect at the thread's next Python instruction (not inside a
    sleep). Code stuck in native code that never returns to Python cannot be interrupted in-process: the
    parallel executors, which kill the worker, stop that too.
    """
    if deadline is None:
        yield
        return
    delay = max(deadline - time.monotonic(), 1e-3)
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
        with _alarm(delay):
            yield
    else:
        with _watchdog(delay):
            yield


def _raise_interrupted(signum: int, frame: object) -> None:
    raise CellInterrupted()


@contextlib.contextmanager
def _alarm(delay: float) -> Iterator[None]:
    began = time.monotonic()
    previous = signal.signal(signal.SIGALRM, _raise_interrupted)
    old_delay, old_interval = signal.setitimer(signal.ITIMER_REAL, delay)
    try:
        yield
    finally:
        try:
            signal.setitimer(signal.ITIMER_REAL, 0)
        finally:
            signal.signal(signal.SIGALRM, previous)
            if old_delay:  # someone else's timer was running: give it back what is left of it
                left = max(old_delay - (time.monotonic() - began), 1e-3)
                signal.setitimer(signal.ITIMER_REAL, left, old_interval)


@contextlib.contextmanager
def _watchdog(delay: float) -> Iterator[None]:
    target = threading.get_ident()
    lock = threading.Lock()
    active = [True]

    def fire() -> None:
        with lock:
            if active[0]:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(target), ctypes.py_object(CellInterrupted))

    timer = threading.Timer(delay, fire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        with lock:  # after this, the timer can no longer fire into code outside the block
            active[0] = False
        timer.cancel()
