"""Label-fraction learning curves on the board: each fraction its own configuration and comparison, Holm across
all of them, the learning-curve section, the detectable difference and the pretraining corpus."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, fields, replace

import numpy as np
import pytest
from rich.console import Console

from tcrbench.errors import UsageError
from tcrbench.report import pairing
from tcrbench.report.board import build_board, render_console, row_key
from tcrbench.report.html import render_html
from tcrbench.report.json_report import board_to_dict
from tcrbench.report.markdown import render_markdown
from tcrbench.report.plots import board_plots
from tcrbench.results.store import RunStore
from tcrbench.stats import holm
from tcrbench.stats.compare import MethodComparison

SUP, PRE, BASE = "supervised · tiny", "mask1 × ntxent · tiny", "tcr_only"
N_LABELLED = {0.1: 80, 0.3: 240, 1.0: 800}
# per fraction: AUROC on folds 0..3; pretraining helps most with few labels, and not at all with every label
SCORES = {
    0.1: {SUP: [0.60, 0.62, 0.59, 0.61], PRE: [0.66, 0.67, 0.65, 0.68], BASE: [0.58, 0.60, 0.59, 0.57]},
    0.3: {SUP: [0.66, 0.67, 0.65, 0.68], PRE: [0.69, 0.70, 0.69, 0.71], BASE: [0.59, 0.61, 0.60, 0.58]},
    1.0: {SUP: [0.70, 0.72, 0.69, 0.71], PRE: [0.71, 0.71, 0.70, 0.71], BASE: [0.60, 0.62, 0.61, 0.59]},
}


def _fraction_rows(make_rows, scores=SCORES, *, old_full=False, corpus=None, shortcut=(BASE,)):
    """Rows at every fraction of ``scores``; ``old_full``: the fraction-1 rows lack the new fields entirely."""
    rows = []
    for fraction, per_label in scores.items():
        values = {(label, "baseline" if label == BASE else "finetune"): [v] for label, v in per_label.items()}
        extra = {"label_fraction": fraction, "n_labelled": N_LABELLED[fraction], "pretrain_corpus": corpus or {}}
        batch = make_rows(values, extra=extra, shortcut=shortcut, uses_labels=(BASE,))
        for r in batch:
            r["row_key"] = f"{r['row_key']}-lf{fraction}"
            if old_full and fraction == 1.0:
                for field in ("label_fraction", "n_labelled", "pretrain_corpus"):
                    r.pop(field, None)
        rows += batch
    return rows


@pytest.fixture(scope="module")
def board(make_rows):
    return build_board(_fraction_rows(make_rows))


def test_each_fraction_is_its_own_row_compared_with_the_supervised_arm_at_that_fraction(board):
    keys = {r.key for r in board.rows}
    assert keys == {
        row_key(label, protocol, f)
        for f in (0.1, 0.3, 1.0)
        for label, protocol in ((SUP, "finetune"), (PRE, "finetune"), (BASE, "baseline"))
    }
    assert row_key(PRE, "finetune", 0.1) == f"{PRE} [finetune] @ 10% labels"
    assert row_key(PRE, "finetune", 1.0) == f"{PRE} [finetune]"  # all labels: the key every old board uses
    for f in (0.1, 0.3, 1.0):
        ref = board.find(SUP, "finetune", f)
        assert ref.is_reference and ref.label_fraction == f and ref.n_labelled == N_LABELLED[f]
        pre, base = board.find(PRE, "finetune", f), board.find(BASE, "baseline", f)
        assert pre.reference == ref.key and base.reference == ref.key  # baselines: fine-tuned arm, same fraction
        expected = np.mean(np.array(SCORES[f][PRE]) - np.array(SCORES[f][SUP]))
        assert pre.diff == pytest.approx(expected)
    assert board.meta.references == {
        "finetune": row_key(SUP, "finetune"),
        "finetune @ 30% labels": row_key(SUP, "finetune", 0.3),
        "finetune @ 10% labels": row_key(SUP, "finetune", 0.1),
    }
    assert board.meta.label_fractions == (0.1, 0.3, 1.0)


def test_holm_runs_across_every_fraction_and_configuration(board):
    compared = board.compared()
    assert len(compared) == 6  # pretrained and baseline, three fractions each
    np.testing.assert_allclose([r.p_holm for r in compared], holm([r.p for r in compared]))
    assert board.find(PRE, "finetune", 0.1).significant
    assert not board.find(PRE, "finetune", 1.0).significant


def test_rows_without_the_field_are_all_labels(make_rows):
    values = {(SUP, "finetune"): [SCORES[1.0][SUP]], (PRE, "finetune"): [SCORES[1.0][PRE]]}
    old = make_rows(values)
    for r in old:
        for field in ("label_fraction", "n_labelled", "pretrain_corpus"):
            r.pop(field, None)
    board = build_board(old)
    row = board.find(PRE, "finetune")
    assert row.key == row_key(PRE, "finetune") and row.label_fraction == 1.0 and row.n_labelled is None
    assert board.learning_curves is None and board.meta.corpus is None
    text = render_markdown(board)
    assert "label fraction" not in text and "Learning curve" not in text and "corpus" not in text
    doc = board_to_dict(board)
    assert doc["learning_curve"] is None and doc["run"]["pretrain_corpus"] is None
    assert doc["rows"][0]["label_fraction"] == 1.0

    mixed = build_board(_fraction_rows(make_rows, old_full=True))  # old full-label rows beside new fractions
    assert mixed.find(PRE, "finetune").reference == row_key(SUP, "finetune")
    assert mixed.find(PRE, "finetune", 0.1).reference == row_key(SUP, "finetune", 0.1)
    assert mixed.find(SUP, "finetune").n_labelled is None


@pytest.mark.parametrize("bad", [0, 1.5, "half", True])
def test_a_label_fraction_outside_0_1_is_named(make_rows, bad):
    rows = make_rows({(SUP, "finetune"): [[0.7, 0.71]]}, extra={"label_fraction": bad})
    with pytest.raises(UsageError, match="label_fraction"):
        build_board(rows)


def test_markdown_and_json_carry_the_learning_curve(board):
    text = render_markdown(board)
    assert "## Learning curve" in text and "label fraction" in text and "10% · 80 rows" in text
    section = text.split("## Learning curve")[1]
    lines = [[c.strip() for c in line.strip("|").split("|")] for line in section.splitlines() if line.startswith("| ")]
    assert lines[0][:3] == ["configuration", "label fraction", "labelled rows"]
    pre_10 = next(cells for cells in lines if cells[0] == f"{PRE} [finetune]" and cells[1] == "10%")
    row = board.find(PRE, "finetune", 0.1)
    assert pre_10[2] == "80" and pre_10[4] == f"{row.diff:+.3f} [{row.ci_low:+.3f}, {row.ci_high:+.3f}]"
    assert [c[1] for c in lines[1:4]] == ["10%", "30%", "100%"]  # the supervised arm first, smallest fraction first

    doc = json.loads(json.dumps(board_to_dict(board), allow_nan=False))
    curve = doc["learning_curve"]
    assert curve["fractions"] == [0.1, 0.3, 1.0]
    assert [c["key"] for c in curve["curves"]] == [row_key(SUP, "finetune"), row_key(PRE, "finetune"),
                                                   row_key(BASE, "baseline")]
    points = curve["curves"][1]["points"]
    assert [p["label_fraction"] for p in points] == [0.1, 0.3, 1.0]
    assert [p["n_labelled"] for p in points] == [80, 240, 800]
    assert points[0]["reference"] == row_key(SUP, "finetune", 0.1)
    assert points[0]["p_holm"] == pytest.approx(row.p_holm) and points[0]["ci_low"] == pytest.approx(row.ci_low)
    by_key = {r["key"]: r for r in doc["rows"]}
    assert by_key[row.key]["label_fraction"] == 0.1 and by_key[row.key]["n_labelled"] == 80


def test_html_has_the_learning_curve_plot_and_table(board, make_rows):
    page = render_html(board)
    assert 'class="plot learning_curve"' in page and "<h2>Learning curve</h2>" in page
    plot = next(p for p in board_plots(board) if p.name == "learning_curve")
    assert plot.png.startswith(b"\x89PNG") and "labelled training rows" in plot.caption
    single = build_board(make_rows({(SUP, "finetune"): [SCORES[1.0][SUP]], (PRE, "finetune"): [SCORES[1.0][PRE]]}))
    assert "learning_curve" not in render_html(single)


def test_banners_compare_within_a_fraction(make_rows):
    scores = {
        0.1: {SUP: [0.52, 0.51, 0.50, 0.52], PRE: [0.53, 0.52, 0.51, 0.53], BASE: [0.52, 0.51, 0.52, 0.51]},
        1.0: {SUP: [0.80, 0.82, 0.79, 0.81], PRE: [0.81, 0.82, 0.80, 0.81], BASE: [0.60, 0.62, 0.61, 0.59]},
    }
    board = build_board(_fraction_rows(make_rows, scores))
    shortcut = [b for b in board.banners if b.kind == "shortcut"]
    # at 10% labels the TCR-only baseline is as good as any model; at all labels it is far behind
    assert len(shortcut) == 1 and "at 10% labels" in shortcut[0].message
    assert shortcut[0].keys == (row_key(BASE, "baseline", 0.1), row_key(PRE, "finetune", 0.1))
    # a supervised arm near chance on 10% of the labels is a learning curve, not an under-trained model
    assert not [b for b in board.banners if b.kind == "undertrained"]


@dataclass(frozen=True)
class _WithDetectable(MethodComparison):
    detectable: float | None = None


def _with_detectable(real, value):
    def compare(*args, **kwargs):
        result = real(*args, **kwargs)
        rows = tuple(
            _WithDetectable(**{f.name: getattr(r, f.name) for f in fields(MethodComparison) if f.name != "detectable"},
                            detectable=None if r.is_baseline else value)
            for r in result.rows
        )
        return replace(result, rows=rows)

    return compare


def test_the_detectable_difference_is_printed_only_where_nothing_was_shown(make_rows, monkeypatch):
    monkeypatch.setattr(pairing, "compare", _with_detectable(pairing.compare, 0.0345))
    board = build_board(_fraction_rows(make_rows))
    shown = board.find(PRE, "finetune", 0.1)  # significant: a detectable difference says nothing
    missed = board.find(PRE, "finetune", 1.0)
    assert shown.significant and not missed.significant
    text = render_markdown(board)
    header = next(line for line in text.splitlines() if line.startswith("| # "))
    cells = [c.strip() for c in header.strip("|").split("|")]
    col = cells.index("detectable (80% power)")
    assert cells[col - 1] == "Holm p"

    def cell(row):
        line = next(line for line in text.splitlines() if line.startswith(f"| {row.rank} "))
        return [c.strip() for c in line.strip().strip("|").split("|")][col]

    assert cell(missed) == "0.035" and cell(shown) == ""
    assert "smallest difference it could have detected with 80% power" in text
    doc = board_to_dict(board)
    by_key = {r["key"]: r for r in doc["rows"]}
    assert by_key[missed.key]["detectable"] == pytest.approx(0.0345)
    assert by_key[row_key(SUP, "finetune")]["detectable"] is None
    points = {p["key"]: p for c in doc["learning_curve"]["curves"] for p in c["points"]}
    assert points[missed.key]["detectable"] == pytest.approx(0.0345) and not points[missed.key]["significant"]
    assert "detectable (80% power)" in render_html(board)


def test_no_detectable_value_renders_nothing(make_rows, monkeypatch):
    monkeypatch.setattr(pairing, "compare", _with_detectable(pairing.compare, None))
    board = build_board(_fraction_rows(make_rows))
    assert all(r.detectable is None for r in board.rows)
    assert "detectable" not in render_markdown(board) and "detectable" not in render_html(board)


def test_the_pretraining_corpus_is_shown(make_rows):
    rows = _fraction_rows(make_rows, corpus={"sources": ["olga", "vdjdb"], "hash": "9f3c2a", "size": 120000})
    for r in rows:
        # the guard removes per fold; the runner also records the rows left ("used")
        r["pretrain_corpus"] = dict(r["pretrain_corpus"], removed=12 + r["fold"], used=120000 - 12 - r["fold"])
    board = build_board(rows)
    c = board.meta.corpus
    assert c is not None and c.sources == ("olga", "vdjdb") and c.hashes == ("9f3c2a",) and c.removed == (12, 13, 14, 15)
    line = "pretraining corpus besides the training fold: olga, vdjdb; size 120,000; hash 9f3c2a; test-fold TCRs " \
           "removed by the leak guard: 12–15 (differs by fold); rows used after it: 119,985–119,988 (differs by fold)"
    assert line in render_markdown(board) and line in render_html(board)
    corpus = board_to_dict(board)["run"]["pretrain_corpus"]
    assert corpus["sources"] == ["olga", "vdjdb"] and corpus["removed"] == [12, 13, 14, 15]
    assert corpus["hashes"] == ["9f3c2a"] and corpus["sizes"] == [120000] and len(corpus["used"]) == 4


def test_per_peptide_table_uses_the_largest_fraction(tmp_path, make_run, specs):
    path = make_run(tmp_path / "run", specs())
    full = RunStore(path).rows()
    small = [dict(r, label_fraction=0.25, n_labelled=50) for r in full]  # same predictions files
    board = build_board(full + small, predictions_dir=path / "predictions")
    table = board.per_peptide
    assert table is not None and table.keys and all(board.row(k).label_fraction == 1.0 for k in table.keys)
    assert "largest label fraction" in table.how and "largest label fraction" in render_markdown(board)


def test_the_console_notes_what_each_non_significant_comparison_could_have_detected(board):
    buffer = io.StringIO()
    render_console(board, Console(file=buffer, width=250, color_system=None))
    out = buffer.getvalue()
    missed = board.find(PRE, "finetune")
    assert not missed.significant and missed.detectable is not None
    assert f"{missed.key} ≥ {missed.detectable:.3f}" in out
    assert board.find(PRE, "finetune", 0.1).key + " ≥" not in out  # significant: nothing to add
    assert "10% · 80 rows" in out


def test_a_dynamics_curve_is_compared_with_the_supervised_arm_at_its_fraction(make_rows):
    rows = _fraction_rows(make_rows)
    for step, gain in ((0, 0.0), (100, 0.02)):
        values = {(PRE, "dynamics-finetune"): [[s + gain for s in SCORES[0.1][SUP]]]}
        rows += make_rows(values, arms={PRE: "pretrained"}, extra={"step": step, "label_fraction": 0.1})
    board = build_board(rows)
    assert board.dynamics is not None
    (curve,) = board.dynamics.curves
    assert curve.label_fraction == 0.1 and curve.name == row_key(PRE, "dynamics-finetune", 0.1)
    assert curve.reference == row_key(SUP, "finetune", 0.1)
    assert [p.gain for p in curve.points] == pytest.approx([0.0, 0.02])  # against 10% labels, not all of them
    assert f"### {curve.name}" in render_markdown(board)
