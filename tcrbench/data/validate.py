"""Checks and normalisation of a table in canonical column names, vectorised in polars.

A bad row is reported by its 1-based data row (the header is not a row) and, for text files whose lines map
one-to-one onto rows, its line number, so the user can jump to it in an editor. The first problem found (lowest
row) is raised as a one-line `UsageError` with a count of the rows that share it; everything else that is worth
knowing but not fatal (duplicates, one-class peptides) goes into the `ValidationReport`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl

from tcrbench.data.schema import (
    CDR3A,
    CDR3B,
    DEFAULT_MAX_LEN,
    GAP_CHARACTERS,
    GERMLINE_CDRS,
    KEPT,
    LABEL,
    LABEL_DTYPE,
    MHC,
    NULLABLE,
    PARTITION,
    PEPTIDE,
    RESIDUES,
    V_GENES,
    Cdr3Convention,
    DuplicatePolicy,
    canonical_order,
    pair_key,
)
from tcrbench.data.vocab import AMINO_ACIDS
from tcrbench.errors import UsageError

ROW = "__row"  # 1-based data row in the source, carried through filtering so messages point at the file
MISSING_TOKENS = ("na", "n/a", "nan", "none", "null")
LABEL_VALUES = {"0": 0, "1": 1, "0.0": 0, "1.0": 1, "false": 0, "true": 1}
_NOT_AA = f"[^{AMINO_ACIDS}]"


@dataclass(frozen=True)
class ValidationReport:
    """What loading found and did: counts a benchmark should print beside its results."""

    source: str
    rows: int
    rows_read: int
    positives: int
    negatives: int
    duplicate_pairs: int = 0
    duplicate_rows: int = 0
    dropped_duplicates: int = 0
    blank_rows: int = 0
    other_chain_rows: int = 0
    cdr3: str = "keep"
    cdr3_stripped: int = 0
    lowercased: int = 0
    columns: dict[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (the warnings as a list), for what `tcrbench data inspect` reports about loading."""
        out = asdict(self)
        out["warnings"] = list(self.warnings)
        return out


@dataclass(frozen=True)
class _Where:
    """Turns a data row into the words an error message uses."""

    source: str
    names: Mapping[str, str]
    line_offset: int | None

    def row(self, row: int) -> str:
        line = f" (line {row + self.line_offset})" if self.line_offset is not None else ""
        return f"data row {row}{line}"

    def col(self, column: str) -> str:
        return f"column {self.names.get(column, column)!r}"

    def fail(self, message: str, row: int | None = None, column: str | None = None, more: int = 0) -> UsageError:
        place = [self.row(row)] if row is not None else []
        place += [self.col(column)] if column is not None else []
        tail = f" ({more} more {'row' if more == 1 else 'rows'} like this)" if more else ""
        prefix = f"{self.source}: {', '.join(place)}" if place else self.source
        return UsageError(f"{prefix}: {message}{tail}")


def _first(frame: pl.DataFrame, bad: pl.Expr, column: str) -> tuple[int, object, int] | None:
    """Row, value and count of the rows where `bad` holds; None when none do."""
    hits = frame.select(ROW, column).filter(bad)
    if hits.height == 0:
        return None
    return hits[0, ROW], hits[0, column], hits.height - 1


def _check_dtypes(frame: pl.DataFrame, where: _Where) -> pl.DataFrame:
    """Sequences must be text; labels may be text, integers or booleans, and are compared as text."""
    casts = []
    for col in (c for c in (*RESIDUES, *V_GENES, MHC) if c in frame.columns):
        dtype = frame.schema[col]
        if dtype == pl.Null or dtype == pl.Categorical or isinstance(dtype, pl.Enum):
            casts.append(pl.col(col).cast(pl.String))
        elif dtype != pl.String:
            raise where.fail(f"holds {dtype} values, not amino-acid sequences", column=col)
    dtype = frame.schema[LABEL]
    if dtype == pl.Boolean:
        casts.append(pl.col(LABEL).cast(pl.String).str.to_lowercase())
    elif dtype.is_numeric() or dtype == pl.Null or dtype == pl.Categorical:
        casts.append(pl.col(LABEL).cast(pl.String))
    elif dtype != pl.String:
        raise where.fail(f"holds {dtype} values, not labels 0/1/true/false", column=LABEL)
    return frame.with_columns(casts) if casts else frame


