"""Length-bucketed mini-batches: rows padded to their batch's longest row, not to the longest row of the table.

Each epoch shuffles the rows, cuts the order into pools of `pool` batches, sorts each pool by length and cuts it
into batches, then shuffles the batches. Every row is seen once per epoch, the order stays random (a batch mixes
rows of similar length but random identity), and a batch carries far less padding. Tokens are left-aligned
(`<cls> ... <sep>` then padding), so trimming a batch to its longest row drops only padding; every built-in
encoder gives the same output for a pair however wide its batch is, so trimming changes speed, not numbers.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from tcrbench.data.vocab import TokenBatch

POOL_BATCHES = 32  # batches per sorted pool: large enough to find similar lengths, small enough to stay random


def lengths(tokens: TokenBatch) -> torch.Tensor:
    """Real tokens per row (specials included)."""
    return tokens.attention_mask.sum(dim=1)


def trim(tokens: TokenBatch) -> TokenBatch:
    """The batch cut to its longest row."""
    width = int(lengths(tokens).max()) if len(tokens) else 1
    if width >= tokens.ids.shape[1]:
        return tokens
    return TokenBatch(tokens.ids[:, :width], tokens.segments[:, :width], tokens.regions[:, :width])


def bucketed_epoch(
    row_lengths: torch.Tensor, batch_size: int, generator: torch.Generator, pool: int = POOL_BATCHES
) -> list[torch.Tensor]:
    """One epoch of index batches, each of rows of similar length, in random order."""
    n = len(row_lengths)
    order = torch.randperm(n, generator=generator)
    batches: list[torch.Tensor] = []
    span = batch_size * max(pool, 1)
    for start in range(0, n, span):
        members = order[start : start + span]
        members = members[torch.argsort(row_lengths[members], stable=True)]
        batches.extend(members[i : i + batch_size] for i in range(0, len(members), batch_size))
    shuffle = torch.randperm(len(batches), generator=generator)
    return [batches[int(i)] for i in shuffle]


def epoch_batches(
    tokens: TokenBatch, batch_size: int, generator: torch.Generator, bucket: bool = True
) -> Iterator[torch.Tensor]:
    """Index batches for one epoch: bucketed by length, or plainly shuffled."""
    if bucket:
        yield from bucketed_epoch(lengths(tokens), batch_size, generator)
        return
    order = torch.randperm(len(tokens), generator=generator)
    for start in range(0, len(tokens), batch_size):
        yield order[start : start + batch_size]


def padding_share(tokens: TokenBatch, batches: list[torch.Tensor], trimmed: bool) -> float:
    """The share of padded positions over an epoch's batches, trimmed to each batch's longest row or not."""
    row_lengths = lengths(tokens)
    real = padded = 0
    full = tokens.ids.shape[1]
    for idx in batches:
        member = row_lengths[idx]
        width = int(member.max()) if trimmed else full
        real += int(member.sum())
        padded += width * len(idx)
    return 1.0 - real / padded if padded else 0.0


def ordered_chunks(tokens: TokenBatch, batch_size: int) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Prediction batches of rows sorted by length, and the permutation that puts the outputs back in row order."""
    order = torch.argsort(lengths(tokens), stable=True)
    chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    return chunks, torch.argsort(order)
