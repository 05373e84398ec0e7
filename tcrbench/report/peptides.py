"""Per-peptide AUROC from a run's predictions: does a configuration help every peptide, or only the big ones?

Pooled AUROC is dominated by the few peptides with most rows. Here AUROC is computed within each test fold
for each peptide, then averaged over the folds (and seeds) where that peptide has at least ``min_positives``
positives and one negative, which is how the ``macro_auroc`` metric treats a fold. Averaging over folds,
rather than pooling the folds' predictions, keeps scores of different models (one per fold) from being
ranked against each other.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    from tcrbench.report.model import BoardRow

HOW = (
    "AUROC within each test fold, averaged over folds and seeds; a fold counts for a peptide when it holds "
    "at least {min_positives} positive(s) and one negative of it"
)


@dataclass(frozen=True)
class PeptideTable:
    """``auroc[i][j]``: configuration ``keys[i]`` on ``peptides[j]`` (NaN where no fold qualified);
    ``n_cells[i][j]`` how many (fold, seed) cells were averaged. Peptides by positives, most first."""

    peptides: tuple[str, ...]
    n_positives: tuple[int, ...]
    n_negatives: tuple[int, ...]
    keys: tuple[str, ...]
    auroc: tuple[tuple[float, ...], ...]
    n_cells: tuple[tuple[int, ...], ...]
    min_positives: int
    n_missing: int
    label_fraction: float | None = None  # set when the board has several fractions: the one the table shows

    @property
    def how(self) -> str:
        how = HOW.format(min_positives=self.min_positives)
        if self.label_fraction is None:
            return how
        share = "all labels" if self.label_fraction >= 1.0 else f"{self.label_fraction * 100:.4g}% of the labels"
        return f"{how}; configurations fitted on {share} only (the board's largest label fraction)"


def grouped_auroc(frame: pl.DataFrame, by: Sequence[str]) -> pl.DataFrame:
    """AUROC of ``score`` against 0/1 ``label`` within each group of ``by`` (Mann–Whitney with mid-ranks).

    One sort instead of a scikit-learn call per group: 400 peptides × folds × configurations stay fast.
    Columns out: ``by``, n_pos, n_neg, auroc (null where a group has a single class).
    """
    keys = list(by)
    ranked = frame.with_columns(
        pl.col("score").rank("average").over(keys).alias("_rank"),
        pl.col("label").cast(pl.Int64).alias("_y"),
    )
    agg = ranked.group_by(keys, maintain_order=True).agg(
        pl.col("_y").sum().alias("n_pos"),
        pl.len().alias("_n"),
        (pl.col("_rank") * pl.col("_y")).sum().alias("_rank_sum"),
    )
    n_pos = pl.col("n_pos").cast(pl.Float64)
    n_neg = (pl.col("_n") - pl.col("n_pos")).cast(pl.Float64)
    return (
        agg.with_columns((pl.col("_n") - pl.col("n_pos")).alias("n_neg"))
        .with_columns(
            pl.when((pl.col("n_pos") > 0) & (pl.col("n_neg") > 0))
            .then((pl.col("_rank_sum") - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
            .otherwise(None)
            .alias("auroc")
        )
        .select([*keys, "n_pos", "n_neg", "auroc"])
    )


def _read(path: Path) -> pl.DataFrame | None:
    try:
        frame = pl.read_parquet(path, columns=["peptide", "label", "score"])
    except Exception:  # a missing or truncated file costs one cell of the table, not the report
        return None
    return frame.filter(pl.col("score").is_finite() & pl.col("label").is_not_null() & pl.col("peptide").is_not_null())


def peptide_table(
    rows: Sequence[BoardRow], predictions_dir: Path, *, min_positives: int = 5, label_fraction: float | None = None
) -> PeptideTable | None:
    """The table for every configuration of ``rows`` with readable predictions; None when there are none at all.
    ``label_fraction`` names the one fraction ``rows`` hold, on a board with several."""
    if min_positives < 1:
        from tcrbench.errors import UsageError

        raise UsageError(f"min_positives={min_positives} must be at least 1")
    frames, missing = [], 0
    for row in rows:
        for cell in row.cells:
            if cell.status != "ok" or not cell.row_key:
                continue
            frame = _read(predictions_dir / f"{cell.row_key}.parquet")
            if frame is None:
                missing += 1
                continue
            frames.append(
                frame.with_columns(
                    pl.lit(row.key).alias("key"), pl.lit(cell.fold).alias("fold"), pl.lit(cell.seed).alias("seed")
                )
            )
    if not frames:
        return None
    data = pl.concat(frames, how="vertical_relaxed")
    per_cell = grouped_auroc(data, ["key", "seed", "fold", "peptide"])
    # Each row is tested once per seed: sum over one seed's folds; the most complete (configuration, seed) wins.
    counts = (
        per_cell.group_by(["key", "seed", "peptide"])
        .agg(pl.col("n_pos").sum(), pl.col("n_neg").sum())
        .group_by("peptide")
        .agg(pl.col("n_pos").max(), pl.col("n_neg").max())
    )
    counts = counts.sort(["n_pos", "n_neg", "peptide"], descending=[True, True, False])
    qualifying = per_cell.filter(
        (pl.col("n_pos") >= min_positives) & (pl.col("n_neg") >= 1) & pl.col("auroc").is_not_null()
    )
    means = qualifying.group_by(["key", "peptide"]).agg(pl.col("auroc").mean(), pl.len().alias("n"))
    lookup = {(k, p): (a, n) for k, p, a, n in means.iter_rows()}
    peptides = tuple(counts["peptide"].to_list())
    present = set(data["key"].unique().to_list())
    keys = tuple(r.key for r in rows if r.key in present)
    auroc = tuple(tuple(float(lookup.get((k, p), (math.nan, 0))[0]) for p in peptides) for k in keys)
    n_cells = tuple(tuple(int(lookup.get((k, p), (math.nan, 0))[1]) for p in peptides) for k in keys)
    return PeptideTable(
        peptides=peptides,
        n_positives=tuple(int(x) for x in counts["n_pos"]),
        n_negatives=tuple(int(x) for x in counts["n_neg"]),
        keys=keys,
        auroc=auroc,
        n_cells=n_cells,
        min_positives=min_positives,
        n_missing=missing,
        label_fraction=label_fraction,
    )
