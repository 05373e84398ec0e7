"""A cell's pretraining rows when a corpus is added: its training fold, then the corpus minus the held-out TCRs.

The leak guard: a corpus row is removed when one of its chains equals that chain of a TCR the cell holds out
(its test fold, and the inner validation splits its fine-tuning stops on), so pretraining never sees a held-out
receptor, whatever the corpus. Rows are matched by 64-bit hashes of the chain strings, computed once per run;
the corpus stays a memory-mapped Arrow table and each batch's corpus rows are tokenised when drawn.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import torch

from tcrbench.data.schema import CDR3A, CDR3B, PEPTIDE
from tcrbench.data.tokenizer import Tokenizer
from tcrbench.data.vocab import TokenBatch
from tcrbench.plugins.protocols import PretrainBatch

NO_GROUP = -1  # corpus rows have no peptide group


def _hashes(values: pl.Series) -> np.ndarray:
    """Stable-within-a-process hashes; nulls and empty strings (a chain the row lacks) map to 0, never matched."""
    s = values.cast(pl.String).fill_null("")
    h = s.hash(seed=0).to_numpy().astype(np.uint64)
    return np.where(s.str.len_chars().to_numpy() > 0, h | np.uint64(1), np.uint64(0))


class CorpusIndex:
    """The run's corpus and each row's chain hashes, for the leak guard."""

    def __init__(self, corpus: pl.DataFrame, tokenizer: Tokenizer) -> None:
        self.corpus = corpus
        self.tokenizer = tokenizer
        self.beta = _hashes(corpus[CDR3B])
        self.alpha = _hashes(corpus[CDR3A])

    def __len__(self) -> int:
        return self.corpus.height

    def kept(self, held_out: pl.DataFrame) -> tuple[np.ndarray, int]:
        """Corpus rows sharing no chain with the `held_out` TCRs, and how many were removed."""
        beta = _hashes(held_out[CDR3B]) if CDR3B in held_out.columns else np.zeros(0, np.uint64)
        alpha = _hashes(held_out[CDR3A]) if CDR3A in held_out.columns else np.zeros(0, np.uint64)
        hit = np.isin(self.beta, beta[beta > 0]) | np.isin(self.alpha, alpha[alpha > 0])
        return np.flatnonzero(~hit), int(hit.sum())

    def tokens(self, rows: np.ndarray) -> TokenBatch:
        part = self.corpus[rows.tolist()]
        return self.tokenizer.encode_pairs(part[PEPTIDE], part[CDR3B], part[CDR3A])


def _cat(a: TokenBatch, b: TokenBatch) -> TokenBatch:
    return TokenBatch(torch.cat([a.ids, b.ids]), torch.cat([a.segments, b.segments]), torch.cat([a.regions, b.regions]))


class FoldWithCorpus:
    """What pretraining draws from: the fold's rows (0..n-1), then the kept corpus rows (n..); `index` gives a
    batch in the order asked for, so the data order and its checkpointed position work as without a corpus."""

    def __init__(self, fold: PretrainBatch, corpus: CorpusIndex, kept: np.ndarray) -> None:
        self.fold, self.corpus, self.kept = fold, corpus, kept
        self.labels = None

    def __len__(self) -> int:
        return len(self.fold) + len(self.kept)

    def index(self, idx: torch.Tensor | slice) -> PretrainBatch:
        n = len(self.fold)
        if isinstance(idx, slice):
            idx = torch.arange(len(self))[idx]
        in_fold = idx < n
        where_fold, where_corpus = in_fold.nonzero().squeeze(1), (~in_fold).nonzero().squeeze(1)
        fold = self.fold.index(idx[where_fold])
        rows = self.kept[(idx[where_corpus] - n).numpy()]
        tokens = _cat(fold.tokens, self.corpus.tokens(rows))
        groups = torch.cat([fold.groups, torch.full((len(rows),), NO_GROUP, dtype=fold.groups.dtype)])
        back = torch.argsort(torch.cat([where_fold, where_corpus]))
        return PretrainBatch(
            TokenBatch(tokens.ids[back], tokens.segments[back], tokens.regions[back]), groups[back], None
        )
