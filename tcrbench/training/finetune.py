"""Fine-tuning and prediction: identical for the pretrained arm and the supervised baseline, so any difference
between them comes from the pretraining alone."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np
import torch
from torch import nn

from tcrbench.run.config import Budget
from tcrbench.data.vocab import TokenBatch
from tcrbench.training.batches import batch_indices, total_steps
from tcrbench.training.failures import check_loss
from tcrbench.training.optim import clip, make_optimizer, make_schedule
from tcrbench.training.seeding import generator

StepCallback = Callable[[int, int, float, float], None]


class Classifier(nn.Module):
    """Encoder, pooling, and the study's head (dense, tanh, dense) giving one binding logit per pair."""

    def __init__(self, encoder: nn.Module, dropout: float = 0.1) -> None:
        super().__init__()
        from tcrbench.models.heads import ClassifierHead

        self.encoder = encoder
        self.head = ClassifierHead(encoder.hidden_size, num_labels=1, dropout=dropout)

    def forward(self, batch: TokenBatch) -> torch.Tensor:
        hidden = self.encoder(batch)
        return self.head(self.encoder.pool(hidden, batch)).reshape(-1)


@dataclass
class FinetuneStats:
    steps: int
    final_loss: float
    seconds: float


def finetune(encoder: nn.Module, tokens: TokenBatch, labels: torch.Tensor, budget: Budget, seed: int,
             device: torch.device, loss: Literal["ce", "focal"] = "ce",
             on_step: StepCallback | None = None) -> tuple[Classifier, FinetuneStats]:
    from tcrbench.models.heads import classification_loss

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # the head's initial weights: same for both arms
        model = Classifier(encoder).to(device)
    model.train()
    n = len(tokens)
    batch = min(budget.batch_size, n)
    n_steps = total_steps(n, batch, budget.finetune_epochs, budget.finetune_steps)
    opt = make_optimizer(model.parameters(), budget, budget.lr)
    sched = make_schedule(opt, n_steps, budget.warmup)
    order_gen = generator(seed)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else torch.autocast("cpu", enabled=False)
    start = time.perf_counter()
    value = float("nan")
    seen = 0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # dropout masks
        for step, idx in enumerate(batch_indices(n, batch, n_steps, order_gen), start=1):
            piece = tokens.index(idx).to(device)
            y = labels[idx].to(device)
            with autocast:
                logits = model(piece)
                loss_value = classification_loss(logits.float(), y, kind=loss)
            value = float(loss_value.detach())
            check_loss(value, budget.max_loss, "fine-tuning", step)
            loss_value.backward()
            clip(model.parameters(), budget.grad_clip)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            seen += len(idx)
            if on_step is not None:
                on_step(step, n_steps, value, seen / max(time.perf_counter() - start, 1e-9))
    return model, FinetuneStats(n_steps, value, time.perf_counter() - start)


@torch.no_grad()
def predict(model: Classifier, tokens: TokenBatch, device: torch.device, batch_size: int = 1024) -> np.ndarray:
    """Binding probabilities, in row order."""
    model.eval()
    out = []
    for start in range(0, len(tokens), batch_size):
        piece = tokens.index(slice(start, start + batch_size)).to(device)
        out.append(torch.sigmoid(model(piece).float()).cpu())
    return torch.cat(out).numpy().astype(np.float64) if out else np.zeros(0)


@torch.no_grad()
def embed(encoder: nn.Module, tokens: TokenBatch, device: torch.device, batch_size: int = 1024) -> np.ndarray:
    """Pooled embeddings of a frozen encoder, for the linear probe."""
    encoder.to(device).eval()
    out = []
    for start in range(0, len(tokens), batch_size):
        piece = tokens.index(slice(start, start + batch_size)).to(device)
        out.append(encoder.pool(encoder(piece), piece).float().cpu())
    return torch.cat(out).numpy().astype(np.float64)
