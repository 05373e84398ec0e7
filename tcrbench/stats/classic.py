"""The textbook paired tests: the plain paired t-test and the Wilcoxon signed-rank test.

Both treat the fold differences as independent. Cross-validation folds are not (they share training data),
so on CV scores both overstate significance; results say so with the ``invalid_for_cv`` flag. They are here
to show how far the naive answer is from the corrected one, and for genuinely independent pairs
(one score per independent dataset), where ``on_cv_folds=False`` drops the flag.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as sps

from tcrbench.errors import UsageError
from tcrbench.stats import flags as F
from tcrbench.stats._pairs import check_alternative, min_rank_p, paired_differences
from tcrbench.stats._result import Result
from tcrbench.stats.corrected_t import PAIRED, TTestResult, t_test_on

ZERO_METHODS = ("wilcox", "pratt", "zsplit")
#: Up to this many non-zero differences the null distribution is computed exactly (it costs O(n^3)).
EXACT_MAX_N = 100


def paired_ttest(
    scores: ArrayLike,
    baseline: ArrayLike,
    *,
    seeds_redraw_folds: bool = False,
    drop_nan: bool = False,
    confidence: float = 0.95,
    alternative: str = "two-sided",
    on_cv_folds: bool = True,
) -> TTestResult:
    """Student's paired t-test of ``scores - baseline`` (no correction for overlapping training sets).

    Pairs are formed exactly as in :func:`corrected_ttest`, so the two differ only in the variance term.
    """
    diffs = paired_differences(scores, baseline, seeds_redraw_folds=seeds_redraw_folds, drop_nan=drop_nan)
    extra = (F.INVALID_FOR_CV,) if on_cv_folds else ()
    return t_test_on(diffs, 0.0, test=PAIRED, confidence=confidence, alternative=alternative, extra_flags=extra)


@dataclass(frozen=True)
class WilcoxonResult(Result):
    """Wilcoxon signed-rank test of ``scores - baseline``.

    ``statistic`` is min(W+, W-) for a two-sided test (the T in Demšar 2006) and W+ otherwise.
    ``min_p`` is the smallest p these pairs could ever give: with 3 folds it is 0.25.
    """

    w_plus: float
    w_minus: float
    statistic: float
    p: float
    n: int
    n_zero: int
    zero_method: str
    exact: bool
    alternative: str
    min_p: float
    n_dropped: int
    flags: tuple[str, ...]


def midranks(values: np.ndarray, tol: float = 0.0) -> np.ndarray:
    """Ranks 1..n with ties (values within ``tol`` of their neighbour) sharing their average rank.

    A tolerance matters because |0.768 - 0.763| and |0.931 - 0.936| differ in the last bits of a float.
    """
    order = np.argsort(values, kind="stable")
    sorted_vals = values[order]
    ranks = np.empty(values.size, dtype=float)
    start = 0
    for i in range(1, values.size + 1):
        if i == values.size or sorted_vals[i] - sorted_vals[i - 1] > tol:
            ranks[order[start:i]] = (start + 1 + i) / 2.0
            start = i
    return ranks


def _signed_rank_null(doubled_ranks: np.ndarray) -> np.ndarray:
    """P(2·W+ = s) for s = 0..sum, when each rank's sign is a fair coin (exact, ties included)."""
    total = int(doubled_ranks.sum())
    dist = np.zeros(total + 1)
    dist[0] = 1.0
    for r in doubled_ranks:
        shifted = np.zeros_like(dist)
        shifted[r:] = dist[: total + 1 - r]
        dist = 0.5 * (dist + shifted)
    return dist


