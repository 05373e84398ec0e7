"""Bayesian correlated t-test against baycomp."""

from __future__ import annotations

import numpy as np
import pytest

from tcrbench.errors import UsageError
from tcrbench.stats import bayesian_correlated_ttest, corrected_ttest, flags

STUDY_BASE = np.array([57.9, 56.9, 42.1])
STUDY_PRE = np.array([60.3, 66.5, 67.4])
B_BASE = np.array([0.712, 0.698, 0.731, 0.705, 0.689, 0.720, 0.701, 0.715, 0.694, 0.708])
B_METH = np.array([0.725, 0.701, 0.729, 0.718, 0.702, 0.731, 0.699, 0.728, 0.707, 0.716])

# baycomp 1.0.3 CorrelatedTTest.probs(baseline, method, rope, runs) -> (p_left = worse, p_rope, p_right = better)
RECORDED = {
    "study": ((STUDY_PRE, STUDY_BASE, 1.0), (0.16787950138217012, 0.030515568134785065, 0.8016049304830448)),
    "B": ((B_METH, B_BASE, 0.005), (0.0006554755750729681, 0.14147600042977904, 0.857868523995148)),
}


@pytest.mark.parametrize("key", list(RECORDED))
def test_matches_recorded_baycomp(key: str) -> None:
    (meth, base, rope), (worse, equiv, better) = RECORDED[key]
    r = bayesian_correlated_ttest(meth, base, rope=rope)  # k-fold rho = 1/k, as baycomp
    assert (r.p_worse, r.p_equivalent, r.p_better) == pytest.approx((worse, equiv, better), abs=1e-9)
    assert r.rho == pytest.approx(1 / len(base))


def test_matches_baycomp_live_with_repetitions() -> None:
    baycomp = pytest.importorskip("baycomp")
    rng = np.random.default_rng(4)
    base = rng.normal(0.8, 0.01, (3, 10))
    meth = base + rng.normal(0.004, 0.006, (3, 10))
    for rope in (0.0, 0.002, 0.01):
        r = bayesian_correlated_ttest(meth, base, rope=rope, seeds_redraw_folds=True, test_train_ratio=1 / 9)
        ref = baycomp.CorrelatedTTest.probs(base.ravel(), meth.ravel(), rope=rope, runs=3)
        if rope == 0.0:
            assert (r.p_worse, r.p_better) == pytest.approx(ref, abs=1e-9) and r.p_equivalent == 0.0
        else:
            assert (r.p_worse, r.p_equivalent, r.p_better) == pytest.approx(ref, abs=1e-9)


def test_posterior_scale_is_the_corrected_standard_error() -> None:
    b = bayesian_correlated_ttest(B_METH, B_BASE, test_train_ratio=0.25)
    t = corrected_ttest(B_METH, B_BASE, test_train_ratio=0.25)
    assert b.scale == pytest.approx(t.se) and b.df == t.df and b.rho == pytest.approx(0.2)
    # with rope 0, P(worse) is the one-sided corrected p-value for "better"
    one_sided = corrected_ttest(B_METH, B_BASE, test_train_ratio=0.25, alternative="greater")
    assert b.p_worse == pytest.approx(one_sided.p, rel=1e-9)


def test_lower_is_better_swaps_the_tails() -> None:
    up = bayesian_correlated_ttest(B_METH, B_BASE, rope=0.005)
    down = bayesian_correlated_ttest(B_METH, B_BASE, rope=0.005, higher_is_better=False)
    assert down.p_better == pytest.approx(up.p_worse) and down.p_worse == pytest.approx(up.p_better)


def test_degenerate_posteriors_are_flagged() -> None:
    same = bayesian_correlated_ttest(B_BASE, B_BASE, rope=0.01)
    assert same.p_equivalent == 1.0 and flags.IDENTICAL in same.flags
    shifted = bayesian_correlated_ttest(B_BASE + 0.02, B_BASE, rope=0.01)
    assert shifted.p_better == 1.0 and flags.ZERO_VARIANCE in shifted.flags
    with pytest.raises(UsageError, match="rope"):
        bayesian_correlated_ttest(B_METH, B_BASE, rope=-0.1)
