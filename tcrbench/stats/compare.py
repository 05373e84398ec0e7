"""Everything the leaderboard needs, from one long table of scores: each method against one baseline.

Input is a long table with columns ``method``, ``fold``, ``score`` and optionally ``seed`` (one row per
finished cell). Each method's cells must match the baseline's (fold, seed) cells exactly; the tests pair
them cell by cell. The headline numbers come from the corrected resampled t-test, with Holm's correction
across the methods compared with the baseline; the naive tests ride along, flagged, for contrast.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from os import PathLike
from typing import Any

import numpy as np

from tcrbench.errors import UsageError
from tcrbench.stats import flags as F
from tcrbench.stats._pairs import paired_differences, resolve_ratio
from tcrbench.stats._result import Result
from tcrbench.stats.bayesian import BayesianResult, bayes_on
from tcrbench.stats.classic import WilcoxonResult, wilcoxon_on
from tcrbench.stats.corrected_t import CORRECTED, PAIRED, TTestResult, t_test_on
from tcrbench.stats.effect import dz_on, wins_ties_losses
from tcrbench.stats.five_by_two import FiveByTwoResult, five_by_two_cv
from tcrbench.stats.multiple import benjamini_hochberg, holm

REQUIRED_COLUMNS = ("method", "fold", "score")
SEED_COLUMN = "seed"
#: Flags that describe the whole comparison, kept off the per-method rows.
_GLOBAL_FLAGS = (F.RATIO_ASSUMED,)


@dataclass(frozen=True)
class MethodComparison(Result):
    """One leaderboard row. Statistics against the baseline are None on the baseline's own row.

    ``diff`` is mean(method - baseline) over the pairs the test used, in the metric's units, with the
    corrected ``confidence`` interval ``ci_low``..``ci_high``; ``p_holm`` is Holm-adjusted across all methods
    compared with the same baseline. Wins/ties/losses count every (seed, fold) cell after rounding.
    """

    method: str
    is_baseline: bool
    mean: float
    sd: float
    n_folds: int
    n_seeds: int
    n_scores: int
    diff: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    t: float | None = None
    df: int | None = None
    p: float | None = None
    p_holm: float | None = None
    p_bh: float | None = None
    d_z: float | None = None
    wins: int | None = None
    ties: int | None = None
    losses: int | None = None
    n_pairs: int | None = None
    n_dropped: int = 0
    flags: tuple[str, ...] = ()
    corrected: TTestResult | None = None
    paired_t: TTestResult | None = None
    wilcoxon: WilcoxonResult | None = None
    bayesian: BayesianResult | None = None
    five_by_two: FiveByTwoResult | None = None

    def to_row(self) -> dict[str, Any]:
        """A flat dict (no nested results) for CSV files and tables; flags joined by ';'."""
        nested = ("flags", "corrected", "paired_t", "wilcoxon", "bayesian", "five_by_two")
        row = {k: v for k, v in self.to_dict().items() if k not in nested}
        row["flags"] = ";".join(self.flags)
        row["paired_t_p"] = self.paired_t.p if self.paired_t else None
        row["wilcoxon_p"] = self.wilcoxon.p if self.wilcoxon else None
        row["p_better"] = self.bayesian.p_better if self.bayesian else None
        row["p_equivalent"] = self.bayesian.p_equivalent if self.bayesian else None
        row["p_worse"] = self.bayesian.p_worse if self.bayesian else None
        return row


@dataclass(frozen=True)
class Comparison(Result):
    """All methods against ``baseline``, and the settings that produced the numbers."""

    baseline: str
    rows: tuple[MethodComparison, ...]
    test: str
    pairing: str
    seeds_redraw_folds: bool
    test_train_ratio: float
    ratio_assumed: bool
    confidence: float
    rope: float
    resolution: float | None
    higher_is_better: bool
    n_nan_dropped: int

    def row(self, method: str) -> MethodComparison:
        for r in self.rows:
            if r.method == method:
                return r
        raise KeyError(method)

    def to_rows(self) -> list[dict[str, Any]]:
        return [r.to_row() for r in self.rows]


# ---------------------------------------------------------------------------------------------- input table
class _Where:
    """Names a row the way the user will find it: a file line, or a 1-based row of a table."""

    def __init__(self, source: str, lines: Sequence[int] | None) -> None:
        self.source, self.lines = source, lines

    def __call__(self, index: int) -> str:
        if self.lines is None:
            return f"{self.source}, row {index + 1}"
        return f"{self.source}, line {self.lines[index]}"


def _as_columns(scores: Any, source: str) -> dict[str, list[Any]]:
    if isinstance(scores, (str, bytes, PathLike)):
        raise UsageError(f"{source}: pass the table itself, not a file name (for files: tcrbench stats compare)")
    if isinstance(scores, Mapping):
        cols = {str(k): list(v) for k, v in scores.items()}
    elif hasattr(scores, "columns") and hasattr(scores, "__getitem__"):  # a polars or pandas DataFrame
        cols = {str(c): list(scores[c]) for c in scores.columns}
    elif isinstance(scores, Iterable):
        rows = list(scores)
        names: dict[str, None] = {}
        for i, row in enumerate(rows):
            if not isinstance(row, Mapping):
                raise UsageError(
                    f"{source}, row {i + 1}: expected a mapping of column to value, got {type(row).__name__}"
                )
            names.update(dict.fromkeys(map(str, row)))
        cols = {n: [row.get(n) for row in rows] for n in names}
    else:
        kind = type(scores).__name__
        raise UsageError(f"{source}: expected a table (mapping of columns, rows, or a DataFrame), got {kind}")
    lengths = {len(v) for v in cols.values()}
    if len(lengths) > 1:
        raise UsageError(f"{source}: columns have different lengths {sorted(lengths)}")
    return {k.strip().lower(): v for k, v in cols.items()}


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _label(value: Any) -> str:
    """Fold and seed labels compare as text, so 1 and "1" (CSV vs DataFrame) are the same fold."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _natural(label: str) -> tuple[int, Any]:
    try:
        return (0, int(label))
    except ValueError:
        return (1, label)


