"""validate_frame on frames as a dataset plugin would produce them: rows numbered from 1, canonical names."""

import polars as pl
import pytest

from tcrbench.data import normalise_frame, synthesize, validate_frame
from tcrbench.errors import UsageError


def _frame(**overrides) -> pl.DataFrame:
    data = {"peptide": ["GILGFVFTL", "GILGFVFTL", "NLVPMVATV", "NLVPMVATV"],
            "cdr3b": ["CASSIRSSYEQYF", "CASSLAPGATNEKLFF", "CASSIRSSYEQYF", "CASSPGQGAYEQYF"],
            "label": [1, 0, 0, 1]}
    data.update(overrides)
    return pl.DataFrame(data)


def test_report_counts_a_valid_frame():
    report = validate_frame(_frame(), "plugin 'x'")
    assert (report.rows, report.positives, report.negatives, report.duplicate_pairs) == (4, 2, 2, 0)
    assert report.warnings == ()


def test_synthetic_default_is_valid():
    frame = synthesize()
    report = validate_frame(frame, "synthetic")
    assert report.rows == frame.height and report.duplicate_rows == 0


@pytest.mark.parametrize("labels", [[True, False, False, True], ["1", "0", "false", "TRUE"], [1.0, 0.0, 0.0, 1.0]])
def test_label_types_a_plugin_may_use(labels):
    frame, _ = normalise_frame(_frame(label=labels), "p")
    assert frame["label"].to_list() == [1, 0, 0, 1] and frame.schema["label"] == pl.Int8


@pytest.mark.parametrize("overrides, message", [
    ({"label": [1, 0, 2, 1]}, "p: data row 3, column 'label': label '2' is not 0/1/true/false"),
    ({"cdr3b": ["CASSF", None, "CASSF", "CASRF"]}, "p: data row 2, column 'cdr3b': missing value"),
    ({"peptide": ["GILGFVFTL", "GILGFVFTL", "NLVPMVATV", "NLVPMVAT*"]},
     "p: data row 4, column 'peptide': 'NLVPMVAT*' has '*' at position 9, not one of the 20 amino acids "
     "ACDEFGHIKLMNPQRSTVWY"),
    ({"cdr3b": ["CASSF", "CASRF", "", "CASQF"]}, "p: data row 3, column 'cdr3b': empty sequence"),
    ({"label": [1, 1, 1, 1]},
     "p: column 'label': every row has label 1 (binder); a binding benchmark needs both classes"),
    ({"label": [0, 0, 0, 0]},
     "p: column 'label': every row has label 0 (non-binder); a binding benchmark needs both classes"),
    ({"cdr3b": [1, 2, 3, 4]}, "p: column 'cdr3b': holds Int64 values, not amino-acid sequences"),
    ({"cdr3b": ["CASSF", "CASSF", "CASRF", "CASQF"], "peptide": ["GILGFVFTL"] * 4},
     "p: data row 1 and data row 2: the same pair (peptide 'GILGFVFTL', cdr3b 'CASSF') is labelled both 1 and 0"),
])
def test_problems_name_row_column_and_what(overrides, message):
    with pytest.raises(UsageError) as exc:
        validate_frame(_frame(**overrides), "p")
    assert str(exc.value) == message


def test_first_problem_wins_and_the_rest_are_counted():
    frame = _frame(cdr3b=["CASSF", "CAS1F", "CAS2F", "CAS3F"])
    with pytest.raises(UsageError, match=r"data row 2, column 'cdr3b': 'CAS1F' .*\(2 more rows like this\)$"):
        validate_frame(frame, "p")


def test_max_len_is_checked():
    with pytest.raises(UsageError, match="'CASSLAPGATNEKLFF' is 16 long, over the maximum of 15"):
        validate_frame(_frame(), "p", max_len=15)


def test_missing_canonical_column():
    with pytest.raises(UsageError, match="p: no 'label' column; columns found: 'peptide', 'cdr3b'"):
        validate_frame(_frame().drop("label"), "p")


