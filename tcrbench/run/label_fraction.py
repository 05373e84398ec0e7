"""Label-scarce learning: the labelled rows a cell may fine-tune, probe or fit a baseline on, at a label fraction.

Pretraining earns its keep when labels are few, so `--label-fraction 0.02,0.1,1.0` repeats every comparison on
stratified subsets of each training fold's labelled rows. The subsets are nested (the 0.02 rows are among the
0.1 rows) and depend on (seed, fold) only, so every arm of a fold and seed sees the same labels: each row of the
fold gets a random rank within its (peptide, label) stratum, shifted by one random offset per stratum, and a
fraction keeps the rows whose (rank + offset) / stratum size falls below it. A stratum of n rows thus gives
f·n rows on average at fraction f, and small strata are neither always kept nor always dropped.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from tcrbench.errors import UsageError
from tcrbench.plugins.protocols import Fold
from tcrbench.run.config import RunConfig
from tcrbench.run.inner_split import InnerSplit, inner_split
from tcrbench.training.seeding import derive_seed

ITEM_SEP = "@"


def item(protocol: str, fraction: float) -> str:
    """What a cell computes: a protocol at a label fraction (`finetune`, or `finetune@0.05` below 1)."""
    return protocol if fraction >= 1.0 else f"{protocol}{ITEM_SEP}{fraction:g}"


def parse_item(text: str) -> tuple[str, float]:
    protocol, _, fraction = text.partition(ITEM_SEP)
    return protocol, float(fraction) if fraction else 1.0


def quantiles(frame: pl.DataFrame, train: np.ndarray, seed: int, fold: int) -> np.ndarray:
    """Each training row's position in (0, 1) within its (peptide, label) stratum, drawn from (seed, fold)."""
    rng = np.random.default_rng(derive_seed(seed, "labels", fold))
    train = np.asarray(train)
    strata = frame[train.tolist()].select(
        pl.concat_str([pl.col("peptide"), pl.col("label").cast(pl.String)], separator="|")
    )
    _, codes = np.unique(strata.to_series().to_numpy(), return_inverse=True)
    order = rng.permutation(len(train))
    q = np.empty(len(train))
    offsets = rng.random(int(codes.max()) + 1 if len(codes) else 0)
    for s in range(len(offsets)):
        members = order[codes[order] == s]  # this stratum's rows in random order
        q[members] = (np.arange(len(members)) + offsets[s]) / len(members)
    return q


def labelled_rows(frame: pl.DataFrame, train: np.ndarray, fraction: float, seed: int, fold: int) -> np.ndarray:
    """The training fold's rows labelled at `fraction` (all of them, in fold order, at 1.0)."""
    train = np.asarray(train)
    if fraction >= 1.0:
        return train
    keep = quantiles(frame, train, seed, fold) < fraction
    labels = frame["label"].to_numpy()[train[keep]]
    if len(labels) < 2 or labels.min() == labels.max():
        raise UsageError(
            f"--label-fraction {fraction:g} leaves {len(labels)} labelled row(s) of fold {fold} "
            "without both classes; use a larger fraction"
        )
    return train[keep]


class LabelledSplits:
    """Per (seed, fold, fraction): the labelled rows and their inner validation split, drawn once and kept, so
    every arm and checkpoint of a fold and seed uses the same ones."""

    def __init__(self, frame: pl.DataFrame, cfg: RunConfig, registry: Any) -> None:
        self.frame, self.cfg, self.registry = frame, cfg, registry
        self._labelled: dict[tuple[int, int, float], np.ndarray] = {}
        self._inner: dict[tuple[int, int, float], InnerSplit] = {}

    def labelled(self, fold: Fold, seed: int, index: int, fraction: float) -> np.ndarray:
        key = (seed, index, fraction)
        if key not in self._labelled:
            self._labelled[key] = labelled_rows(self.frame, np.asarray(fold.train), fraction, seed, index)
        return self._labelled[key]

    def inner(self, fold: Fold, seed: int, index: int, fraction: float) -> InnerSplit:
        key = (seed, index, fraction)
        if key not in self._inner:
            purpose = "inner" if fraction >= 1.0 else f"inner{ITEM_SEP}{fraction:g}"  # 1.0: the seed it always had
            self._inner[key] = inner_split(
                self.frame,
                self.labelled(fold, seed, index, fraction),
                self.cfg.split,
                self.cfg.budget.val_fraction,
                derive_seed(seed, purpose, index),
                self.registry,
            )
        return self._inner[key]

    def held_out(self, fold: Fold, seed: int, index: int) -> np.ndarray:
        """The test fold and the inner validation split of every label fraction."""
        parts = [np.asarray(fold.test)]
        for fraction in self.cfg.label_fractions:
            try:
                parts.append(self.inner(fold, seed, index, fraction).val)
            except UsageError:  # a fraction too small for this fold fails its own rows, not pretraining
                continue
        return np.unique(np.concatenate(parts))
