"""Length-bucketed batches: every row once per epoch, less padding, same predictions."""

from __future__ import annotations

import numpy as np
import torch

from tcrbench.data.synthetic import synthesize
from tcrbench.data.tokenizer import Tokenizer
from tcrbench.training.buckets import bucketed_epoch, lengths, padding_share, trim


def tokens():
    frame = synthesize(seed=0)
    return Tokenizer.for_frame(frame).encode(frame)


def test_every_row_once_per_epoch_and_batches_are_full() -> None:
    t = tokens()
    batches = bucketed_epoch(lengths(t), 64, torch.Generator().manual_seed(0))
    seen = torch.cat(batches)
    assert sorted(seen.tolist()) == list(range(len(t)))
    assert sum(len(b) < 64 for b in batches) <= -(-len(t) // (64 * 32))  # at most one short batch per pool


def test_epochs_differ_and_are_reproducible() -> None:
    t = tokens()
    a = bucketed_epoch(lengths(t), 64, torch.Generator().manual_seed(0))
    b = bucketed_epoch(lengths(t), 64, torch.Generator().manual_seed(0))
    c = bucketed_epoch(lengths(t), 64, torch.Generator().manual_seed(1))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not all(torch.equal(x, y) for x, y in zip(a, c))


def test_bucketing_cuts_the_padding_share() -> None:
    t = tokens()
    gen = torch.Generator().manual_seed(0)
    plain = list(torch.randperm(len(t), generator=gen).split(64))
    bucketed = bucketed_epoch(lengths(t), 64, gen)
    before = padding_share(t, plain, trimmed=False)
    after = padding_share(t, bucketed, trimmed=True)
    assert after < before / 2, (before, after)


def test_trim_keeps_every_real_token() -> None:
    t = tokens().index(slice(0, 10))
    cut = trim(t)
    assert cut.ids.shape[1] == int(lengths(t).max())
    assert torch.equal(lengths(cut), lengths(t))
    assert np.array_equal(cut.ids.numpy(), t.ids[:, : cut.ids.shape[1]].numpy())