def wilcoxon_on(
    d: np.ndarray,
    tol: float,
    *,
    zero_method: str = "wilcox",
    alternative: str = "two-sided",
    exact: bool | None = None,
    on_cv_folds: bool = True,
    n_dropped: int = 0,
) -> WilcoxonResult:
    """The signed-rank arithmetic on a vector of differences."""
    check_alternative(alternative)
    if zero_method not in ZERO_METHODS:
        raise UsageError(f"zero_method={zero_method!r} is not one of {', '.join(ZERO_METHODS)}")
    d = np.where(np.abs(d) <= tol, 0.0, np.asarray(d, dtype=float))
    zero = d == 0.0
    if zero_method == "wilcox":
        nz = d[~zero]
        ranks_nz = midranks(np.abs(nz), tol)
        ranks_zero = np.empty(0)
    else:  # pratt and zsplit rank the zeros with the rest
        ranks_all = midranks(np.abs(d), tol)
        nz, ranks_nz, ranks_zero = d[~zero], ranks_all[~zero], ranks_all[zero]
    s_obs = float(ranks_nz[nz > 0].sum())
    w_plus, w_minus = s_obs, float(ranks_nz[nz < 0].sum())
    if zero_method == "zsplit":  # Demšar's variant: zero ranks split evenly between the two sums
        w_plus += float(ranks_zero.sum()) / 2.0
        w_minus += float(ranks_zero.sum()) / 2.0
    n_nz = int(nz.size)
    use_exact = (n_nz <= EXACT_MAX_N) if exact is None else bool(exact)

    flag_list = [F.INVALID_FOR_CV] if on_cv_folds else []
    if n_dropped:
        flag_list.append(F.NAN_DROPPED)
    smallest = min_rank_p(n_nz, alternative) if n_nz else 1.0
    if smallest > F.FEW_FOLDS_ALPHA:
        flag_list.append(F.FEW_FOLDS)

    if n_nz == 0:
        p = 1.0
        flag_list.append(F.IDENTICAL)
    elif use_exact:
        doubled = np.rint(2.0 * ranks_nz).astype(np.int64)
        dist = _signed_rank_null(doubled)
        s2 = int(round(2.0 * s_obs))
        p_le = float(dist[: s2 + 1].sum())
        p_ge = float(dist[s2:].sum())
        p = {"two-sided": 2.0 * min(p_le, p_ge), "greater": p_ge, "less": p_le}[alternative]
    else:
        mean = ranks_nz.sum() / 2.0
        sd = math.sqrt(float((ranks_nz**2).sum()) / 4.0)
        z = (s_obs - mean) / sd
        p = {
            "two-sided": 2.0 * float(sps.norm.sf(abs(z))),
            "greater": float(sps.norm.sf(z)),
            "less": float(sps.norm.cdf(z)),
        }[alternative]
    statistic = min(w_plus, w_minus) if alternative == "two-sided" else w_plus
    return WilcoxonResult(
        w_plus=w_plus,
        w_minus=w_minus,
        statistic=statistic,
        p=min(1.0, p),
        n=int(d.size),
        n_zero=int(zero.sum()),
        zero_method=zero_method,
        exact=use_exact,
        alternative=alternative,
        min_p=smallest,
        n_dropped=n_dropped,
        flags=tuple(flag_list),
    )


def wilcoxon(
    scores: ArrayLike,
    baseline: ArrayLike,
    *,
    zero_method: str = "wilcox",
    alternative: str = "two-sided",
    exact: bool | None = None,
    seeds_redraw_folds: bool = False,
    drop_nan: bool = False,
    on_cv_folds: bool = True,
) -> WilcoxonResult:
    """Wilcoxon signed-rank test, exact (ties included) up to 100 non-zero pairs, normal beyond.

    ``zero_method``: "wilcox" drops zero differences, "pratt" ranks them but leaves them out of the sums,
    "zsplit" splits their ranks between W+ and W- (Demšar 2006). Pairs are formed as in the t-tests.
    """
    diffs = paired_differences(scores, baseline, seeds_redraw_folds=seeds_redraw_folds, drop_nan=drop_nan)
    return wilcoxon_on(
        diffs.d,
        diffs.tol,
        zero_method=zero_method,
        alternative=alternative,
        exact=exact,
        on_cv_folds=on_cv_folds,
        n_dropped=diffs.n_dropped,
    )
