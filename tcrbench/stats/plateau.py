"""When has a training curve stopped changing? Rules for the downstream-gain plateau and for loss convergence.

Both rules look only forward from a checkpoint, at what the rest of the curve does, so they can be applied
after the fact to any run; both are written out in docs/dynamics.md.

Plateau: the earliest checkpoint from which every later mean gain lies inside the band
`level ± width · noise`, where `level` is the mean of those gains and `noise` the mean of their standard
errors (their own fold-to-fold noise). Loss convergence: the earliest checkpoint from which the loss never
again falls by more than `tolerance` of the whole run's loss range.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Plateau:
    """The plateau of a curve: from `step` on, it stays within `level ± half_width`.

    `reached` is False when only the last `min_points - 1` checkpoints qualify: the curve was still moving
    at the end of the run (the last checkpoint is always "in its own band", which says nothing).
    """

    step: int
    index: int
    level: float
    half_width: float
    reached: bool


def plateau(
    steps: Sequence[int], means: Sequence[float], noise: Sequence[float], width: float = 1.0, min_points: int = 2
) -> Plateau:
    """Apply the plateau rule to a curve given at ascending `steps` (non-finite points are left out)."""
    s, m, e = _finite_points(steps, means, noise)
    if len(s) == 0:
        raise ValueError("plateau: the curve has no finite point")
    if width < 0 or min_points < 1:
        raise ValueError(f"plateau: width must be >= 0 and min_points >= 1, got {width}, {min_points}")
    for i in range(len(s)):
        tail = m[i:]
        level = float(tail.mean())
        finite_noise = e[i:][np.isfinite(e[i:])]
        half = width * float(finite_noise.mean()) if finite_noise.size else 0.0
        if bool(np.all(np.abs(tail - level) <= half + 1e-12)):
            return Plateau(int(s[i]), i, level, half, reached=len(s) - i >= min_points)
    raise AssertionError("unreachable: the last point is always inside its own band")  # pragma: no cover


def loss_converged(steps: Sequence[int], losses: Sequence[float], tolerance: float = 0.05) -> int | None:
    """The earliest step after which the loss never falls by more than `tolerance` of its range again.

    None when only the last checkpoint qualifies (the loss was still falling when the run ended) or when
    there are fewer than two finite losses.
    """
    s, values, _ = _finite_points(steps, losses, [0.0] * len(losses))
    if len(s) < 2:
        return None
    spread = float(values.max() - values.min())
    if spread == 0.0:
        return int(s[0])
    # what is still to come after each checkpoint: how far below it the loss will yet go
    remaining = values - np.minimum.accumulate(values[::-1])[::-1]
    bad = np.nonzero(remaining > tolerance * spread)[0]
    first = int(bad[-1]) + 1 if bad.size else 0
    return int(s[first]) if first < len(s) - 1 else None


def _finite_points(
    steps: Sequence[int], values: Sequence[float], noise: Sequence[float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not (len(steps) == len(values) == len(noise)):
        raise ValueError(f"steps, values and noise differ in length ({len(steps)}, {len(values)}, {len(noise)})")
    s = np.asarray(steps, dtype=np.int64)
    if np.any(np.diff(s) <= 0):
        raise ValueError("steps must be strictly increasing")
    v = np.asarray([float(x) if x is not None else math.nan for x in values], dtype=float)
    e = np.asarray([float(x) if x is not None else math.nan for x in noise], dtype=float)
    keep = np.isfinite(v)
    return s[keep], v[keep], e[keep]
