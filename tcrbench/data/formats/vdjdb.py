"""VDJdb exports: the web site's TSV (`Gene`, `CDR3`, `Epitope`, `Score`) and the release dump (`gene`, `cdr3`,
`antigen.epitope`, `vdjdb.score`), one chain per row, α and β of one receptor sharing a `complex.id`.

Pairing matters: read row by row, a paired receptor would count as two single-chain TCRs, and its α chain
would be lost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl

from tcrbench.data.formats._common import (
    CHAIN,
    J_ALPHA,
    J_BETA,
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
from tcrbench.data.schema import CDR3A, CDR3B, MHC, PEPTIDE
from tcrbench.data.validate import ROW
from tcrbench.errors import UsageError

NAME = "vdjdb"
DESCRIPTION = "VDJdb TSV export (web or release dump): α/β rows paired through complex.id"
OPTIONS = {"min_score": "0", "species": "HomoSapiens", "mhc_class": "any"}
OPTION_HELP = {
    "min_score": "drop rows whose VDJdb confidence score is below this (0-3)",
    "species": "keep only this TCR species (HomoSapiens, MusMusculus, MacacaMulatta; 'any' keeps all)",
    "mhc_class": "keep only MHCI or MHCII epitopes ('any' keeps both)",
}
# lower-cased names, the web export's first, then the release dump's
_COLUMNS = {
    "complex": ("complex.id",),
    "gene": ("gene",),
    "cdr3": ("cdr3",),
    "v": ("v", "v.segm"),
    "j": ("j", "j.segm"),
    "species": ("species",),
    "mhc_a": ("mhc a", "mhc.a"),
    "mhc_b": ("mhc b", "mhc.b"),
    "mhc_class": ("mhc class", "mhc.class"),
    "epitope": ("epitope", "antigen.epitope"),
    "epitope_gene": ("epitope gene", "antigen.gene"),
    "epitope_species": ("epitope species", "antigen.species"),
    "score": ("score", "vdjdb.score"),
}
_REQUIRED = ("complex", "gene", "cdr3", "epitope")


def missing(columns: Sequence[str]) -> list[str]:
    """The columns a forced VDJdb conversion needs and the file lacks."""
    low = lookup(columns)
    return [" or ".join(_COLUMNS[k]) for k in _REQUIRED if not pick(low, *_COLUMNS[k])]


def _score(text: str, source: str) -> int:
    if text not in ("0", "1", "2", "3"):
        raise UsageError(f"{source}: VDJdb option min_score={text!r}: must be 0, 1, 2 or 3")
    return int(text)


def convert(raw: pl.DataFrame, source: str, options: Mapping[str, str] | None = None) -> tuple[pl.DataFrame, list[str]]:
    """Filter by species, MHC class and score, then pair α and β through complex.id (0: unpaired).

    Output: ROW, peptide, cdr3b, cdr3a, mhc, v/j genes of both chains, and mhc_class, species, epitope_gene,
    epitope_species, score, complex_id for whoever asks for them as extra columns. No label: VDJdb holds binders.
    """
    opts = check_options("VDJdb", options, OPTIONS, source)
    min_score = _score(opts["min_score"], source)
    species, mhc_class = opts["species"], opts["mhc_class"]
    if mhc_class.lower() not in ("any", "mhci", "mhcii"):
        raise UsageError(f"{source}: VDJdb option mhc_class={mhc_class!r}: must be MHCI, MHCII or any")
    low = lookup(raw.columns)
    col = {k: pick(low, *names) for k, names in _COLUMNS.items()}
    if min_score and col["score"] is None:
        raise UsageError(f"{source}: VDJdb option min_score={min_score} needs a Score column; the file has none")
    frame = raw.select(
        ROW,
        value(col["complex"]).alias(KEY),
        chain_of(col["gene"]).alias(CHAIN),
        value(col["epitope"]).alias(PEPTIDE),
        value(col["cdr3"]).alias("cdr3"),
        value(col["v"]).alias("v"),
        value(col["j"]).alias("j"),
        value(col["mhc_a"]).alias("mhc_a"),
        value(col["mhc_b"]).alias("mhc_b"),
        value(col["mhc_class"]).alias("mhc_class"),
        value(col["species"]).alias("species"),
        value(col["epitope_gene"]).alias("epitope_gene"),
        value(col["epitope_species"]).alias("epitope_species"),
        value(col["score"]).cast(pl.Int64, strict=False).alias("score"),
    )
    rows = frame.height
    notes: list[str] = []
    drops: list[str] = []

    def drop(keep: pl.Expr, why: str) -> None:
        nonlocal frame
        before = frame.height
        frame = frame.filter(keep.fill_null(False))
        if before - frame.height:
            drops.append(f"{plural(before - frame.height, 'row')} {why} dropped")

    drop(pl.col(CHAIN).is_not_null(), "of neither TRA nor TRB")
    if species.lower() != "any":
        drop(pl.col("species").str.to_lowercase() == species.lower(), f"of species other than {species}")
    if mhc_class.lower() != "any":
        drop(pl.col("mhc_class").str.to_lowercase() == mhc_class.lower(), f"of MHC class other than {mhc_class}")
    if min_score:
        drop(pl.col("score") >= min_score, f"below min_score {min_score}")
    notes.append(f"VDJdb: {plural(rows, 'row')} read" + "".join(f"; {d}" for d in drops))
    # complex.id 0 marks a chain published without its partner
    frame = frame.with_columns(pl.when(pl.col(KEY) == "0").then(None).otherwise(pl.col(KEY)).alias(KEY))
    shared = [PEPTIDE, "mhc_a", "mhc_b", "mhc_class", "species", "epitope_gene", "epitope_species", "score"]
    frame = frame.with_columns(pl.col(KEY).alias("complex_id"))
    paired, stats = pair_chains(frame, [*shared, "complex_id"], ["cdr3", "v", "j"])
    class_two = pl.col("mhc_class").str.to_uppercase() == "MHCII"
    out = paired.select(
        ROW,
        PEPTIDE,
        pl.col("cdr3_beta").alias(CDR3B),
        pl.col("cdr3_alpha").alias(CDR3A),
        # class II needs both chains to name the allele; class I's β chain is B2M for every allele
        pl.when(class_two & pl.col("mhc_b").is_not_null())
        .then(pl.concat_str("mhc_a", "mhc_b", separator="/"))
        .otherwise(pl.col("mhc_a"))
        .alias(MHC),
        pl.col("v_beta").alias(V_BETA),
        pl.col("j_beta").alias(J_BETA),
        pl.col("v_alpha").alias(V_ALPHA),
        pl.col("j_alpha").alias(J_ALPHA),
        "mhc_class",
        "species",
        "epitope_gene",
        "epitope_species",
        "score",
        pl.col("complex_id").fill_null("0"),
    )
    pairing = (
        f"VDJdb: {plural(2 * stats.pairs, 'α/β row')} paired into {plural(stats.pairs, 'TCR')} through complex.id; "
        f"{plural(stats.beta_only, 'β row')} kept single-chain (complex.id 0 or no α); "
        f"{plural(stats.alpha_dropped, 'α-only row')} dropped"
    )
    notes.append(pairing)
    if stats.extra_groups:
        notes.append(
            f"VDJdb: {plural(stats.extra_groups, 'complex.id')} with more than one α or β; "
            f"the first of each kept, {plural(stats.extra_rows, 'row')} dropped"
        )
    require_rows(out, "VDJdb", source, notes)
    return out, notes
