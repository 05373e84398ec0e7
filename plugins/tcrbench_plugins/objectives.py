"""Built-in pretraining objectives: none (the supervised baseline), ntxent, mlm, clip and vicreg.

An objective owns only its head (projection or LM head) and the recipe: which views to make, which loss to
take from the kernel. It works with any encoder that has `hidden_size`, `forward(batch)` and `pool`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Optional

import torch
import torch.nn.functional as F
from torch import nn

from tcrbench import kernels
from tcrbench.data.vocab import MASK, PAD, REGION_PEPTIDE, REGION_SPECIAL, SEP, TokenBatch
from tcrbench.errors import UsageError
from tcrbench.kernels.masking import bernoulli_mask, bert_replace, pick_one, repack_left
from tcrbench.models.heads import MLMHead, ProjectionHead
from tcrbench.models.pooling import pool as pool_by
from tcrbench.plugins.hookspecs import Register, hookimpl
from tcrbench.plugins.params import param
from tcrbench.plugins.protocols import ObjectiveOutput, PretrainBatch, moves_tokens

Pooling = Literal["encoder", "cls", "mean"]
_POOLING_HELP = "pooled vector: the encoder's own pooling, <cls> (the study's), or the mean over tokens"


def _pooled(encoder: nn.Module, hidden: torch.Tensor, batch: TokenBatch, how: str) -> torch.Tensor:
    return encoder.pool(hidden, batch) if how == "encoder" else pool_by(hidden, batch, how)


def _pooled_views(encoder: nn.Module, views: tuple[TokenBatch, ...], how: str) -> list[torch.Tensor]:
    """One encoder call per view rather than one call on the views stacked.

    On a 2-thread CPU, the small transformer on 2x1024 stacked rows took 15-20% longer than two calls on 1024
    rows each (the bigger activations fall out of cache), which was most of a pretraining step's overhead.
    """
    return [_pooled(encoder, encoder(view), view, how) for view in views]


def _check_positive(name: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{name} must be positive, got {value}")


# ---------------------------------------------------------------- none
class _NoPretraining(nn.Module):
    def forward(self, *args: Any, **kwargs: Any) -> ObjectiveOutput:
        raise RuntimeError("objective 'none' does not pretrain; the runner fine-tunes the fresh encoder directly")


@dataclass
class NoPretraining:
    name: ClassVar[str] = "none"
    description: ClassVar[str] = "no pretraining: the supervised baseline every other objective is compared with"
    uses_labels: ClassVar[bool] = False
    pretrains: ClassVar[bool] = False

    def build(self, encoder: nn.Module) -> nn.Module:
        return _NoPretraining()


# ---------------------------------------------------------------- ntxent (SimCLR)
class _NTXentModule(nn.Module):
    def __init__(self, spec: NTXent, encoder: nn.Module) -> None:
        super().__init__()
        self.spec = spec
        hidden = encoder.hidden_size
        self.projection = ProjectionHead(hidden, spec.proj_hidden or hidden, spec.proj_dim)

    def embed(self, encoder: nn.Module, views: TokenBatch) -> torch.Tensor:
        return self.projection(_pooled(encoder, encoder(views), views, self.spec.pooling))

    def forward(
        self, encoder: nn.Module, batch: PretrainBatch, augmentation: Any, generator: torch.Generator
    ) -> ObjectiveOutput:
        tokens = batch.tokens
        view1 = augmentation(tokens, generator).batch
        view2 = augmentation(tokens, generator).batch
        t = self.spec.temperature
        if self.spec.chunk > 0:
            # embeddings chunk by chunk without a graph, the loss on all of them, then re-encode with the
            # cached gradients: memory grows with the chunk, the gradients are the full batch's
            loss = kernels.gradcache(
                lambda view: self.embed(encoder, view),
                (view1, view2),
                lambda z1, z2: kernels.nt_xent(z1, z2, t),
                self.spec.chunk,
            )
            return ObjectiveOutput(loss, backward_done=True)
        z1, z2 = (self.projection(p) for p in _pooled_views(encoder, (view1, view2), self.spec.pooling))
        return ObjectiveOutput(kernels.nt_xent(z1, z2, t))


@dataclass
class NTXent:
    temperature: float = param(0.5, help="softmax temperature of NT-Xent (the study's 0.5)")
    pooling: Pooling = param("encoder", help=_POOLING_HELP)
    proj_dim: int = param(128, help="output width of the projection head")
    proj_hidden: Optional[int] = param(None, help="hidden width of the projection head (default: encoder's)")
    chunk: int = param(0, help="gradient caching: encode this many rows at a time (0 = off; saves memory)")
    name: ClassVar[str] = "ntxent"
    description: ClassVar[str] = "SimCLR: two augmented views, projection head, NT-Xent (the study's objective)"
    uses_labels: ClassVar[bool] = False
    pretrains: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _check_positive("temperature", self.temperature)
        _check_positive("proj_dim", self.proj_dim)
        if self.chunk < 0:
            raise ValueError(f"chunk must be 0 (off) or positive, got {self.chunk}")

    def build(self, encoder: nn.Module) -> nn.Module:
        return _NTXentModule(self, encoder)


# ---------------------------------------------------------------- mlm
def _is_identity(augmentation: Any) -> bool:
    if augmentation is None or getattr(augmentation, "name", None) == "identity":
        return True
    parts = getattr(augmentation, "parts", None)
    return bool(parts) and all(_is_identity(p) for p in parts)


class _MLMModule(nn.Module):
    def __init__(self, spec: MLM, encoder: nn.Module) -> None:
        super().__init__()
        self.spec = spec
        self.head = MLMHead(encoder.hidden_size)

    def corrupt(
        self, tokens: TokenBatch, augmentation: Any, generator: torch.Generator
    ) -> tuple[TokenBatch, torch.Tensor]:
        if _is_identity(augmentation):
            # standard BERT masking; one extra target per row so every pair contributes
            allowed = tokens.region_mask(self.spec.region) & (tokens.ids != MASK)
            selected = bernoulli_mask(allowed, self.spec.p, generator) | pick_one(allowed, generator)
            return tokens.with_ids(bert_replace(tokens.ids, selected, generator)), selected
        if moves_tokens(augmentation):
            raise UsageError(
                f"objective 'mlm' needs an augmentation that keeps positions; "
                f"{getattr(augmentation, 'spec', None) or augmentation.name!r} re-packs tokens "
                "(crop, delete, chain_drop), so its changed positions are not prediction targets"
            )
        out = augmentation(tokens, generator)
        return out.batch, out.changed

    def forward(
        self, encoder: nn.Module, batch: PretrainBatch, augmentation: Any, generator: torch.Generator
    ) -> ObjectiveOutput:
        corrupted, changed = self.corrupt(batch.tokens, augmentation, generator)
        # logits only at the changed positions; a batch with none gives an exact, differentiable 0
        loss = kernels.masked_lm_loss(encoder(corrupted), batch.tokens.ids, changed, self.head)
        return ObjectiveOutput(loss, {"targets": float(changed.sum())})


@dataclass
class MLM:
    p: float = param(0.15, help="masking rate when the augmentation is identity (BERT 80/10/10)")
    region: Literal["peptide", "tcr", "both"] = param("both", help="where identity's BERT masking may fall")
    name: ClassVar[str] = "mlm"
    description: ClassVar[str] = "masked-LM: predict the tokens the augmentation changed (identity: BERT 15%)"
    uses_labels: ClassVar[bool] = False
    pretrains: ClassVar[bool] = True
    needs_positions: ClassVar[bool] = True  # reads per-position states: a published model has none to give

    def __post_init__(self) -> None:
        if not 0.0 <= self.p <= 1.0:
            raise ValueError(f"p must be between 0 and 1, got {self.p}")

    def build(self, encoder: nn.Module) -> nn.Module:
        return _MLMModule(self, encoder)


# ---------------------------------------------------------------- clip
def peptide_view(tokens: TokenBatch) -> TokenBatch:
    """`<cls> peptide <sep>` of each pair: everything after the first <sep> becomes padding."""
    is_sep = tokens.ids == SEP
    head = (is_sep.long().cumsum(dim=1) - is_sep.long()) == 0
    return TokenBatch(
        tokens.ids.masked_fill(~head, PAD),
        tokens.segments.masked_fill(~head, 0),
        tokens.regions.masked_fill(~head, REGION_SPECIAL),
    )


def tcr_view(tokens: TokenBatch) -> TokenBatch:
    """`<cls> cdr3b <sep> [cdr3a <sep>]` of each pair (the tokenizer's receptor layout), re-packed left."""
    is_sep = tokens.ids == SEP
    first_sep = is_sep & (is_sep.long().cumsum(dim=1) == 1)
    keep = ~((tokens.regions == REGION_PEPTIDE) | first_sep)
    ids, segments, regions = repack_left(tokens.ids, keep, tokens.segments, tokens.regions, pad_id=PAD, fill=0)
    return TokenBatch(ids, segments, regions)


class _CLIPModule(nn.Module):
    def __init__(self, spec: CLIP, encoder: nn.Module) -> None:
        super().__init__()
        self.spec = spec
        hidden = encoder.hidden_size
        self.peptide_projection = ProjectionHead(hidden, hidden, spec.proj_dim)
        self.tcr_projection = ProjectionHead(hidden, hidden, spec.proj_dim)

    def forward(
        self, encoder: nn.Module, batch: PretrainBatch, augmentation: Any, generator: torch.Generator
    ) -> ObjectiveOutput:
        if batch.labels is None:
            raise UsageError(
                "objective 'clip' uses binding labels but the batch has none; it needs the training "
                "fold's positive pairs with their labels"
            )
        positive = batch.labels > 0
        if not bool(positive.all()):
            batch = batch.index(positive.nonzero().squeeze(1))
        tokens = batch.tokens if augmentation is None else augmentation(batch.tokens, generator).batch
        pooled = _pooled_views(encoder, (peptide_view(tokens), tcr_view(tokens)), self.spec.pooling)
        n = len(tokens)
        peptides, receptors = self.peptide_projection(pooled[0]), self.tcr_projection(pooled[1])
        # rows of the same peptide (same group id) are positives for each other, in both directions
        loss = kernels.info_nce(peptides, receptors, self.spec.temperature, positives=batch.groups, symmetric=True)
        return ObjectiveOutput(loss, {"pairs": float(n), "peptides": float(batch.groups.unique().numel())})


@dataclass
class CLIP:
    temperature: float = param(0.1, help="softmax temperature of the symmetric InfoNCE")
    pooling: Pooling = param("encoder", help=_POOLING_HELP)
    proj_dim: int = param(128, help="output width of the peptide and TCR projection heads")
    name: ClassVar[str] = "clip"
    description: ClassVar[str] = "symmetric InfoNCE between peptide and TCR views of binding pairs (uses labels)"
    uses_labels: ClassVar[bool] = True
    pretrains: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _check_positive("temperature", self.temperature)
        _check_positive("proj_dim", self.proj_dim)

    def build(self, encoder: nn.Module) -> nn.Module:
        return _CLIPModule(self, encoder)


# ---------------------------------------------------------------- vicreg
def vicreg_loss(
    z1: torch.Tensor,
    z2: torch.Tensor,
    sim_weight: float = 25.0,
    var_weight: float = 25.0,
    cov_weight: float = 1.0,
    eps: float = 1e-4,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Bardes et al. (2022): invariance (MSE between views) + variance (hinge keeping each dimension's std
    at 1) + covariance (squared off-diagonal covariances / D). No negatives: collapse is what the variance
    and covariance terms prevent. Returns the loss and its three terms."""
    if z1.shape != z2.shape or z1.dim() != 2 or z1.shape[0] < 2:
        raise ValueError(f"vicreg needs two N x D embeddings with N >= 2, got {tuple(z1.shape)}, {tuple(z2.shape)}")
    n, d = z1.shape
    z1, z2 = z1.float(), z2.float()
    invariance = F.mse_loss(z1, z2)
    variance = z1.new_zeros(())
    covariance = z1.new_zeros(())
    for z in (z1, z2):
        z = z - z.mean(dim=0)
        std = torch.sqrt(z.var(dim=0) + eps)
        variance = variance + F.relu(1.0 - std).mean() / 2
        cov = (z.T @ z) / (n - 1)
        covariance = covariance + (cov.square().sum() - cov.diagonal().square().sum()) / d
    loss = sim_weight * invariance + var_weight * variance + cov_weight * covariance
    terms = {
        "invariance": float(invariance.detach()),
        "variance": float(variance.detach()),
        "covariance": float(covariance.detach()),
    }
    return loss, terms


class _VICRegModule(nn.Module):
    def __init__(self, spec: VICReg, encoder: nn.Module) -> None:
        super().__init__()
        self.spec = spec
        hidden = encoder.hidden_size
        self.expander = ProjectionHead(hidden, spec.proj_hidden or 2 * spec.proj_dim, spec.proj_dim)

    def forward(
        self, encoder: nn.Module, batch: PretrainBatch, augmentation: Any, generator: torch.Generator
    ) -> ObjectiveOutput:
        tokens = batch.tokens
        views = (augmentation(tokens, generator).batch, augmentation(tokens, generator).batch)
        z1, z2 = (self.expander(p) for p in _pooled_views(encoder, views, self.spec.pooling))
        s = self.spec
        loss, terms = vicreg_loss(z1, z2, s.sim_weight, s.var_weight, s.cov_weight)
        return ObjectiveOutput(loss, terms)


@dataclass
class VICReg:
    sim_weight: float = param(25.0, help="weight of the invariance (MSE between views) term")
    var_weight: float = param(25.0, help="weight of the variance (std hinge) term")
    cov_weight: float = param(1.0, help="weight of the covariance (decorrelation) term")
    pooling: Pooling = param("encoder", help=_POOLING_HELP)
    proj_dim: int = param(128, help="output width of the expander")
    proj_hidden: Optional[int] = param(None, help="hidden width of the expander (default: 2 x proj_dim)")
    name: ClassVar[str] = "vicreg"
    description: ClassVar[str] = "variance-invariance-covariance regularisation of two views (no negatives)"
    uses_labels: ClassVar[bool] = False
    pretrains: ClassVar[bool] = True

    def __post_init__(self) -> None:
        for name in ("sim_weight", "var_weight", "cov_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        _check_positive("proj_dim", self.proj_dim)

    def build(self, encoder: nn.Module) -> nn.Module:
        return _VICRegModule(self, encoder)


BUILTIN_OBJECTIVES: tuple[type, ...] = (NoPretraining, NTXent, MLM, CLIP, VICReg)


@hookimpl
def register_objectives(register: Register) -> None:
    for cls in BUILTIN_OBJECTIVES:
        register(cls)
