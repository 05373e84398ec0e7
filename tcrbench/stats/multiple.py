"""Corrections for comparing several methods with one baseline.

Holm controls the family-wise error (the chance of any false "better") and is never worse than Bonferroni;
Benjamini–Hochberg controls the expected share of false discoveries, for screening many configurations.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from tcrbench.errors import UsageError


def _pvalues(pvalues: ArrayLike) -> np.ndarray:
    p = np.asarray(pvalues, dtype=float)
    if p.ndim != 1:
        raise UsageError(f"p-values must be a 1-D array, got shape {p.shape}")
    bad = np.flatnonzero(~((p >= 0.0) & (p <= 1.0)))  # also catches NaN
    if bad.size:
        raise UsageError(f"p-value at index {int(bad[0])} is {p[bad[0]]}, not a probability in [0, 1]")
    return p


def holm(pvalues: ArrayLike) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values, in the input order."""
    p = _pvalues(pvalues)
    m = p.size
    if m == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    stepped = (m - np.arange(m)) * p[order]
    adjusted = np.minimum(1.0, np.maximum.accumulate(stepped))
    out = np.empty(m)
    out[order] = adjusted
    return out


def benjamini_hochberg(pvalues: ArrayLike) -> np.ndarray:
    """Benjamini & Hochberg (1995) step-up adjusted p-values (q-values), in the input order."""
    p = _pvalues(pvalues)
    m = p.size
    if m == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    out = np.empty(m)
    out[order] = adjusted
    return out
