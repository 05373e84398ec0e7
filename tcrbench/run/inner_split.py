"""The inner validation split: carved from a training fold only, of the same kind as the outer split.

Early stopping needs rows the model does not train on; taking them from the training fold (never the test fold)
keeps the test fold unseen until the end. The inner split is of the outer split's kind, so under TCR-disjoint
folds no validation TCR is in the rows the model trains on (else validation would reward memorising TCRs and
stop at the wrong epoch). Given partitions have no inner partitions, so they get a TCR-disjoint inner split.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from tcrbench.plugins.protocols import Kind

# splitters whose folds cannot be drawn again inside a training fold; the inner split is TCR-disjoint for them
_INNER_FALLBACK = {"given": "tcr"}


@dataclass(frozen=True)
class InnerSplit:
    """Row indices (into the whole table) the model trains on, and the ones it validates on."""

    fit: np.ndarray
    val: np.ndarray


def inner_split(
    frame: pl.DataFrame, train: np.ndarray, split_spec: str, fraction: float, seed: int, registry: Any
) -> InnerSplit:
    """Hold out about `fraction` of the training fold `train` (row indices of `frame`) for validation."""
    train = np.asarray(train)
    if fraction <= 0:
        return InnerSplit(train, train[:0])
    name = split_spec.split(":", 1)[0]
    splitter = registry.create(Kind.SPLITTER, _INNER_FALLBACK.get(name, split_spec))
    n_folds = max(2, round(1.0 / fraction))
    folds = splitter.split(frame[train.tolist()], n_folds, seed)
    held = np.asarray(folds[0].test)
    keep = np.ones(len(train), dtype=bool)
    keep[held] = False
    return InnerSplit(train[keep], train[held])


def usable(labels: np.ndarray) -> bool:
    """A validation split early stopping can use: both classes present."""
    return len(labels) > 0 and 0 < labels.sum() < len(labels)
