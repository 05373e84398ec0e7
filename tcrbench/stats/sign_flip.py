"""The paired sign-flip (permutation) test: under "no difference" each difference is as likely negative.

It makes no distributional assumption and shows the floor a handful of folds puts on any p-value
(2^(1-n) two-sided). Like the Wilcoxon test it treats pairs as independent, which CV folds are not, so on CV
scores it is a contrast (flag ``invalid_for_cv``), not the headline test.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from tcrbench.errors import UsageError
from tcrbench.stats import flags as F
from tcrbench.stats._pairs import (
    EXACT_SIGN_FLIP_MAX,
    Differences,
    check_alternative,
    min_rank_p,
    paired_differences,
    sign_flip_p,
)
from tcrbench.stats._result import Result

__all__ = ["SignFlipResult", "sign_flip_on", "sign_flip_test"]


@dataclass(frozen=True)
class SignFlipResult(Result):
    """Sign-flip test of the sum of differences (method minus baseline).

    ``exact``: all 2^n sign patterns were enumerated (n <= 20); otherwise ``n_resamples`` random patterns
    were drawn and p = (1 + hits) / (1 + n_resamples), never 0. ``min_p`` is the smallest p n pairs allow.
    """

    mean_diff: float
    p: float
    n: int
    exact: bool
    n_resamples: int
    alternative: str
    min_p: float
    n_dropped: int
    flags: tuple[str, ...]


def sign_flip_on(
    diffs: Differences,
    *,
    alternative: str = "two-sided",
    n_resamples: int = 100_000,
    seed: int = 0,
    on_cv_folds: bool = True,
) -> SignFlipResult:
    """The sign-flip arithmetic on prepared differences."""
    check_alternative(alternative)
    d = diffs.d
    n = int(d.size)
    flag_list = [F.INVALID_FOR_CV] if on_cv_folds else []
    if diffs.n_dropped:
        flag_list.append(F.NAN_DROPPED)
    if min_rank_p(n, alternative) > F.FEW_FOLDS_ALPHA:
        flag_list.append(F.FEW_FOLDS)
    constant = float(np.ptp(d)) <= diffs.tol
    if n <= EXACT_SIGN_FLIP_MAX or constant:
        p, exact, drawn = sign_flip_p(d, diffs.tol, alternative), True, 0
    else:
        if n_resamples < 1:
            raise UsageError(f"n_resamples={n_resamples} must be at least 1")
        rng = np.random.default_rng(seed)
        observed, hits = float(d.sum()), 0
        for start in range(0, n_resamples, 10_000):  # chunks keep memory flat
            signs = rng.choice((-1.0, 1.0), size=(min(10_000, n_resamples - start), n))
            sums = signs @ d
            if alternative == "two-sided":
                hits += int((np.abs(sums) >= abs(observed) - diffs.tol).sum())
            elif alternative == "greater":
                hits += int((sums >= observed - diffs.tol).sum())
            else:
                hits += int((sums <= observed + diffs.tol).sum())
        p, exact, drawn = (1.0 + hits) / (1.0 + n_resamples), False, n_resamples
    return SignFlipResult(
        mean_diff=float(np.mean(d)),
        p=min(1.0, float(p)),
        n=n,
        exact=exact,
        n_resamples=drawn,
        alternative=alternative,
        min_p=min_rank_p(n, alternative),
        n_dropped=diffs.n_dropped,
        flags=tuple(flag_list),
    )


def sign_flip_test(
    scores: ArrayLike,
    baseline: ArrayLike,
    *,
    seeds_redraw_folds: bool = False,
    drop_nan: bool = False,
    alternative: str = "two-sided",
    n_resamples: int = 100_000,
    seed: int = 0,
    on_cv_folds: bool = True,
) -> SignFlipResult:
    """Sign-flip test of ``scores - baseline``, pairs formed as in :func:`corrected_ttest`.

    Exact up to 20 pairs; beyond, a seeded Monte Carlo of ``n_resamples`` sign patterns.
    ``on_cv_folds=False`` drops the ``invalid_for_cv`` flag for genuinely independent pairs.
    """
    diffs = paired_differences(scores, baseline, seeds_redraw_folds=seeds_redraw_folds, drop_nan=drop_nan)
    return sign_flip_on(diffs, alternative=alternative, n_resamples=n_resamples, seed=seed, on_cv_folds=on_cv_folds)
