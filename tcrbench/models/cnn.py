"""A 1-D CNN over embedded tokens: parallel convolutions of several widths, as in NetTCR, then per-position mixing.

It returns features per position (so masked-LM pretraining works on it as on a transformer) and pools by a
maximum over real positions. Padding is zeroed before every convolution and 'same' padding is zeros too, so a
pair gives the same features however wide its batch is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import torch
from torch import nn

from tcrbench.data.vocab import PAD, VOCAB_SIZE, TokenBatch
from tcrbench.models.pooling import pool


@dataclass(frozen=True)
class CNNConfig:
    embed: int
    channels: int
    hidden: int
    widths: tuple[int, ...] = (1, 3, 5, 7, 9)
    dropout: float = 0.1
    segments: int = 2
    pooling: str = "max"

    def __post_init__(self) -> None:
        if min(self.embed, self.channels, self.hidden) < 1:
            raise ValueError(f"embed, channels and hidden must be positive, got {self}")
        if not self.widths or min(self.widths) < 1:
            raise ValueError(f"widths must be positive integers, got {self.widths}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


SIZES: dict[str, CNNConfig] = {
    "tiny": CNNConfig(embed=16, channels=16, hidden=32),
    "small": CNNConfig(embed=64, channels=64, hidden=128),
    "base": CNNConfig(embed=128, channels=128, hidden=256),
}


def sized(size: str, **overrides: object) -> CNNConfig:
    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}, got {size!r}")
    return replace(SIZES[size], **{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]


def parse_widths(text: str) -> tuple[int, ...]:
    """'1/3/5' (or '1,3,5' in a config file) -> (1, 3, 5); '/' because the command line splits on ','."""
    widths = []
    for item in re.split(r"[/,;\s]+", text.strip()):
        try:
            w = int(item)
        except ValueError:
            raise ValueError(f"widths must be integers separated by '/', like '1/3/5', got {text!r}") from None
        if w < 1:
            raise ValueError(f"widths must be positive, got {w} in {text!r}")
        widths.append(w)
    return tuple(widths)


class CNNEncoder(nn.Module):
    """TokenBatch -> B x L x hidden per-position features; `pool` is a masked max (or cls / mean)."""

    def __init__(self, config: CNNConfig, max_len: int) -> None:
        super().__init__()
        self.config = config
        self.hidden_size = config.hidden
        self.max_len = max_len
        self.pooling = config.pooling
        self.tokens = nn.Embedding(VOCAB_SIZE, config.embed, padding_idx=PAD)
        self.segments = nn.Embedding(config.segments, config.embed)
        self.convs = nn.ModuleList(nn.Conv1d(config.embed, config.channels, w, padding="same") for w in config.widths)
        self.act = nn.ReLU()
        self.drop = nn.Dropout(config.dropout)
        self.mix = nn.Linear(config.channels * len(config.widths), config.hidden)

    def forward(self, batch: TokenBatch) -> torch.Tensor:
        mask = batch.attention_mask.unsqueeze(-1)
        x = (self.tokens(batch.ids) + self.segments(batch.segments)) * mask
        x = x.transpose(1, 2)  # B x embed x L for Conv1d
        features = torch.cat([self.act(conv(x)) for conv in self.convs], dim=1).transpose(1, 2)
        return self.mix(self.drop(features)) * mask

    def pool(self, hidden: torch.Tensor, batch: TokenBatch) -> torch.Tensor:
        return pool(hidden, batch, self.pooling)
