"""McNemar's test on pooled per-example predictions of two classifiers.

Only the examples where exactly one classifier is right carry information; under the null hypothesis each
such example is a fair coin. The exact binomial version is used by default because the discordant counts
in a TCR test fold are often small, where the chi-square approximation is poor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as sps

from tcrbench.errors import UsageError
from tcrbench.stats import flags as F
from tcrbench.stats._result import Result


@dataclass(frozen=True)
class McNemarResult(Result):
    """``n_method_only``: examples only the method gets right; ``n_baseline_only``: only the baseline.

    ``statistic`` is min(n_method_only, n_baseline_only) for the exact test and the continuity-corrected
    chi-square otherwise.
    """

    n: int
    n_method_only: int
    n_baseline_only: int
    statistic: float
    p: float
    exact: bool
    flags: tuple[str, ...]


def _as_1d(values: ArrayLike, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise UsageError(f"{name}: expected a 1-D array of labels, got shape {arr.shape}")
    if arr.dtype.kind == "f" and np.isnan(arr).any():
        raise UsageError(f"{name}: label at index {int(np.flatnonzero(np.isnan(arr))[0])} is NaN")
    return arr


def mcnemar(y_true: ArrayLike, y_pred: ArrayLike, y_pred_baseline: ArrayLike, *, exact: bool = True) -> McNemarResult:
    """McNemar's test of ``y_pred`` against ``y_pred_baseline``, both predicting ``y_true``.

    Pool the predictions of all test folds first: each example is then counted once.
    """
    y, a, b = _as_1d(y_true, "y_true"), _as_1d(y_pred, "y_pred"), _as_1d(y_pred_baseline, "y_pred_baseline")
    if not (y.size == a.size == b.size):
        raise UsageError(
            f"y_true, y_pred and y_pred_baseline must have the same length, got {y.size}, {a.size}, {b.size}"
        )
    if y.size == 0:
        raise UsageError("mcnemar needs at least one prediction")
    right_a, right_b = a == y, b == y
    n_a = int(np.sum(right_a & ~right_b))
    n_b = int(np.sum(~right_a & right_b))
    discordant = n_a + n_b
    flag_list: list[str] = []
    if discordant == 0:
        statistic, p = 0.0, 1.0
        flag_list.append(F.IDENTICAL)
    elif exact:
        statistic = float(min(n_a, n_b))
        p = min(1.0, 2.0 * float(sps.binom.cdf(min(n_a, n_b), discordant, 0.5)))
    else:
        statistic = (abs(n_a - n_b) - 1.0) ** 2 / discordant
        p = float(sps.chi2.sf(statistic, 1))
    return McNemarResult(
        n=int(y.size),
        n_method_only=n_a,
        n_baseline_only=n_b,
        statistic=statistic,
        p=p,
        exact=exact,
        flags=tuple(flag_list),
    )
