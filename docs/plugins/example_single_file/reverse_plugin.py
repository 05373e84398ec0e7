"""A tcrbench augmentation in one file: reverse the residue order of each part of a pair.

Load it with `tcrbench --plugins-dir DIR ...` where DIR holds this file. The tutorial in
docs/plugins/tutorial.md builds it step by step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import torch

from tcrbench import REGION_NAMES, Augmented, TokenBatch, hookimpl, param


@dataclass
class Reverse:
    p: float = param(0.5, help="probability that a pair is reversed")
    region: Literal["peptide", "tcr", "both"] = param("tcr", help="which parts are reversed")
    name: ClassVar[str] = "reverse"
    description: ClassVar[str] = "reverses the residue order of each chosen part, for a fraction p of pairs"

    def __post_init__(self) -> None:
        if not 0.0 <= self.p <= 1.0:
            raise ValueError(f"p must be between 0 and 1, got {self.p}")

    def __call__(self, batch: TokenBatch, generator: torch.Generator) -> Augmented:
        ids, regions = batch.ids, batch.regions
        # one random number per pair, from the generator we are given: same seed, same output
        chosen = torch.rand(len(batch), generator=generator, device=ids.device) < self.p
        positions = torch.arange(ids.shape[1], device=ids.device).expand_as(ids)
        source = positions.clone()
        for region in REGION_NAMES[self.region]:
            inside = (regions == region) & chosen[:, None]
            length = inside.sum(dim=1, keepdim=True)
            first = torch.where(inside, positions, ids.shape[1]).min(dim=1, keepdim=True).values
            rank = inside.long().cumsum(dim=1) - 1  # 0, 1, 2, ... along the part
            # position first + rank takes its token from first + (length - 1 - rank)
            source = torch.where(inside, first + length - 1 - rank, source)
        new_ids = ids.gather(1, source)
        return Augmented(batch.with_ids(new_ids), new_ids != ids)


@hookimpl
def register_augmentations(register):
    register(Reverse)
