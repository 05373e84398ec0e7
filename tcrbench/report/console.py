"""The board in a terminal (rich): banners first, then the table, then failures grouped by configuration."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Optional

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from tcrbench.report import format as fmt
from tcrbench.report.model import Leaderboard

#: Columns of a table written to a file or a pipe (no terminal to measure) when $COLUMNS does not say otherwise.
PIPE_WIDTH = 120


def terminal_console(**options: Any) -> Console:
    """A console as wide as the terminal, or $COLUMNS; PIPE_WIDTH columns when the output is a file or a pipe (rich's
    80 would fold every table, a fixed 200 overflows a narrow terminal)."""
    console = Console(**options)
    if "width" not in options and not console.is_terminal and not os.environ.get("COLUMNS", "").strip().isdigit():
        console = Console(width=PIPE_WIDTH, **options)
    return console


#: The board's columns a narrow terminal leaves out first (leaderboard.md and .html keep them all).
DROP_ORDER = ("t", "df", "d_z", "macro AUROC", "W/T/L", "p", "folds × seeds", "flags")
#: The narrowest a text column is made while columns can still be left out (a label wraps, not every word).
TEXT_FLOOR = 20
#: One table row: its cells by header (rich markup) and its style.
Row = tuple[Mapping[str, str], Optional[str]]


def _extent(header: str, cells: Sequence[str]) -> tuple[int, int, int]:
    """A column's widths in terminal columns: its longest word (the narrowest it can be without breaking one), its
    longest cell (the width that keeps every number on one line; the header may wrap) and the width it needs to
    break nothing."""
    word = cell = 0
    for markup in cells:
        plain = Text.from_markup(markup).plain
        word = max([word, *(cell_len(w) for w in plain.split())])
        cell = max([cell, *(cell_len(x) for x in plain.splitlines())])
    head = Text.from_markup(header).plain
    word = max([word, *(cell_len(w) for w in head.split())])
    return word, max(word, cell), max(cell, cell_len(head))


def _widths(need: list[tuple[int, int, int]], low: list[int], numeric: list[bool], budget: int) -> list[int] | None:
    """Column widths within ``budget``, each at least ``low``. The room left goes first to numbers (one line
    each), then to the columns that lack least, and the longest texts share what remains, so only they wrap. None
    when ``low`` does not fit."""
    widths = list(low)
    spare = budget - sum(widths)
    if spare < 0:
        return None
    for i in (i for i in range(len(need)) if numeric[i]):
        gain = max(0, min(spare, need[i][1] - widths[i]))
        widths[i] += gain
        spare -= gain
    by_lack = sorted(range(len(need)), key=lambda i: need[i][2] - widths[i])
    for k, i in enumerate(by_lack):  # water-filling: the columns that cannot have all they want share alike
        gain = max(0, min(spare // (len(by_lack) - k), need[i][2] - widths[i]))
        widths[i] += gain
        spare -= gain
    return widths


def fit_table(
    console: Console,
    headers: Sequence[str],
    rows: Sequence[Row],
    *,
    numeric: Collection[str] = (),
    drop_order: Sequence[str] = (),
    **options: Any,
) -> tuple[Table, list[str]]:
    """A table as wide as the console at most, for any terminal width: no word is broken and numbers stay on one
    line; where the columns do not fit, those in ``drop_order`` leave one by one, then the borders go, then numbers
    may wrap. Returns the table and the headers left out (say so below it). ``options`` go to rich's Table."""
    need = {h: _extent(escape(h), [cells[h] for cells, _ in rows]) for h in headers}

    def build(shown: list[str], compact: bool, widths: list[int] | None) -> Table:
        style = {"box": box.SIMPLE_HEAD, "show_edge": False} if compact else {}
        table = Table(**{**options, **style})
        for i, h in enumerate(shown):
            width = None if widths is None else widths[i]
            table.add_column(escape(h), justify="right" if h in numeric else "left", overflow="fold", width=width)
        for cells, row_style in rows:
            table.add_row(*(cells[h] for h in shown), style=row_style)
        return table

    def attempt(shown: list[str], compact: bool, strict: bool) -> Table | None:
        """``strict``: numbers on one line and texts at least TEXT_FLOOR wide; else only every word whole."""
        chrome = Measurement.get(console, console.options.update_width(10_000), build(shown, compact, [1] * len(shown)))
        budget = console.width - (chrome.minimum - len(shown))
        if sum(need[h][2] for h in shown) <= budget:
            return build(shown, compact, None)  # everything fits as it is
        low = [need[h][0] for h in shown]
        if strict:
            low = [need[h][1] if h in numeric else min(need[h][2], max(need[h][0], TEXT_FLOOR)) for h in shown]
        widths = _widths([need[h] for h in shown], low, [h in numeric for h in shown], budget)
        return None if widths is None else build(shown, compact, widths)

    shown: list[str] = list(headers)
    hidden: list[str] = []
    for name in [*(h for h in drop_order if h in headers), None]:
        table = attempt(shown, False, True)
        if table is not None:
            return table, hidden
        if name is not None:
            shown.remove(name)
            hidden.append(name)
    for strict in (True, False):
        table = attempt(shown, True, strict)
        if table is not None:
            return table, hidden
    return build(shown, True, None), hidden  # narrower than the longest words: rich folds them


