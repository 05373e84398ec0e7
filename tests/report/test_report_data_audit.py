"""The data audit in the report's header, and the banner for shortcut baselines well below chance."""

from __future__ import annotations

import json

import pytest

from tcrbench.report.banners import BELOW_CHANCE_MARGIN
from tcrbench.report.board import build_board
from tcrbench.report.data_audit import data_audit, negatives_text
from tcrbench.report.html import render_html
from tcrbench.report.json_report import render_json
from tcrbench.report.markdown import render_markdown
from tcrbench.report.model import row_key

SUP, PRE = "supervised · tiny", "mask1 × ntxent · tiny"


def _rows(make_rows, shortcut_scores, extra=None):
    scores = {
        (SUP, "finetune"): [[0.70, 0.72, 0.71]],
        (PRE, "finetune"): [[0.73, 0.74, 0.72]],
        ("peptide_only", "baseline"): [shortcut_scores],
    }
    return make_rows(scores, shortcut=("peptide_only",), extra=extra)


def test_a_shortcut_baseline_well_below_chance_gets_a_banner(make_rows):
    board = build_board(_rows(make_rows, [0.40, 0.41, 0.39]))
    below = [b for b in board.banners if b.kind == "shortcut_below_chance"]
    assert len(below) == 1 and below[0].keys == (row_key("peptide_only", "baseline"),)
    assert "scores auroc 0.400" in below[0].message and "folds or the negatives carry label information" in (
        below[0].message
    )
    assert "shortcut below chance" in render_markdown(board)


@pytest.mark.parametrize("scores", [[0.50, 0.49, 0.51], [0.46, 0.46, 0.46]])
def test_a_shortcut_baseline_at_or_near_chance_does_not(make_rows, scores):
    assert 0.5 - sum(scores) / 3 < BELOW_CHANCE_MARGIN
    board = build_board(_rows(make_rows, scores))
    assert not [b for b in board.banners if b.kind == "shortcut_below_chance"]


def test_below_chance_is_judged_within_each_label_fraction(make_rows):
    rows = []
    for fraction, base in ((0.1, [0.40, 0.41, 0.39]), (1.0, [0.50, 0.50, 0.50])):
        rows += _rows(make_rows, base, extra={"label_fraction": fraction})
    below = [b for b in build_board(rows).banners if b.kind == "shortcut_below_chance"]
    assert len(below) == 1 and "at 10% labels" in below[0].message
    assert below[0].keys == (row_key("peptide_only", "baseline", 0.1),)


ENV = {
    "data": {
        "source": "t.csv",
        "rows": 100,
        "audit": {"warnings": ["leak: 3 pairs occur in more than one given split (5 TCRs do)"], "shared_pairs": 3},
    }
}


def test_the_header_repeats_the_audit_warnings_and_the_negatives_strategy(make_rows):
    rows = _rows(make_rows, [0.5, 0.5, 0.5], extra={"negatives": "swapped:ratio=5,seed=0"})
    board = build_board(rows, environment=ENV)
    negatives = "negatives made by swapped:ratio=5,seed=0: known shortcut: TCR frequency"
    leak = "data audit: leak: 3 pairs occur in more than one given split (5 TCRs do)"
    md = render_markdown(board)
    assert f"- **{negatives}**" in md and f"- **{leak}**" in md
    html = render_html(board)
    assert f"<li><strong>{negatives}</strong></li>" in html and "data audit: leak: 3 pairs" in html
    doc = json.loads(render_json(board))["run"]["data_audit"]
    assert doc["warnings"] == ENV["data"]["audit"]["warnings"]
    assert doc["negatives"] == [{"strategy": "swapped:ratio=5,seed=0", "known_shortcut": "TCR frequency"}]
    assert doc["numbers"] == {"shared_pairs": 3}


def test_no_audit_and_no_negatives_add_nothing(make_rows):
    rows = _rows(make_rows, [0.5, 0.5, 0.5], extra={"negatives": ""})
    board = build_board(rows, environment={"data": {"source": "t.csv"}})
    assert board.meta.data_audit is None
    assert "data audit" not in render_markdown(board) and "negatives made by" not in render_markdown(board)
    assert json.loads(render_json(board))["run"]["data_audit"] is None


def test_each_strategy_names_its_known_shortcut():
    assert negatives_text("background:ratio=3") == "negatives made by background:ratio=3: known shortcut: TCR source"
    assert negatives_text("shuffled") == "negatives made by shuffled"
    audit = data_audit({}, [{"negatives": "swapped:ratio=5"}, {"negatives": "swapped:ratio=5"}, {}])
    assert audit is not None and audit.negatives == ("swapped:ratio=5",) and audit.warnings == ()


def test_the_negatives_line_carries_the_audits_number_for_its_known_shortcut():
    from tcrbench.report.data_audit import DataAudit, audit_lines

    swapped = DataAudit(warnings=(), negatives=("swapped:ratio=5,seed=0",), numbers={"tcr_frequency_auroc": 0.71})
    assert audit_lines(swapped) == ["negatives made by swapped:ratio=5,seed=0: known shortcut: TCR frequency "
                                    "(TCR-frequency AUROC on this table: 0.710; chance 0.5)"]
    background = DataAudit(warnings=("w",), negatives=("background:source=olga,ratio=5,seed=0",),
                           numbers={"tcrs_in_both_share": 0.0})
    lines = audit_lines(background)
    assert "0.0% of TCRs in both classes" in lines[0] and lines[1] == "data audit: w"
