"""The canonical table every reader, dataset plugin and the runner agree on.

Column names are fixed so that splits, tokenizer and reports never need to know which file format a table came
from; everything format-specific ends in `aliases.py` and `readers.py`.
"""

from __future__ import annotations

from typing import Literal

import polars as pl

PEPTIDE, CDR3B, CDR3A, MHC, LABEL = "peptide", "cdr3b", "cdr3a", "mhc", "label"
PARTITION, SPLIT = "partition", "split"
# The germline-encoded loops of each chain (IMGT CDR1 and CDR2, set by the V gene). Only models that ask for
# them read them (the per-peptide k-mer baseline); the tokenizer and the neural models never do.
CDR1A, CDR2A, CDR1B, CDR2B = "cdr1a", "cdr2a", "cdr1b", "cdr2b"
GERMLINE_CDRS: tuple[str, ...] = (CDR1A, CDR2A, CDR1B, CDR2B)
# The V genes, as the table writes them (IMGT symbols such as TRAV24*01, or older spellings): text, never
# tokenized or checked letter by letter. `tcrbench.data.vgenes` normalises them and resolves them to CDR1/CDR2
# for the models that ask (SCEPTR), so a table's content never depends on an optional package.
TRAV, TRBV = "trav", "trbv"
V_GENES: tuple[str, ...] = (TRAV, TRBV)

REQUIRED: tuple[str, ...] = (PEPTIDE, CDR3B, LABEL)
OPTIONAL: tuple[str, ...] = (CDR3A, *GERMLINE_CDRS, *V_GENES, MHC)
CANONICAL: tuple[str, ...] = (PEPTIDE, CDR3B, CDR3A, *GERMLINE_CDRS, *V_GENES, MHC, LABEL)
# Ready-made folds and train/test splits travel with the rows: a benchmark must be able to honour them.
KEPT: tuple[str, ...] = (PARTITION, SPLIT)
# Columns whose values are amino-acid sequences that the tokenizer reads.
SEQUENCES: tuple[str, ...] = (PEPTIDE, CDR3B, CDR3A)
# Every column of amino-acid sequences: checked letter by letter and against the maximum length.
RESIDUES: tuple[str, ...] = (*SEQUENCES, *GERMLINE_CDRS)
# Columns that may hold nulls in a valid table: a single-chain row simply has no alpha chain, and a table may
# know the V gene's CDR1/CDR2 for some rows only.
NULLABLE: tuple[str, ...] = (CDR3A, *GERMLINE_CDRS, *V_GENES, MHC)
# IMGT-gapped exports write the gaps of CDR1/CDR2 as '.' (or '-'); they are removed on reading, since the
# ungapped loop is the sequence. Only these columns: a gap in a CDR3 or a peptide is an error.
GAP_CHARACTERS = ".-"

# Longest sequence a valid table may hold. Class-I peptides are 8-11, CDR3s rarely exceed 25; 30 leaves room
# for class-II peptides while still catching a pasted V gene or a whole TCR chain in a CDR3 column.
DEFAULT_MAX_LEN = 30

LABEL_DTYPE = pl.Int8
Cdr3Convention = Literal["keep", "strip"]
DuplicatePolicy = Literal["keep", "drop", "error"]


def pair_key(frame: pl.DataFrame) -> list[str]:
    """Columns that identify one (peptide, TCR) observation: the tokenized sequence columns present, plus the MHC.

    CDR1/CDR2 and the V genes are deliberately not part of it (nor of `tcr_key`): keys, duplicate counts and folds
    stay what they were before those columns were read. Two rows with the same CDR3s but different V genes count
    as one TCR, the stricter choice for TCR-disjoint folds (IMMREP22: 7,415 TCRs by CDR3α+β, 7,456 with CDR1/CDR2
    as well).
    """
    return [c for c in (PEPTIDE, CDR3B, CDR3A, MHC) if c in frame.columns]


def tcr_key(frame: pl.DataFrame) -> list[str]:
    """Columns that identify one TCR: the chains present."""
    return [c for c in (CDR3B, CDR3A) if c in frame.columns]


def canonical_order(frame: pl.DataFrame) -> pl.DataFrame:
    """Canonical columns first, in a fixed order, then whatever else the caller asked to keep."""
    first = [c for c in CANONICAL + KEPT if c in frame.columns]
    return frame.select(first + [c for c in frame.columns if c not in first])
