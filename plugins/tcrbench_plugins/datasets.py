"""Built-in datasets: the embedded synthetic generator (the default), and any table file by path."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import polars as pl

from tcrbench.data.synthetic import DEFAULT_DIFFICULTY, DEFAULT_NEGATIVE_RATIO, DEFAULT_PEPTIDES, DEFAULT_POSITIVES
from tcrbench.plugins.hookspecs import Register, hookimpl
from tcrbench.plugins.params import param


@dataclass
class Synthetic:
    """Planted binding rules with a difficulty knob; deterministic from its seed, so it ships as code, not data."""

    name: ClassVar[str] = "synthetic"
    description: ClassVar[str] = "embedded synthetic TCR-peptide pairs with planted binding motifs (the default)"
    n_peptides: int = param(DEFAULT_PEPTIDES, help="number of peptides")
    n_positives_per_peptide: int = param(DEFAULT_POSITIVES, help="binding TCRs per peptide")
    negative_ratio: int = param(DEFAULT_NEGATIVE_RATIO, help="negatives per positive")
    difficulty: float = param(
        DEFAULT_DIFFICULTY, help="0 = motif always present in binders, 1 = hardly distinguishable"
    )
    negatives: Literal["swapped", "background"] = param(
        "swapped", help="swapped binders (no shortcut) or a background TCR pool (TCR-only shortcut, like real data)"
    )
    seed: int = param(0, help="generator seed")

    def load(self) -> pl.DataFrame:
        from tcrbench.data.synthetic import synthesize

        return synthesize(
            n_peptides=self.n_peptides,
            n_positives_per_peptide=self.n_positives_per_peptide,
            negative_ratio=self.negative_ratio,
            difficulty=self.difficulty,
            negatives=self.negatives,
            seed=self.seed,
        )


@dataclass
class TableFile:
    """The same reader as --data, as a plugin, so a config file can name a dataset with its options."""

    name: ClassVar[str] = "file"
    description: ClassVar[str] = "a CSV, TSV or Parquet table read with the column aliases and validation of --data"
    path: str = param("", help="table path")
    columns: str = param("", help="column overrides, e.g. peptide=antigen,cdr3b=TCR,label=interaction")
    cdr3: Literal["keep", "strip"] = param("keep", help="keep CDR3s, or strip the conserved C...F/W ends")

    def load(self) -> pl.DataFrame:
        from tcrbench.data import load_table
        from tcrbench.errors import UsageError

        if not self.path:
            raise UsageError("dataset 'file': parameter 'path' is required, e.g. --dataset file:path=pairs.csv")
        return load_table(self.path, columns=self.columns or None, cdr3=self.cdr3).frame


@hookimpl
def register_datasets(register: Register) -> None:
    register(Synthetic)
    register(TableFile)
