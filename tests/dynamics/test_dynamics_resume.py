"""Pretraining stopped at any step and resumed from its checkpoint ends bit for bit where an uninterrupted run
ends: weights, losses and encoder snapshots; with every objective and encoder; past damaged checkpoints."""

from __future__ import annotations

import time

import pytest
import torch

from tcrbench.data.tokenizer import Tokenizer
from tcrbench.plugins.protocols import Kind, PretrainBatch
from tcrbench.run.config import Budget
from tcrbench.testing import temporary_plugins, tiny_dataset
from tcrbench.training.batches import batch_indices
from tcrbench.training.checkpoint import CheckpointDir, CorruptCheckpointWarning, StoppedForTime
from tcrbench.training.pretrain import Checkpointing, EpochOrder, load_snapshot, pretrain, snapshot_file

BUDGET = Budget(pretrain_steps=5, pretrain_batch=32, warmup=0.3)  # 60 rows: 2 batches an epoch, 3 epochs


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models run fastest on one thread, and the machine is shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class Killed(Exception):
    """Stands in for SIGKILL inside a test: the loop stops where it is, nothing is saved."""


@pytest.mark.parametrize("n, batch, min_batch", [(10, 4, 2), (10, 4, 3), (9, 3, 1), (5, 8, 2)])
def test_epoch_order_replays_batch_indices_and_resumes_anywhere(n, batch, min_batch):
    total = 11
    expected = [t.tolist() for t in batch_indices(n, min(batch, n), total, torch.Generator().manual_seed(5),
                                                  min_batch=min_batch)]
    order = EpochOrder(n, min(batch, n), torch.Generator().manual_seed(5), min_batch=min_batch)
    states = []
    got = []
    for _ in range(total):
        states.append(order.state())
        got.append(order.next().tolist())
    assert got == expected
    for k, state in enumerate(states):  # a fresh order restored at step k yields the rest unchanged
        again = EpochOrder(n, min(batch, n), torch.Generator().manual_seed(999), min_batch=min_batch)
        again.restore(state)
        assert [again.next().tolist() for _ in range(total - k)] == expected[k:]


def _setup(objective: str, encoder: str, augmentation: str):
    frame = tiny_dataset(n_peptides=3, n_positives_per_peptide=10)
    tokens = Tokenizer.for_frame(frame).encode(frame)
    groups = torch.as_tensor(frame["peptide"].rank("dense").to_numpy().astype("int64") - 1)
    labels = torch.tensor(frame["label"].to_numpy(), dtype=torch.float32)
    with temporary_plugins() as plugins:
        obj = plugins.registry.create(Kind.OBJECTIVE, objective)
        aug = plugins.registry.create(Kind.AUGMENTATION, augmentation)
        enc = plugins.registry.create(Kind.ENCODER, encoder)
    if getattr(obj, "uses_labels", False):
        keep = labels > 0.5
        data = PretrainBatch(tokens.index(keep), groups[keep], labels[keep])
    else:
        data = PretrainBatch(tokens.index(slice(0, 60)), groups[:60])

    def fresh() -> torch.nn.Module:
        torch.manual_seed(11)
        return enc.build(tokens.ids.shape[1])

    return obj, aug, data, fresh


def _run(setup, ckpt=None, on_step=None):
    obj, aug, data, fresh = setup
    encoder = fresh()
    stats = pretrain(encoder, obj, aug, data, BUDGET, 3, torch.device("cpu"), on_step=on_step, checkpointing=ckpt)
    return encoder, stats


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("objective, encoder, augmentation", [
    ("ntxent", "transformer:size=tiny", "mask1"),
    ("mlm", "transformer:size=tiny", "identity"),
    ("vicreg", "cnn", "substitute"),
    ("clip", "transformer:size=tiny", "mask1"),
    ("ntxent+mlm", "cnn", "mask1"),
])
def test_stopping_after_every_step_gives_the_uninterrupted_result(tmp_path, objective, encoder, augmentation):
    setup = _setup(objective, encoder, augmentation)
    reference, ref_stats = _run(setup)
    assert len(ref_stats.epoch_losses) >= 3  # the stops fall inside and across epochs
    stops = 0
    while True:  # a deadline already past: each call does one step, checkpoints it, and stops
        ckpt = Checkpointing(tmp_path / "ckpt", deadline=time.monotonic() - 1.0)
        try:
            resumed, stats = _run(setup, ckpt)
            break
        except StoppedForTime as stop:
            stops += 1
            assert stop.code == 3 and f"step {stops} of 5" in str(stop)
    assert stops == 4
    assert stats.resumed_from == 4
    assert _same_weights(resumed, reference)
    assert stats.epoch_losses == ref_stats.epoch_losses and stats.final_loss == ref_stats.final_loss
    assert stats.sequences == ref_stats.sequences and stats.steps == ref_stats.steps