def _score(value: Any, where: str) -> float:
    if _blank(value):
        return math.nan
    if isinstance(value, bool):
        raise UsageError(f"{where}: column 'score' is a boolean, not a number")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{where}: column 'score' is {value!r}, not a number") from None
    if math.isinf(x):
        raise UsageError(f"{where}: column 'score' is infinite")
    return x


@dataclass
class _Grid:
    methods: list[str]
    folds: list[str]
    seeds: list[str]
    scores: dict[str, np.ndarray]  # method -> (seeds, folds), NaN where a score was missing
    nan_rows: list[int]


def _read_grid(scores: Any, baseline: str, *, drop_nan: bool, where: _Where) -> _Grid:
    cols = _as_columns(scores, where.source)
    missing = [c for c in REQUIRED_COLUMNS if c not in cols]
    if missing:
        present = ", ".join(cols) or "none"
        raise UsageError(f"{where.source}: missing column {missing[0]!r} (columns present: {present})")
    n_rows = len(cols["method"])
    if n_rows == 0:
        raise UsageError(f"{where.source}: the table has no rows")
    seeds_col = cols.get(SEED_COLUMN)
    cells: dict[str, dict[tuple[str, str], tuple[float, int]]] = {}
    nan_rows: list[int] = []
    for i in range(n_rows):
        method, fold = cols["method"][i], cols["fold"][i]
        for name, value in (("method", method), ("fold", fold)):
            if _blank(value):
                raise UsageError(f"{where(i)}: column {name!r} is empty")
        seed = "0"
        if seeds_col is not None:
            if _blank(seeds_col[i]):
                raise UsageError(f"{where(i)}: column 'seed' is empty")
            seed = _label(seeds_col[i])
        score = _score(cols["score"][i], where(i))
        if math.isnan(score):
            if not drop_nan:
                raise UsageError(
                    f"{where(i)}: column 'score' is missing or NaN (method {method}, fold {_label(fold)}); "
                    "drop such pairs explicitly with drop_nan / --drop-nan"
                )
            nan_rows.append(i)
        key = (seed, _label(fold))
        per_method = cells.setdefault(str(method).strip(), {})
        if key in per_method:
            first = per_method[key][1]
            raise UsageError(
                f"{where(i)}: duplicate score for method {method}, fold {key[1]}, seed {key[0]} "
                f"(first at {where(first).split(', ', 1)[1]})"
            )
        per_method[key] = (score, i)

    methods = list(cells)
    if baseline not in cells:
        close = difflib.get_close_matches(baseline, methods, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f" (methods: {', '.join(methods)})"
        raise UsageError(f"{where.source}: unknown baseline {baseline!r}{hint}")
    base = cells[baseline]
    folds = sorted({f for _, f in base}, key=_natural)
    seeds = sorted({s for s, _ in base}, key=_natural)
    for s in seeds:
        for f in folds:
            if (s, f) not in base:
                raise UsageError(
                    f"{where.source}: baseline {baseline!r} has no score for fold {f}, seed {s}; "
                    "every fold needs a score for every seed"
                )
    grid: dict[str, np.ndarray] = {}
    for m in methods:
        extra = [k for k in cells[m] if k not in base]
        if extra:
            s, f = extra[0]
            raise UsageError(
                f"{where(cells[m][extra[0]][1])}: method {m!r} has fold {f}, seed {s}, "
                f"which baseline {baseline!r} lacks; folds must match between methods"
            )
        absent = [(s, f) for s in seeds for f in folds if (s, f) not in cells[m]]
        if absent:
            s, f = absent[0]
            more = f" (and {len(absent) - 1} more)" if len(absent) > 1 else ""
            raise UsageError(
                f"{where.source}: method {m!r} has no score for fold {f}, seed {s}{more}, "
                f"which baseline {baseline!r} has; folds must match between methods"
            )
        grid[m] = np.array([[cells[m][(s, f)][0] for f in folds] for s in seeds], dtype=float)
    return _Grid(methods=methods, folds=folds, seeds=seeds, scores=grid, nan_rows=nan_rows)


# ----------------------------------------------------------------------------------------------- statistics
def _against(
    name: str,
    x: np.ndarray,
    base: np.ndarray,
    *,
    ratio: float,
    ratio_flags: tuple[str, ...],
    seeds_redraw_folds: bool,
    confidence: float,
    rope: float,
    resolution: float | None,
    higher_is_better: bool,
    source: str,
) -> MethodComparison:
    try:
        diffs = paired_differences(x, base, seeds_redraw_folds=seeds_redraw_folds, drop_nan=True)
    except UsageError as exc:
        raise UsageError(f"{source}: method {name!r} against the baseline: {exc}") from None
    corrected = t_test_on(diffs, ratio, test=CORRECTED, confidence=confidence, extra_flags=ratio_flags)
    paired = t_test_on(diffs, 0.0, test=PAIRED, confidence=confidence, extra_flags=(F.INVALID_FOR_CV,))
    wil = wilcoxon_on(diffs.d, diffs.tol, on_cv_folds=True, n_dropped=diffs.n_dropped)
    bayes = bayes_on(diffs, ratio, rope=rope, higher_is_better=higher_is_better, extra_flags=ratio_flags)
    wtl = wins_ties_losses(x, base, resolution=resolution, higher_is_better=higher_is_better, drop_nan=True)
    five = None
    if seeds_redraw_folds and x.shape == (5, 2) and not diffs.n_dropped:
        five = five_by_two_cv(x, base)
    kept = x[~np.isnan(x)]
    return MethodComparison(
        method=name,
        is_baseline=False,
        mean=float(kept.mean()),
        sd=float(kept.std(ddof=1)) if kept.size > 1 else math.nan,
        n_folds=x.shape[1],
        n_seeds=x.shape[0],
        n_scores=int(kept.size),
        diff=corrected.mean_diff,
        ci_low=corrected.ci_low,
        ci_high=corrected.ci_high,
        t=corrected.t,
        df=corrected.df,
        p=corrected.p,
        d_z=dz_on(diffs.d, diffs.tol),
        wins=wtl.wins,
        ties=wtl.ties,
        losses=wtl.losses,
        n_pairs=corrected.n,
        n_dropped=diffs.n_dropped,
        flags=tuple(f for f in corrected.flags if f not in _GLOBAL_FLAGS),
        corrected=corrected,
        paired_t=paired,
        wilcoxon=wil,
        bayesian=bayes,
        five_by_two=five,
    )


def compare(
    scores: Any,
    baseline: str,
    *,
    test_train_ratio: float | None = None,
    n_train: float | None = None,
    n_test: float | None = None,
    seeds_redraw_folds: bool = False,
    drop_nan: bool = False,
    confidence: float = 0.95,
    rope: float = 0.0,
    resolution: float | None = None,
    higher_is_better: bool = True,
    source: str = "scores",
    lines: Sequence[int] | None = None,
) -> Comparison:
    """Compare every method in a long score table with ``baseline``.

    ``scores``: a mapping of column name to values, an iterable of row mappings, or a polars/pandas
    DataFrame, with columns method, fold, score and optionally seed (names are case-insensitive).
    ``seeds_redraw_folds``: whether each seed drew new folds (True) or only re-initialised the model on the
    same folds (False, the default: per-fold means over seeds are paired). Give the test/train size ratio
    (``test_train_ratio`` = n_test/n_train, or ``n_train`` and ``n_test``); without it k-fold's 1/(k-1)
    is assumed and ``ratio_assumed`` is set. A NaN or empty score is an error unless ``drop_nan``, which
    drops its pair (per method; a NaN baseline cell drops that pair for every method) and reports the count.
    ``source`` and ``lines`` (each row's line in the file) only shape error messages ("scores.csv, line 7").
    """
    where = _Where(source, lines)
    grid = _read_grid(scores, baseline, drop_nan=drop_nan, where=where)
    others = [m for m in grid.methods if m != baseline]
    if not others:
        raise UsageError(f"{source}: only the baseline {baseline!r} is present; nothing to compare it with")
    ratio, assumed = resolve_ratio(test_train_ratio, n_train, n_test, len(grid.folds))
    ratio_flags = (F.RATIO_ASSUMED,) if assumed else ()
    base = grid.scores[baseline]
    rows = [
        _against(
            m,
            grid.scores[m],
            base,
            ratio=ratio,
            ratio_flags=ratio_flags,
            seeds_redraw_folds=seeds_redraw_folds,
            confidence=confidence,
            rope=rope,
            resolution=resolution,
            higher_is_better=higher_is_better,
            source=source,
        )
        for m in others
    ]
    p = [r.p for r in rows]
    p_holm, p_bh = holm(p), benjamini_hochberg(p)
    rows = [replace(r, p_holm=float(h), p_bh=float(b)) for r, h, b in zip(rows, p_holm, p_bh, strict=True)]
    kept = base[~np.isnan(base)]
    base_row = MethodComparison(
        method=baseline,
        is_baseline=True,
        mean=float(kept.mean()),
        sd=float(kept.std(ddof=1)) if kept.size > 1 else math.nan,
        n_folds=base.shape[1],
        n_seeds=base.shape[0],
        n_scores=int(kept.size),
    )
    if len(grid.seeds) == 1:
        pairing = "one seed: each fold is a pair (n = k)"
    elif seeds_redraw_folds:
        pairing = "seeds redraw the folds: each (seed, fold) cell is a pair (n = r*k)"
    else:
        pairing = "seeds re-initialise on fixed folds: differences averaged over seeds per fold (n = k)"
    return Comparison(
        baseline=baseline,
        rows=(base_row, *rows),
        test=CORRECTED,
        pairing=pairing,
        seeds_redraw_folds=seeds_redraw_folds,
        test_train_ratio=ratio,
        ratio_assumed=assumed,
        confidence=confidence,
        rope=rope,
        resolution=resolution,
        higher_is_better=higher_is_better,
        n_nan_dropped=len(grid.nan_rows),
    )


def leaderboard_rows(scores: Any, baseline: str, **options: Any) -> list[MethodComparison]:
    """The rows of :func:`compare` (baseline first): what a leaderboard renders."""
    return list(compare(scores, baseline, **options).rows)
