"""Degenerate inputs and extreme temperatures give finite, correct values in float32 and bfloat16."""

from __future__ import annotations

import math

import pytest
import torch

from tcrbench.kernels import info_nce, nt_xent
from tcrbench.kernels.reference import nt_xent_reference

IMPLS = [("dense", None), ("tiled", 7)]


def _finite_loss_and_grads(fn, *tensors: torch.Tensor) -> torch.Tensor:
    loss = fn(*tensors)
    loss.backward()
    assert torch.isfinite(loss).all(), f"loss is {loss}"
    for t in tensors:
        assert torch.isfinite(t.grad).all(), "gradient has non-finite values"
    return loss


@pytest.mark.parametrize("impl, block", IMPLS)
@pytest.mark.parametrize("temperature", [0.01, 0.5])
def test_identical_embeddings_give_log_of_the_number_of_candidates(impl, block, temperature) -> None:
    n = 50
    z = torch.ones(n, 16).requires_grad_()
    loss = _finite_loss_and_grads(lambda a: nt_xent(a, a, temperature, impl=impl, block_size=block), z)
    # every candidate equally similar: -log(1 / (2N - 1))
    assert loss.item() == pytest.approx(math.log(2 * n - 1), rel=1e-5)


@pytest.mark.parametrize("impl, block", IMPLS)
def test_zero_rows_are_similar_to_nothing_and_stay_finite(impl, block) -> None:
    g = torch.Generator().manual_seed(0)
    z1 = torch.randn(20, 8, generator=g)
    z1[3] = 0.0
    z2 = torch.randn(20, 8, generator=g)
    z2[[3, 11]] = 0.0
    z1.requires_grad_()
    z2.requires_grad_()
    loss = _finite_loss_and_grads(lambda a, b: nt_xent(a, b, 0.1, impl=impl, block_size=block), z1, z2)
    # documented behaviour: zero rows normalise to zero vectors (eps), i.e. similarity 0 to everything
    assert loss.item() == pytest.approx(nt_xent_reference(z1, z2, 0.1).item(), rel=1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("impl, block", IMPLS)
def test_temperature_001_is_finite_and_matches_reference(dtype, impl, block) -> None:
    g = torch.Generator().manual_seed(1)
    z1 = torch.randn(64, 32, generator=g).to(dtype).requires_grad_()
    z2 = (z1.detach().float() + 0.3 * torch.randn(64, 32, generator=g)).to(dtype).requires_grad_()
    loss = _finite_loss_and_grads(lambda a, b: nt_xent(a, b, 0.01, impl=impl, block_size=block), z1, z2)
    assert z1.grad.dtype == dtype
    expected = nt_xent_reference(z1.detach(), z2.detach(), 0.01)  # same rounded inputs, float64
    assert loss.item() == pytest.approx(expected.item(), rel=1e-4)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("temperature", [0.01, 0.005])
def test_views_far_from_everything_at_low_temperature_do_not_underflow(dtype, temperature) -> None:
    """Views at 0°, 90°, 180°, 270°, partners opposite: no anchor has a similarity above 0, so shifting the
    exponents by the largest possible one (1/T) would underflow every exp() to 0 and give an infinite loss."""
    z1 = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=dtype, requires_grad=True)
    z2 = torch.tensor([[-1.0, 0.0], [0.0, -1.0]], dtype=dtype, requires_grad=True)
    loss = _finite_loss_and_grads(lambda a, b: nt_xent(a, b, temperature), z1, z2)
    # each anchor: two candidates at similarity 0, its partner at -1/T
    expected = math.log(2 + math.exp(-1 / temperature)) + 1 / temperature
    assert loss.item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("symmetric", [True, False])
def test_info_nce_low_temperature_is_finite(dtype, symmetric) -> None:
    g = torch.Generator().manual_seed(2)
    q = torch.randn(40, 16, generator=g).to(dtype).requires_grad_()
    k = torch.randn(40, 16, generator=g).to(dtype).requires_grad_()
    groups = torch.arange(40) % 7
    _finite_loss_and_grads(lambda a, b: info_nce(a, b, 0.01, positives=groups, symmetric=symmetric,
                                                  impl="tiled", block_size=9), q, k)
