"""Wilcoxon signed-rank: exact null with ties, Demšar's worked example, and agreement with SciPy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from tcrbench.errors import UsageError
from tcrbench.stats import flags, wilcoxon
from tcrbench.stats.classic import midranks

W1_BASE = np.array([0.70, 0.71, 0.69, 0.72, 0.68, 0.70, 0.73, 0.71])
W1_METH = W1_BASE + np.array([0.013, -0.004, 0.021, 0.008, 0.017, -0.011, 0.026, 0.005])

# Demšar (2006), Table 2: AUC of C4.5 and C4.5 with m tuned on 14 datasets; published T = min(R+, R-) = 12
# with R+ = 93 and R- = 12 (zero differences' ranks split between the sums).
C45 = [0.763, 0.599, 0.954, 0.628, 0.882, 0.936, 0.661, 0.583, 0.775, 1.000, 0.940, 0.619, 0.972, 0.957]
C45_M = [0.768, 0.591, 0.971, 0.661, 0.888, 0.931, 0.668, 0.583, 0.838, 1.000, 0.962, 0.666, 0.981, 0.978]

# Ties among |d|: SciPy's exact method cannot handle these, so the reference is the full sign-flip
# enumeration of W+ by scipy.stats.permutation_test (scipy 1.17.1): two-sided 0.046875, greater 0.0234375.
W2 = np.array([0.02, -0.01, 0.02, 0.03, 0.01, -0.02, 0.02, 0.04, 0.01, 0.03])


def _w_plus(x: np.ndarray, axis: int = -1) -> np.ndarray:
    ranks = sps.rankdata(np.abs(x), axis=-1)
    return np.sum(ranks * (x > 0), axis=-1)


@pytest.mark.parametrize(
    ("alternative", "p"), [("two-sided", 0.078125), ("greater", 0.0390625), ("less", 0.97265625)]
)
def test_exact_without_ties_matches_scipy(alternative: str, p: float) -> None:
    r = wilcoxon(W1_METH, W1_BASE, alternative=alternative, on_cv_folds=False)
    assert r.exact and r.w_plus == 31.0 and r.w_minus == 5.0
    assert r.p == pytest.approx(p, abs=1e-12)  # recorded from scipy 1.17.1 wilcoxon(method="exact")
    ref = sps.wilcoxon(W1_METH - W1_BASE, method="exact", alternative=alternative)
    assert r.p == pytest.approx(ref.pvalue, abs=1e-12)


def test_exact_with_ties_matches_full_sign_flip_enumeration() -> None:
    zeros = np.zeros_like(W2)
    assert wilcoxon(W2, zeros).p == pytest.approx(0.046875, abs=1e-12)
    assert wilcoxon(W2, zeros, alternative="greater").p == pytest.approx(0.0234375, abs=1e-12)
    ref = sps.permutation_test((W2,), _w_plus, permutation_type="samples", n_resamples=np.inf, vectorized=True)
    assert wilcoxon(W2, zeros).p == pytest.approx(ref.pvalue, abs=1e-12)


def test_demsar_worked_example_zsplit() -> None:
    r = wilcoxon(C45_M, C45, zero_method="zsplit", on_cv_folds=False)
    assert (r.w_plus, r.w_minus, r.statistic) == (93.0, 12.0, 12.0)
    assert r.n == 14 and r.n_zero == 2 and r.p < 0.05  # Demšar: T = 12 < 21, the critical value for N = 14
    assert sps.wilcoxon(C45_M, C45, zero_method="zsplit").statistic == 12.0


@pytest.mark.parametrize("zero_method", ["pratt", "zsplit", "wilcox"])
def test_exact_p_with_zeros_and_ties_matches_enumeration(zero_method: str) -> None:
    d = np.subtract(C45_M, C45)
    r = wilcoxon(C45_M, C45, zero_method=zero_method)
    d_round = np.round(d, 6)  # the float noise in |d| must not break the tie at 0.005
    if zero_method == "wilcox":
        d_round = d_round[d_round != 0]
    ref = sps.permutation_test((d_round,), _w_plus, permutation_type="samples", n_resamples=np.inf, vectorized=True)
    assert r.p == pytest.approx(ref.pvalue, abs=1e-12)


def test_normal_approximation_matches_scipy_for_large_n() -> None:
    rng = np.random.default_rng(11)
    d = np.round(rng.normal(0.004, 0.02, 60), 6)
    r = wilcoxon(d, np.zeros_like(d), exact=False)
    assert not r.exact
    assert r.p == pytest.approx(sps.wilcoxon(d, method="approx").pvalue, abs=1e-9)
    # and the exact distribution it approximates agrees with scipy's exact one
    assert wilcoxon(d, np.zeros_like(d)).p == pytest.approx(sps.wilcoxon(d, method="exact").pvalue, abs=1e-9)


def test_three_folds_can_never_be_significant_and_are_flagged() -> None:
    r = wilcoxon([60.3, 66.5, 67.4], [57.9, 56.9, 42.1])
    assert r.p == 0.25 and r.min_p == 0.25
    assert flags.FEW_FOLDS in r.flags and flags.INVALID_FOR_CV in r.flags


def test_all_zero_differences() -> None:
    r = wilcoxon([0.5, 0.6, 0.7], [0.5, 0.6, 0.7])
    assert r.p == 1.0 and flags.IDENTICAL in r.flags and r.n_zero == 3


def test_midranks_tolerates_float_noise() -> None:
    vals = np.abs(np.array([0.03 - 0.01, 0.05 - 0.03, 0.1]))  # both 0.02 on paper
    assert vals[0] != vals[1]  # but not as floats
    assert midranks(vals, tol=1e-12).tolist() == [1.5, 1.5, 3.0]
    assert midranks(vals).tolist() == [1.0, 2.0, 3.0]
    r = wilcoxon([0.03, 0.03, 0.1], [0.01, 0.05, 0.0])  # +0.02, -0.02, +0.1: a tie, so W+ = 1.5 + 3
    assert r.w_plus == 4.5 and r.w_minus == 1.5


def test_bad_zero_method() -> None:
    with pytest.raises(UsageError, match="zero_method"):
        wilcoxon([1.0, 2.0], [0.0, 0.0], zero_method="median")
