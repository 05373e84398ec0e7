"""Sequences to fixed-width `TokenBatch` tensors and back, without a Python loop over characters.

Each row is first written as one string with one-byte stand-ins for the specials (control characters 1 for
<cls> and 2 for <sep>), by polars' vectorised string concatenation. The whole column then becomes one
byte buffer, a 256-entry lookup table turns bytes into ids, and a boolean mask scatters the ids into the padded
B x L matrix in one assignment. Regions and segments follow from a cumulative count of separators per row.
On 130k pairs this is about 40x faster than a per-row Python loop (see the data docs for the measurement).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
import torch

from tcrbench.data.schema import CDR3A, CDR3B, PEPTIDE
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
    TokenBatch,
)
from tcrbench.errors import UsageError

# Control characters stand in for the specials: no sequence, valid or not, can contain them by accident.
_CLS_CHAR, _SEP_CHAR = "\x01", "\x02"
_CLS_BYTE, _SEP_BYTE = ord(_CLS_CHAR), ord(_SEP_CHAR)
REGION_OF: dict[str, int] = {PEPTIDE: REGION_PEPTIDE, CDR3B: REGION_CDR3B, CDR3A: REGION_CDR3A}
NAME_OF_REGION = {v: k for k, v in REGION_OF.items()}
# The TCR chains share segment 1 so that a pair reads as two "sentences": peptide, then receptor.
SEGMENT_OF_REGION = {REGION_PEPTIDE: 0, REGION_CDR3B: 1, REGION_CDR3A: 1}
# Decoding writes <unk> as X (the usual "any residue") and <mask> as '?'; both are outside the 20 letters.
UNK_CHAR, MASK_CHAR = "X", "?"

_ENCODE = np.full(256, UNK, dtype=np.int64)
for _i, _aa in enumerate(AMINO_ACIDS):
    _ENCODE[ord(_aa)] = FIRST_AA + _i
_ENCODE[_CLS_BYTE], _ENCODE[_SEP_BYTE] = CLS, SEP

_DECODE = np.zeros(FIRST_AA + len(AMINO_ACIDS), dtype=np.uint8)
for _i, _aa in enumerate(AMINO_ACIDS):
    _DECODE[FIRST_AA + _i] = ord(_aa)
_DECODE[UNK], _DECODE[MASK] = ord(UNK_CHAR), ord(MASK_CHAR)


def _as_series(values: Sequence[str | None] | pl.Series | np.ndarray, name: str) -> pl.Series:
    if isinstance(values, pl.Series):
        return values.cast(pl.String).alias(name)
    return pl.Series(name, list(values), dtype=pl.String)


def tokens_needed(*columns: pl.Series | Sequence[str | None]) -> int:
    """Width a batch of these regions needs: <cls>, then each row's sequences with one <sep> after each."""
    total = np.ones(len(columns[0]), dtype=np.int64)
    for i, col in enumerate(columns):
        s = _as_series(col, f"c{i}")
        total += (s.str.len_chars() + 1).fill_null(0).to_numpy()
    return int(total.max()) if len(total) else 1


