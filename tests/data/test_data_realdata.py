"""The three real datasets beside the project load with the documented counts; skipped where they are absent.

Location: $TCRBENCH_SHARED_DATA, else ../shared/data next to the repository root.
"""

import json
import os
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from tcrbench.cli.main import app
from tcrbench.data import Tokenizer, load_table

SHARED = Path(os.environ.get("TCRBENCH_SHARED_DATA") or Path(__file__).resolve().parents[2] / ".." / "shared" / "data")
COURSE, NETTCR, IMMREP = (SHARED / n for n in ("tcrclassifier_pairs.csv", "nettcr2_train_ab_90_alphabeta.csv",
                                               "immrep22_compact.csv"))

pytestmark = [pytest.mark.realdata,
              pytest.mark.skipif(not COURSE.exists() or not NETTCR.exists() or not IMMREP.exists(),
                                 reason=f"real data not found in {SHARED} (set TCRBENCH_SHARED_DATA)")]


@pytest.mark.parametrize("path, rows, positives, peptides, columns", [
    (COURSE, 130_471, 32_523, 400, ["peptide", "cdr3b", "label"]),
    (NETTCR, 16_464, 2_744, 17, ["peptide", "cdr3b", "cdr3a", "label", "partition"]),
    (IMMREP, 15_112, 2_520, 17, ["peptide", "cdr3b", "cdr3a", "cdr1a", "cdr2a", "cdr1b", "cdr2b", "trav", "trbv",
                                 "label", "split"]),
])
def test_loads_with_documented_counts(path, rows, positives, peptides, columns):
    loaded = load_table(path)
    assert loaded.frame.height == rows == loaded.report.rows_read
    assert loaded.report.positives == positives
    assert loaded.frame["peptide"].n_unique() == peptides
    assert loaded.frame.columns == columns


def test_immrep_germline_cdrs_are_read_whole_and_left_out_of_the_keys():
    loaded = load_table(IMMREP)
    frame = loaded.frame
    assert loaded.report.columns["cdr1a"] == "CDR1a" and loaded.report.columns["cdr2b"] == "CDR2b"
    for col in ("cdr1a", "cdr2a", "cdr1b", "cdr2b"):
        lengths = frame[col].str.len_chars()
        assert frame[col].null_count() == 0 and 4 <= lengths.min() <= lengths.max() <= 8, col
    assert not loaded.report.warnings  # the file holds no gapped CDR1/CDR2
    # the TCR key stays the CDR3s: some CDR3 pairs occur with more than one V gene
    assert frame.select("cdr3b", "cdr3a").n_unique() == 7_415
    assert frame.select("cdr3b", "cdr3a", "cdr1a", "cdr2a", "cdr1b", "cdr2b").n_unique() == 7_456


def test_course_duplicates_counted_and_dropped():
    kept = load_table(COURSE)
    assert (kept.report.duplicate_pairs, kept.report.duplicate_rows) == (2_096, 2_116)
    assert load_table(COURSE, duplicates="drop").frame.height == 130_471 - 2_116


def test_immrep_strip_reproduces_its_imgt_columns():
    frame = load_table(IMMREP, cdr3="strip", extra_columns=["CDR3b_imgt"]).frame
    assert (frame["cdr3b"] == frame["CDR3b_imgt"]).all()


def test_strip_lets_nettcr_and_immrep_share_receptors():
    nettcr = set(load_table(NETTCR).frame["cdr3b"])  # trimmed style already
    as_written = set(load_table(IMMREP).frame["cdr3b"])
    stripped = set(load_table(IMMREP, cdr3="strip").frame["cdr3b"])
    assert not nettcr & as_written and len(nettcr & stripped) > 500


def test_nettcr_partitions_are_integers_one_to_five():
    assert sorted(load_table(NETTCR).frame["partition"].unique().to_list()) == [1, 2, 3, 4, 5]


def test_whole_course_table_tokenizes_and_round_trips():
    frame = load_table(COURSE).frame
    tok = Tokenizer.for_frame(frame)
    batch = tok.encode(frame)
    assert batch.ids.shape == (130_471, 11 + 20 + 3)
    assert tok.decode(batch) == list(frame.select("peptide", "cdr3b").iter_rows())


def test_paired_table_round_trips():
    frame = load_table(NETTCR).frame
    tok = Tokenizer.for_frame(frame)
    assert tok.decode(tok.encode(frame)) == list(frame.select("peptide", "cdr3b", "cdr3a").iter_rows())


def test_inspect_course_reports_400_peptides_one_to_three_and_the_shortcut():
    result = CliRunner().invoke(app, ["data", "inspect", str(COURSE)])
    assert result.exit_code == 0, result.output
    assert "rows: 130,471   peptides: 400" in result.stdout
    assert "positives:negatives per peptide: 1:3 for 214 of 400 peptides; median 1:3" in result.stdout
    assert "warning: shortcut: no TCR occurs as both binder and non-binder" in result.stdout
    summary = json.loads(CliRunner().invoke(app, ["data", "inspect", str(COURSE), "--json"]).stdout)
    assert summary["tcrs_in_both_classes"] == 0 and summary["ratio_per_peptide"]["median"] == 3.0


def test_immrep_has_receptors_in_both_classes():
    summary = json.loads(CliRunner().invoke(app, ["data", "inspect", str(IMMREP), "--json"]).stdout)
    assert summary["tcrs_in_both_classes"] > 0
    assert not any(w.startswith("shortcut") for w in summary["warnings"])
    assert pl.DataFrame(summary["per_peptide"])["positives"].sum() == 2_520
