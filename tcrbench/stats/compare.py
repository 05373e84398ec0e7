"""Everything the leaderboard needs, from one long table of scores: each method against one baseline.

Input is a long table with columns ``method``, ``fold``, ``score`` and optionally ``seed`` (one row per
finished cell; tcrbench.stats._table reads and checks it). The headline numbers come from the corrected
resampled t-test, with Holm's correction across the methods compared with the baseline; the naive tests ride
along, flagged, for contrast.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from tcrbench.errors import UsageError
from tcrbench.stats import flags as F
from tcrbench.stats._pairing import resolve_pairing
from tcrbench.stats._pairs import paired_differences, resolve_ratio
from tcrbench.stats._result import Result
from tcrbench.stats._table import REQUIRED_COLUMNS, SEED_COLUMN, SPLIT_SEED_COLUMN, Where, read_grid
from tcrbench.stats.bayesian import BayesianResult, bayes_on
from tcrbench.stats.classic import WilcoxonResult, wilcoxon_on
from tcrbench.stats.corrected_t import CORRECTED, PAIRED, TTestResult, t_test_on
from tcrbench.stats.effect import dz_on, wins_ties_losses
from tcrbench.stats.five_by_two import FiveByTwoResult, five_by_two_cv
from tcrbench.stats.multiple import benjamini_hochberg, holm
from tcrbench.stats.power import detectable_difference
from tcrbench.stats.sign_flip import SignFlipResult, sign_flip_on

__all__ = [
    "DETECTABLE_POWER",
    "REQUIRED_COLUMNS",
    "SEED_COLUMN",
    "SPLIT_SEED_COLUMN",
    "Comparison",
    "MethodComparison",
    "compare",
    "leaderboard_rows",
]

#: The power at which ``MethodComparison.detectable`` is computed.
DETECTABLE_POWER = 0.8

#: Flags that describe the whole comparison, kept off the per-method rows.
_GLOBAL_FLAGS = (F.RATIO_ASSUMED,)


@dataclass(frozen=True)
class MethodComparison(Result):
    """One leaderboard row. Statistics against the baseline are None on the baseline's own row.

    ``diff`` is mean(method - baseline) over the pairs the test used, in the metric's units, with the
    corrected ``confidence`` interval ``ci_low``..``ci_high``; ``p_holm`` is Holm-adjusted across all methods
    compared with the same baseline. Wins/ties/losses count every (seed, fold) cell after rounding.
    ``detectable`` is the smallest true difference this comparison (its n, ratio and observed sd of the
    differences) would detect with 80% power at alpha = 1 - confidence: a non-significant row rules out
    little below it. NaN where the differences do not vary (the t-test was not used).
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
    detectable: float | None = None
    sign_flip: SignFlipResult | None = None

    def to_row(self) -> dict[str, Any]:
        """A flat dict (no nested results) for CSV files and tables; flags joined by ';'."""
        nested = ("flags", "corrected", "paired_t", "wilcoxon", "bayesian", "five_by_two", "sign_flip")
        row = {k: v for k, v in self.to_dict().items() if k not in nested}
        row["flags"] = ";".join(self.flags)
        row["paired_t_p"] = self.paired_t.p if self.paired_t else None
        row["wilcoxon_p"] = self.wilcoxon.p if self.wilcoxon else None
        row["sign_flip_p"] = self.sign_flip.p if self.sign_flip else None
        row["five_by_two_t_p"] = self.five_by_two.t_p if self.five_by_two else None
        row["five_by_two_f_p"] = self.five_by_two.f_p if self.five_by_two else None
        row["p_better"] = self.bayesian.p_better if self.bayesian else None
        row["p_equivalent"] = self.bayesian.p_equivalent if self.bayesian else None
        row["p_worse"] = self.bayesian.p_worse if self.bayesian else None
        return row


@dataclass(frozen=True)
class Comparison(Result):
    """All methods against ``baseline``, and the settings that produced the numbers.

    ``pairing_from`` says what decided the pairing: "split_seed column", "given" or "one seed".
    """

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
    pairing_from: str = ""

    def row(self, method: str) -> MethodComparison:
        """The row of ``method``; KeyError when it is not in the table."""
        for r in self.rows:
            if r.method == method:
                return r
        raise KeyError(method)

    def to_rows(self) -> list[dict[str, Any]]:
        """Every row flat (:meth:`MethodComparison.to_row`), for CSV files."""
        return [r.to_row() for r in self.rows]


