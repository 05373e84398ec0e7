"""Several methods across several datasets: the Friedman test and the Nemenyi critical difference.

Demšar (2006) recommends ranks over datasets because scores on different datasets are not commensurable:
averaging AUROCs across datasets lets one easy dataset dominate. Ranks here are 1 = best.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as sps

from tcrbench.errors import UsageError
from tcrbench.stats import flags as F
from tcrbench.stats._pairs import noise_tolerance
from tcrbench.stats._result import Result
from tcrbench.stats.classic import midranks

CD_METHODS = ("nemenyi", "bonferroni-dunn")


@dataclass(frozen=True)
class FriedmanResult(Result):
    """Friedman's chi-square (``statistic``) and the Iman–Davenport F, which Demšar prefers as less conservative."""

    methods: tuple[str, ...]
    mean_ranks: tuple[float, ...]
    statistic: float
    df: int
    p: float
    iman_davenport_f: float
    iman_davenport_df: tuple[int, int]
    iman_davenport_p: float
    n_datasets: int
    n_methods: int
    tie_correction: bool
    flags: tuple[str, ...]


@dataclass(frozen=True)
class NemenyiResult(Result):
    """All-pairs Nemenyi post-hoc: two methods differ when their mean ranks differ by at least ``cd``."""

    methods: tuple[str, ...]
    mean_ranks: tuple[float, ...]
    alpha: float
    q_alpha: float
    cd: float
    p_values: tuple[tuple[float, ...], ...]
    n_datasets: int


def _score_matrix(scores: ArrayLike, methods: Sequence[str] | None) -> tuple[np.ndarray, tuple[str, ...]]:
    x = np.asarray(scores, dtype=float)
    if x.ndim != 2:
        raise UsageError(f"scores: expected a (datasets, methods) matrix, got shape {x.shape}")
    n, k = x.shape
    if k < 2 or n < 2:
        raise UsageError(f"scores: need at least 2 datasets and 2 methods, got {n} datasets and {k} methods")
    if not np.isfinite(x).all():
        i, j = np.argwhere(~np.isfinite(x))[0]
        raise UsageError(f"scores: dataset row {i}, method column {j} is {x[i, j]}")
    names = tuple(methods) if methods is not None else tuple(f"method {j}" for j in range(k))
    if len(names) != k:
        raise UsageError(f"methods: {len(names)} names for {k} method columns")
    return x, names


def rank_matrix(scores: ArrayLike, *, higher_is_better: bool = True) -> np.ndarray:
    """Per-dataset ranks (1 = best, ties share their mean rank, floating-point noise counts as a tie)."""
    x = np.asarray(scores, dtype=float)
    signed = -x if higher_is_better else x
    tol = noise_tolerance(x)
    return np.vstack([midranks(row, tol) for row in signed])


def friedman(
    scores: ArrayLike,
    *,
    methods: Sequence[str] | None = None,
    higher_is_better: bool = True,
    tie_correction: bool = True,
) -> FriedmanResult:
    """Friedman test on a (datasets, methods) score matrix.

    ``tie_correction`` divides by 1 - sum(t^3 - t) / (N (k^3 - k)) as R's friedman.test and SciPy do;
    Demšar's worked example (chi2 = 9.28) is without it.
    """
    x, names = _score_matrix(scores, methods)
    n, k = x.shape
    ranks = rank_matrix(x, higher_is_better=higher_is_better)
    mean_ranks = ranks.mean(axis=0)
    chi2 = 12.0 * n / (k * (k + 1)) * (float(np.sum(mean_ranks**2)) - k * (k + 1) ** 2 / 4.0)
    flag_list: list[str] = []
    if tie_correction:
        ties = 0.0
        for row in ranks:
            _, counts = np.unique(row, return_counts=True)
            ties += float(np.sum(counts**3 - counts))
        c = 1.0 - ties / (n * (k**3 - k))
        chi2 = chi2 / c if c > 0 else 0.0
    df = k - 1
    if float(np.ptp(ranks)) == 0.0:  # every method tied on every dataset
        flag_list.append(F.IDENTICAL)
    p = float(sps.chi2.sf(chi2, df))
    denom = n * (k - 1) - chi2
    id_df = (k - 1, (k - 1) * (n - 1))
    if denom <= 1e-12 * n * k:
        # Every dataset ranks the methods the same way: F is infinite; the exact p of that event is (k!)^(1-N).
        id_f = math.inf
        id_p = float(math.exp((1 - n) * math.lgamma(k + 1)))
    else:
        id_f = (n - 1) * chi2 / denom
        id_p = float(sps.f.sf(id_f, *id_df))
    return FriedmanResult(
        methods=names,
        mean_ranks=tuple(float(r) for r in mean_ranks),
        statistic=float(chi2),
        df=df,
        p=p,
        iman_davenport_f=float(id_f),
        iman_davenport_df=id_df,
        iman_davenport_p=id_p,
        n_datasets=n,
        n_methods=k,
        tie_correction=tie_correction,
        flags=tuple(flag_list),
    )


def critical_difference(n_methods: int, n_datasets: int, *, alpha: float = 0.05, method: str = "nemenyi") -> float:
    """Smallest mean-rank difference that is significant (Demšar 2006, section 3.2.2).

    "nemenyi" compares all pairs; "bonferroni-dunn" compares each method with one control (the baseline)
    and so has a smaller CD.
    """
    return _q_alpha(n_methods, alpha, method) * math.sqrt(n_methods * (n_methods + 1) / (6.0 * n_datasets))


def _q_alpha(k: int, alpha: float, method: str) -> float:
    if method not in CD_METHODS:
        raise UsageError(f"method={method!r} is not one of {', '.join(CD_METHODS)}")
    if not 0.0 < alpha < 1.0:
        raise UsageError(f"alpha={alpha} must lie strictly between 0 and 1")
    if k < 2:
        raise UsageError(f"need at least 2 methods, got {k}")
    if method == "nemenyi":
        return float(sps.studentized_range.ppf(1.0 - alpha, k, np.inf) / math.sqrt(2.0))
    return float(sps.norm.ppf(1.0 - alpha / (2.0 * (k - 1))))


def nemenyi(
    scores: ArrayLike,
    *,
    methods: Sequence[str] | None = None,
    alpha: float = 0.05,
    higher_is_better: bool = True,
) -> NemenyiResult:
    """Nemenyi post-hoc test after Friedman: critical difference and all pairwise p-values."""
    x, names = _score_matrix(scores, methods)
    n, k = x.shape
    mean_ranks = rank_matrix(x, higher_is_better=higher_is_better).mean(axis=0)
    q = _q_alpha(k, alpha, "nemenyi")
    se = math.sqrt(k * (k + 1) / (6.0 * n))
    gaps = np.abs(mean_ranks[:, None] - mean_ranks[None, :]) / se
    pvals = sps.studentized_range.sf(gaps * math.sqrt(2.0), k, np.inf)
    np.fill_diagonal(pvals, 1.0)
    return NemenyiResult(
        methods=names,
        mean_ranks=tuple(float(r) for r in mean_ranks),
        alpha=alpha,
        q_alpha=q,
        cd=q * se,
        p_values=tuple(tuple(float(v) for v in row) for row in np.minimum(pvals, 1.0)),
        n_datasets=n,
    )