def test_duplicates_counted_and_policy_error():
    frame = pl.concat([_frame(), _frame().head(2), _frame().head(1)])
    report = validate_frame(frame, "p")
    assert (report.duplicate_pairs, report.duplicate_rows) == (2, 3)
    with pytest.raises(UsageError, match=r"^p: data row 5 repeats data row 1 \(peptide 'GILGFVFTL', cdr3b "
                                         r"'CASSIRSSYEQYF'\); 3 duplicate rows in all; drop them with"):
        validate_frame(frame, "p", duplicates="error")


def test_same_tcr_with_another_alpha_chain_is_not_a_duplicate():
    frame = _frame(peptide=["GILGFVFTL"] * 4, cdr3b=["CASSF"] * 4, cdr3a=["CAVF", "CAGF", "CAIF", "CALF"])
    assert validate_frame(frame, "p").duplicate_pairs == 0


def test_one_class_peptide_is_a_warning():
    frame = _frame(label=[1, 1, 0, 1])
    report = validate_frame(frame, "p")
    assert report.warnings == ("1 peptide has one class only (e.g. 'GILGFVFTL': positives only); their "
                               "per-peptide AUROC is undefined",)


@pytest.mark.parametrize("option, message", [({"cdr3": "trim"}, "cdr3 must be 'keep' or 'strip'"),
                                             ({"duplicates": "x"}, "duplicates must be"),
                                             ({"max_len": 0}, "max_len must be at least 1")])
def test_bad_options(option, message):
    with pytest.raises(UsageError, match=message):
        normalise_frame(_frame(), "p", **option)


# ---------------------------------------------------------------- germline CDR1/CDR2 columns
def test_germline_cdrs_are_checked_like_sequences_and_may_be_missing():
    frame, report = normalise_frame(_frame(cdr1a=["TSGFNG", None, "  ", "NA"], cdr2b=["SQIVND"] * 4), "p")
    assert frame.columns == ["peptide", "cdr3b", "cdr1a", "cdr2b", "label"]
    assert frame["cdr1a"].to_list() == ["TSGFNG", None, None, None] and report.warnings == ()
    with pytest.raises(UsageError) as exc:
        validate_frame(_frame(cdr2b=["SQIVND", "SQIVND", "SQ*VND", "SQIVND"]), "p")
    assert str(exc.value) == ("p: data row 3, column 'cdr2b': 'SQ*VND' has '*' at position 3, not one of the 20 "
                              "amino acids ACDEFGHIKLMNPQRSTVWY")
    with pytest.raises(UsageError, match=r"data row 2, column 'cdr1b': .* is 31 long, over the maximum of 30"):
        validate_frame(_frame(cdr1b=["MNHEY", "M" * 31, "MNHEY", "MNHEY"]), "p")


def test_germline_cdr_gaps_are_removed_and_counted():
    frame, report = normalise_frame(_frame(cdr1a=["TSG..FNG", "-", "SSVPPY", "DRG-SQS"]), "p")
    assert frame["cdr1a"].to_list() == ["TSGFNG", None, "SSVPPY", "DRGSQS"]
    assert report.warnings == ("3 CDR1/CDR2 values held alignment gaps ('.' or '-'); the gaps were removed "
                               "(a value of gaps only reads as missing)",)
    # a gap anywhere else is still an error
    with pytest.raises(UsageError, match=r"column 'cdr3b': 'CASS-F' has '-' at position 5"):
        validate_frame(_frame(cdr3b=["CASS-F", "CASRF", "CASQF", "CASPF"]), "p")


def test_germline_cdrs_are_not_part_of_the_pair_key():
    # same peptide and CDR3, another V gene: still one pair, so a duplicate (and a conflict if labels differ)
    frame = _frame(peptide=["GILGFVFTL"] * 4, cdr3b=["CASSF", "CASSF", "CASRF", "CASQF"],
                   cdr1b=["MNHEY", "LNHDA", "MNHEY", "MNHEY"], label=[1, 1, 0, 0])
    assert validate_frame(frame, "p").duplicate_pairs == 1
