"""InfoNCE: CLIP-style and multi-positive against an anchor-by-anchor float64 loop."""

from __future__ import annotations

import math

import pytest
import torch

from tcrbench.errors import UsageError
from tcrbench.kernels import info_nce, tiled
from tcrbench.kernels.reference import info_nce_reference

GROUPINGS = {
    "pairs": None,
    "peptides": lambda n: torch.arange(n) % 3,  # three peptides shared by the batch
    "mixed": lambda n: torch.tensor([7, 7, -2, 5, 7, 5, 100, -2, 0, 0, 0][:n]),  # ids need not be dense
}


@pytest.mark.parametrize("grouping", list(GROUPINGS))
@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("impl, block", [("dense", None), ("tiled", 4), ("tiled", 1)])
@pytest.mark.parametrize("n, d, temperature", [(1, 3, 0.1), (11, 5, 0.05), (11, 16, 1.0)])
def test_matches_reference_loop(kit, grouping, symmetric, impl, block, n, d, temperature) -> None:
    q, k = kit.randn(n, d, seed=n + d), kit.randn(n, d, seed=n + d + 1)
    groups = GROUPINGS[grouping](n) if GROUPINGS[grouping] else None
    loss, grads = kit.loss_and_grads(
        lambda a, b: info_nce(a, b, temperature, groups, symmetric, impl=impl, block_size=block), q, k)
    expected, expected_grads = kit.loss_and_grads(
        lambda a, b: info_nce_reference(a, b, temperature, groups, symmetric), q, k)
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-12)
    for got, want in zip(grads, expected_grads):
        kit.assert_rel_close(got, want)


def test_larger_batch_with_learnable_temperature_matches_reference(kit) -> None:
    n = 256
    q, k = kit.randn(n, 16, seed=1), kit.randn(n, 16, seed=2)
    t = torch.tensor(0.07, dtype=torch.float64, requires_grad=True)
    groups = torch.arange(n) // 4
    loss, grads = kit.loss_and_grads(lambda a, b, c: info_nce(a, b, c, groups, block_size=100), q, k, t)
    expected, expected_grads = kit.loss_and_grads(lambda a, b, c: info_nce_reference(a, b, c, groups), q, k, t)
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=0)
    for got, want in zip(grads, expected_grads):
        kit.assert_rel_close(got, want)


@pytest.mark.parametrize("impl, block", [("dense", None), ("tiled", 6)])
def test_online_column_logsumexp_fallback_matches_reference(kit, monkeypatch, impl, block) -> None:
    monkeypatch.setitem(tiled.FIXED_SHIFT_LIMIT, torch.float64, 0.0)
    q, k = kit.randn(23, 7, seed=5), kit.randn(23, 7, seed=6)
    groups = torch.arange(23) % 5
    loss, grads = kit.loss_and_grads(lambda a, b: info_nce(a, b, 0.02, groups, impl=impl, block_size=block), q, k)
    expected, expected_grads = kit.loss_and_grads(lambda a, b: info_nce_reference(a, b, 0.02, groups), q, k)
    torch.testing.assert_close(loss, expected, rtol=1e-10, atol=0)
    for got, want in zip(grads, expected_grads):
        kit.assert_rel_close(got, want, rel=1e-9)


def test_groups_turn_a_same_peptide_tcr_from_negative_into_positive() -> None:
    """TCRs 0 and 1 bind the same peptide. Without groups, TCR 1's other view is a negative for TCR 0 and
    gradient descent pushes them apart; with groups it is a positive and they are pulled together.
    Orthonormal keys make the gradient's component along k_1 equal to P(0→1) − [positive] / |group|."""
    q = torch.eye(3, dtype=torch.float64).requires_grad_()
    k = torch.eye(3, dtype=torch.float64)
    along_k1 = {}
    for name, groups in (("pairs", None), ("groups", torch.tensor([0, 0, 1]))):
        q.grad = None
        info_nce(q, k, 1.0, groups, symmetric=False, similarity="dot").backward()
        along_k1[name] = q.grad[0] @ k[1]
    p01 = 1 / (math.e + 2)  # softmax of (1, 0, 0) at index 1
    assert along_k1["pairs"].item() == pytest.approx(p01 / 3)
    assert along_k1["groups"].item() == pytest.approx((p01 - 0.5) / 3)
    assert along_k1["pairs"] > 0 > along_k1["groups"]


def test_dot_product_similarity(kit) -> None:
    q, k = kit.randn(9, 4, seed=8), kit.randn(9, 4, seed=9)
    loss = info_nce(q, k, 0.5, similarity="dot", impl="tiled", block_size=2)
    expected = info_nce_reference(q, k, 0.5, similarity="dot")
    torch.testing.assert_close(loss, expected, rtol=1e-10, atol=0)


@pytest.mark.parametrize("positives, message", [
    (torch.zeros(3, dtype=torch.long), "one group id per row"),
    (torch.zeros(4), "integer group ids"),
    (torch.zeros(4, dtype=torch.bool), "integer group ids"),
    ([0, 1, 2, 3], "tensor of group ids"),
])
def test_bad_groups_are_refused(positives, message) -> None:
    q = torch.randn(4, 3)
    with pytest.raises(UsageError, match=message):
        info_nce(q, q, 0.1, positives=positives)


def test_mismatched_sides_are_refused() -> None:
    with pytest.raises(UsageError, match="q and k must have the same shape"):
        info_nce(torch.randn(4, 3), torch.randn(4, 5), 0.1)