def _against(
    name: str,
    x: np.ndarray,
    base: np.ndarray,
    *,
    ratio: float,
    ratio_flags: tuple[str, ...],
    partitions: tuple[int, ...],
    confidence: float,
    rope: float,
    resolution: float | None,
    higher_is_better: bool,
    source: str,
) -> MethodComparison:
    try:
        diffs = paired_differences(x, base, partitions=partitions, drop_nan=True)
    except UsageError as exc:
        raise UsageError(f"{source}: method {name!r} against the baseline: {exc}") from None
    corrected = t_test_on(diffs, ratio, test=CORRECTED, confidence=confidence, extra_flags=ratio_flags)
    paired = t_test_on(diffs, 0.0, test=PAIRED, confidence=confidence, extra_flags=(F.INVALID_FOR_CV,))
    wil = wilcoxon_on(diffs.d, diffs.tol, on_cv_folds=True, n_dropped=diffs.n_dropped)
    bayes = bayes_on(diffs, ratio, rope=rope, higher_is_better=higher_is_better, extra_flags=ratio_flags)
    wtl = wins_ties_losses(x, base, resolution=resolution, higher_is_better=higher_is_better, drop_nan=True)
    five = None
    if diffs.n_partitions == 5 and x.shape == (5, 2) and not diffs.n_dropped:  # 5 draws of 2-fold CV
        five = five_by_two_cv(x, base)
    detectable = math.nan
    if corrected.sd_diff > 0:
        detectable = detectable_difference(
            corrected.sd_diff, corrected.n, ratio, power=DETECTABLE_POWER, alpha=1.0 - confidence
        )
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
        detectable=detectable,
        sign_flip=sign_flip_on(diffs),
    )


def compare(
    scores: Any,
    baseline: str,
    *,
    test_train_ratio: float | None = None,
    n_train: float | None = None,
    n_test: float | None = None,
    seeds_redraw_folds: bool | None = None,
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
    Pairing: with a ``split_seed`` column (the seed that drew each row's folds) the data decide: seeds sharing
    a split are averaged per fold, each (split, fold) is a pair. Otherwise ``seeds_redraw_folds`` says whether
    each seed drew new folds (True: every cell a pair) or only re-initialised the model on the same folds
    (False: per-fold means over seeds); left None with several seeds it is an error. Give the test/train size ratio
    (``test_train_ratio`` = n_test/n_train, or ``n_train`` and ``n_test``); without it k-fold's 1/(k-1)
    is assumed and ``ratio_assumed`` is set. A NaN or empty score is an error unless ``drop_nan``, which
    drops its pair (per method; a NaN baseline cell drops that pair for every method) and reports the count.
    ``source`` and ``lines`` (each row's line in the file) only shape error messages ("scores.csv, line 7").
    """
    where = Where(source, lines)
    grid = read_grid(scores, baseline, drop_nan=drop_nan, where=where)
    others = [m for m in grid.methods if m != baseline]
    if not others:
        raise UsageError(f"{source}: only the baseline {baseline!r} is present; nothing to compare it with")
    pairing = resolve_pairing(grid.seeds, grid.split_seeds, seeds_redraw_folds, source)
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
            partitions=pairing.partitions,
            confidence=confidence,
            rope=rope,
            resolution=resolution,
            higher_is_better=higher_is_better,
            source=source,
        )
        for m in others
    ]
    p = [r.p if r.p is not None else math.nan for r in rows]  # every tested row has a p
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
    return Comparison(
        baseline=baseline,
        rows=(base_row, *rows),
        test=CORRECTED,
        pairing=pairing.description,
        seeds_redraw_folds=pairing.seeds_redraw_folds,
        test_train_ratio=ratio,
        ratio_assumed=assumed,
        confidence=confidence,
        rope=rope,
        resolution=resolution,
        higher_is_better=higher_is_better,
        n_nan_dropped=len(grid.nan_rows),
        pairing_from=pairing.decided_by,
    )


def leaderboard_rows(scores: Any, baseline: str, **options: Any) -> list[MethodComparison]:
    """The rows of :func:`compare` (baseline first): what a leaderboard renders."""
    return list(compare(scores, baseline, **options).rows)
