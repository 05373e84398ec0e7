"""Built-in metrics, computed by scikit-learn.

Every metric returns NaN with a `reason` extra on a test fold holding a single class, instead of raising: a
peptide-disjoint fold can legitimately end up like that, and one undefined number must not sink a whole run.
AUROC is the primary metric; accuracy is here because papers report it, and it misleads at 1:3 or 1:5.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from sklearn import metrics as skm

from tcrbench.errors import UsageError
from tcrbench.plugins.hookspecs import Register, hookimpl
from tcrbench.plugins.params import param
from tcrbench.plugins.protocols import MetricValue
from tcrbench.run.evaluation import single_class_reason


def _nan(reason: str, **extra: object) -> MetricValue:
    return MetricValue(float("nan"), {"reason": reason, **extra})


@dataclass
class _SklearnMetric:
    """One scikit-learn score of a fold: `_fn(y_true, y_score)`, or of the 0/1 predictions `y_score >= threshold`
    when the metric needs a threshold. NaN with a reason on a single-class fold, for every metric alike."""

    name: ClassVar[str]
    needs_threshold: ClassVar[bool]
    _fn: ClassVar[Callable[..., float]]  # of (y_true, y_score), or of (y_true, 0/1 predictions)

    def __call__(
        self, y_true: np.ndarray, y_score: np.ndarray, *, peptides: np.ndarray, threshold: float
    ) -> MetricValue:
        if self.needs_threshold and (threshold is None or np.isnan(threshold)):
            raise UsageError(f"metric {self.name!r} needs a threshold, got {threshold!r}")
        reason = single_class_reason(np.asarray(y_true))
        if reason is not None:
            return _nan(reason)
        if self.needs_threshold:
            y_score = (np.asarray(y_score) >= threshold).astype(np.int64)
        return MetricValue(float(type(self)._fn(y_true, y_score)))


@dataclass
class _Ranking(_SklearnMetric):
    """A metric of the score ranking alone; the threshold is ignored."""

    needs_threshold: ClassVar[bool] = False


@dataclass
class _Thresholded(_SklearnMetric):
    """A metric of the 0/1 predictions `score >= threshold`, the threshold chosen on the training fold."""

    needs_threshold: ClassVar[bool] = True


def _auc01(y_true: np.ndarray, y_score: np.ndarray) -> float:
    return skm.roc_auc_score(y_true, y_score, max_fpr=0.1)


def _f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return skm.f1_score(y_true, y_pred, zero_division=0.0)


@dataclass
class Auroc(_Ranking):
    name: ClassVar[str] = "auroc"
    description: ClassVar[str] = "area under the ROC curve over all test rows (the primary metric)"
    _fn = staticmethod(skm.roc_auc_score)


@dataclass
class Auprc(_Ranking):
    name: ClassVar[str] = "auprc"
    description: ClassVar[str] = "average precision (step-wise area under the precision-recall curve)"
    _fn = staticmethod(skm.average_precision_score)


@dataclass
class Auc01(_Ranking):
    name: ClassVar[str] = "auc01"
    description: ClassVar[str] = "partial AUROC up to FPR 0.1, McClish-standardised (0.5 = chance, 1 = perfect)"
    _fn = staticmethod(_auc01)


@dataclass
class Accuracy(_Thresholded):
    name: ClassVar[str] = "accuracy"
    description: ClassVar[str] = "share of correct 0/1 predictions (misleading: at 1:3 all-negative scores 75%)"
    _fn = staticmethod(skm.accuracy_score)


@dataclass
class BalancedAccuracy(_Thresholded):
    name: ClassVar[str] = "balanced_accuracy"
    description: ClassVar[str] = "mean of sensitivity and specificity of the 0/1 predictions"
    _fn = staticmethod(skm.balanced_accuracy_score)


@dataclass
class Mcc(_Thresholded):
    name: ClassVar[str] = "mcc"
    description: ClassVar[str] = "Matthews correlation of the 0/1 predictions (0 when all predictions are one class)"
    _fn = staticmethod(skm.matthews_corrcoef)


@dataclass
class F1(_Thresholded):
    name: ClassVar[str] = "f1"
    description: ClassVar[str] = "F1 of the positive class (0 when nothing is predicted positive)"
    _fn = staticmethod(_f1)


@dataclass
class MacroAuroc:
    name: ClassVar[str] = "macro_auroc"
    description: ClassVar[str] = "AUROC per test peptide, averaged over peptides with enough positives and a negative"
    needs_threshold: ClassVar[bool] = False
    min_positives: int = param(5, help="a peptide counts only with at least this many positives in the test fold")

    def __post_init__(self) -> None:
        if self.min_positives < 1:
            raise ValueError(f"min_positives must be at least 1, got {self.min_positives}")

    def __call__(
        self, y_true: np.ndarray, y_score: np.ndarray, *, peptides: np.ndarray, threshold: float
    ) -> MetricValue:
        y, s, peps = np.asarray(y_true), np.asarray(y_score), np.asarray(peptides)
        if peps.shape != y.shape:
            raise UsageError(f"metric 'macro_auroc': expected {len(y)} peptides, got shape {peps.shape}")
        names, inverse = np.unique(peps, return_inverse=True)
        reason = single_class_reason(y)
        if reason is not None:
            return _nan(reason, n_peptides=0, n_peptides_tested=len(names))
        positives = np.bincount(inverse, weights=y, minlength=len(names))
        rows = np.bincount(inverse, minlength=len(names))
        qualifies = (positives >= self.min_positives) & (rows > positives)
        per_peptide = [skm.roc_auc_score(y[inverse == i], s[inverse == i]) for i in np.flatnonzero(qualifies)]
        extra = {"n_peptides": len(per_peptide), "n_peptides_tested": len(names)}
        if not per_peptide:
            return _nan(f"no test peptide has at least {self.min_positives} positives and one negative", **extra)
        return MetricValue(float(np.mean(per_peptide)), extra)


METRICS: tuple[type, ...] = (Auroc, Auprc, Auc01, Accuracy, BalancedAccuracy, Mcc, F1, MacroAuroc)


@hookimpl
def register_metrics(register: Register) -> None:
    for cls in METRICS:
        register(cls)
