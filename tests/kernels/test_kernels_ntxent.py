"""NT-Xent: loss and gradients against the float64 reference and the study's formula, dense against tiled."""

from __future__ import annotations

import math

import pytest
import torch

from tcrbench.errors import UsageError
from tcrbench.kernels import nt_xent, tiled
from tcrbench.kernels.reference import nt_xent_reference, study_nt_xent


@pytest.mark.parametrize("temperature", [0.05, 0.5, 1.0])
@pytest.mark.parametrize("d", [1, 16, 128])
@pytest.mark.parametrize("n", [1, 2, 7, 256, 1000])
def test_matches_reference_and_study_formula(kit, n: int, d: int, temperature: float) -> None:
    z1, z2 = kit.randn(n, d, seed=n * 1000 + d), kit.randn(n, d, seed=n * 1000 + d + 1)
    loss, grads = kit.loss_and_grads(lambda a, b: nt_xent(a, b, temperature), z1, z2)
    for reference in (nt_xent_reference, study_nt_xent):
        expected, expected_grads = kit.loss_and_grads(lambda a, b: reference(a, b, temperature), z1, z2)
        torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-12)
        for got, want in zip(grads, expected_grads):
            kit.assert_rel_close(got, want)


def test_one_pair_has_no_negatives_so_loss_and_gradient_are_exactly_zero(kit) -> None:
    z1, z2 = kit.randn(1, 8, seed=1), kit.randn(1, 8, seed=2)
    loss, grads = kit.loss_and_grads(lambda a, b: nt_xent(a, b, 0.1), z1, z2)
    assert loss.item() == 0.0
    assert all(bool((g == 0).all()) for g in grads)
    # the formula agrees: each view's only candidate is its partner, so log-sum-exp equals the positive
    assert abs(nt_xent_reference(z1, z2, 0.1).item()) < 1e-12


@pytest.mark.parametrize("n, block", [(7, 3), (101, 16), (257, 100), (300, 599), (333, 1)])
@pytest.mark.parametrize("temperature", [0.07, 1.0])
def test_dense_equals_tiled_for_odd_sizes_and_blocks_not_dividing_n(kit, n, block, temperature) -> None:
    z1, z2 = kit.randn(n, 12, seed=n), kit.randn(n, 12, seed=n + 1)
    dense, dense_grads = kit.loss_and_grads(lambda a, b: nt_xent(a, b, temperature, impl="dense"), z1, z2)
    tiled_loss, tiled_grads = kit.loss_and_grads(
        lambda a, b: nt_xent(a, b, temperature, impl="tiled", block_size=block), z1, z2)
    torch.testing.assert_close(tiled_loss, dense, rtol=1e-12, atol=1e-12)
    for got, want in zip(tiled_grads, dense_grads):
        kit.assert_rel_close(got, want, rel=1e-10)


@pytest.mark.parametrize("impl, block", [("dense", None), ("tiled", 5), ("dense", 64)])
def test_row_max_fallback_matches_reference(kit, monkeypatch, impl, block) -> None:
    """Below the fixed-shift limit the kernel switches to exact per-row maxima; force that path."""
    monkeypatch.setitem(tiled.FIXED_SHIFT_LIMIT, torch.float64, 0.0)
    z1, z2 = kit.randn(67, 9, seed=3), kit.randn(67, 9, seed=4)
    loss, grads = kit.loss_and_grads(lambda a, b: nt_xent(a, b, 0.3, impl=impl, block_size=block), z1, z2)
    expected, expected_grads = kit.loss_and_grads(lambda a, b: nt_xent_reference(a, b, 0.3), z1, z2)
    torch.testing.assert_close(loss, expected, rtol=1e-10, atol=0)
    for got, want in zip(grads, expected_grads):
        kit.assert_rel_close(got, want, rel=1e-10)


@pytest.mark.parametrize("impl", ["dense", "tiled"])
def test_dot_product_similarity(kit, impl) -> None:
    z1, z2 = kit.randn(40, 6, seed=5) * 0.5, kit.randn(40, 6, seed=6) * 0.5
    z1, z2 = z1.detach().requires_grad_(), z2.detach().requires_grad_()
    loss, grads = kit.loss_and_grads(
        lambda a, b: nt_xent(a, b, 0.2, similarity="dot", impl=impl, block_size=16), z1, z2)
    expected, expected_grads = kit.loss_and_grads(
        lambda a, b: nt_xent_reference(a, b, 0.2, similarity="dot"), z1, z2)
    torch.testing.assert_close(loss, expected, rtol=1e-10, atol=0)
    for got, want in zip(grads, expected_grads):
        kit.assert_rel_close(got, want, rel=1e-10)


