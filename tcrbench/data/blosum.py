"""BLOSUM62 as data, and the conditional substitution probabilities the `substitute` augmentation draws from.

A BLOSUM score is a rounded log-odds in half-bit units, S(a, b) = 2 log2(q_ab / (p_a p_b)), so the probability
of seeing b aligned to a is P(b | a) = q_ab / p_a = p_b 2^(S(a, b) / 2). Renormalising each row absorbs the
rounding. Similar residues (I <-> V, D <-> E, F <-> Y) get most of the mass, which is the point: a substitution
should look like natural variation, not noise.
"""

from __future__ import annotations

import functools

import torch

from tcrbench.data.vocab import AMINO_ACIDS

# Henikoff & Henikoff (1992), as distributed by NCBI; rows and columns in this order.
BLOSUM_ORDER = "ARNDCQEGHILKMFPSTWYV"
_BLOSUM62_ROWS = """
 4 -1 -2 -2  0 -1 -1  0 -2 -1 -1 -1 -1 -2 -1  1  0 -3 -2  0
-1  5  0 -2 -3  1  0 -2  0 -3 -2  2 -1 -3 -2 -1 -1 -3 -2 -3
-2  0  6  1 -3  0  0  0  1 -3 -3  0 -2 -3 -2  1  0 -4 -2 -3
-2 -2  1  6 -3  0  2 -1 -1 -3 -4 -1 -3 -3 -1  0 -1 -4 -3 -3
 0 -3 -3 -3  9 -3 -4 -3 -3 -1 -1 -3 -1 -2 -3 -1 -1 -2 -2 -1
-1  1  0  0 -3  5  2 -2  0 -3 -2  1  0 -3 -1  0 -1 -2 -1 -2
-1  0  0  2 -4  2  5 -2  0 -3 -3  1 -2 -3 -1  0 -1 -3 -2 -2
 0 -2  0 -1 -3 -2 -2  6 -2 -4 -4 -2 -3 -3 -2  0 -2 -2 -3 -3
-2  0  1 -1 -3  0  0 -2  8 -3 -3 -1 -2 -1 -2 -1 -2 -2  2 -3
-1 -3 -3 -3 -1 -3 -3 -4 -3  4  2 -3  1  0 -3 -2 -1 -3 -1  3
-1 -2 -3 -4 -1 -2 -3 -4 -3  2  4 -2  2  0 -3 -2 -1 -2 -1  1
-1  2  0 -1 -3  1  1 -2 -1 -3 -2  5 -1 -3 -1  0 -1 -3 -2 -2
-1 -1 -2 -3 -1  0 -2 -3 -2  1  2 -1  5  0 -2 -1 -1 -1 -1  1
-2 -3 -3 -3 -2 -3 -3 -3 -1  0  0 -3  0  6 -4 -2 -2  1  3 -1
-1 -2 -2 -1 -3 -1 -1 -2 -2 -3 -3 -1 -2 -4  7 -1 -1 -4 -3 -2
 1 -1  1  0 -1  0  0  0 -1 -2 -2  0 -1 -2 -1  4  1 -3 -2 -2
 0 -1  0 -1 -1 -1 -1 -2 -2 -1 -1 -1 -1 -2 -1  1  5 -2 -2  0
-3 -3 -4 -4 -2 -2 -3 -2 -2 -3 -2 -3 -1  1 -4 -3 -2 11  2 -3
-2 -2 -2 -3 -2 -1 -2 -3  2 -1 -1 -2 -1  3 -3 -2 -2  2  7 -1
 0 -3 -3 -3 -1 -2 -2 -3 -3  3  1 -2  1 -1 -2 -2  0 -3 -1  4
"""
BLOSUM62: dict[str, dict[str, int]] = {
    a: dict(zip(BLOSUM_ORDER, map(int, row.split())))
    for a, row in zip(BLOSUM_ORDER, _BLOSUM62_ROWS.strip().splitlines())
}

# Background residue frequencies of the BLOSUM62 alignment blocks (the marginals of its target frequencies).
BACKGROUND: dict[str, float] = {
    "A": 0.0740,
    "R": 0.0516,
    "N": 0.0446,
    "D": 0.0536,
    "C": 0.0247,
    "Q": 0.0342,
    "E": 0.0543,
    "G": 0.0741,
    "H": 0.0262,
    "I": 0.0679,
    "L": 0.0989,
    "K": 0.0581,
    "M": 0.0250,
    "F": 0.0468,
    "P": 0.0390,
    "S": 0.0569,
    "T": 0.0506,
    "W": 0.0134,
    "Y": 0.0323,
    "V": 0.0728,
}


def score(a: str, b: str) -> int:
    """BLOSUM62 score of aligning residue `a` with residue `b` (one-letter codes)."""
    try:
        return BLOSUM62[a.upper()][b.upper()]
    except KeyError:
        bad = a if a.upper() not in BLOSUM62 else b
        raise ValueError(f"BLOSUM62 has no residue {bad!r}; expected one of {BLOSUM_ORDER}") from None


def score_matrix(order: str = AMINO_ACIDS) -> torch.Tensor:
    """The 20 x 20 integer score matrix with rows and columns in `order` (the vocabulary order by default)."""
    return torch.tensor([[score(a, b) for b in order] for a in order], dtype=torch.long)


@functools.lru_cache(maxsize=4)
def _substitution_probs(order: str, exclude_self: bool) -> torch.Tensor:
    s = score_matrix(order).double()
    background = torch.tensor([BACKGROUND[a] for a in order], dtype=torch.float64)
    weights = background[None, :] * torch.pow(2.0, s / 2.0)
    if exclude_self:
        weights.fill_diagonal_(0.0)
    return (weights / weights.sum(dim=1, keepdim=True)).float()


def substitution_probs(order: str = AMINO_ACIDS, exclude_self: bool = True) -> torch.Tensor:
    """Row a: P(b | a) = p_b 2^(S(a,b)/2), renormalised; `exclude_self` drops b = a so a draw always changes it.

    Returned as a fresh 20 x 20 float tensor in `order` (the vocabulary order by default), rows summing to 1.
    """
    return _substitution_probs(order, exclude_self).clone()
