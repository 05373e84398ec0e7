"""Building the board: who is compared with whom, what is paired, and what a failure does."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from tcrbench.errors import UsageError
from tcrbench.report.board import build_board, load_board, row_key
from tcrbench.report.peptides import grouped_auroc
from tcrbench.stats import corrected_ttest, holm


def _scores(row, seeds_folds):
    by_cell = {(c.seed, c.fold): c.score for c in row.cells}
    return np.array([[by_cell[(s, f)] for f in range(seeds_folds[1])] for s in range(seeds_folds[0])])


def test_each_configuration_is_compared_with_the_supervised_arm_of_its_protocol(tmp_path, make_run, specs):
    board = load_board(make_run(tmp_path / "run", specs()))
    refs = board.meta.references
    assert refs == {"finetune": row_key("supervised · tiny", "finetune"), "probe": row_key("supervised · tiny", "probe")}
    assert board.find("mask1 × ntxent · tiny", "finetune").reference == refs["finetune"]
    assert board.find("mask1 × ntxent · tiny", "probe").reference == refs["probe"]
    # simple baselines and the CNN baseline sit in the same table, against the fine-tuned supervised arm
    assert board.find("peptide_only", "baseline").reference == refs["finetune"]
    assert board.find("cnn (supervised)", "finetune").reference == refs["finetune"]
    assert board.find("supervised · tiny", "probe").is_reference and board.find("supervised · tiny", "probe").diff is None


def test_statistics_match_the_corrected_test_on_the_paired_cells(tmp_path, make_run, specs):
    board = load_board(make_run(tmp_path / "run", specs(), n_folds=5, n_per_peptide=100))
    row = board.find("mask1 × ntxent · tiny", "probe")
    ref = board.row(row.reference)
    x, b = _scores(row, (1, 5)), _scores(ref, (1, 5))
    ratio = 60 / 240  # 300 rows in 5 folds
    assert {(c.n_test, c.n_train) for c in ref.cells} == {(60, 240)}
    expected = corrected_ttest(x[0], b[0], test_train_ratio=ratio)
    assert row.diff == pytest.approx(float(np.mean(x - b)))
    assert (row.t, row.df, row.p) == (pytest.approx(expected.t), expected.df, pytest.approx(expected.p))
    assert (row.ci_low, row.ci_high) == (pytest.approx(expected.ci_low), pytest.approx(expected.ci_high))
    assert row.wins + row.ties + row.losses == 5
    assert row.wins == int(np.sum(x > b))
    assert board.meta.test_train_ratio == pytest.approx(ratio)
    assert "ratio_assumed" not in row.flags


def test_holm_runs_across_every_comparison_on_the_board(tmp_path, make_run, specs):
    board = load_board(make_run(tmp_path / "run", specs()))
    compared = board.compared()
    assert len(compared) == 4  # two pretrained rows, the CNN and the peptide-only baseline
    np.testing.assert_allclose([r.p_holm for r in compared], holm([r.p for r in compared]))
    assert all(r.p_holm >= r.p for r in compared)


def test_seeds_redraw_folds_is_read_from_the_rows(make_rows):
    values = {("supervised", "finetune"): [[0.70, 0.72, 0.71], [0.69, 0.73, 0.70]],
              ("pre", "finetune"): [[0.74, 0.73, 0.75], [0.71, 0.76, 0.72]]}
    redrawn = build_board(make_rows(values, redraw=True)).find("pre", "finetune")
    fixed = build_board(make_rows(values, redraw=False)).find("pre", "finetune")
    assert (redrawn.n_pairs, redrawn.df) == (6, 5)
    assert (fixed.n_pairs, fixed.df) == (3, 2)  # seeds only re-initialise: averaged per fold first
    d = np.array(values[("pre", "finetune")]) - np.array(values[("supervised", "finetune")])
    assert fixed.t == pytest.approx(corrected_ttest(d.mean(axis=0), np.zeros(3), test_train_ratio=0.5).t)


def test_the_test_train_ratio_comes_from_the_rows(make_rows):
    values = {("supervised", "finetune"): [[0.70, 0.72, 0.71, 0.69]], ("pre", "finetune"): [[0.74, 0.73, 0.77, 0.70]]}
    small_test = build_board(make_rows(values, n_train=900, n_test=100)).find("pre", "finetune")
    large_test = build_board(make_rows(values, n_train=300, n_test=300)).find("pre", "finetune")
    assert small_test.test_train_ratio == pytest.approx(1 / 9)
    assert large_test.test_train_ratio == pytest.approx(1.0)
    assert small_test.p < large_test.p  # a larger n_test/n_train inflates the variance more
    no_sizes = build_board(make_rows(values, n_train=0, n_test=0)).find("pre", "finetune")
    assert "ratio_assumed" in no_sizes.flags and no_sizes.test_train_ratio == pytest.approx(1 / 3)


def test_failed_cells_are_listed_flagged_and_left_out(tmp_path, make_run, specs):
    fail = frozenset({("mask1 × ntxent · tiny", "finetune", 1, 0)} |
                     {("peptide_only", "baseline", f, 0) for f in range(3)})
    board = load_board(make_run(tmp_path / "run", specs(), fail=fail))
    partial = board.find("mask1 × ntxent · tiny", "finetune")
    assert partial.status == "partial" and partial.n_failed == 1
    assert "failed_cells" in partial.flags and "nan_dropped" in partial.flags
    assert partial.n_pairs == 2 and partial.df == 1
    dead = board.find("peptide_only", "baseline")
    assert dead.status == "failed" and dead.rank is None and dead.diff is None and "all_failed" in dead.flags
    assert {(f.key, f.fold) for f in board.failures} == {(partial.key, 1)} | {(dead.key, f) for f in range(3)}
    assert all("broke" in f.reason for f in board.failures)
    assert any(b.kind == "failures" and "4 of" in b.message for b in board.banners)
    # failed rows are ranked last and do not take part in Holm
    assert board.rows[-1].key == dead.key
    np.testing.assert_allclose([r.p_holm for r in board.compared()], holm([r.p for r in board.compared()]))


def test_a_configuration_with_a_single_pair_is_shown_without_a_test(make_rows):
    rows = make_rows({("supervised", "finetune"): [[0.70, 0.72, 0.71]], ("pre", "finetune"): [[0.74, None, None]]})
    row = build_board(rows).find("pre", "finetune")
    assert row.diff is None and "not_compared" in row.flags
    assert row.note == ("not compared with supervised [finetune]: need at least 2 pairs to compare, "
                        "got 1 after dropping 2 pair(s) with NaN")
    assert row.mean == pytest.approx(0.74)


def test_without_a_supervised_arm_rows_are_shown_uncompared(make_rows):
    rows = make_rows({("supervised", "finetune"): [[None, None, None]], ("pre", "finetune"): [[0.74, 0.70, 0.71]]})
    board = build_board(rows)
    assert "no_reference" in board.find("pre", "finetune").flags
    assert any(b.kind == "no_reference" for b in board.banners)


def test_shortcut_banner_when_a_shortcut_comes_within_the_margin(make_rows):
    base = {("supervised", "finetune"): [[0.70, 0.72, 0.71]], ("pre", "finetune"): [[0.74, 0.73, 0.75]]}
    close = make_rows({**base, ("tcr_only", "baseline"): [[0.73, 0.72, 0.73]]}, shortcut=("tcr_only",))
    far = make_rows({**base, ("tcr_only", "baseline"): [[0.60, 0.61, 0.62]]}, shortcut=("tcr_only",))
    banners = [b for b in build_board(close).banners if b.kind == "shortcut"]
    assert len(banners) == 1 and "tcr_only" in banners[0].message and "within 0.02" in banners[0].message
    assert not [b for b in build_board(far).banners if b.kind == "shortcut"]
    assert [b for b in build_board(far, shortcut_margin=0.2).banners if b.kind == "shortcut"]


def test_pretraining_loses_banner_names_the_protocol_and_the_losers(make_rows):
    rows = make_rows({("supervised", "finetune"): [[0.80, 0.82, 0.81]], ("pre", "finetune"): [[0.74, 0.73, 0.75]],
                      ("supervised", "probe"): [[0.60, 0.62, 0.61]], ("pre", "probe"): [[0.70, 0.71, 0.72]]})
    banners = [b for b in build_board(rows).banners if b.kind == "pretraining_loses"]
    assert len(banners) == 1
    assert "(finetune)" in banners[0].message and banners[0].keys == (row_key("pre", "finetune"),)
    winning = make_rows({("supervised", "finetune"): [[0.70, 0.72, 0.71]], ("pre", "finetune"): [[0.74, 0.73, 0.75]]})
    assert not [b for b in build_board(winning).banners if b.kind == "pretraining_loses"]


def test_label_using_pretraining_is_marked(make_rows):
    rows = make_rows({("supervised", "finetune"): [[0.70, 0.72, 0.71]], ("clip", "finetune"): [[0.74, 0.73, 0.75]]},
                     uses_labels=("clip",))
    board = build_board(rows)
    assert board.find("clip", "finetune").uses_labels and not board.find("supervised", "finetune").uses_labels
    assert [b.keys for b in board.banners if b.kind == "uses_labels"] == [(row_key("clip", "finetune"),)]


def test_zero_variance_differences_give_an_infinite_t_and_a_flag(make_rows):
    rows = make_rows({("supervised", "finetune"): [[0.70, 0.72, 0.71, 0.69]],
                      ("pre", "finetune"): [[0.72, 0.74, 0.73, 0.71]]})
    row = build_board(rows).find("pre", "finetune")
    assert math.isinf(row.t) and "zero_variance" in row.flags and 0 < row.p < 1


def test_ranks_follow_the_mean_and_the_macro_column_is_the_mean_over_folds(make_rows):
    rows = make_rows({("supervised", "finetune"): [[0.70, 0.72, 0.71]], ("pre", "finetune"): [[0.74, 0.73, 0.75]],
                      ("majority", "baseline"): [[0.5, 0.5, 0.5]]})
    board = build_board(rows)
    assert [r.label for r in board.rows] == ["pre", "supervised", "majority"]
    assert [r.rank for r in board.rows] == [1, 2, 3]
    assert board.find("pre", "finetune").macro_mean == pytest.approx(0.73)


@pytest.mark.parametrize("change, message", [
    (lambda r: r.pop("fold"), "missing field 'fold'"),
    (lambda r: r.update(status="done"), "field 'status' must be 'ok' or 'failed'"),
    (lambda r: r.update(seed="zero"), "field 'seed' must be an integer"),
    (lambda r: r.update(n_train=12.5), "field 'n_train' must be an integer"),
    (lambda r: r["metrics"].update(auroc="high"), "metric 'auroc' is 'high', not a number"),
])
def test_malformed_rows_are_named(make_rows, change, message):
    rows = make_rows({("supervised", "finetune"): [[0.70, 0.72]], ("pre", "finetune"): [[0.74, 0.73]]})
    change(rows[1])
    with pytest.raises(UsageError, match=message) as info:
        build_board(rows)
    assert rows[1]["row_key"] in str(info.value)


def test_a_duplicate_cell_and_an_unknown_metric_are_usage_errors(make_rows):
    rows = make_rows({("supervised", "finetune"): [[0.70, 0.72]], ("pre", "finetune"): [[0.74, 0.73]]})
    with pytest.raises(UsageError, match="a second row for pre \\[finetune\\], fold 0, seed 0"):
        build_board(rows + [dict(rows[2], row_key="copy")])
    with pytest.raises(UsageError, match="metric 'mcc' is in no finished row \\(metrics present: auroc, macro_auroc\\)"):
        build_board(rows, "mcc")
    with pytest.raises(UsageError, match="no result rows"):
        build_board([])


def test_a_folder_that_is_not_a_run_is_named(tmp_path):
    with pytest.raises(UsageError, match=f"{tmp_path}: not a tcrbench run folder"):
        load_board(tmp_path)
    with pytest.raises(UsageError, match="nowhere: no such run folder"):
        load_board(tmp_path / "nowhere")


def test_a_damaged_row_file_is_named(tmp_path, make_run, specs):
    run = make_run(tmp_path / "run", specs()[:2])
    victim = sorted((run / "rows").glob("*.json"))[1]
    victim.write_text('{"label": ')
    with pytest.raises(UsageError, match=f"{victim}: not valid JSON"):
        load_board(run)


def test_metadata_comes_from_the_run_folder(tmp_path, make_run, specs):
    board = load_board(make_run(tmp_path / "run", specs(), config_hash="feedface00000000", source="dataset X"))
    assert board.meta.config_hash == "feedface00000000"
    assert board.meta.data_source == "dataset X" and board.meta.versions["tcrbench"] == "0.1.0"
    assert board.meta.seeds_redraw_folds is True and board.meta.folds == (0, 1, 2)


# --------------------------------------------------------------------------------------------- per peptide
def test_grouped_auroc_matches_scikit_learn_with_ties():
    import polars as pl

    rng = np.random.default_rng(7)
    n = 600
    frame = pl.DataFrame({"g": rng.integers(0, 5, n), "label": rng.integers(0, 2, n),
                          "score": rng.integers(0, 6, n).astype(float)})  # heavy ties
    out = grouped_auroc(frame, ["g"]).sort("g")
    g, y, s = (frame[c].to_numpy() for c in ("g", "label", "score"))
    expected = [roc_auc_score(y[g == k], s[g == k]) for k in sorted(set(g))]
    np.testing.assert_allclose(out["auroc"].to_numpy(), expected, rtol=1e-12)
    single = grouped_auroc(pl.DataFrame({"g": [1, 1], "label": [1, 1], "score": [0.2, 0.4]}), ["g"])
    assert single["auroc"].to_list() == [None]


def test_per_peptide_auroc_is_the_mean_over_folds_and_agrees_with_macro_auroc(tmp_path, make_run, specs):
    run = make_run(tmp_path / "run", specs(), n_per_peptide=180)
    board = load_board(run)
    table = board.per_peptide
    assert table is not None
    # 180 rows per peptide, every 4th row of the table positive; most positives first, then by name
    assert table.peptides == ("GILGFVFTL", "KLGGALQAK", "NLVPMVATV")
    assert table.n_positives == (45, 45, 45) and table.n_negatives == (135, 135, 135)
    i = table.keys.index(row_key("mask1 × ntxent · tiny", "finetune"))
    j = table.peptides.index("GILGFVFTL")
    import polars as pl

    per_fold = []
    for cell in board.find("mask1 × ntxent · tiny", "finetune").cells:
        frame = pl.read_parquet(run / "predictions" / f"{cell.row_key}.parquet").filter(pl.col("peptide") == "GILGFVFTL")
        per_fold.append(roc_auc_score(frame["label"].to_numpy(), frame["score"].to_numpy()))
    assert table.auroc[i][j] == pytest.approx(np.mean(per_fold))
    assert table.n_cells[i][j] == 3
    # every peptide qualifies in every fold, so averaging peptides gives the macro_auroc metric's mean over folds
    assert {n for per_key in table.n_cells for n in per_key} == {3}
    for key, values in zip(table.keys, table.auroc):
        assert np.mean(values) == pytest.approx(board.row(key).macro_mean)


def test_a_peptide_counts_only_in_folds_with_enough_positives(tmp_path, make_run, specs):
    board = load_board(make_run(tmp_path / "run", specs()), min_positives=9)  # about 7.7 positives per fold
    table = board.per_peptide
    assert table.min_positives == 9 and "at least 9 positive" in table.how
    assert max(n for per_key in table.n_cells for n in per_key) < 3
    for key, counts, values in zip(table.keys, table.n_cells, table.auroc):
        assert all((n == 0) == math.isnan(v) for n, v in zip(counts, values)), key


def test_missing_predictions_shrink_the_table_and_say_so(tmp_path, make_run, specs):
    run = make_run(tmp_path / "run", specs())
    victim = next((run / "predictions").glob("peptide-only*"))
    victim.write_bytes(b"not parquet")
    board = load_board(run)
    assert board.per_peptide.n_missing == 1
    assert any(b.kind == "missing_predictions" for b in board.banners)
    assert row_key("peptide_only", "baseline") in board.per_peptide.keys  # its other folds still count


# ------------------------------------------------------------------------------------------------ properties
_score = st.one_of(st.none(), st.floats(0.3, 0.95, allow_nan=False).map(lambda x: round(x, 3)))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), n_seeds=st.integers(1, 2), n_folds=st.integers(2, 5), redraw=st.booleans())
def test_any_pattern_of_failures_gives_a_consistent_board(make_rows, data, n_seeds, n_folds, redraw):
    names = [("supervised", "finetune"), ("pre", "finetune"), ("supervised", "probe"), ("pre", "probe"),
             ("majority", "baseline")]
    grid = st.lists(st.lists(_score, min_size=n_folds, max_size=n_folds), min_size=n_seeds, max_size=n_seeds)
    values = {name: data.draw(grid, label=str(name)) for name in names}
    board = build_board(make_rows(values, redraw=redraw))
    n_none = sum(v is None for per in values.values() for seed in per for v in seed)
    assert len(board.failures) == n_none == sum(r.n_failed for r in board.rows)
    ranked = [r.rank for r in board.rows if r.rank is not None]
    assert ranked == list(range(1, len(ranked) + 1))
    for r in board.rows:
        finished = [v for seed in values[(r.label, r.protocol)] for v in seed if v is not None]
        assert r.n_scores == len(finished)
        assert (r.status == "failed") == (not finished)
        if r.diff is not None:
            assert r.p_holm >= r.p - 1e-12 and r.ci_low <= r.diff <= r.ci_high
            assert r.wins + r.ties + r.losses <= n_seeds * n_folds
            assert r.n_pairs >= 2
        elif not r.is_reference:
            assert set(r.flags) & {"all_failed", "not_compared", "no_reference"}
