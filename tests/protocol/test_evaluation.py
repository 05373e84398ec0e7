"""choose_threshold (balanced accuracy on the training fold) and evaluate (a flat dict of numbers)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import balanced_accuracy_score

from tcrbench.errors import UsageError
from tcrbench.run.evaluation import choose_threshold, evaluate, evaluate_details, reasons
from tcrbench_plugins.metrics import METRICS, Accuracy, Auroc, BalancedAccuracy, MacroAuroc


def balanced(y, s, t):
    return balanced_accuracy_score(y, (np.asarray(s) >= t).astype(int))


def test_separable_training_scores_give_perfect_balanced_accuracy():
    rng = np.random.default_rng(0)
    y = (rng.random(300) < 0.2).astype(int)
    s = np.where(y == 1, rng.uniform(0.6, 1.0, 300), rng.uniform(0.0, 0.4, 300))
    t = choose_threshold(y, s)
    assert balanced(y, s, t) == 1.0
    # the cut-off lies inside the gap, not on the lowest positive: new rows just below it are still negative
    assert s[y == 0].max() < t < s[y == 1].min()


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 20)), min_size=2, max_size=60))
def test_threshold_maximises_balanced_accuracy_over_every_cut(rows):
    y = np.array([r[0] for r in rows])
    s = np.array([r[1] for r in rows], dtype=float) / 7  # many ties
    if len(np.unique(y)) < 2:
        with pytest.raises(UsageError, match="only"):
            choose_threshold(y, s)
        return
    t = choose_threshold(y, s)
    cuts = np.append(np.unique(s), np.inf)
    assert balanced(y, s, t) == pytest.approx(max(balanced(y, s, c) for c in cuts))


def test_ties_go_to_the_higher_cut_off():
    # constant scores: "all positive" and "all negative" both give balanced accuracy 0.5; pick all negative
    t = choose_threshold([0, 0, 0, 1], [0.25, 0.25, 0.25, 0.25])
    assert t > 0.25


def test_choose_threshold_rejects_bad_input_with_the_reason():
    with pytest.raises(UsageError, match="only negatives"):
        choose_threshold([0, 0], [0.1, 0.2])
    with pytest.raises(UsageError, match="1 scores are NaN"):
        choose_threshold([0, 1], [0.1, float("nan")])
    with pytest.raises(UsageError, match="expected 2 scores"):
        choose_threshold([0, 1], [0.1, 0.2, 0.3])
    with pytest.raises(UsageError, match="labels must be 0 or 1, row 1 holds 2"):
        choose_threshold([0, 2], [0.1, 0.2])


def test_evaluate_flattens_values_and_numeric_extras():
    peps = np.array(["A"] * 10 + ["B"] * 10)
    y = np.array([1] * 5 + [0] * 5 + [1] * 5 + [0] * 5)
    s = np.r_[np.linspace(1, 0, 10), np.linspace(0, 1, 10)]  # A ranked perfectly, B backwards
    out = evaluate([cls() for cls in METRICS], y, s, peps, threshold=0.5)
    assert set(out) == {cls.name for cls in METRICS} | {"macro_auroc_n_peptides", "macro_auroc_n_peptides_tested"}
    assert all(isinstance(v, float) for v in out.values())
    assert out["macro_auroc"] == pytest.approx(0.5) and out["macro_auroc_n_peptides"] == 2.0
    assert out["accuracy"] == pytest.approx(0.5)


def test_evaluate_keeps_nan_and_reasons_explains_it():
    details = evaluate_details([Auroc(), MacroAuroc()], [0, 0, 0], [0.1, 0.2, 0.3], ["A"] * 3, threshold=0.5)
    assert math.isnan(details["auroc"].value)
    assert reasons(details) == {"auroc": "only negatives in y_true", "macro_auroc": "only negatives in y_true"}
    flat = evaluate([Auroc(), BalancedAccuracy()], [0, 0, 0], [0.1, 0.2, 0.3], ["A"] * 3, threshold=0.5)
    assert math.isnan(flat["auroc"]) and math.isnan(flat["balanced_accuracy"])


def test_evaluate_rejects_mismatched_or_duplicated_input():
    with pytest.raises(UsageError, match="expected 2 peptides"):
        evaluate([Auroc()], [0, 1], [0.1, 0.2], ["A"], threshold=0.5)
    with pytest.raises(UsageError, match="'accuracy' is listed twice"):
        evaluate([Accuracy(), Accuracy()], [0, 1], [0.1, 0.2], ["A", "A"], threshold=0.5)
