"""Executors run a grid's cells; the driver alone writes rows, so the run's store stays the single source of truth.

An executor receives picklable `CellTask`s, a `compute` function that turns one task into result rows (dicts),
and an `on_rows` callback that the driver uses to write each finished cell at once. Parallel ("remote")
executors get plain data instead of a bound method, a `JobSpec` (see `job.py`) that their workers rebuild the run
from, and an `on_lost` callback for a cell no worker could finish. Backends: `serial` (here), and the parallel
ones in their own modules, loaded lazily so `import tcrbench` imports no engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


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
    """What the runner calls; a remote executor (`remote = True`) also takes `on_lost` and a JobSpec."""

    name: str

    def run(self, tasks: list[CellTask], compute: Compute, on_rows: OnRows) -> None:
        """Compute every task, handing each finished cell's rows to `on_rows` in the driver."""
        ...


class SerialExecutor:
    """In-process, one cell after another: nothing to set up, and the default."""

    name = "serial"

    def run(self, tasks: list[CellTask], compute: Compute, on_rows: OnRows) -> None:
        """Compute each task and hand its rows to the driver before starting the next."""
        for task in tasks:
            on_rows(task, compute(task))
