"""Read CSV, TSV and Parquet into the canonical schema, or fail with one line that names the file and the problem.

Text files are read with every column as text so that validation sees exactly what the user wrote (`true`,
` 1`, `NA`) rather than what a type guesser made of it. The format comes from the file's content where that is
unambiguous (Parquet's magic bytes) and from its extension or first line otherwise.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import polars as pl

from tcrbench.data.aliases import chain_column, parse_column_spec, resolve_columns
from tcrbench.data.schema import DEFAULT_MAX_LEN, KEPT, LABEL, Cdr3Convention, DuplicatePolicy
from tcrbench.data.validate import ROW, ValidationReport, normalise_frame
from tcrbench.errors import UsageError

PARQUET_MAGIC = b"PAR1"
_SNIFF_BYTES = 1 << 16


@dataclass(frozen=True)
class RawTable:
    """A file's rows as read, before any column is interpreted."""

    frame: pl.DataFrame  # the file's columns plus ROW (1-based data row); fully blank rows removed
    source: str
    kind: str  # "csv", "tsv" or "parquet"
    line_offset: int | None  # data row + line_offset = line in the file, where lines and rows correspond
    blank_rows: int
    notes: tuple[str, ...] = ()  # what was read differently from the file's letter (a row-number column ignored)


@dataclass(frozen=True)
class LoadedTable:
    """A validated table in the canonical schema and what validation found (duplicates, drops, warnings)."""

    frame: pl.DataFrame
    report: ValidationReport


def _kind(path: Path, head: bytes) -> str:
    if head.startswith(PARQUET_MAGIC):
        return "parquet"
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        raise UsageError(f"{path}: not a Parquet file (it does not start with the Parquet magic bytes)")
    if suffix in (".tsv", ".tab"):
        return "tsv"
    if suffix == ".csv":
        return "csv"
    first = head.split(b"\n", 1)[0]
    return "tsv" if b"\t" in first and b"," not in first else "csv"


def _check_text(path: Path, head: bytes) -> None:
    if b"\x00" in head:
        raise UsageError(f"{path}: not a table: binary content, neither CSV/TSV text nor Parquet")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not a table: byte {exc.start + 1} is not UTF-8 text") from None


def _header(path: Path, text: str, sep: str) -> list[str]:
    first = next(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=sep), [])
    names = [n.strip() for n in first]
    if not any(names):
        raise UsageError(f"{path}: the first line is blank; expected a header naming the columns")
    seen: set[str] = set()
    for i, name in enumerate(names):
        if not name and i > 0:  # an unnamed first column may be a pandas index: _drop_index decides
            raise UsageError(f"{path}: header column {i + 1} has no name")
        if name in seen:
            raise UsageError(f"{path}: column {name!r} appears twice in the header")
        seen.add(name)
    return names


def _drop_index(path: Path, frame: pl.DataFrame) -> tuple[pl.DataFrame, tuple[str, ...]]:
    """pandas writes its index as an unnamed first column; ignore it when it holds row numbers 0..n-1 or 1..n,
    and keep refusing any other unnamed column (its values may matter, and we cannot tell which field it is)."""
    first = frame.columns[0]
    values = frame[first].str.strip_chars()
    if values.null_count() == 0 and bool(values.str.contains(r"^\d{1,18}$").all()):
        numbers = values.cast(pl.Int64).to_list()
        for start in (0, 1):
            if numbers == list(range(start, start + frame.height)):
                note = f"{path}: the unnamed first column holds row numbers {start}..{start + frame.height - 1} "
                return frame.drop(first), (note + "(a pandas index); it was ignored",)
    raise UsageError(f"{path}: header column 1 has no name")


