"""Dietterich's 5×2cv paired t-test (1998) and Alpaydin's combined 5×2cv F-test (1999).

Five replications of 2-fold CV keep each training set disjoint from its test set and half the data, which
makes the variance estimate usable without a correction term. Alpaydin's F uses all ten differences instead
of Dietterich's single first one, so it is less sensitive to which fold happens to come first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as sps

from tcrbench.errors import UsageError
from tcrbench.stats import flags as F
from tcrbench.stats._pairs import noise_tolerance, sign_flip_p
from tcrbench.stats._result import Result


@dataclass(frozen=True)
class FiveByTwoResult(Result):
    """Both 5×2cv tests on the same ten differences (method minus baseline)."""

    mean_diff: float
    t: float
    t_df: int
    t_p: float
    f: float
    f_df: tuple[int, int]
    f_p: float
    flags: tuple[str, ...]


def five_by_two_cv(scores: ArrayLike, baseline: ArrayLike) -> FiveByTwoResult:
    """Both tests from scores of shape (5, 2): replication × fold, matched cell by cell.

    If every replication's two differences agree the variance is zero: the statistics are infinite and the
    p-values fall back to the exact sign-flip p over the ten differences (flag ``zero_variance``).
    """
    a = np.asarray(scores, dtype=float)
    b = np.asarray(baseline, dtype=float)
    for arr, name in ((a, "scores"), (b, "baseline")):
        if arr.shape != (5, 2):
            raise UsageError(f"{name}: the 5x2cv tests need shape (5, 2) (replications, folds), got {arr.shape}")
        if not np.isfinite(arr).all():
            r, f = np.argwhere(~np.isfinite(arr))[0]
            raise UsageError(f"{name}: score at replication {r}, fold {f} is {arr[r, f]}")
    p = a - b
    tol = noise_tolerance(a, b)
    s2 = ((p - p.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    flag_list: list[str] = []
    if float(np.max(np.abs(p))) <= tol:
        t, f, t_p, f_p = 0.0, 0.0, 1.0, 1.0
        flag_list.append(F.IDENTICAL)
    elif float(np.ptp(p, axis=1).max()) <= tol:
        t = math.copysign(math.inf, p[0, 0]) if abs(p[0, 0]) > tol else 0.0
        f = math.inf
        t_p = f_p = sign_flip_p(p.ravel(), tol)
        flag_list.append(F.ZERO_VARIANCE)
    else:
        t = float(p[0, 0] / math.sqrt(s2.mean()))
        t_p = float(2.0 * sps.t.sf(abs(t), 5))
        f = float((p**2).sum() / (2.0 * s2.sum()))
        f_p = float(sps.f.sf(f, 10, 5))
    return FiveByTwoResult(
        mean_diff=float(p.mean()), t=t, t_df=5, t_p=t_p, f=f, f_df=(10, 5), f_p=f_p, flags=tuple(flag_list)
    )
