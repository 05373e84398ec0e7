"""Gradient caching gives the parameter gradients of one full-batch step, dropout and generators included."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tcrbench.data.vocab import TokenBatch
from tcrbench.errors import UsageError
from tcrbench.kernels import gradcache_step, info_nce, nt_xent


def _encoder(dropout: float = 0.0, seed: int = 0) -> nn.Module:
    net = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Dropout(dropout), nn.Linear(16, 8)).double()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for w in net.parameters():
            w.copy_(torch.randn(w.shape, generator=g, dtype=w.dtype) * 0.5)
    return net


def _views(n: int = 10, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 5, generator=g, dtype=torch.float64), torch.randn(n, 5, generator=g, dtype=torch.float64)


def _grads(module: nn.Module) -> list[torch.Tensor]:
    out = [p.grad.clone() for p in module.parameters()]
    module.zero_grad()
    return out


@pytest.mark.parametrize("chunk", [1, 3, 4, 10, 64])
def test_equals_full_batch_step_for_two_views(chunk) -> None:
    net, (x1, x2) = _encoder(), _views()
    full = nt_xent(net(x1), net(x2), 0.2)
    full.backward()
    expected = _grads(net)
    loss = gradcache_step(net, (x1, x2), lambda a, b: nt_xent(a, b, 0.2), chunk)
    assert loss.item() == pytest.approx(full.item(), rel=1e-12)
    assert not loss.requires_grad
    for got, want in zip(_grads(net), expected):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-12)


def test_loss_parameters_such_as_a_learnable_temperature_get_their_gradient() -> None:
    net, (x1, x2) = _encoder(), _views()
    t = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    info_nce(net(x1), net(x2), t).backward()
    expected_t, expected = t.grad.clone(), _grads(net)
    t.grad = None
    gradcache_step(net, [x1, x2], lambda a, b: info_nce(a, b, t), 3)
    torch.testing.assert_close(t.grad, expected_t, rtol=1e-10, atol=0)
    for got, want in zip(_grads(net), expected):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-12)


def test_dropout_is_replayed_identically_in_the_second_pass() -> None:
    """The same chunks embedded with a graph under the same random stream are the reference; a second pass
    that drew fresh dropout masks would give different gradients (checked: two forwards differ)."""
    net, (x1, x2) = _encoder(dropout=0.5), _views(n=9)
    loss_fn = lambda a, b: nt_xent(a, b, 0.5)
    with torch.random.fork_rng():
        torch.manual_seed(123)
        assert not torch.equal(net(x1), net(x1))  # dropout is active
        torch.manual_seed(123)
        parts = [[net(x[i:i + 4]) for i in range(0, 9, 4)] for x in (x1, x2)]
        reference = loss_fn(torch.cat(parts[0]), torch.cat(parts[1]))
        reference.backward()
        state_after_reference = torch.get_rng_state()
        expected = _grads(net)

        torch.manual_seed(123)
        loss = gradcache_step(net, (x1, x2), loss_fn, 4)
        state_after_step = torch.get_rng_state()
    assert loss.item() == pytest.approx(reference.item(), rel=1e-12)
    for got, want in zip(_grads(net), expected):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-14)
    # the stream continues as after one forward pass, not two
    assert torch.equal(state_after_step, state_after_reference)


def test_explicit_generators_are_replayed() -> None:
    net, (x1, _) = _encoder(), _views()
    noise = torch.Generator()

    def embed(x: torch.Tensor) -> torch.Tensor:
        return net(x + 0.1 * torch.randn(x.shape, generator=noise, dtype=x.dtype))

    loss_fn = lambda z: nt_xent(z[:5], z[5:], 0.3)
    noise.manual_seed(7)
    reference = loss_fn(torch.cat([embed(x1[i:i + 3]) for i in range(0, 10, 3)]))
    reference.backward()
    expected, state_after_reference = _grads(net), noise.get_state()

    noise.manual_seed(7)
    loss = gradcache_step(embed, x1, loss_fn, 3, generators=(noise,))
    assert loss.item() == pytest.approx(reference.item(), rel=1e-12)
    for got, want in zip(_grads(net), expected):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-14)
    assert torch.equal(noise.get_state(), state_after_reference)


def test_token_batches_and_row_counts_are_sliceable_inputs() -> None:
    g = torch.Generator().manual_seed(3)
    ids = torch.randint(5, 25, (8, 6), generator=g)
    batch = TokenBatch(ids, torch.zeros_like(ids), torch.ones_like(ids))
    table = nn.Embedding(25, 4).double()
    with torch.no_grad():
        table.weight.copy_(torch.randn(25, 4, generator=g, dtype=torch.float64))

    def embed(b: TokenBatch) -> torch.Tensor:
        return table(b.ids).mean(1)

    loss_fn = lambda z: nt_xent(z[:4], z[4:], 0.5)
    loss_fn(embed(batch)).backward()
    expected = _grads(table)
    gradcache_step(embed, batch, loss_fn, 3)
    torch.testing.assert_close(_grads(table)[0], expected[0], rtol=1e-10, atol=1e-14)
    # an int stands for that many rows; embed_fn receives the slice itself
    gradcache_step(lambda rows: embed(batch.index(rows)), 8, loss_fn, 5)
    torch.testing.assert_close(_grads(table)[0], expected[0], rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("chunk", [0, -2, 1.5, True])
def test_bad_chunk_size_is_refused(chunk) -> None:
    with pytest.raises(UsageError, match="chunk_size"):
        gradcache_step(_encoder(), _views()[0], lambda z: z.sum(), chunk)


def test_encoder_that_drops_rows_is_refused() -> None:
    with pytest.raises(UsageError, match="one row per input row"):
        gradcache_step(lambda x: x[:1], _views()[0], lambda z: z.sum(), 4)


def test_non_scalar_loss_is_refused() -> None:
    with pytest.raises(UsageError, match="scalar"):
        gradcache_step(_encoder(), _views()[0], lambda z: z * 2, 4)
