"""5×2cv t-test and combined F-test against mlxtend, and their degenerate cases."""

from __future__ import annotations

import numpy as np
import pytest

from tcrbench.errors import UsageError
from tcrbench.stats import five_by_two_cv, flags

# Accuracies (out of 150 test examples) of LogisticRegression (E1) and DecisionTree (E2) recorded from the
# scorer calls inside mlxtend 0.25.0 paired_ttest_5x2cv / combined_ftest_5x2cv on
# make_classification(n_samples=300, n_features=10, random_state=0), random_seed=1. mlxtend returned
# t = 0.7090791888705987, p = 0.5099598589321979 and F = 0.7430167597765358, p = 0.6784478301757135.
E1 = np.array([[142, 138], [136, 141], [140, 139], [137, 139], [139, 140]]) / 150
E2 = np.array([[139, 140], [137, 140], [140, 141], [144, 141], [144, 134]]) / 150


def test_matches_recorded_mlxtend_values() -> None:
    r = five_by_two_cv(E1, E2)
    assert r.t == pytest.approx(0.7090791888705987, abs=1e-9)
    assert r.t_p == pytest.approx(0.5099598589321979, abs=1e-9)
    assert r.f == pytest.approx(0.7430167597765358, abs=1e-9)
    assert r.f_p == pytest.approx(0.6784478301757135, abs=1e-9)
    assert r.t_df == 5 and r.f_df == (10, 5)


@pytest.mark.slow  # mlxtend and scikit-learn imports plus ten model fits
def test_matches_mlxtend_live_on_fresh_data() -> None:
    evaluate = pytest.importorskip("mlxtend.evaluate")
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score
    from sklearn.naive_bayes import GaussianNB

    X, y = make_classification(n_samples=200, n_features=6, random_state=3)
    for fn, attr in ((evaluate.paired_ttest_5x2cv, ("t", "t_p")), (evaluate.combined_ftest_5x2cv, ("f", "f_p"))):
        seen: list[float] = []

        def scorer(est, X_, y_, seen=seen):
            seen.append(accuracy_score(y_, est.predict(X_)))
            return seen[-1]

        stat, p = fn(LogisticRegression(max_iter=500), GaussianNB(), X, y, scoring=scorer, random_seed=7)
        cells = np.array(seen).reshape(5, 2, 2)  # replication, fold, estimator (est1 scored first)
        r = five_by_two_cv(cells[:, :, 0], cells[:, :, 1])
        assert getattr(r, attr[0]) == pytest.approx(stat, abs=1e-9)
        assert getattr(r, attr[1]) == pytest.approx(p, abs=1e-9)


def test_swapping_methods_flips_t_and_keeps_f() -> None:
    a, b = five_by_two_cv(E1, E2), five_by_two_cv(E2, E1)
    assert b.t == pytest.approx(-a.t) and b.t_p == pytest.approx(a.t_p) and b.f == pytest.approx(a.f)


def test_identical_and_zero_variance() -> None:
    same = five_by_two_cv(E1, E1)
    assert same.t_p == 1.0 and same.f_p == 1.0 and flags.IDENTICAL in same.flags
    shifted = five_by_two_cv(E1 + 0.01, E1)
    assert flags.ZERO_VARIANCE in shifted.flags
    assert shifted.t_p == pytest.approx(2 / 2**10) and shifted.f_p > 0
    # differences constant within each replication but not across them: still zero variance, exact p
    steps = np.repeat(np.array([[0.01], [0.02], [0.01], [0.03], [0.02]]), 2, axis=1)
    r = five_by_two_cv(E1 + steps, E1)
    assert flags.ZERO_VARIANCE in r.flags and r.t_p == pytest.approx(2 / 2**10)


def test_shape_and_nan_errors() -> None:
    with pytest.raises(UsageError, match=r"shape \(5, 2\)"):
        five_by_two_cv(np.zeros((2, 5)), np.zeros((2, 5)))
    bad = E1.copy()
    bad[3, 1] = np.nan
    with pytest.raises(UsageError, match="replication 3, fold 1"):
        five_by_two_cv(bad, E2)