def _clean_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Trim whitespace, and read the usual spellings of 'no value' as null."""
    text = [c for c in (*RESIDUES, *V_GENES, MHC, LABEL, *KEPT) if c in frame.columns and frame.schema[c] == pl.String]
    exprs = []
    for col in text:
        trimmed = pl.col(col).str.strip_chars()
        missing = trimmed.str.to_lowercase().is_in(MISSING_TOKENS)
        if col in NULLABLE:
            missing = missing | (trimmed == "")
        exprs.append(pl.when(missing).then(None).otherwise(trimmed).alias(col))
    return frame.with_columns(exprs)


def _remove_gaps(frame: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
    """Drop the alignment gaps ('.', '-') an IMGT-gapped export writes into CDR1/CDR2; a value of gaps only
    becomes empty, which `_clean_text` reads as missing. Says how many values it changed."""
    gaps = f"[{GAP_CHARACTERS}]"
    cols = [c for c in GERMLINE_CDRS if c in frame.columns and frame.schema[c] == pl.String]
    if not cols:
        return frame, []
    counts = frame.select(pl.col(c).str.contains(gaps).fill_null(False).sum() for c in cols).row(0)
    changed = int(sum(counts))
    if not changed:
        return frame, []
    frame = frame.with_columns(pl.col(c).str.replace_all(gaps, "") for c in cols)
    noun = "value" if changed == 1 else "values"
    return frame, [
        f"{changed} CDR1/CDR2 {noun} held alignment gaps ('.' or '-'); the gaps were removed "
        f"(a value of gaps only reads as missing)"
    ]


def _check_missing(frame: pl.DataFrame, where: _Where) -> None:
    found = []
    for col in (c for c in frame.columns if c in (PEPTIDE, CDR3B, LABEL, *KEPT)):
        hit = _first(frame, pl.col(col).is_null(), col)
        if hit is not None:
            found.append((hit[0], col, hit[2]))
    if found:
        row, col, more = min(found)
        raise where.fail("missing value", row, col, more)


def _raise_first(problems: list[tuple[int, str, str, int]], where: _Where) -> None:
    if problems:
        row, col, message, more = min(problems, key=lambda p: (p[0], RESIDUES.index(p[1])))
        raise where.fail(message, row, col, more)


def _check_letters(frame: pl.DataFrame, where: _Where, lowercase: bool) -> None:
    problems = []
    for col in (c for c in RESIDUES if c in frame.columns):
        hit = _first(frame, pl.col(col) == "", col)
        if hit is not None:
            problems.append((hit[0], col, "empty sequence", hit[2]))
        hit = _first(frame, pl.col(col).str.contains(_NOT_AA), col)
        if hit is not None:
            row, value, more = hit
            pos = next(i for i, ch in enumerate(str(value)) if ch not in AMINO_ACIDS)
            ch = str(value)[pos]
            hint = (
                " (lowercase: pass --lowercase to upper-case sequences)"
                if ch.islower() and ch.upper() in AMINO_ACIDS and not lowercase
                else ""
            )
            problems.append(
                (
                    row,
                    col,
                    f"{value!r} has {ch!r} at position {pos + 1}, not one of the 20 amino acids {AMINO_ACIDS}{hint}",
                    more,
                )
            )
    _raise_first(problems, where)


def _check_lengths(frame: pl.DataFrame, where: _Where, max_len: int) -> None:
    problems = []
    for col in (c for c in RESIDUES if c in frame.columns):
        hit = _first(frame, pl.col(col).str.len_chars() > max_len, col)
        if hit is not None:
            row, value, more = hit
            problems.append(
                (
                    row,
                    col,
                    f"{value!r} is {len(str(value))} long, over the maximum of {max_len} (raise it with --max-len)",
                    more,
                )
            )
    _raise_first(problems, where)


def _parse_labels(frame: pl.DataFrame, where: _Where) -> pl.DataFrame:
    lowered = pl.col(LABEL).str.to_lowercase()
    hit = _first(frame, ~lowered.is_in(list(LABEL_VALUES)), LABEL)
    if hit is not None:
        row, value, more = hit
        raise where.fail(f"label {value!r} is not 0/1/true/false", row, LABEL, more)
    return frame.with_columns(lowered.replace_strict(LABEL_VALUES, return_dtype=LABEL_DTYPE).alias(LABEL))


def _strip_cdr3(frame: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Remove the conserved C104 and F/W118 only where both are there, so already-trimmed CDR3s stay whole."""
    exprs, stripped = [], 0
    for col in (c for c in (CDR3B, CDR3A) if c in frame.columns):
        s = pl.col(col)
        both = s.str.starts_with("C") & s.str.contains("[FW]$") & (s.str.len_chars() > 2)
        stripped += int(frame.select(both.sum()).item() or 0)
        exprs.append(pl.when(both).then(s.str.slice(1, s.str.len_chars() - 2)).otherwise(s).alias(col))
    return frame.with_columns(exprs), stripped


