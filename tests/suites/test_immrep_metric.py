"""IMMREP22 scores a model by macro AUROC: the AUROC of each epitope on its own test rows, averaged over epitopes
with equal weight. `macro_auroc` must give exactly that, which a pooled AUROC does not."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from tcrbench.plugins.protocols import Kind
from tcrbench.testing import temporary_plugins

# epitope A: positives 0.9, 0.4 against negatives 0.5, 0.1, 0.2 -> 5 of 6 pairs ordered: 5/6
# epitope B: positive 0.3 against negatives 0.3 (tie: half) and 0.8 -> 0.5 of 2 pairs: 1/4
PEPTIDES = np.array(["A"] * 5 + ["B"] * 3)
LABELS = np.array([1, 1, 0, 0, 0, 1, 0, 0])
SCORES = np.array([0.9, 0.4, 0.5, 0.1, 0.2, 0.3, 0.3, 0.8])
BY_HAND = (5 / 6 + 1 / 4) / 2  # 0.541666...


def _metric(spec: str):
    with temporary_plugins() as plugins:
        return plugins.registry.create(Kind.METRIC, spec)


def test_macro_auroc_is_the_mean_of_per_epitope_aurocs_computed_by_hand() -> None:
    value = _metric("macro_auroc:min_positives=1")(LABELS, SCORES, peptides=PEPTIDES, threshold=0.5)
    assert value.value == pytest.approx(BY_HAND, abs=1e-12)
    assert value.extra == {"n_peptides": 2, "n_peptides_tested": 2}


def test_the_pooled_auroc_differs_on_the_same_example() -> None:
    """Pooling all rows mixes epitopes whose scores live on different scales: not the benchmark's number."""
    pooled = _metric("auroc")(LABELS, SCORES, peptides=PEPTIDES, threshold=0.5).value
    # positives 0.9, 0.4, 0.3 against negatives 0.5, 0.1, 0.2, 0.3, 0.8: (5 + 3 + 2.5) of 15 pairs
    assert pooled == pytest.approx(10.5 / 15)
    assert abs(pooled - BY_HAND) > 0.05


def test_the_default_minimum_drops_an_epitope_with_few_positives() -> None:
    value = _metric("macro_auroc")(LABELS, SCORES, peptides=PEPTIDES, threshold=0.5)
    assert np.isnan(value.value) and value.extra["n_peptides"] == 0


@pytest.mark.realdata
def test_every_immrep22_test_epitope_counts_under_the_default_minimum(shared_data) -> None:
    """With at least 5 positives per test epitope, the suite's `macro_auroc` averages all 17, as IMMREP22 does."""
    test = pl.read_csv(shared_data / "immrep22_compact.csv").filter(pl.col("split") == "test")
    positives = test.group_by("peptide").agg(pl.col("binder").sum().alias("pos"), pl.len().alias("n"))
    assert positives.height == 17
    assert positives["pos"].min() >= 5
    assert (positives["n"] > positives["pos"]).all()
