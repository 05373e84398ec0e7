"""Vectorised masking and re-packing helpers for augmentations.

Every function works on a whole B x L batch at once: one random draw of the batch's shape, then comparisons,
argmax, cumsum and scatter. A per-row Python loop costs a few microseconds per row and, on a 1024-row batch,
dominates a tiny model's training step; these run in one pass. All randomness comes from the `generator`
argument, so a seed reproduces the corruption exactly and no global RNG state is touched.
"""

from __future__ import annotations

import torch

from tcrbench.data.vocab import FIRST_AA, MASK, PAD, VOCAB_SIZE


def _uniform(like: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(like.shape, generator=generator, device=like.device)


def pick_one(allowed: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One uniformly chosen allowed position per row, as a B x L bool mask; rows with none allowed get none.

    One uniform draw per row picks a rank k in [0, count), and the allowed position whose running count is k is
    chosen: B random numbers instead of B x L, and no scatter (measured 1.4-1.9x faster than a per-position argmax).
    """
    counts = allowed.sum(dim=1)
    u = torch.rand(allowed.shape[0], generator=generator, device=allowed.device)
    k = torch.minimum((u * counts).long(), (counts - 1).clamp_min(0))
    return allowed & (allowed.cumsum(dim=1) == (k + 1).unsqueeze(1))


def mask_one(
    ids: torch.Tensor, allowed: torch.Tensor, generator: torch.Generator, mask_id: int = MASK
) -> tuple[torch.Tensor, torch.Tensor]:
    """Replace exactly one allowed position per row with `mask_id`; returns (new_ids, changed)."""
    changed = pick_one(allowed, generator)
    return ids.masked_fill(changed, mask_id), changed


def bernoulli_mask(allowed: torch.Tensor, p: float, generator: torch.Generator) -> torch.Tensor:
    """Each allowed position independently with probability `p` (B x L bool)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1], got {p}")
    return (_uniform(allowed, generator) < p) & allowed


def bert_replace(
    ids: torch.Tensor,
    selected: torch.Tensor,
    generator: torch.Generator,
    mask_id: int = MASK,
    vocab_range: tuple[int, int] = (FIRST_AA, VOCAB_SIZE),
    mask_frac: float = 0.8,
    random_frac: float = 0.1,
) -> torch.Tensor:
    """BERT's corruption of the selected positions: `mask_frac` become `mask_id`, `random_frac` a random token
    from [low, high), the rest keep their token (but stay prediction targets). Returns the new ids."""
    if mask_frac < 0 or random_frac < 0 or mask_frac + random_frac > 1:
        raise ValueError(f"mask_frac and random_frac must be >= 0 and sum to <= 1, got {mask_frac}, {random_frac}")
    low, high = vocab_range
    u = _uniform(ids, generator)
    random_tokens = torch.randint(low, high, ids.shape, generator=generator, device=ids.device)
    out = torch.where(selected & (u < mask_frac), torch.full_like(ids, mask_id), ids)
    use_random = selected & (u >= mask_frac) & (u < mask_frac + random_frac)
    return torch.where(use_random, random_tokens, out)


def repack_left(
    ids: torch.Tensor, keep: torch.Tensor, *others: torch.Tensor, pad_id: int = PAD, fill: int = 0
) -> tuple[torch.Tensor, ...]:
    """Move the kept positions of each row to the left, in order, and pad the rest; width is unchanged.

    Each kept position goes to column (number of kept positions before it), found with one cumsum; dropped
    positions are scattered into a spare column that is cut off. `others` (segments, regions) move with `ids`
    and are filled with `fill`. Returns (ids, *others).
    """
    if keep.shape != ids.shape:
        raise ValueError(f"keep has shape {tuple(keep.shape)}, ids {tuple(ids.shape)}")
    b, width = ids.shape
    dest = torch.where(keep, keep.long().cumsum(dim=1) - 1, torch.full_like(ids, width))
    outs = []
    for tensor, value in ((ids, pad_id), *((o, fill) for o in others)):
        out = torch.full((b, width + 1), value, dtype=tensor.dtype, device=tensor.device)
        out.scatter_(1, dest, tensor)
        outs.append(out[:, :width])
    return tuple(outs)


def rank_in_region(in_region: torch.Tensor) -> torch.Tensor:
    """0-based index of each position among the True positions of its row (undefined where False)."""
    return in_region.long().cumsum(dim=1) - 1
