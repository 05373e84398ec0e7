"""Executors run a grid's cells; the driver alone writes rows, so the run's store stays the single source of truth.

An executor receives picklable `CellTask`s, a `compute` function that turns one task into result rows (dicts),
and an `on_rows` callback that the driver uses to write each finished cell at once. Backends: `serial` (here),
and the parallel ones in their own modules, loaded lazily so `import tcrbench` imports no engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol


@dataclass(frozen=True)
class CellTask:
    index: int  # position in Runner.cells(): the same on every worker, since the grid is deterministic
    protocols: tuple[str, ...]
    label: str


Compute = Callable[[CellTask], list[dict[str, Any]]]
OnRows = Callable[[CellTask, list[dict[str, Any]]], None]


class Executor(Protocol):
    name: str

    def run(self, tasks: list[CellTask], compute: Compute, on_rows: OnRows) -> None: ...


class SerialExecutor:
    """In-process, one cell after another: nothing to set up, and the default."""

    name = "serial"

    def run(self, tasks: list[CellTask], compute: Compute, on_rows: OnRows) -> None:
        for task in tasks:
            on_rows(task, compute(task))
