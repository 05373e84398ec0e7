"""The pretraining loop: an objective and an augmentation train an encoder on one fold's training sequences."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import torch
from torch import nn

from tcrbench.api import PretrainBatch
from tcrbench.config import Budget
from tcrbench.training.batches import batch_indices, steps_per_epoch, total_steps
from tcrbench.training.failures import check_loss
from tcrbench.training.optim import clip, make_optimizer, make_schedule
from tcrbench.training.seeding import generator

StepCallback = Callable[[int, int, float, float], None]  # step, total, loss, sequences per second


@dataclass
class PretrainStats:
    steps: int = 0
    epoch_losses: list[float] = field(default_factory=list)
    final_loss: Optional[float] = None
    seconds: float = 0.0
    sequences: int = 0


def pretrain(encoder: nn.Module, objective: Any, augmentation: Any, data: PretrainBatch, budget: Budget,
             seed: int, device: torch.device, on_step: StepCallback | None = None,
             observe_batch: Callable[[PretrainBatch], None] | None = None) -> PretrainStats:
    """Train `encoder` in place; the objective's own head is discarded afterwards, as in SimCLR.

    The head's initial weights and every dropout mask come from `seed` alone (global state is forked and
    restored), so a cell's result never depends on which cells ran before it in the same process.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return _pretrain(encoder, objective, augmentation, data, budget, seed, device, on_step, observe_batch)


def _pretrain(encoder: nn.Module, objective: Any, augmentation: Any, data: PretrainBatch, budget: Budget,
              seed: int, device: torch.device, on_step: StepCallback | None,
              observe_batch: Callable[[PretrainBatch], None] | None) -> PretrainStats:
    stats = PretrainStats()
    encoder.to(device).train()
    head = objective.build(encoder).to(device)
    head.train()
    params = list(encoder.parameters()) + list(head.parameters())
    batch = min(budget.pretrain_batch, len(data))
    n_steps = total_steps(len(data), batch, budget.pretrain_epochs, budget.pretrain_steps, min_batch=2)
    if n_steps == 0:
        return stats
    per_epoch = max(1, steps_per_epoch(len(data), batch, 2))
    opt = make_optimizer(params, budget, budget.pretrain_lr)
    sched = make_schedule(opt, n_steps, budget.warmup)
    order_gen = generator(seed)
    aug_gen = generator(seed + 1, device)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else _null()
    start = time.perf_counter()
    epoch_sum, epoch_n = 0.0, 0
    for step, idx in enumerate(batch_indices(len(data), batch, n_steps, order_gen, min_batch=2), start=1):
        piece = data.index(idx)
        if observe_batch is not None:
            observe_batch(piece)
        piece = PretrainBatch(piece.tokens.to(device), piece.groups.to(device),
                              None if piece.labels is None else piece.labels.to(device))
        with autocast:
            out = objective_forward(head, encoder, piece, augmentation, aug_gen)
        value = float(out.loss.detach())
        check_loss(value, budget.max_loss, "pretraining", step)
        if not out.backward_done:
            out.loss.backward()
        clip(params, budget.grad_clip)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        stats.sequences += len(idx)
        epoch_sum += value
        epoch_n += 1
        if step % per_epoch == 0 or step == n_steps:
            stats.epoch_losses.append(epoch_sum / epoch_n)
            epoch_sum, epoch_n = 0.0, 0
        stats.final_loss = value
        if on_step is not None:
            elapsed = time.perf_counter() - start
            on_step(step, n_steps, value, stats.sequences / max(elapsed, 1e-9))
    stats.steps = n_steps
    stats.seconds = time.perf_counter() - start
    return stats


def objective_forward(head: nn.Module, encoder: nn.Module, batch: PretrainBatch, augmentation: Any,
                      gen: torch.Generator) -> Any:
    return head(encoder, batch, augmentation, gen)


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
