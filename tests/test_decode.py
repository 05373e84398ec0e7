"""Token batches decode back to exactly the sequences the tokenizer encoded."""

from __future__ import annotations

import torch

from tcrbench.data.decode import decode_pairs
from tcrbench.data.tokenizer import Tokenizer
from tcrbench.data.vocab import MASK


def test_round_trip_with_and_without_alpha() -> None:
    peptides = ["GILGFVFTL", "NLVPMVATV", "YLQPRTFLL"]
    cdr3b = ["CASSIRSSYEQYF", "CASSPGQGAYEQYF", "CSARDRTGNGYTF"]
    cdr3a = ["CAVRDSNYQLIW", None, "CAGAGSQGNLIF"]
    decoded = decode_pairs(Tokenizer(None).encode_pairs(peptides, cdr3b, cdr3a))
    assert decoded.peptide == peptides
    assert decoded.cdr3b == cdr3b
    assert decoded.cdr3a == cdr3a
    assert len(decoded) == 3


def test_no_alpha_column_and_masked_residues() -> None:
    batch = Tokenizer(None).encode_pairs(["GILGFVFTL"], ["CASSIRSSYEQYF"], None)
    assert decode_pairs(batch).cdr3a == [None]
    ids = batch.ids.clone()
    ids[0, 2] = MASK  # second residue of the peptide
    assert decode_pairs(batch.with_ids(ids)).peptide == ["GXLGFVFTL"]
    assert decode_pairs(batch.with_ids(ids)).cdr3b == ["CASSIRSSYEQYF"]


def test_large_random_batch_matches_a_loop() -> None:
    from tcrbench.plugins.batches import random_token_batch

    batch = random_token_batch(64, torch.Generator().manual_seed(3), with_alpha=0.5)
    decoded = decode_pairs(batch)
    from tcrbench.data.vocab import VOCAB

    for row in range(64):
        for region, got in ((1, decoded.peptide), (2, decoded.cdr3b), (3, decoded.cdr3a)):
            letters = [VOCAB[int(i)] for i, r in zip(batch.ids[row], batch.regions[row]) if int(r) == region]
            assert got[row] == ("".join(letters) or None)
