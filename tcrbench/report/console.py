"""The board in a terminal (rich): banners first, then the table, then failures grouped by configuration."""

from __future__ import annotations

from collections import defaultdict

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tcrbench.report import format as fmt
from tcrbench.report.model import Leaderboard


def _banners(board: Leaderboard, console: Console) -> None:
    for b in board.banners:
        colour = "red" if b.kind in ("shortcut", "pretraining_loses") else "yellow"
        console.print(f"[bold {colour}]⚠ {escape(b.kind.replace('_', ' '))}:[/] {escape(b.message)}")


def _run_table(board: Leaderboard, console: Console) -> None:
    m = board.meta
    table = Table(title=f"{escape(m.title)} — {escape(board.metric)}", title_justify="left")
    # the detectable difference is a note below the table: one more column folds the labels of a terminal table
    for header, numeric in zip(fmt.headers(board, with_detectable=False), fmt.numeric(board, with_detectable=False)):
        table.add_column(escape(header), justify="right" if numeric else "left", overflow="fold")
    for r in board.rows:
        cells = [escape(c) for c in fmt.cells(r, board, with_detectable=False)]
        style = "red" if r.status == "failed" else ("bold" if r.is_reference else None)
        if r.uses_labels:
            cells[3] = "[magenta]uses labels[/]"
        table.add_row(*cells, style=style)
    console.print(table)
    ratio = "assumed 1/(k-1)" if m.ratio_assumed else fmt.num(m.test_train_ratio)
    console.print(
        f"corrected t-test, n_test/n_train = {ratio}; {escape(m.pairing or 'no comparison')}; "
        f"Holm across {len(board.compared())} comparisons; diffs against the supervised arm of the same "
        + ("protocol and label fraction" if len(m.label_fractions) > 1 else "protocol")
        + " (baselines: fine-tune)."
    )
    missed = [(r, fmt.detectable(r)) for r in board.rows if fmt.detectable(r) is not None]
    if missed:
        listed = "; ".join(f"{escape(r.key)} ≥ {fmt.num(d)}" for r, d in missed)
        console.print(f"not shown to differ, but could have detected (80% power): {listed}.")


def _failures(board: Leaderboard, console: Console) -> None:
    grouped: dict[str, list[str]] = defaultdict(list)
    reasons: dict[str, list[str]] = defaultdict(list)
    for f in board.failures:
        grouped[f.key].append(f"fold {f.fold} seed {f.seed}")
        reasons[f.key].append(f.reason or "(no reason recorded)")
    for key, where in grouped.items():
        first = reasons[key][0]
        others = len(set(reasons[key])) - 1
        more = f" (and {others} other reason(s); see leaderboard.md)" if others else ""
        console.print(
            f"[red]failed[/red] {escape(key)}: {len(where)} cell(s) ({escape(', '.join(where[:6]))}"
            f"{' …' if len(where) > 6 else ''}): {escape(first)}{more}"
        )


def _ranking(board: Leaderboard, console: Console) -> None:
    r = board.ranking
    assert r is not None
    table = Table(
        title=f"ranking across {len(r.datasets)} dataset(s) by mean {escape(board.metric)}", title_justify="left"
    )
    for col in ("mean rank", "method", "protocol", *r.datasets):
        table.add_column(escape(col), justify="right" if col not in ("method", "protocol") else "left")
    for row in r.rows:
        per = [
            f"{fmt.num(s)} ({fmt.num(k, 1)})" if s is not None and k is not None else fmt.num(s)
            for s, k in zip(row.scores, row.ranks)
        ]
        table.add_row(fmt.num(row.mean_rank, 2), escape(row.label), escape(row.protocol), *map(escape, per))
    console.print(table)
    if r.friedman is not None:
        console.print(
            f"Friedman chi² = {fmt.num(r.friedman.statistic, 2)}, p = {fmt.pval(r.friedman.p)}; "
            f"Nemenyi CD = {fmt.num(r.cd, 2)} (alpha = {r.alpha:g})"
        )


def render_console(board: Leaderboard, console: Console) -> None:
    """Print the board to a terminal: banners first, then the table (or the ranking and each dataset's), failures."""
    _banners(board, console)
    if board.kind == "merged" and board.ranking is not None:
        _ranking(board, console)
        for sub in board.datasets:
            _run_table(sub, console)
    else:
        _run_table(board, console)
    _failures(board, console)
