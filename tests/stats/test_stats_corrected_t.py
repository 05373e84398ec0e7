"""Corrected resampled t-test: reference values, pairing rules and the degenerate cases the issue lists."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from tcrbench.errors import UsageError
from tcrbench.stats import corrected_ttest, flags, paired_ttest

# The study's own table: 3 folds, train/test = 2 (n_test/n_train = 0.5).
STUDY_BASE = [57.9, 56.9, 42.1]
STUDY_PRE = [60.3, 66.5, 67.4]

# 10-fold CV, one seed.
B_BASE = [0.712, 0.698, 0.731, 0.705, 0.689, 0.720, 0.701, 0.715, 0.694, 0.708]
B_METH = [0.725, 0.701, 0.729, 0.718, 0.702, 0.731, 0.699, 0.728, 0.707, 0.716]

# 4 seeds × 5 folds.
C_BASE = [[0.81, 0.79, 0.83, 0.80, 0.78], [0.80, 0.82, 0.79, 0.81, 0.77],
          [0.82, 0.80, 0.81, 0.79, 0.80], [0.79, 0.81, 0.80, 0.82, 0.78]]
C_METH = [[0.83, 0.80, 0.84, 0.83, 0.79], [0.81, 0.85, 0.80, 0.82, 0.80],
          [0.84, 0.80, 0.83, 0.80, 0.83], [0.80, 0.84, 0.81, 0.82, 0.80]]

# Reference values: baycomp 1.0.3 CorrelatedTTest.compute_statistics (which applies the same Nadeau-Bengio
# variance) turned into t and a two-sided Student p with scipy 1.17.1.
REF = {
    "study": dict(mean=12.433333333333335, se=10.68968869726544, t=1.1631146318146703, p=0.36479137481776763),
    "B": dict(mean=0.008300000000000007, se=0.0028982540508399007, t=2.863793116271055, p=0.018664602132856388),
    "C_redraw": dict(mean=0.01599999999999998, se=0.005448321808255794, t=2.93668409523008, p=0.008466855616642824),
    "C_reinit": dict(t=5.701573160798366, p=0.004677048676784905),
}


def _baycomp_reference(x: np.ndarray, y: np.ndarray, runs: int) -> tuple[float, float]:
    baycomp = pytest.importorskip("baycomp")
    mean, var, df = baycomp.CorrelatedTTest.compute_statistics(x, y, runs)
    t = mean / math.sqrt(var)
    return t, float(2 * sps.t.sf(abs(t), df))


def test_study_table_gives_p_037_with_recorded_reference() -> None:
    r = corrected_ttest(STUDY_PRE, STUDY_BASE, test_train_ratio=0.5)
    ref = REF["study"]
    assert r.mean_diff == pytest.approx(ref["mean"], abs=1e-9)
    assert r.se == pytest.approx(ref["se"], abs=1e-9)
    assert r.t == pytest.approx(ref["t"], abs=1e-9)
    assert r.p == pytest.approx(ref["p"], abs=1e-9)
    assert r.df == 2 and r.n == 3
    assert flags.FEW_FOLDS in r.flags and r.min_rank_p == 0.25
    # the interval is centred on the mean and uses the corrected standard error
    half = sps.t.ppf(0.975, 2) * ref["se"]
    assert (r.ci_low, r.ci_high) == pytest.approx((ref["mean"] - half, ref["mean"] + half), abs=1e-9)


@pytest.mark.parametrize(
    ("meth", "base", "kw", "key"),
    [
        (B_METH, B_BASE, dict(test_train_ratio=1 / 9), "B"),
        (C_METH, C_BASE, dict(test_train_ratio=0.25, seeds_redraw_folds=True), "C_redraw"),
        (C_METH, C_BASE, dict(test_train_ratio=0.25, seeds_redraw_folds=False), "C_reinit"),
    ],
)
def test_matches_recorded_baycomp_values(meth, base, kw, key) -> None:
    r = corrected_ttest(meth, base, **kw)
    assert r.t == pytest.approx(REF[key]["t"], abs=1e-6)
    assert r.p == pytest.approx(REF[key]["p"], abs=1e-6)
    if "mean" in REF[key]:
        assert r.mean_diff == pytest.approx(REF[key]["mean"], abs=1e-9)


def test_matches_baycomp_live_when_installed() -> None:
    for meth, base, runs, redraw in ((STUDY_PRE, STUDY_BASE, 1, False), (B_METH, B_BASE, 1, False),
                                     (C_METH, C_BASE, 4, True)):
        x, y = np.ravel(base), np.ravel(meth)
        t, p = _baycomp_reference(x, y, runs)
        # baycomp's correction is the k-fold one, 1/(k-1): let ours assume it too
        r = corrected_ttest(meth, base, seeds_redraw_folds=redraw)
        assert flags.RATIO_ASSUMED in r.flags
        assert r.t == pytest.approx(t, abs=1e-6) and r.p == pytest.approx(p, abs=1e-6)


def test_seed_averaging_reduces_to_fold_means() -> None:
    per_fold = (np.array(C_METH) - np.array(C_BASE)).mean(axis=0)
    avg = corrected_ttest(C_METH, C_BASE, test_train_ratio=0.25)
    direct = corrected_ttest(per_fold, np.zeros(5), test_train_ratio=0.25)
    assert avg.n == 5 and avg.n_folds == 5 and avg.n_seeds == 4 and not avg.seeds_redraw_folds
    assert avg.t == pytest.approx(direct.t, rel=1e-12) and avg.p == pytest.approx(direct.p, rel=1e-12)
    redraw = corrected_ttest(C_METH, C_BASE, test_train_ratio=0.25, seeds_redraw_folds=True)
    assert redraw.n == 20 and redraw.df == 19 and redraw.seeds_redraw_folds


def test_ratio_from_sizes_equals_ratio() -> None:
    a = corrected_ttest(B_METH, B_BASE, n_train=900, n_test=100)
    b = corrected_ttest(B_METH, B_BASE, test_train_ratio=1 / 9)
    assert a.p == pytest.approx(b.p, rel=1e-12) and a.test_train_ratio == pytest.approx(1 / 9)
    assert flags.RATIO_ASSUMED not in a.flags


def test_correction_only_ever_widens_relative_to_plain_t() -> None:
    plain = paired_ttest(B_METH, B_BASE)
    corrected = corrected_ttest(B_METH, B_BASE, test_train_ratio=1 / 9)
    assert corrected.p > plain.p
    assert corrected.ci_high - corrected.ci_low > plain.ci_high - plain.ci_low
    assert flags.INVALID_FOR_CV in plain.flags and flags.INVALID_FOR_CV not in corrected.flags


def test_plain_paired_t_matches_scipy_and_statsmodels() -> None:
    r = paired_ttest(B_METH, B_BASE)
    ref = sps.ttest_rel(B_METH, B_BASE)
    assert r.t == pytest.approx(ref.statistic, abs=1e-9) and r.p == pytest.approx(ref.pvalue, abs=1e-9)
    # statsmodels 0.15.0 DescrStatsW(d).ttest_mean / tconfint_mean
    assert r.t == pytest.approx(4.160994929677651, abs=1e-6)
    assert r.p == pytest.approx(0.0024440962785477, abs=1e-6)
    assert (r.ci_low, r.ci_high) == pytest.approx((0.0037876406319774965, 0.012812359368022518), abs=1e-9)
    ws = pytest.importorskip("statsmodels.stats.weightstats")
    d = ws.DescrStatsW(np.subtract(B_METH, B_BASE))
    t, p, _ = d.ttest_mean(0)
    assert (r.t, r.p) == pytest.approx((t, p), abs=1e-9)


@pytest.mark.parametrize("alternative", ["greater", "less"])
def test_one_sided_p_matches_scipy(alternative: str) -> None:
    r = paired_ttest(B_METH, B_BASE, alternative=alternative)
    assert r.p == pytest.approx(sps.ttest_rel(B_METH, B_BASE, alternative=alternative).pvalue, abs=1e-12)


def test_all_zero_differences_give_p_one_and_identical() -> None:
    r = corrected_ttest([0.7, 0.8, 0.75], [0.7, 0.8, 0.75], test_train_ratio=0.5)
    assert r.p == 1.0 and r.t == 0.0 and flags.IDENTICAL in r.flags and r.ci_low == r.ci_high == 0.0


def test_zero_variance_nonzero_mean_gives_sign_flip_p_not_zero() -> None:
    # every fold improves by exactly 0.1: t would be infinite and a naive p exactly 0
    base = np.array([0.6, 0.7, 0.65, 0.72, 0.68])
    r = corrected_ttest(base + 0.1, base, test_train_ratio=0.25)
    assert flags.ZERO_VARIANCE in r.flags
    assert r.t == math.inf and r.p == pytest.approx(2 / 2**5) and r.p > 0
    assert corrected_ttest(base - 0.1, base, test_train_ratio=0.25).t == -math.inf
    one = corrected_ttest(base + 0.1, base, test_train_ratio=0.25, alternative="greater")
    assert one.p == pytest.approx(1 / 2**5)
    assert corrected_ttest(base + 0.1, base, test_train_ratio=0.25, alternative="less").p == 1.0


@pytest.mark.parametrize(("k", "smallest", "few"), [(3, 0.25, True), (5, 0.0625, True), (6, 0.03125, False)])
def test_few_folds_flag_reports_smallest_rank_p(k: int, smallest: float, few: bool) -> None:
    base = np.linspace(0.6, 0.7, k)
    meth = base + np.linspace(0.01, 0.03, k)
    r = corrected_ttest(meth, base)
    assert r.min_rank_p == smallest
    assert (flags.FEW_FOLDS in r.flags) is few


def test_nan_is_an_error_unless_dropped() -> None:
    meth = [0.71, np.nan, 0.74, 0.73, 0.70]
    base = [0.70, 0.69, 0.72, 0.70, 0.69]
    with pytest.raises(UsageError, match="fold index 1 is NaN"):
        corrected_ttest(meth, base)
    r = corrected_ttest(meth, base, drop_nan=True, test_train_ratio=0.25)
    assert r.n == 4 and r.n_dropped == 1 and flags.NAN_DROPPED in r.flags
    same = corrected_ttest([0.71, 0.74, 0.73, 0.70], [0.70, 0.72, 0.70, 0.69], test_train_ratio=0.25)
    assert r.p == pytest.approx(same.p, rel=1e-12)


def test_nan_in_one_seed_keeps_the_fold_mean_of_the_others() -> None:
    meth = np.array(C_METH, dtype=float)
    meth[2, 3] = np.nan
    r = corrected_ttest(meth, C_BASE, drop_nan=True, test_train_ratio=0.25)
    assert r.n == 5 and r.n_dropped == 1
    d = np.array(C_METH) - np.array(C_BASE)
    fold3 = np.delete(d[:, 3], 2).mean()
    expected = d.mean(axis=0)
    expected[3] = fold3
    assert r.mean_diff == pytest.approx(expected.mean(), rel=1e-12)


def test_fewer_than_two_pairs_is_an_error() -> None:
    with pytest.raises(UsageError, match="at least 2"):
        corrected_ttest([0.7], [0.6], test_train_ratio=0.5)
    with pytest.raises(UsageError, match="at least 2 .*after dropping 1"):
        corrected_ttest([0.7, np.nan], [0.6, 0.5], test_train_ratio=0.5, drop_nan=True)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        (dict(test_train_ratio=0.5, n_train=10, n_test=5), "not both"),
        (dict(n_train=10), "go together"),
        (dict(test_train_ratio=-1.0), "positive"),
        (dict(n_train=0, n_test=5), "positive"),
        (dict(confidence=1.0), "confidence"),
        (dict(alternative="bigger"), "alternative"),
    ],
)
def test_bad_options_raise_usage_errors(kw, message) -> None:
    with pytest.raises(UsageError, match=message):
        corrected_ttest(B_METH, B_BASE, **kw)


def test_mismatched_shapes_and_infinities_are_errors() -> None:
    with pytest.raises(UsageError, match="shape"):
        corrected_ttest([0.1, 0.2, 0.3], [0.1, 0.2])
    with pytest.raises(UsageError, match="infinite"):
        corrected_ttest([0.1, np.inf, 0.3], [0.1, 0.2, 0.3])


@settings(max_examples=60, deadline=None)
@given(
    d=st.lists(st.floats(-5, 5, allow_nan=False), min_size=3, max_size=12),
    ratio=st.floats(0.01, 2.0),
)
def test_p_below_alpha_exactly_when_ci_excludes_zero(d: list[float], ratio: float) -> None:
    d_arr = np.round(np.array(d), 3)
    if np.ptp(d_arr) < 1e-3:
        return  # degenerate cases are covered above
    r = corrected_ttest(d_arr, np.zeros_like(d_arr), test_train_ratio=ratio)
    excludes = r.ci_low > 0 or r.ci_high < 0
    if abs(r.p - 0.05) > 1e-9:
        assert (r.p < 0.05) == excludes
    # swapping the roles flips the sign of t and keeps p
    flipped = corrected_ttest(np.zeros_like(d_arr), d_arr, test_train_ratio=ratio)
    assert flipped.t == pytest.approx(-r.t) and flipped.p == pytest.approx(r.p)


def test_corrected_test_holds_its_size_on_correlated_cv_like_differences() -> None:
    # Simulate r x k CV differences under the null with the fold correlation rho = 1/k that the correction
    # assumes: the corrected test must reject about 5%, the plain one far more often.
    rng = np.random.default_rng(2024)
    k, r, trials = 5, 10, 1000
    rho = 1 / k
    rejected_corrected = rejected_plain = 0
    for _ in range(trials):
        shared = rng.normal(size=1) * math.sqrt(rho)
        d = shared + rng.normal(size=(r, k)) * math.sqrt(1 - rho)
        rejected_corrected += corrected_ttest(d, np.zeros_like(d), seeds_redraw_folds=True,
                                              test_train_ratio=1 / (k - 1)).p < 0.05
        rejected_plain += paired_ttest(d, np.zeros_like(d), seeds_redraw_folds=True).p < 0.05
    assert rejected_corrected / trials < 0.08
    assert rejected_plain / trials > 0.3
