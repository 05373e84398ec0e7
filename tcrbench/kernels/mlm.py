"""Masked-LM loss that runs the output head only where the input was changed.

At 15% masking, 85% of the logits a naive loss computes are thrown away by ``ignore_index``. Gathering the
changed positions first shrinks the head's work (and its backward) to the positions that count.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from tcrbench.errors import UsageError
from tcrbench.kernels.tiled import compute_dtype


def masked_lm_loss(
    hidden: torch.Tensor, targets: torch.Tensor, changed: torch.Tensor, head: Callable[[torch.Tensor], torch.Tensor]
) -> torch.Tensor:
    """Mean cross-entropy of ``head(hidden)`` against the original ids, over the changed positions only.

    hidden: B × L × H encoder states; targets: B × L original token ids; changed: B × L bool, True where an
    augmentation altered the input; head: maps (n, H) to (n, vocab). A batch with nothing changed gives a
    loss of exactly 0 that still back-propagates (zero gradients), so a training loop need not special-case it.
    """
    if not isinstance(hidden, torch.Tensor) or hidden.dim() != 3:
        raise UsageError(f"hidden must be a B × L × H tensor, got shape {tuple(getattr(hidden, 'shape', ()))}")
    B, L, H = hidden.shape
    if not isinstance(targets, torch.Tensor) or targets.shape != (B, L):
        raise UsageError(
            f"targets must have shape {(B, L)} like hidden's first two dims, got {tuple(getattr(targets, 'shape', ()))}"
        )
    if targets.is_floating_point():
        raise UsageError(f"targets must hold integer token ids, got {targets.dtype}")
    if not isinstance(changed, torch.Tensor) or changed.shape != (B, L) or changed.dtype != torch.bool:
        raise UsageError(
            f"changed must be a bool tensor of shape {(B, L)}, "
            f"got {getattr(changed, 'dtype', type(changed).__name__)} "
            f"{tuple(getattr(changed, 'shape', ()))}"
        )
    where = changed.reshape(-1).nonzero().squeeze(1)
    picked = hidden.reshape(B * L, H).index_select(0, where)
    logits = head(picked)
    if logits.dim() != 2 or logits.shape[0] != where.shape[0]:
        raise UsageError(f"head must map ({where.shape[0]}, {H}) to (n, vocab), got {tuple(logits.shape)}")
    labels = targets.reshape(-1).index_select(0, where)
    total = F.cross_entropy(logits.to(compute_dtype(logits.dtype)), labels, reduction="sum")
    return total / max(int(where.shape[0]), 1)
