"""The leaderboard's types: what every renderer and reporter plugin reads. Plain frozen dataclasses, no logic
beyond lookups, so a third-party reporter depends on nothing but these fields (documented in docs/reports.md)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tcrbench.report.corpus import CorpusInfo
    from tcrbench.report.curves import LearningCurves
    from tcrbench.report.data_audit import DataAudit
    from tcrbench.report.dynamics.model import DynamicsSection
    from tcrbench.report.merge import Ranking
    from tcrbench.report.peptides import PeptideTable
    from tcrbench.run.config import Published
    from tcrbench.stats.compare import MethodComparison

#: Flags the board adds to the statistics' own (tcrbench.stats.flags).
FAILED_CELLS = "failed_cells"
ALL_FAILED = "all_failed"
NOT_COMPARED = "not_compared"
NO_REFERENCE = "no_reference"
MIXED_REDRAW = "mixed_redraw"
#: Board flags shown before the test's own: a reader must see first that cells are missing.
_LEADING_FLAGS = (ALL_FAILED, FAILED_CELLS)
#: Holm p below this, with an interval that excludes 0, is "shown to differ" (the detectable difference is then moot).
SIGNIFICANCE = 0.05

# The board's sections, in the order a reader weighs them: what people already use, the recipes under test, the same
# models trained from scratch, and the floors (k-mer and nearest-neighbour baselines, shortcut detectors).
PUBLISHED, RECIPES, SCRATCH, SIMPLE = (
    "published pretrained models",
    "your pretraining recipes",
    "supervised from scratch",
    "simple and shortcut baselines",
)
GROUPS: tuple[str, ...] = (PUBLISHED, RECIPES, SCRATCH, SIMPLE)


def grouped(rows: Sequence[BoardRow]) -> list[tuple[str, list[BoardRow]]]:
    """Rows by section, in :data:`GROUPS` order, each keeping the board's order; empty sections left out."""
    out: dict[str, list[BoardRow]] = {g: [] for g in GROUPS}
    for r in rows:
        out[r.group].append(r)
    return [(g, rs) for g, rs in out.items() if rs]


def board_group(arm: str, *, published: bool, encoder: str | None) -> str:
    """The section a configuration belongs to. A published model is one whose weights someone else pretrained
    (its rows say so), whether fine-tuned, probed or used by a nearest-neighbour baseline; a baseline that trains
    an encoder from scratch (the supervised CNN on every board) sits with the supervised arm."""
    if published:
        return PUBLISHED
    if arm == "pretrained":
        return RECIPES
    if arm == "supervised" or (arm == "baseline" and encoder):
        return SCRATCH
    return SIMPLE


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
    """One configuration under one protocol: its own cells and scores, and its test against the reference.

    The statistics live in one place, ``comparison`` (a :class:`tcrbench.stats.MethodComparison`, with ``p_holm``
    and ``p_bh`` adjusted across the whole board); the properties below read them from there. ``comparison`` is
    None where there is nothing to compare (the reference itself, a configuration whose cells all failed, or
    fewer than two pairs). ``board_flags`` are the flags the board adds; ``flags`` merges them with the test's.
    """

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
    comparison: MethodComparison | None = None
    board_flags: tuple[str, ...] = ()
    note: str = ""
    pretrain_loss: float | None = None
    label_fraction: float = 1.0  # share of each training fold's labelled rows the configuration was fitted on
    n_labelled: float | None = None  # those rows, mean over the cells (None when the rows do not say)
    published: bool = False  # an encoder (or a baseline's encoder) pretrained by others: SCEPTR, a local checkpoint

    @property
    def group(self) -> str:
        """The board section this row is shown in (see :data:`GROUPS`)."""
        return board_group(self.arm, published=self.published, encoder=self.encoder)

    @property
    def status(self) -> str:
        """ "ok", "partial" (some cells failed) or "failed" (all did, or none has a score)."""
        if self.n_failed and self.n_failed == len(self.cells):
            return "failed"
        if not math.isfinite(self.mean):
            return "failed"
        return "partial" if self.n_failed else "ok"

    @property
    def flags(self) -> tuple[str, ...]:
        """Failed-cell flags first, then the test's own, then the board's other flags (each once)."""
        lead = [f for f in self.board_flags if f in _LEADING_FLAGS]
        rest = [f for f in self.board_flags if f not in _LEADING_FLAGS]
        own = self.comparison.flags if self.comparison is not None else ()
        return tuple(dict.fromkeys([*lead, *own, *rest]))

    # The test's numbers, read from ``comparison`` (None without one), so renderers need not know where they live.
    @property
    def diff(self) -> float | None:
        """mean(configuration - reference) over the pairs the test used, in the metric's units."""
        return self.comparison.diff if self.comparison is not None else None

    @property
    def ci_low(self) -> float | None:
        """Lower end of the corrected confidence interval of ``diff``."""
        return self.comparison.ci_low if self.comparison is not None else None

    @property
    def ci_high(self) -> float | None:
        """Upper end of the corrected confidence interval of ``diff``."""
        return self.comparison.ci_high if self.comparison is not None else None

    @property
    def t(self) -> float | None:
        """The corrected t statistic (infinite when every difference is the same non-zero number)."""
        return self.comparison.t if self.comparison is not None else None

    @property
    def df(self) -> int | None:
        """Degrees of freedom of the corrected test: pairs - 1."""
        return self.comparison.df if self.comparison is not None else None

    @property
    def p(self) -> float | None:
        """Two-sided p of the corrected test, before any correction."""
        return self.comparison.p if self.comparison is not None else None

    @property
    def p_holm(self) -> float | None:
        """p adjusted by Holm across every comparison on the board: the one to read."""
        return self.comparison.p_holm if self.comparison is not None else None

    @property
    def p_bh(self) -> float | None:
        """p adjusted by Benjamini–Hochberg across every comparison on the board."""
        return self.comparison.p_bh if self.comparison is not None else None

    @property
    def d_z(self) -> float | None:
        """Mean difference over its standard deviation; unlike t it does not grow with more folds."""
        return self.comparison.d_z if self.comparison is not None else None

    @property
    def wins(self) -> int | None:
        """Cells the configuration wins against the reference."""
        return self.comparison.wins if self.comparison is not None else None

    @property
    def ties(self) -> int | None:
        """Cells tied with the reference (after rounding to the resolution)."""
        return self.comparison.ties if self.comparison is not None else None

    @property
    def losses(self) -> int | None:
        """Cells the configuration loses against the reference."""
        return self.comparison.losses if self.comparison is not None else None

    @property
    def n_pairs(self) -> int | None:
        """Pairs the test used (per-fold means, or every (seed, fold) cell when seeds redraw the folds)."""
        return self.comparison.n_pairs if self.comparison is not None else None

    @property
    def test_train_ratio(self) -> float | None:
        """n_test/n_train the corrected test used for this row."""
        test = self.comparison.corrected if self.comparison is not None else None
        return test.test_train_ratio if test is not None else None

    @property
    def detectable(self) -> float | None:
        """The smallest difference the comparison could have detected at 80% power; None without a test or where
        the statistics give none (NaN: differences that do not vary)."""
        value = self.comparison.detectable if self.comparison is not None else None
        return float(value) if value is not None and math.isfinite(value) else None

    @property
    def significant(self) -> bool:
        """Shown to differ: Holm p < 0.05 and an interval that excludes 0 (False without a test)."""
        p, low, high = self.p_holm, self.ci_low, self.ci_high
        if p is None or not math.isfinite(p) or p >= SIGNIFICANCE:
            return False
        return low is None or high is None or not (low <= 0.0 <= high)


