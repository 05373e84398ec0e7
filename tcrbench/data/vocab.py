"""Token vocabulary and the batch type every model, augmentation and objective shares.

One fixed vocabulary keeps checkpoints, plugins and the tokenizer interchangeable: ids never depend on the data.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"
SPECIALS = ("<pad>", "<cls>", "<sep>", "<mask>", "<unk>")
PAD, CLS, SEP, MASK, UNK = range(len(SPECIALS))
FIRST_AA = len(SPECIALS)
VOCAB = SPECIALS + tuple(AMINO_ACIDS)
VOCAB_SIZE = len(VOCAB)
AA_IDS = torch.arange(FIRST_AA, VOCAB_SIZE)

# Region ids say which part of the pair a position belongs to; augmentations use them to decide what they
# may touch, chain_drop uses them to find a chain, segment ids are derived from them.
REGION_SPECIAL, REGION_PEPTIDE, REGION_CDR3B, REGION_CDR3A = 0, 1, 2, 3
REGION_NAMES = {
    "peptide": (REGION_PEPTIDE,),
    "tcr": (REGION_CDR3B, REGION_CDR3A),
    "both": (REGION_PEPTIDE, REGION_CDR3B, REGION_CDR3A),
}


@dataclass(frozen=True)
class TokenBatch:
    """Fixed-width token ids of ``<cls> peptide <sep> cdr3b <sep> [cdr3a <sep>]``.

    ids: B x L long; segments: B x L long (0 = cls/peptide/first sep, 1 = the TCR chains and their seps);
    regions: B x L long (REGION_* per position; specials and padding are REGION_SPECIAL).
    """

    ids: torch.Tensor
    segments: torch.Tensor
    regions: torch.Tensor

    @property
    def attention_mask(self) -> torch.Tensor:
        return self.ids != PAD

    @property
    def amino_acid_mask(self) -> torch.Tensor:
        return self.regions != REGION_SPECIAL

    def region_mask(self, which: str = "both") -> torch.Tensor:
        """Positions an augmentation may touch: amino acids of the peptide, the TCR chains, or both."""
        if which not in REGION_NAMES:
            raise ValueError(f"region must be one of {sorted(REGION_NAMES)}, got {which!r}")
        mask = torch.zeros_like(self.ids, dtype=torch.bool)
        for r in REGION_NAMES[which]:
            mask |= self.regions == r
        return mask

    def __len__(self) -> int:
        return self.ids.shape[0]

    def to(self, device: torch.device | str) -> TokenBatch:
        return TokenBatch(self.ids.to(device), self.segments.to(device), self.regions.to(device))

    def index(self, idx: torch.Tensor | slice) -> TokenBatch:
        return TokenBatch(self.ids[idx], self.segments[idx], self.regions[idx])

    def with_ids(self, ids: torch.Tensor) -> TokenBatch:
        return replace(self, ids=ids)
