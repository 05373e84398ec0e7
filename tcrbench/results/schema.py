"""One result row per (configuration, fold, seed, protocol): the typed record every report and test reads."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal, Optional

Status = Literal["ok", "failed"]
Arm = Literal["pretrained", "supervised", "baseline"]

SCHEMA_VERSION = 1


@dataclass
class ResultRow:
    row_key: str
    config_hash: str  # the whole run's configuration
    config_id: str  # this configuration (augmentation, objective, encoder, budget, protocol)
    label: str  # display name
    arm: Arm
    protocol: str  # finetune | probe | baseline | dynamics-probe | dynamics-finetune
    augmentation: Optional[str]
    objective: Optional[str]
    encoder: Optional[str]
    baseline: Optional[str]
    params: dict[str, Any]  # resolved parameters of every plugin in the configuration
    uses_labels: bool  # pretraining (or a baseline) that reads binding labels
    shortcut: bool  # a baseline that exposes a data shortcut
    pretrain_on: str
    fold: int
    fold_name: str
    seed: int
    seeds_redraw_folds: bool
    n_train: int
    n_test: int
    status: Status
    reason: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    threshold: Optional[float] = None
    pretrain_loss: Optional[float] = None
    pretrain_losses: list[float] = field(default_factory=list)  # per epoch
    pretrain_seconds: float = 0.0
    train_seconds: float = 0.0
    seconds: float = 0.0
    step: Optional[int] = None  # training-dynamics rows: the pretraining step evaluated; None elsewhere
    framing: str = "pan"  # pan: one model for every peptide; per_peptide: an output head (or model) per peptide
    epochs: Optional[int] = None  # fine-tuning epochs run before early stopping (None: no neural training)
    best_epoch: Optional[int] = None  # the epoch whose weights were restored
    val_curve: list[float] = field(default_factory=list)  # inner-validation score after each epoch
    n_val: int = 0  # rows of the inner validation split carved from the training fold
    label_fraction: float = 1.0  # share of the training fold's labelled rows fine-tuning/probing/baselines saw
    n_labelled: Optional[int] = None  # those rows (nested subsets: a smaller fraction's rows are in a larger one's)
    # the unlabelled corpus pretraining saw besides the training fold: sources, hash, rows used, test TCRs removed
    pretrain_corpus: dict[str, Any] = field(default_factory=dict)
    # how the table's negatives were made when it had binders only (e.g. "swapped:ratio=5,seed=0"); "" = its own
    negatives: str = ""
    # an encoder whose weights others pretrained (SCEPTR, a local Hugging Face checkpoint), or a baseline using one
    published: bool = False
    sources: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ResultRow:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


TIMING_FIELDS = ("pretrain_seconds", "train_seconds", "seconds")


def comparable(row: dict[str, Any]) -> dict[str, Any]:
    """A row without wall-clock timings: two runs of the same command must agree on this, bit for bit."""
    return {k: v for k, v in row.items() if k not in TIMING_FIELDS}
