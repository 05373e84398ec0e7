"""Metrics: hand-computed values on tiny examples, agreement with scikit-learn, NaN (not a crash) on one class."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm

from tcrbench.errors import UsageError
from tcrbench.plugins.protocols import Metric
from tcrbench_plugins.metrics import (
    F1,
    METRICS,
    Accuracy,
    Auc01,
    Auprc,
    Auroc,
    BalancedAccuracy,
    MacroAuroc,
    Mcc,
)


def call(metric, y, s, peptides=None, threshold=0.5):
    y, s = np.asarray(y), np.asarray(s, dtype=float)
    peps = np.asarray(["P"] * len(y) if peptides is None else peptides)
    return metric(y, s, peptides=peps, threshold=threshold)


# ---------------------------------------------------------------- by hand
def test_auroc_counts_correctly_ordered_pairs():
    # positives 0.35 and 0.8 against negatives 0.1 and 0.4: 3 of 4 pairs ordered correctly
    assert call(Auroc(), [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]).value == pytest.approx(0.75)


def test_auprc_is_step_wise_average_precision():
    # ranks: 0.9 (pos) P=1 R=.5 · 0.8 (neg) · 0.7 (pos) P=2/3 R=1 -> AP = .5*1 + .5*2/3
    assert call(Auprc(), [1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]).value == pytest.approx(0.5 + 1 / 3)


def test_auc01_is_mcclish_standardised_partial_area():
    # 2 positives, 10 negatives. Up to FPR 0.1 the ROC curve sits at TPR 0.5: raw partial area 0.05.
    y = [1, 0, 1] + [0] * 9
    s = [0.95, 0.9, 0.5] + [0.4 - 0.01 * i for i in range(9)]
    raw, lo, hi = 0.1 * 0.5, 0.1 ** 2 / 2, 0.1
    assert call(Auc01(), y, s).value == pytest.approx(0.5 * (1 + (raw - lo) / (hi - lo)))  # 0.7368...


def test_thresholded_metrics_on_a_confusion_matrix():
    # threshold 0.5 -> predictions [1, 0, 1, 0, 0]: TP=1 FN=1 FP=1 TN=2
    y, s = [1, 1, 0, 0, 0], [0.9, 0.4, 0.6, 0.2, 0.1]
    assert call(Accuracy(), y, s).value == pytest.approx(3 / 5)
    assert call(BalancedAccuracy(), y, s).value == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert call(F1(), y, s).value == pytest.approx(2 / 4)
    assert call(Mcc(), y, s).value == pytest.approx((1 * 2 - 1 * 1) / math.sqrt(2 * 2 * 3 * 3))
    # a score equal to the threshold counts as positive
    assert call(Accuracy(), y, s, threshold=0.4).value == pytest.approx(4 / 5)  # 0.4 -> 1: TP=2 FP=1 TN=2


def test_macro_auroc_averages_qualifying_peptides_by_hand():
    peps = ["A"] * 3 + ["B"] * 4 + ["C"] * 2 + ["D"] * 2
    y = [1, 1, 0] + [1, 1, 0, 0] + [1, 0] + [1, 1]
    s = [0.9, 0.2, 0.5] + [0.6, 0.7, 0.1, 0.65] + [0.0, 1.0] + [0.3, 0.3]
    # A: 0.9>0.5 yes, 0.2>0.5 no -> 0.5 · B: 3 of 4 pairs -> 0.75 · C: 1 positive (< 2) out · D: no negative out
    out = call(MacroAuroc(min_positives=2), y, s, peps)
    assert out.value == pytest.approx((0.5 + 0.75) / 2)
    assert out.extra == {"n_peptides": 2, "n_peptides_tested": 4}
    # the pooled AUROC of the same rows is a different number: the two answer different questions
    assert call(Auroc(), y, s).value != pytest.approx(out.value)


def test_macro_auroc_default_needs_five_positives_and_is_nan_with_a_reason_otherwise():
    out = call(MacroAuroc(), [1, 1, 1, 1, 0, 0], [0.9, 0.8, 0.7, 0.6, 0.1, 0.2])
    assert math.isnan(out.value)
    assert "at least 5 positives" in out.extra["reason"] and out.extra["n_peptides"] == 0
    assert call(MacroAuroc(), [1] * 5 + [0], [0.9, 0.8, 0.7, 0.6, 0.5, 0.1]).value == 1.0
    with pytest.raises(ValueError, match="min_positives"):
        MacroAuroc(min_positives=0)


# ---------------------------------------------------------------- against scikit-learn on random data
@pytest.mark.parametrize("seed", range(5))
def test_metrics_agree_with_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    n = 400
    y = (rng.random(n) < 0.25).astype(int)
    s = rng.normal(size=n) + y * rng.uniform(0, 2)
    s[rng.integers(0, n, 40)] = 0.0  # ties
    peps = rng.choice(["AAA", "BBB", "CCC", "DDD"], n)
    t = float(np.quantile(s, 0.7))
    pred = (s >= t).astype(int)
    expected = {
        "auroc": skm.roc_auc_score(y, s),
        "auprc": skm.average_precision_score(y, s),
        "auc01": skm.roc_auc_score(y, s, max_fpr=0.1),
        "accuracy": skm.accuracy_score(y, pred),
        "balanced_accuracy": skm.balanced_accuracy_score(y, pred),
        "mcc": skm.matthews_corrcoef(y, pred),
        "f1": skm.f1_score(y, pred),
        "macro_auroc": np.mean([skm.roc_auc_score(y[peps == p], s[peps == p]) for p in np.unique(peps)]),
    }
    got = {cls.name: call(cls(), y, s, peps, threshold=t).value for cls in METRICS}
    assert got == pytest.approx(expected)


# ---------------------------------------------------------------- contract
@pytest.mark.parametrize("cls", METRICS, ids=lambda c: c.name)
@pytest.mark.parametrize("y", [[0, 0, 0], [1, 1, 1]], ids=["negatives", "positives"])
def test_single_class_gives_nan_and_a_reason(cls, y):
    out = call(cls(), y, [0.2, 0.5, 0.9])
    assert math.isnan(out.value)
    assert "only" in out.extra["reason"]


@pytest.mark.parametrize("cls", METRICS, ids=lambda c: c.name)
def test_each_metric_follows_the_protocol(cls):
    metric = cls()
    assert isinstance(metric, Metric)
    assert cls.needs_threshold is (cls in (Accuracy, BalancedAccuracy, Mcc, F1))
    # ranking metrics ignore the threshold; thresholded ones depend on it
    y, s = [0, 1, 0, 1, 1, 0, 1, 1, 1, 1, 0], [0.1, 0.4, 0.35, 0.8, 0.9, 0.7, 0.6, 0.55, 0.3, 0.95, 0.2]
    a, b = call(metric, y, s, threshold=0.3).value, call(metric, y, s, threshold=0.75).value
    assert (a != b) is cls.needs_threshold


def test_thresholded_metric_without_a_threshold_is_a_usage_error():
    with pytest.raises(UsageError, match="'accuracy' needs a threshold"):
        call(Accuracy(), [0, 1], [0.1, 0.9], threshold=float("nan"))