def test_learnable_temperature_gets_the_reference_gradient(kit) -> None:
    z1, z2 = kit.randn(30, 8, seed=7), kit.randn(30, 8, seed=8)
    t = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    loss, (g1, g2, gt) = kit.loss_and_grads(lambda a, b, c: nt_xent(a, b, c), z1, z2, t)
    expected, (e1, e2, et) = kit.loss_and_grads(lambda a, b, c: nt_xent_reference(a, b, c), z1, z2, t)
    torch.testing.assert_close(loss, expected, rtol=1e-10, atol=0)
    torch.testing.assert_close(gt, et, rtol=1e-9, atol=0)
    assert gt.abs().item() > 1e-3  # the temperature really influences the loss


@pytest.mark.parametrize("n", [5, 300])
def test_float32_agrees_with_float64_reference(kit, n) -> None:
    z1, z2 = kit.randn(n, 32, seed=9, dtype=torch.float32), kit.randn(n, 32, seed=10, dtype=torch.float32)
    loss, grads = kit.loss_and_grads(lambda a, b: nt_xent(a, b, 0.1), z1, z2)
    expected, expected_grads = kit.loss_and_grads(lambda a, b: nt_xent_reference(a, b, 0.1), z1, z2)
    assert loss.dtype == torch.float32 and grads[0].dtype == torch.float32
    torch.testing.assert_close(loss.double(), expected, rtol=1e-5, atol=0)
    for got, want in zip(grads, expected_grads):
        kit.assert_rel_close(got, want, rel=1e-4)


def test_auto_switches_to_tiled_above_the_threshold(kit, monkeypatch) -> None:
    calls = []
    original = tiled._SelfLSE.apply
    monkeypatch.setattr(tiled._SelfLSE, "apply", lambda A, rows, keep: calls.append(keep) or original(A, rows, keep))
    z1, z2 = kit.randn(10, 4, seed=11), kit.randn(10, 4, seed=12)
    nt_xent(z1, z2, 0.5, tile_threshold=20)  # 2N = 20 rows: dense
    nt_xent(z1, z2, 0.5, tile_threshold=19)  # above: tiled
    assert calls == [True, False]


@pytest.mark.parametrize("kwargs, message", [
    ({"temperature": 0.0}, "temperature"),
    ({"temperature": float("nan")}, "temperature"),
    ({"temperature": torch.ones(2)}, "temperature"),
    ({"similarity": "euclid"}, "similarity"),
    ({"eps": 0.0}, "eps"),
    ({"impl": "sparse"}, "impl"),
    ({"block_size": 0}, "block_size"),
    ({"tile_threshold": -1}, "tile_threshold"),
])
def test_bad_options_name_the_option(kit, kwargs, message) -> None:
    z = kit.randn(4, 3, seed=0)
    with pytest.raises(UsageError, match=message):
        nt_xent(z, z, **{"temperature": 0.1, **kwargs})


@pytest.mark.parametrize("z1, z2, message", [
    (torch.zeros(4, 3), torch.zeros(5, 3), "same shape"),
    (torch.zeros(4), torch.zeros(4), "2-D"),
    (torch.zeros(4, 3, dtype=torch.long), torch.zeros(4, 3, dtype=torch.long), "floating point"),
    (torch.zeros(0, 3), torch.zeros(0, 3), "at least one row"),
])
def test_bad_embeddings_are_refused(z1, z2, message) -> None:
    with pytest.raises(UsageError, match=message):
        nt_xent(z1, z2, 0.1)


def test_closed_form_for_orthonormal_pairs() -> None:
    """Pair i is basis vector e_i twice: each view's partner has similarity 1/T, the 2N − 2 others 0."""
    n, t = 4, 0.5
    z = torch.eye(n, dtype=torch.float64)
    expected = math.log(math.exp(1 / t) + 2 * n - 2) - 1 / t
    assert nt_xent(z, z.clone(), t).item() == pytest.approx(expected, rel=1e-12)