def test_a_kill_then_a_corrupt_latest_checkpoint_resumes_from_the_one_before(tmp_path):
    setup = _setup("ntxent", "transformer:size=tiny", "mask1")
    reference, ref_stats = _run(setup)

    def kill_at_5(step, total, loss, per_s):
        if step == 5:
            raise Killed

    with pytest.raises(Killed):
        _run(setup, Checkpointing(tmp_path / "ckpt", every_steps=2), on_step=kill_at_5)
    assert CheckpointDir(tmp_path / "ckpt").steps() == [4, 2]
    newest = tmp_path / "ckpt" / "step-0000004.ckpt"
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0xFF
    newest.write_bytes(bytes(data))
    with pytest.warns(CorruptCheckpointWarning, match="step-0000004.ckpt: checksum mismatch"):
        resumed, stats = _run(setup, Checkpointing(tmp_path / "ckpt", every_steps=2))
    assert stats.resumed_from == 2
    assert _same_weights(resumed, reference) and stats.epoch_losses == ref_stats.epoch_losses


def test_minutes_checkpoint_and_snapshots_survive_stops(tmp_path):
    setup = _setup("mlm", "transformer:size=tiny", "identity")
    snaps = lambda total: [2, 4, total]
    ref_dir = tmp_path / "ref"
    reference, ref_stats = _run(setup, Checkpointing(tmp_path / "r", snapshot_dir=ref_dir, snapshot_steps=snaps))
    assert sorted(ref_stats.snapshot_losses) == [2, 4, 5]
    assert _same_weights(reference, _loaded(setup, load_snapshot(ref_dir, 5)))

    out_dir = tmp_path / "out"
    while True:
        ckpt = Checkpointing(tmp_path / "c", every_seconds=1e-9, deadline=time.monotonic() - 1.0,
                             snapshot_dir=out_dir, snapshot_steps=snaps)
        try:
            _run(setup, ckpt)
            break
        except StoppedForTime:
            pass
    for step in (2, 4, 5):
        a, b = load_snapshot(ref_dir, step), load_snapshot(out_dir, step)
        assert a["loss"] == b["loss"] and a["batch_loss"] == b["batch_loss"]
        assert all(torch.equal(a["encoder"][k], b["encoder"][k]) for k in a["encoder"])
    # the snapshot loss is the mean over the steps since the previous snapshot (3 and 4 for step 4)
    assert ref_stats.snapshot_losses[4] != load_snapshot(ref_dir, 4)["batch_loss"]


def test_a_damaged_snapshot_sends_the_resume_back_before_it(tmp_path):
    setup = _setup("ntxent", "transformer:size=tiny", "mask1")
    snaps = lambda total: [3]
    _, _ = _run(setup, Checkpointing(tmp_path / "r", snapshot_dir=tmp_path / "ref", snapshot_steps=snaps))

    def kill_at_5(step, total, loss, per_s):
        if step == 5:
            raise Killed

    ckpt = Checkpointing(tmp_path / "c", every_steps=1, snapshot_dir=tmp_path / "s", snapshot_steps=snaps)
    with pytest.raises(Killed):
        _run(setup, ckpt, on_step=kill_at_5)
    assert CheckpointDir(tmp_path / "c").steps() == [4, 3]
    snap = snapshot_file(tmp_path / "s", 3)
    snap.write_bytes(snap.read_bytes()[:200])
    with pytest.warns(CorruptCheckpointWarning, match="step-0000003.snap"):
        _, stats = _run(setup, ckpt)
    assert stats.resumed_from is None  # both checkpoints come after the lost snapshot: start again
    a, b = load_snapshot(tmp_path / "ref", 3), load_snapshot(tmp_path / "s", 3)
    assert a["loss"] == b["loss"] and all(torch.equal(a["encoder"][k], b["encoder"][k]) for k in a["encoder"])


def _loaded(setup, snapshot):
    encoder = setup[3]()
    encoder.load_state_dict(snapshot["encoder"])
    return encoder
