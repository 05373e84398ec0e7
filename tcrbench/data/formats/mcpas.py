"""McPAS-TCR's CSV: one receptor per row (`CDR3.alpha.aa`, `CDR3.beta.aa`), most of them without a known peptide.

Its column names match none of the canonical aliases, and most rows (pathology-associated TCRs whose epitope
is unknown) have no peptide, so the table cannot be read as it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl

from tcrbench.data.formats._common import (
    J_ALPHA,
    J_BETA,
    V_ALPHA,
    V_BETA,
    check_options,
    lookup,
    pick,
    plural,
    require_rows,
    value,
)
from tcrbench.data.schema import CDR3A, CDR3B, MHC, PEPTIDE
from tcrbench.data.validate import ROW

NAME = "mcpas"
DESCRIPTION = "McPAS-TCR CSV: CDR3.beta.aa / CDR3.alpha.aa with Epitope.peptide"
OPTIONS = {"species": "Human"}
OPTION_HELP = {"species": "keep only this species (Human, Mouse; 'any' keeps all)"}
_REQUIRED = ("cdr3.beta.aa", "epitope.peptide")


def missing(columns: Sequence[str]) -> list[str]:
    """The columns a forced McPAS-TCR conversion needs and the file lacks."""
    low = lookup(columns)
    return [n for n in _REQUIRED if n not in low]


def convert(raw: pl.DataFrame, source: str, options: Mapping[str, str] | None = None) -> tuple[pl.DataFrame, list[str]]:
    """Keep one species' rows that name a peptide and a β chain.

    Output: ROW, peptide, cdr3b, cdr3a, mhc, v/j genes of both chains, and species, category, pathology,
    antigen_protein, method as extra columns. No label: McPAS holds binders (or disease-associated TCRs).
    """
    opts = check_options("McPAS-TCR", options, OPTIONS, source)
    species = opts["species"]
    low = lookup(raw.columns)
    frame = raw.select(
        ROW,
        value(pick(low, "epitope.peptide")).alias(PEPTIDE),
        value(pick(low, "cdr3.beta.aa")).alias(CDR3B),
        value(pick(low, "cdr3.alpha.aa")).alias(CDR3A),
        value(pick(low, "mhc")).alias(MHC),
        value(pick(low, "trbv")).alias(V_BETA),
        value(pick(low, "trbj")).alias(J_BETA),
        value(pick(low, "trav")).alias(V_ALPHA),
        value(pick(low, "traj")).alias(J_ALPHA),
        value(pick(low, "species")).alias("species"),
        value(pick(low, "category")).alias("category"),
        value(pick(low, "pathology")).alias("pathology"),
        value(pick(low, "antigen.protein")).alias("antigen_protein"),
        value(pick(low, "antigen.identification.method")).alias("method"),
    )
    rows = frame.height
    drops: list[str] = []

    def drop(keep: pl.Expr, why: str) -> None:
        nonlocal frame
        before = frame.height
        frame = frame.filter(keep.fill_null(False))
        if before - frame.height:
            drops.append(f"{plural(before - frame.height, 'row')} {why} dropped")

    if species.lower() != "any":
        drop(pl.col("species").str.to_lowercase() == species.lower(), f"of species other than {species}")
    drop(pl.col(PEPTIDE).is_not_null(), "without a peptide (Epitope.peptide)")
    drop(pl.col(CDR3B).is_not_null(), "without a β CDR3 (CDR3.beta.aa)")
    paired = int(frame[CDR3A].is_not_null().sum())
    notes = [
        f"McPAS-TCR: {plural(rows, 'row')} read" + "".join(f"; {d}" for d in drops),
        f"McPAS-TCR: {plural(frame.height, 'row')} kept, {paired:,} with an α chain",
    ]
    require_rows(frame, "McPAS-TCR", source, notes)
    return frame, notes
