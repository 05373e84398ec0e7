"""InfoNCE between two sets of embeddings: CLIP-style (row i of q pairs with row i of k) or multi-positive.

With ``positives`` (a group id per row), q_i's positives are every k_j of its group, as in SupCon: the loss
of anchor i is ``lse_j s(i, j) − mean_{j ∈ group(i)} s(i, j)``. That mean is q_i · (mean of its group's k),
so positives cost O(N·d) whatever the group sizes. A batch holding the same peptide twice thus no longer
pushes a TCR away from the copy of its own peptide.
"""

from __future__ import annotations

import torch

from tcrbench.errors import UsageError
from tcrbench.kernels import distributed
from tcrbench.kernels.ntxent import DEFAULT_EPS, check_embeddings, check_similarity, check_temperature, scaled
from tcrbench.kernels.tiled import cross_lse, make_plan


def _check_groups(positives: torch.Tensor | None, n: int) -> None:
    if positives is None:
        return
    if not isinstance(positives, torch.Tensor):
        raise UsageError(f"positives must be a tensor of group ids, got {type(positives).__name__}")
    if positives.shape != (n,):
        raise UsageError(f"positives must hold one group id per row ({n}), got shape {tuple(positives.shape)}")
    if positives.is_floating_point() or positives.is_complex() or positives.dtype == torch.bool:
        raise UsageError(f"positives must hold integer group ids, got {positives.dtype}")


def _positive_logits(
    rows: torch.Tensor, others: torch.Tensor, offset: int, groups: torch.Tensor | None, all_groups: torch.Tensor | None
) -> torch.Tensor:
    """Mean similarity of each row to its positives among ``others`` (its own pair without groups)."""
    n = rows.shape[0]
    if groups is None:
        return (rows * others[offset : offset + n]).sum(1)
    _, dense = torch.unique(all_groups, return_inverse=True)
    count = int(dense.max()) + 1
    sums = others.new_zeros(count, others.shape[1]).index_add(0, dense, others)
    sizes = torch.bincount(dense, minlength=count).to(others.dtype)
    means = sums / sizes[:, None]
    return (rows * means[dense[offset : offset + n]]).sum(1)


def info_nce(
    q: torch.Tensor,
    k: torch.Tensor,
    temperature: float | torch.Tensor = 0.1,
    positives: torch.Tensor | None = None,
    symmetric: bool = True,
    *,
    similarity: str = "cosine",
    impl: str = "auto",
    block_size: int | None = None,
    tile_threshold: int | None = None,
    eps: float = DEFAULT_EPS,
    gather: bool = True,
) -> torch.Tensor:
    """InfoNCE from q (N × d, e.g. peptides) to k (N × d, e.g. TCRs), mean over anchors.

    positives: optional group ids (N,); rows with equal ids are positives for each other across q and k.
    symmetric: average the q→k and k→q directions (CLIP); otherwise q→k only. Other options as in
    ``nt_xent``; under torch.distributed every rank's rows serve as negatives (and as positives of a group).
    """
    check_embeddings("q", q)
    check_embeddings("k", k)
    if q.shape != k.shape:
        raise UsageError(f"q and k must have the same shape, got {tuple(q.shape)} and {tuple(k.shape)}")
    check_similarity(similarity, eps)
    tau = check_temperature(temperature)
    _check_groups(positives, q.shape[0])
    Q = scaled(q, temperature, similarity, eps)
    K = scaled(k, temperature, similarity, eps)
    bound = 1.0 / tau if similarity == "cosine" else None
    groups = None if positives is None else positives.to(device=Q.device, dtype=torch.long)

    if gather and distributed.is_active():
        all_Q, offset = distributed.gather_with_grad(Q)
        all_K, _ = distributed.gather_with_grad(K)
        all_groups = None if groups is None else distributed.gather_no_grad(groups)
        plan = make_plan(Q.shape[0], all_K.shape[0], impl, block_size, tile_threshold)
        row, _ = cross_lse(Q, all_K, plan, bound=bound)
        loss = (row - _positive_logits(Q, all_K, offset, groups, all_groups)).mean()
        if not symmetric:
            return loss
        col, _ = cross_lse(K, all_Q, plan, bound=bound)
        return 0.5 * (loss + (col - _positive_logits(K, all_Q, offset, groups, all_groups)).mean())

    plan = make_plan(Q.shape[0], K.shape[0], impl, block_size, tile_threshold)
    row, col = cross_lse(Q, K, plan, cols=symmetric, bound=bound)
    loss = (row - _positive_logits(Q, K, 0, groups, groups)).mean()
    if not symmetric:
        return loss
    return 0.5 * (loss + (col - _positive_logits(K, Q, 0, groups, groups)).mean())
