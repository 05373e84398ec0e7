"""inspect_table: the numbers a user checks before training, and the shortcut warning."""

import json

import polars as pl

from tcrbench.data import inspect_table, render_text, synthesize
from tcrbench.data.inspect import SHORTCUT_WARNING


def _frame() -> pl.DataFrame:
    return pl.DataFrame({
        "peptide": ["GILGFVFTL"] * 4 + ["NLVPMVATV"] * 3,
        "cdr3b": ["CASSF", "CASRF", "CASQF", "CASSF", "CASSF", "CASWF", "CASYF"],
        "label": [1, 0, 0, 1, 0, 1, 0],
    }, schema_overrides={"label": pl.Int8})


def test_counts_per_peptide_and_lengths():
    s = inspect_table(_frame())
    assert (s["rows"], s["peptides"], s["positives"], s["negatives"]) == (7, 2, 3, 4)
    assert s["per_peptide"] == [
        {"peptide": "GILGFVFTL", "positives": 2, "negatives": 2, "ratio": "1:1"},
        {"peptide": "NLVPMVATV", "positives": 1, "negatives": 2, "ratio": "1:2"},
    ]
    assert s["ratio_per_peptide"] == {"median": 1.5, "min": 1.0, "max": 2.0, "mode": "1:1", "at_mode": 1,
                                      "without_positives": 0}
    assert s["lengths"]["peptide"] == {"min": 9, "median": 9.0, "mean": 9.0, "max": 9, "missing": 0}
    assert s["lengths"]["cdr3b"]["max"] == 5
    assert (s["duplicate_pairs"], s["duplicate_rows"]) == (1, 1)
    # CASSF is a binder of GILGFVFTL and a non-binder of NLVPMVATV: no shortcut
    assert s["tcrs_in_both_classes"] == 1 and s["warnings"] == []
    json.dumps(s)


def test_shortcut_warning_when_no_tcr_is_in_both_classes():
    frame = synthesize(n_peptides=3, n_positives_per_peptide=10, negative_ratio=2, negatives="background")
    summary = inspect_table(frame)
    assert summary["tcrs_in_both_classes"] == 0 and summary["warnings"] == [SHORTCUT_WARNING]
    assert "warning: shortcut: no TCR occurs as both binder and non-binder" in render_text(summary)


def test_text_rendering_summarises_ratio_and_limits_table():
    frame = synthesize(n_peptides=4, n_positives_per_peptide=10, negative_ratio=3)
    text = render_text(inspect_table(frame), top=2)
    assert "rows: 160   peptides: 4   chains: cdr3b" in text
    assert "positives:negatives per peptide: 1:3 for every peptide" in text
    assert "(top 2 of 4; --top 0 shows all)" in text
    table = [line for line in text.splitlines() if line.endswith("1:3") and not line.startswith("positives")]
    assert len(table) == 2
    assert len([line for line in render_text(inspect_table(frame), top=0).splitlines()
                if line.endswith("  1:3")]) == 4


def test_uneven_ratios_are_described_by_mode_and_range():
    text = render_text(inspect_table(_frame()))
    assert "positives:negatives per peptide: 1:1 for 1 of 2 peptides; median 1:1.5, range 1:1 to 1:2" in text
