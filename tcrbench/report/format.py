"""Numbers and columns as every renderer shows them, so Markdown, HTML and the console never disagree."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, TypeVar

from tcrbench.report.model import fraction_text

if TYPE_CHECKING:
    from tcrbench.report.model import BoardRow, Leaderboard

MISSING = "–"


def _finite(x: float | None) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x))


def num(x: float | int | None, digits: int = 3, *, signed: bool = False) -> str:
    """A score or statistic; missing/NaN as an en dash, infinities spelled out (a zero-variance t)."""
    if not _finite(x):
        return MISSING
    assert x is not None
    if isinstance(x, int) and not isinstance(x, bool):
        return f"{x:+d}" if signed else str(x)
    x = float(x)
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if abs(x) < 0.5 * 10**-digits:  # rounding residue of a zero difference must not print as -0.000
        x = 0.0
    return f"{x:+.{digits}f}" if signed else f"{x:.{digits}f}"


def pval(p: float | None) -> str:
    """p-values: three decimals, or two significant digits below 0.001 (never a bare 0)."""
    if not _finite(p):
        return MISSING
    assert p is not None
    return f"{p:.2g}" if p < 0.001 else f"{p:.3f}"


def mean_sd(mean: float | None, sd: float | None) -> str:
    """ "mean ± sd", or the mean alone where one score gives no sd."""
    if not _finite(mean):
        return MISSING
    return f"{num(mean)} ± {num(sd)}" if _finite(sd) else num(mean)


def ci(row: BoardRow) -> str:
    """The difference from the reference with its corrected interval, signed so a loss reads as one."""
    if not _finite(row.diff):
        return MISSING
    return f"{num(row.diff, signed=True)} [{num(row.ci_low, signed=True)}, {num(row.ci_high, signed=True)}]"


def wtl(row: BoardRow) -> str:
    """Wins/ties/losses against the reference."""
    if row.wins is None:
        return MISSING
    return f"{row.wins}/{row.ties}/{row.losses}"


def folds_seeds(row: BoardRow) -> str:
    """The row's cells as folds × seeds, with how many failed."""
    text = f"{row.n_folds} × {row.n_seeds}"
    if row.n_failed:
        text += f" ({row.n_failed} failed)"
    return text


def configuration(row: BoardRow) -> str:
    """The label with its role: the supervised reference of its protocol is the row every diff is taken from."""
    return f"{row.label} (reference)" if row.is_reference else row.label


#: Which columns of :data:`HEADERS` hold numbers (right-aligned everywhere).
NUMERIC = (True, False, False, False, True, True, True, True, True, True, True, True, True, True, False)
HEADERS = (
    "#",
    "configuration",
    "protocol",
    "labels",
    "{metric} mean ± sd",
    "macro AUROC",
    "diff [{pct}% CI]",
    "t",
    "df",
    "p",
    "Holm p",
    "d_z",
    "W/T/L",
    "folds × seeds",
    "flags",
)


#: Optional columns, shown only on boards that need them (so a board of one label fraction reads as before).
FRACTION_HEADER = "label fraction"
DETECTABLE_HEADER = "detectable (80% power)"
DETECTABLE_HELP = (
    "for a comparison not shown to differ (Holm p ≥ 0.05 or an interval containing 0), the smallest difference "
    "it could have detected with 80% power: a smaller true difference may have been missed"
)
_T = TypeVar("_T")


def optional_columns(board: Leaderboard | None) -> tuple[bool, bool]:
    """(label fraction, detectable difference): whether the board shows each optional column."""
    if board is None:
        return False, False
    return (
        any(r.label_fraction < 1.0 for r in board.rows),
        any(detectable(r) is not None for r in board.rows),
    )


def _with_optional(
    items: list[_T], fraction: _T, detect: _T, board: Leaderboard | None, with_detectable: bool
) -> list[_T]:
    """``items`` in :data:`HEADERS` order with the optional columns the board shows: the label fraction after
    "labels", the detectable difference after "Holm p" (indices 1, 3 and -1 keep their meaning)."""
    show_fraction, show_detectable = optional_columns(board)
    out = list(items)
    if show_detectable and with_detectable:
        out.insert(HEADERS.index("Holm p") + 1, detect)
    if show_fraction:
        out.insert(HEADERS.index("labels") + 1, fraction)
    return out


def detectable(row: BoardRow) -> float | None:
    """The detectable difference where it is worth printing: a comparison that did not show a difference."""
    if row.comparison is None or row.significant:
        return None
    return row.detectable


def fraction_cell(row: BoardRow) -> str:
    """The share of labels and the labelled rows it meant: "10% · 480 rows"."""
    text = fraction_text(row.label_fraction)
    return text + (f" · {num(row.n_labelled, 0)} rows" if row.n_labelled is not None else "")


def headers(board: Leaderboard, *, with_detectable: bool = True) -> list[str]:
    """:data:`HEADERS` with the board's metric and confidence filled in, and the optional columns it shows
    (``with_detectable`` False: not the detectable difference, which a narrow terminal prints as a note)."""
    pct = f"{board.meta.confidence * 100:g}"
    metric = "AUROC (pooled)" if board.metric == "auroc" else board.metric
    base = [h.format(metric=metric, pct=pct) for h in HEADERS]
    return _with_optional(base, FRACTION_HEADER, DETECTABLE_HEADER, board, with_detectable)


def numeric(board: Leaderboard, *, with_detectable: bool = True) -> tuple[bool, ...]:
    """Which of :func:`headers` hold numbers (right-aligned everywhere)."""
    return tuple(_with_optional(list(NUMERIC), True, True, board, with_detectable))


def cells(row: BoardRow, board: Leaderboard | None = None, *, with_detectable: bool = True) -> list[str]:
    """One table row as text, in the order of :func:`headers` (of ``board``; :data:`HEADERS` without one)."""
    if row.status == "failed":
        score = "failed"
    else:
        score = mean_sd(row.mean, row.sd)
    value = detectable(row)
    base = [
        str(row.rank) if row.rank is not None else MISSING,
        configuration(row),
        row.protocol,
        "uses labels" if row.uses_labels else "",
        score,
        num(row.macro_mean),
        ci(row),
        num(row.t, 2),
        str(row.df) if row.df is not None else MISSING,
        pval(row.p),
        pval(row.p_holm),
        num(row.d_z, 2),
        wtl(row),
        folds_seeds(row),
        ", ".join(row.flags),
    ]
    shown = num(value) if value is not None else ""
    return _with_optional(base, fraction_cell(row), shown, board, with_detectable)


FLAG_HELP = {
    "few_folds": "so few pairs that no rank test could reach p < 0.05; read the CI, not the p",
    "zero_variance": "every difference is the same non-zero number: t is infinite, p is the exact sign-flip p",
    "identical": "every difference is zero: p = 1",
    "nan_dropped": "pairs with a missing score (failed or undefined cell) were left out of the test",
    "ratio_assumed": "n_test/n_train was not in the rows; the k-fold value 1/(k-1) was assumed",
    "failed_cells": "some cells of this configuration failed; they are listed below and excluded",
    "all_failed": "every cell of this configuration failed",
    "not_compared": "no test: fewer than two (fold, seed) pairs with the reference (see the note)",
    "no_reference": "its reference (the supervised arm) has no finished cell",
    "mixed_redraw": "rows disagree on whether seeds redraw the folds; pairs were averaged per fold (n = k)",
}


FRAMINGS = {
    "pan": "one model for every peptide, the peptide an input",
    "per_peptide": "an output head per peptide on a shared encoder; the probe fits a logistic regression per peptide",
}
