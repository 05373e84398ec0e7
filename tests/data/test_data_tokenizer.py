"""Tokenizer: same tensors as a plain per-row reference, decode inverts encode, widths and errors."""

import polars as pl
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tcrbench.data import Tokenizer, synthesize
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
)
from tcrbench.errors import UsageError

_ID = {aa: FIRST_AA + i for i, aa in enumerate(AMINO_ACIDS)}


def reference(parts: list[tuple[list, int, int]], width: int) -> tuple[list, list, list]:
    """Per-row Python version of the layout: parts are (sequences, region, segment); None skips a part."""
    ids, segs, regs = [], [], []
    for row in range(len(parts[0][0])):
        i, s, r = [CLS], [0], [REGION_SPECIAL]
        for seqs, region, segment in parts:
            if seqs[row] is None:
                continue
            i += [_ID.get(ch, UNK) for ch in seqs[row]] + [SEP]
            s += [segment] * (len(seqs[row]) + 1)
            r += [region] * len(seqs[row]) + [REGION_SPECIAL]
        pad = width - len(i)
        ids.append(i + [PAD] * pad), segs.append(s + [0] * pad), regs.append(r + [REGION_SPECIAL] * pad)
    return ids, segs, regs


def test_pairs_match_reference_on_synthetic_data():
    frame = synthesize(n_peptides=4, n_positives_per_peptide=10)
    tok = Tokenizer.for_frame(frame)
    batch = tok.encode(frame)
    ids, segs, regs = reference([(frame["peptide"].to_list(), REGION_PEPTIDE, 0),
                                 (frame["cdr3b"].to_list(), REGION_CDR3B, 1)], tok.max_len)
    assert batch.ids.tolist() == ids and batch.segments.tolist() == segs and batch.regions.tolist() == regs
    assert batch.ids.dtype == torch.long and batch.ids.shape == (frame.height, tok.max_len)


def test_layout_with_alpha_chain_some_missing():
    tok = Tokenizer()
    batch = tok.encode_pairs(["GIL", "NLVP"], ["CASF", "CAF"], ["CAV", None])
    ids, segs, regs = reference([(["GIL", "NLVP"], REGION_PEPTIDE, 0), (["CASF", "CAF"], REGION_CDR3B, 1),
                                 (["CAV", None], REGION_CDR3A, 1)], 14)
    assert batch.ids.tolist() == ids and batch.segments.tolist() == segs and batch.regions.tolist() == regs
    assert batch.attention_mask.sum(1).tolist() == [14, 10]
    assert tok.decode(batch) == [("GIL", "CASF", "CAV"), ("NLVP", "CAF", None)]


def test_region_masks_select_the_amino_acids():
    batch = Tokenizer().encode_pairs(["GIL"], ["CASF"], ["CAV"])
    assert batch.region_mask("peptide").sum().item() == 3
    assert batch.region_mask("tcr").sum().item() == 7
    assert batch.amino_acid_mask.sum().item() == 10


def test_single_region_and_tcr_batches():
    tok = Tokenizer()
    pep = tok.encode_single(["GILGFVFTL", "NLV"], "peptide")
    assert pep.ids.tolist()[1] == [CLS, _ID["N"], _ID["L"], _ID["V"], SEP] + [PAD] * 6
    assert set(pep.segments.flatten().tolist()) == {0}
    tcr = tok.encode_single(["CASSF"], "cdr3b")
    assert tcr.regions.tolist() == [[0, REGION_CDR3B, REGION_CDR3B, REGION_CDR3B, REGION_CDR3B, REGION_CDR3B, 0]]
    assert tcr.segments.tolist() == [[0, 1, 1, 1, 1, 1, 1]]
    both = tok.encode_tcr(["CASSF"], ["CAVF"])
    assert tok.decode(both) == [("CASSF", "CAVF")] and tok.decode(pep) == [("GILGFVFTL",), ("NLV",)]


def test_fixed_width_and_for_frame():
    frame = pl.DataFrame({"peptide": ["GILGFVFTL", "NLV"], "cdr3b": ["CASSIRSSYEQYF", "CAF"],
                          "cdr3a": [None, "CAVSDLEPNSSASKIIF"]})
    tok = Tokenizer.for_frame(frame)
    assert tok.max_len == 1 + 4 + 4 + 18  # second row: <cls> NLV <sep> CAF <sep> 17 residues <sep>
    assert tok.encode(frame.head(1)).ids.shape == (1, tok.max_len)
    assert Tokenizer(40).encode_single(["GIL"]).ids.shape == (1, 40)
    assert Tokenizer(40).encode_single(["GIL"], width=5).ids.shape == (1, 5)


def test_too_long_row_is_an_error_not_a_truncation():
    with pytest.raises(UsageError, match=r"row 2 needs 13 tokens, more than the tokenizer width 10"):
        Tokenizer(10).encode_pairs(["GIL", "GILGF"], ["CASF", "CASSF"])


@pytest.mark.parametrize("call, message", [
    (lambda t: t.encode_pairs(["GIL", None], ["CASF", "CASF"]), "row 2: peptide is missing"),
    (lambda t: t.encode_pairs(["GIL"], ["CASF", "CASF"]), "sequence columns differ in length"),
    (lambda t: t.encode_single(["GIL"], "tcr"), "region must be one of peptide, cdr3b, cdr3a"),
    (lambda t: Tokenizer(2), "max_len must be at least 3"),
])
def test_bad_calls(call, message):
    with pytest.raises(UsageError, match=message):
        call(Tokenizer())


def test_unknown_letters_and_masks_decode_visibly():
    tok = Tokenizer()
    batch = tok.encode_pairs(["GIXL"], ["CA|SF"])  # a stray separator character is just an unknown letter
    assert batch.ids[0, 3].item() == UNK and (batch.ids == SEP).sum().item() == 2
    masked = batch.with_ids(torch.where(batch.ids == torch.tensor(_ID["G"]), torch.tensor(MASK), batch.ids))
    assert tok.decode(masked) == [("?IXL", "CAXSF")]


def test_empty_batch():
    batch = Tokenizer(8).encode_pairs([], [])
    assert batch.ids.shape == (0, 8) and Tokenizer().decode(batch) == []


seq = st.text(alphabet=AMINO_ACIDS, min_size=1, max_size=25)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(seq, seq, st.one_of(st.none(), seq)), min_size=1, max_size=20))
def test_decode_round_trips(rows):
    peps, betas, alphas = (list(col) for col in zip(*rows))
    tok = Tokenizer()
    with_alpha = any(a is not None for a in alphas)
    batch = tok.encode_pairs(peps, betas, alphas)
    expected = [(p, b, a) for p, b, a in rows] if with_alpha else [(p, b) for p, b, _ in rows]
    assert tok.decode(batch) == expected
    ids, segs, regs = reference([(peps, REGION_PEPTIDE, 0), (betas, REGION_CDR3B, 1), (alphas, REGION_CDR3A, 1)],
                                batch.ids.shape[1])
    assert batch.ids.tolist() == ids and batch.segments.tolist() == segs and batch.regions.tolist() == regs
