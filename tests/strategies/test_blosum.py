"""BLOSUM62 data and the substitution probabilities derived from it."""

from __future__ import annotations

import pytest
import torch

from tcrbench.data.blosum import BACKGROUND, BLOSUM62, BLOSUM_ORDER, score, score_matrix, substitution_probs
from tcrbench.data.vocab import AMINO_ACIDS


def test_matrix_is_symmetric_and_has_the_known_diagonal() -> None:
    m = score_matrix(BLOSUM_ORDER)
    assert torch.equal(m, m.T)
    diagonal = dict(zip(BLOSUM_ORDER, m.diagonal().tolist()))
    assert diagonal == {"A": 4, "R": 5, "N": 6, "D": 6, "C": 9, "Q": 5, "E": 5, "G": 6, "H": 8, "I": 4,
                        "L": 4, "K": 5, "M": 5, "F": 6, "P": 7, "S": 4, "T": 5, "W": 11, "Y": 7, "V": 4}
    # a few well-known off-diagonal entries
    assert (score("I", "V"), score("D", "E"), score("F", "Y"), score("W", "C"), score("W", "D")) == (3, 2, 3, -2, -4)
    assert m.sum() == sum(sum(row.values()) for row in BLOSUM62.values())


def test_score_rejects_unknown_residues() -> None:
    with pytest.raises(ValueError, match="'B'"):
        score("B", "A")


def test_background_frequencies_sum_to_one() -> None:
    assert abs(sum(BACKGROUND.values()) - 1.0) < 0.002
    assert set(BACKGROUND) == set(AMINO_ACIDS)


def test_substitution_rows_are_distributions_without_self() -> None:
    probs = substitution_probs()
    assert probs.shape == (20, 20)
    assert torch.allclose(probs.sum(dim=1), torch.ones(20))
    assert torch.all(probs.diagonal() == 0)
    with_self = substitution_probs(exclude_self=False)
    assert torch.all(with_self.diagonal() > 0)


def test_similar_residues_are_more_likely() -> None:
    probs = substitution_probs()
    idx = {a: i for i, a in enumerate(AMINO_ACIDS)}
    # I's positive-score partners (V, L, M, F) carry most of its mass; uniform would give them 4/19
    assert probs[idx["I"], [idx["V"], idx["L"], idx["M"], idx["F"]]].sum() > 0.5
    assert probs[idx["D"], idx["E"]] > 3 * probs[idx["D"], idx["W"]]
    top_two = set(probs[idx["F"]].topk(2).indices.tolist())
    assert top_two == {idx["Y"], idx["L"]}  # Y scores highest, L is the commonest residue


def test_probabilities_follow_the_log_odds_definition() -> None:
    # P(b|a) / P(c|a) = (p_b / p_c) * 2 ** ((S(a,b) - S(a,c)) / 2)
    probs = substitution_probs(order=BLOSUM_ORDER, exclude_self=False)
    a, b, c = BLOSUM_ORDER.index("K"), BLOSUM_ORDER.index("R"), BLOSUM_ORDER.index("G")
    expected = BACKGROUND["R"] / BACKGROUND["G"] * 2 ** ((score("K", "R") - score("K", "G")) / 2)
    assert float(probs[a, b] / probs[a, c]) == pytest.approx(expected, rel=1e-5)
