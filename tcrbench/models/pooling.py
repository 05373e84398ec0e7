"""Turning per-position states into one vector per pair, ignoring padding.

Padding must never leak into a pooled vector: otherwise the same pair pooled in a wider batch would get a
different representation, and results would depend on batch composition.
"""

from __future__ import annotations

from typing import Literal

import torch

from tcrbench.data.vocab import TokenBatch

Pooling = Literal["cls", "mean", "max"]
POOLINGS: tuple[str, ...] = ("cls", "mean", "max")


def cls_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The state at position 0 (<cls>), as BERT and the study's classifier use it."""
    return hidden[:, 0]


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Average over the non-padding positions."""
    weights = mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)


def max_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Feature-wise maximum over the non-padding positions (a CNN's usual global pooling)."""
    filled = hidden.masked_fill(~mask.unsqueeze(-1), torch.finfo(hidden.dtype).min)
    return filled.max(dim=1).values


_POOLS = {"cls": cls_pool, "mean": mean_pool, "max": max_pool}


def pool(hidden: torch.Tensor, batch: TokenBatch, how: str) -> torch.Tensor:
    """B x L x H -> B x H with the named pooling; padding comes from `batch.attention_mask`."""
    try:
        fn = _POOLS[how]
    except KeyError:
        raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, got {how!r}") from None
    return fn(hidden, batch.attention_mask)
