"""Built-in augmentations: batched corruption of token ids, deterministic given a torch.Generator.

Each one draws its random numbers for the whole B x L batch at once and touches only amino-acid positions of
the chosen region. Those that keep positions (identity, mask1, mask, substitute) return `changed` exactly where
they corrupted; those that re-pack rows (crop, delete, chain_drop) declare `moves_tokens = True`, keep the
layout `<cls> pep <sep> cdr3b <sep> [cdr3a <sep>] <pad>...` valid, and flag every position whose id differs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import torch

from tcrbench.data.blosum import substitution_probs
from tcrbench.data.vocab import (
    FIRST_AA,
    MASK,
    PAD,
    REGION_CDR3A,
    REGION_CDR3B,
    REGION_NAMES,
    REGION_PEPTIDE,
    REGION_SPECIAL,
    SEP,
    VOCAB_SIZE,
    TokenBatch,
)
from tcrbench.kernels.masking import (
    bernoulli_mask,
    bert_replace,
    mask_one,
    pick_one,
    rank_in_region,
    repack_left,
)
from tcrbench.plugins.hookspecs import Register, hookimpl
from tcrbench.plugins.params import param
from tcrbench.plugins.protocols import Augmented

Region = Literal["peptide", "tcr", "both"]
_REGION_HELP = "which amino acids it may touch: peptide, tcr (the CDR3 chains) or both"


def _check_probability(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1, got {value}")


def _touchable(batch: TokenBatch, region: str) -> torch.Tensor:
    """Amino-acid positions of the region that are not already <mask> (so each change is a real change)."""
    return batch.region_mask(region) & (batch.ids != MASK)


def _repacked(batch: TokenBatch, keep: torch.Tensor) -> Augmented:
    # padding has segment 0 and region REGION_SPECIAL (both 0), so one fill value serves both
    ids, segments, regions = repack_left(
        batch.ids, keep, batch.segments, batch.regions, pad_id=PAD, fill=REGION_SPECIAL
    )
    out = TokenBatch(ids, segments, regions)
    return Augmented(out, ids != batch.ids)


@dataclass
class Identity:
    name: ClassVar[str] = "identity"
    description: ClassVar[str] = "no corruption (with mlm: standard 15% BERT masking)"

    def __call__(self, batch: TokenBatch, generator: torch.Generator) -> Augmented:
        return Augmented(batch, torch.zeros_like(batch.ids, dtype=torch.bool))


@dataclass
class Mask1:
    region: Region = param("both", help=_REGION_HELP)
    name: ClassVar[str] = "mask1"
    description: ClassVar[str] = "exactly one amino acid per pair becomes <mask> (the study's augmentation)"

    def __call__(self, batch: TokenBatch, generator: torch.Generator) -> Augmented:
        ids, changed = mask_one(batch.ids, _touchable(batch, self.region), generator)
        return Augmented(batch.with_ids(ids), changed)


@dataclass
class Mask:
    p: float = param(0.15, help="probability that each amino acid is selected")
    bert: bool = param(False, help="BERT 80/10/10: of the selected, 80% <mask>, 10% random amino acid, 10% kept")
    region: Region = param("both", help=_REGION_HELP)
    name: ClassVar[str] = "mask"
    description: ClassVar[str] = "each amino acid becomes <mask> with probability p (optionally BERT 80/10/10)"

    def __post_init__(self) -> None:
        _check_probability("p", self.p)

    def __call__(self, batch: TokenBatch, generator: torch.Generator) -> Augmented:
        selected = bernoulli_mask(_touchable(batch, self.region), self.p, generator)
        if self.bert:
            ids = bert_replace(batch.ids, selected, generator, mask_id=MASK, vocab_range=(FIRST_AA, VOCAB_SIZE))
        else:
            ids = batch.ids.masked_fill(selected, MASK)
        # with bert, the kept 10% are unchanged ids but still targets: `changed` means "selected"
        return Augmented(batch.with_ids(ids), selected)


@dataclass
class Substitute:
    p: float = param(0.15, help="probability that each amino acid is replaced")
    region: Region = param("both", help=_REGION_HELP)
    name: ClassVar[str] = "substitute"
    description: ClassVar[str] = "amino acids replaced with probability p by a BLOSUM62-likely different residue"

    def __post_init__(self) -> None:
        _check_probability("p", self.p)

    def __call__(self, batch: TokenBatch, generator: torch.Generator) -> Augmented:
        ids = batch.ids
        is_aa = (ids >= FIRST_AA) & (ids < VOCAB_SIZE)
        selected = bernoulli_mask(batch.region_mask(self.region) & is_aa, self.p, generator)
        # inverse-CDF draw from row P(. | current residue), for every position at once
        cdf = substitution_probs().to(ids.device).cumsum(dim=1)
        cdf[:, -1] = 1.0
        current = (ids - FIRST_AA).clamp(0, VOCAB_SIZE - FIRST_AA - 1)
        u = torch.rand(ids.shape, generator=generator, device=ids.device)
        drawn = (u.unsqueeze(-1) >= cdf[current]).sum(dim=-1).clamp_max(VOCAB_SIZE - FIRST_AA - 1) + FIRST_AA
        return Augmented(batch.with_ids(torch.where(selected, drawn, ids)), selected)


def _region_ids(region: str) -> tuple[int, ...]:
    return REGION_NAMES[region]


@dataclass
class Crop:
    min_fraction: float = param(0.7, help="each cropped part keeps at least this fraction of its residues")
    region: Region = param("tcr", help="which parts are cropped, each independently: peptide, tcr or both")
    name: ClassVar[str] = "crop"
    description: ClassVar[str] = "keeps a random contiguous window of each CDR3 (>= min_fraction), re-packed"
    moves_tokens: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if not 0.0 < self.min_fraction <= 1.0:
            raise ValueError(f"min_fraction must be in (0, 1], got {self.min_fraction}")

    def __call__(self, batch: TokenBatch, generator: torch.Generator) -> Augmented:
        regions = batch.regions
        u = torch.rand((len(batch), 3, 2), generator=generator, device=regions.device)
        keep = torch.ones_like(regions, dtype=torch.bool)
        for k, r in enumerate(_region_ids(self.region)):
            in_r = regions == r
            n = in_r.sum(dim=1)
            # float64 and a tiny slack so 0.7 x 10 keeps 7, not 8
            min_keep = torch.ceil(n.double() * self.min_fraction - 1e-9).long().clamp(min=1).minimum(n)
            width = (min_keep + (u[:, k, 0] * (n - min_keep + 1)).long()).minimum(n)
            start = (u[:, k, 1] * (n - width + 1)).long().minimum(n - width)
            rank = rank_in_region(in_r)
            window = (rank >= start[:, None]) & (rank < (start + width)[:, None])
            keep &= ~in_r | window
        return _repacked(batch, keep)


@dataclass
class Delete:
    p: float = param(0.1, help="probability that each amino acid is deleted")
    region: Region = param("both", help=_REGION_HELP)
    name: ClassVar[str] = "delete"
    description: ClassVar[str] = "drops amino acids with probability p (each part keeps one), re-packed"
    moves_tokens: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _check_probability("p", self.p)

    def __call__(self, batch: TokenBatch, generator: torch.Generator) -> Augmented:
        drop = bernoulli_mask(batch.region_mask(self.region), self.p, generator)
        for r in (
            REGION_PEPTIDE,
            REGION_CDR3B,
            REGION_CDR3A,
        ):  # every part keeps at least one residue: rescue one where all would go
            in_r = batch.regions == r
            rescue = pick_one(in_r, generator)
            emptied = ~(in_r & ~drop).any(dim=1, keepdim=True)
            drop &= ~(rescue & emptied)
        return _repacked(batch, ~drop)


@dataclass
class ChainDrop:
    p: float = param(0.5, help="probability of dropping a chain from a pair that has both")
    chain: Literal["random", "alpha", "beta"] = param("random", help="which chain to drop")
    name: ClassVar[str] = "chain_drop"
    description: ClassVar[str] = "when both CDR3a and CDR3b are present, drops one chain with probability p"
    moves_tokens: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _check_probability("p", self.p)

    def __call__(self, batch: TokenBatch, generator: torch.Generator) -> Augmented:
        regions = batch.regions
        has_a = (regions == REGION_CDR3A).any(dim=1)
        has_b = (regions == REGION_CDR3B).any(dim=1)
        u = torch.rand((len(batch), 2), generator=generator, device=regions.device)
        dropping = has_a & has_b & (u[:, 0] < self.p)
        drop_alpha = {"alpha": torch.ones_like(has_a), "beta": torch.zeros_like(has_a), "random": u[:, 1] < 0.5}[
            self.chain
        ]
        target = torch.where(drop_alpha, REGION_CDR3A, REGION_CDR3B)
        in_chain = regions == target[:, None]
        pos = torch.arange(regions.shape[1], device=regions.device)
        last = torch.where(in_chain, pos, -1).max(dim=1).values
        closing_sep = (pos == (last + 1)[:, None]) & (batch.ids == SEP)
        drop = dropping[:, None] & (in_chain | closing_sep)
        return _repacked(batch, ~drop)


BUILTIN_AUGMENTATIONS: tuple[type, ...] = (Identity, Mask1, Mask, Substitute, Crop, Delete, ChainDrop)


@hookimpl
def register_augmentations(register: Register) -> None:
    for cls in BUILTIN_AUGMENTATIONS:
        register(cls)
