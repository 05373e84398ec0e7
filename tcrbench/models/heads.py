"""Heads on top of an encoder: the study's classifier with its losses, and the heads objectives train.

The classifier mirrors BERT's sequence-classification head the study fine-tuned (dense, tanh, dense on the
pooled vector). Focal loss with gamma = 3 and alpha = 0.25 is the study's choice for its 1:3 imbalance; it is
kept here beside plain cross-entropy so a comparison between them is one option, not a fork.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from tcrbench.data.vocab import VOCAB_SIZE

LossKind = Literal["ce", "focal"]


ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "gelu": nn.GELU}


class ClassifierHead(nn.Module):
    """Pooled B x hidden -> B x num_labels logits: dropout, dense (to `inner`), activation, dropout, dense.

    The defaults are BERT's head (inner = hidden, tanh); NetTCR-style CNNs use a narrow ReLU layer instead.
    """

    def __init__(
        self, hidden: int, num_labels: int = 2, dropout: float = 0.1, inner: int | None = None, activation: str = "tanh"
    ) -> None:
        super().__init__()
        if num_labels < 1:
            raise ValueError(f"num_labels must be at least 1, got {num_labels}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
        inner = hidden if inner is None else inner
        self.net = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(hidden, inner),
            ACTIVATIONS[activation](),
            nn.Dropout(dropout),
            nn.Linear(inner, num_labels),
        )

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.net(pooled)


def _binary_log_probs(logits: torch.Tensor) -> torch.Tensor:
    """B x 2 log-probabilities for either B x 2 logits (softmax) or B / B x 1 logits (sigmoid)."""
    if logits.dim() == 1 or logits.shape[-1] == 1:
        z = logits.reshape(-1)
        return torch.stack([F.logsigmoid(-z), F.logsigmoid(z)], dim=-1)
    return F.log_softmax(logits, dim=-1)


def classification_loss(
    logits: torch.Tensor, labels: torch.Tensor, kind: str = "ce", gamma: float = 3.0, alpha: float | None = 0.25
) -> torch.Tensor:
    """Mean loss over the batch: cross-entropy, or focal loss FL = -alpha_t (1 - p_t)^gamma log p_t.

    Logits may be B x C (softmax) or B / B x 1 (one binding logit, sigmoid). Focal loss is defined for the
    binary task: alpha weights class 1 and 1 - alpha class 0, as in Lin et al. (2017); alpha=None disables it.
    """
    labels = labels.long().reshape(-1)
    if kind == "ce":
        if logits.dim() == 1 or logits.shape[-1] == 1:
            return F.binary_cross_entropy_with_logits(logits.reshape(-1), labels.to(logits.dtype))
        return F.cross_entropy(logits, labels)
    if kind != "focal":
        raise ValueError(f"loss kind must be 'ce' or 'focal', got {kind!r}")
    if logits.dim() == 2 and logits.shape[-1] > 2:
        raise ValueError(f"focal loss is binary; got logits with {logits.shape[-1]} classes")
    if gamma < 0:
        raise ValueError(f"focal gamma must be >= 0, got {gamma}")
    log_pt = _binary_log_probs(logits).gather(1, labels[:, None]).squeeze(1)
    loss = -((1.0 - log_pt.exp()) ** gamma) * log_pt
    if alpha is not None:
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"focal alpha must be in [0, 1], got {alpha}")
        loss = loss * torch.where(labels == 1, alpha, 1.0 - alpha).to(loss.dtype)
    return loss.mean()


class ProjectionHead(nn.Module):
    """The MLP between a pooled vector and a contrastive or VICReg loss (SimCLR's g): linear, ReLU, linear."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class MLMHead(nn.Module):
    """Hidden states (any leading shape) -> vocabulary logits: dense, GELU, LayerNorm, decoder (BERT's LM head)."""

    def __init__(self, hidden: int, vocab_size: int = VOCAB_SIZE) -> None:
        super().__init__()
        self.transform = nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(), nn.LayerNorm(hidden))
        self.decoder = nn.Linear(hidden, vocab_size)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.transform(hidden))
