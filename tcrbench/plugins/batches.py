"""Tiny valid token batches and the layout check, for contract checks and for tests of plugins.

A check needs inputs shaped exactly like the runner's, so the batches come from the real tokenizer; the layout
check is the reference a re-packing augmentation (crop, delete, chain_drop) is held to.
"""

from __future__ import annotations

import torch

from tcrbench.data.vocab import (
    AMINO_ACIDS,
    CLS,
    FIRST_AA,
    MASK,
    PAD,
    REGION_CDR3A,
    REGION_CDR3B,
    REGION_PEPTIDE,
    REGION_SPECIAL,
    SEP,
    UNK,
    VOCAB_SIZE,
    TokenBatch,
)

PEPTIDE_LENGTHS, CDR3B_LENGTHS, CDR3A_LENGTHS = (8, 11), (10, 17), (9, 16)


def _random_seqs(n: int, lengths: tuple[int, int], generator: torch.Generator) -> list[str]:
    sizes = torch.randint(lengths[0], lengths[1] + 1, (n,), generator=generator).tolist()
    letters = torch.randint(0, len(AMINO_ACIDS), (sum(sizes),), generator=generator).tolist()
    out, start = [], 0
    for size in sizes:
        out.append("".join(AMINO_ACIDS[i] for i in letters[start : start + size]))
        start += size
    return out


def random_token_batch(
    batch_size: int, generator: torch.Generator, with_alpha: bool | float = False, width: int | None = None
) -> TokenBatch:
    """Random pairs laid out `<cls> pep <sep> cdr3b <sep> [cdr3a <sep>] <pad>...` by the real tokenizer.

    with_alpha: False (no alpha chains), True (every row), or a probability per row. Lengths are peptide
    8-11, CDR3b 10-17, CDR3a 9-16, so a batch is at most 48 tokens wide unless `width` asks for more.
    """
    from tcrbench.data.tokenizer import Tokenizer

    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    peptides = _random_seqs(batch_size, PEPTIDE_LENGTHS, generator)
    cdr3b = _random_seqs(batch_size, CDR3B_LENGTHS, generator)
    cdr3a: list[str | None] | None = None
    if with_alpha is not False:
        prob = 1.0 if with_alpha is True else float(with_alpha)
        present = (torch.rand(batch_size, generator=generator) < prob).tolist()
        alphas = _random_seqs(batch_size, CDR3A_LENGTHS, generator)
        cdr3a = [a if keep else None for a, keep in zip(alphas, present)]
        if not any(present):
            cdr3a = None
    return Tokenizer(width).encode_pairs(peptides, cdr3b, cdr3a)


_SEGMENT_OF = {REGION_PEPTIDE: 0, REGION_CDR3B: 1, REGION_CDR3A: 1}
_AA_IDS = frozenset(range(FIRST_AA, VOCAB_SIZE)) | {MASK, UNK}


def _row_problem(i_row: list[int], s_row: list[int], r_row: list[int]) -> str | None:
    """What is wrong with one row's layout, or None."""
    if not i_row or i_row[0] != CLS or r_row[0] != REGION_SPECIAL or s_row[0] != 0:
        return "does not start with <cls> (region special, segment 0)"
    pos, last_region, n = 1, 0, len(i_row)
    while pos < n and i_row[pos] != PAD:
        region = r_row[pos]
        if region not in _SEGMENT_OF or region <= last_region:
            return f"position {pos}: region {region} out of order after region {last_region}"
        start = pos
        while pos < n and r_row[pos] == region:
            if i_row[pos] not in _AA_IDS:
                return f"position {pos}: token {i_row[pos]} in region {region} is not an amino acid"
            if s_row[pos] != _SEGMENT_OF[region]:
                return f"position {pos}: segment {s_row[pos]} for region {region}"
            pos += 1
        if pos == start:
            return f"position {pos}: empty part"
        if pos >= n or i_row[pos] != SEP or r_row[pos] != REGION_SPECIAL or s_row[pos] != _SEGMENT_OF[region]:
            return f"position {pos}: part of region {region} is not closed by <sep>"
        pos += 1
        last_region = region
    if last_region == 0:
        return "has no sequence at all"
    if (
        any(t != PAD for t in i_row[pos:])
        or any(r != REGION_SPECIAL for r in r_row[pos:])
        or any(s != 0 for s in s_row[pos:])
    ):
        return f"position {pos}: padding is followed by tokens, or has a region/segment"
    return None


def validate_layout(batch: TokenBatch) -> None:
    """Raise ValueError naming the first row that is not `<cls> part <sep> [part <sep>]... <pad>...`.

    Parts are non-empty runs of one region, in canonical order (peptide, CDR3b, CDR3a; any may be absent after
    a chain is dropped); segments are 0 for <cls>, padding and the peptide with its <sep>, 1 for the chains.
    A reference check for tests, so it loops over rows.
    """
    ids, seg, reg = batch.ids.tolist(), batch.segments.tolist(), batch.regions.tolist()
    for row, (i_row, s_row, r_row) in enumerate(zip(ids, seg, reg)):
        problem = _row_problem(i_row, s_row, r_row)
        if problem is not None:
            raise ValueError(f"row {row}: {problem} (ids {i_row})")
