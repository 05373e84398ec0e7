"""The table a run prints when it ends: every configuration with its primary metric, failures listed."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table


def group_scores(rows: list[dict[str, Any]], metric: str) -> dict[tuple[str, str], list[float]]:
    groups: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in rows:
        if r["status"] == "ok":
            groups[(r["label"], r["protocol"])].append(float(r["metrics"].get(metric, float("nan"))))
    return groups


def print_summary(summary: Any, cfg: Any, console: Console | None = None) -> None:
    console = console or Console(width=160)
    metric = cfg.primary_metric
    try:
        from tcrbench.report.board import build_board, render_console
    except ImportError:
        build_board = None
    if build_board is not None:
        render_console(build_board(summary.rows, metric=metric), console)
    else:
        table = Table(title=f"{metric} (mean ± sd over folds × seeds)")
        for col in ("configuration", "protocol", metric, "n"):
            table.add_column(col)
        for (label, protocol), values in sorted(group_scores(summary.rows, metric).items(),
                                                key=lambda kv: -np.nanmean(kv[1])):
            v = np.asarray(values)
            table.add_row(label, protocol, f"{np.nanmean(v):.3f} ± {np.nanstd(v, ddof=1) if len(v) > 1 else 0:.3f}",
                          str(len(v)))
        console.print(table)
    console.print(f"run folder: {summary.path}  (config hash {summary.config_hash}; "
                  f"{summary.computed} rows computed, {summary.skipped} reused)")
    if build_board is None:
        for r in summary.failed:
            console.print(f"[red]failed[/red] {r['row_key']}: {r['reason']}")
