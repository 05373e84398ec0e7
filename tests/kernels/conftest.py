"""Helpers for the kernel tests: seeded data, loss-and-gradient evaluation, tolerance checks.

Exposed as the ``kit`` fixture, because test modules are imported by path and cannot import each other.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch


def randn(*shape: int, seed: int, dtype: torch.dtype = torch.float64, grad: bool = True) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=dtype).requires_grad_(grad)


def loss_and_grads(fn, *tensors: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Evaluate ``fn(*tensors)`` and its gradients with respect to every tensor that requires one."""
    for t in tensors:
        t.grad = None
    loss = fn(*tensors)
    loss.backward()
    grads = [t.grad.clone() for t in tensors]
    for t in tensors:
        t.grad = None
    return loss.detach(), grads


def assert_rel_close(actual: torch.Tensor, expected: torch.Tensor, rel: float = 1e-5, floor: float = 1e-13) -> None:
    """Every element within ``rel`` of the expected tensor's scale (its largest magnitude), plus ``floor``
    for gradients that are zero in exact arithmetic (cosine with d = 1) and so only rounding noise."""
    actual, expected = actual.detach().double(), expected.detach().double()
    assert actual.shape == expected.shape
    scale = float(expected.abs().max()) if expected.numel() else 0.0
    err = float((actual - expected).abs().max()) if expected.numel() else 0.0
    assert err <= rel * scale + floor, f"max error {err:.3g} exceeds {rel:g} x scale {scale:.3g} + {floor:g}"


@pytest.fixture
def kit() -> SimpleNamespace:
    return SimpleNamespace(randn=randn, loss_and_grads=loss_and_grads, assert_rel_close=assert_rel_close)


@pytest.fixture(autouse=True)
def _one_thread():
    """Kernel tests use small matrices that gain nothing from a second thread, and on a busy machine every
    parallel region can wait a scheduler time slice for its sleeping peer (~16 ms measured here)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
