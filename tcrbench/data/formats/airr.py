"""AIRR rearrangement TSVs (one chain per row, paired through `cell_id` where it exists) and scirpy-style obs
tables (one cell per row, `IR_VJ_1_*` / `IR_VDJ_1_*`, or `VJ_1_*` / `VDJ_1_*` from scirpy >= 0.13).

Read through the aliases alone, an AIRR file keeps its β rows and loses every α chain, and a scirpy table
keeps γδ cells as if their δ chain were a β; converting first pairs the chains and drops what is not α/β.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl

from tcrbench.data.formats._common import (
    CHAIN,
    EPITOPE_NAMES,
    KEY,
    V_ALPHA,
    V_BETA,
    chain_of,
    check_options,
    lookup,
    pair_chains,
    pick,
    plural,
    require_rows,
    value,
)
from tcrbench.data.schema import CDR1A, CDR1B, CDR2A, CDR2B, CDR3A, CDR3B, MHC, PEPTIDE
from tcrbench.data.validate import ROW
from tcrbench.errors import UsageError

AIRR, SCIRPY = "airr", "scirpy"
AIRR_DESCRIPTION = "AIRR rearrangement TSV: TRA/TRB rows, paired through cell_id where present"
SCIRPY_DESCRIPTION = "scirpy obs table: IR_VJ_1_*/IR_VDJ_1_* (or VJ_1_*/VDJ_1_*) columns, one cell per row"
OPTIONS = {"epitope_column": ""}
OPTION_HELP = {"epitope_column": "the column that holds the epitope, where the file has several candidates"}
_AIRR_REQUIRED = ("sequence_id", "locus", "junction_aa")
_ABUNDANCE = ("umi_count", "duplicate_count", "consensus_count")
_MHC = ("mhc", "hla", "mhc_allele")
_NOT_PRODUCTIVE = ["f", "false", "0", "no"]
# scirpy's obs prefixes: the airr-context names of scirpy >= 0.13, then the older IR_ ones
_SCIRPY_PREFIXES = ("vj_1_", "ir_vj_1_")
_PER_CHAIN = {"cdr3": "junction_aa", "v": "v_call", "j": "j_call", "cdr1": "cdr1_aa", "cdr2": "cdr2_aa"}
_OUT = {
    "cdr3": (CDR3B, CDR3A),
    "v": (V_BETA, V_ALPHA),
    "j": ("j_beta", "j_alpha"),
    "cdr1": (CDR1B, CDR1A),
    "cdr2": (CDR2B, CDR2A),
}


def airr_missing(columns: Sequence[str]) -> list[str]:
    """The columns a forced AIRR conversion needs and the file lacks."""
    low = lookup(columns)
    return [n for n in _AIRR_REQUIRED if n not in low]


def _scirpy_prefix(columns: Sequence[str]) -> tuple[str, str] | None:
    low = lookup(columns)
    for vj in _SCIRPY_PREFIXES:
        vdj = vj.replace("vj_", "vdj_")
        if f"{vdj}junction_aa" in low:
            return vj, vdj
    return None


def scirpy_matches(columns: Sequence[str]) -> bool:
    """A VDJ_1 junction column names a scirpy obs table (AIRR's own columns have no chain prefix)."""
    return _scirpy_prefix(columns) is not None and bool(airr_missing(columns))


def scirpy_missing(columns: Sequence[str]) -> list[str]:
    """The columns a forced scirpy conversion needs and the file lacks."""
    return [] if _scirpy_prefix(columns) else ["IR_VDJ_1_junction_aa or VDJ_1_junction_aa"]


def _epitope(low: Mapping[str, str], chosen: str, source: str) -> str | None:
    """The epitope column: the one named by the option, else the single column with an epitope-like name."""
    if chosen:
        if chosen.lower() not in low:
            raise UsageError(f"{source}: option epitope_column={chosen!r}: no such column")
        return low[chosen.lower()]
    hits = [low[n] for n in EPITOPE_NAMES if n in low]
    if len(hits) > 1:
        raise UsageError(
            f"{source}: columns {', '.join(map(repr, hits))} could each hold the epitope; "
            f"choose one with the epitope_column option"
        )
    return hits[0] if hits else None


def convert_airr(
    raw: pl.DataFrame, source: str, options: Mapping[str, str] | None = None
) -> tuple[pl.DataFrame, list[str]]:
    """Drop non-productive and non-α/β rows; with cell_id, pair one α and one β per cell, else keep β rows.

    Output: ROW, peptide (if the file has an epitope column), cdr3b, cdr3a, cdr1/cdr2 of both chains where the
    file has cdr1_aa/cdr2_aa, v/j genes of both chains, mhc where present, and cell_id. No label.
    """
    opts = check_options("AIRR", options, OPTIONS, source)
    low = lookup(raw.columns)
    epitope = _epitope(low, opts["epitope_column"], source)
    cell = pick(low, "cell_id")
    abundance = pick(low, *_ABUNDANCE)
    frame = raw.select(
        ROW,
        value(cell).alias(KEY),
        chain_of(low["locus"]).alias(CHAIN),
        value(pick(low, "productive")).str.to_lowercase().alias("productive"),
        value(epitope).alias(PEPTIDE),
        value(pick(low, *_MHC)).alias(MHC),
        *[value(pick(low, src)).alias(name) for name, src in _PER_CHAIN.items()],
        *([value(abundance).alias(abundance)] if abundance else []),
    )
    rows = frame.height
    drops: list[str] = []

    def drop(keep: pl.Expr, why: str) -> None:
        nonlocal frame
        before = frame.height
        frame = frame.filter(keep.fill_null(False))
        if before - frame.height:
            drops.append(f"{plural(before - frame.height, 'row')} {why} dropped")

    drop(~pl.col("productive").is_in(_NOT_PRODUCTIVE).fill_null(False), "not productive")
    drop(pl.col(CHAIN).is_not_null(), "of a locus other than TRA/TRB")
    drop(pl.col("cdr3").is_not_null(), "without junction_aa")
    notes = [f"AIRR: {plural(rows, 'row')} read" + "".join(f"; {d}" for d in drops)]
    shared = [PEPTIDE, MHC, "cell_id"]
    frame = frame.with_columns(pl.col(KEY).alias("cell_id"))
    if cell is None:
        frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(KEY))
    paired, stats = pair_chains(frame, shared, list(_PER_CHAIN), abundance)
    renames = {f"{c}_beta": _OUT[c][0] for c in _PER_CHAIN} | {f"{c}_alpha": _OUT[c][1] for c in _PER_CHAIN}
    out = paired.rename(renames)
    out = out.select(ROW, PEPTIDE, CDR3B, CDR3A, *[c for c in out.columns if c not in (ROW, PEPTIDE, CDR3B, CDR3A)])
    if epitope is None:
        out = out.drop(PEPTIDE)
    if pick(low, *_MHC) is None:
        out = out.drop(MHC)
    if cell is None:
        out = out.drop("cell_id", CDR3A, V_ALPHA, "j_alpha", CDR1A, CDR2A)
        notes.append(f"AIRR: no cell_id, so no pairing: {plural(out.height, 'β row')} kept, α rows dropped")
    else:
        notes.append(
            f"AIRR: {plural(stats.pairs, 'cell')} paired α/β through cell_id; "
            f"{plural(stats.beta_only, 'β chain')} kept single-chain; {plural(stats.alpha_dropped, 'α-only chain')} dropped"
        )
        if stats.extra_groups:
            how = f"the highest {abundance}" if abundance else "the first in the file"
            notes.append(
                f"AIRR: {plural(stats.extra_groups, 'cell')} with more than one α or β; "
                f"{how} kept, {plural(stats.extra_rows, 'row')} dropped"
            )
    for loop, names in (("cdr1_aa", (CDR1B, CDR1A)), ("cdr2_aa", (CDR2B, CDR2A))):
        if loop not in low:
            out = out.drop(*[c for c in names if c in out.columns])
    if epitope is None:
        notes.append("AIRR: no epitope column, so no peptide")
    require_rows(out, "AIRR", source, notes)
    return out, notes