def _ragged_row(text: str, sep: str, width: int) -> str | None:
    """Polars says only that a row is too long; find which one so the user can fix it."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=sep)
    for i, fields in enumerate(reader):
        if i and fields and len(fields) > width:
            return f"data row {i} (line {reader.line_num}) has {len(fields)} fields, the header has {width}"
    return None


def _separator_hint(name: str, sep: str) -> str:
    for candidate, word in ((";", "semicolons"), ("|", "bars"), ("\t", "tabs"), (",", "commas")):
        if candidate != sep and candidate in name:
            return f"it looks separated by {word}; save it as CSV (commas) or TSV (tabs)"
    return "is it a table at all?"


def _read_text(
    path: Path, data: bytes, kind: str, one_column: bool = False
) -> tuple[pl.DataFrame, int | None, tuple[str, ...]]:
    sep = "\t" if kind == "tsv" else ","
    names = _header(path, data[:_SNIFF_BYTES].decode("utf-8", errors="replace"), sep)
    if len(names) == 1 and not one_column:
        raise UsageError(
            f"{path}: not a table: the header has a single column {names[0]!r} ({_separator_hint(names[0], sep)})"
        )
    try:
        frame = pl.read_csv(io.BytesIO(data), separator=sep, infer_schema=False, quote_char='"')
    except (pl.exceptions.PolarsError, pl.exceptions.PanicException, OSError) as exc:
        ragged = _ragged_row(data.decode("utf-8", errors="replace"), sep, len(names))
        detail = ragged or str(exc).strip().splitlines()[0]
        raise UsageError(f"{path}: not a readable {kind.upper()} table: {detail}") from None
    frame = frame.rename(dict(zip(frame.columns, [name or ROW for name in names])))
    notes: tuple[str, ...] = ()
    if not names[0]:
        frame, notes = _drop_index(path, frame)
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    return frame, (1 if lines == frame.height + 1 else None), notes


def read_raw(path: str | Path, one_column: bool = False) -> RawTable:
    """The file's table with a 1-based data-row column; every file-level problem is a one-line UsageError.

    A one-column text file is refused as a likely wrong separator unless `one_column` (a list of CDR3s is a
    perfectly good pretraining corpus)."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    if path.is_dir():
        raise UsageError(f"{path}: is a directory, not a table file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot be read ({exc.strerror})") from None
    if not data.strip():
        raise UsageError(f"{path}: file is empty")
    kind = _kind(path, data[:_SNIFF_BYTES])
    notes: tuple[str, ...] = ()
    if kind == "parquet":
        try:
            frame = pl.read_parquet(io.BytesIO(data))
        except (pl.exceptions.PolarsError, pl.exceptions.PanicException, OSError) as exc:
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UsageError(f"{path}: not a readable Parquet file ({detail})") from None
        line_offset = None
    else:
        _check_text(path, data[:_SNIFF_BYTES])
        frame, line_offset, notes = _read_text(path, data, kind, one_column)
    if frame.height == 0:
        raise UsageError(f"{path}: has a header but no data rows")
    frame = frame.with_row_index(ROW, offset=1)
    blank = pl.all_horizontal(pl.exclude(ROW).is_null())
    blank_rows = int(frame.select(blank.sum()).item())
    if blank_rows:
        frame = frame.filter(~blank)
        if frame.height == 0:
            raise UsageError(f"{path}: has a header but no data rows")
    return RawTable(frame, str(path), kind, line_offset, blank_rows, notes)


def _chain_filter(raw: pl.DataFrame, column: str, source: str) -> tuple[pl.DataFrame, int]:
    """Keep the beta rows of a one-chain-per-row export (VDJdb's Gene, AIRR's locus, 10x's chain)."""
    chain = pl.col(column).cast(pl.String).str.strip_chars().str.to_uppercase()
    beta = chain.str.starts_with("TRB") | (chain == "BETA")
    kept = raw.filter(beta.fill_null(False))
    if kept.height == 0:
        raise UsageError(
            f"{source}: column {column!r} names no beta chain (TRB) rows; "
            f"only beta CDR3s are read from a one-chain-per-row table"
        )
    return kept, raw.height - kept.height


