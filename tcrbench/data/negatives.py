"""Negatives for a table of binders only (`--negatives`): swapped pairs or background TCRs, seeded.

Most public TCR-peptide data (VDJdb, IEDB, McPAS) records binders only, and a benchmark needs non-binders too.
The two usual ways to make them each plant a shortcut (docs/negatives.md): "swapped" pairs a table's TCRs with
peptides they are not recorded as binding, so TCRs seen with many peptides are positives more often than
negatives; "background" pairs the peptides with TCRs from a repertoire (a file, or OLGA-generated chains), so a
model blind to the peptide can tell repertoire TCRs from antigen-specific ones. Neither is hidden: the resolved
strategy is recorded in the run's configuration and with every result row.

A swapped negative reuses its TCR's exact chains (and CDR1/CDR2, partition and split), so the TCR-disjoint
splitters, which group rows by their chains, put it in its TCR's fold: the pairing alone changes between classes.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from tcrbench.data.schema import (
    CDR3A,
    CDR3B,
    DEFAULT_MAX_LEN,
    GERMLINE_CDRS,
    KEPT,
    LABEL,
    LABEL_DTYPE,
    MHC,
    PEPTIDE,
    V_GENES,
    tcr_key,
)
from tcrbench.errors import UsageError

STRATEGIES = ("swapped", "background")
# Five negatives per binder: the 1:5 ratio common in published TCR-peptide training tables (NetTCR-2.0,
# IMMREP22), so AUROCs and the base rate read as they do there.
DEFAULT_RATIO = 5
_SETTINGS = {"swapped": ("ratio", "seed"), "background": ("source", "ratio", "seed")}
_AA = "^[ACDEFGHIKLMNPQRSTVWY]+$"  # vocab.AMINO_ACIDS, without importing torch


@dataclass(frozen=True)
class NegativeSpec:
    """A parsed --negatives strategy; `text` is its resolved form, recorded with the run and every row."""

    kind: str
    ratio: int = DEFAULT_RATIO
    seed: int = 0
    source: str = ""  # background: "olga" or a table file of TCRs

    @property
    def text(self) -> str:
        settings = [f"source={self.source}"] if self.kind == "background" else []
        return f"{self.kind}:{','.join([*settings, f'ratio={self.ratio}', f'seed={self.seed}'])}"


def parse_negatives(text: str) -> NegativeSpec:
    """`swapped[:ratio=5,seed=0]` or `background:source=olga|FILE[,ratio=5,seed=0]`; a one-line error otherwise."""
    kind, _, rest = text.strip().partition(":")
    kind = kind.strip()
    where = f"--negatives {text}"
    if kind not in STRATEGIES:
        raise UsageError(f"{where}: unknown strategy {kind!r}; use swapped[:ratio=N] or background:source=olga|FILE")
    settings: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, sep, value = (s.strip() for s in part.partition("="))
        if not sep or key not in _SETTINGS[kind]:
            raise UsageError(f"{where}: expected {', '.join(k + '=' for k in _SETTINGS[kind])} settings, got {part!r}")
        settings[key] = value
    try:
        ratio, seed = int(settings.get("ratio", DEFAULT_RATIO)), int(settings.get("seed", 0))
    except ValueError:
        raise UsageError(f"{where}: ratio and seed must be integers") from None
    if ratio < 1 or seed < 0:
        raise UsageError(f"{where}: ratio must be at least 1 and seed at least 0")
    source = settings.get("source", "")
    if kind == "background":
        if not source:
            raise UsageError(f"{where}: background needs source=olga or source=FILE (a repertoire table)")
        if source != "olga" and not Path(source).is_file():
            raise UsageError(f"{where}: no such file {source!r} (give source=olga or a table file of TCRs)")
    return NegativeSpec(kind, ratio, seed, source)


def add_negatives(frame: pl.DataFrame, spec: NegativeSpec) -> tuple[pl.DataFrame, list[str]]:
    """The binders of `frame` (canonical, every label 1) followed by `ratio` negatives per binder row of each
    peptide, none of them a binder's pair; and warnings where a peptide got fewer (its pool ran short)."""
    tcrs = tcr_key(frame)
    binders: dict[str, set[tuple[str | None, ...]]] = {}
    for row in frame.select(PEPTIDE, *tcrs).iter_rows():
        binders.setdefault(row[0], set()).add(tuple(row[1:]))
    need = {p: spec.ratio * n for p, n in frame[PEPTIDE].value_counts().iter_rows()}
    peptides = sorted(need)
    rng = np.random.default_rng(spec.seed)
    if spec.kind == "swapped":
        carried = [c for c in (*tcrs, *GERMLINE_CDRS, *V_GENES, *KEPT) if c in frame.columns]
        pool = frame.unique(subset=tcrs, keep="first", maintain_order=True).select(carried)
        picks, short = _swapped(pool, tcrs, peptides, binders, need, rng)
        warnings: list[str] = []
    else:
        pool, warnings = _background(frame, spec, sum(need.values()))
        picks, short = _background_picks(pool, tcrs, peptides, binders, need, rng)
    if short:
        p, got = short[0]
        warnings.append(
            f"--negatives {spec.text}: {len(short)} of {len(peptides)} peptides got fewer than {spec.ratio} "
            f"negatives per binder: too few TCRs they are not recorded as binding (e.g. {p!r}: {got} of {need[p]})"
        )
    negatives = _negative_rows(frame, pool, picks)
    if negatives.height == 0:  # e.g. swapped with one peptide: a table of one class cannot be benchmarked
        raise UsageError(f"--negatives {spec.text}: no negative could be made (swapped needs two peptides or more)")
    return pl.concat([frame, negatives], how="vertical"), warnings


