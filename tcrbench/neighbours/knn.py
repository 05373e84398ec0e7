"""Per-peptide nearest-neighbour scores: how much nearer a TCR lies to a peptide's training binders than to its
training non-binders, in any distance.

Only the training rows of the same peptide are references, and only their labels are read: the test table's
labels never enter. A training row is scored leave-one-out, without itself and without any training row of the
same TCR, so its score looks like a test row's (the runner picks its threshold on them); otherwise every binder
would find itself at distance 0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

Rule = Literal["mean", "kernel"]
RULES: tuple[str, ...] = ("mean", "kernel")
# the score of a row that has nothing to contrast: its peptide has no training binders (or no non-binders, or
# leave-one-out removed the only ones). 0 is "as near to binders as to non-binders" under both rules.
NEUTRAL = 0.0
# distance blocks of at most this many entries (float32: 64 MB)
BLOCK = 16_000_000

# distances(side, query_rows, reference_rows): side is "train" or "test"; query rows index that side's table,
# reference rows always index the training table; returns len(query) x len(reference) float32
Distances = Callable[[str, np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Scorer:
    """How distances to one peptide's training binders and non-binders become a score.

    mean: mean distance to the k nearest non-binders minus mean distance to the k nearest binders (k = 1: the
    nearest of each); with fewer than k available, the mean of those there are.
    kernel: log of the summed exp(−d / scale) over the k nearest binders minus the same over the k nearest
    non-binders: a soft version of `mean` that lets one very near neighbour count more than several far ones.
    """

    k: int = 1
    rule: Rule = "mean"
    scale: float = 1.0

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ValueError(f"k must be at least 1, got {self.k}")
        if self.rule not in RULES:
            raise ValueError(f"rule must be one of {', '.join(RULES)}, got {self.rule!r}")
        if not self.scale > 0:
            raise ValueError(f"scale must be positive, got {self.scale}")

    def nearest(self, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The k smallest distances of each row, sorted (inf where excluded or missing), and how many are finite."""
        kk = min(self.k, d.shape[1])
        if kk == 0:
            return np.zeros((d.shape[0], 0), d.dtype), np.zeros(d.shape[0], np.int64)
        part = np.partition(d, kk - 1, axis=1)[:, :kk] if kk < d.shape[1] else d
        part = np.sort(part, axis=1)
        return part, np.isfinite(part).sum(axis=1)

    def summary(self, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per row: the rule's summary of its k nearest (mean distance, or log-sum of kernels), and whether any."""
        near, count = self.nearest(d)
        finite = np.isfinite(near)
        if self.rule == "mean":
            total = np.where(finite, near, 0).sum(axis=1, dtype=np.float64)
            return total / np.maximum(count, 1), count > 0
        near = np.where(finite, near, 0.0).astype(np.float64)
        lowest = near[:, 0] if near.shape[1] else np.zeros(len(d))
        # log Σ exp(−d/scale), shifted by the nearest distance so that exp cannot underflow to 0 for every term
        total = np.where(finite, np.exp(-(near - lowest[:, None]) / self.scale), 0.0).sum(axis=1)
        return np.log(np.where(count > 0, total, 1.0)) - lowest / self.scale, count > 0

    def scores(self, d: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Scores of query rows from their distances to the references (inf = excluded) and the references' labels."""
        pos, has_pos = self.summary(d[:, labels == 1])
        neg, has_neg = self.summary(d[:, labels == 0])
        score = neg - pos if self.rule == "mean" else pos - neg
        return np.where(has_pos & has_neg, score, NEUTRAL)


def groups(train_peptides: Sequence[str], test_peptides: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(training rows, test rows) of each peptide that has training rows; a test peptide without any is left out."""
    names, inverse = np.unique(np.asarray([*train_peptides, *test_peptides], dtype=object), return_inverse=True)
    inverse = inverse.reshape(-1)
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(names) + 1))
    n_train, out = len(train_peptides), []
    for g in range(len(names)):
        rows = order[bounds[g] : bounds[g + 1]]
        if (rows < n_train).any():
            out.append((rows[rows < n_train], rows[rows >= n_train] - n_train))
    return out


def _chunks(rows: np.ndarray, n_ref: int) -> list[np.ndarray]:
    step = max(1, BLOCK // max(1, n_ref))
    return [rows[i : i + step] for i in range(0, len(rows), step)]


def neighbour_scores(
    distances: Distances,
    labels: np.ndarray,
    train_peptides: Sequence[str],
    test_peptides: Sequence[str],
    train_tcrs: np.ndarray,
    scorer: Scorer,
) -> tuple[np.ndarray, np.ndarray]:
    """Training scores (leave-one-out: a row never sees itself nor a row with the same id in `train_tcrs`) and
    test scores, each from the training rows of the row's own peptide; NEUTRAL where there is nothing to contrast."""
    labels = np.asarray(labels)
    s_train = np.full(len(train_peptides), NEUTRAL)
    s_test = np.full(len(test_peptides), NEUTRAL)
    for rows, test_rows in groups(train_peptides, test_peptides):
        ref_labels = labels[rows]
        if not (ref_labels == 1).any() or not (ref_labels == 0).any():
            continue  # no binders (or no non-binders): every row of the peptide keeps the neutral score
        for chunk in _chunks(rows, len(rows)):
            d = distances("train", chunk, rows).astype(np.float32, copy=False)
            d[train_tcrs[chunk][:, None] == train_tcrs[rows][None, :]] = np.inf  # itself and its own TCR
            s_train[chunk] = scorer.scores(d, ref_labels)
        for chunk in _chunks(test_rows, len(rows)):
            s_test[chunk] = scorer.scores(distances("test", chunk, rows), ref_labels)
    return s_train, s_test


def embedding_distances(x: np.ndarray, y: np.ndarray, metric: str) -> np.ndarray:
    """Cosine (1 − cosine similarity) or euclidean distances between the rows of x and of y, float32."""
    x64, y64 = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if metric == "cosine":
        xn = x64 / np.maximum(np.linalg.norm(x64, axis=1, keepdims=True), 1e-12)
        yn = y64 / np.maximum(np.linalg.norm(y64, axis=1, keepdims=True), 1e-12)
        return (1.0 - xn @ yn.T).clip(0.0, 2.0).astype(np.float32)
    if metric == "euclidean":
        sq = (x64**2).sum(1)[:, None] + (y64**2).sum(1)[None, :] - 2.0 * x64 @ y64.T
        return np.sqrt(np.maximum(sq, 0.0)).astype(np.float32)
    raise ValueError(f"metric must be 'cosine' or 'euclidean', got {metric!r}")