def _describe_pair(frame: pl.DataFrame, row: int, key: list[str], where: _Where) -> str:
    values = frame.filter(pl.col(ROW) == row).select(key).row(0)
    return ", ".join(f"{where.names.get(c, c)} {v!r}" for c, v in zip(key, values) if v is not None)


def _check_conflicts(frame: pl.DataFrame, key: list[str], where: _Where) -> None:
    groups = (
        frame.group_by(key)
        .agg(
            pl.col(LABEL).n_unique().alias("n"),
            pl.col(ROW).filter(pl.col(LABEL) == 1).min().alias("pos"),
            pl.col(ROW).filter(pl.col(LABEL) == 0).min().alias("neg"),
        )
        .filter(pl.col("n") > 1)
    )
    if groups.height:
        first = groups.with_columns(pl.max_horizontal("pos", "neg").alias("late")).sort("late").row(0, named=True)
        a, b = sorted((first["pos"], first["neg"]))
        more = f" ({groups.height - 1} more pairs like this)" if groups.height > 1 else ""
        raise UsageError(
            f"{where.source}: {where.row(a)} and {where.row(b)}: the same pair "
            f"({_describe_pair(frame, a, key, where)}) is labelled both 1 and 0{more}"
        )


def _check_classes(frame: pl.DataFrame, where: _Where) -> tuple[int, int]:
    positives = int(frame.select(pl.col(LABEL).sum()).item() or 0)
    negatives = frame.height - positives
    if positives == 0 or negatives == 0:
        only = "1 (binder)" if negatives == 0 else "0 (non-binder)"
        raise where.fail(f"every row has label {only}; a binding benchmark needs both classes", column=LABEL)
    return positives, negatives


def _duplicates(
    frame: pl.DataFrame, key: list[str], where: _Where, policy: DuplicatePolicy
) -> tuple[pl.DataFrame, int, int, int]:
    counts = frame.group_by(key).agg(pl.len().alias("n"), pl.col(ROW).sort().alias("rows")).filter(pl.col("n") > 1)
    pairs = counts.height
    rows = int(counts.select((pl.col("n") - 1).sum()).item() or 0) if pairs else 0
    if pairs and policy == "error":
        first = counts.with_columns(pl.col("rows").list.get(1).alias("second")).sort("second").row(0, named=True)
        original, repeat = first["rows"][0], first["second"]
        noun = "row" if rows == 1 else "rows"
        raise UsageError(
            f"{where.source}: {where.row(repeat)} repeats {where.row(original)} "
            f"({_describe_pair(frame, original, key, where)}); {rows} duplicate {noun} in all; "
            f"drop them with --duplicates drop"
        )
    if pairs and policy == "drop":
        frame = frame.unique(subset=key, keep="first", maintain_order=True)
        return frame, pairs, rows, rows
    return frame, pairs, rows, 0


def _one_class_peptides(frame: pl.DataFrame) -> list[str]:
    per = frame.group_by(PEPTIDE).agg(pl.col(LABEL).n_unique().alias("n"), pl.col(LABEL).first().alias("l"))
    one = per.filter(pl.col("n") == 1).sort(PEPTIDE)
    if one.height == 0:
        return []
    example, label = one.row(0)[0], one.row(0)[2]
    kind = "positives" if label == 1 else "negatives"
    count = "1 peptide has" if one.height == 1 else f"{one.height} peptides have"
    return [f"{count} one class only (e.g. {example!r}: {kind} only); their per-peptide AUROC is undefined"]


