"""Public TCR database exports (VDJdb, McPAS-TCR, AIRR rearrangements, scirpy obs tables), recognised by their
header and converted into columns that the canonical aliases map.

A database export is not a benchmark table: it holds one chain per row, or rows of other species and chains,
or rows without a peptide. Converting before the aliases are applied pairs the chains and drops what cannot be
used, and says how many rows each step dropped (the notes), so no row disappears unreported.

Wiring (readers.load_table): after `read_raw`, `fmt = choose_format(columns, forced, source)`; when it is a
name, `frame, notes = convert(raw.frame, fmt, source, options)` and the column mapping runs on `frame`. The
converted frame keeps ROW (a pair keeps its earlier row) and names its columns `peptide`, `cdr3b`, `cdr3a`,
`mhc`, ... so `resolve_columns` maps them without overrides. No format yields a label: these are binders only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import polars as pl

from tcrbench.data.formats import airr, mcpas, vdjdb
from tcrbench.data.validate import ROW
from tcrbench.errors import UsageError

Converter = Callable[[pl.DataFrame, str, "Mapping[str, str] | None"], "tuple[pl.DataFrame, list[str]]"]

# name -> one line for --help and docs
FORMATS: dict[str, str] = {
    vdjdb.NAME: vdjdb.DESCRIPTION,
    mcpas.NAME: mcpas.DESCRIPTION,
    airr.AIRR: airr.AIRR_DESCRIPTION,
    airr.SCIRPY: airr.SCIRPY_DESCRIPTION,
}
# name -> option -> default ("" where there is none); OPTION_HELP says what each does
OPTIONS: dict[str, dict[str, str]] = {
    vdjdb.NAME: dict(vdjdb.OPTIONS),
    mcpas.NAME: dict(mcpas.OPTIONS),
    airr.AIRR: dict(airr.OPTIONS),
    airr.SCIRPY: dict(airr.OPTIONS),
}
OPTION_HELP: dict[str, dict[str, str]] = {
    vdjdb.NAME: dict(vdjdb.OPTION_HELP),
    mcpas.NAME: dict(mcpas.OPTION_HELP),
    airr.AIRR: dict(airr.OPTION_HELP),
    airr.SCIRPY: dict(airr.OPTION_HELP),
}
# what `forced` accepts besides a format name: detect as usual, or read the table as it is
AUTO, NONE = "auto", "none"

_MISSING: dict[str, Callable[[Sequence[str]], list[str]]] = {
    vdjdb.NAME: vdjdb.missing,
    mcpas.NAME: mcpas.missing,
    airr.AIRR: airr.airr_missing,
    airr.SCIRPY: airr.scirpy_missing,
}
# a header is of a format when it has all that format's required columns (scirpy: and is not an AIRR table)
_MATCHES: dict[str, Callable[[Sequence[str]], bool]] = {
    vdjdb.NAME: lambda columns: not vdjdb.missing(columns),
    mcpas.NAME: lambda columns: not mcpas.missing(columns),
    airr.AIRR: lambda columns: not airr.airr_missing(columns),
    airr.SCIRPY: airr.scirpy_matches,
}
_CONVERT: dict[str, Converter] = {
    vdjdb.NAME: vdjdb.convert,
    mcpas.NAME: mcpas.convert,
    airr.AIRR: airr.convert_airr,
    airr.SCIRPY: airr.convert_scirpy,
}


def _header(columns: Sequence[str]) -> list[str]:
    return [c for c in columns if c != ROW]


def detect_format(columns: Sequence[str], source: str = "table") -> str | None:
    """The export whose distinctive columns the header holds, or None for any other table.

    The rules are disjoint by construction; should a header still satisfy two, that is an error naming both,
    since guessing would convert the table the wrong way.
    """
    header = _header(columns)
    hits = [name for name, test in _MATCHES.items() if test(header)]
    if len(hits) > 1:
        raise UsageError(
            f"{source}: the header fits the {' and the '.join(hits)} formats; choose one with --format NAME"
        )
    return hits[0] if hits else None


def choose_format(columns: Sequence[str], forced: str | None = None, source: str = "table") -> str | None:
    """The format to convert with: `forced` by name, `none` for no conversion, else (None, `auto`) detection.

    A forced format whose required columns the file lacks is an error that names them.
    """
    if forced is None or forced.strip().lower() == AUTO:
        return detect_format(columns, source)
    name = forced.strip().lower()
    if name == NONE:
        return None
    if name not in FORMATS:
        choices = ", ".join([*FORMATS, AUTO, NONE])
        raise UsageError(f"{source}: unknown format {forced!r}; formats are {choices}")
    lacking = _MISSING[name](_header(columns))
    if lacking:
        raise UsageError(f"{source}: not a {name} table: no column {', '.join(map(repr, lacking))}")
    return name


def convert(
    raw: pl.DataFrame, fmt: str, source: str, options: Mapping[str, str] | None = None
) -> tuple[pl.DataFrame, list[str]]:
    """Convert a raw export (text columns plus ROW) into aliasable columns; returns the frame and its notes.

    options: the format's own (see OPTIONS), e.g. {"min_score": "1"} for VDJdb; an unknown name is an error.
    Every row the conversion drops is counted in a note, one line each.
    """
    if fmt not in _CONVERT:
        raise UsageError(f"{source}: unknown format {fmt!r}; formats are {', '.join(FORMATS)}")
    if ROW not in raw.columns:
        raise ValueError(f"convert needs the {ROW!r} column that read_raw adds")
    return _CONVERT[fmt](raw, source, options)


def parse_format(spec: str | None) -> tuple[str | None, dict[str, str]]:
    """`--format vdjdb:min_score=1,species=any` -> ("vdjdb", {"min_score": "1", "species": "any"}); None -> auto."""
    if spec is None or not spec.strip():
        return None, {}
    name, _, rest = spec.strip().partition(":")
    options: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--format {spec}: expected NAME[:option=value,...], got {part!r}")
        options[key.strip()] = value.strip()
    name = name.strip().lower()
    if name not in (*FORMATS, AUTO, NONE):
        raise UsageError(f"--format {spec}: unknown format {name!r}; formats are {', '.join([*FORMATS, AUTO, NONE])}")
    known = OPTIONS.get(name, {})
    unknown = sorted(set(options) - set(known))
    if unknown:
        allowed = ", ".join(known) or "none"
        raise UsageError(f"--format {spec}: {name} has no option {unknown[0]!r} (options: {allowed})")
    return name, options


__all__ = [
    "AUTO",
    "FORMATS",
    "NONE",
    "OPTIONS",
    "OPTION_HELP",
    "choose_format",
    "convert",
    "detect_format",
    "parse_format",
]
