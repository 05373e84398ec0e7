"""Exact McNemar on pooled predictions against statsmodels and mlxtend."""

from __future__ import annotations

import numpy as np
import pytest

from tcrbench.errors import UsageError
from tcrbench.stats import flags, mcnemar

# Drawn with numpy default_rng(7): labels, a classifier right 82% of the time and one right 74%.
Y = (
    "1111111000011001010010001010011111111101001011000001101111010000100011101000111010110111110100011111"
    "1011001010000100110101011110100000100110010001011011011111001011010001111100100010111011000100101010"
)
PA = (
    "0111011000001101010010001010010111010100001110000101101011010110100010101000111000011111110100011101"
    "1011001100000100010111011110000011100111010001010011011111001011011000111000100110111011010100110110"
)
PB = (
    "1100111001011000110100010011011101010101001010110001101101010000100101100101111110110100000000010101"
    "1111011111001100010100011010100000000110010101111111111111101111111101110100100010101011110110100010"
)


def _arr(s: str) -> np.ndarray:
    return np.array([int(c) for c in s])


def test_matches_recorded_statsmodels_and_mlxtend() -> None:
    y, a, b = _arr(Y), _arr(PA), _arr(PB)
    exact = mcnemar(y, a, b)
    # statsmodels 0.15.0 mcnemar([[119, 45], [27, 9]], exact=True) and mlxtend 0.25.0 mcnemar(exact=True)
    assert (exact.n_method_only, exact.n_baseline_only) == (45, 27)
    assert exact.statistic == 27.0 and exact.p == pytest.approx(0.04437092000802569, abs=1e-12)
    chi = mcnemar(y, a, b, exact=False)  # continuity-corrected chi-square, same libraries
    assert chi.statistic == pytest.approx(4.013888888888889, abs=1e-12)
    assert chi.p == pytest.approx(0.04512694888867611, abs=1e-12)


def test_matches_statsmodels_live() -> None:
    tables = pytest.importorskip("statsmodels.stats.contingency_tables")
    rng = np.random.default_rng(99)
    for _ in range(5):
        y = rng.integers(0, 3, 120)
        a = np.where(rng.random(120) < 0.7, y, rng.integers(0, 3, 120))
        b = np.where(rng.random(120) < 0.6, y, rng.integers(0, 3, 120))
        ra, rb = a == y, b == y
        table = [[np.sum(ra & rb), np.sum(ra & ~rb)], [np.sum(~ra & rb), np.sum(~ra & ~rb)]]
        for exact in (True, False):
            ref = tables.mcnemar(table, exact=exact, correction=True)
            r = mcnemar(y, a, b, exact=exact)
            assert r.p == pytest.approx(ref.pvalue, abs=1e-12)
            assert r.statistic == pytest.approx(ref.statistic, abs=1e-12)


def test_no_discordant_pairs_and_symmetry() -> None:
    y = np.array([1, 0, 1, 1, 0])
    r = mcnemar(y, y, y)
    assert r.p == 1.0 and flags.IDENTICAL in r.flags
    a, b = _arr(PA), _arr(PB)
    assert mcnemar(_arr(Y), a, b).p == mcnemar(_arr(Y), b, a).p


def test_bad_inputs() -> None:
    with pytest.raises(UsageError, match="same length"):
        mcnemar([1, 0], [1, 0, 1], [1, 1])
    with pytest.raises(UsageError, match="NaN"):
        mcnemar([1.0, np.nan], [1.0, 0.0], [1.0, 1.0])
