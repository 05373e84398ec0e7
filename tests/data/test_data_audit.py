"""The shortcut and leak audit: its numbers on small tables with known answers, and the warnings they raise."""

import json

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from tcrbench.cli.main import app
from tcrbench.data import inspect_table, render_text
from tcrbench.data.audit import SHORTCUT_WARNING, TCR_FREQUENCY_HIGH, audit_table


def _table(rows: list[tuple], extra: str | None = None) -> pl.DataFrame:
    cols = ["peptide", "cdr3b", "label"] + ([extra] if extra else [])
    return pl.DataFrame(rows, schema=cols, orient="row").with_columns(pl.col("label").cast(pl.Int8))


def _planted_frequency(frequent_label: int) -> pl.DataFrame:
    """3 peptides x (5 positives, 5 negatives): one class uses TCRs unique to it, the other a pool of 5 TCRs
    reused by every peptide, so each of those occurs 3 times."""
    rows = []
    for p in ("AAAAAAAAA", "CCCCCCCCC", "DDDDDDDDD"):
        rows += [(p, f"CASS{p[0]}{'AGKLM'[i]}F", 1 - frequent_label) for i in range(5)]
        rows += [(p, f"CAR{'QWERT'[i]}F", frequent_label) for i in range(5)]
    return _table(rows)


def test_planted_frequency_shortcut_frequent_tcrs_are_negatives():
    a = audit_table(_planted_frequency(frequent_label=0))
    assert a.tcr_frequency_auroc == pytest.approx(1.0)
    assert a.tcr_frequency_peptides == 3
    assert (
        a.tcr_frequency_per_peptide_mean,
        a.tcr_frequency_per_peptide_min,
        a.tcr_frequency_per_peptide_max,
    ) == pytest.approx((1.0, 1.0, 1.0))
    assert a.tcr_frequency_auroc >= TCR_FREQUENCY_HIGH
    assert any(w.startswith("shortcut: TCR frequency alone reaches AUROC 1.000") for w in a.warnings)
    # no TCR is in both classes either, and each peptide has exactly 1:1
    assert SHORTCUT_WARNING in a.warnings
    assert (a.positive_share_min, a.positive_share_max, a.peptide_prior_auroc) == (0.5, 0.5, 0.5)


def test_frequent_binders_give_an_auroc_far_below_chance():
    a = audit_table(_planted_frequency(frequent_label=1))
    assert a.tcr_frequency_auroc == pytest.approx(0.0)
    assert any("TCR frequency alone reaches AUROC 0.000" in w for w in a.warnings)


def test_rank_auroc_matches_sklearn_pooled_and_per_peptide():
    rng = np.random.default_rng(0)
    n = 400
    frame = _table([(f"PEP{rng.integers(3)}", f"CAS{rng.integers(60)}F", int(rng.random() < 0.3)) for _ in range(n)])
    counts = frame.group_by("cdr3b").len()
    joined = frame.join(counts.with_columns(pl.col("len").cast(pl.Int64)), on="cdr3b")
    a = audit_table(frame)
    assert a.tcr_frequency_auroc == pytest.approx(roc_auc_score(joined["label"], -joined["len"]))
    per = [roc_auc_score(g["label"], -g["len"]) for _, g in joined.group_by("peptide")]
    assert a.tcr_frequency_per_peptide_mean == pytest.approx(float(np.mean(per)))
    assert (a.tcr_frequency_per_peptide_min, a.tcr_frequency_per_peptide_max) == pytest.approx((min(per), max(per)))


def test_peptide_prior_and_few_positives():
    # A: 4 of 5 positive, B: 1 of 5; prior AUROC = (16 wins + 8 ties / 2) / 25 = 0.8
    rows = [("AAAAAAAAA", f"CASA{i}F", int(i < 4)) for i in range(5)]
    rows += [("CCCCCCCCC", f"CASC{i}F", int(i < 1)) for i in range(5)]
    a = audit_table(_table(rows))
    assert a.peptide_prior_auroc == pytest.approx(0.8)
    assert (a.positive_share_min, a.positive_share_max) == pytest.approx((0.2, 0.8))
    assert (a.peptides, a.peptides_few_positives, a.tcr_frequency_peptides) == (2, 2, 0)
    assert a.tcr_frequency_per_peptide_mean is None
    assert any(w.startswith("shortcut: a peptide prior") and "0.800" in w for w in a.warnings)
    assert any(w.startswith("2 of 2 peptides have fewer than 5 positives") for w in a.warnings)


