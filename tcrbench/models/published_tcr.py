"""A published pretrained TCR model as an encoder: its TCR vector beside a learned peptide embedding.

SCEPTR, TCR-BERT or ESM-2 embed receptors, not (peptide, receptor) pairs, and bring their own tokenizers. So the
wrapper reads each row's sequences back from the runner's token batch, asks the published model for one vector per
TCR, and puts a small learned peptide encoder beside it. The pooled vector is `[peptide block | TCR vector]`, which
the chain CNN's peptide-receptor head (sum and product of the two projections) turns into a logit: the same head,
so a difference between a published model and a from-scratch CNN is the receptor representation, not the head.

Protocols: the probe freezes everything (the peptide block is then a fixed random projection, so a pan-peptide
probe is additive in peptide and TCR; per-peptide framing fits one probe per peptide on the TCR vector), and
fine-tuning trains the published model, the peptide encoder and the head together.
"""

from __future__ import annotations

from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn

from tcrbench.data.decode import DecodedPairs, decode_pairs
from tcrbench.data.vocab import PAD, REGION_PEPTIDE, VOCAB_SIZE, TokenBatch
from tcrbench.models.chains import PeptideReceptorHead


class TcrVectoriser(Protocol):
    """What a published model adapter provides: an nn.Module mapping decoded rows to B x width TCR vectors."""

    width: int

    def __call__(self, pairs: DecodedPairs) -> torch.Tensor: ...


class PeptideEncoder(nn.Module):
    """Peptide residues -> one vector: a learned embedding, one width-3 convolution, max over the peptide."""

    def __init__(self, width: int, embed: int = 24) -> None:
        super().__init__()
        self.width = width
        self.tokens = nn.Embedding(VOCAB_SIZE, embed, padding_idx=PAD)
        self.conv = nn.Conv1d(embed, width, kernel_size=3, padding=1)

    def forward(self, batch: TokenBatch) -> torch.Tensor:
        inside = batch.regions == REGION_PEPTIDE  # B x L
        x = self.tokens(batch.ids * inside)  # residues outside the peptide read as padding
        y = F.relu(self.conv(x.transpose(1, 2))).transpose(1, 2)  # B x L x width, >= 0
        return (y * inside.unsqueeze(-1)).amax(dim=1)  # a row without a peptide gives zeros


class PublishedTcrEncoder(nn.Module):
    """TokenBatch -> `[peptide block | TCR vector]`, pooled; the peptide-receptor product head on top."""

    head_dropout: float
    head_hidden: int

    def __init__(
        self,
        tcr: nn.Module,
        peptide_width: int = 64,
        head_hidden: int = 64,
        dropout: float = 0.1,
        lr_scale: float | None = None,
    ) -> None:
        super().__init__()
        self.tcr = tcr
        if lr_scale is not None:  # the published weights fine-tune at lr * lr_scale (training.optim.parameter_groups)
            if not 0.0 < lr_scale <= 1.0:
                raise ValueError(f"lr_scale must be in (0, 1], got {lr_scale}")
            self.tcr.lr_scale = lr_scale  # type: ignore[assignment]  # a float attribute on the module
        self.tcr_width = int(tcr.width)  # type: ignore[arg-type]  # an int attribute the adapter sets
        self.peptide = PeptideEncoder(peptide_width)
        self.block = peptide_width
        self.hidden_size = peptide_width + self.tcr_width
        self.head_hidden = head_hidden
        self.head_dropout = dropout

    def pooled(self, batch: TokenBatch) -> torch.Tensor:
        pairs = decode_pairs(batch)
        receptor = self.tcr(pairs).to(dtype=torch.float32)
        if receptor.shape != (len(batch), self.tcr_width):
            raise ValueError(f"the TCR model gave {tuple(receptor.shape)}, expected ({len(batch)}, {self.tcr_width})")
        return torch.cat([self.peptide(batch), receptor.to(batch.ids.device)], dim=1)

    def forward(self, batch: TokenBatch) -> torch.Tensor:
        """B x L x hidden with the row's vector at every position: a published model gives one vector per row,
        not per-position states, so objectives that read positions (masked-LM) learn nothing from it."""
        vectors = self.pooled(batch)
        return vectors.unsqueeze(1).expand(-1, batch.ids.shape[1], -1)

    def pool(self, hidden: torch.Tensor, batch: TokenBatch) -> torch.Tensor:
        return hidden[:, 0]

    def classifier_head(self, n_outputs: int) -> nn.Module:
        return PeptideReceptorHead(
            self.block, self.head_hidden, n_outputs, self.head_dropout, receptor_width=self.tcr_width
        )
