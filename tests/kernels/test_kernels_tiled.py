"""The log-sum-exp engines directly: every path against torch.logsumexp, and how panels are planned."""

from __future__ import annotations

import math

import pytest
import torch

from tcrbench.errors import UsageError
from tcrbench.kernels import tiled
from tcrbench.kernels.tiled import Plan, cross_lse, make_plan, self_lse

PATHS = [pytest.param(300.0, id="fixed-shift"), pytest.param(0.0, id="row-max")]
PLANS = [Plan(True, 64), Plan(True, 5), Plan(False, 7), Plan(False, 1)]


@pytest.mark.parametrize("limit", PATHS)
@pytest.mark.parametrize("plan", PLANS, ids=str)
@pytest.mark.parametrize("offset", [None, 0, 4])
@pytest.mark.parametrize("cols", [False, True])
def test_cross_lse_rows_and_columns(kit, monkeypatch, limit, plan, offset, cols) -> None:
    monkeypatch.setitem(tiled.FIXED_SHIFT_LIMIT, torch.float64, limit)
    Q, K = kit.randn(13, 6, seed=1), kit.randn(19, 6, seed=2)
    w_rows, w_cols = kit.randn(13, seed=3, grad=False), kit.randn(19, seed=4, grad=False)

    def ours(q, k):
        r, c = cross_lse(q, k, plan, self_offset=offset, cols=cols)
        return (r * w_rows).sum() + ((c * w_cols).sum() if cols else 0)

    def reference(q, k):
        logits = q @ k.t()
        if offset is not None:
            idx = torch.arange(13)
            logits = logits.index_put((idx, idx + offset), torch.tensor(-math.inf, dtype=logits.dtype))
        out = (torch.logsumexp(logits, 1) * w_rows).sum()
        return out + ((torch.logsumexp(logits, 0) * w_cols).sum() if cols else 0)

    got, got_grads = kit.loss_and_grads(ours, Q, K)
    want, want_grads = kit.loss_and_grads(reference, Q, K)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    for a, b in zip(got_grads, want_grads):
        kit.assert_rel_close(a, b, rel=1e-10)


@pytest.mark.parametrize("plan", PLANS, ids=str)
def test_self_lse_visits_half_the_matrix_but_sees_all_of_it(kit, plan) -> None:
    A = kit.randn(23, 5, seed=5)
    weights = kit.randn(23, seed=6, grad=False)
    got, (g,) = kit.loss_and_grads(lambda a: (self_lse(a, plan) * weights).sum(), A)
    want, (w,) = kit.loss_and_grads(
        lambda a: (torch.logsumexp((a @ a.t()).fill_diagonal_(-math.inf), 1) * weights).sum(), A)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=0)
    kit.assert_rel_close(g, w, rel=1e-10)


def test_dense_keeps_panels_tiled_recomputes_them_in_backward(kit, monkeypatch) -> None:
    products = []
    real_mm = torch.mm
    monkeypatch.setattr(tiled.torch, "mm", lambda *a, **k: products.append(1) or real_mm(*a, **k))
    A = kit.randn(40, 3, seed=7)

    def products_for(keep: bool) -> int:
        products.clear()
        self_lse(A, Plan(keep, 10)).sum().backward()
        return len(products)

    assert products_for(True) == 4  # 4 panels, computed once: the backward reuses the stored ones
    assert products_for(False) == 8  # tiled recomputes the 4 panel products in the backward


def test_plan_auto_threshold_and_memory_bounds() -> None:
    assert make_plan(8192, 8192).keep is True
    assert make_plan(8193, 8193).keep is False
    assert make_plan(100, 100, tile_threshold=50).keep is False
    assert make_plan(100, 100, impl="dense", tile_threshold=50).keep is True
    assert make_plan(10, 10, impl="tiled").keep is False
    assert make_plan(10, 10).rows == 10  # one block for small problems
    for rows in (32768, 131072, 10**6):
        plan = make_plan(rows, rows)
        assert not plan.keep
        # a recomputed panel never exceeds the element budget (down to the minimum height)
        assert plan.rows * rows <= max(tiled.TILED_PANEL_ELEMENTS, tiled.MIN_PANEL_ROWS * rows)
    assert make_plan(1000, 1000, block_size=333).rows == 333
    with pytest.raises(UsageError, match="impl"):
        make_plan(4, 4, impl="fast")
