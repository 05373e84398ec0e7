"""Optimiser and schedule from a Budget: the same code path for both arms, so the budget is truly shared."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from tcrbench.run.config import Budget


def parameter_groups(model: torch.nn.Module, lr: float) -> list[torch.nn.Parameter] | list[dict[str, Any]]:
    """The model's parameters, with those of a submodule that sets `lr_scale` in a group of their own at
    `lr * lr_scale`.

    A published model's pretrained weights are fine-tuned far more gently than a fresh head (TCR-BERT and SCEPTR
    at 1e-5 to 1e-4, where a from-scratch CNN wants 1e-3): at the head's rate they would forget what pretraining
    learnt. Without such a submodule this is the plain parameter list, so every other model trains exactly as
    before.
    """
    scale_of: dict[int, float] = {}
    for module in model.modules():
        scale = getattr(module, "lr_scale", None)
        if scale is not None and float(scale) != 1.0:
            for p in module.parameters():
                scale_of.setdefault(id(p), float(scale))
    params = [p for p in model.parameters() if p.requires_grad]
    if not scale_of:
        return params
    groups: dict[float, list[torch.nn.Parameter]] = {}
    for p in params:
        groups.setdefault(scale_of.get(id(p), 1.0), []).append(p)
    return [{"params": ps, "lr": lr * scale} for scale, ps in groups.items()]


def make_optimizer(
    params: Iterable[torch.nn.Parameter] | list[dict[str, Any]], budget: Budget, lr: float
) -> torch.optim.Optimizer:
    items = list(params)
    chosen: Any = (
        items if items and isinstance(items[0], dict) else [p for p in items if getattr(p, "requires_grad", False)]
    )
    if budget.optimizer == "sgd":
        return torch.optim.SGD(chosen, lr=lr, momentum=0.9, weight_decay=budget.weight_decay)
    return torch.optim.AdamW(chosen, lr=lr, weight_decay=budget.weight_decay)


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
