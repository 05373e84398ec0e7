"""Built-in fold strategies. The logic lives in `tcrbench.data.splits`; these classes give it names and parameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

from tcrbench.data import splits
from tcrbench.plugins.hookspecs import Register, hookimpl
from tcrbench.plugins.params import param
from tcrbench.plugins.protocols import Fold

if TYPE_CHECKING:
    import polars as pl

_STRATIFY_HELP = "'label', or 'label_peptide' to also spread each peptide's positives and negatives evenly"


@dataclass
class RandomSplit:
    name: ClassVar[str] = "random"
    description: ClassVar[str] = "stratified random k-fold; identical (peptide, TCR) pairs share a fold"
    redraws_with_seed: ClassVar[bool] = True
    stratify: Literal["label", "label_peptide"] = param("label", help=_STRATIFY_HELP)

    def split(self, frame: pl.DataFrame, n_folds: int, seed: int) -> list[Fold]:
        return splits.random_folds(frame, n_folds, seed, self.stratify)


@dataclass
class TcrSplit:
    name: ClassVar[str] = "tcr"
    description: ClassVar[str] = "TCR-disjoint k-fold: no test TCR occurs in training, with any peptide"
    redraws_with_seed: ClassVar[bool] = True
    chains: Literal["pair", "beta", "any"] = param(
        "pair",
        help="a TCR is 'pair' (CDR3b with CDR3a when present), 'beta' (CDR3b alone) or 'any' "
        "(rows sharing either chain stay together)",
    )
    stratify: Literal["label", "label_peptide"] = param("label", help=_STRATIFY_HELP)

    def split(self, frame: pl.DataFrame, n_folds: int, seed: int) -> list[Fold]:
        return splits.tcr_folds(frame, n_folds, seed, self.chains, self.stratify)


@dataclass
class PeptideSplit:
    name: ClassVar[str] = "peptide"
    description: ClassVar[str] = "peptide-disjoint k-fold: every test peptide is unseen in training"
    redraws_with_seed: ClassVar[bool] = True

    def split(self, frame: pl.DataFrame, n_folds: int, seed: int) -> list[Fold]:
        return splits.peptide_folds(frame, n_folds, seed)


@dataclass
class GivenSplit:
    name: ClassVar[str] = "given"
    description: ClassVar[str] = "the data authors' folds from a column (n_folds and seed are ignored)"
    redraws_with_seed: ClassVar[bool] = False
    column: str = param("partition", help="column holding the fold of each row")
    test_value: str = param("test", help="if some rows hold this value: one fold testing on them, training on the rest")
    drop_shared_pairs: bool = param(False, help="drop training rows whose (peptide, TCR) pair is also in the test set")

    def split(self, frame: pl.DataFrame, n_folds: int, seed: int) -> list[Fold]:
        return splits.given_folds(frame, self.column, self.test_value, self.drop_shared_pairs)


SPLITTERS: tuple[type, ...] = (RandomSplit, TcrSplit, PeptideSplit, GivenSplit)


@hookimpl
def register_splitters(register: Register) -> None:
    for cls in SPLITTERS:
        register(cls)
