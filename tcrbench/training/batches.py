"""Shuffled mini-batch indices from a seeded generator: the whole data order of a cell is reproducible."""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch


def steps_per_epoch(n: int, batch_size: int, min_batch: int = 1) -> int:
    full, rest = divmod(n, batch_size)
    return full + (1 if rest >= min_batch else 0)


def batch_indices(
    n: int, batch_size: int, total_steps: int, generator: torch.Generator, min_batch: int = 1
) -> Iterator[torch.Tensor]:
    """Yield `total_steps` index tensors, reshuffling at every epoch; a last batch below `min_batch` is skipped."""
    if n < min_batch:
        raise ValueError(f"{n} rows cannot fill a batch of at least {min_batch}")
    step = 0
    while step < total_steps:
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            if len(idx) < min_batch:
                continue
            yield idx
            step += 1
            if step >= total_steps:
                return


def total_steps(n: int, batch_size: int, epochs: int, steps: int | None, min_batch: int = 1) -> int:
    if steps is not None:
        return steps
    return epochs * max(1, steps_per_epoch(n, batch_size, min_batch))


def ceil_div(a: int, b: int) -> int:
    return math.ceil(a / b)
