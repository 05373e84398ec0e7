"""Invariances NT-Xent and InfoNCE must have, checked on generated batches (hypothesis)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tcrbench.kernels import info_nce, nt_xent

SETTINGS = settings(max_examples=25, deadline=None)


@st.composite
def batches(draw, max_n: int = 24, max_d: int = 8):
    n = draw(st.integers(1, max_n))
    d = draw(st.integers(1, max_d))
    seed = draw(st.integers(0, 2**31 - 1))
    g = torch.Generator().manual_seed(seed)
    z1 = torch.randn(n, d, generator=g, dtype=torch.float64)
    z2 = torch.randn(n, d, generator=g, dtype=torch.float64)
    perm = torch.randperm(n, generator=g)
    return z1, z2, perm


temperatures = st.sampled_from([0.05, 0.2, 1.0])
impls = st.sampled_from([("dense", None), ("tiled", 3), ("tiled", None)])


@SETTINGS
@given(batch=batches(), temperature=temperatures, impl=impls)
def test_ntxent_permuting_pairs_leaves_loss_unchanged(batch, temperature, impl) -> None:
    z1, z2, perm = batch
    kwargs = {"impl": impl[0], "block_size": impl[1]}
    base = nt_xent(z1, z2, temperature, **kwargs)
    assert nt_xent(z1[perm], z2[perm], temperature, **kwargs).item() == pytest.approx(base.item(), rel=1e-9, abs=1e-12)


@SETTINGS
@given(batch=batches(), temperature=temperatures, impl=impls)
def test_ntxent_swapping_views_leaves_loss_unchanged(batch, temperature, impl) -> None:
    z1, z2, _ = batch
    kwargs = {"impl": impl[0], "block_size": impl[1]}
    base = nt_xent(z1, z2, temperature, **kwargs)
    assert nt_xent(z2, z1, temperature, **kwargs).item() == pytest.approx(base.item(), rel=1e-9, abs=1e-12)


@SETTINGS
@given(batch=batches(), temperature=temperatures,
       scales=st.lists(st.floats(1e-3, 1e3), min_size=1, max_size=1).map(lambda s: s[0]))
def test_ntxent_cosine_ignores_the_scale_of_each_row(batch, temperature, scales) -> None:
    z1, z2, perm = batch
    g = torch.Generator().manual_seed(int(perm.sum()))
    row_scale = scales * torch.rand(z1.shape[0], 1, generator=g, dtype=torch.float64).add(0.1)
    base = nt_xent(z1, z2, temperature)
    assert nt_xent(z1 * row_scale, z2 * scales, temperature).item() == pytest.approx(base.item(), rel=1e-9, abs=1e-12)


@SETTINGS
@given(batch=batches(), temperature=temperatures, impl=impls, symmetric=st.booleans(),
       n_groups=st.integers(1, 5))
def test_info_nce_permuting_pairs_leaves_loss_unchanged(batch, temperature, impl, symmetric, n_groups) -> None:
    q, k, perm = batch
    groups = torch.arange(q.shape[0]) % n_groups
    kwargs = {"impl": impl[0], "block_size": impl[1], "symmetric": symmetric}
    base = info_nce(q, k, temperature, positives=groups, **kwargs)
    permuted = info_nce(q[perm], k[perm], temperature, positives=groups[perm], **kwargs)
    assert permuted.item() == pytest.approx(base.item(), rel=1e-9, abs=1e-12)


@SETTINGS
@given(batch=batches(), temperature=temperatures)
def test_symmetric_info_nce_is_symmetric_in_its_two_sides(batch, temperature) -> None:
    q, k, _ = batch
    assert info_nce(k, q, temperature).item() == pytest.approx(info_nce(q, k, temperature).item(), rel=1e-9, abs=1e-12)


@SETTINGS
@given(batch=batches(), temperature=temperatures, scale=st.floats(1e-3, 1e3))
def test_info_nce_cosine_ignores_scale(batch, temperature, scale) -> None:
    q, k, _ = batch
    assert info_nce(q * scale, k, temperature).item() == pytest.approx(info_nce(q, k, temperature).item(),
                                                                        rel=1e-9, abs=1e-12)
