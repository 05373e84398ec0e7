"""Bootstrap CI of the mean difference over independent datasets."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from tcrbench.errors import UsageError
from tcrbench.stats import bootstrap_mean_diff, flags

# One AUROC per independent dataset (12 datasets), method and baseline.
METH = np.array([0.741, 0.802, 0.688, 0.915, 0.770, 0.655, 0.834, 0.712, 0.869, 0.731, 0.790, 0.702])
BASE = np.array([0.733, 0.781, 0.690, 0.897, 0.742, 0.650, 0.801, 0.709, 0.858, 0.702, 0.779, 0.700])


@pytest.mark.parametrize("method", ["bca", "percentile"])
def test_matches_scipy_bootstrap_with_the_same_generator(method: str) -> None:
    r = bootstrap_mean_diff(METH, BASE, method=method, seed=42)
    ref = sps.bootstrap((METH - BASE,), np.mean, method=method, rng=np.random.default_rng(42))
    assert r.ci_low == pytest.approx(ref.confidence_interval.low, abs=1e-12)
    assert r.ci_high == pytest.approx(ref.confidence_interval.high, abs=1e-12)
    assert r.mean_diff == pytest.approx(np.mean(METH - BASE))
    assert r.ci_low < r.mean_diff < r.ci_high


def test_recorded_values() -> None:
    # scipy 1.17.1 stats.bootstrap(..., method="BCa", rng=np.random.default_rng(42)) on METH - BASE
    r = bootstrap_mean_diff(METH, BASE, seed=42)
    ref = sps.bootstrap((METH - BASE,), np.mean, rng=np.random.default_rng(42)).confidence_interval
    assert (r.ci_low, r.ci_high) == pytest.approx((ref.low, ref.high), abs=1e-12)
    assert (r.ci_low, r.ci_high) == pytest.approx((0.008000000000000007, 0.02075), abs=1e-6)


def test_same_seed_same_interval_and_generator_accepted() -> None:
    a = bootstrap_mean_diff(METH, BASE, seed=5)
    b = bootstrap_mean_diff(METH, BASE, seed=np.random.default_rng(5))
    assert (a.ci_low, a.ci_high) == (b.ci_low, b.ci_high)
    assert a.seed == 5 and b.seed is None


def test_bca_interval_covers_the_true_mean_about_95_percent() -> None:
    rng = np.random.default_rng(1)
    trials, hits = 300, 0
    for i in range(trials):
        d = rng.normal(0.02, 0.03, 20)
        r = bootstrap_mean_diff(d, np.zeros(20), n_resamples=2000, seed=i)
        hits += r.ci_low <= 0.02 <= r.ci_high
    assert 0.90 <= hits / trials <= 0.985


def test_degenerate_differences() -> None:
    same = bootstrap_mean_diff(METH, METH)
    assert flags.IDENTICAL in same.flags and same.ci_low == same.ci_high == 0.0
    shifted = bootstrap_mean_diff(BASE + 0.01, BASE)
    assert flags.ZERO_VARIANCE in shifted.flags
    assert shifted.ci_low == pytest.approx(0.01) and shifted.ci_high == pytest.approx(0.01)


def test_bad_inputs() -> None:
    with pytest.raises(UsageError, match="1-D"):
        bootstrap_mean_diff(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(UsageError, match="method"):
        bootstrap_mean_diff(METH, BASE, method="basic")
    with pytest.raises(UsageError, match="NaN"):
        bootstrap_mean_diff([0.1, np.nan, 0.3], [0.1, 0.2, 0.2])
    r = bootstrap_mean_diff([0.1, np.nan, 0.3, 0.5], [0.1, 0.2, 0.2, 0.3], drop_nan=True, seed=0)
    assert r.n == 3 and r.n_dropped == 1 and flags.NAN_DROPPED in r.flags
