"""compare(): a long score table in, one typed row per method out, identical to the single tests."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from tcrbench.errors import UsageError
from tcrbench.stats import (
    bayesian_correlated_ttest,
    cohens_dz,
    compare,
    corrected_ttest,
    flags,
    holm,
    json_safe,
    leaderboard_rows,
    paired_ttest,
    wilcoxon,
    wins_ties_losses,
)

RNG_SEED = 17
SEEDS, FOLDS = 3, 5


def _grid() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(RNG_SEED)
    base = np.round(rng.normal(0.75, 0.02, (SEEDS, FOLDS)), 4)
    return {
        "baseline": base,
        "contrastive": np.round(base + rng.normal(0.015, 0.01, (SEEDS, FOLDS)), 4),
        "mlm": np.round(base + rng.normal(0.0, 0.01, (SEEDS, FOLDS)), 4),
    }


def _long(grid: dict[str, np.ndarray]) -> dict[str, list]:
    cols: dict[str, list] = {"method": [], "fold": [], "seed": [], "score": []}
    for method, scores in grid.items():
        for s in range(scores.shape[0]):
            for f in range(scores.shape[1]):
                cols["method"].append(method)
                cols["fold"].append(f)
                cols["seed"].append(s)
                cols["score"].append(float(scores[s, f]))
    return cols


@pytest.mark.parametrize("redraw", [False, True])
def test_rows_equal_the_individual_tests(redraw: bool) -> None:
    grid = _grid()
    result = compare(_long(grid), "baseline", test_train_ratio=0.25, seeds_redraw_folds=redraw, rope=0.005,
                     resolution=0.001)
    assert [r.method for r in result.rows] == ["baseline", "contrastive", "mlm"]
    assert result.rows[0].is_baseline and result.rows[0].p is None
    assert result.rows[0].mean == pytest.approx(grid["baseline"].mean())
    ps = []
    for row in result.rows[1:]:
        m, b = grid[row.method], grid["baseline"]
        ref = corrected_ttest(m, b, test_train_ratio=0.25, seeds_redraw_folds=redraw)
        assert (row.diff, row.t, row.df, row.p) == pytest.approx((ref.mean_diff, ref.t, ref.df, ref.p), rel=1e-12)
        assert (row.ci_low, row.ci_high) == pytest.approx((ref.ci_low, ref.ci_high), rel=1e-12)
        assert row.n_pairs == (15 if redraw else 5) and (row.n_folds, row.n_seeds, row.n_scores) == (5, 3, 15)
        assert row.d_z == pytest.approx(cohens_dz(m, b, seeds_redraw_folds=redraw), rel=1e-12)
        wtl = wins_ties_losses(m, b, resolution=0.001)
        assert (row.wins, row.ties, row.losses) == (wtl.wins, wtl.ties, wtl.losses)
        assert row.wins + row.ties + row.losses == 15
        assert row.paired_t.p == pytest.approx(paired_ttest(m, b, seeds_redraw_folds=redraw).p)
        assert row.wilcoxon.p == pytest.approx(wilcoxon(m, b, seeds_redraw_folds=redraw).p)
        bayes = bayesian_correlated_ttest(m, b, rope=0.005, test_train_ratio=0.25, seeds_redraw_folds=redraw)
        assert row.bayesian.p_better == pytest.approx(bayes.p_better)
        assert flags.INVALID_FOR_CV in row.paired_t.flags and flags.INVALID_FOR_CV not in row.flags
        ps.append(row.p)
    np.testing.assert_allclose([r.p_holm for r in result.rows[1:]], holm(ps))
    assert result.seeds_redraw_folds is redraw and not result.ratio_assumed
    assert result.row("contrastive").p < result.row("mlm").p  # the planted gain is found


def test_same_result_from_rows_columns_and_dataframes() -> None:
    cols = _long(_grid())
    rows = [dict(zip(cols, values, strict=True)) for values in zip(*cols.values(), strict=True)]
    text = {k: [str(v) for v in vals] for k, vals in cols.items()}  # as read from a CSV
    upper = {k.upper(): v for k, v in cols.items()}
    expected = compare(cols, "baseline", seeds_redraw_folds=False).to_dict()
    for table in (rows, text, upper, pl.DataFrame(cols)):
        assert compare(table, "baseline", seeds_redraw_folds=False).to_dict() == expected


def test_no_seed_column_means_one_seed_and_assumed_ratio() -> None:
    cols = {"method": ["a"] * 3 + ["b"] * 3, "fold": [0, 1, 2] * 2, "score": [57.9, 56.9, 42.1, 60.3, 66.5, 67.4]}
    result = compare(cols, "a")
    row = result.row("b")
    assert result.ratio_assumed and result.test_train_ratio == 0.5
    assert row.p == pytest.approx(0.36479137481776763, abs=1e-9)  # the study's table
    assert flags.FEW_FOLDS in row.flags and flags.RATIO_ASSUMED not in row.flags
    assert row.corrected.min_rank_p == 0.25 and row.n_seeds == 1


def test_five_by_two_included_for_a_5x2_design() -> None:
    rng = np.random.default_rng(3)
    base = rng.normal(0.8, 0.02, (5, 2))
    grid = {"base": base, "new": base + rng.normal(0.01, 0.01, (5, 2))}
    redraw = compare(_long(grid), "base", seeds_redraw_folds=True, test_train_ratio=1.0)
    assert redraw.row("new").five_by_two is not None
    assert compare(_long(grid), "base", seeds_redraw_folds=False, test_train_ratio=1.0).row("new").five_by_two is None


def test_zero_variance_and_identical_rows() -> None:
    base = np.array([[0.70, 0.72, 0.71, 0.69]])
    grid = {"base": base, "same": base.copy(), "plus": base + 0.02}
    result = compare(_long(grid), "base", test_train_ratio=1 / 3)
    assert flags.IDENTICAL in result.row("same").flags and result.row("same").p == 1.0
    plus = result.row("plus")
    assert flags.ZERO_VARIANCE in plus.flags and plus.p == pytest.approx(2 / 2**4) and plus.t == float("inf")
    text = json.dumps(json_safe(result.to_dict()), allow_nan=False)
    assert '"t": "inf"' in text


def test_lower_is_better_counts_lower_scores_as_wins() -> None:
    grid = {"base": np.array([[0.30, 0.32, 0.31]]), "new": np.array([[0.25, 0.28, 0.33]])}
    row = compare(_long(grid), "base", higher_is_better=False).row("new")
    assert (row.wins, row.ties, row.losses) == (2, 0, 1)
    assert row.diff < 0 and row.bayesian.p_better > row.bayesian.p_worse


def test_nan_is_an_error_naming_the_row_unless_dropped() -> None:
    cols = _long(_grid())
    cols["score"][20] = float("nan")
    with pytest.raises(UsageError, match=r"scores, row 21: column 'score' is missing or NaN"):
        compare(cols, "baseline", seeds_redraw_folds=False)
    result = compare(cols, "baseline", seeds_redraw_folds=False, drop_nan=True)
    row = result.row(cols["method"][20])
    assert row.n_dropped == 1 and flags.NAN_DROPPED in row.flags and row.n_scores == 14
    assert result.n_nan_dropped == 1
    assert result.row("mlm" if row.method == "contrastive" else "contrastive").n_dropped == 0


def test_bad_tables_raise_one_line_usage_errors() -> None:
    cols = _long(_grid())
    cases = []
    cases.append(({k: v for k, v in cols.items() if k != "fold"}, "baseline", "missing column 'fold'"))
    cases.append((cols, "baseline2", "unknown baseline 'baseline2'; did you mean 'baseline'"))
    cases.append((cols, "zzz", r"unknown baseline 'zzz' \(methods: baseline, contrastive, mlm\)"))
    dup = {k: v + [v[0]] for k, v in cols.items()}
    cases.append((dup, "baseline", r"row 46: duplicate score for method baseline, fold 0, seed 0 \(first at row 1\)"))
    short = {k: v[:-1] for k, v in cols.items()}
    cases.append((short, "baseline", r"method 'mlm' has no score for fold 4, seed 2, which baseline 'baseline' has"))
    extra = {k: v + [x] for (k, v), x in zip(cols.items(), ["mlm", 9, 0, 0.7], strict=True)}
    cases.append((extra, "baseline", r"row 46: method 'mlm' has fold 9, seed 0, which baseline 'baseline' lacks"))
    bad = {k: list(v) for k, v in cols.items()}
    bad["score"][3] = "0.7x"
    cases.append((bad, "baseline", r"row 4: column 'score' is '0.7x', not a number"))
    only = {k: v[:15] for k, v in cols.items()}
    cases.append((only, "baseline", "nothing to compare"))
    cases.append(("scores.csv", "baseline", "not a file name"))
    blank = {k: list(v) for k, v in cols.items()}
    blank["fold"][7] = " "
    cases.append((blank, "baseline", r"row 8: column 'fold' is empty"))
    for table, baseline, message in cases:
        with pytest.raises(UsageError, match=message) as info:
            compare(table, baseline, seeds_redraw_folds=False)
        assert "\n" not in str(info.value)


def test_leaderboard_rows_and_flat_rows() -> None:
    rows = leaderboard_rows(_long(_grid()), "baseline", test_train_ratio=0.25, seeds_redraw_folds=False)
    assert [r.method for r in rows] == ["baseline", "contrastive", "mlm"]
    flat = rows[1].to_row()
    for key in ("mean", "sd", "diff", "ci_low", "ci_high", "t", "df", "p", "p_holm", "d_z", "wins", "ties",
                "losses", "n_folds", "n_seeds", "flags", "paired_t_p", "wilcoxon_p", "p_better"):
        assert key in flat
    assert not any(isinstance(v, (dict, list)) for v in flat.values())
    assert set(rows[0].to_row()) == set(flat)
