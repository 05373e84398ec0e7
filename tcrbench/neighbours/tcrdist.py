"""The tcrdist metric (Dash et al. 2017, as tcrdist3 computes it through pwseqdist), vectorised over blocks.

Per loop, two sequences are compared position by position after placing the length difference as one gap:
mismatch distance min(4, 4 − BLOSUM62[a, b]) (0 for identity), 4 per gap position, and the loop's weight on the
whole (CDR3 3, germline CDR1/CDR2 1, so a CDR3 gap costs 12 as in the original paper). The CDR3 ignores its first
3 and last 2 residues (conserved, germline-encoded) and tries every gap position tcrdist3 allows, keeping the
best; germline loops are compared whole with the gap at a fixed position. A TCR's distance is the sum over its
loops.

Vectorised by prefix sums: for a block of query × reference sequences, the mismatch distances of the left-aligned
and of the right-aligned residues are summed cumulatively along the position axis, so the distance with the gap
after position g is two look-ups (left sum up to g, right sum up to short − g), whatever g is. Distances are
computed between distinct sequences only (a germline loop has a few dozen distinct values in thousands of rows)
and expanded to rows by indexing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from tcrbench.data.blosum import BLOSUM62
from tcrbench.data.vocab import AMINO_ACIDS

OTHER = len(AMINO_ACIDS)  # any letter outside the 20 amino acids
PAD = OTHER + 1  # beyond the end of a sequence: distance 0 to everything, so padding adds nothing to a sum
MAX_MISMATCH = 4
GAP_PENALTY = 4


def mismatch_matrix() -> np.ndarray:
    """22 × 22 residue distances: min(4, 4 − BLOSUM62) off the diagonal, 0 on it; an unknown letter is 4 from
    everything (pwseqdist's own matrix leaves it at 0), padding 0 from everything."""
    m = np.full((PAD + 1, PAD + 1), MAX_MISMATCH, dtype=np.int16)
    for i, a in enumerate(AMINO_ACIDS):
        for j, b in enumerate(AMINO_ACIDS):
            m[i, j] = 0 if a == b else min(MAX_MISMATCH, MAX_MISMATCH - BLOSUM62[a][b])
    m[PAD, :] = 0
    m[:, PAD] = 0
    return m


MISMATCH = mismatch_matrix()
_LOOKUP = np.full(256, OTHER, dtype=np.int16)
for _i, _aa in enumerate(AMINO_ACIDS):
    _LOOKUP[ord(_aa)] = _i


@dataclass(frozen=True)
class Loop:
    """How one CDR is compared: tcrdist3's `weights` entry and its pwseqdist `kargs` (there dist_weight is 1 and
    the weight multiplies the whole loop distance, gaps included)."""

    weight: int
    ntrim: int
    ctrim: int
    fixed_gappos: bool
    gap_penalty: int = GAP_PENALTY


CDR3_LOOP = Loop(weight=3, ntrim=3, ctrim=2, fixed_gappos=False)
GERMLINE_LOOP = Loop(weight=1, ntrim=0, ctrim=0, fixed_gappos=True)


@dataclass(frozen=True)
class Encoded:
    """Sequences as residue codes: left-aligned and right-aligned (last residue first), padded with PAD."""

    left: np.ndarray  # n × width
    right: np.ndarray  # n × width
    lengths: np.ndarray  # n


def encode(seqs: Sequence[str], width: int = 0) -> Encoded:
    """Codes for `seqs`, at least `width` positions wide (the prefix sums index up to the trims)."""
    n = len(seqs)
    raw = np.array([s.encode("ascii", "replace") for s in seqs], dtype=bytes) if n else np.zeros(0, dtype="S1")
    w = max(raw.dtype.itemsize, width, 1)
    raw = raw.astype(f"S{w}")
    chars = raw.view(np.uint8).reshape(n, w)
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    pos = np.arange(w)
    left = np.where(pos[None, :] < lengths[:, None], _LOOKUP[chars], PAD).astype(np.int16)
    back = lengths[:, None] - 1 - pos[None, :]
    right = np.where(back >= 0, np.take_along_axis(left, np.maximum(back, 0), axis=1), PAD).astype(np.int16)
    return Encoded(left, right, lengths)


def gap_positions(short: int, fixed: bool) -> tuple[int, int]:
    """The first and last gap position pwseqdist's nb_tcrdist tries for a shorter sequence of length `short`."""
    if fixed:
        # after Cys + 5 for a normal-length CDR, earlier for short ones (floor division as in Python)
        g = min(6, 3 + (short - 5) // 2)
        return g, g
    lo, hi = 5, short - 1 - 4
    while lo > hi:
        lo -= 1
        hi += 1
    return lo, hi


def _cumulative(q: np.ndarray, r: np.ndarray) -> np.ndarray:
    """(width + 1) × nq × nr: entry [p, i, j] = summed mismatch of the first p aligned positions of q_i and r_j.
    Positions lead, so the running sum adds whole nq × nr planes."""
    out = np.empty((q.shape[1] + 1, q.shape[0], r.shape[0]), dtype=np.int16)
    out[0] = 0
    for p in range(q.shape[1]):
        # the query's row of the matrix, then the reference's column in it: two small gathers per position
        np.take(MISMATCH[q[:, p]], r[:, p], axis=1, out=out[p + 1])
        np.add(out[p + 1], out[p], out=out[p + 1])
    return out


def _at(cum: np.ndarray, index: np.ndarray) -> np.ndarray:
    """cum[index[i, j], i, j] for every pair: one flat gather."""
    plane = index.size
    return np.take(cum.reshape(-1), index.reshape(-1) * plane + np.arange(plane)).reshape(index.shape)


def loop_block(q: Encoded, r: Encoded, loop: Loop) -> np.ndarray:
    """Weighted loop distances of every query to every reference sequence (nq × nr, int32)."""
    lq, lr = q.lengths[:, None], r.lengths[None, :]
    short = np.minimum(lq, lr)
    left, right = _cumulative(q.left, r.left), _cumulative(q.right, r.right)
    nt, ct = loop.ntrim, loop.ctrim
    base_left, base_right = left[nt], right[ct]
    # same length: no gap, every position between the trims
    best = _at(left, np.maximum(short - ct, nt)) - base_left
    table = np.array([gap_positions(s, loop.fixed_gappos) for s in range(int(short.max(initial=0)) + 1)])
    gapped = lq != lr
    if len(table) and gapped.any():
        lo, hi = table[short, 0], table[short, 1]
        lo = np.where(gapped, lo, np.iinfo(np.int64).max)  # same-length pairs take no gap position
        for g in range(int(lo.min()), int(hi[gapped].max()) + 1):
            # gap after position g: positions ntrim..g-1 from the left, ctrim..short-g-1 from the right
            value = left[max(g, nt)] - base_left + _at(right, np.maximum(short - g, ct)) - base_right
            # the first position a pair tries replaces its no-gap value; the others compete with it
            np.copyto(best, value, where=lo == g)
            np.minimum(best, value, out=best, where=(lo < g) & (g <= hi))
    return loop.weight * (best.astype(np.int32) + loop.gap_penalty * np.abs(lq - lr).astype(np.int32))


# entries of one prefix-sum array ((width + 1) × queries × references, int16): 64 MB each, two per block
BLOCK_ELEMENTS = 32_000_000


def loop_distances(query: Sequence[str], ref: Sequence[str], loop: Loop) -> np.ndarray:
    """len(query) × len(ref) float32 distances of one loop, computed between distinct sequences only."""
    if len(query) == 0 or len(ref) == 0:
        return np.zeros((len(query), len(ref)), dtype=np.float32)
    uq, qi = np.unique(np.asarray(query, dtype=object), return_inverse=True)
    ur, ri = np.unique(np.asarray(ref, dtype=object), return_inverse=True)
    width = max(loop.ntrim, loop.ctrim) + 1
    width = max([width, *(len(s) for s in uq), *(len(s) for s in ur)])
    eq, er = encode(uq.tolist(), width), encode(ur.tolist(), width)
    unique = np.empty((len(uq), len(ur)), dtype=np.float32)
    step = max(1, BLOCK_ELEMENTS // max(1, len(ur) * (width + 1)))
    for start in range(0, len(uq), step):
        part = slice(start, start + step)
        unique[part] = loop_block(Encoded(eq.left[part], eq.right[part], eq.lengths[part]), er, loop)
    return unique[qi.reshape(-1)[:, None], ri.reshape(-1)[None, :]]


def tcr_distances(
    query: Mapping[str, Sequence[str]], ref: Mapping[str, Sequence[str]], loops: Mapping[str, Loop]
) -> np.ndarray:
    """Summed tcrdist over `loops` (column -> how it is compared) between query and reference rows, float32."""
    total: np.ndarray | None = None
    for column, loop in loops.items():
        part = loop_distances(query[column], ref[column], loop)
        total = part if total is None else total + part
    if total is None:
        raise ValueError("tcrdist needs at least one loop")
    return total
