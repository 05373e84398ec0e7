"""The canonical table every reader, dataset plugin and the runner agree on.

Column names are fixed so that splits, tokenizer and reports never need to know which file format a table came
from; everything format-specific ends in `aliases.py` and `readers.py`.
"""

from __future__ import annotations

from typing import Literal

import polars as pl

PEPTIDE, CDR3B, CDR3A, MHC, LABEL = "peptide", "cdr3b", "cdr3a", "mhc", "label"
PARTITION, SPLIT = "partition", "split"

REQUIRED: tuple[str, ...] = (PEPTIDE, CDR3B, LABEL)
OPTIONAL: tuple[str, ...] = (CDR3A, MHC)
CANONICAL: tuple[str, ...] = (PEPTIDE, CDR3B, CDR3A, MHC, LABEL)
# Ready-made folds and train/test splits travel with the rows: a benchmark must be able to honour them.
KEPT: tuple[str, ...] = (PARTITION, SPLIT)
# Columns whose values are amino-acid sequences (checked letter by letter, tokenized).
SEQUENCES: tuple[str, ...] = (PEPTIDE, CDR3B, CDR3A)
# Columns that may hold nulls in a valid table: a single-chain row simply has no alpha chain.
NULLABLE: tuple[str, ...] = (CDR3A, MHC)

# Longest sequence a valid table may hold. Class-I peptides are 8-11, CDR3s rarely exceed 25; 30 leaves room
# for class-II peptides while still catching a pasted V gene or a whole TCR chain in a CDR3 column.
DEFAULT_MAX_LEN = 30

LABEL_DTYPE = pl.Int8
Cdr3Convention = Literal["keep", "strip"]
DuplicatePolicy = Literal["keep", "drop", "error"]


def pair_key(frame: pl.DataFrame) -> list[str]:
    """Columns that identify one (peptide, TCR) observation: every sequence column present, plus the MHC."""
    return [c for c in (PEPTIDE, CDR3B, CDR3A, MHC) if c in frame.columns]


def tcr_key(frame: pl.DataFrame) -> list[str]:
    """Columns that identify one TCR: the chains present."""
    return [c for c in (CDR3B, CDR3A) if c in frame.columns]


def canonical_order(frame: pl.DataFrame) -> pl.DataFrame:
    """Canonical columns first, in a fixed order, then whatever else the caller asked to keep."""
    first = [c for c in CANONICAL + KEPT if c in frame.columns]
    return frame.select(first + [c for c in frame.columns if c not in first])
