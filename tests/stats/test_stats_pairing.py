"""compare() takes its pairing from the data (split_seed), attaches 5x2cv, detectable and the sign-flip view."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from tcrbench.errors import UsageError
from tcrbench.stats import (
    compare,
    corrected_power,
    corrected_ttest,
    five_by_two_cv,
    sign_flip_test,
)
from tcrbench.stats._pairs import paired_differences
from tcrbench.stats.sign_flip import sign_flip_on


def _table(grid: dict[str, np.ndarray], split: list[int] | None = None) -> dict[str, list]:
    """Long table of (seeds, folds) grids; ``split[s]`` is seed s's split_seed column when given."""
    cols: dict[str, list] = {"method": [], "fold": [], "seed": [], "score": []}
    if split is not None:
        cols["split_seed"] = []
    for method, scores in grid.items():
        for s, f in itertools.product(range(scores.shape[0]), range(scores.shape[1])):
            cols["method"].append(method)
            cols["fold"].append(f)
            cols["seed"].append(s)
            cols["score"].append(float(scores[s, f]))
            if split is not None:
                cols["split_seed"].append(split[s])
    return cols


def _grid(seeds: int, folds: int, seed: int = 5) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    base = rng.normal(0.75, 0.02, (seeds, folds))
    return {"base": base, "new": base + rng.normal(0.01, 0.01, (seeds, folds))}


def test_a_5x2cv_table_with_split_seed_is_paired_ten_ways_and_gets_5x2cv() -> None:
    grid = _grid(5, 2)
    result = compare(_table(grid, split=[0, 1, 2, 3, 4]), "base")
    row = result.row("new")
    assert row.n_pairs == 10 and result.seeds_redraw_folds and result.pairing_from == "split_seed column"
    assert row.p == pytest.approx(corrected_ttest(grid["new"], grid["base"], seeds_redraw_folds=True).p)
    assert row.five_by_two == five_by_two_cv(grid["new"], grid["base"])
    # the same scores read as fixed folds would have given 2 pairs: that is what the data now rule out
    with pytest.raises(UsageError, match="--fixed-folds.*5 different draws of the folds"):
        compare(_table(grid, split=[0, 1, 2, 3, 4]), "base", seeds_redraw_folds=False)


def test_constant_split_seed_averages_seeds_per_fold() -> None:
    grid = _grid(3, 5)
    row = compare(_table(grid, split=[7, 7, 7]), "base").row("new")
    assert row.n_pairs == 5 and row.five_by_two is None
    assert row.p == pytest.approx(corrected_ttest(grid["new"], grid["base"], seeds_redraw_folds=False).p)
    with pytest.raises(UsageError, match="seeds_redraw_folds=True.*1 draw"):
        compare(_table(grid, split=[7, 7, 7]), "base", seeds_redraw_folds=True)


def test_two_draws_with_two_init_seeds_each_average_within_a_draw() -> None:
    grid = _grid(4, 3)
    row = compare(_table(grid, split=[0, 0, 1, 1]), "base", test_train_ratio=0.5).row("new")
    d = grid["new"] - grid["base"]
    by_hand = np.concatenate([d[:2].mean(axis=0), d[2:].mean(axis=0)])
    assert row.n_pairs == 6 and row.diff == pytest.approx(by_hand.mean())
    assert row.corrected.sd_diff == pytest.approx(by_hand.std(ddof=1))


def test_several_seeds_without_split_seed_or_flag_is_an_error_and_flags_still_work() -> None:
    grid = _grid(3, 5)
    with pytest.raises(UsageError, match="3 seeds, but nothing says whether each seed drew new folds"):
        compare(_table(grid), "base")
    redraw = compare(_table(grid), "base", seeds_redraw_folds=True)
    fixed = compare(_table(grid), "base", seeds_redraw_folds=False)
    assert (redraw.row("new").n_pairs, fixed.row("new").n_pairs) == (15, 5)
    assert redraw.pairing_from == fixed.pairing_from == "given"
    assert redraw.to_dict()["rows"] == compare(_table(grid, split=[0, 1, 2]), "base").to_dict()["rows"]
    one = compare(_table(_grid(1, 5)), "base")  # one seed needs no flag
    assert one.row("new").n_pairs == 5 and one.pairing_from == "one seed"


def test_split_seed_must_be_one_value_per_seed() -> None:
    cols = _table(_grid(2, 3), split=[0, 1])
    cols["split_seed"][4] = 9  # seed 1, fold 1 of "base"
    with pytest.raises(UsageError, match=r"row 5: seed 1 has split_seed 9, but 1 at row 4"):
        compare(cols, "base")


def test_detectable_is_the_difference_with_80_percent_power() -> None:
    result = compare(_table(_grid(3, 5)), "base", seeds_redraw_folds=True, test_train_ratio=0.25)
    base, row = result.rows
    assert base.detectable is None
    c = row.corrected
    assert row.detectable > 0
    assert corrected_power(row.detectable, c.sd_diff, c.n, 0.25) == pytest.approx(0.8, abs=1e-6)
    flat = row.to_row()
    assert flat["detectable"] == row.detectable and flat["sign_flip_p"] == row.sign_flip.p
    same = compare({"method": ["a"] * 3 + ["b"] * 3, "fold": [0, 1, 2] * 2, "score": [1, 2, 3] * 2}, "a")
    assert math.isnan(same.row("b").detectable)  # identical differences: the t-test was not used


def _brute_force(d: np.ndarray, alternative: str) -> float:
    sums = np.array([np.dot(signs, d) for signs in itertools.product((1.0, -1.0), repeat=d.size)])
    obs = d.sum()
    if alternative == "two-sided":
        return float(np.mean(np.abs(sums) >= abs(obs) - 1e-12))
    if alternative == "greater":
        return float(np.mean(sums >= obs - 1e-12))
    return float(np.mean(sums <= obs + 1e-12))


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_sign_flip_matches_enumeration(alternative: str) -> None:
    rng = np.random.default_rng(11)
    x, b = rng.normal(0.72, 0.02, 10), rng.normal(0.71, 0.02, 10)
    result = sign_flip_test(x, b, alternative=alternative)
    assert result.exact and result.n == 10 and "invalid_for_cv" in result.flags
    assert result.p == pytest.approx(_brute_force(x - b, alternative), abs=1e-12)
    assert sign_flip_test([60.3, 66.5, 67.4], [57.9, 56.9, 42.1]).p == 0.25  # the study's floor


def test_sign_flip_beyond_20_pairs_is_a_seeded_monte_carlo_close_to_exact() -> None:
    rng = np.random.default_rng(4)
    d = rng.normal(0.3, 1.0, 22)
    exact_sums = np.zeros(1)
    for x in d:
        exact_sums = np.concatenate((exact_sums + x, exact_sums - x))
    exact = float(np.mean(np.abs(exact_sums) >= abs(d.sum())))
    result = sign_flip_on(paired_differences(d, np.zeros_like(d)), n_resamples=20_000, seed=3)
    assert not result.exact and result.n_resamples == 20_000
    assert abs(result.p - exact) < 4 * math.sqrt(exact * (1 - exact) / 20_000) + 1e-4
    assert result.p == sign_flip_on(paired_differences(d, np.zeros_like(d)), n_resamples=20_000, seed=3).p
