"""Masked-LM loss on gathered positions equals the all-positions loss, and never runs the head elsewhere."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tcrbench.data.vocab import VOCAB_SIZE
from tcrbench.errors import UsageError
from tcrbench.kernels import masked_lm_loss
from tcrbench.kernels.reference import masked_lm_all_positions


def _batch(b: int = 6, length: int = 9, hidden: int = 12, p: float = 0.15, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    states = torch.randn(b, length, hidden, generator=g, dtype=torch.float64, requires_grad=True)
    targets = torch.randint(0, VOCAB_SIZE, (b, length), generator=g)
    changed = torch.rand(b, length, generator=g) < p
    head = nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, VOCAB_SIZE)).double()
    with torch.no_grad():  # seeded weights, so the test does not depend on the global generator
        for w in head.parameters():
            w.copy_(torch.randn(w.shape, generator=g, dtype=w.dtype) * 0.3)
    return states, targets, changed, head


@pytest.mark.parametrize("p", [0.15, 0.5, 1.0])
def test_equals_logits_over_all_positions(p) -> None:
    states, targets, changed, head = _batch(p=p)
    assert changed.any()
    loss = masked_lm_loss(states, targets, changed, head)
    loss.backward()
    got = [states.grad.clone()] + [w.grad.clone() for w in head.parameters()]
    states.grad = None
    head.zero_grad()
    expected = masked_lm_all_positions(states, targets, changed, head)
    expected.backward()
    want = [states.grad] + [w.grad for w in head.parameters()]
    torch.testing.assert_close(loss, expected, rtol=1e-12, atol=0)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-14)


def test_head_sees_only_changed_positions() -> None:
    states, targets, changed, head = _batch()
    seen = []
    masked_lm_loss(states, targets, changed, lambda h: seen.append(h.shape[0]) or head(h))
    assert seen == [int(changed.sum())]


def test_nothing_changed_gives_zero_loss_that_still_backpropagates() -> None:
    states, targets, _, head = _batch()
    loss = masked_lm_loss(states, targets, torch.zeros(6, 9, dtype=torch.bool), head)
    loss.backward()
    assert loss.item() == 0.0
    assert bool((states.grad == 0).all())


@pytest.mark.parametrize("args, message", [
    (lambda s, t, c: (s[0], t, c), "hidden must be a B × L × H"),
    (lambda s, t, c: (s, t[:, :-1], c), "targets must have shape"),
    (lambda s, t, c: (s, t.double(), c), "integer token ids"),
    (lambda s, t, c: (s, t, c.long()), "changed must be a bool"),
])
def test_bad_inputs_are_refused(args, message) -> None:
    states, targets, changed, head = _batch()
    with pytest.raises(UsageError, match=message):
        masked_lm_loss(*args(states, targets, changed), head)


def test_head_with_wrong_output_is_refused() -> None:
    states, targets, changed, _ = _batch()
    with pytest.raises(UsageError, match="head must map"):
        masked_lm_loss(states, targets, changed, lambda h: h.sum())
