"""V genes to germline CDRs: each row's CDR1/CDR2 from the table's own columns, or from its V gene's IMGT record.

Models that read the germline loops (SCEPTR's full variants, tcrdist) need CDR1 and CDR2 of both chains; tables
give them as sequences (IMMREP22's CDR1a...), as V-gene names (TRAV24*01, TCRBV05-01, TRBV19), or not at all.
This is done where a model asks for it rather than when a table is read, so a table's content never depends on
an optional package: names are normalised with tidytcells (the `sceptr` extra; SCEPTR's own lookup uses it too).

Rules, per row and chain (a chain counts only where the row has its CDR3):
- the table's CDR1 and CDR2 columns win where both are given (the data says so; IMMREP22's agree with IMGT for
  96 of 98 V genes, and the two others differ by one residue);
- otherwise the V gene gives both loops: its allele where the name has one that IMGT knows, else the gene's first
  functional allele (SCEPTR's rule), else its first allele; TRAV40 has no CDR2 in IMGT and gives an empty one;
- a V gene that is not a V gene of that chain (TRAJ33, a TRBV name in the alpha column, a typo) is unresolved,
  counted by name, and the chain keeps whatever loops the table gave (none, usually).
Human genes only (every SCEPTR variant was trained on human TCRs).
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import polars as pl

from tcrbench.data.schema import CDR1A, CDR1B, CDR2A, CDR2B, CDR3A, CDR3B, TRAV, TRBV
from tcrbench.errors import UsageError

MISSING_EXTRA = "resolving V genes to CDR1/CDR2 needs tidytcells: pip install 'tcrbench[sceptr]'"


class Chain(NamedTuple):
    """The canonical columns of one chain."""

    locus: str
    v: str
    cdr1: str
    cdr2: str
    cdr3: str


CHAINS: tuple[Chain, ...] = (Chain("TRA", TRAV, CDR1A, CDR2A, CDR3A), Chain("TRB", TRBV, CDR1B, CDR2B, CDR3B))


def _tidytcells() -> Any:
    try:
        import tidytcells
    except ImportError:
        raise UsageError(MISSING_EXTRA) from None
    return tidytcells


def _alleles(tt: Any, gene: str, functionality: str) -> list[str]:
    found = tt.tr.query(contains_pattern=gene, precision="allele", functionality=functionality)
    return sorted((a for a in found if a.split("*")[0] == gene), key=lambda a: int(a.split("*")[1]))


@functools.lru_cache(maxsize=4096)
def germline_loops(symbol: str, locus: str) -> tuple[str, str, str] | None:
    """(IMGT allele, CDR1, CDR2) of a V gene as a table writes it, or None when it is not a `locus` V gene."""
    tt = _tidytcells()
    text = symbol.strip()
    std = tt.tr.standardise(text, log_failures=False)
    if std is None and "*" in text:  # an allele IMGT does not list (TRBV19*05): fall back to the gene
        std = tt.tr.standardise(text.split("*")[0], log_failures=False)
    if std is None or not std.startswith(f"{locus}V"):
        return None
    gene = std.split("*")[0]
    candidates = [std] if "*" in std else _alleles(tt, gene, "F") or _alleles(tt, gene, "any")
    for allele in candidates:
        try:
            record = tt.tr.get_aa_sequence(allele)
        except ValueError:
            continue
        if record.get("CDR1-IMGT"):
            return allele, record["CDR1-IMGT"], record.get("CDR2-IMGT", "")
    return None


@dataclass(frozen=True)
class GermlineReport:
    """How many rows have their germline loops, where they came from, and which V genes did not resolve."""

    rows: int
    complete: int  # rows with CDR1 and CDR2 for every chain they have
    from_table: int = 0  # chains whose loops the table's CDR1/CDR2 columns gave
    from_v_genes: int = 0  # chains whose loops came from the V gene
    unresolved: dict[str, int] = field(default_factory=dict)  # V gene as written -> rows, most frequent first

    @property
    def share(self) -> float:
        """Share of rows with complete germline loops (0 for an empty table)."""
        return self.complete / self.rows if self.rows else 0.0

    def unresolved_text(self, limit: int = 5) -> str:
        """`TRBV99 (3 rows), foo (1 row)`: the names a user has to fix, most frequent first."""
        items = list(self.unresolved.items())
        text = ", ".join(f"{name} ({n} row{'' if n == 1 else 's'})" for name, n in items[:limit])
        return text + (f" and {len(items) - limit} more" if len(items) > limit else "")

    def note(self) -> str:
        """One line for logs and notes."""
        line = (
            f"germline CDR1/CDR2 for {self.complete:,} of {self.rows:,} rows ({self.share:.0%}; "
            f"{self.from_table:,} chains from the table's columns, {self.from_v_genes:,} from V genes)"
        )
        return line + (f"; V genes not resolved: {self.unresolved_text()}" if self.unresolved else "")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for result rows: counts, and the unresolved names (at most 10)."""
        return {
            "rows": self.rows,
            "germline_rows": self.complete,
            "from_table": self.from_table,
            "from_v_genes": self.from_v_genes,
            "unresolved_v_genes": dict(list(self.unresolved.items())[:10]),
        }