def _swapped(
    pool: pl.DataFrame,
    tcrs: list[str],
    peptides: list[str],
    binders: dict[str, set[tuple[str | None, ...]]],
    need: dict[str, int],
    rng: np.random.Generator,
) -> tuple[list[tuple[str, np.ndarray]], list[tuple[str, int]]]:
    """Per peptide, distinct table TCRs it is not recorded as binding, drawn uniformly without replacement."""
    position = {k: i for i, k in enumerate(pool.select(tcrs).iter_rows())}
    picks, short = [], []
    for p in peptides:
        allowed = np.ones(len(position), dtype=bool)
        allowed[[position[k] for k in binders[p]]] = False
        candidates = np.flatnonzero(allowed)
        take = min(need[p], len(candidates))
        picks.append((p, rng.choice(candidates, size=take, replace=False)))
        if take < need[p]:
            short.append((p, take))
    return picks, short


def _background(frame: pl.DataFrame, spec: NegativeSpec, total: int) -> tuple[pl.DataFrame, list[str]]:
    """Distinct repertoire TCRs, written in the table's CDR3 convention and checked as the table's were."""
    from tcrbench.data.corpus import cdr3_convention, read_corpus_file, to_cdr3

    paired = CDR3A in frame.columns and frame[CDR3A].drop_nulls().len() > 0
    if spec.source == "olga":
        raw = _olga(spec, total + total // 4 + 100, paired)
    else:
        raw = read_corpus_file(Path(spec.source), f"--negatives {spec.text}")
    raw = raw.select(pl.col(CDR3B).cast(pl.String), pl.col(CDR3A).cast(pl.String))
    if cdr3_convention(frame[CDR3B]) == "cdr3":
        raw = to_cdr3(raw)[0]
    ok = pl.col(CDR3B).str.contains(_AA).fill_null(False) & (pl.col(CDR3B).str.len_chars() <= DEFAULT_MAX_LEN)
    alpha_ok = pl.col(CDR3A).str.contains(_AA) & (pl.col(CDR3A).str.len_chars() <= DEFAULT_MAX_LEN)
    ok = ok & (pl.col(CDR3A).is_null() | alpha_ok)
    columns = tcr_key(frame)
    pool = raw.filter(ok).select(columns).unique(maintain_order=True)
    if pool.height == 0:
        raise UsageError(f"--negatives {spec.text}: no usable TCR (a CDR3β of amino acids, at most 30 long)")
    warnings: list[str] = []
    if paired and pool[CDR3A].null_count() == pool.height:
        warnings.append(
            f"--negatives {spec.text}: the background TCRs have no alpha chain and the binders do; "
            "a model can tell the negatives by the missing chain"
        )
    return pool, warnings


def _olga(spec: NegativeSpec, n: int, paired: bool) -> pl.DataFrame:
    """n OLGA β chains (and α chains paired with them at random, for a paired table), seeded by the strategy."""
    if importlib.util.find_spec("olga") is None:
        from tcrbench.data.olga_corpus import INSTALL_HINT

        raise UsageError(f"--negatives {spec.text}: the olga package is not installed; {INSTALL_HINT}")
    from tcrbench.data.olga_corpus import olga_frame

    beta = olga_frame(n, "beta", spec.seed)
    alpha = olga_frame(n, "alpha", spec.seed + 1)[CDR3A] if paired else pl.Series([None] * n, dtype=pl.String)
    return beta.with_columns(alpha.alias(CDR3A))


def _background_picks(
    pool: pl.DataFrame,
    tcrs: list[str],
    peptides: list[str],
    binders: dict[str, set[tuple[str | None, ...]]],
    need: dict[str, int],
    rng: np.random.Generator,
) -> tuple[list[tuple[str, np.ndarray]], list[tuple[str, int]]]:
    """Walk one shuffled pass of the pool across the peptides, so each background TCR is used once while the
    pool lasts (a TCR repeated across peptides would be a frequency cue), and only after that again."""
    keys = list(pool.select(tcrs).iter_rows())
    order, at = rng.permutation(len(keys)), 0
    picks, short = [], []
    for p in peptides:
        chosen: list[int] = []
        for _ in range(len(keys)):
            if len(chosen) == need[p]:
                break
            candidate = int(order[at % len(keys)])
            at += 1
            if keys[candidate] not in binders[p] and candidate not in chosen:
                chosen.append(candidate)
        picks.append((p, np.array(chosen, dtype=np.int64)))
        if len(chosen) < need[p]:
            short.append((p, len(chosen)))
    return picks, short


def _negative_rows(frame: pl.DataFrame, pool: pl.DataFrame, picks: list[tuple[str, np.ndarray]]) -> pl.DataFrame:
    """The picked (peptide, TCR) pairs as rows of `frame`'s schema: the peptide's MHC, label 0, the rest null."""
    index = np.concatenate([idx for _, idx in picks]) if picks else np.zeros(0, dtype=np.int64)
    rows = pool[index.tolist()].with_columns(
        pl.Series(PEPTIDE, [p for p, idx in picks for _ in range(len(idx))], dtype=pl.String),
        pl.lit(0, dtype=LABEL_DTYPE).alias(LABEL),
    )
    if MHC in frame.columns:
        mhc = frame.group_by(PEPTIDE, maintain_order=True).agg(pl.col(MHC).first())
        rows = rows.join(mhc, on=PEPTIDE, how="left", maintain_order="left")
    missing = [pl.lit(None, dtype=frame.schema[c]).alias(c) for c in frame.columns if c not in rows.columns]
    return rows.with_columns(missing).select(frame.columns).cast(dict(frame.schema))