def _integer_partition(frame: pl.DataFrame) -> pl.DataFrame:
    """NetTCR's partitions arrive as text from CSV; integers sort and compare as the authors meant."""
    if PARTITION in frame.columns and frame.schema[PARTITION] == pl.String:
        as_int = frame[PARTITION].cast(pl.Int64, strict=False)
        if as_int.null_count() == 0:
            return frame.with_columns(as_int.alias(PARTITION))
    return frame


def normalise_frame(
    frame: pl.DataFrame,
    source: str,
    *,
    cdr3: Cdr3Convention = "keep",
    lowercase: bool = False,
    max_len: int = DEFAULT_MAX_LEN,
    duplicates: DuplicatePolicy = "keep",
    names: Mapping[str, str] | None = None,
    line_offset: int | None = None,
    rows_read: int | None = None,
    blank_rows: int = 0,
    other_chain_rows: int = 0,
    classes: bool = True,  # False: binders only are fine (--negatives makes the rest)
) -> tuple[pl.DataFrame, ValidationReport]:
    """Check a canonical-named frame and return it cleaned (labels Int8, CDR3 convention applied) with a report.

    `names` maps canonical names back to the user's column names for messages; `line_offset` turns a data row
    into a file line; rows_read, blank_rows and other_chain_rows pass the reader's counts into the report.
    Raises UsageError on the first problem. The frame may carry a 1-based `__row` column
    (the readers add it before dropping rows); without one, rows are numbered from 1 here.
    """
    if cdr3 not in ("keep", "strip"):
        raise UsageError(f"cdr3 must be 'keep' or 'strip', got {cdr3!r}")
    if duplicates not in ("keep", "drop", "error"):
        raise UsageError(f"duplicates must be 'keep', 'drop' or 'error', got {duplicates!r}")
    if max_len < 1:
        raise UsageError(f"max_len must be at least 1, got {max_len}")
    where = _Where(source, dict(names or {}), line_offset)
    for col in (PEPTIDE, CDR3B, LABEL):
        if col not in frame.columns:
            raise UsageError(f"{source}: no {col!r} column; columns found: {', '.join(map(repr, frame.columns))}")
    if frame.height == 0:
        raise UsageError(f"{source}: no data rows")
    if ROW not in frame.columns:
        frame = frame.with_row_index(ROW, offset=1)
    frame, gap_warnings = _remove_gaps(_check_dtypes(frame, where))
    frame = _clean_text(frame)
    _check_missing(frame, where)
    lowered = 0
    if lowercase:
        seqs = [c for c in RESIDUES if c in frame.columns]
        lowered = int(
            frame.select(pl.sum_horizontal([pl.col(c).str.contains("[a-z]").fill_null(False) for c in seqs]))
            .sum()
            .item()
        )
        frame = frame.with_columns(pl.col(c).str.to_uppercase() for c in seqs)
    _check_letters(frame, where, lowercase)
    stripped = 0
    if cdr3 == "strip":
        frame, stripped = _strip_cdr3(frame)
    _check_lengths(frame, where, max_len)
    frame = _parse_labels(frame, where)
    key = pair_key(frame)
    _check_conflicts(frame, key, where)
    frame, pairs, dup_rows, dropped = _duplicates(frame, key, where, duplicates)
    positives = _check_classes(frame, where)[0] if classes else int(frame[LABEL].sum())
    negatives = frame.height - positives
    warnings = gap_warnings + (_one_class_peptides(frame) if classes else [])
    frame = canonical_order(_integer_partition(frame.drop(ROW)))
    report = ValidationReport(
        source=source,
        rows=frame.height,
        rows_read=rows_read if rows_read is not None else frame.height + dropped,
        positives=positives,
        negatives=negatives,
        duplicate_pairs=pairs,
        duplicate_rows=dup_rows,
        dropped_duplicates=dropped,
        cdr3=cdr3,
        cdr3_stripped=stripped,
        lowercased=lowered,
        blank_rows=blank_rows,
        other_chain_rows=other_chain_rows,
        columns=dict(names or {}),
        warnings=tuple(warnings),
    )
    return frame, report


def validate_frame(
    frame: pl.DataFrame, source: str, *, max_len: int = DEFAULT_MAX_LEN, duplicates: DuplicatePolicy = "keep"
) -> ValidationReport:
    """Check a frame already in the canonical schema (e.g. from a dataset plugin); raise UsageError if bad."""
    return normalise_frame(frame, source, max_len=max_len, duplicates=duplicates)[1]
