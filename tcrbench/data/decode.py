"""Token batches back to sequences, for encoders that bring their own tokenizer (SCEPTR, Hugging Face models).

Such an encoder still receives the runner's `TokenBatch`, so every protocol (probe, fine-tune, dynamics) and every
cache works unchanged; it reads the sequences back from the ids and tokenizes them its own way. Vectorised: one
gather per region, no Python loop over positions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tcrbench.data.vocab import (
    AMINO_ACIDS,
    FIRST_AA,
    REGION_CDR3A,
    REGION_CDR3B,
    REGION_PEPTIDE,
    VOCAB_SIZE,
    TokenBatch,
)

# id -> ASCII letter; masked or unknown residues read as X, specials and padding as nothing
_LETTERS = np.zeros(VOCAB_SIZE, dtype=np.uint8)
_LETTERS[FIRST_AA:] = np.frombuffer(AMINO_ACIDS.encode(), dtype=np.uint8)
_UNKNOWN = ord("X")


@dataclass(frozen=True)
class DecodedPairs:
    """The sequences of each row of a batch; a chain the row does not have is None."""

    peptide: list[str | None]
    cdr3b: list[str | None]
    cdr3a: list[str | None]

    def __len__(self) -> int:
        return len(self.peptide)


def _region_strings(ids: np.ndarray, regions: np.ndarray, region: int) -> list[str | None]:
    inside = regions == region
    if not inside.any():
        return [None] * len(ids)
    letters = np.where(ids < VOCAB_SIZE, _LETTERS[np.clip(ids, 0, VOCAB_SIZE - 1)], 0)
    letters = np.where(inside & (letters == 0), _UNKNOWN, letters)  # <mask>/<unk> inside a region
    letters = np.where(inside, letters, 0).astype(np.uint8)
    # move each row's region to the front (stable, so residues keep their order); trailing NULs end the string
    order = np.argsort(~inside, axis=1, kind="stable")
    packed = np.ascontiguousarray(np.take_along_axis(letters, order, axis=1))
    width = packed.shape[1]
    raw = packed.view(f"S{width}").reshape(-1)
    present = inside.any(axis=1)
    return [s.decode() if keep else None for s, keep in zip(raw.tolist(), present.tolist())]


def decode_pairs(batch: TokenBatch) -> DecodedPairs:
    """The peptide, CDR3β and CDR3α of every row, as the tokenizer read them."""
    ids = batch.ids.detach().cpu().numpy()
    regions = batch.regions.detach().cpu().numpy()
    return DecodedPairs(
        peptide=_region_strings(ids, regions, REGION_PEPTIDE),
        cdr3b=_region_strings(ids, regions, REGION_CDR3B),
        cdr3a=_region_strings(ids, regions, REGION_CDR3A),
    )