def hidden_note(hidden: Sequence[str], where: str) -> str:
    """What a narrow terminal left out of a table, and where to see it."""
    return f"(left out to fit the terminal: {', '.join(hidden)}; {where})"


def _banners(board: Leaderboard, console: Console) -> None:
    for b in board.banners:
        colour = "red" if b.kind in ("shortcut", "pretraining_loses") else "yellow"
        console.print(f"[bold {colour}]⚠ {escape(b.kind.replace('_', ' '))}:[/] {escape(b.message)}")


def _run_table(board: Leaderboard, console: Console) -> None:
    m = board.meta
    # the detectable difference is a note below the table: one more column folds the labels of a terminal table
    headers = fmt.headers(board, with_detectable=False)
    numeric = [h for h, n in zip(headers, fmt.numeric(board, with_detectable=False)) if n]
    rows: list[Row] = []
    for r in board.rows:
        cells = dict(zip(headers, (escape(c) for c in fmt.cells(r, board, with_detectable=False))))
        if r.uses_labels:
            cells["labels"] = "[magenta]uses labels[/]"
        rows.append((cells, "red" if r.status == "failed" else ("bold" if r.is_reference else None)))
    title = f"{escape(m.title)} — {escape(board.metric)}"
    table, hidden = fit_table(
        console, headers, rows, numeric=numeric, drop_order=DROP_ORDER, title=title, title_justify="left"
    )
    console.print(table)
    if hidden:
        console.print(hidden_note(hidden, "leaderboard.md has every column"))
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
    headers: list[str] = []
    for name in ("mean rank", "method", "protocol", *r.datasets):  # a column per dataset, even two of one name
        headers.append(name if name not in headers else f"{name} ({sum(h.startswith(name) for h in headers) + 1})")
    rows: list[Row] = []
    for row in r.rows:
        per = [
            f"{fmt.num(s)} ({fmt.num(k, 1)})" if s is not None and k is not None else fmt.num(s)
            for s, k in zip(row.scores, row.ranks)
        ]
        cells = [fmt.num(row.mean_rank, 2), row.label, row.protocol, *per]
        rows.append((dict(zip(headers, map(escape, cells))), None))
    title = f"ranking across {len(r.datasets)} dataset(s) by mean {escape(board.metric)}"
    numeric = [h for h in headers if h not in headers[1:3]]
    table, _ = fit_table(console, headers, rows, numeric=numeric, title=title, title_justify="left")
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
