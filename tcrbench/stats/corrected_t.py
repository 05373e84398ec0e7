"""The default comparison: the corrected resampled t-test (Nadeau & Bengio 2003; Bouckaert & Frank 2004).

Cross-validation folds share most of their training data, so fold scores are positively correlated and the
plain variance of their differences is too small. The correction inflates it by the test/train ratio:

    t = mean(d) / sqrt((1/n + n_test/n_train) * var(d)),   df = n - 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as sps

from tcrbench.stats import flags as F
from tcrbench.stats._pairs import (
    Differences,
    check_alternative,
    check_confidence,
    min_rank_p,
    paired_differences,
    resolve_ratio,
    sign_flip_p,
)
from tcrbench.stats._result import Result

CORRECTED = "corrected resampled t"
PAIRED = "paired t"


@dataclass(frozen=True)
class TTestResult(Result):
    """A paired t-test on score differences (method minus baseline), plain or corrected.

    ``ci_low``/``ci_high`` is always the two-sided ``confidence`` interval of the mean difference, whatever
    ``alternative`` the p-value uses. ``test_train_ratio`` is 0 for the plain test.
    """

    test: str
    mean_diff: float
    sd_diff: float
    se: float
    t: float
    df: int
    p: float
    ci_low: float
    ci_high: float
    confidence: float
    alternative: str
    n: int
    n_folds: int
    n_seeds: int
    seeds_redraw_folds: bool
    test_train_ratio: float
    n_dropped: int
    min_rank_p: float
    flags: tuple[str, ...]


def t_test_on(
    diffs: Differences,
    ratio: float,
    *,
    test: str,
    confidence: float = 0.95,
    alternative: str = "two-sided",
    extra_flags: tuple[str, ...] = (),
) -> TTestResult:
    """The t-test arithmetic on prepared differences; ``ratio`` = 0 gives the plain paired t-test."""
    check_alternative(alternative)
    check_confidence(confidence)
    d = diffs.d
    n = d.size
    df = n - 1
    mean = float(np.mean(d))
    flag_list = list(extra_flags)
    if diffs.n_dropped:
        flag_list.append(F.NAN_DROPPED)
    smallest = min_rank_p(n, alternative)
    if smallest > F.FEW_FOLDS_ALPHA:
        flag_list.append(F.FEW_FOLDS)

    if float(np.max(np.abs(d))) <= diffs.tol:
        sd = se = 0.0
        t, p = 0.0, 1.0
        ci = (mean, mean)
        flag_list.append(F.IDENTICAL)
    elif float(np.ptp(d)) <= diffs.tol:
        # A t statistic of ±inf would claim p = 0 from a handful of folds; the sign-flip p is what n allows.
        sd = se = 0.0
        t = math.copysign(math.inf, mean)
        p = sign_flip_p(d, diffs.tol, alternative)
        ci = (mean, mean)
        flag_list.append(F.ZERO_VARIANCE)
    else:
        sd = float(np.std(d, ddof=1))
        se = math.sqrt(1.0 / n + ratio) * sd
        t = mean / se
        if alternative == "two-sided":
            p = float(2.0 * sps.t.sf(abs(t), df))
        elif alternative == "greater":
            p = float(sps.t.sf(t, df))
        else:
            p = float(sps.t.cdf(t, df))
        half = float(sps.t.ppf(0.5 + confidence / 2.0, df)) * se
        ci = (mean - half, mean + half)
    return TTestResult(
        test=test,
        mean_diff=mean,
        sd_diff=sd,
        se=se,
        t=float(t),
        df=df,
        p=min(1.0, p),
        ci_low=ci[0],
        ci_high=ci[1],
        confidence=confidence,
        alternative=alternative,
        n=n,
        n_folds=diffs.n_folds,
        n_seeds=diffs.n_seeds,
        seeds_redraw_folds=diffs.seeds_redraw_folds,
        test_train_ratio=ratio,
        n_dropped=diffs.n_dropped,
        min_rank_p=smallest,
        flags=tuple(flag_list),
    )


def corrected_ttest(
    scores: ArrayLike,
    baseline: ArrayLike,
    *,
    test_train_ratio: float | None = None,
    n_train: float | None = None,
    n_test: float | None = None,
    seeds_redraw_folds: bool = False,
    drop_nan: bool = False,
    confidence: float = 0.95,
    alternative: str = "two-sided",
) -> TTestResult:
    """Corrected resampled t-test of ``scores - baseline``, matched cell by cell.

    ``scores`` and ``baseline`` have shape ``(folds,)`` or ``(seeds, folds)``. With
    ``seeds_redraw_folds=False`` (seeds only re-initialise the model) the differences are averaged over
    seeds per fold, n = k; with ``True`` every (seed, fold) cell is a pair, n = r·k. Give the test/train
    size ratio as ``test_train_ratio`` or as ``n_train`` and ``n_test``; with neither, k-fold's 1/(k-1)
    is assumed and the result is flagged ``ratio_assumed``.
    """
    diffs = paired_differences(scores, baseline, seeds_redraw_folds=seeds_redraw_folds, drop_nan=drop_nan)
    k = int(np.asarray(scores).shape[-1])
    ratio, assumed = resolve_ratio(test_train_ratio, n_train, n_test, k)
    return t_test_on(
        diffs,
        ratio,
        test=CORRECTED,
        confidence=confidence,
        alternative=alternative,
        extra_flags=(F.RATIO_ASSUMED,) if assumed else (),
    )
