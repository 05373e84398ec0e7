"""Progress bars for a run: the grid's rows done, an ETA, and the current cell's training steps; nothing when quiet.

A separate module so the cell code can report steps without knowing about the grid, and so rich is imported
only when a bar is actually shown. The bars go to stderr, so `tcrbench run --json` keeps stdout for its summary.

The ETA comes from the durations of finished cells of each kind, never from the rate of rows: a grid mixes
baseline cells of milliseconds with neural cells of minutes, and runs the long ones first, so a rate of rows says
"2 seconds left" after two cells of 255 (issue 18). A kind nobody has finished yet borrows the mean of finished
kinds of the same cost rank (then of the cheapest dearer one), and the estimate says `~` while it does.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

StepCallback = Callable[[int, int, float, float], None]


def estimate_left(
    remaining: Mapping[str, int], seconds: Mapping[str, list[float]], cost: Mapping[str, int], slots: int = 1
) -> tuple[float, bool] | None:
    """Seconds the `remaining` cells of each kind should take on `slots` parallel workers, and whether a kind
    without a finished cell was guessed from others; None before any cell has finished."""
    means = {kind: statistics.fmean(values) for kind, values in seconds.items() if values}
    if not means:
        return None if any(remaining.values()) else (0.0, False)
    total, guessed = 0.0, False
    for kind, n in remaining.items():
        if n <= 0:
            continue
        if kind in means:
            total += n * means[kind]
            continue
        guessed = True
        rank = cost.get(kind, 0)
        same = [m for k, m in means.items() if cost.get(k, 0) == rank]
        dearer = [m for k, m in means.items() if cost.get(k, 0) > rank]
        total += n * (statistics.fmean(same) if same else min(dearer) if dearer else max(means.values()))
    return total / max(slots, 1), guessed


def format_eta(estimate: tuple[float, bool] | None) -> str:
    """`ETA 1:02:03`, `ETA ~0:04:10` (guessed in part), or `ETA -:--:--` before the first cell has finished."""
    if estimate is None:
        return "ETA -:--:--"
    seconds, guessed = estimate
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    return f"ETA {'~' if guessed else ''}{hours}:{rest // 60:02d}:{rest % 60:02d}"


class Progress:
    """Grid and current-cell progress; a no-op when quiet."""

    def __init__(self, quiet: bool, total: int) -> None:
        self.bar: Any = None
        self.remaining: Counter[str] = Counter()
        self.seconds: dict[str, list[float]] = {}
        self.cost: dict[str, int] = {}
        self.slots: Callable[[], int] = lambda: 1
        if not quiet:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress

            self.bar = RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[eta]}"),
                console=Console(stderr=True),
                transient=False,
            )
            self.bar.start()
            self.grid = self.bar.add_task("grid", total=total, eta="")
            self.cell = self.bar.add_task("", total=1, visible=False, eta="")

    def plan(self, kinds: list[str], cost: Mapping[str, int], slots: Callable[[], int]) -> None:
        """The kinds of the cells still to compute (one entry per cell), each kind's cost rank, and how many cells
        run at a time (asked when the estimate is made: a joined cluster knows only once connected)."""
        self.remaining = Counter(kinds)
        self.cost = dict(cost)
        self.slots = slots
        self._show_eta()

    def cell_done(self, kind: str, seconds: float | None) -> None:
        """A cell of `kind` finished; its duration (None for a failed cell, whose time says nothing) feeds the ETA."""
        self.remaining[kind] -= 1
        if seconds is not None:
            self.seconds.setdefault(kind, []).append(seconds)
        self._show_eta()

    def eta(self) -> str:
        return format_eta(estimate_left(self.remaining, self.seconds, self.cost, self.slots()))

    def _show_eta(self) -> None:
        if self.bar:
            self.bar.update(self.grid, eta=self.eta())

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