class Tokenizer:
    """`<cls> peptide <sep> cdr3b <sep> [cdr3a <sep>]` to ids, segments and regions; `decode` inverts it.

    max_len is the fixed width in tokens, specials included. None sizes each batch to its longest row; the
    runner should instead use `Tokenizer.for_frame(whole_table)` so every fold shares one width. A row longer
    than max_len is an error, never silently truncated: a cut-off CDR3 is a different receptor.
    """

    def __init__(self, max_len: int | None = None) -> None:
        if max_len is not None and max_len < 3:
            raise UsageError(f"tokenizer max_len must be at least 3 (<cls> x <sep>), got {max_len}")
        self.max_len = max_len

    @classmethod
    def for_frame(cls, frame: pl.DataFrame) -> Tokenizer:
        """A tokenizer whose width fits every pair of this table (use the whole table, before splitting)."""
        cols = [frame[c] for c in (PEPTIDE, CDR3B, CDR3A) if c in frame.columns]
        return cls(max(tokens_needed(*cols), 3))

    def encode(self, frame: pl.DataFrame) -> TokenBatch:
        """Encode a canonical-schema frame's pairs (with cdr3a where the column exists)."""
        return self.encode_pairs(frame[PEPTIDE], frame[CDR3B], frame[CDR3A] if CDR3A in frame.columns else None)

    def encode_pairs(
        self,
        peptides: Sequence[str] | pl.Series,
        cdr3b: Sequence[str] | pl.Series,
        cdr3a: Sequence[str | None] | pl.Series | None = None,
    ) -> TokenBatch:
        """Pairs to a batch; a row whose cdr3a is None simply has no alpha part."""
        parts = [(_as_series(peptides, PEPTIDE), REGION_PEPTIDE), (_as_series(cdr3b, CDR3B), REGION_CDR3B)]
        if cdr3a is not None:
            parts.append((_as_series(cdr3a, CDR3A), REGION_CDR3A))
        return self._encode(parts, self.max_len)

    def encode_tcr(
        self,
        cdr3b: Sequence[str] | pl.Series,
        cdr3a: Sequence[str | None] | pl.Series | None = None,
        width: int | None = None,
    ) -> TokenBatch:
        """The receptor alone, `<cls> cdr3b <sep> [cdr3a <sep>]`: the TCR tower of a CLIP-style objective."""
        parts = [(_as_series(cdr3b, CDR3B), REGION_CDR3B)]
        if cdr3a is not None:
            parts.append((_as_series(cdr3a, CDR3A), REGION_CDR3A))
        return self._encode(parts, width if width is not None else self.max_len)

    def encode_single(
        self, seqs: Sequence[str] | pl.Series, region: str = PEPTIDE, width: int | None = None
    ) -> TokenBatch:
        """One region alone, `<cls> seq <sep>`, e.g. peptides only; region is peptide, cdr3b or cdr3a."""
        if region not in REGION_OF:
            raise UsageError(f"region must be one of {', '.join(REGION_OF)}, got {region!r}")
        return self._encode(
            [(_as_series(seqs, region), REGION_OF[region])], width if width is not None else self.max_len
        )

    def _encode(self, parts: list[tuple[pl.Series, int]], width: int | None) -> TokenBatch:
        n = len(parts[0][0])
        if any(len(s) != n for s, _ in parts):
            raise UsageError(f"sequence columns differ in length: {[len(s) for s, _ in parts]}")
        for s, region in parts:
            if region != REGION_CDR3A and s.null_count():
                row = int(s.is_null().arg_max()) + 1  # type: ignore[arg-type]
                raise UsageError(f"row {row}: {NAME_OF_REGION[region]} is missing")
        table = pl.DataFrame({f"p{i}": s for i, (s, _) in enumerate(parts)})
        pieces: list[pl.Expr] = [pl.lit(_CLS_CHAR)]
        for i in range(len(parts)):
            part = pl.col(f"p{i}")
            pieces.append(pl.when(part.is_null()).then(pl.lit("")).otherwise(part + pl.lit(_SEP_CHAR)))
        rows = table.select(pl.concat_str(pieces).alias("t")).to_series()
        lengths = rows.str.len_chars().to_numpy().astype(np.int64)
        longest = int(lengths.max()) if n else 1
        if width is None:
            width = max(longest, 1)
        elif longest > width:
            row = int(np.argmax(lengths)) + 1
            raise UsageError(
                f"row {row} needs {longest} tokens, more than the tokenizer width {width}; "
                f"size the tokenizer with Tokenizer.for_frame(whole_table)"
            )
        # ascii with replacement: any other character becomes one '?' byte, hence exactly one <unk>.
        text = rows.str.join("").item() if n else ""
        flat = np.frombuffer(text.encode("ascii", errors="replace"), dtype=np.uint8)
        ids = np.full((n, width), PAD, dtype=np.int64)
        ids[np.arange(width)[None, :] < lengths[:, None]] = _ENCODE[flat]
        regions, segments = self._layout(ids, parts)
        return TokenBatch(torch.from_numpy(ids), torch.from_numpy(segments), torch.from_numpy(regions))

    @staticmethod
    def _layout(ids: np.ndarray, parts: list[tuple[pl.Series, int]]) -> tuple[np.ndarray, np.ndarray]:
        """Part k of a row is what follows its k-th <sep>; present parts only, since a null chain is skipped."""
        is_sep = ids == SEP
        k = np.cumsum(is_sep, axis=1) - is_sep  # separators strictly before each position
        # A row whose optional part is missing has fewer seps; the parts it has keep their order.
        region_table = np.array([r for _, r in parts] + [REGION_SPECIAL], dtype=np.int64)
        k = np.minimum(k, len(parts))
        regions = region_table[k]
        special = (ids == PAD) | (ids == CLS) | (ids == SEP)
        segment_table = np.array([SEGMENT_OF_REGION[r] for _, r in parts] + [0], dtype=np.int64)
        segments = np.where((ids == PAD) | (ids == CLS), 0, segment_table[k])
        regions = np.where(special, REGION_SPECIAL, regions)
        return regions, segments

    def decode(self, batch: TokenBatch) -> list[tuple[str | None, ...]]:
        """Back to sequences, one tuple per row with the regions the batch holds in canonical order.

        A row that lacks a region others have (a missing alpha chain) gets None there. <unk> decodes as 'X'
        and <mask> as '?', so a masked batch can be looked at.
        """
        ids = batch.ids.detach().cpu().numpy()
        regions = batch.regions.detach().cpu().numpy()
        present = [r for r in (REGION_PEPTIDE, REGION_CDR3B, REGION_CDR3A) if (regions == r).any()]
        columns = []
        for region in present:
            mask = regions == region
            counts = mask.sum(axis=1)
            text = _DECODE[np.clip(ids[mask], 0, len(_DECODE) - 1)].tobytes().decode("ascii")
            ends = np.cumsum(counts)
            starts = ends - counts
            columns.append([text[a:b] if b > a else None for a, b in zip(starts.tolist(), ends.tolist())])
        return list(zip(*columns)) if columns else [() for _ in range(len(ids))]
