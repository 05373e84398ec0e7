"""Executors run a grid's cells; the driver alone writes rows, so the run's store stays the single source of truth.

An executor receives picklable `CellTask`s, a `compute` function that turns one task into result rows (dicts),
and an `on_rows` callback that the driver uses to write each finished cell at once. Parallel ("remote")
executors get plain data instead of a bound method, a `JobSpec` (see `job.py`) that their workers rebuild the run
from, and an `on_lost` callback for a cell no worker could finish. Executors with `enforces_limits` also take the
grid's time `limits` (`limits.py`): a cell past --cell-timeout goes to `on_lost` with the reason, and a grid past
--max-time's grace raises `RunOutOfTime`. Backends: `serial` (here), and the parallel ones in their own modules,
loaded lazily so `import tcrbench` imports no engine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from tcrbench.executors.limits import CellInterrupted, Limits, interrupt_at


@dataclass(frozen=True)
class CellTask:
    """A cell by its index in the grid (small and picklable: workers rebuild the cell from the same grid)."""

    index: int  # position in Runner.cells(): the same on every worker, since the grid is deterministic
    protocols: tuple[str, ...]
    label: str


Compute = Callable[[CellTask], list[dict[str, Any]]]
OnRows = Callable[[CellTask, list[dict[str, Any]]], None]
OnLost = Callable[[CellTask, str], None]


class Executor(Protocol):
    """What the runner calls; a remote executor (`remote = True`) also takes `on_lost` and a JobSpec, and one with
    `enforces_limits = True` also `on_lost` and `limits=` (the grid's Limits). `slots`, when present, is how many
    cells it runs at a time (the progress display's ETA divides by it)."""

    name: str

    def run(self, tasks: list[CellTask], compute: Compute, on_rows: OnRows) -> None:
        """Compute every task, handing each finished cell's rows to `on_rows` in the driver."""
        ...


class SerialExecutor:
    """In-process, one cell after another: nothing to set up, and the default.

    With limits, each cell runs under an in-process interrupt (`limits.interrupt_at`): a cell past --cell-timeout
    becomes failed rows and the next cell starts; past --max-time's grace, the run stops. Arming the interrupt
    costs microseconds per cell, so a tiny grid pays nothing for it.
    """

    name = "serial"
    slots = 1  # cells at a time (the progress display's ETA divides by it)
    enforces_limits = True

    def run(
        self,
        tasks: list[CellTask],
        compute: Compute,
        on_rows: OnRows,
        on_lost: OnLost | None = None,
        limits: Limits | None = None,
    ) -> None:
        """Compute each task and hand its rows to the driver before starting the next."""
        for task in tasks:
            if limits is None:
                on_rows(task, compute(task))
                continue
            if limits.out_of_time():
                raise limits.stopped([])
            started = time.monotonic()
            try:
                with interrupt_at(limits.cell_deadline(started)):
                    rows = compute(task)
            except CellInterrupted:
                if limits.out_of_time():
                    raise limits.stopped([task.label]) from None
                if on_lost is None:
                    raise
                on_lost(task, limits.timeout_reason())
                continue
            on_rows(task, rows)
