"""What each kind of plugin receives and returns.

Plugins exchange tensors and frames, never loops or globals: an augmentation maps a batch and a generator to a
corrupted batch; an objective maps (encoder, batch, augmentation) to a loss. These protocols are the contract
that `tcrbench.check_plugin` verifies for built-in and third-party plugins alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import torch

from tcrbench.data.vocab import TokenBatch

if TYPE_CHECKING:
    import polars as pl
    from torch import nn


class Kind(str, Enum):
    """The kinds of plugin object: one registration hook each, and one slot of a configuration."""

    AUGMENTATION = "augmentation"
    OBJECTIVE = "objective"
    ENCODER = "encoder"
    DATASET = "dataset"
    SPLITTER = "splitter"
    METRIC = "metric"
    BASELINE = "baseline"
    REPORTER = "reporter"

    @property
    def hook(self) -> str:
        """The name of the hook that registers this kind, e.g. `register_augmentations`."""
        return f"register_{self.value}s"


# ---------------------------------------------------------------- what every kind declares
NAME_FORBIDDEN = ":+,= "  # the separators of `name:key=value,...+name`, so a name could not be parsed back


def plugin_identity(cls: Any) -> tuple[str, str]:
    """A plugin class's `name` and the first line of its `description`, or ValueError saying which is wrong.

    The one rule for both the registry (which raises it as a UsageError naming the plugin that registered the
    class) and `check_plugin` (a ContractError): a name the command line can parse back, a description to list.
    """
    name, description = getattr(cls, "name", None), getattr(cls, "description", None)
    if not isinstance(name, str) or not name or any(c in name for c in NAME_FORBIDDEN):
        raise ValueError(f"`name` must be a non-empty string without {NAME_FORBIDDEN!r}, got {name!r}")
    if not isinstance(description, str) or not description.strip():
        raise ValueError("needs a one-line `description`")
    return name, description.strip().splitlines()[0]


def moves_tokens(augmentation: Any) -> bool:
    """True when an augmentation (or any part of a composed one) re-packs positions, like crop or delete.

    Such augmentations keep the width but shift tokens, so `changed` cannot serve as masked-LM targets.
    """
    if getattr(augmentation, "moves_tokens", False):
        return True
    return any(moves_tokens(p) for p in getattr(augmentation, "parts", ()) or ())


# ---------------------------------------------------------------- augmentations
@dataclass(frozen=True)
class Augmented:
    """A corrupted batch and the positions that were changed (B x L bool); MLM uses `changed` as its targets."""

    batch: TokenBatch
    changed: torch.Tensor


@runtime_checkable
class Augmentation(Protocol):
    name: ClassVar[str]
    description: ClassVar[str]

    def __call__(self, batch: TokenBatch, generator: torch.Generator) -> Augmented: ...


# ---------------------------------------------------------------- encoders
class Encoder(Protocol):
    """An nn.Module: token batch -> hidden states (B x L x hidden_size), and a pooling to B x hidden_size."""

    hidden_size: int

    def __call__(self, batch: TokenBatch) -> torch.Tensor: ...

    def pool(self, hidden: torch.Tensor, batch: TokenBatch) -> torch.Tensor: ...

    def parameters(self) -> Any: ...


@runtime_checkable
class EncoderFactory(Protocol):
    name: ClassVar[str]
    description: ClassVar[str]

    def build(self, max_len: int) -> nn.Module:
        """A fresh encoder; the caller seeds torch's RNG before calling, so weights depend on the seed only."""
        ...


# ---------------------------------------------------------------- objectives
@dataclass(frozen=True)
class PretrainBatch:
    """What an objective sees: tokenized pairs, a group id per row (same peptide = same group), labels only
    for objectives that declare `uses_labels` (and then only the training fold's)."""

    tokens: TokenBatch
    groups: torch.Tensor
    labels: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.tokens)

    def index(self, idx: torch.Tensor | slice) -> PretrainBatch:
        return PretrainBatch(
            self.tokens.index(idx), self.groups[idx], None if self.labels is None else self.labels[idx]
        )


@dataclass
class ObjectiveOutput:
    loss: torch.Tensor
    logs: dict[str, float] = field(default_factory=dict)
    backward_done: bool = False  # True when the objective back-propagated itself (gradient caching)


@runtime_checkable
class Objective(Protocol):
    name: ClassVar[str]
    description: ClassVar[str]
    uses_labels: ClassVar[bool]  # reported beside every result: a label-using "pretraining" is not self-supervised
    pretrains: ClassVar[bool]  # False only for `none`, the supervised baseline

    def build(self, encoder: nn.Module) -> nn.Module:
        """The objective's own trainable parts (projection or LM head) as a module with
        forward(encoder, batch: PretrainBatch, augmentation, generator) -> ObjectiveOutput."""
        ...


# ---------------------------------------------------------------- data, folds, metrics, baselines, reports
@runtime_checkable
class Dataset(Protocol):
    name: ClassVar[str]
    description: ClassVar[str]

    def load(self) -> pl.DataFrame:
        """A table in the canonical schema (peptide, cdr3b, [cdr3a], [mhc], label, extra columns kept)."""
        ...


@dataclass(frozen=True)
class Fold:
    name: str
    train: np.ndarray  # row indices
    test: np.ndarray


@runtime_checkable
class Splitter(Protocol):
    name: ClassVar[str]
    description: ClassVar[str]
    redraws_with_seed: ClassVar[bool]  # False for given partitions: the statistics depend on it

    def split(self, frame: pl.DataFrame, n_folds: int, seed: int) -> list[Fold]: ...


@dataclass(frozen=True)
class MetricValue:
    value: float
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Metric(Protocol):
    name: ClassVar[str]
    description: ClassVar[str]
    needs_threshold: ClassVar[bool]

    def __call__(
        self, y_true: np.ndarray, y_score: np.ndarray, *, peptides: np.ndarray, threshold: float
    ) -> MetricValue: ...


@runtime_checkable
class Baseline(Protocol):
    name: ClassVar[str]
    description: ClassVar[str]
    shortcut: ClassVar[bool]  # peptide-only, TCR-only, TCR-frequency: they expose data shortcuts

    def fit_predict(self, train: pl.DataFrame, test: pl.DataFrame, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Scores for the training rows (to choose a threshold) and for the test rows."""
        ...


@runtime_checkable
class Reporter(Protocol):
    name: ClassVar[str]
    description: ClassVar[str]

    def write(self, board: Any, out_dir: Path) -> list[Path]: ...
