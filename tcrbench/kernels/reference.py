"""Plain float64 references for the kernels: obviously-correct, slow, for tests and benchmarks only.

Each follows its definition literally (full matrices, or one anchor at a time where that is clearer) and
shares no code with the kernels, so agreement checks the kernels rather than a shared trick.
``study_nt_xent`` is the study's formula: the positive logit in column 0 next to the 2N − 2 negatives
picked out by a mask, then cross-entropy with label 0, summed and divided by 2N.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _unit64(z: torch.Tensor, similarity: str, eps: float) -> torch.Tensor:
    z = z.to(torch.float64)
    return F.normalize(z, dim=1, eps=eps) if similarity == "cosine" else z


def nt_xent_reference(
    z1: torch.Tensor,
    z2: torch.Tensor,
    temperature: float | torch.Tensor,
    *,
    similarity: str = "cosine",
    eps: float = 1e-8,
) -> torch.Tensor:
    """NT-Xent from its definition in float64: the full (2N)² logit matrix, self-similarities masked with
    -inf, mean over anchors of ``logsumexp_j s_ij − s_i,partner``."""
    n = z1.shape[0]
    z = _unit64(torch.cat([z1, z2]), similarity, eps)
    t = temperature.to(torch.float64) if isinstance(temperature, torch.Tensor) else temperature
    logits = (z @ z.t() / t).masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    positive = logits[torch.arange(2 * n), partner]
    return (torch.logsumexp(logits, dim=1) - positive).mean()


def study_nt_xent(
    z1: torch.Tensor, z2: torch.Tensor, temperature: float, *, similarity: str = "cosine", eps: float = 1e-8
) -> torch.Tensor:
    """The study's formula in float64: [positive | negatives] logits, cross-entropy against column 0."""
    n = z1.shape[0]
    z = _unit64(torch.cat([z1, z2]), similarity, eps)
    sim = z @ z.t() / temperature
    positives = torch.cat([torch.diagonal(sim, n), torch.diagonal(sim, -n)]).reshape(2 * n, 1)
    negative_mask = ~torch.eye(2 * n, dtype=torch.bool)
    idx = torch.arange(n)
    negative_mask[idx, idx + n] = False
    negative_mask[idx + n, idx] = False
    negatives = sim[negative_mask].reshape(2 * n, -1)
    logits = torch.cat([positives, negatives], dim=1)
    labels = torch.zeros(2 * n, dtype=torch.long)
    return F.cross_entropy(logits, labels, reduction="sum") / (2 * n)


def info_nce_reference(
    q: torch.Tensor,
    k: torch.Tensor,
    temperature: float | torch.Tensor,
    positives: torch.Tensor | None = None,
    symmetric: bool = True,
    *,
    similarity: str = "cosine",
    eps: float = 1e-8,
) -> torch.Tensor:
    """InfoNCE anchor by anchor, in float64; with groups, the mean log-probability over each positive."""
    n = q.shape[0]
    Q, K = _unit64(q, similarity, eps), _unit64(k, similarity, eps)
    t = temperature.to(torch.float64) if isinstance(temperature, torch.Tensor) else temperature
    groups = torch.arange(n) if positives is None else positives

    def direction(rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        losses = []
        for i in range(n):
            logits = cols @ rows[i] / t
            log_prob = logits - torch.logsumexp(logits, 0)
            mine = [j for j in range(n) if int(groups[j]) == int(groups[i])]
            losses.append(-log_prob[mine].mean())
        return torch.stack(losses).mean()

    forward = direction(Q, K)
    return 0.5 * (forward + direction(K, Q)) if symmetric else forward


def masked_lm_all_positions(
    hidden: torch.Tensor, targets: torch.Tensor, changed: torch.Tensor, head: torch.nn.Module
) -> torch.Tensor:
    """The naive masked-LM loss: logits at every position, the unchanged ones dropped by ``ignore_index``."""
    logits = head(hidden)
    labels = targets.masked_fill(~changed, -100)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)
