"""Negatives from the global batch: gather every rank's embeddings without cutting the gradient.

``all_gather`` is not differentiable, so a plain gather would leave each rank training only on its own
rows. ``gather_with_grad`` sums the gradients that all ranks computed for the gathered tensor and hands each
rank the slice for its own rows: rank r then holds Σ_k ∂loss_k/∂x_r, and averaging parameter gradients
across ranks (as DistributedDataParallel does) gives the gradient of the mean of the ranks' losses.
Ranks may hold different numbers of rows.
"""

from __future__ import annotations

import torch
import torch.distributed as dist


def is_active() -> bool:
    """True inside an initialised process group with more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def _all_sizes(rows: int, device: torch.device) -> list[int]:
    mine = torch.tensor([rows], dtype=torch.long, device=device)
    sizes = [torch.zeros_like(mine) for _ in range(dist.get_world_size())]
    dist.all_gather(sizes, mine)
    return [int(s) for s in sizes]


class _GatherRows(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, sizes: list[int]) -> torch.Tensor:
        widest = max(sizes)
        padded = x.new_zeros((widest,) + tuple(x.shape[1:]))
        padded[: x.shape[0]] = x
        parts = [torch.empty_like(padded) for _ in sizes]
        dist.all_gather(parts, padded.contiguous())
        ctx.sizes, ctx.rank = sizes, dist.get_rank()
        return torch.cat([p[:s] for p, s in zip(parts, sizes)])

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        start = sum(ctx.sizes[: ctx.rank])
        return grad[start : start + ctx.sizes[ctx.rank]], None


def gather_with_grad(x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Rows of ``x`` from every rank, concatenated in rank order, and where this rank's rows start.

    Outside an active process group this is ``(x, 0)``.
    """
    if not is_active():
        return x, 0
    sizes = _all_sizes(x.shape[0], x.device)
    return _GatherRows.apply(x, sizes), sum(sizes[: dist.get_rank()])


def gather_no_grad(x: torch.Tensor) -> torch.Tensor:
    """Rows of ``x`` (e.g. group ids) from every rank, without a gradient."""
    if not is_active():
        return x
    with torch.no_grad():
        return _GatherRows.apply(x, _all_sizes(x.shape[0], x.device))
