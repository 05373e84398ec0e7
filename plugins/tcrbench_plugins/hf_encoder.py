"""`hf:path=DIR`: a BERT-style protein or TCR model kept on disk (TCR-BERT, ESM-2) as an encoder.

The checkpoint embeds each row's TCR with its own tokenizer; a learned peptide encoder and the chain CNN's
peptide-receptor head sit beside it (tcrbench.models.published_tcr), so the probe reads the frozen checkpoint and
fine-tuning trains its weights with the rest. The folder is checked and hashed when the configuration is read (a
bad path fails before any work); `transformers` is imported only when a model is built or asked for embeddings.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import torch
from torch import nn

from tcrbench.errors import UsageError
from tcrbench.models import hf_adapter
from tcrbench.models.published_tcr import PublishedTcrEncoder
from tcrbench.plugins.hookspecs import Register, hookimpl
from tcrbench.plugins.params import param

if TYPE_CHECKING:
    import polars as pl

WHERE = "encoder 'hf'"


@dataclass
class HuggingFace:
    path: str = param("", help="folder of a saved model: config.json, weights and the model's own tokenizer files")
    chains: Literal["auto", "beta", "both"] = param(
        "auto",
        help="what the model reads: beta = CDR3β only (as TCR-BERT was trained); both = CDR3α and CDR3β as the "
        "tokenizer's sentence pair; auto = both where the row has CDR3α, β alone otherwise",
    )
    pooling: Literal["mean", "cls"] = param("mean", help="TCR vector: mean over residue tokens, or the first token")
    layer: int = param(-1, help="hidden states of this layer (-1 the last; 0 the embeddings)")
    max_epochs: int = param(
        0,
        help="cap on fine-tuning epochs for this model (0: the run's budget); shown in the label, so a board says "
        "when the published model had fewer epochs than the other arms",
    )
    lr_scale: float = param(
        0.02,
        help="fine-tuning rate of the checkpoint's weights as a share of the budget's lr (its new head trains at "
        "the full rate); pretrained transformers forget at a from-scratch model's rate",
    )
    identity: str = param(
        "",
        help="model type/hidden size/content hash ('bert/768/0123abcd...'): filled in from the folder and recorded "
        "in every row; given, the folder must hold exactly that checkpoint",
    )
    name: ClassVar[str] = "hf"
    description: ClassVar[str] = "a local Hugging Face checkpoint (TCR-BERT, ESM-2) with its own tokenizer, offline"
    published: ClassVar[bool] = True  # the reports group it with the published pretrained models
    _info: Any = field(default=None, init=False, repr=False, compare=False)
    _embedder: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        hf_adapter.require_transformers(WHERE)
        info = hf_adapter.inspect_checkpoint(self.path, WHERE)
        if not 0.0 < self.lr_scale <= 1.0:
            raise UsageError(f"{WHERE}: lr_scale must be in (0, 1], got {self.lr_scale}")
        if self.max_epochs < 0:
            raise UsageError(f"{WHERE}: max_epochs must be 0 (no cap) or more, got {self.max_epochs}")
        if not -info.layers - 1 <= self.layer <= info.layers:
            raise UsageError(f"{WHERE}: layer {self.layer} out of range; the model has {info.layers} layers")
        if self.identity and self.identity != info.identity:
            raise UsageError(
                f"{WHERE}: {info.path} holds checkpoint {info.identity}, not the {self.identity} the configuration "
                "pins; point path at that checkpoint or drop identity="
            )
        self.identity = info.identity  # part of the resolved parameters: the rows and the config id name it
        self._info = info

    def adapter(self) -> hf_adapter.HfTcrAdapter:
        """A fresh copy of the checkpoint (loaded once per process), so training one cell leaves the next alone."""
        model, residues = hf_adapter.load(self._info, WHERE)
        return hf_adapter.HfTcrAdapter(copy.deepcopy(model), residues, self.chains, self.pooling, self.layer)

    def build(self, max_len: int) -> nn.Module:
        """The published-model encoder; its peptide block and head start from torch's seed, the checkpoint not."""
        return PublishedTcrEncoder(self.adapter(), lr_scale=self.lr_scale)

    def embed_tcrs(self, frame: pl.DataFrame, device: str | None = None, batch_size: int = 256) -> np.ndarray:
        """One float32 vector per row of `frame` (its cdr3b, and cdr3a per `chains`) from the frozen checkpoint:
        what embedding_knn:encoder=hf measures distances in. Deterministic: eval mode, no padding."""
        target = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        if self._embedder is None or self._embedder[0] != target:
            self._embedder = (target, self.adapter().to(target))
        adapter: hf_adapter.HfTcrAdapter = self._embedder[1]
        beta = frame["cdr3b"].to_list()
        alpha = frame["cdr3a"].to_list() if "cdr3a" in frame.columns else [None] * frame.height
        try:
            tcrs = adapter.tcrs(beta, alpha)
        except ValueError as exc:
            raise UsageError(f"{WHERE}: {exc}") from None
        return hf_adapter.embed(adapter, tcrs, batch_size)


@hookimpl
def register_encoders(register: Register) -> None:
    register(HuggingFace)
