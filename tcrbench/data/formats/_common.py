"""What the database converters share: case-insensitive column lookup, missing values, options, chain pairing.

Exports hold one chain per row (VDJdb, AIRR) and pair them through an id (complex.id, cell_id); the pairing is
written once here so both formats drop, keep and count the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from tcrbench.data.schema import TRAV, TRBV
from tcrbench.data.validate import MISSING_TOKENS, ROW
from tcrbench.errors import UsageError

# Column names of the converted frame beyond the canonical ones. V genes take the canonical names (trbv, trav:
# SCEPTR and tcrdist read them); the J genes' names match no alias in aliases.py (no `gene`, `locus`, `chain`,
# `antigen`, `target`), so resolve_columns maps only what it should.
V_BETA, J_BETA, V_ALPHA, J_ALPHA = TRBV, "j_beta", TRAV, "j_alpha"
ALPHA, BETA = "A", "B"
KEY, CHAIN, _RANK = "__key", "__chain", "__abundance"
# Where AIRR and scirpy tables carry an epitope, these are the names looked for (as aliases.py's peptide names).
EPITOPE_NAMES = ("epitope", "peptide", "antigen.epitope", "antigen_epitope", "epitope_aa", "pep", "antigen")


def lookup(columns: Sequence[str]) -> dict[str, str]:
    """Lower-cased name -> the name as the file writes it (the first, should two differ only in case)."""
    out: dict[str, str] = {}
    for name in columns:
        out.setdefault(name.lower(), name)
    return out


def pick(low: Mapping[str, str], *names: str) -> str | None:
    """The file's name for the first of `names` (lower case) it has."""
    return next((low[n] for n in names if n in low), None)


def value(column: str | None) -> pl.Expr:
    """A text column trimmed, with blanks and NA-like tokens as null; a column the file lacks is all null."""
    if column is None:
        return pl.lit(None, dtype=pl.String)
    text = pl.col(column).cast(pl.String).str.strip_chars()
    blank = (text == "") | text.str.to_lowercase().is_in(list(MISSING_TOKENS))
    return pl.when(blank).then(None).otherwise(text)


def chain_of(column: str | None) -> pl.Expr:
    """ALPHA for TRA rows, BETA for TRB rows, null for anything else (TRG, TRD, IGH, blank)."""
    text = value(column).str.to_uppercase()
    return (
        pl.when(text.str.starts_with("TRA") | (text == "ALPHA"))
        .then(pl.lit(ALPHA))
        .when(text.str.starts_with("TRB") | (text == "BETA"))
        .then(pl.lit(BETA))
        .otherwise(None)
    )


def check_options(fmt: str, options: Mapping[str, str] | None, known: Mapping[str, str], source: str) -> dict[str, str]:
    """The defaults overlaid with the caller's options; an unknown name is an error rather than silently ignored."""
    given = dict(options or {})
    unknown = [k for k in given if k not in known]
    if unknown:
        names = ", ".join(known) or "(none)"
        raise UsageError(f"{source}: {fmt} has no option {unknown[0]!r}; its options are {names}")
    return {**known, **{k: str(v).strip() for k, v in given.items()}}


def plural(n: int, word: str) -> str:
    """`1 row`, `1,204 rows`: notes are read by people."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def require_rows(frame: pl.DataFrame, fmt: str, source: str, notes: Sequence[str]) -> None:
    """A conversion that leaves nothing is an error that says why, not an empty table failing later."""
    if frame.height == 0:
        raise UsageError(f"{source}: {fmt}: no rows left after conversion ({'; '.join(notes)})")


@dataclass(frozen=True)
class Pairing:
    """What pairing one-chain rows did, for the notes."""

    pairs: int  # α/β pairs made (two rows each)
    beta_only: int  # β rows kept single-chain: no id, or no α under their id
    alpha_dropped: int  # α rows with no β to go with
    extra_groups: int  # ids with more than one α or more than one β
    extra_rows: int  # rows left out of those ids


def pair_chains(
    frame: pl.DataFrame,
    shared: Sequence[str],
    per_chain: Sequence[str],
    abundance: str | None = None,
) -> tuple[pl.DataFrame, Pairing]:
    """Join the α and β rows that share `KEY` into one row; keep β without α, drop α without β.

    `frame` holds ROW, `KEY` (null: the row has no partner by construction), `CHAIN` (ALPHA/BETA), the
    `shared` columns (taken from the β row, else the α row) and the `per_chain` ones (written out as
    `<name>_beta` / `<name>_alpha` by the caller's renaming). Where an id has several rows of one chain, the one
    with the largest `abundance` (else the first in the file) is kept. The pair keeps the earlier ROW of its two.
    """
    order = [pl.col(_RANK).fill_null(float("-inf")), pl.col(ROW)] if abundance else [pl.col(ROW)]
    ranked = frame.with_columns(
        (value(abundance).cast(pl.Float64, strict=False) if abundance else pl.lit(0.0)).alias(_RANK)
    ).sort(order, descending=[True, False] if abundance else [False])
    keyed = ranked.filter(pl.col(KEY).is_not_null())
    sizes = keyed.group_by(KEY, CHAIN).len()
    crowded = sizes.filter(pl.col("len") > 1)
    extra_groups = crowded.select(KEY).unique().height
    extra_rows = int(crowded["len"].sum() - crowded.height) if crowded.height else 0
    firsts = keyed.unique([KEY, CHAIN], keep="first", maintain_order=True)

    def side(chain: str, suffix: str) -> pl.DataFrame:
        part = firsts.filter(pl.col(CHAIN) == chain)
        return part.select(
            KEY, pl.col(ROW).alias(ROW + suffix), *[pl.col(c).alias(c + suffix) for c in (*shared, *per_chain)]
        )

    beta, alpha = side(BETA, "_b"), side(ALPHA, "_a")
    joined = beta.join(alpha, on=KEY, how="left")
    paired = joined.select(
        pl.min_horizontal(ROW + "_b", ROW + "_a").alias(ROW),
        *[pl.coalesce(c + "_b", c + "_a").alias(c) for c in shared],
        *[pl.col(c + "_b").alias(c + "_beta") for c in per_chain],
        *[pl.col(c + "_a").alias(c + "_alpha") for c in per_chain],
    )
    n_pairs = int(joined[ROW + "_a"].is_not_null().sum())
    alpha_orphans = alpha.join(beta, on=KEY, how="anti").height
    loose = ranked.filter(pl.col(KEY).is_null())
    loose_beta = loose.filter(pl.col(CHAIN) == BETA).select(
        ROW,
        *shared,
        *[pl.col(c).alias(c + "_beta") for c in per_chain],
        *[pl.lit(None, dtype=frame.schema[c]).alias(c + "_alpha") for c in per_chain],
    )
    loose_alpha = loose.height - loose_beta.height
    out = pl.concat([paired, loose_beta], how="vertical_relaxed").sort(ROW)
    stats = Pairing(
        pairs=n_pairs,
        beta_only=out.height - n_pairs,
        alpha_dropped=alpha_orphans + loose_alpha,
        extra_groups=extra_groups,
        extra_rows=extra_rows,
    )
    return out, stats
