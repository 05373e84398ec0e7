"""An unlabelled corpus in pretraining (the leak guard, resuming mid-corpus) and label-fraction learning curves
(nested, stratified subsets shared by every arm)."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import polars as pl
import pytest
import torch

from tcrbench.data.tokenizer import Tokenizer
from tcrbench.errors import UsageError
from tcrbench.plugins.protocols import Kind, PretrainBatch
from tcrbench.run.config import Budget, RunConfig, apply_settings
from tcrbench.run.corpus_view import CorpusIndex, FoldWithCorpus
from tcrbench.run.label_fraction import labelled_rows
from tcrbench.run.runner import Runner
from tcrbench.testing import temporary_plugins, tiny_dataset
from tcrbench.training.pretrain import Checkpointing, pretrain


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TCRBENCH_CACHE", str(tmp_path / "tcrbench-cache"))


def _corpus_file(path, cdr3s):
    pl.DataFrame({"cdr3b": cdr3s}).write_csv(path)
    return str(path)


def test_the_leak_guard_removes_every_held_out_tcr_from_the_corpus(tmp_path, tiny):
    data = tiny().dataset
    table = tiny_dataset(n_peptides=3, n_positives_per_peptide=20)
    extra = [f"CASS{'GSALT'[i % 5]}{'DEQNR'[i // 5 % 5]}{'PYVKW'[i // 25 % 5]}YEQYF" for i in range(60)]
    corpus = _corpus_file(tmp_path / "corpus.csv", table["cdr3b"].to_list() + extra)
    seen: dict[tuple[int, int], set[str]] = {}

    def observe(cell, batch):
        decoded = Tokenizer().decode(batch.tokens)
        seen.setdefault((cell.seed, cell.fold_index), set()).update(t[1] for t in decoded)

    cfg = tiny(dataset=data, pretrain_data=[corpus], label_fractions=[0.5, 1.0], protocols=["finetune"])
    with temporary_plugins() as plugins:
        runner = Runner(cfg, plugins, out=tmp_path / "run", quiet=True, observe_pretrain_batch=observe)
        summary = runner.run()
        cells, _, _ = runner.cells()
        frame = runner.data.frame
    assert not summary.failed
    cdr3 = frame["cdr3b"].to_list()
    checked = 0
    for cell in (c for c in cells if c.conf.arm == "pretrained"):
        held = runner.cell_runner.held_out(cell)
        val = np.concatenate([runner.cell_runner.inner(cell, f).val for f in (0.5, 1.0)])
        assert set(cell.fold.test) <= set(held) and set(val) <= set(held)
        held_tcrs = {cdr3[i] for i in held}
        test_only = {cdr3[i] for i in cell.fold.test} - {cdr3[i] for i in cell.fold.train}
        assert test_only and not (seen[(cell.seed, cell.fold_index)] & test_only)  # no test TCR, though all in it
        # inner-validation TCRs come to pretraining from the training fold's own rows (it sees all of them), but
        # their copies in the corpus are removed too: counted below
        assert seen[(cell.seed, cell.fold_index)] & set(extra)  # the corpus was used
        in_corpus = Counter(table["cdr3b"].to_list() + extra)
        removed = sum(in_corpus[t] for t in held_tcrs)
        rows = [r for r in summary.rows if r["arm"] == "pretrained" and r["fold"] == cell.fold_index]
        for r in rows:
            record = r["pretrain_corpus"]
            assert record["removed"] == removed and record["used"] == len(table) + len(extra) - removed
            assert record["size"] == len(table) + len(extra) and record["hash"]
        checked += 1
    assert checked == 2
    supervised = [r for r in summary.rows if r["arm"] == "supervised"]
    assert supervised and all(r["pretrain_corpus"] == {} for r in supervised)


def test_a_corpus_changes_the_config_hash_and_default_runs_keep_theirs(tmp_path):
    cfg = RunConfig()
    base = cfg.config_hash("data")
    assert RunConfig(label_fractions=[1.0]).config_hash("data") == base
    assert cfg.config_hash("data", "corpus-a") != base
    assert cfg.config_hash("data", "corpus-a") != cfg.config_hash("data", "corpus-b")
    assert RunConfig(label_fractions=[0.1, 1.0]).config_hash("data") != base


def test_label_fractions_are_read_sorted_and_checked():
    cfg = apply_settings(RunConfig(), {"label_fractions": "1.0,0.02,0.1"}, "command line")
    assert cfg.label_fractions == [0.02, 0.1, 1.0]
    for bad, message in (("0", "in \\(0, 1\\]"), ("0.1,0.1", "twice"), ("x", "not a number"), ("1.5", "in")):
        with pytest.raises(UsageError, match=message):
            apply_settings(RunConfig(), {"label_fractions": bad}, "command line")


def test_label_subsets_are_nested_stratified_and_reproducible():
    frame = tiny_dataset(n_peptides=4, n_positives_per_peptide=40)
    train = np.arange(0, len(frame), 2)
    subsets = {f: labelled_rows(frame, train, f, seed=3, fold=1) for f in (0.05, 0.1, 0.3, 1.0)}
    assert np.array_equal(subsets[1.0], train)
    assert set(subsets[0.05]) <= set(subsets[0.1]) <= set(subsets[0.3]) <= set(train)
    assert np.array_equal(subsets[0.1], labelled_rows(frame, train, 0.1, seed=3, fold=1))
    assert not np.array_equal(subsets[0.1], labelled_rows(frame, train, 0.1, seed=4, fold=1))
    strata = frame[train.tolist()].group_by("peptide", "label").len()
    picked = frame[subsets[0.3].tolist()].group_by("peptide", "label").len()
    both = strata.join(picked, on=["peptide", "label"], suffix="_kept")
    # within one row of 30% of every (peptide, label) stratum: the offset makes the count floor or ceiling
    assert ((both["len_kept"] - 0.3 * both["len"]).abs() <= 1).all()
    with pytest.raises(UsageError, match="both classes"):
        labelled_rows(frame, train, 0.001, seed=3, fold=1)


def test_every_arm_of_a_fold_sees_the_same_labelled_rows(tmp_path, tiny):
    cfg = tiny(label_fractions=[0.25, 0.5, 1.0], protocols=["finetune", "probe"])
    with temporary_plugins() as plugins:
        summary = Runner(cfg, plugins, out=tmp_path / "run", quiet=True).run()
    assert not summary.failed
    by: dict[tuple[int, float], set[int]] = {}
    for r in summary.rows:
        by.setdefault((r["fold"], r["label_fraction"]), set()).add(r["n_labelled"])
    assert all(len(v) == 1 for v in by.values())  # one labelled count per fold and fraction, whatever the arm
    for fold in (0, 1):
        counts = [next(iter(by[(fold, f)])) for f in (0.25, 0.5, 1.0)]
        assert counts[0] < counts[1] < counts[2]
    keys = {r["row_key"] for r in summary.rows}
    assert len(keys) == len(summary.rows) == 2 * 3 * (2 + 2 + 2)
    # a re-run computes nothing: every (protocol, fraction) row is found
    with temporary_plugins() as plugins:
        again = Runner(cfg, plugins, out=tmp_path / "run", quiet=True).run()
    assert again.computed == 0 and again.skipped == len(summary.rows)


class Killed(Exception):
    pass


def _fold_and_corpus():
    frame = tiny_dataset(n_peptides=3, n_positives_per_peptide=10)
    tokenizer = Tokenizer.for_frame(frame)
    tokens = tokenizer.encode(frame)
    fold = PretrainBatch(tokens, torch.as_tensor(frame["peptide"].rank("dense").to_numpy().astype("int64") - 1))
    extra = tiny_dataset(n_peptides=3, n_positives_per_peptide=30, seed=9)
    corpus = pl.DataFrame({"peptide": [""] * len(extra), "cdr3b": extra["cdr3b"], "cdr3a": [None] * len(extra)})
    index = CorpusIndex(corpus.with_columns(pl.col("cdr3a").cast(pl.String)), Tokenizer(tokenizer.max_len))
    return FoldWithCorpus(fold, index, np.arange(len(extra))), tokens.ids.shape[1]


def test_fold_with_corpus_gives_rows_in_the_order_asked():
    data, width = _fold_and_corpus()
    n = len(data.fold)
    idx = torch.tensor([n + 3, 0, n, 5, n + 1])
    batch = data.index(idx)
    decoded = Tokenizer().decode(batch.tokens)
    corpus = data.corpus.corpus["cdr3b"].to_list()
    fold = Tokenizer().decode(data.fold.tokens)
    assert [d[1] for d in decoded] == [corpus[3], fold[0][1], corpus[0], fold[5][1], corpus[1]]
    assert batch.groups.tolist()[0] == -1 and batch.groups.tolist()[1] >= 0
    assert batch.tokens.ids.shape == (5, width)


def test_pretraining_resumes_mid_corpus_to_the_same_numbers(tmp_path):
    data, width = _fold_and_corpus()
    budget = Budget(pretrain_steps=8, pretrain_batch=32)
    with temporary_plugins() as plugins:
        obj = plugins.registry.create(Kind.OBJECTIVE, "ntxent")
        aug = plugins.registry.create(Kind.AUGMENTATION, "mask1")
        enc = plugins.registry.create(Kind.ENCODER, "chain_cnn")

    def fresh():
        torch.manual_seed(1)
        return enc.build(width)

    whole = fresh()
    stats = pretrain(whole, obj, aug, data, budget, 5, torch.device("cpu"))

    def die(step, *_):
        if step == 5:
            raise Killed

    ckpt = Checkpointing(tmp_path / "ckpt", every_steps=2)
    with pytest.raises(Killed):
        pretrain(fresh(), obj, aug, data, budget, 5, torch.device("cpu"), on_step=die, checkpointing=ckpt)
    resumed = fresh()
    again = pretrain(resumed, obj, aug, data, budget, 5, torch.device("cpu"), checkpointing=ckpt)
    assert again.resumed_from == 4 and again.epoch_losses == stats.epoch_losses
    assert all(torch.equal(a, b) for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()))
    assert len(data) > 2 * 32  # the corpus rows were part of the epochs that were replayed
    assert json.dumps(stats.epoch_losses)


def test_training_dynamics_are_evaluated_on_the_largest_label_fraction(tmp_path, tiny):
    cfg = tiny(label_fractions=[0.25, 0.5], eval_every="2", protocols=["probe"], baselines=[])
    with temporary_plugins() as plugins:
        summary = Runner(cfg, plugins, out=tmp_path / "run", quiet=True).run()
    assert not summary.failed
    dynamics = [r for r in summary.rows if r.get("step") is not None]
    assert dynamics and {r["label_fraction"] for r in dynamics} == {0.5}
    main = {(r["fold"], r["label_fraction"]): r["n_labelled"] for r in summary.rows if r.get("step") is None}
    assert all(r["n_labelled"] == main[(r["fold"], 0.5)] for r in dynamics)
    assert len({r["row_key"] for r in summary.rows}) == len(summary.rows)


def test_a_junction_corpus_beside_an_anchorless_table_is_stripped_and_guarded(tmp_path, tiny):
    """NetTCR-2.0 writes CDR3s without the C...F anchors; OLGA and AIRR write junctions. The corpus must be read
    in the table's spelling, or pretraining sees another language and the leak guard never matches."""
    table = tiny_dataset(n_peptides=3, n_positives_per_peptide=20)
    bare = table.with_columns(pl.col("cdr3b").str.slice(1, pl.col("cdr3b").str.len_chars() - 2))
    data = tmp_path / "bare.csv"
    bare.write_csv(data)
    corpus = _corpus_file(tmp_path / "junctions.csv", table["cdr3b"].to_list())  # the same TCRs, as junctions
    cfg = tiny(dataset="synthetic", data=str(data), pretrain_data=[corpus], protocols=["probe"], baselines=[])
    with temporary_plugins() as plugins:
        runner = Runner(cfg, plugins, out=tmp_path / "run", quiet=True)
        summary = runner.run()
    record = next(r["pretrain_corpus"] for r in summary.rows if r["arm"] == "pretrained" and r["fold"] == 0)
    assert record["convention"] == "cdr3" and record["stripped"] == len(table)
    assert set(runner.data.corpus.corpus["cdr3b"].to_list()) == set(bare["cdr3b"].to_list())
    fold0 = next(c for c in runner.cells()[0] if c.fold_index == 0 and c.conf.arm == "pretrained")
    held = {bare["cdr3b"][int(i)] for i in runner.cell_runner.held_out(fold0)}
    assert record["removed"] == sum(t in held for t in bare["cdr3b"].to_list()) > 0  # every held-out TCR found in the corpus, now that they match
