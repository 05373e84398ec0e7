"""Fold strategies: groups never straddle train and test, strata stay even, given folds are honoured, seeds matter."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcrbench.data import splits
from tcrbench.errors import UsageError
from tcrbench.plugins.protocols import Fold
from tcrbench_plugins.splitters import GivenSplit, PeptideSplit, RandomSplit, TcrSplit

AA = np.array(list("ACDEFGHIKLMNPQRSTVWY"))


def seqs(rng: np.random.Generator, n: int, lo: int, hi: int) -> list[str]:
    return ["".join(rng.choice(AA, size=rng.integers(lo, hi + 1))) for _ in range(n)]


def make_frame(n: int = 600, n_peptides: int = 6, n_tcrs: int = 250, alpha: bool = True, dup: float = 0.1,
               pos_rate: float = 0.25, seed: int = 0) -> pl.DataFrame:
    """Pairs drawn from small pools, so TCRs recur across peptides, plus exact duplicate rows."""
    rng = np.random.default_rng(seed)
    peptides = seqs(rng, n_peptides, 8, 10)
    betas = seqs(rng, n_tcrs, 11, 16)
    alphas = seqs(rng, max(n_tcrs // 3, 1), 9, 13)  # shared alpha chains link different TCRs
    tcr = rng.integers(0, n_tcrs, n)
    data = {"peptide": [peptides[i] for i in rng.integers(0, n_peptides, n)],
            "cdr3b": [betas[i] for i in tcr],
            "label": (rng.random(n) < pos_rate).astype(np.int8)}
    if alpha:
        data["cdr3a"] = [alphas[i % len(alphas)] for i in tcr]
    frame = pl.DataFrame(data)
    copies = frame.sample(int(dup * n), seed=seed)
    return pl.concat([frame, copies]).sample(fraction=1.0, shuffle=True, seed=seed + 1)


def assert_partition(folds: list[Fold], n: int) -> None:
    """Every row is tested exactly once and trained on in every other fold."""
    tested = np.concatenate([f.test for f in folds])
    assert np.array_equal(np.sort(tested), np.arange(n))
    for f in folds:
        assert len(np.intersect1d(f.train, f.test)) == 0
        assert len(f.train) + len(f.test) == n


def crossing(values: np.ndarray, folds: list[Fold]) -> int:
    return sum(len(np.intersect1d(values[f.train], values[f.test])) for f in folds)


def joined(frame: pl.DataFrame, columns: list[str]) -> np.ndarray:
    return frame.select(pl.concat_str([pl.col(c).fill_null("") for c in columns], separator="|")).to_series().to_numpy()


# ---------------------------------------------------------------- groups never cross folds
def test_random_keeps_identical_pairs_in_one_fold():
    frame = make_frame(dup=0.3)
    assert frame.select("peptide", "cdr3b", "cdr3a").is_duplicated().sum() > 100  # the property is exercised
    folds = RandomSplit().split(frame, 5, seed=3)
    assert_partition(folds, len(frame))
    assert crossing(joined(frame, ["peptide", "cdr3b", "cdr3a"]), folds) == 0
    # but a TCR alone may be in both (random split is not TCR-disjoint): this frame reuses TCRs heavily
    assert crossing(joined(frame, ["cdr3b", "cdr3a"]), folds) > 0


@pytest.mark.parametrize("chains,keys", [
    ("pair", [["cdr3b", "cdr3a"]]),
    ("beta", [["cdr3b"]]),
    ("any", [["cdr3b"], ["cdr3a"]]),
])
def test_tcr_split_keeps_each_tcr_in_one_fold(chains, keys):
    frame = make_frame()
    folds = TcrSplit(chains=chains).split(frame, 4, seed=0)
    assert_partition(folds, len(frame))
    for key in keys:
        assert crossing(joined(frame, key), folds) == 0, key


def test_tcr_split_without_alpha_groups_by_beta():
    frame = make_frame(alpha=False)
    folds = TcrSplit().split(frame, 3, seed=1)
    assert crossing(frame["cdr3b"].to_numpy(), folds) == 0


def test_pair_and_tcr_keys_treat_missing_alpha_as_its_own_value():
    frame = pl.DataFrame({"peptide": ["P"] * 4, "cdr3b": ["B", "B", "B", "C"], "cdr3a": ["A", None, None, None],
                          "label": [1, 0, 0, 1]})
    assert splits.pair_ids(frame).tolist() == [1, 0, 0, 2]
    assert splits.tcr_ids(frame, "beta").tolist() == [0, 0, 0, 1]
    # "any": rows 0-2 share beta B; row 3 shares nothing (missing alpha chains do not link rows)
    assert splits.tcr_ids(frame, "any").tolist() == [0, 0, 0, 1]


def test_peptide_split_keeps_each_peptide_in_one_fold():
    frame = make_frame(n_peptides=9)
    folds = PeptideSplit().split(frame, 3, seed=0)
    assert_partition(folds, len(frame))
    assert crossing(frame["peptide"].to_numpy(), folds) == 0
    assert all(len(np.unique(frame["peptide"].to_numpy()[f.test])) >= 1 for f in folds)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(20, 200), n_tcrs=st.integers(5, 60), n_folds=st.integers(2, 5), seed=st.integers(0, 10_000),
       dup=st.floats(0, 0.5))
def test_every_splitter_partitions_rows_and_respects_its_groups(n, n_tcrs, n_folds, seed, dup):
    frame = make_frame(n=n, n_peptides=6, n_tcrs=n_tcrs, dup=dup, seed=seed)
    pairs = joined(frame, ["peptide", "cdr3b", "cdr3a"])
    for splitter, key in ((RandomSplit(), pairs), (TcrSplit(), joined(frame, ["cdr3b", "cdr3a"])),
                          (PeptideSplit(), frame["peptide"].to_numpy())):
        n_groups = len(np.unique(key))
        if n_groups < n_folds:
            with pytest.raises(UsageError, match="folds"):
                splitter.split(frame, n_folds, seed)
            continue
        folds = splitter.split(frame, n_folds, seed)
        assert len(folds) == n_folds
        assert_partition(folds, len(frame))
        assert crossing(key, folds) == 0
        assert crossing(pairs, folds) == 0  # every splitter keeps identical pairs together


# ---------------------------------------------------------------- stratification and balance
@pytest.mark.parametrize("splitter", [RandomSplit(), TcrSplit()], ids=["random", "tcr"])
def test_positive_rate_is_even_across_folds(splitter):
    frame = make_frame(n=3000, n_tcrs=2000, dup=0.05, pos_rate=0.2, seed=7)
    y = frame["label"].to_numpy()
    folds = splitter.split(frame, 5, seed=0)
    rates = np.array([y[f.test].mean() for f in folds])
    sizes = np.array([len(f.test) for f in folds])
    assert np.abs(rates - y.mean()).max() < 0.01
    assert sizes.max() - sizes.min() <= 0.02 * len(frame)


def test_label_peptide_stratification_spreads_each_peptides_positives():
    rng = np.random.default_rng(2)
    frame = pl.DataFrame({"peptide": rng.choice(seqs(rng, 10, 9, 9), 2000), "cdr3b": [f"CAS{i}F" for i in range(2000)],
                          "label": (rng.random(2000) < 0.3).astype(np.int8)})  # every pair a single row
    y, peps = frame["label"].to_numpy(), frame["peptide"].to_numpy()
    folds = RandomSplit(stratify="label_peptide").split(frame, 4, seed=0)
    for p in np.unique(peps):
        for label in (0, 1):
            per_fold = [int(((peps[f.test] == p) & (y[f.test] == label)).sum()) for f in folds]
            assert max(per_fold) - min(per_fold) <= 1, (p, label, per_fold)


def test_peptide_split_balances_fold_sizes_when_it_can():
    # 12 equal-sized peptides over 3 folds: largest-first placement must give 4 per fold
    rng = np.random.default_rng(0)
    frame = pl.DataFrame({"peptide": np.repeat(seqs(rng, 12, 9, 9), 50), "cdr3b": seqs(rng, 600, 12, 15),
                          "label": np.tile([1, 0, 0, 0, 0], 120)})
    folds = PeptideSplit().split(frame, 3, seed=5)
    assert [len(f.test) for f in folds] == [200, 200, 200]


# ---------------------------------------------------------------- seeds
@pytest.mark.parametrize("splitter", [RandomSplit(), TcrSplit(), PeptideSplit()], ids=lambda s: s.name)
def test_same_seed_same_folds_and_other_seed_other_folds(splitter):
    frame = make_frame(n_peptides=12)
    a, b, c = (splitter.split(frame, 3, seed=s) for s in (11, 11, 12))
    assert all(np.array_equal(x.test, y.test) and np.array_equal(x.train, y.train) for x, y in zip(a, b))
    assert any(not np.array_equal(x.test, z.test) for x, z in zip(a, c))
    assert type(splitter).redraws_with_seed is True


# ---------------------------------------------------------------- given partitions
def test_given_partition_column_gives_one_fold_per_value():
    frame = make_frame(n=300).with_row_index("i").with_columns(partition=(pl.col("i") % 4 + 1))
    folds = GivenSplit().split(frame, n_folds=99, seed=123)  # n_folds and seed are ignored
    assert [f.name for f in folds] == ["partition=1", "partition=2", "partition=3", "partition=4"]
    part = frame["partition"].to_numpy()
    for f, value in zip(folds, (1, 2, 3, 4)):
        assert (part[f.test] == value).all() and (part[f.train] != value).all()
    assert_partition(folds, len(frame))
    assert GivenSplit.redraws_with_seed is False


def test_given_split_column_gives_one_train_test_fold():
    frame = make_frame(n=100).with_row_index("i").with_columns(
        split=pl.when(pl.col("i") < 70).then(pl.lit("train")).otherwise(pl.lit("test")))
    (fold,) = GivenSplit(column="split").split(frame, 5, 0)
    assert fold.name == "split=test"
    assert fold.test.tolist() == list(range(70, len(frame))) and fold.train.tolist() == list(range(70))


def test_given_test_value_holds_out_one_numbered_partition():
    frame = make_frame(n=100).with_row_index("i").with_columns(partition=(pl.col("i") % 5 + 1))
    (fold,) = GivenSplit(test_value="5").split(frame, 5, 0)
    part = frame["partition"].to_numpy()
    assert fold.test.tolist() == np.flatnonzero(part == 5).tolist()


def test_given_drop_shared_pairs_removes_the_leak_and_fold_warnings_reports_it():
    frame = pl.DataFrame({"peptide": ["P", "P", "P", "Q"], "cdr3b": ["X", "Y", "X", "X"],
                          "label": [1, 0, 1, 0], "split": ["train", "train", "test", "test"]})
    (kept,) = GivenSplit(column="split").split(frame, 5, 0)
    assert kept.train.tolist() == [0, 1]
    assert any("1 (peptide, TCR) pairs occur in both" in w for w in splits.fold_warnings(frame, [kept]))
    (dropped,) = GivenSplit(column="split", drop_shared_pairs=True).split(frame, 5, 0)
    assert dropped.train.tolist() == [1] and dropped.test.tolist() == [2, 3]
    assert not any("occur in both" in w for w in splits.fold_warnings(frame, [dropped]))


@pytest.mark.parametrize("frame,column,message", [
    (pl.DataFrame({"label": [0, 1]}), "partition", "no column 'partition'"),
    (pl.DataFrame({"label": [0, 1], "partition": [1, None]}), "partition", "row 1 has no value"),
    (pl.DataFrame({"label": [0, 1], "partition": [1, 1]}), "partition", "at least two distinct values"),
    (pl.DataFrame({"label": [0, 1], "split": ["test", "test"]}), "split", "nothing is left to train on"),
])
def test_given_rejects_unusable_columns(frame, column, message):
    with pytest.raises(UsageError, match=message):
        GivenSplit(column=column).split(frame, 5, 0)


# ---------------------------------------------------------------- bad input
def test_redrawn_splits_reject_impossible_requests():
    frame = make_frame(n=50, n_peptides=3)
    with pytest.raises(UsageError, match="4 folds need at least 4 peptides, the table has 3"):
        PeptideSplit().split(frame, 4, 0)
    with pytest.raises(UsageError, match="at least 2"):
        RandomSplit().split(frame, 1, 0)
    with pytest.raises(UsageError, match="column 'label' must hold 0 or 1, row 2"):
        RandomSplit().split(frame.with_row_index("i").with_columns(
            label=pl.when(pl.col("i") == 2).then(7).otherwise(pl.col("label"))), 3, 0)
    with pytest.raises(UsageError, match="no column 'cdr3b'"):
        TcrSplit().split(frame.drop("cdr3b"), 3, 0)


# ---------------------------------------------------------------- fold_warnings
def test_fold_warnings_name_thin_peptides_single_class_folds_and_imbalance():
    frame = pl.DataFrame({"peptide": ["A"] * 6 + ["B"] * 14, "cdr3b": [f"C{i}" for i in range(20)],
                          "label": [1, 1, 0, 0, 0, 0] + [1] * 7 + [0] * 7})
    rows = np.arange(20)
    thin = Fold("f1", rows[6:], rows[:6])  # test: peptide A with 2 positives
    one_class = Fold("f2", rows[rows != 19], rows[19:])  # test: one negative row
    messages = splits.fold_warnings(frame, [thin, one_class])
    assert any(m.startswith("f1: 1 of 1 test peptides have fewer than 5 positives") and "A (2)" in m
               for m in messages)
    assert any(m.startswith("f2: the test set holds only negatives") for m in messages)
    assert any("unbalanced: from 1 to 6 rows" in m for m in messages)
    assert splits.fold_warnings(frame, [thin], min_positives=2) == []


# ---------------------------------------------------------------- real tables
@pytest.mark.realdata
def test_nettcr2_partitions_become_five_folds(shared_data):
    frame = pl.read_csv(shared_data / "nettcr2_train_ab_90_alphabeta.csv").rename(
        {"CDR3a": "cdr3a", "CDR3b": "cdr3b", "binder": "label"})
    folds = GivenSplit().split(frame, 3, 0)
    counts = frame["partition"].value_counts().sort("partition")["count"].to_list()
    assert [f.name for f in folds] == [f"partition={i}" for i in range(1, 6)]
    assert [len(f.test) for f in folds] == counts
    assert_partition(folds, len(frame))
    # the authors' folds are similarity-reduced: every peptide is in every fold, so no peptide-disjointness
    assert crossing(frame["peptide"].to_numpy(), folds) > 0


@pytest.mark.realdata
def test_immrep22_split_column_and_its_known_leak(shared_data):
    frame = pl.read_csv(shared_data / "immrep22_compact.csv").rename(
        {"CDR3a": "cdr3a", "CDR3b": "cdr3b", "binder": "label"})
    (fold,) = GivenSplit(column="split").split(frame, 5, 0)
    assert (len(fold.train), len(fold.test)) == (11_437, 3_675)
    warnings = splits.fold_warnings(frame, [fold])
    assert any("23 (peptide, TCR) pairs occur in both" in w for w in warnings)  # the README's documented leak
    (clean,) = GivenSplit(column="split", drop_shared_pairs=True).split(frame, 5, 0)
    assert crossing(splits.pair_ids(frame), [clean]) == 0 and len(clean.test) == 3_675


@pytest.mark.realdata
def test_random_split_on_tcrclassifier_keeps_its_duplicated_pairs_together(shared_data):
    frame = pl.read_csv(shared_data / "tcrclassifier_pairs.csv").rename(
        {"antigen": "peptide", "TCR": "cdr3b", "interaction": "label"})
    assert frame.select("peptide", "cdr3b").is_duplicated().sum() > 2000
    folds = RandomSplit().split(frame, 3, seed=0)
    assert crossing(splits.pair_ids(frame), folds) == 0
    y = frame["label"].to_numpy()
    assert max(abs(y[f.test].mean() - y.mean()) for f in folds) < 0.002
