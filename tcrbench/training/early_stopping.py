"""Early stopping on an inner validation split, with the best weights restored.

Every neural arm of a cell gets the same rule and the same maxima, so the comparison stays fair; only the training
fold is ever split, so the test fold is never looked at until the end. Validation AUROC, not loss, is the default
signal: on these tables the loss often sits flat for tens of epochs before the model starts to separate the classes,
and a loss-based rule stops before learning begins.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from torch import nn


@dataclass
class EarlyStopping:
    """Tracks a validation score per epoch; `update` says whether to go on. Higher is better."""

    patience: int
    min_delta: float = 0.0
    curve: list[float] = field(default_factory=list)
    best_score: float = -np.inf
    best_epoch: int = 0
    best_state: dict[str, Any] | None = None

    def update(self, score: float, model: nn.Module) -> bool:
        """Record the score of the epoch just finished; keep the weights if best. False means stop now."""
        self.curve.append(float(score))
        epoch = len(self.curve)
        if np.isfinite(score) and (self.best_state is None or score > self.best_score + self.min_delta):
            self.best_score, self.best_epoch = float(score), epoch
            self.best_state = copy.deepcopy({k: v.detach() for k, v in model.state_dict().items()})
        if self.patience <= 0:
            return True
        return epoch - self.best_epoch < self.patience

    def restore(self, model: nn.Module) -> None:
        """Put the best epoch's weights back (no-op when no epoch was validated)."""
        if self.best_state is not None:
            model.load_state_dict(self.best_state)


def auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """scikit-learn's AUROC (as the metrics use), NaN instead of an error when a class is missing."""
    labels = np.asarray(labels).astype(bool)
    if labels.all() or not labels.any():
        return float("nan")
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores))


def validation_score(
    labels: np.ndarray, scores: np.ndarray, groups: np.ndarray | None = None, monitor: str = "auroc"
) -> float:
    """The early-stopping signal: pooled AUROC, mean per-group (peptide) AUROC, or minus the log loss."""
    if monitor == "loss":
        p = np.clip(scores, 1e-7, 1 - 1e-7)
        return float(np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))
    if monitor == "macro_auroc" and groups is not None:
        values = [auroc(labels[groups == g], scores[groups == g]) for g in np.unique(groups)]
        finite = [v for v in values if np.isfinite(v)]
        return float(np.mean(finite)) if finite else float("nan")
    return auroc(labels, scores)
