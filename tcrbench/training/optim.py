"""Optimiser and schedule from a Budget: the same code path for both arms, so the budget is truly shared."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from tcrbench.run.config import Budget


def make_optimizer(params: Iterable[torch.nn.Parameter], budget: Budget, lr: float) -> torch.optim.Optimizer:
    params = [p for p in params if p.requires_grad]
    if budget.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=budget.weight_decay)
    return torch.optim.AdamW(params, lr=lr, weight_decay=budget.weight_decay)


def make_schedule(
    optimizer: torch.optim.Optimizer, total_steps: int, warmup: float, shape: str = "linear"
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up, then linear decay to zero at the last step (or, with shape="constant", the full rate).

    A constant rate suits early stopping: a decay planned for the maximum epochs would end far from zero when
    training stops early, and would give the epochs that matter a rate that depends on the maximum.
    """
    warm = max(1, int(round(total_steps * warmup))) if warmup > 0 else 0

    def factor(step: int) -> float:
        if warm and step < warm:
            return (step + 1) / warm
        if shape == "constant":
            return 1.0
        remaining = max(1, total_steps - warm)
        return max(0.0, 1.0 - (step - warm) / remaining)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def clip(params: Iterable[torch.nn.Parameter], max_norm: float) -> None:
    if max_norm > 0:
        torch.nn.utils.clip_grad_norm_([p for p in params if p.grad is not None], max_norm)
