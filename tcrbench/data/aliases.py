"""Which column of a user's table is the peptide, the CDR3, the label: the common formats' names, and overrides.

Names match case-insensitively. Aliases come in tiers: a generic name such as `CDR3` (VDJdb, 10x) is used only
when no specific one (`cdr3b`, `junction_aa`, ...) is present, so an AIRR file whose `cdr3` holds nucleotides
still resolves to its `junction_aa`. Two columns in the best tier that matches are ambiguous and an error:
guessing there would silently benchmark the wrong chain.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence

from tcrbench.data.schema import (
    CANONICAL,
    CDR1A,
    CDR1B,
    CDR2A,
    CDR2B,
    CDR3A,
    CDR3B,
    KEPT,
    LABEL,
    MHC,
    PARTITION,
    PEPTIDE,
    SPLIT,
    TRAV,
    TRBV,
)
from tcrbench.errors import UsageError

# field -> tiers of aliases, best first. Sources: the course format (antigen,TCR,interaction), NetTCR-2.0
# (peptide,CDR3a,CDR3b,binder,partition), IMMREP22 (peptide,CDR3b,binder,split), VDJdb full and slim exports
# (Epitope/antigen.epitope, CDR3/cdr3, MHC A/mhc.a), AIRR rearrangement (junction_aa), scirpy obs columns
# (IR_VDJ_1_junction_aa, and the airr-context names of scirpy >= 0.13), tcrdist3 (cdr3_b_aa, epitope).
# CDR1/CDR2: IMMREP22 (CDR1a, CDR2a, CDR1b, CDR2b), tcrdist3 (cdr1_a_aa, cdr2_b_aa, ...), the scirpy-style names
# (IR_VJ_1_cdr1_aa, present where the AIRR input carried cdr1_aa);
# an AIRR rearrangement's one-chain cdr1_aa/cdr2_aa are read as beta exactly as its junction_aa is.
# V genes: IMMREP22 and McPAS (TRAV, TRBV), the converted exports (v_alpha, v_beta), tcrdist3 (v_a_gene), scirpy
# (IR_VJ_1_v_call); the one-chain names (AIRR v_call, VDJdb v.segm, 10x v_gene) are read as beta like cdr1_aa.
ALIASES: dict[str, tuple[tuple[str, ...], ...]] = {
    PEPTIDE: (("peptide", "antigen", "epitope", "antigen.epitope", "antigen_epitope", "pep"),),
    CDR3B: (
        (
            "cdr3b",
            "tcr",
            "cdr3_beta",
            "cdr3beta",
            "cdr3.beta",
            "cdr3_b_aa",
            "trb_cdr3",
            "ir_vdj_1_junction_aa",
            "vdj_1_junction_aa",
            "junction_aa",
        ),
        ("cdr3",),
    ),
    CDR3A: (
        (
            "cdr3a",
            "cdr3_alpha",
            "cdr3alpha",
            "cdr3.alpha",
            "cdr3_a_aa",
            "tra_cdr3",
            "ir_vj_1_junction_aa",
            "vj_1_junction_aa",
        ),
    ),
    CDR1A: (
        ("cdr1a", "cdr1_alpha", "cdr1alpha", "cdr1.alpha", "cdr1_a_aa", "tra_cdr1", "ir_vj_1_cdr1_aa", "vj_1_cdr1_aa"),
    ),
    CDR2A: (
        ("cdr2a", "cdr2_alpha", "cdr2alpha", "cdr2.alpha", "cdr2_a_aa", "tra_cdr2", "ir_vj_1_cdr2_aa", "vj_1_cdr2_aa"),
    ),
    CDR1B: (
        ("cdr1b", "cdr1_beta", "cdr1beta", "cdr1.beta", "cdr1_b_aa", "trb_cdr1", "ir_vdj_1_cdr1_aa", "vdj_1_cdr1_aa"),
        ("cdr1_aa",),
    ),
    CDR2B: (
        ("cdr2b", "cdr2_beta", "cdr2beta", "cdr2.beta", "cdr2_b_aa", "trb_cdr2", "ir_vdj_1_cdr2_aa", "vdj_1_cdr2_aa"),
        ("cdr2_aa",),
    ),
    TRAV: (
        (
            "trav",
            "v_alpha",
            "v_a_gene",
            "va",
            "v.alpha",
            "valpha",
            "v_alpha_gene",
            "tra_v",
            "trav_gene",
            "ir_vj_1_v_call",
            "vj_1_v_call",
        ),
    ),
    TRBV: (
        (
            "trbv",
            "v_beta",
            "v_b_gene",
            "vb",
            "v.beta",
            "vbeta",
            "v_beta_gene",
            "trb_v",
            "trbv_gene",
            "ir_vdj_1_v_call",
            "vdj_1_v_call",
        ),
        ("v_call", "v.segm", "v_gene"),
    ),
    MHC: (("mhc", "hla", "mhc_allele", "allele", "mhc a", "mhc.a"),),
    LABEL: (("label", "interaction", "binder", "binding", "binds", "target"),),
    PARTITION: (("partition", "fold", "cv_fold"),),
    SPLIT: (("split",),),
}

# Long-format exports hold one chain per row; when the CDR3 came from one of these columns and the table has a
# chain column, only beta rows are kept (the readers count the others as dropped).
SINGLE_CHAIN_COLUMNS = frozenset({"cdr3", "junction_aa"})
CHAIN_COLUMNS = ("gene", "locus", "chain")
# The one-chain-per-row CDR1/CDR2 and V-gene names: they say nothing of the chain, so they are read (as beta) only
# from a table whose beta CDR3 came from a one-chain-per-row column as well; in any other table they are left unread.
SINGLE_CHAIN_GERMLINE = frozenset({"cdr1_aa", "cdr2_aa", "v_call", "v.segm", "v_gene"})

FIELDS: tuple[str, ...] = CANONICAL + KEPT
_REQUIRED_FIELDS = (PEPTIDE, CDR3B, LABEL)
# A table of binders only (read for --negatives) needs no label column: every row is a binder.
_POSITIVES_REQUIRED = (PEPTIDE, CDR3B)
NEGATIVES_HINT = "or, for a table of binders only, make negatives with --negatives swapped"


def parse_column_spec(spec: str | None) -> dict[str, str]:
    """`peptide=antigen,cdr3b=TCR` -> {"peptide": "antigen", "cdr3b": "TCR"}; `cdr3a=` means: do not use one."""
    if spec is None or not spec.strip():
        return {}
    out: dict[str, str] = {}
    for item in spec.split(","):
        if "=" not in item:
            raise UsageError(f"--columns: {item.strip()!r} is not FIELD=COLUMN (e.g. peptide=antigen)")
        field, column = (part.strip() for part in item.split("=", 1))
        _check_field(field)
        if field in out:
            raise UsageError(f"--columns: field {field!r} is given twice")
        out[field] = column
    return out


def _check_field(field: str) -> None:
    if field not in FIELDS:
        close = difflib.get_close_matches(field, FIELDS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise UsageError(f"--columns: unknown field {field!r}; fields are {', '.join(FIELDS)}{hint}")


def _listing(columns: Sequence[str]) -> str:
    return ", ".join(repr(c) for c in columns) if columns else "(none)"


def _find(column: str, found: Sequence[str]) -> str | None:
    if column in found:
        return column
    matches = [c for c in found if c.lower() == column.lower()]
    return matches[0] if len(matches) == 1 else None


def resolve_columns(
    found: Sequence[str], overrides: Mapping[str, str] | None, source: str, positives_only: bool = False
) -> dict[str, str]:
    """Map canonical fields to the table's column names; every problem names the columns that were found.

    Every field but the required ones can be left out with an empty override (`cdr3a=`, `mhc=`, `partition=`).
    `positives_only`: the table is read as binders only (for --negatives), so the label is optional too."""
    overrides = dict(overrides or {})
    required = _POSITIVES_REQUIRED if positives_only else _REQUIRED_FIELDS
    resolved: dict[str, str] = {}
    skipped: set[str] = set()
    for field, column in overrides.items():
        _check_field(field)
        if column == "":
            if field in required:
                raise UsageError(
                    f"{source}: --columns {field}= leaves out a required field; required are {', '.join(required)}"
                )
            skipped.add(field)
            continue
        actual = _find(column, found)
        if actual is None:
            raise UsageError(
                f"{source}: --columns {field}={column}: no column {column!r}; columns found: {_listing(found)}"
            )
        if actual in resolved.values():
            other = next(f for f, c in resolved.items() if c == actual)
            raise UsageError(f"{source}: --columns maps column {actual!r} to both {other!r} and {field!r}")
        resolved[field] = actual
    claimed = set(resolved.values())
    lowered = {c: c.lower() for c in found if c not in claimed}
    for field in FIELDS:
        if field in resolved or field in skipped:
            continue
        for tier in ALIASES[field]:
            hits = [c for c, low in lowered.items() if low in tier]
            if len(hits) > 1:
                raise UsageError(
                    f"{source}: columns {_listing(hits)} could each be the {field!r} column; "
                    f"choose one with --columns {field}=<column> (columns found: {_listing(found)})"
                )
            if hits:
                resolved[field] = hits[0]
                del lowered[hits[0]]
                break
    if not _one_chain_per_row(resolved):
        for field in (CDR1B, CDR2B, TRBV):
            if field not in overrides and resolved.get(field, "").lower() in SINGLE_CHAIN_GERMLINE:
                del resolved[field]
    missing = [f for f in required if f not in resolved]
    if missing:
        field = missing[0]
        tried = ", ".join(name for tier in ALIASES[field] for name in tier)
        hint = f", {NEGATIVES_HINT}" if field == LABEL else ""
        raise UsageError(
            f"{source}: no column for {field!r} (looked for {tried}); columns found: "
            f"{_listing(found)}; name it with --columns {field}=<column>{hint}"
        )
    return resolved


def _one_chain_per_row(resolved: Mapping[str, str]) -> bool:
    """Whether the beta CDR3 came from a one-chain-per-row export's column (and no alpha column sits beside it)."""
    return resolved.get(CDR3B, "").lower() in SINGLE_CHAIN_COLUMNS and CDR3A not in resolved


def chain_column(found: Sequence[str], resolved: Mapping[str, str]) -> str | None:
    """The column that says which chain a row holds, when the beta CDR3 came from a one-chain-per-row export."""
    if not _one_chain_per_row(resolved):
        return None
    taken = set(resolved.values())
    for name in CHAIN_COLUMNS:
        hits = [c for c in found if c.lower() == name and c not in taken]
        if hits:
            return hits[0]
    return None
