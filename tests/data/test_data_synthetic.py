"""Synthetic generator: deterministic, shaped like the real thing, with a planted rule and a switchable shortcut."""

import numpy as np
import polars as pl
import pytest
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from tcrbench.data import inspect_table, motif_for, planted_score, synthesize, validate_frame
from tcrbench.data.synthetic import COMPLEMENT
from tcrbench.errors import UsageError


def test_same_seed_same_table_other_seed_other_table():
    assert synthesize(seed=3).equals(synthesize(seed=3))
    assert not synthesize(seed=3).equals(synthesize(seed=4))


@pytest.mark.parametrize("negatives", ["swapped", "background"])
def test_shape_counts_and_validity(negatives):
    frame = synthesize(n_peptides=5, n_positives_per_peptide=20, negative_ratio=2, negatives=negatives, seed=1)
    assert frame.columns == ["peptide", "cdr3b", "label"] and frame.height == 5 * 20 * 3
    per = frame.group_by("peptide").agg(pl.col("label").sum().alias("p"), pl.len().alias("n"))
    assert per["p"].to_list() == [20] * 5 and per["n"].to_list() == [60] * 5
    assert frame["peptide"].str.len_chars().is_between(8, 11).all()
    cdr3 = frame["cdr3b"]
    assert cdr3.str.len_chars().is_between(10, 20).all()
    assert cdr3.str.starts_with("C").all() and cdr3.str.ends_with("F").all()
    report = validate_frame(frame, "synthetic")
    assert report.duplicate_pairs == 0


def test_default_size():
    frame = synthesize()
    assert frame.height == 16 * 24 * 4 and frame["peptide"].n_unique() == 16


def test_difficulty_lowers_the_oracle_ceiling():
    aurocs = []
    for difficulty in (0.0, 0.5, 1.0):
        frame = synthesize(difficulty=difficulty, seed=2)
        score = planted_score(frame["peptide"], frame["cdr3b"])
        aurocs.append(roc_auc_score(frame["label"].to_numpy(), score))
    assert aurocs[0] == 1.0
    assert 0.8 < aurocs[1] < 0.95 and 0.6 < aurocs[2] < aurocs[1]


def _tcr_only_auroc(frame: pl.DataFrame) -> float:
    """A model that never sees the peptide: logistic regression on the CDR3's 3-mers."""
    x = CountVectorizer(analyzer="char", ngram_range=(3, 3), lowercase=False).fit_transform(frame["cdr3b"])
    y = frame["label"].to_numpy()
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.3, random_state=0, stratify=y)
    model = LogisticRegression(max_iter=2000).fit(xtr, ytr)
    return roc_auc_score(yte, model.decision_function(xte))


def test_background_negatives_open_the_tcr_only_shortcut_and_swapped_close_it():
    background = synthesize(negatives="background", difficulty=0.0, seed=5)
    swapped = synthesize(negatives="swapped", difficulty=0.0, seed=5)
    assert _tcr_only_auroc(background) > 0.75
    assert _tcr_only_auroc(swapped) < 0.6
    assert inspect_table(background)["tcrs_in_both_classes"] == 0
    assert inspect_table(swapped)["tcrs_in_both_classes"] > 0.5 * swapped["cdr3b"].n_unique()


def test_swapped_negatives_topped_up_with_other_peptides_binders():
    frame = synthesize(n_peptides=2, n_positives_per_peptide=15, negative_ratio=4, difficulty=0.0, seed=8)
    assert validate_frame(frame, "s").duplicate_pairs == 0 and frame.height == 2 * 15 * 5
    peptides = frame["peptide"].unique().to_list()
    for pep, cdr3 in frame.filter(pl.col("label") == 0).select("peptide", "cdr3b").iter_rows():
        other = next(p for p in peptides if p != pep)
        assert motif_for(other) in cdr3 and motif_for(pep) not in cdr3


def test_peptide_alone_carries_no_signal():
    frame = synthesize(seed=6)
    rate = frame.group_by("peptide").agg(pl.col("label").mean())["label"]
    assert np.allclose(rate.to_numpy(), 0.25)


def test_motifs_come_from_the_peptide_centre():
    assert all(COMPLEMENT[COMPLEMENT[a]] == a for a in COMPLEMENT)
    assert motif_for("GILGFVFTL") == "".join(COMPLEMENT[a] for a in "GFV")
    frame = synthesize(difficulty=0.0, n_peptides=3, n_positives_per_peptide=15, negative_ratio=2)
    positives = frame.filter(pl.col("label") == 1)
    assert all(motif_for(p) in c for p, c in positives.select("peptide", "cdr3b").iter_rows())


@pytest.mark.parametrize("kwargs, message", [
    ({"n_peptides": 0}, "n_peptides must be at least 1"),
    ({"n_positives_per_peptide": 0}, "n_positives_per_peptide must be at least 1"),
    ({"negative_ratio": 0}, "negative_ratio must be at least 1"),
    ({"difficulty": 1.5}, "difficulty must be between 0 and 1"),
    ({"negatives": "random"}, "negatives must be 'swapped' or 'background'"),
    ({"n_peptides": 1}, "negatives='swapped' .* needs n_peptides of at least 2"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(UsageError, match=message):
        synthesize(**kwargs)
