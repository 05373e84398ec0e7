"""Bayesian correlated t-test (Corani & Benavoli 2015) with a region of practical equivalence (ROPE).

A p-value answers "could this be noise?"; the posterior answers what a user wants to know: how likely is
the method better, practically equivalent, or worse. The correlation between CV folds,
rho = n_test / (n_train + n_test), enters the posterior's scale exactly as the Nadeau–Bengio correction:
a Student t with n - 1 degrees of freedom, located at mean(d), with scale sqrt((1/n + rho/(1-rho)) var(d)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as sps

from tcrbench.errors import UsageError
from tcrbench.stats import flags as F
from tcrbench.stats._pairs import Differences, paired_differences, resolve_ratio
from tcrbench.stats._result import Result


@dataclass(frozen=True)
class BayesianResult(Result):
    """Posterior probabilities that the method is better / within ``rope`` / worse than the baseline.

    "Better" means a difference beyond +rope (or beyond -rope when ``higher_is_better`` is False).
    """

    p_better: float
    p_equivalent: float
    p_worse: float
    rope: float
    mean_diff: float
    scale: float
    df: int
    rho: float
    n: int
    higher_is_better: bool
    flags: tuple[str, ...]


def bayes_on(
    diffs: Differences,
    ratio: float,
    *,
    rope: float = 0.0,
    higher_is_better: bool = True,
    extra_flags: tuple[str, ...] = (),
) -> BayesianResult:
    """Posterior probabilities from prepared differences and the test/train ratio (rho/(1-rho))."""
    if not (math.isfinite(rope) and rope >= 0):
        raise UsageError(f"rope={rope} must be a non-negative number (in the metric's units)")
    d = diffs.d
    n = d.size
    mean = float(np.mean(d))
    flag_list = list(extra_flags)
    if diffs.n_dropped:
        flag_list.append(F.NAN_DROPPED)
    if float(np.ptp(d)) <= diffs.tol:
        # A point-mass posterior: certain, and flagged, because n folds cannot justify certainty.
        scale = 0.0
        identical = float(np.max(np.abs(d))) <= diffs.tol
        flag_list.append(F.IDENTICAL if identical else F.ZERO_VARIANCE)
        centre = 0.0 if identical else mean
        above, below = float(centre > rope), float(centre < -rope)
        if rope == 0.0 and centre == 0.0:
            above = below = 0.5
        equivalent = 1.0 - above - below
    else:
        scale = math.sqrt((1.0 / n + ratio) * float(np.var(d, ddof=1)))
        posterior = sps.t(n - 1, loc=mean, scale=scale)
        below = float(posterior.cdf(-rope))
        above = float(posterior.sf(rope))
        equivalent = float(posterior.cdf(rope) - posterior.cdf(-rope)) if rope > 0 else 0.0
    better, worse = (above, below) if higher_is_better else (below, above)
    return BayesianResult(
        p_better=better,
        p_equivalent=equivalent,
        p_worse=worse,
        rope=float(rope),
        mean_diff=mean,
        scale=scale,
        df=n - 1,
        rho=ratio / (1.0 + ratio),
        n=n,
        higher_is_better=higher_is_better,
        flags=tuple(flag_list),
    )


def bayesian_correlated_ttest(
    scores: ArrayLike,
    baseline: ArrayLike,
    *,
    rope: float = 0.0,
    test_train_ratio: float | None = None,
    n_train: float | None = None,
    n_test: float | None = None,
    seeds_redraw_folds: bool = False,
    drop_nan: bool = False,
    higher_is_better: bool = True,
) -> BayesianResult:
    """Correlated Bayesian t-test of ``scores - baseline`` (pairs and ratio exactly as :func:`corrected_ttest`).

    ``rope`` is in the metric's units: 0.01 on AUROC says a gain under one point does not matter.
    With rope = 0, P(equivalent) is 0 and the other two split the posterior at zero.
    """
    diffs = paired_differences(scores, baseline, seeds_redraw_folds=seeds_redraw_folds, drop_nan=drop_nan)
    ratio, assumed = resolve_ratio(test_train_ratio, n_train, n_test, int(np.asarray(scores).shape[-1]))
    return bayes_on(
        diffs,
        ratio,
        rope=rope,
        higher_is_better=higher_is_better,
        extra_flags=(F.RATIO_ASSUMED,) if assumed else (),
    )
