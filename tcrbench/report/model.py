"""The leaderboard's types: what every renderer and reporter plugin reads. Plain frozen dataclasses, no logic
beyond lookups, so a third-party reporter depends on nothing but these fields (documented in docs/reports.md)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tcrbench.run.config import Published
    from tcrbench.report.dynamics import DynamicsSection
    from tcrbench.report.merge import Ranking
    from tcrbench.report.peptides import PeptideTable

#: Flags the board adds to the statistics' own (tcrbench.stats.flags).
FAILED_CELLS = "failed_cells"
ALL_FAILED = "all_failed"
NOT_COMPARED = "not_compared"
NO_REFERENCE = "no_reference"
MIXED_REDRAW = "mixed_redraw"


@dataclass(frozen=True)
class CellScore:
    """One (fold, seed) cell of a configuration: its score (NaN when failed or undefined) and status."""

    fold: int
    seed: int
    score: float
    status: str
    reason: str = ""
    row_key: str = ""
    n_train: int = 0
    n_test: int = 0


@dataclass(frozen=True)
class BoardRow:
    """One configuration under one protocol. Statistics are None where there is nothing to compare
    (the reference itself, a configuration whose cells all failed, or fewer than two pairs)."""

    key: str
    label: str
    protocol: str
    arm: str
    augmentation: str | None
    objective: str | None
    encoder: str | None
    baseline: str | None
    uses_labels: bool
    shortcut: bool
    is_reference: bool
    reference: str | None
    mean: float
    sd: float
    macro_mean: float
    macro_sd: float
    n_folds: int
    n_seeds: int
    n_scores: int
    n_failed: int
    cells: tuple[CellScore, ...]
    rank: int | None = None
    diff: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    t: float | None = None
    df: int | None = None
    p: float | None = None
    p_holm: float | None = None
    p_bh: float | None = None
    d_z: float | None = None
    wins: int | None = None
    ties: int | None = None
    losses: int | None = None
    n_pairs: int | None = None
    test_train_ratio: float | None = None
    flags: tuple[str, ...] = ()
    note: str = ""
    pretrain_loss: float | None = None

    @property
    def status(self) -> str:
        """"ok", "partial" (some cells failed) or "failed" (all did, or none has a score)."""
        if self.n_failed and self.n_failed == len(self.cells):
            return "failed"
        if not math.isfinite(self.mean):
            return "failed"
        return "partial" if self.n_failed else "ok"


@dataclass(frozen=True)
class Banner:
    """A warning that must be read before the table: ``kind`` is stable (for tests and tools), ``keys`` the rows."""

    kind: str
    message: str
    keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class FailedCell:
    key: str
    label: str
    protocol: str
    fold: int
    seed: int
    reason: str
    row_key: str


@dataclass(frozen=True)
class BoardMeta:
    """Where the numbers came from and how they were tested."""

    title: str
    run_dir: str | None = None
    config_hash: str | None = None
    data_source: str | None = None
    versions: Mapping[str, str] = field(default_factory=dict)
    git: str | None = None
    device: str | None = None
    pretrain_on: str | None = None
    seeds_redraw_folds: bool | None = None
    pairing: str = ""
    test_train_ratio: float | None = None
    ratio_assumed: bool = False
    confidence: float = 0.95
    higher_is_better: bool = True
    shortcut_margin: float = 0.02
    resolution: float | None = None
    folds: tuple[int, ...] = ()
    seeds: tuple[int, ...] = ()
    references: Mapping[str, str] = field(default_factory=dict)
    n_rows: int = 0
    n_failed: int = 0


@dataclass(frozen=True)
class Leaderboard:
    """What every reporter renders. ``kind`` is "run" (one run folder) or "merged" (several datasets:
    ``ranking`` holds the Friedman/Nemenyi ranking and ``datasets`` each dataset's own board). ``dynamics``
    holds the training-dynamics curves when the run evaluated checkpoints (their rows are not in ``rows``)."""

    metric: str
    rows: tuple[BoardRow, ...]
    banners: tuple[Banner, ...]
    failures: tuple[FailedCell, ...]
    meta: BoardMeta
    per_peptide: "PeptideTable | None" = None
    kind: str = "run"
    ranking: "Ranking | None" = None
    datasets: tuple["Leaderboard", ...] = ()
    dynamics: "DynamicsSection | None" = None  # score against pretraining step (runs with --eval-every)
    published: "Published | None" = None  # others' scores on the same benchmark (a suite's [published] table)

    def row(self, key: str) -> BoardRow:
        for r in self.rows:
            if r.key == key:
                return r
        raise KeyError(key)

    def find(self, label: str, protocol: str) -> BoardRow:
        return self.row(row_key(label, protocol))

    def compared(self) -> list[BoardRow]:
        """Rows with a test against their reference, in board order."""
        return [r for r in self.rows if r.diff is not None]


def row_key(label: str, protocol: str) -> str:
    """A configuration's identity on a board, and across runs: label and protocol."""
    return f"{label} [{protocol}]"
