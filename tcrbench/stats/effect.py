"""Effect sizes that do not depend on how many folds were run: Cohen's d_z and wins/ties/losses."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from tcrbench.errors import UsageError
from tcrbench.stats._pairs import noise_tolerance, paired_differences
from tcrbench.stats._result import Result


def dz_on(d: np.ndarray, tol: float) -> float:
    """mean(d) / sd(d); 0 when all differences are zero, ±inf when they are equal and non-zero."""
    mean = float(np.mean(d))
    if float(np.max(np.abs(d))) <= tol:
        return 0.0
    if float(np.ptp(d)) <= tol:
        return math.copysign(math.inf, mean)
    return mean / float(np.std(d, ddof=1))


def cohens_dz(
    scores: ArrayLike, baseline: ArrayLike, *, seeds_redraw_folds: bool = False, drop_nan: bool = False
) -> float:
    """Cohen's d_z: the mean paired difference in units of its standard deviation (pairs as in the t-tests).

    Unlike t, it does not grow with the number of folds, so it compares designs of different sizes.
    """
    diffs = paired_differences(scores, baseline, seeds_redraw_folds=seeds_redraw_folds, drop_nan=drop_nan)
    return dz_on(diffs.d, diffs.tol)


@dataclass(frozen=True)
class WinsTiesLosses(Result):
    """How many matched cells the method wins, ties and loses once both scores are rounded to ``resolution``."""

    wins: int
    ties: int
    losses: int
    resolution: float | None


def wins_ties_losses(
    scores: ArrayLike,
    baseline: ArrayLike,
    *,
    resolution: float | None = None,
    higher_is_better: bool = True,
    drop_nan: bool = False,
) -> WinsTiesLosses:
    """Count wins, ties and losses cell by cell (every (seed, fold) cell).

    Rounding both scores to the metric's ``resolution`` (e.g. 0.001 for AUROC reported to 3 decimals) stops
    differences no-one could report from counting as wins. ``None`` compares the floats as they are, up to
    floating-point noise. A NaN is an error unless ``drop_nan`` skips its pair.
    """
    a = np.asarray(scores, dtype=float).ravel()
    b = np.asarray(baseline, dtype=float).ravel()
    if a.shape != b.shape:
        raise UsageError(f"scores has {a.size} values but baseline has {b.size}: they must be matched")
    missing = np.isnan(a) | np.isnan(b)
    if missing.any() and not drop_nan:
        raise UsageError(
            f"score at flat index {int(np.flatnonzero(missing)[0])} is NaN; pass drop_nan=True to skip those pairs"
        )
    keep = ~missing
    a, b = a[keep], b[keep]
    if resolution is not None:
        if not (math.isfinite(resolution) and resolution > 0):
            raise UsageError(f"resolution={resolution} must be a positive number")
        diff = np.rint(a / resolution) - np.rint(b / resolution)
    else:
        tol = noise_tolerance(a, b)
        diff = np.where(np.abs(a - b) <= tol, 0.0, a - b)
    if not higher_is_better:
        diff = -diff
    return WinsTiesLosses(
        wins=int(np.sum(diff > 0)), ties=int(np.sum(diff == 0)), losses=int(np.sum(diff < 0)), resolution=resolution
    )
