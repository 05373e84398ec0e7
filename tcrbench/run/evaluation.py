"""Scoring one test fold: the threshold rule, input checks shared by every metric, and a flat dict of numbers.

The threshold is chosen on the training fold's scores, never on the test fold: a threshold tuned on test rows
would flatter every thresholded metric. The rule maximises balanced accuracy (equivalently Youden's J =
TPR - FPR), because at 1:3 or 1:5 negatives a rule that maximises plain accuracy drifts towards "always
negative", which scores 75-83% while finding no binder.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import roc_curve

from tcrbench.errors import UsageError
from tcrbench.plugins.protocols import MetricValue


def as_labels(y: Any, who: str) -> np.ndarray:
    """0/1 labels as int64, or a UsageError naming `who` and the first bad row (never a silent cast)."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise UsageError(f"{who}: labels must be one-dimensional, got shape {y.shape}")
    if y.dtype.kind == "f" and np.isnan(y).any():
        raise UsageError(f"{who}: labels contain NaN (row {int(np.flatnonzero(np.isnan(y))[0])})")
    bad = np.flatnonzero((y != 0) & (y != 1))
    if len(bad):
        raise UsageError(f"{who}: labels must be 0 or 1, row {int(bad[0])} holds {y[bad[0]].item()!r}")
    return y.astype(np.int64)


def as_scores(s: Any, n: int, who: str) -> np.ndarray:
    """`n` scores as float64; NaN is refused (no metric can rank it), infinities are kept."""
    s = np.asarray(s, dtype=np.float64)
    if s.shape != (n,):
        raise UsageError(f"{who}: expected {n} scores (one per label), got shape {s.shape}")
    nan = np.flatnonzero(np.isnan(s))
    if len(nan):
        raise UsageError(f"{who}: {len(nan)} scores are NaN (first at row {int(nan[0])})")
    return s


def single_class_reason(y: np.ndarray) -> str | None:
    """Why a two-class metric is undefined here, or None when both classes are present."""
    if len(y) == 0:
        return "no rows"
    positives = int(y.sum())
    if positives == 0:
        return "only negatives in y_true"
    if positives == len(y):
        return "only positives in y_true"
    return None


def choose_threshold(y_train: Any, s_train: Any) -> float:
    """The score cut-off (predict positive when score >= threshold) that maximises balanced accuracy on training rows.

    Ties go to the higher cut-off (fewer predicted positives). The cut-off sits half-way between the chosen
    training score and the next lower one, so test scores that fall in the gap are not decided by float noise.
    """
    y = as_labels(y_train, "choose_threshold")
    s = as_scores(s_train, len(y), "choose_threshold")
    reason = single_class_reason(y)
    if reason is not None:
        raise UsageError(f"choose_threshold: the training fold has {reason}; a threshold cannot be chosen")
    fpr, tpr, thresholds = roc_curve(y, s, drop_intermediate=False)
    best = int(np.argmax(tpr - fpr))  # first maximum = highest threshold among ties
    if best == 0:  # predicting no positive at all is best: put the cut-off just above every score
        return float(np.nextafter(s.max(), np.inf))
    chosen = float(thresholds[best])
    if best + 1 < len(thresholds):
        lower = float(thresholds[best + 1])
        middle = (chosen + lower) / 2
        if math.isfinite(middle) and lower < middle <= chosen:
            return middle
    return chosen


def evaluate_details(
    metrics: Sequence[Any], y_true: Any, y_score: Any, peptides: Any, threshold: float
) -> dict[str, MetricValue]:
    """Each metric's MetricValue by name, after checking the inputs once."""
    y = as_labels(y_true, "evaluate")
    s = as_scores(y_score, len(y), "evaluate")
    peps = np.asarray(peptides)
    if peps.shape != y.shape:
        raise UsageError(f"evaluate: expected {len(y)} peptides (one per label), got shape {peps.shape}")
    out: dict[str, MetricValue] = {}
    for metric in metrics:
        if metric.name in out:
            raise UsageError(f"evaluate: metric {metric.name!r} is listed twice")
        out[metric.name] = metric(y, s, peptides=peps, threshold=float(threshold))
    return out


def flatten(values: dict[str, MetricValue]) -> dict[str, float]:
    """`{"macro_auroc": MetricValue(0.7, {"n_peptides": 12})}` -> `{"macro_auroc": 0.7, "macro_auroc_n_peptides": 12}`.

    Only numbers are kept; text extras (the reason a value is NaN) are available from `reasons`.
    """
    flat: dict[str, float] = {}
    for name, mv in values.items():
        flat[name] = float(mv.value)
        for key, extra in mv.extra.items():
            if isinstance(extra, (bool, int, float, np.integer, np.floating)):
                flat[f"{name}_{key}"] = float(extra)
    return flat


def reasons(values: dict[str, MetricValue]) -> dict[str, str]:
    """Why each NaN metric is NaN, by metric name."""
    return {name: str(mv.extra.get("reason", "undefined")) for name, mv in values.items() if math.isnan(mv.value)}


def evaluate(metrics: Sequence[Any], y_true: Any, y_score: Any, peptides: Any, threshold: float) -> dict[str, float]:
    """All metrics of one test fold as a flat dict of floats (NaN where a metric is undefined on this fold)."""
    return flatten(evaluate_details(metrics, y_true, y_score, peptides, threshold))
