"""Two CPU processes (gloo): negatives come from the global batch and gradients cross the gather."""

from __future__ import annotations

import importlib
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from tcrbench.kernels import gather_with_grad

SIZES = (5, 3)  # unequal on purpose: the gather pads and trims


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ntxent_per_anchor(z1: torch.Tensor, z2: torch.Tensor, t: float) -> torch.Tensor:
    """Per-anchor NT-Xent over the whole batch (float64), anchors ordered z1 rows then z2 rows."""
    n = z1.shape[0]
    z = torch.nn.functional.normalize(torch.cat([z1, z2]), dim=1)
    logits = (z @ z.t() / t).masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    return torch.logsumexp(logits, 1) - logits[torch.arange(2 * n), partner]


def _infonce_per_anchor(q: torch.Tensor, k: torch.Tensor, groups: torch.Tensor, t: float):
    q, k = torch.nn.functional.normalize(q, dim=1), torch.nn.functional.normalize(k, dim=1)
    logits = q @ k.t() / t
    same = (groups[:, None] == groups[None, :]).double()
    rows = torch.logsumexp(logits, 1) - (logits * same).sum(1) / same.sum(1)
    cols = torch.logsumexp(logits, 0) - (logits * same).sum(0) / same.sum(0)
    return rows, cols


@pytest.mark.slow
def test_two_gloo_processes_match_one_process_on_the_global_batch(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    worker = importlib.import_module("dist_worker_kernels")
    mp.spawn(worker.run, args=(_free_port(), SIZES, str(tmp_path)), nprocs=len(SIZES), join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(len(SIZES))]

    data = worker.global_batch(SIZES)
    z1 = data["z1"].clone().requires_grad_()
    z2 = data["z2"].clone().requires_grad_()
    n = z1.shape[0]
    blocks = [slice(sum(SIZES[:r]), sum(SIZES[: r + 1])) for r in range(len(SIZES))]

    # Rank r's loss is the mean over its own anchors; its gradient is that of the sum of all ranks' losses
    # (the gather's backward sums over ranks), which is what averaging across ranks then turns into the mean.
    per_anchor = _ntxent_per_anchor(z1, z2, 0.3)
    losses = [torch.cat([per_anchor[b], per_anchor[n:][b]]).mean() for b in blocks]
    sum(losses).backward()
    for r, b in enumerate(blocks):
        loss, g1, g2 = ranks[r]["ntxent"]
        torch.testing.assert_close(loss, losses[r].detach(), rtol=1e-10, atol=0)
        torch.testing.assert_close(g1, z1.grad[b], rtol=1e-9, atol=1e-14)
        torch.testing.assert_close(g2, z2.grad[b], rtol=1e-9, atol=1e-14)

    z1.grad = z2.grad = None
    rows, cols = _infonce_per_anchor(z1, z2, data["groups"], 0.3)
    losses = [0.5 * (rows[b].mean() + cols[b].mean()) for b in blocks]
    sum(losses).backward()
    for r, b in enumerate(blocks):
        loss, g1, g2 = ranks[r]["infonce"]
        torch.testing.assert_close(loss, losses[r].detach(), rtol=1e-10, atol=0)
        torch.testing.assert_close(g1, z1.grad[b], rtol=1e-9, atol=1e-14)
        torch.testing.assert_close(g2, z2.grad[b], rtol=1e-9, atol=1e-14)


def test_without_a_process_group_gather_is_the_identity() -> None:
    x = torch.randn(4, 3)
    everyone, offset = gather_with_grad(x)
    assert everyone is x and offset == 0
