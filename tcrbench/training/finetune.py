"""Fine-tuning and prediction: identical for the pretrained arm and the supervised baseline, so any difference
between them comes from the pretraining alone.

Training runs up to the budget's epochs with early stopping on an inner validation split of the training fold
(when one is given), and the best epoch's weights are restored. Batches are bucketed by length. With a group per
row (the peptide) and `n_groups > 1`, the head has one output per peptide and a row reads its own peptide's
output: the per-peptide framing, with the encoder shared.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from tcrbench.data.vocab import TokenBatch
from tcrbench.run.config import Budget
from tcrbench.training.batches import steps_per_epoch
from tcrbench.training.buckets import epoch_batches, ordered_chunks, trim
from tcrbench.training.early_stopping import EarlyStopping, validation_score
from tcrbench.training.failures import check_loss
from tcrbench.training.optim import clip, make_optimizer, make_schedule, parameter_groups
from tcrbench.training.seeding import generator

StepCallback = Callable[[int, int, float, float], None]


class Classifier(nn.Module):
    """Encoder, pooling and a head giving one binding logit per pair (or per pair and peptide).

    The head is the study's (dense, tanh, dense) unless the encoder brings its own (`classifier_head(n_outputs)`,
    the chain CNN's peptide-receptor product) or asks for another width and activation through `head_hidden` and
    `head_activation`.
    """

    def __init__(self, encoder: nn.Module, dropout: float = 0.1, n_outputs: int = 1) -> None:
        super().__init__()
        from tcrbench.models.heads import ClassifierHead

        self.encoder = encoder
        own: Any = getattr(encoder, "classifier_head", None)
        head: nn.Module | None = own(n_outputs) if own is not None else None
        hidden: Any = encoder.hidden_size
        self.head = (
            head
            if head is not None
            else ClassifierHead(
                int(hidden),
                num_labels=n_outputs,
                dropout=float(getattr(encoder, "head_dropout", dropout)),
                inner=int(getattr(encoder, "head_hidden", hidden)),
                activation=str(getattr(encoder, "head_activation", "tanh")),
            )
        )

    def forward(self, batch: TokenBatch, groups: torch.Tensor | None = None) -> torch.Tensor:
        logits = self.head(pooled(self.encoder, batch))
        if logits.shape[-1] == 1:
            return logits.reshape(-1)
        if groups is None:
            raise ValueError("a per-peptide head needs each row's peptide index")
        return logits.gather(1, groups.reshape(-1, 1)).reshape(-1)


def pooled(encoder: nn.Module, batch: TokenBatch) -> torch.Tensor:
    """The encoder's pooled vectors: its own fast path when it has one (`pooled`), else pool(forward)."""
    fast: Any = getattr(encoder, "pooled", None)
    if fast is not None:
        return fast(batch)
    pool: Any = encoder.pool
    return pool(encoder(batch), batch)


@dataclass
class Validation:
    """The inner validation split: tokens, labels and (for per-peptide monitoring) peptide indices."""

    tokens: TokenBatch
    labels: torch.Tensor
    groups: torch.Tensor | None = None


@dataclass
class FinetuneStats:
    steps: int
    final_loss: float
    seconds: float
    epochs: int = 0
    best_epoch: int = 0
    val_curve: list[float] = field(default_factory=list)


def _plan(n: int, batch: int, budget: Budget) -> tuple[int, int]:
    """(epochs at most, steps at most): `finetune_steps` caps the steps and sets the epochs it needs."""
    per_epoch = max(1, steps_per_epoch(n, batch))
    if budget.finetune_steps is not None:
        return max(1, -(-budget.finetune_steps // per_epoch)), budget.finetune_steps
    return budget.finetune_epochs, budget.finetune_epochs * per_epoch


def finetune(
    encoder: nn.Module,
    tokens: TokenBatch,
    labels: torch.Tensor,
    budget: Budget,
    seed: int,
    device: torch.device,
    loss: Literal["ce", "focal"] = "ce",
    on_step: StepCallback | None = None,
    validation: Validation | None = None,
    groups: torch.Tensor | None = None,
    n_groups: int = 1,
) -> tuple[Classifier, FinetuneStats]:
    """Train `encoder` with a fresh head; stop early on `validation` if given; return the best model."""
    from tcrbench.models.heads import classification_loss

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # the head's initial weights: same for both arms
        model = Classifier(encoder, n_outputs=n_groups).to(device)
    model.train()
    n = len(tokens)
    batch = min(budget.batch_size, n)
    max_epochs, n_steps = _plan(n, batch, budget)
    opt = make_optimizer(parameter_groups(model, budget.lr), budget, budget.lr)
    sched = make_schedule(opt, n_steps, budget.warmup, budget.schedule)
    order_gen = generator(seed)
    stopper = EarlyStopping(patience=budget.patience)
    monitor = budget.monitor if n_groups == 1 or budget.monitor != "auroc" else "macro_auroc"
    per_peptide = n_groups > 1
    autocast = (
        torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else torch.autocast("cpu", enabled=False)
    )
    start = time.perf_counter()
    value, step, seen, epoch = float("nan"), 0, 0, 0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # dropout masks
        while epoch < max_epochs and step < n_steps:
            epoch += 1
            for idx in epoch_batches(tokens, batch, order_gen, bucket=budget.bucket):
                piece = trim(tokens.index(idx)).to(device)
                y = labels[idx].to(device)
                g = groups[idx].to(device) if per_peptide and groups is not None else None
                with autocast:
                    logits = model(piece, g)
                    loss_value = classification_loss(logits.float(), y, kind=loss)
                step += 1
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
                if step >= n_steps:
                    break
            if validation is not None and len(validation.tokens):
                scores = predict(model, validation.tokens, device, groups=validation.groups if per_peptide else None)
                val_groups = validation.groups.numpy() if validation.groups is not None else None
                go_on = stopper.update(validation_score(validation.labels.numpy(), scores, val_groups, monitor), model)
                model.train()
                if not go_on:
                    break
    stopper.restore(model)
    return model, FinetuneStats(
        step, value, time.perf_counter() - start, epoch, stopper.best_epoch or epoch, stopper.curve
    )


@torch.no_grad()
def predict(
    model: Classifier,
    tokens: TokenBatch,
    device: torch.device,
    batch_size: int = 1024,
    groups: torch.Tensor | None = None,
) -> np.ndarray:
    """Binding probabilities, in row order (rows are batched by length, then put back)."""
    model.eval()
    if not len(tokens):
        return np.zeros(0)
    chunks, back = ordered_chunks(tokens, batch_size)
    out = []
    for idx in chunks:
        piece = trim(tokens.index(idx)).to(device)
        g = groups[idx].to(device) if groups is not None else None
        out.append(torch.sigmoid(model(piece, g).float()).cpu())
    return torch.cat(out)[back].numpy().astype(np.float64)


@torch.no_grad()
def embed(encoder: nn.Module, tokens: TokenBatch, device: torch.device, batch_size: int = 1024) -> np.ndarray:
    """Pooled embeddings of a frozen encoder, for the linear probe (rows batched by length, then put back)."""
    encoder.to(device).eval()
    if not len(tokens):
        width: Any = encoder.hidden_size
        return np.zeros((0, int(width)))
    chunks, back = ordered_chunks(tokens, batch_size)
    out = []
    for idx in chunks:
        piece = trim(tokens.index(idx)).to(device)
        out.append(pooled(encoder, piece).float().cpu())
    return torch.cat(out)[back].numpy().astype(np.float64)
