"""Tables of TCR-peptide pairs: reading, validation, tokenization and the synthetic default dataset."""

from tcrbench.data.aliases import ALIASES, parse_column_spec, resolve_columns
from tcrbench.data.inspect import inspect_table, render_text
from tcrbench.data.readers import LoadedTable, load_table, read_raw, write_table
from tcrbench.data.schema import (
    CANONICAL,
    CDR3A,
    CDR3B,
    DEFAULT_MAX_LEN,
    LABEL,
    MHC,
    PARTITION,
    PEPTIDE,
    REQUIRED,
    SPLIT,
)
from tcrbench.data.synthetic import motif_for, planted_score, synthesize
from tcrbench.data.tokenizer import Tokenizer
from tcrbench.data.validate import ValidationReport, normalise_frame, validate_frame
from tcrbench.data.vocab import TokenBatch

__all__ = [
    "ALIASES",
    "CANONICAL",
    "CDR3A",
    "CDR3B",
    "DEFAULT_MAX_LEN",
    "LABEL",
    "MHC",
    "PARTITION",
    "PEPTIDE",
    "REQUIRED",
    "SPLIT",
    "LoadedTable",
    "TokenBatch",
    "Tokenizer",
    "ValidationReport",
    "inspect_table",
    "load_table",
    "motif_for",
    "normalise_frame",
    "parse_column_spec",
    "planted_score",
    "read_raw",
    "render_text",
    "resolve_columns",
    "synthesize",
    "validate_frame",
    "write_table",
]