@dataclass(frozen=True)
class Banner:
    """A warning that must be read before the table: ``kind`` is stable (for tests and tools), ``keys`` the rows."""

    kind: str
    message: str
    keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class FailedCell:
    """A cell that failed: listed under Failures with its reason, left out of every statistic."""

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
    framing: str | None = None  # the neural arms' framing: pan (peptide as input) or per_peptide (a head each)
    corpus: CorpusInfo | None = None  # the extra unlabelled corpus pretraining saw, when there was one
    data_audit: DataAudit | None = None  # the table's audit warnings and the negatives strategy of the rows
    label_fractions: tuple[float, ...] = ()  # the label fractions on the board, smallest first
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
    per_peptide: PeptideTable | None = None
    kind: str = "run"
    ranking: Ranking | None = None
    datasets: tuple[Leaderboard, ...] = ()
    dynamics: DynamicsSection | None = None  # score against pretraining step (runs with --eval-every)
    published: Published | None = None  # others' scores on the same benchmark (a suite's [published] table)
    learning_curves: LearningCurves | None = None  # score against labelled rows (boards with several fractions)

    def row(self, key: str) -> BoardRow:
        """The row with identity ``key`` ("label [protocol]"); KeyError when there is none."""
        for r in self.rows:
            if r.key == key:
                return r
        raise KeyError(key)

    def find(self, label: str, protocol: str, fraction: float = 1.0) -> BoardRow:
        """The row of a configuration under a protocol (at a label fraction, all labels by default)."""
        return self.row(row_key(label, protocol, fraction))

    def compared(self) -> list[BoardRow]:
        """Rows with a test against their reference, in board order."""
        return [r for r in self.rows if r.diff is not None]


def fraction_text(fraction: float) -> str:
    """A label fraction as a percentage: 0.02 -> "2%", 0.125 -> "12.5%"."""
    return f"{fraction * 100:.4g}%"


def scope(protocol: str, fraction: float = 1.0) -> str:
    """What a reference serves: a protocol, and the label fraction when it is not 1 ("finetune @ 10% labels")."""
    return protocol if fraction >= 1.0 else f"{protocol} @ {fraction_text(fraction)} labels"


def row_key(label: str, protocol: str, fraction: float = 1.0) -> str:
    """A configuration's identity on a board, and across runs: label, protocol and, below 1, the label fraction
    ("label [protocol] @ 10% labels"), so each fraction is its own configuration with its own comparison."""
    key = f"{label} [{protocol}]"
    return key if fraction >= 1.0 else f"{key} @ {fraction_text(fraction)} labels"
