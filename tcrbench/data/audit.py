"""A shortcut and leak audit of a labelled table, computed without training.

Every number here is something a model could exploit without learning binding, or a leak between given splits:
how well the rarity of a TCR alone ranks the labels, what a per-peptide prior reaches, how many pairs are
repeated (with conflicting labels), and whether the CDR3s are written in one convention. Each finding beyond a
threshold (module constants, documented in docs/shortcuts.md) becomes a warning, which `data inspect` prints and
a run repeats in its report's header.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import polars as pl

from tcrbench.data.corpus import anchored_share, cdr3_convention
from tcrbench.data.schema import CDR3A, CDR3B, LABEL, PARTITION, PEPTIDE, SPLIT, pair_key, tcr_key

#: A peptide needs this many positives and this many negatives for its own TCR-frequency AUROC.
MIN_PER_CLASS = 5
#: TCR-frequency AUROC at or beyond these bounds: TCR recurrence alone ranks the labels.
TCR_FREQUENCY_HIGH = 0.65
TCR_FREQUENCY_LOW = 0.35
#: Peptide-prior AUROC at or above this: scoring peptides instead of pairs already ranks the labels.
PEPTIDE_PRIOR_HIGH = 0.65
#: Extra rows repeating an earlier row's pair (share of all rows) above this.
DUPLICATE_ROWS_MAX = 0.05
#: Duplicate pairs with both labels above this count.
CONFLICTING_PAIRS_MAX = 0
#: Share of peptides with fewer than MIN_PER_CLASS positives above this.
FEW_POSITIVES_SHARE_MAX = 0.5
#: Share of anchored CDR3s (C...F/W) strictly between these bounds: the table mixes two conventions.
MIXED_CONVENTION_LOW = 0.1
MIXED_CONVENTION_HIGH = 0.9
#: Pairs found in more than one given split above this count.
SHARED_PAIRS_MAX = 0

SHORTCUT_WARNING = (
    "shortcut: no TCR occurs as both binder and non-binder, so a model that ignores the "
    "peptide can separate the classes; compare against a TCR-only baseline"
)


@dataclass(frozen=True)
class Audit:
    """The audit's numbers (None where a table cannot give one, e.g. one class only) and its warnings."""

    rows: int
    tcr_frequency_auroc: float | None  # score = -(rows with this TCR): rare TCRs ranked as binders
    tcr_frequency_per_peptide_mean: float | None
    tcr_frequency_per_peptide_min: float | None
    tcr_frequency_per_peptide_max: float | None
    tcr_frequency_peptides: int  # peptides with >= MIN_PER_CLASS of each class
    peptide_prior_auroc: float | None  # score = the peptide's positive rate in the whole table (an upper bound)
    tcrs: int
    tcrs_in_both_classes: int
    tcrs_in_both_share: float | None
    duplicate_rows: int  # rows beyond the first of their pair
    duplicate_rows_share: float
    duplicate_pairs: int  # pairs that occur more than once
    duplicate_pairs_share: float  # of distinct pairs
    conflicting_pairs: int  # duplicate pairs with both labels
    peptides: int
    peptides_few_positives: int  # fewer than MIN_PER_CLASS positives
    positive_share_min: float | None
    positive_share_max: float | None
    cdr3_convention: str  # "junction" (C...F/W kept) or "cdr3" (anchors stripped), as cdr3_convention says
    anchored_share: float | None  # share of CDR3s (both chains) written with both anchors
    split_column: str | None  # the given split's column, when the table has one
    shared_pairs: int | None  # pairs in more than one given split
    shared_tcrs: int | None  # TCRs in more than one given split
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: floats rounded to 4 places, warnings as a list."""
        out = asdict(self)
        out["warnings"] = list(self.warnings)
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in out.items()}


def _auroc(frame: pl.DataFrame, score: str, by: str | None = None) -> pl.DataFrame:
    """AUROC of ``score`` against LABEL (per ``by`` group, or pooled) by the rank-sum formula, ties averaged."""
    rank = pl.col(score).rank("average")
    over = rank.over(by) if by else rank
    keys = [by] if by else []
    ranked = frame.select(*keys, pl.col(LABEL), over.alias("_rank"))
    pos = pl.col(LABEL) == 1
    stats = (ranked.group_by(keys) if keys else ranked.group_by(pl.lit(0).alias("_all"))).agg(
        pos.sum().cast(pl.Float64).alias("n_pos"),
        (~pos).sum().cast(pl.Float64).alias("n_neg"),
        pl.col("_rank").filter(pos).sum().cast(pl.Float64).alias("rank_sum"),
    )
    return stats.with_columns(
        (
            (pl.col("rank_sum") - pl.col("n_pos") * (pl.col("n_pos") + 1) / 2) / (pl.col("n_pos") * pl.col("n_neg"))
        ).alias("auroc")
    )


def _pooled(frame: pl.DataFrame, score: str) -> float | None:
    out = _auroc(frame, score)
    if out.height == 0 or out["n_pos"][0] == 0 or out["n_neg"][0] == 0:
        return None
    return float(out["auroc"][0])


def _float(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def _warnings(a: Audit) -> list[str]:
    """Each finding beyond its threshold, as one sentence with its number."""
    out = []
    if a.tcrs_in_both_classes == 0 and a.peptide_prior_auroc is not None:  # both classes, no TCR in both
        out.append(SHORTCUT_WARNING)
    f = a.tcr_frequency_auroc
    if f is not None and (f >= TCR_FREQUENCY_HIGH or f <= TCR_FREQUENCY_LOW):
        out.append(
            f"shortcut: TCR frequency alone reaches AUROC {f:.3f} (rarer TCR = binder; chance 0.5): how often a TCR "
            "occurs gives the labels away; compare against the tcr_frequency baseline"
        )
    p = a.peptide_prior_auroc
    if p is not None and p >= PEPTIDE_PRIOR_HIGH:
        out.append(
            f"shortcut: a peptide prior (its positive rate in the table) reaches AUROC {p:.3f} at most: pooled "
            "AUROC rewards ranking peptides; read macro AUROC"
        )
    if a.duplicate_rows_share > DUPLICATE_ROWS_MAX:
        out.append(
            f"duplicates: {a.duplicate_rows:,} rows ({a.duplicate_rows_share:.1%}) repeat a pair; repeated pairs "
            "can sit in training and test folds at once"
        )
    if a.conflicting_pairs > CONFLICTING_PAIRS_MAX:
        out.append(f"duplicates: {a.conflicting_pairs:,} repeated pairs carry both labels")
    if a.peptides and a.peptides_few_positives / a.peptides > FEW_POSITIVES_SHARE_MAX:
        out.append(
            f"{a.peptides_few_positives:,} of {a.peptides:,} peptides have fewer than {MIN_PER_CLASS} positives: "
            "macro AUROC leaves them out and pooled AUROC is dominated by a few peptides"
        )
    s = a.anchored_share
    if s is not None and MIXED_CONVENTION_LOW < s < MIXED_CONVENTION_HIGH:
        out.append(
            f"CDR3 convention mixed: {s:.1%} of CDR3s carry the conserved C...F/W ends, the rest do not; the "
            "convention can identify the source (and so the label); read with --cdr3 strip"
        )
    if a.shared_pairs is not None and a.shared_pairs > SHARED_PAIRS_MAX:
        out.append(
            f"leak: {a.shared_pairs:,} pairs occur in more than one given {a.split_column} ({a.shared_tcrs:,} TCRs do)"
        )
    return out


def audit_table(frame: pl.DataFrame) -> Audit:
    """The audit of a canonical table (PEPTIDE, CDR3B, LABEL; CDR3A, MHC, PARTITION/SPLIT when present)."""
    tcr, pair = tcr_key(frame), pair_key(frame)
    t = frame.select(*pair, LABEL).with_columns(
        (-pl.len().over(tcr).cast(pl.Float64)).alias("_freq"),
        pl.col(LABEL).cast(pl.Float64).mean().over(PEPTIDE).alias("_prior"),
    )
    per_pep = _auroc(t, "_freq", PEPTIDE).filter(
        (pl.col("n_pos") >= MIN_PER_CLASS) & (pl.col("n_neg") >= MIN_PER_CLASS)
    )["auroc"]
    tcrs = t.group_by(tcr).agg(pl.col(LABEL).n_unique().alias("classes"))
    in_both = int((tcrs["classes"] > 1).sum())
    pairs = t.group_by(pair).agg(pl.len().alias("n"), pl.col(LABEL).n_unique().alias("classes"))
    dup = pairs.filter(pl.col("n") > 1)
    peps = t.group_by(PEPTIDE).agg(pl.col(LABEL).sum().alias("pos"), pl.col(LABEL).cast(pl.Float64).mean().alias("r"))
    cdr3s = pl.concat([frame[c].cast(pl.String) for c in (CDR3B, CDR3A) if c in frame.columns]).drop_nulls()
    cdr3s = cdr3s.filter(cdr3s.str.len_chars() > 0)
    split_col = next((c for c in (PARTITION, SPLIT) if c in frame.columns), None)
    shared_pairs = shared_tcrs = None
    if split_col is not None:
        given = frame.select(*pair, split_col)
        shared_pairs = int((given.group_by(pair).agg(pl.col(split_col).n_unique().alias("k"))["k"] > 1).sum())
        shared_tcrs = int((given.group_by(tcr).agg(pl.col(split_col).n_unique().alias("k"))["k"] > 1).sum())
    extra = int((dup["n"] - 1).sum()) if dup.height else 0
    a = Audit(
        rows=frame.height,
        tcr_frequency_auroc=_pooled(t, "_freq"),
        tcr_frequency_per_peptide_mean=_float(per_pep.mean()) if len(per_pep) else None,
        tcr_frequency_per_peptide_min=_float(per_pep.min()) if len(per_pep) else None,
        tcr_frequency_per_peptide_max=_float(per_pep.max()) if len(per_pep) else None,
        tcr_frequency_peptides=len(per_pep),
        peptide_prior_auroc=_pooled(t, "_prior"),
        tcrs=tcrs.height,
        tcrs_in_both_classes=in_both,
        tcrs_in_both_share=in_both / tcrs.height if tcrs.height else None,
        duplicate_rows=extra,
        duplicate_rows_share=extra / frame.height if frame.height else 0.0,
        duplicate_pairs=dup.height,
        duplicate_pairs_share=dup.height / pairs.height if pairs.height else 0.0,
        conflicting_pairs=int((dup["classes"] > 1).sum()),
        peptides=peps.height,
        peptides_few_positives=int((peps["pos"] < MIN_PER_CLASS).sum()),
        positive_share_min=_float(peps["r"].min()),
        positive_share_max=_float(peps["r"].max()),
        cdr3_convention=cdr3_convention(cdr3s),
        anchored_share=anchored_share(cdr3s),
        split_column=split_col,
        shared_pairs=shared_pairs,
        shared_tcrs=shared_tcrs,
    )
    return replace(a, warnings=tuple(_warnings(a)))
