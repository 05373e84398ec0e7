"""The inner validation split comes from the training fold only, and under TCR-disjoint folds shares no TCR with
the rows the model trains on (asserted on row ids)."""

from __future__ import annotations

import numpy as np
import pytest

from tcrbench.data.splits import tcr_ids
from tcrbench.data.synthetic import synthesize
from tcrbench.plugins.loader import get_plugins
from tcrbench.run.inner_split import inner_split, usable


@pytest.fixture(scope="module")
def registry():
    return get_plugins().registry


@pytest.mark.parametrize("split", ["tcr", "given:column=fold_id"])
def test_inner_split_is_tcr_disjoint_and_inside_the_training_fold(registry, split: str) -> None:
    import polars as pl

    frame = synthesize(seed=2).with_columns(fold_id=pl.Series(np.arange(1536) % 5))
    outer = registry.create("splitter", "tcr").split(frame, 5, 0)
    ids = tcr_ids(frame)
    for fold in outer:
        inner = inner_split(frame, np.asarray(fold.train), split, 0.15, seed=7, registry=registry)
        assert set(inner.fit) | set(inner.val) == set(fold.train)
        assert not set(inner.fit) & set(inner.val)
        assert not (set(inner.val) | set(inner.fit)) & set(fold.test)  # the test fold is never touched
        assert not set(ids[inner.val]) & set(ids[inner.fit])  # no validation TCR among the training rows
        assert 0.08 < len(inner.val) / len(fold.train) < 0.25
        assert usable(frame["label"].to_numpy()[inner.val])


def test_no_fraction_no_validation(registry) -> None:
    frame = synthesize(n_peptides=2, n_positives_per_peptide=10, seed=0)
    train = np.arange(frame.height)
    inner = inner_split(frame, train, "tcr", 0.0, seed=0, registry=registry)
    assert np.array_equal(inner.fit, train) and len(inner.val) == 0
    assert not usable(np.array([1.0, 1.0])) and not usable(np.array([]))



def test_rows_record_their_framing(tmp_path) -> None:
    from tcrbench.run.runner import Runner
    from tcrbench.testing import temporary_plugins, tiny_config

    cfg = tiny_config(baselines=["majority", "kmer_per_peptide"], protocols=["finetune"], framing="per_peptide")
    with temporary_plugins() as plugins:
        summary = Runner(cfg, plugins, out=tmp_path / "run", quiet=True).run()
    framing = {(r["baseline"] or r["arm"]): r["framing"] for r in summary.rows}
    assert framing == {"majority": "pan", "kmer_per_peptide": "per_peptide", "supervised": "per_peptide",
                       "pretrained": "per_peptide"}
    trained = [r for r in summary.rows if r["arm"] != "baseline"]
    assert all(r["epochs"] >= 1 and r["n_val"] > 0 and len(r["val_curve"]) == r["epochs"] for r in trained)
