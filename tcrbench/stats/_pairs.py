"""Turning two score arrays into the differences a paired test uses, with every input check in one place.

Scores come as ``(folds,)`` or ``(seeds, folds)`` arrays matched by position. Whether seeds redraw the folds
decides what counts as one pair: re-initialising a model on fixed folds gives r nearly identical copies of
each fold's difference, so they are averaged first (n = k); redrawn folds are new splits (n = r·k).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from tcrbench.errors import UsageError

#: Up to this many pairs the sign-flip null distribution is enumerated exactly (2^20 sums).
EXACT_SIGN_FLIP_MAX = 20

Alternative = Literal["two-sided", "greater", "less"]
ALTERNATIVES = ("two-sided", "greater", "less")


@dataclass(frozen=True)
class Differences:
    """Differences ready for a test, and how they were obtained."""

    d: np.ndarray  # what the test sees: per-fold means (n = k) or all pairs (n = r·k)
    n_folds: int
    n_seeds: int
    n_dropped: int
    seeds_redraw_folds: bool
    tol: float  # below this a difference or a spread is floating-point noise
    n_partitions: int = 1  # distinct draws of the folds the pairs come from

    @property
    def n(self) -> int:
        return int(self.d.size)


def as_score_array(values: ArrayLike, name: str) -> np.ndarray:
    """A float array of shape (folds,) or (seeds, folds); anything else is a usage error."""
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{name}: scores must be numbers ({exc})") from None
    if arr.ndim not in (1, 2):
        raise UsageError(f"{name}: expected shape (folds,) or (seeds, folds), got {arr.shape}")
    return arr


def check_alternative(alternative: str) -> None:
    if alternative not in ALTERNATIVES:
        raise UsageError(f"alternative={alternative!r} is not one of {', '.join(ALTERNATIVES)}")


def check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise UsageError(f"confidence={confidence} must lie strictly between 0 and 1")


def noise_tolerance(*arrays: np.ndarray) -> float:
    """Differences below this are rounding noise of subtracting scores of this magnitude."""
    scale = max([1.0] + [float(np.max(np.abs(a))) for a in arrays if a.size])
    return 16.0 * np.finfo(float).eps * scale


def paired_differences(
    scores: ArrayLike,
    baseline: ArrayLike,
    *,
    seeds_redraw_folds: bool = False,
    drop_nan: bool = False,
    partitions: Sequence[int] | None = None,
) -> Differences:
    """Match ``scores`` with ``baseline`` cell by cell and reduce to the pairs a test should count.

    ``partitions`` (one label per seed row) says which seeds share one draw of the folds; it overrides
    ``seeds_redraw_folds``: differences are averaged over the seeds of a partition per fold, and every
    (partition, fold) is a pair. Redrawn folds are all-distinct labels, fixed folds one label.
    """
    a = as_score_array(scores, "scores")
    b = as_score_array(baseline, "baseline")
    if a.shape != b.shape:
        raise UsageError(f"scores has shape {a.shape} but baseline has {b.shape}: they must be matched cell by cell")
    if a.ndim == 1:
        a, b = a[None, :], b[None, :]
    for arr, name in ((a, "scores"), (b, "baseline")):
        if np.isinf(arr).any():
            s, f = np.argwhere(np.isinf(arr))[0]
            raise UsageError(f"{name}: score at seed index {s}, fold index {f} is infinite")
    missing = np.isnan(a) | np.isnan(b)
    if missing.any() and not drop_nan:
        s, f = np.argwhere(missing)[0]
        which = "scores" if np.isnan(a[s, f]) else "baseline"
        raise UsageError(
            f"{which}: score at seed index {s}, fold index {f} is NaN "
            f"({int(missing.sum())} NaN pair(s) in all); pass drop_nan=True to drop those pairs"
        )
    diff = a - b
    keep = ~missing
    n_seeds, k = diff.shape
    if partitions is None:
        labels = list(range(n_seeds)) if seeds_redraw_folds else [0] * n_seeds
    else:
        labels = list(partitions)
        if len(labels) != n_seeds:
            raise UsageError(f"partitions has {len(labels)} labels for {n_seeds} seed rows")
    groups = list(dict.fromkeys(labels))
    parts = []
    for g in groups:  # row-major: partition by partition, folds in order
        rows = [i for i, lab in enumerate(labels) if lab == g]
        counts = keep[rows].sum(axis=0)
        present = counts > 0
        parts.append(np.where(keep[rows], diff[rows], 0.0).sum(axis=0)[present] / counts[present])
    d = np.concatenate(parts)
    folds_present = int(keep.any(axis=0).sum())
    n_dropped = int(missing.sum())
    if d.size < 2:
        extra = f" after dropping {n_dropped} pair(s) with NaN" if n_dropped else ""
        unit = "folds" if len(groups) == 1 < n_seeds else "pairs"
        raise UsageError(f"need at least 2 {unit} to compare, got {d.size}{extra}")
    return Differences(
        d=d,
        n_folds=folds_present,
        n_seeds=n_seeds,
        n_dropped=n_dropped,
        seeds_redraw_folds=bool(seeds_redraw_folds) if partitions is None else len(groups) > 1,
        tol=noise_tolerance(a[keep], b[keep]),
        n_partitions=len(groups),
    )


def resolve_ratio(
    test_train_ratio: float | None, n_train: float | None, n_test: float | None, n_folds: int
) -> tuple[float, bool]:
    """n_test/n_train from whichever was given; ``(ratio, assumed)`` where assumed means the k-fold 1/(k-1)."""
    if test_train_ratio is not None and (n_train is not None or n_test is not None):
        raise UsageError("give either test_train_ratio or n_train and n_test, not both")
    if (n_train is None) != (n_test is None):
        raise UsageError("n_train and n_test go together: give both or neither")
    if n_train is not None and n_test is not None:
        if not (n_train > 0 and n_test > 0 and math.isfinite(n_train) and math.isfinite(n_test)):
            raise UsageError(f"n_train={n_train} and n_test={n_test} must both be positive")
        return float(n_test) / float(n_train), False
    if test_train_ratio is not None:
        if not (math.isfinite(test_train_ratio) and test_train_ratio > 0):
            raise UsageError(f"test_train_ratio={test_train_ratio} must be a positive number (n_test / n_train)")
        return float(test_train_ratio), False
    if n_folds < 2:
        raise UsageError("with a single fold the test/train ratio cannot be assumed: give test_train_ratio")
    return 1.0 / (n_folds - 1), True


def min_rank_p(n: int, alternative: str = "two-sided") -> float:
    """Smallest p any signed-rank or sign-flip test can reach with n pairs (all differences one sign)."""
    one_sided = 0.5**n
    return min(1.0, 2.0 * one_sided) if alternative == "two-sided" else one_sided


def sign_flip_p(d: np.ndarray, tol: float, alternative: str = "two-sided") -> float:
    """Exact p of the paired sign-flip (permutation) test on the sum of differences.

    Used where a t statistic degenerates (zero variance): it is the honest small-sample answer, and never 0.
    Constant differences have a closed form; otherwise all 2^n sign patterns are enumerated (n <= 20).
    """
    d = np.asarray(d, dtype=float)
    n = d.size
    spread = float(np.ptp(d)) if n else 0.0
    if spread <= tol:
        c = float(np.mean(d))
        if abs(c) <= tol:
            return 1.0
        if alternative == "two-sided":
            return min_rank_p(n, "two-sided")
        favourable = (c > 0) == (alternative == "greater")
        return 0.5**n if favourable else 1.0
    if n > EXACT_SIGN_FLIP_MAX:
        raise ValueError(f"exact sign-flip enumeration is limited to {EXACT_SIGN_FLIP_MAX} pairs")
    sums = np.zeros(1)
    for x in d:  # all 2^n signed sums, doubling once per difference (8 MB at n = 20)
        sums = np.concatenate((sums + x, sums - x))
    observed = float(d.sum())
    return _tail(sums, observed, tol, alternative)


def _tail(sums: np.ndarray, observed: float, tol: float, alternative: str) -> float:
    """Share of the signed sums at least as extreme as ``observed`` (within ``tol``)."""
    if alternative == "two-sided":
        hits = np.abs(sums) >= abs(observed) - tol
    elif alternative == "greater":
        hits = sums >= observed - tol
    else:
        hits = sums <= observed + tol
    return float(hits.mean())
