"""Built-in encoders: a BERT-style transformer (including the study's configuration) and a 1-D CNN.

Both return per-position states (B x L x hidden) and pool to B x hidden, so every objective, masked-LM
included, runs on either. The factories only hold settings; `build(max_len)` makes fresh weights from torch's
current seed, which the runner sets per cell.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal, Optional

from torch import nn

from tcrbench.errors import UsageError
from tcrbench.models import chains, cnn, transformer
from tcrbench.plugins.hookspecs import Register, hookimpl
from tcrbench.plugins.params import param


def _check_dropout(value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {value}")


@dataclass
class Transformer:
    size: Literal["tiny", "small", "base", "course"] = param(
        "tiny", help="tiny 2x32, small 4x128, base 6x256, course = the study's 8 layers x 512, 8 heads, length 64"
    )
    pooling: Literal["cls", "mean"] = param("cls", help="pooled vector: the <cls> state (as in the study) or the mean")
    dropout: float = param(0.1, help="dropout on embeddings, attention and residual branches")
    layers: Optional[int] = param(None, help="override the size's number of layers")
    hidden: Optional[int] = param(None, help="override the size's hidden width")
    heads: Optional[int] = param(None, help="override the size's attention heads (must divide hidden)")
    intermediate: Optional[int] = param(None, help="override the size's feed-forward width")
    name: ClassVar[str] = "transformer"
    description: ClassVar[str] = "BERT-style pre-LN transformer (sizes tiny/small/base, and the study's 'course')"

    def __post_init__(self) -> None:
        _check_dropout(self.dropout)
        self.config()  # fail at configuration time, not in the middle of a run

    def config(self) -> transformer.TransformerConfig:
        return transformer.sized(
            self.size,
            layers=self.layers,
            hidden=self.hidden,
            heads=self.heads,
            intermediate=self.intermediate,
            dropout=self.dropout,
            pooling=self.pooling,
        )

    def build(self, max_len: int) -> nn.Module:
        config = self.config()
        if config.max_len is not None and max_len > config.max_len:
            raise UsageError(
                f"encoder transformer:size={self.size} has {config.max_len} positions (the study's "
                f"configuration) but the data needs {max_len} tokens; choose another size"
            )
        return transformer.TransformerEncoder(config, max_len)


@dataclass
class CNN:
    size: Literal["tiny", "small", "base"] = param("tiny", help="tiny 16 channels/width, small 64, base 128")
    widths: str = param("1/3/5/7/9", help="kernel widths of the parallel convolutions, separated by '/'")
    pooling: Literal["max", "mean", "cls"] = param("max", help="pooled vector: masked max over positions, or mean")
    dropout: float = param(0.1, help="dropout before the per-position mixing layer")
    channels: Optional[int] = param(None, help="override the size's channels per kernel width")
    hidden: Optional[int] = param(None, help="override the size's output width")
    name: ClassVar[str] = "cnn"
    description: ClassVar[str] = "1-D CNN with several kernel widths; per-position features, masked max pooling"

    def __post_init__(self) -> None:
        _check_dropout(self.dropout)
        self.config()

    def config(self) -> cnn.CNNConfig:
        return cnn.sized(
            self.size,
            widths=cnn.parse_widths(self.widths),
            channels=self.channels,
            hidden=self.hidden,
            dropout=self.dropout,
            pooling=self.pooling,
        )

    def build(self, max_len: int) -> nn.Module:
        return cnn.CNNEncoder(self.config(), max_len)


@dataclass
class ChainCNN:
    channels: int = param(32, help="filters per kernel width and chain")
    widths: str = param("1/3/5/7/9", help="kernel widths of each chain's parallel convolutions, separated by '/'")
    encoding: Literal["learned", "blosum62"] = param(
        "learned", help="residue encoding: a learned embedding, or frozen BLOSUM62 rows (NetTCR's)"
    )
    embed: int = param(24, help="width of the learned embedding")
    head_hidden: int = param(64, help="width of the dense ReLU layer of the classification head")
    dropout: float = param(0.1, help="dropout in the classification head")
    interaction: Literal["product", "concat"] = param(
        "product", help="head: peptide and receptor projections joined by sum and product, or NetTCR's concatenation"
    )
    name: ClassVar[str] = "chain_cnn"
    description: ClassVar[str] = "NetTCR-style CNN: own convolutions per chain, max-pooled per chain, concatenated"

    def __post_init__(self) -> None:
        _check_dropout(self.dropout)
        self.config()

    def config(self) -> chains.ChainCNNConfig:
        return chains.ChainCNNConfig(
            embed=self.embed,
            channels=self.channels,
            widths=cnn.parse_widths(self.widths),
            encoding=self.encoding,
            head_hidden=self.head_hidden,
            dropout=self.dropout,
            interaction=self.interaction,
        )

    def build(self, max_len: int) -> nn.Module:
        return chains.ChainCNNEncoder(self.config(), max_len)


BUILTIN_ENCODERS: tuple[type, ...] = (Transformer, CNN, ChainCNN)


@hookimpl
def register_encoders(register: Register) -> None:
    for cls in BUILTIN_ENCODERS:
        register(cls)
