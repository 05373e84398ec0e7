"""d_z, wins/ties/losses, and the Holm and Benjamini–Hochberg corrections."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from tcrbench.errors import UsageError
from tcrbench.stats import benjamini_hochberg, cohens_dz, holm, wins_ties_losses

B_BASE = [0.712, 0.698, 0.731, 0.705, 0.689, 0.720, 0.701, 0.715, 0.694, 0.708]
B_METH = [0.725, 0.701, 0.729, 0.718, 0.702, 0.731, 0.699, 0.728, 0.707, 0.716]

# Benjamini & Hochberg (1995), section 4.1: 15 p-values from a study of myocardial infarction treatment.
# Published: at q = 0.05 the BH procedure rejects the 4 smallest; Bonferroni (0.05/15) rejects 3.
BH_1995 = [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459,
           0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.0000]


def test_dz_is_t_over_sqrt_n() -> None:
    t = sps.ttest_rel(B_METH, B_BASE).statistic
    assert cohens_dz(B_METH, B_BASE) == pytest.approx(t / math.sqrt(10), rel=1e-12)
    d = np.subtract(B_METH, B_BASE)
    assert cohens_dz(B_METH, B_BASE) == pytest.approx(d.mean() / d.std(ddof=1), rel=1e-12)


def test_dz_degenerate_cases() -> None:
    assert cohens_dz([0.7, 0.8], [0.7, 0.8]) == 0.0
    assert cohens_dz([0.8, 0.9, 1.0], [0.7, 0.8, 0.9]) == math.inf
    assert cohens_dz([0.6, 0.7, 0.8], [0.7, 0.8, 0.9]) == -math.inf


def test_wins_ties_losses_respect_resolution() -> None:
    meth = [0.7512, 0.7498, 0.7600, 0.7400]
    base = [0.7509, 0.7502, 0.7500, 0.7500]
    exact = wins_ties_losses(meth, base)
    assert (exact.wins, exact.ties, exact.losses) == (2, 0, 2)
    rounded = wins_ties_losses(meth, base, resolution=0.001)  # 0.751 vs 0.751, 0.750 vs 0.750
    assert (rounded.wins, rounded.ties, rounded.losses) == (1, 2, 1)
    lower = wins_ties_losses(meth, base, resolution=0.001, higher_is_better=False)
    assert (lower.wins, lower.ties, lower.losses) == (1, 2, 1)
    assert wins_ties_losses([0.1 + 0.2], [0.3]).ties == 1  # float noise is a tie
    with pytest.raises(UsageError, match="resolution"):
        wins_ties_losses(meth, base, resolution=0.0)
    with pytest.raises(UsageError, match="NaN"):
        wins_ties_losses([0.7, np.nan], [0.6, 0.6])
    assert wins_ties_losses([0.7, np.nan], [0.6, 0.6], drop_nan=True).wins == 1


def test_benjamini_hochberg_1995_example() -> None:
    adjusted = benjamini_hochberg(BH_1995)
    assert int(np.sum(adjusted <= 0.05)) == 4
    assert int(np.sum(holm(BH_1995) <= 0.05)) == 3
    assert int(np.sum(np.array(BH_1995) <= 0.05 / 15)) == 3


def test_recorded_statsmodels_values_in_input_order() -> None:
    shuffled = [0.0201, 0.0001, 0.3240, 0.0095, 0.0278, 0.0004, 0.0459, 0.7590,
                0.0019, 0.0298, 0.6528, 0.0344, 1.0, 0.4262, 0.5719]
    # statsmodels 0.15.0 multipletests(p, method="holm" / "fdr_bh")[1]
    sm_holm = [0.2211, 0.0015, 1.0, 0.114, 0.278, 0.0056, 0.3213, 1.0, 0.0247, 0.278, 1.0, 0.278, 1.0, 1.0, 1.0]
    sm_bh = [0.0603, 0.0015, 0.486, 0.035625, 0.06385714285714286, 0.003, 0.0765, 0.8132142857142857, 0.0095,
             0.06385714285714286, 0.7532307692307693, 0.0645, 1.0, 0.5811818181818182, 0.714875]
    np.testing.assert_allclose(holm(shuffled), sm_holm, atol=1e-12)
    np.testing.assert_allclose(benjamini_hochberg(shuffled), sm_bh, atol=1e-12)


@pytest.mark.slow  # importing statsmodels alone takes seconds on a loaded 2-core machine
@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=1, max_size=25))
def test_against_statsmodels_live(p: list[float]) -> None:
    multitest = pytest.importorskip("statsmodels.stats.multitest")
    np.testing.assert_allclose(holm(p), multitest.multipletests(p, method="holm")[1], atol=1e-12)
    np.testing.assert_allclose(benjamini_hochberg(p), multitest.multipletests(p, method="fdr_bh")[1], atol=1e-12)
    # adjusted values never fall below the raw ones, and BH is never more conservative than Holm
    assert np.all(holm(p) >= np.array(p) - 1e-15)
    assert np.all(benjamini_hochberg(p) <= holm(p) + 1e-15)


def test_corrections_reject_non_probabilities() -> None:
    with pytest.raises(UsageError, match="index 1"):
        holm([0.1, np.nan])
    with pytest.raises(UsageError, match="index 0"):
        benjamini_hochberg([1.5])
    assert holm([]).size == 0
