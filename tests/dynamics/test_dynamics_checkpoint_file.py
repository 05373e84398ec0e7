"""Checkpoint files: whole or rejected, never half-loaded; damaged ones are reported and skipped."""

from __future__ import annotations

import pickle

import pytest
import torch

from tcrbench.errors import UsageError
from tcrbench.training.checkpoint import (
    EXIT_STOPPED,
    CheckpointDir,
    CorruptCheckpoint,
    CorruptCheckpointWarning,
    StoppedForTime,
    load_checkpoint,
    parse_duration,
    save_checkpoint,
)


def _payload(step: int) -> dict:
    gen = torch.Generator().manual_seed(step)
    return {"step": step, "weights": torch.randn(4, 3, generator=gen), "rng": gen.get_state(),
            "losses": [1.5, 0.25], "nested": {"lr": 1e-3, "name": "adamw", "none": None}}


def test_round_trip_is_exact(tmp_path):
    payload = _payload(7)
    save_checkpoint(tmp_path / "a.ckpt", payload)
    back = load_checkpoint(tmp_path / "a.ckpt")
    assert torch.equal(back["weights"], payload["weights"]) and torch.equal(back["rng"], payload["rng"])
    assert back["losses"] == [1.5, 0.25] and back["nested"] == payload["nested"]
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty", "foreign"])
def test_damaged_files_fail_the_checksum(tmp_path, damage):
    path = tmp_path / "a.ckpt"
    save_checkpoint(path, _payload(1))
    raw = path.read_bytes()
    if damage == "flip":
        raw = raw[:-40] + bytes([raw[-40] ^ 0x01]) + raw[-39:]
    elif damage == "truncate":
        raw = raw[: len(raw) // 2]
    elif damage == "empty":
        raw = b""
    else:  # a plain torch.save file is not ours: refused before torch parses it
        torch.save(_payload(1), path)
        raw = path.read_bytes()
    path.write_bytes(raw)
    with pytest.raises(CorruptCheckpoint, match=r"a\.ckpt"):
        load_checkpoint(path)


def test_weights_only_refuses_arbitrary_objects(tmp_path):
    """A file with a valid checksum over a pickled object that is not plain data is still refused."""
    import hashlib
    import io

    from tcrbench.training.checkpoint import MAGIC

    buffer = io.BytesIO()
    torch.save({"evil": Exception("not plain data")}, buffer)
    data = buffer.getvalue()
    (tmp_path / "x.ckpt").write_bytes(MAGIC + hashlib.sha256(data).hexdigest().encode() + b"\n" + data)
    with pytest.raises(CorruptCheckpoint, match="unreadable"):
        load_checkpoint(tmp_path / "x.ckpt")


def test_directory_keeps_the_newest_and_falls_back_past_a_corrupt_one(tmp_path):
    ckpts = CheckpointDir(tmp_path / "c", keep=2)
    for step in (3, 6, 9):
        ckpts.save(step, _payload(step))
    assert ckpts.steps() == [9, 6]  # step 3 pruned
    newest = ckpts.file(9)
    newest.write_bytes(newest.read_bytes()[:-100])  # cut short, as a kill during a non-atomic copy would
    with pytest.warns(CorruptCheckpointWarning, match="checksum mismatch"):
        found = ckpts.latest()
    assert found is not None and found["step"] == 6
    assert (tmp_path / "c" / "step-0000009.ckpt.corrupt").exists()  # moved aside, not retried
    assert ckpts.steps() == [6]


def test_accept_can_reject_a_readable_checkpoint(tmp_path):
    ckpts = CheckpointDir(tmp_path / "c")
    ckpts.save(1, _payload(1))
    ckpts.save(2, _payload(2))
    found = ckpts.latest(lambda p: "too new" if p["step"] == 2 else None)
    assert found["step"] == 1
    assert ckpts.latest(lambda p: "no") is None


def test_stopped_for_time_exits_with_status_3_and_pickles():
    stop = StoppedForTime("stopped at step 4")
    assert isinstance(stop, Exception) and not isinstance(stop, SystemExit)  # library code: the CLI maps it to 3
    assert stop.code == EXIT_STOPPED == 3
    back = pickle.loads(pickle.dumps(stop))  # crosses process boundaries (the processes executor)
    assert isinstance(back, StoppedForTime) and back.code == 3 and str(back) == "stopped at step 4"


@pytest.mark.parametrize("text, seconds", [("5400", 5400), ("90m", 5400), ("1.5h", 5400), ("1h30m", 5400),
                                           ("45s", 45), ("2h 5m 10s", 7510)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "soon", "0", "-5", "5x", "m"])
def test_parse_duration_rejects(text):
    with pytest.raises(UsageError, match="--max-time"):
        parse_duration(text)
