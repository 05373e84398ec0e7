"""Gradient caching (Gao et al. 2021): a contrastive batch larger than activation memory, computed exactly.

Gradient accumulation splits the batch and so splits the negatives: each micro-batch only sees its own.
Gradient caching keeps every negative. Pass 1 embeds the whole batch chunk by chunk without a graph (so only
the N × d embeddings are held), the loss and its gradient with respect to the embeddings are computed on
the full batch, and pass 2 re-runs the encoder chunk by chunk with a graph and back-propagates the cached
embedding gradients. The parameter gradients equal those of one full-batch step, provided the encoder does
the same arithmetic both times: the random state (dropout) of every chunk is saved in pass 1 and replayed
in pass 2. Batch statistics (BatchNorm) are per chunk, and are updated in both passes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from tcrbench.errors import UsageError


@dataclass
class _RngState:
    """Every random state a chunk's forward may draw from: CPU, all CUDA devices, and given generators."""

    cpu: torch.Tensor
    cuda: list[torch.Tensor] | None
    generators: list[torch.Tensor]

    @classmethod
    def capture(cls, generators: Sequence[torch.Generator]) -> _RngState:
        cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
        return cls(torch.get_rng_state(), cuda, [g.get_state() for g in generators])

    def restore(self, generators: Sequence[torch.Generator]) -> None:
        torch.set_rng_state(self.cpu)
        if self.cuda is not None:
            torch.cuda.set_rng_state_all(self.cuda)
        for g, state in zip(generators, self.generators):
            g.set_state(state)


def _take(batch: Any, part: slice) -> Any:
    """A slice of a batch: tensors and sequences by indexing, TokenBatch-like objects by ``.index``."""
    if hasattr(type(batch), "__getitem__"):
        return batch[part]
    return batch.index(part)  # TokenBatch and _Rows


class _Rows:
    """A batch given only by its size: ``embed_fn`` receives the slice of rows itself."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def index(self, part: slice) -> slice:
        return part


def _chunks(n: int, size: int) -> list[slice]:
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


def gradcache_step(
    embed_fn: Callable[[Any], torch.Tensor],
    inputs: Any,
    loss_fn: Callable[..., torch.Tensor],
    chunk_size: int,
    *,
    generators: Sequence[torch.Generator] = (),
) -> torch.Tensor:
    """Accumulate into ``.grad`` the gradients of ``loss_fn`` over the full batch, holding one chunk's graph.

    embed_fn: maps a slice of one view (a tensor, a TokenBatch, anything with ``len`` and slicing) to its
    embeddings (rows × d). inputs: one view, or a tuple/list of views (e.g. the two augmented views); each
    is embedded separately. An int n stands for a batch of n rows that ``embed_fn`` slices itself: it then
    receives the ``slice`` of rows to embed. loss_fn: takes one embedding tensor per view and returns a scalar; its own
    parameters (a learnable temperature) get their gradients as usual. generators: explicit
    ``torch.Generator`` objects the encoder draws from, replayed like the global RNG. Returns the loss,
    detached. The caller steps the optimizer, exactly as after ``loss.backward()``.
    """
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise UsageError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    if isinstance(inputs, int) and not isinstance(inputs, bool):
        inputs = _Rows(inputs)
    views = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    if not views:
        raise UsageError("inputs must hold at least one view")
    for v, view in enumerate(views):
        if len(view) < 1:
            raise UsageError(f"inputs view {v} is empty")

    # Pass 1: embeddings without a graph, remembering the random state each chunk started from.
    states: list[list[tuple[slice, _RngState]]] = []
    cached: list[torch.Tensor] = []
    with torch.no_grad():
        for v, view in enumerate(views):
            parts, seen = [], []
            for part in _chunks(len(view), chunk_size):
                seen.append((part, _RngState.capture(generators)))
                out = embed_fn(_take(view, part))
                if not isinstance(out, torch.Tensor) or out.dim() < 1 or out.shape[0] != part.stop - part.start:
                    raise UsageError(
                        f"embed_fn must return one row per input row: view {v} rows "
                        f"{part.start}:{part.stop} gave {getattr(out, 'shape', type(out).__name__)}"
                    )
                parts.append(out)
            states.append(seen)
            cached.append(torch.cat(parts))
    after_pass_one = _RngState.capture(generators)

    # The loss on the full batch, and its gradient with respect to every embedding.
    leaves = [e.detach().requires_grad_(True) for e in cached]
    loss = loss_fn(*leaves)
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        raise UsageError(f"loss_fn must return a scalar tensor, got {getattr(loss, 'shape', type(loss).__name__)}")
    loss.backward()

    # Pass 2: re-embed each chunk with a graph under its replayed random state; push the cached gradient in.
    try:
        for view, leaf, seen in zip(views, leaves, states):
            if leaf.grad is None:
                continue  # the loss ignores this view
            for part, state in seen:
                state.restore(generators)
                out = embed_fn(_take(view, part))
                if out.requires_grad:
                    out.backward(leaf.grad[part])
    finally:
        after_pass_one.restore(generators)
    return loss.detach()
