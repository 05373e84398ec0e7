"""`+` on the command line: augmentations applied in order, objectives summed with weights (as SCEPTR mixes
contrastive and masked-LM losses)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from tcrbench.data.vocab import TokenBatch
from tcrbench.errors import UsageError
from tcrbench.plugins.protocols import Augmented, ObjectiveOutput, PretrainBatch


@dataclass
class ComposedAugmentation:
    """`--aug a+b`: the parts applied in order, with the union of what they changed."""

    parts: tuple[Any, ...]
    spec: str
    name: ClassVar[str] = "composed"
    description: ClassVar[str] = "augmentations applied in order"

    @property
    def moves_tokens(self) -> bool:
        """True when any part re-packs positions, so masked-LM refuses the whole composition."""
        return any(getattr(p, "moves_tokens", False) for p in self.parts)

    def __call__(self, batch: TokenBatch, generator: torch.Generator) -> Augmented:
        changed = torch.zeros_like(batch.ids, dtype=torch.bool)
        for part in self.parts:
            out = part(batch, generator)
            # a part that moves tokens (crop, delete) re-packs positions, so earlier flags no longer line up
            changed = out.changed if getattr(part, "moves_tokens", False) else out.changed | changed
            batch = out.batch
        return Augmented(batch, changed)


def compose_augmentations(parts: list[Any], spec: str) -> ComposedAugmentation:
    """The augmentation `spec` names with `+`, from its already-built parts."""
    return ComposedAugmentation(tuple(parts), spec)


class _WeightedSum(nn.Module):
    """The composed objective's module: each part's loss, weighted and summed, and each part's logs."""

    def __init__(self, modules: list[nn.Module], names: list[str], weights: list[float]) -> None:
        super().__init__()
        self.parts = nn.ModuleList(modules)
        self.names = names
        self.weights = weights

    def forward(
        self, encoder: nn.Module, batch: PretrainBatch, augmentation: Any, generator: torch.Generator
    ) -> ObjectiveOutput:
        total: torch.Tensor | None = None
        logs: dict[str, float] = {}
        for module, name, w in zip(self.parts, self.names, self.weights):
            out = module(encoder, batch, augmentation, generator)
            if out.backward_done:
                raise UsageError(f"objective {name!r} back-propagates itself (gradient caching) and cannot be summed")
            logs[f"{name}_loss"] = float(out.loss.detach())
            logs.update({f"{name}_{k}": v for k, v in out.logs.items()})
            total = w * out.loss if total is None else total + w * out.loss
        assert total is not None
        return ObjectiveOutput(total, logs)


@dataclass
class ComposedObjective:
    """`--objective a+b:weight=0.5`: a weighted sum of objectives, as SCEPTR mixes contrastive and masked-LM."""

    parts: tuple[Any, ...]
    weights: tuple[float, ...]
    spec: str
    name: ClassVar[str] = "composed"
    description: ClassVar[str] = "weighted sum of objectives"
    pretrains: ClassVar[bool] = True

    @property
    def uses_labels(self) -> bool:
        """True when any part reads binding labels: then the sum is not self-supervised either."""
        return any(getattr(p, "uses_labels", False) for p in self.parts)

    def build(self, encoder: nn.Module) -> nn.Module:
        return _WeightedSum([p.build(encoder) for p in self.parts], [p.name for p in self.parts], list(self.weights))


def compose_objectives(parts: list[Any], weights: list[float], spec: str) -> ComposedObjective:
    """The objective `spec` names with `+`; `none` (no pretraining) cannot be part of a sum."""
    if any(not getattr(p, "pretrains", True) for p in parts):
        raise UsageError(f"{spec!r}: objective 'none' cannot be combined with others")
    return ComposedObjective(tuple(parts), tuple(weights), spec)