def convert_scirpy(
    raw: pl.DataFrame, source: str, options: Mapping[str, str] | None = None
) -> tuple[pl.DataFrame, list[str]]:
    """Keep cells whose first VDJ chain is a β; take their first VJ chain as α where it is one.

    Output: ROW, peptide (if an epitope column exists), cdr3b, cdr3a, cdr1/cdr2 where present, v/j genes of both
    chains. VDJ_1/VJ_1 are scirpy's most abundant chain of each kind; a cell's second chains are not read.
    """
    opts = check_options("scirpy", options, OPTIONS, source)
    low = lookup(raw.columns)
    prefixes = _scirpy_prefix(raw.columns)
    if prefixes is None:
        raise UsageError(f"{source}: not a scirpy table: no IR_VDJ_1_junction_aa or VDJ_1_junction_aa column")
    vj, vdj = prefixes
    epitope = _epitope(low, opts["epitope_column"], source)
    cols = [pl.col(ROW), value(epitope).alias(PEPTIDE)]
    for name, field in _PER_CHAIN.items():
        beta, alpha = _OUT[name]
        for prefix, out in ((vdj, beta), (vj, alpha)):
            if name == "cdr3" or f"{prefix}{field}" in low:
                cols.append(value(pick(low, f"{prefix}{field}")).alias(out))
    locus_b, locus_a = pick(low, f"{vdj}locus"), pick(low, f"{vj}locus")
    frame = raw.select(
        *cols,
        value(pick(low, *_MHC)).alias(MHC),
        value(locus_b).str.to_uppercase().alias("__locus_b"),
        value(locus_a).str.to_uppercase().alias("__locus_a"),
        value(pick(low, vdj.replace("_1_", "_2_") + "junction_aa")).alias("__second_b"),
    )
    rows = frame.height
    notes: list[str] = []
    no_beta = frame.filter(pl.col(CDR3B).is_null()).height
    frame = frame.filter(pl.col(CDR3B).is_not_null())
    not_tcr = frame.filter(pl.col("__locus_b").is_not_null() & (pl.col("__locus_b") != "TRB")).height
    frame = frame.filter(pl.col("__locus_b").is_null() | (pl.col("__locus_b") == "TRB"))
    alpha_cols = [c for c in (CDR3A, V_ALPHA, "j_alpha", CDR1A, CDR2A) if c in frame.columns]
    not_alpha = pl.col("__locus_a").is_not_null() & (pl.col("__locus_a") != "TRA")
    cleared = frame.filter(not_alpha & pl.col(CDR3A).is_not_null()).height
    frame = frame.with_columns(pl.when(not_alpha).then(None).otherwise(pl.col(c)).alias(c) for c in alpha_cols)
    second = frame.filter(pl.col("__second_b").is_not_null()).height
    frame = frame.drop("__locus_b", "__locus_a", "__second_b")
    if epitope is None:
        frame = frame.drop(PEPTIDE)
    if pick(low, *_MHC) is None:
        frame = frame.drop(MHC)
    drops = [
        f"{plural(n, 'cell')} {why}"
        for n, why in ((no_beta, "without a VDJ chain dropped"), (not_tcr, "whose VDJ chain is not TRB dropped"))
        if n
    ]
    notes.append(f"scirpy: {plural(rows, 'cell')} read" + "".join(f"; {d}" for d in drops))
    paired = int(frame[CDR3A].is_not_null().sum())
    kept = f"scirpy: {plural(frame.height, 'cell')} kept, {paired:,} with an α chain"
    if cleared:
        kept += f"; {plural(cleared, 'VJ chain')} other than TRA left out"
    if second:
        kept += f"; {plural(second, 'cell')} with a second β chain read by its first (VDJ_1)"
    notes.append(kept)
    require_rows(frame, "scirpy", source, notes)
    return frame, notes