def has_germline_columns(frame: pl.DataFrame) -> bool:
    """Whether the table has anything germline at all: a CDR1/CDR2 column or a V-gene column."""
    return any(c in frame.columns for chain in CHAINS for c in (chain.v, chain.cdr1, chain.cdr2))


def _text(frame: pl.DataFrame, column: str) -> pl.Expr:
    return pl.col(column).cast(pl.String) if column in frame.columns else pl.lit(None, dtype=pl.String)


def _v_loops(frame: pl.DataFrame, chain: Chain, rows: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """Expressions for the CDR1 and CDR2 of each row's V gene (null where unresolved), looked up once per
    distinct name among `rows`."""
    names = frame.filter(rows)[chain.v].cast(pl.String).drop_nulls().unique().sort().to_list()
    loops = {n: germline_loops(n, chain.locus) for n in names}
    found = {n: x for n, x in loops.items() if x is not None}
    v = pl.col(chain.v).cast(pl.String)
    return tuple(  # type: ignore[return-value]
        v.replace_strict({n: x[i] for n, x in found.items()}, default=None, return_dtype=pl.String) for i in (1, 2)
    )


def resolve_germline(frame: pl.DataFrame) -> tuple[pl.DataFrame, GermlineReport]:
    """The frame with cdr1a/cdr2a/cdr1b/cdr2b filled per the module's rules (columns added where missing, in
    row order, nothing dropped), and the report. Needs tidytcells only when some loops must come from V genes."""
    out = frame
    complete = pl.lit(True)
    from_table = from_v = 0
    unresolved: Counter[str] = Counter()
    for chain in CHAINS:
        present = _text(frame, chain.cdr3).is_not_null()
        given1, given2 = _text(frame, chain.cdr1), _text(frame, chain.cdr2)
        both = given1.is_not_null() & given2.is_not_null()
        need_v = present & ~both & _text(frame, chain.v).is_not_null()
        if chain.v in frame.columns and frame.select(need_v.any()).item():
            v1, v2 = _v_loops(frame, chain, need_v)
        else:
            v1 = v2 = pl.lit(None, dtype=pl.String)
        work = out.with_columns(v1.alias("__v1"), v2.alias("__v2"))
        resolved = pl.col("__v1").is_not_null()
        counts = work.select((present & both).sum().alias("t"), (need_v & resolved).sum().alias("v")).row(0)
        from_table += int(counts[0] or 0)
        from_v += int(counts[1] or 0)
        if chain.v in frame.columns:
            unresolved.update(work.filter(need_v & ~resolved)[chain.v].cast(pl.String).to_list())
        out = work.with_columns(
            pl.when(both).then(given1).when(resolved).then(pl.col("__v1")).otherwise(given1).alias(chain.cdr1),
            pl.when(both).then(given2).when(resolved).then(pl.col("__v2")).otherwise(given2).alias(chain.cdr2),
        ).drop("__v1", "__v2")
        complete = complete & (~present | (pl.col(chain.cdr1).is_not_null() & pl.col(chain.cdr2).is_not_null()))
    n_complete = int(out.select(complete.sum()).item() or 0)
    ordered = dict(sorted(unresolved.items(), key=lambda kv: (-kv[1], kv[0])))
    return out, GermlineReport(frame.height, n_complete, from_table, from_v, ordered)
