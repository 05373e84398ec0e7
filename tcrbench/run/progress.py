"""Progress bars for a run: the grid's rows done and the current cell's training steps; nothing when quiet.

A separate module so the cell code can report steps without knowing about the grid, and so rich is imported
only when a bar is actually shown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

StepCallback = Callable[[int, int, float, float], None]


class Progress:
    """Grid and current-cell progress; a no-op when quiet."""

    def __init__(self, quiet: bool, total: int) -> None:
        self.bar: Any = None
        if not quiet:
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
            from rich.progress import Progress as RichProgress

            self.bar = RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                transient=False,
            )
            self.bar.start()
            self.grid = self.bar.add_task("grid", total=total)
            self.cell = self.bar.add_task("", total=1, visible=False)

    def start_cell(self, label: str) -> None:
        """Show a new cell's label with an empty step bar."""
        if self.bar:
            self.bar.update(self.cell, description=label, completed=0, total=1, visible=True)

    def step(self, phase: str) -> StepCallback:
        """The `on_step` callback a training loop reports (step, total, loss, sequences per second) to."""

        def update(step: int, total: int, loss: float, per_s: float) -> None:
            if self.bar:
                self.bar.update(
                    self.cell,
                    completed=step,
                    total=total,
                    description=f"  {phase}: loss {loss:.4f}, {per_s:,.0f} seq/s",
                )

        return update

    def advance(self, n: int = 1) -> None:
        """Count `n` more rows of the grid as done (computed, or found finished)."""
        if self.bar:
            self.bar.advance(self.grid, n)

    def stop(self) -> None:
        """Close the bars, so the summary prints below them."""
        if self.bar:
            self.bar.stop()