def test_duplicates_with_conflicting_labels_are_counted_exactly():
    rows = [
        ("AAAAAAAAA", "CASAF", 1),
        ("AAAAAAAAA", "CASAF", 0),  # conflicting
        ("AAAAAAAAA", "CASBF", 1),
        ("AAAAAAAAA", "CASBF", 1),
        ("AAAAAAAAA", "CASBF", 1),  # repeated, agreeing
        ("CCCCCCCCC", "CASCF", 0),
        ("CCCCCCCCC", "CASCF", 1),
        ("CCCCCCCCC", "CASCF", 1),  # conflicting
        ("CCCCCCCCC", "CASAF", 0),
        ("CCCCCCCCC", "CASDF", 0),  # unique pairs
    ]
    a = audit_table(_table(rows))
    assert (a.duplicate_pairs, a.duplicate_rows, a.conflicting_pairs) == (3, 5, 2)
    assert a.duplicate_rows_share == pytest.approx(0.5)
    assert a.duplicate_pairs_share == pytest.approx(3 / 5)
    assert "duplicates: 2 repeated pairs carry both labels" in a.warnings
    assert any(w.startswith("duplicates: 5 rows (50.0%) repeat a pair") for w in a.warnings)
    assert (a.tcrs, a.tcrs_in_both_classes) == (4, 2)


def test_mixed_cdr3_convention():
    rows = [
        ("AAAAAAAAA", "CASSLGF", 1),
        ("AAAAAAAAA", "CASSQYW", 0),
        ("AAAAAAAAA", "ASSLGQ", 0),
        ("AAAAAAAAA", "ASSPGE", 1),
    ]
    a = audit_table(_table(rows))
    assert (a.cdr3_convention, a.anchored_share) == ("cdr3", 0.5)
    assert any(w.startswith("CDR3 convention mixed: 50.0%") for w in a.warnings)
    junction = audit_table(_table([r for r in rows if r[1].startswith("C")]))
    assert (junction.cdr3_convention, junction.anchored_share) == ("junction", 1.0)
    assert not any("convention" in w for w in junction.warnings)


@pytest.mark.parametrize("column", ["split", "partition"])
def test_pairs_shared_between_given_splits(column):
    rows = [
        ("AAAAAAAAA", "CASAF", 1, "train"),
        ("AAAAAAAAA", "CASAF", 1, "test"),  # a pair in both
        ("CCCCCCCCC", "CASAF", 0, "train"),  # its TCR again, another pair
        ("AAAAAAAAA", "CASBF", 0, "train"),
        ("CCCCCCCCC", "CASCF", 1, "test"),
    ]
    a = audit_table(_table(rows, column))
    assert (a.split_column, a.shared_pairs, a.shared_tcrs) == (column, 1, 1)
    assert f"leak: 1 pairs occur in more than one given {column} (1 TCRs do)" in a.warnings
    assert audit_table(_table([r[:3] for r in rows])).shared_pairs is None


def test_one_class_only_gives_no_auroc_and_is_json_safe():
    a = audit_table(_table([("AAAAAAAAA", f"CAS{i}F", 1) for i in "ABC"]))
    assert a.tcr_frequency_auroc is None and a.peptide_prior_auroc is None
    assert SHORTCUT_WARNING not in a.warnings
    assert json.loads(json.dumps(a.to_dict()))["warnings"] == list(a.warnings)


def test_inspect_text_and_json_carry_the_audit(tmp_path):
    frame = _planted_frequency(frequent_label=0)
    summary = inspect_table(frame)
    assert summary["audit"]["tcr_frequency_auroc"] == 1.0
    text = render_text(summary)
    assert (
        "TCR-frequency AUROC (rarer TCR = binder): pooled 1.000; per peptide mean 1.000, range 1.000-1.000 "
        "over 3 peptides" in text
    )
    assert "warning: shortcut: TCR frequency alone reaches AUROC 1.000" in text
    assert text.count(SHORTCUT_WARNING) == 1  # said once, though both lists hold it
    path = tmp_path / "t.csv"
    frame.write_csv(path)
    result = CliRunner().invoke(app, ["data", "inspect", str(path), "--json"])
    assert result.exit_code == 0, result.output
    audit = json.loads(result.stdout)["audit"]
    assert audit["tcr_frequency_auroc"] == 1.0 and audit["duplicate_pairs"] == 0
    assert any(w.startswith("shortcut: TCR frequency") for w in audit["warnings"])
    result = CliRunner().invoke(app, ["data", "inspect", str(path)])
    assert "shortcut and leak audit (no training):" in result.stdout
