"""The table a run prints when it ends: the same board `tcrbench report` writes, without the files."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from tcrbench.report.build import build_board
from tcrbench.report.console import render_console


def print_summary(summary: Any, cfg: Any, console: Console | None = None) -> None:
    """The run's board on the primary metric, then where the run folder is and what was computed or reused."""
    if console is None:
        from tcrbench.report.console import terminal_console

        console = terminal_console()
    render_console(build_board(summary.rows, metric=cfg.primary_metric), console)
    console.print(
        f"run folder: {summary.path}  (config hash {summary.config_hash}; "
        f"{summary.computed} rows computed, {summary.skipped} reused)"
    )