def load_table(
    path: str | Path,
    columns: Mapping[str, str] | str | None = None,
    cdr3: Cdr3Convention = "keep",
    lowercase: bool = False,
    max_len: int = DEFAULT_MAX_LEN,
    duplicates: DuplicatePolicy = "keep",
    extra_columns: Sequence[str] = (),
    positives_only: bool = False,
    table_format: str | None = None,
) -> LoadedTable:
    """Read, map columns, validate and normalise one table file.

    columns: overrides such as {"peptide": "antigen"} or the CLI's "peptide=antigen,label=interaction".
    cdr3: "keep" the sequences as written, or "strip" the conserved leading C and trailing F/W where both are
    present, so IMGT-style and NetTCR-style files line up. extra_columns: further columns to keep, by name.
    positives_only: a table of binders for --negatives: no label column, or one whose every value is 1.
    table_format: a database export to convert first (`vdjdb:min_score=1`, `none`); by default one is detected
    from the header, but only in a table without a label column (exports hold binders only; a labelled table
    with export-like columns is read as it is). Returns the canonical frame (label Int8, partition/split kept)
    with a ValidationReport.
    """
    overrides = parse_column_spec(columns) if isinstance(columns, str) or columns is None else dict(columns)
    raw = read_raw(path)
    source_frame, notes = _convert_export(raw, table_format)
    found = [c for c in source_frame.columns if c != ROW]
    mapping = resolve_columns(found, overrides, raw.source, positives_only)
    frame, other_chain = source_frame, 0
    chain = chain_column(found, mapping)
    if chain is not None:
        frame, other_chain = _chain_filter(frame, chain, raw.source)
    for name in extra_columns:
        if name not in found:
            raise UsageError(
                f"{raw.source}: extra column {name!r} not found; columns found: {', '.join(map(repr, found))}"
            )
        if name in mapping.values() or name in mapping or name in KEPT:
            raise UsageError(f"{raw.source}: extra column {name!r} clashes with a canonical column")
    selected = frame.select(
        [pl.col(ROW)]
        + [pl.col(src).alias(field) for field, src in mapping.items()]
        + [pl.col(name) for name in extra_columns]
    )
    if LABEL not in mapping:  # binders only: every row is a positive
        selected = selected.with_columns(pl.lit("1").alias(LABEL))
    clean, report = normalise_frame(
        selected,
        raw.source,
        cdr3=cdr3,
        lowercase=lowercase,
        max_len=max_len,
        duplicates=duplicates,
        names=mapping,
        line_offset=raw.line_offset,
        rows_read=raw.frame.height + raw.blank_rows,
        blank_rows=raw.blank_rows,
        other_chain_rows=other_chain,
        classes=not positives_only,
    )
    if positives_only and report.negatives:
        raise UsageError(
            f"{raw.source}: --negatives makes negatives for a table of binders only, but column {mapping[LABEL]!r} "
            f"labels {report.negatives} rows 0; leave out --negatives to use the table's own negatives"
        )
    return LoadedTable(clean, replace(report, warnings=raw.notes + tuple(notes) + report.warnings))


def _convert_export(raw: RawTable, table_format: str | None) -> tuple[pl.DataFrame, list[str]]:
    """The raw frame converted from a database export (tcrbench.data.formats), or as read, with the notes."""
    from tcrbench.data.aliases import ALIASES
    from tcrbench.data.formats import AUTO, choose_format, convert, parse_format

    name, options = parse_format(table_format)
    columns = list(raw.frame.columns)
    if name in (None, AUTO):
        labels = {n for tier in ALIASES[LABEL] for n in tier}
        if any(c.lower() in labels for c in columns):
            return raw.frame, []
    fmt = choose_format(columns, name, raw.source)
    if fmt is None:
        return raw.frame, []
    frame, notes = convert(raw.frame, fmt, raw.source, options)
    return frame, [f"read as a {fmt} export (--format none reads the columns as they are)", *notes]


def write_table(frame: pl.DataFrame, path: str | Path) -> None:
    """Write by extension (.csv, .tsv, .parquet) to a temporary file, then rename: a failure leaves no half file."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".tsv", ".tab", ".parquet", ".pq"):
        raise UsageError(f"{path}: unknown table format {suffix or '(no extension)'!r}; use .csv, .tsv or .parquet")
    if not path.parent.exists():
        raise UsageError(f"{path}: folder {str(path.parent)!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        if suffix in (".parquet", ".pq"):
            frame.write_parquet(tmp)
        else:
            frame.write_csv(tmp, separator="," if suffix == ".csv" else "\t")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
