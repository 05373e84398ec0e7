"""A BERT-style encoder on plain torch.nn: token + position + segment embeddings, pre-LayerNorm blocks.

Pre-LN (LayerNorm before attention and before the feed-forward, one more at the end) trains stably without the
learning-rate warm-up that post-LN BERT needs, which matters when every cell of a grid trains a fresh model.
Attention goes through `scaled_dot_product_attention`, which picks a fused kernel where one exists.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from tcrbench.data.vocab import VOCAB_SIZE, TokenBatch
from tcrbench.models.pooling import pool


@dataclass(frozen=True)
class TransformerConfig:
    layers: int
    hidden: int
    heads: int
    intermediate: int
    max_len: int | None = None  # a fixed position table (the study's 64); None = sized by the data
    dropout: float = 0.1
    segments: int = 2
    pooling: str = "cls"

    def __post_init__(self) -> None:
        if self.layers < 1 or self.hidden < 1 or self.heads < 1 or self.intermediate < 1:
            raise ValueError(f"layers, hidden, heads and intermediate must be positive, got {self}")
        if self.hidden % self.heads:
            raise ValueError(f"hidden ({self.hidden}) must be divisible by heads ({self.heads})")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


# `course` is the study's configuration (8 layers, hidden 512, 8 heads, intermediate 2048, length 64).
SIZES: dict[str, TransformerConfig] = {
    "tiny": TransformerConfig(layers=2, hidden=32, heads=2, intermediate=64),
    "small": TransformerConfig(layers=4, hidden=128, heads=4, intermediate=512),
    "base": TransformerConfig(layers=6, hidden=256, heads=8, intermediate=1024),
    "course": TransformerConfig(layers=8, hidden=512, heads=8, intermediate=2048, max_len=64),
}


def sized(size: str, **overrides: object) -> TransformerConfig:
    """A named size with some fields replaced (None values are ignored)."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}, got {size!r}")
    return replace(SIZES[size], **{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]


class SelfAttention(nn.Module):
    def __init__(self, hidden: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.out = nn.Linear(hidden, hidden)
        self.dropout = dropout

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor) -> torch.Tensor:
        b, length, h = x.shape
        q, k, v = self.qkv(x).view(b, length, 3, self.heads, h // self.heads).permute(2, 0, 3, 1, 4)
        # key_mask: B x L, True = a real token; broadcast over heads and queries.
        attn = F.scaled_dot_product_attention(
            q, k, v, attn_mask=key_mask[:, None, None, :], dropout_p=self.dropout if self.training else 0.0
        )
        return self.out(attn.transpose(1, 2).reshape(b, length, h))


class Block(nn.Module):
    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(config.hidden)
        self.attn = SelfAttention(config.hidden, config.heads, config.dropout)
        self.norm2 = nn.LayerNorm(config.hidden)
        self.ffn = nn.Sequential(
            nn.Linear(config.hidden, config.intermediate), nn.GELU(), nn.Linear(config.intermediate, config.hidden)
        )
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.attn(self.norm1(x), key_mask))
        return x + self.drop(self.ffn(self.norm2(x)))


class TransformerEncoder(nn.Module):
    """TokenBatch -> B x L x hidden; `pool` gives B x hidden (cls or mean)."""

    def __init__(self, config: TransformerConfig, max_len: int) -> None:
        super().__init__()
        positions = config.max_len if config.max_len is not None else max_len
        if max_len > positions:
            raise ValueError(f"the data needs {max_len} tokens but this configuration has {positions} positions")
        self.config = config
        self.hidden_size = config.hidden
        self.max_len = positions
        self.pooling = config.pooling
        self.tokens = nn.Embedding(VOCAB_SIZE, config.hidden)
        self.positions = nn.Embedding(positions, config.hidden)
        self.segments = nn.Embedding(config.segments, config.hidden)
        self.embed_norm = nn.LayerNorm(config.hidden)
        self.embed_drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.layers))
        self.final_norm = nn.LayerNorm(config.hidden)
        self.apply(_init_weights)

    def forward(self, batch: TokenBatch) -> torch.Tensor:
        ids = batch.ids
        if ids.shape[1] > self.max_len:
            raise ValueError(f"batch width {ids.shape[1]} exceeds the encoder's {self.max_len} positions")
        pos = torch.arange(ids.shape[1], device=ids.device)
        x = self.tokens(ids) + self.positions(pos)[None] + self.segments(batch.segments)
        x = self.embed_drop(self.embed_norm(x))
        key_mask = batch.attention_mask
        for block in self.blocks:
            x = block(x, key_mask)
        return self.final_norm(x)

    def pool(self, hidden: torch.Tensor, batch: TokenBatch) -> torch.Tensor:
        return pool(hidden, batch, self.pooling)


def _init_weights(module: nn.Module) -> None:
    """BERT's initialisation: N(0, 0.02) weights, zero biases."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)
