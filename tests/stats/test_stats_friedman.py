"""Friedman and Nemenyi on Demšar's (2006) worked example, and against SciPy and scikit-posthocs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from tcrbench.errors import UsageError
from tcrbench.stats import critical_difference, flags, friedman, nemenyi

METHODS = ("C4.5", "C4.5+m", "C4.5+cf", "C4.5+m+cf")
# Demšar (2006), Table 6 (AUC, 14 datasets). The table prints 0.975 twice for "voting", but its ranks
# (C4.5+cf 2nd, C4.5+m+cf 3rd) need the unrounded value: 0.9751 reproduces the published ranks.
DEMSAR = np.array([
    [0.763, 0.768, 0.771, 0.798], [0.599, 0.591, 0.590, 0.569], [0.954, 0.971, 0.968, 0.967],
    [0.628, 0.661, 0.654, 0.657], [0.882, 0.888, 0.886, 0.898], [0.936, 0.931, 0.916, 0.931],
    [0.661, 0.668, 0.609, 0.685], [0.583, 0.583, 0.563, 0.625], [0.775, 0.838, 0.866, 0.875],
    [1.000, 1.000, 1.000, 1.000], [0.940, 0.962, 0.965, 0.962], [0.619, 0.666, 0.614, 0.669],
    [0.972, 0.981, 0.9751, 0.975], [0.957, 0.978, 0.946, 0.970],
])


def test_demsar_published_numbers() -> None:
    r = friedman(DEMSAR, methods=METHODS, tie_correction=False)
    # published: average ranks 3.143, 2.000, 2.893, 1.964; chi2_F = 9.28; F_F = 3.69 with (3, 39) df
    np.testing.assert_allclose(r.mean_ranks, [3.143, 2.000, 2.893, 1.964], atol=5e-4)
    assert round(r.statistic, 2) == 9.28 and round(r.iman_davenport_f, 2) == 3.69
    assert r.iman_davenport_df == (3, 39) and r.iman_davenport_p < 0.05
    n = nemenyi(DEMSAR, methods=METHODS)
    # published: q_0.05 = 2.569 for k = 4, CD = 1.25; Bonferroni-Dunn q = 2.394, CD = 1.17; Nemenyi at 0.10: 1.12
    assert round(n.q_alpha, 3) == 2.569 and round(n.cd, 2) == 1.25
    assert round(critical_difference(4, 14, method="bonferroni-dunn"), 2) == 1.17
    assert round(critical_difference(4, 14, alpha=0.10), 2) == 1.12
    assert critical_difference(4, 14) == pytest.approx(n.cd)


@pytest.mark.parametrize(("k", "q"), [(2, 1.960), (3, 2.343), (5, 2.728), (10, 3.164)])
def test_nemenyi_q_table(k: int, q: float) -> None:
    # Demšar (2006), Table 5(a), alpha = 0.05; printed to 3 decimals, truncated (2.3437 appears as 2.343)
    assert critical_difference(k, 6) / math.sqrt(k * (k + 1) / 36) == pytest.approx(q, abs=1e-3)


def test_tie_corrected_statistic_matches_scipy() -> None:
    r = friedman(DEMSAR)
    ref = sps.friedmanchisquare(*DEMSAR.T)
    assert r.statistic == pytest.approx(ref.statistic, abs=1e-9) and r.p == pytest.approx(ref.pvalue, abs=1e-9)
    # scipy 1.17.1, recorded
    assert r.statistic == pytest.approx(10.228346456692925, abs=1e-9)
    assert r.p == pytest.approx(0.016721580328441323, abs=1e-9)


def test_nemenyi_p_values_match_scikit_posthocs() -> None:
    n = nemenyi(DEMSAR)
    # scikit-posthocs 0.17.1 posthoc_nemenyi_friedman(DEMSAR)
    recorded = [[1.0, 0.088673, 0.956177, 0.074185], [0.088673, 1.0, 0.259228, 0.999859],
                [0.956177, 0.259228, 1.0, 0.226697], [0.074185, 0.999859, 0.226697, 1.0]]
    np.testing.assert_allclose(n.p_values, recorded, atol=1e-6)
    sp = pytest.importorskip("scikit_posthocs")
    np.testing.assert_allclose(n.p_values, sp.posthoc_nemenyi_friedman(DEMSAR).to_numpy(), atol=1e-9)


def test_direction_of_ranking() -> None:
    losses = 1.0 - DEMSAR
    r = friedman(losses, higher_is_better=False)
    np.testing.assert_allclose(r.mean_ranks, friedman(DEMSAR).mean_ranks)


def test_perfect_agreement_and_all_ties() -> None:
    same_order = np.array([[0.9, 0.8, 0.7], [0.6, 0.5, 0.4], [0.95, 0.9, 0.85]])
    r = friedman(same_order, tie_correction=False)
    assert r.mean_ranks == (1.0, 2.0, 3.0)
    assert r.iman_davenport_f == math.inf
    assert r.iman_davenport_p == pytest.approx(6.0**-2) and r.iman_davenport_p > 0
    ties = friedman(np.full((4, 3), 0.5))
    assert ties.p == 1.0 and flags.IDENTICAL in ties.flags


def test_bad_inputs() -> None:
    with pytest.raises(UsageError, match="at least 2"):
        friedman(np.ones((1, 3)))
    bad = DEMSAR.copy()
    bad[2, 1] = np.nan
    with pytest.raises(UsageError, match="dataset row 2, method column 1"):
        friedman(bad)
    with pytest.raises(UsageError, match="names"):
        friedman(DEMSAR, methods=["a", "b"])
