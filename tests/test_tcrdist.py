"""tcrdist against a plain loop written from the rules (Dash et al. 2017; tcrdist3's pwseqdist settings), on random
CDR3s and germline loops; symmetry, zero on identical TCRs, and a few distances worked by hand."""

from __future__ import annotations

import random

import numpy as np
import pytest

from tcrbench.data.blosum import BLOSUM62
from tcrbench.neighbours import tcrdist as td
from tcrbench.neighbours.tcrdist import CDR3_LOOP, GERMLINE_LOOP, Loop, loop_distances, tcr_distances

AA = "ACDEFGHIKLMNPQRSTVWY"


# ---------------------------------------------------------------- the reference: one pair at a time
def mismatch(a: str, b: str) -> int:
    if a == b:
        return 0
    if a not in AA or b not in AA:
        return 4
    return min(4, 4 - BLOSUM62[a][b])


def gap_range(short: int, fixed: bool) -> range:
    """pwseqdist nb_tcrdist: a fixed gap after Cys+5 (earlier for short loops), or every position 5..short-5,
    widened symmetrically until it holds at least one."""
    if fixed:
        g = min(6, 3 + (short - 5) // 2)
        return range(g, g + 1)
    lo, hi = 5, short - 5
    while lo > hi:
        lo, hi = lo - 1, hi + 1
    return range(lo, hi + 1)


def reference(a: str, b: str, loop: Loop) -> int:
    if len(a) == len(b):
        return loop.weight * sum(mismatch(a[i], b[i]) for i in range(loop.ntrim, len(a) - loop.ctrim))
    short = min(len(a), len(b))
    best = min(
        sum(mismatch(a[i], b[i]) for i in range(loop.ntrim, g))
        + sum(mismatch(a[-1 - c], b[-1 - c]) for c in range(loop.ctrim, short - g))
        for g in gap_range(short, loop.fixed_gappos)
    )
    return loop.weight * (best + 4 * abs(len(a) - len(b)))


def random_cdr3s(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        middle = "".join(rng.choice(AA) for _ in range(rng.randint(0, 14)))
        out.append(rng.choice(["CASS", "CAV", "CAS", "C", ""]) + middle + rng.choice(["YEQYF", "TQYF", "F", ""]))
    # near neighbours too: single substitutions and indels of the first ones
    for s in out[:20]:
        if len(s) > 2:
            i = rng.randrange(len(s))
            out += [s[:i] + rng.choice(AA) + s[i + 1 :], s[:i] + s[i + 1 :], s[:i] + rng.choice(AA) + s[i:]]
    return out


def random_germline(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(AA) for _ in range(rng.randint(4, 8))) for _ in range(n)]


def reference_matrix(q: list[str], r: list[str], loop: Loop) -> np.ndarray:
    return np.array([[reference(a, b, loop) for b in r] for a in q], dtype=np.float32)


# ---------------------------------------------------------------- against the reference
@pytest.mark.parametrize("seed", [0, 1])
def test_cdr3_distances_equal_the_reference(seed: int) -> None:
    seqs = random_cdr3s(60, seed)
    ref = seqs[::2]
    np.testing.assert_array_equal(loop_distances(seqs, ref, CDR3_LOOP), reference_matrix(seqs, ref, CDR3_LOOP))


def test_germline_distances_equal_the_reference() -> None:
    seqs = random_germline(70, 3) + ["SSNFYA", "MTLNGDE", "SGHRS", "YFSETQ", "KGHDR", "SFDVKD"]
    np.testing.assert_array_equal(
        loop_distances(seqs, seqs[5:], GERMLINE_LOOP), reference_matrix(seqs, seqs[5:], GERMLINE_LOOP)
    )


def test_fixed_and_optimal_gaps_both_follow_the_reference() -> None:
    seqs = random_cdr3s(30, 4)
    for loop in (Loop(3, 3, 2, True), Loop(1, 0, 0, False), Loop(2, 1, 1, False)):
        np.testing.assert_array_equal(loop_distances(seqs, seqs, loop), reference_matrix(seqs, seqs, loop))


def test_blocks_do_not_change_the_result(monkeypatch: pytest.MonkeyPatch) -> None:
    seqs = random_cdr3s(40, 5)
    whole = loop_distances(seqs, seqs, CDR3_LOOP)
    monkeypatch.setattr(td, "BLOCK_ELEMENTS", 50)  # one query sequence per block
    np.testing.assert_array_equal(loop_distances(seqs, seqs, CDR3_LOOP), whole)


def test_a_tcr_is_the_sum_of_its_loops() -> None:
    rng = random.Random(6)
    n = 25
    rows = {
        "cdr3b": random_cdr3s(n, 7)[:n],
        "cdr3a": random_cdr3s(n, 8)[:n],
        "cdr1b": [rng.choice(["SGHRS", "MNHEY", "KGHDR"]) for _ in range(n)],
        "cdr2b": [rng.choice(["YFSETQ", "SVGAGI", "SFDVKD"]) for _ in range(n)],
    }
    loops = {"cdr3b": CDR3_LOOP, "cdr3a": CDR3_LOOP, "cdr1b": GERMLINE_LOOP, "cdr2b": GERMLINE_LOOP}
    expected = sum(reference_matrix(rows[c], rows[c], loop) for c, loop in loops.items())
    np.testing.assert_array_equal(tcr_distances(rows, rows, loops), expected)


# ---------------------------------------------------------------- properties
def test_symmetric_and_zero_exactly_on_identical_tcrs() -> None:
    seqs = sorted(set(random_cdr3s(50, 9)))
    germ = random_germline(len(seqs), 10)
    rows = {"cdr3b": seqs, "cdr1b": germ}
    d = tcr_distances(rows, rows, {"cdr3b": CDR3_LOOP, "cdr1b": GERMLINE_LOOP})
    np.testing.assert_array_equal(d, d.T)
    np.testing.assert_array_equal(np.diag(d), 0)
    # different TCRs are apart unless they differ only inside the CDR3's trimmed ends and share the germline loop
    same_core = np.array([[a[3 : len(a) - 2] == b[3 : len(b) - 2] and len(a) == len(b) for b in seqs] for a in seqs])
    same_germ = np.array([[a == b for b in germ] for a in germ])
    assert ((d == 0) == (same_core & same_germ)).all()


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("CASSLGQGYEQYF", "CASSLGQGYEQYF", 0),
        ("CASSLGQGYEQYF", "CASSLGQGFEQYF", 3 * 1),  # Y/F: BLOSUM62 3, distance 4 - 3 = 1, CDR3 weight 3
        ("CASSLGQGYEQYF", "CASSLGQGWEQYF", 3 * 2),  # Y/W: BLOSUM62 2
        ("CASSLGQGYEQYF", "CASSLGQGDEQYF", 3 * 4),  # Y/D: BLOSUM62 -3, capped at 4
        ("CASSLGQGYEQYF", "CAGSLGQGYEQYF", 0),  # inside the 3 trimmed N-terminal residues
        ("CASSLGQGYEQYF", "CASSLGQGYEQYW", 0),  # inside the 2 trimmed C-terminal residues
        ("CASSLGQGYEQYF", "CASSLQGYEQYF", 3 * 4),  # one deletion, placed where it costs no mismatch: one gap
        ("CASSLGQGYEQYF", "CASSLGGQGYEQYF", 3 * 4),  # an insertion in the middle: one gap
        ("CASSLGQGYEQYF", "CASSLGXGYEQYF", 3 * 4),  # an unknown letter is as far as any mismatch
    ],
)
def test_cdr3_distances_worked_by_hand(a: str, b: str, expected: int) -> None:
    assert loop_distances([a], [b], CDR3_LOOP)[0, 0] == expected
    assert reference(a, b, CDR3_LOOP) == expected


def test_germline_loops_are_compared_whole_with_a_fixed_gap() -> None:
    # S/T: BLOSUM62 1 -> 3, at the first position (no trimming), weight 1
    assert loop_distances(["SGHRS"], ["TGHRS"], GERMLINE_LOOP)[0, 0] == 3
    # MNHEY vs MNHEYV: length 5 puts the gap after position 3 -> MNH|EY against MNH|EYV aligned from the right
    # (E/Y 4, Y/V 4) plus one gap of 4
    assert loop_distances(["MNHEY"], ["MNHEYV"], GERMLINE_LOOP)[0, 0] == 4 + 4 + 4


def test_empty_inputs() -> None:
    assert loop_distances([], ["CASSF"], CDR3_LOOP).shape == (0, 1)
    assert loop_distances(["CASSF"], [], CDR3_LOOP).shape == (1, 0)
    assert loop_distances([""], ["CASSF"], GERMLINE_LOOP)[0, 0] == 4 * 5  # a missing loop: all gap
