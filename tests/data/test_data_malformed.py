"""The malformed-input corpus: every bad file gets exit code 2 and its own one-line error, nothing on stdout.

Files live in tests/data/malformed/ so they can be tried by hand (`tcrbench data inspect FILE`); inputs that
cannot sit in a repository as text (binary, missing, a folder, Parquet) are made here.
"""

from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from tcrbench.cli.main import app

CORPUS = Path(__file__).parent / "malformed"
AA20 = "not one of the 20 amino acids ACDEFGHIKLMNPQRSTVWY"

ON_DISK = [
    ("header_only.csv", [], "{p}: has a header but no data rows"),
    ("fasta_not_table.csv", [], "{p}: not a table: the header has a single column '>seq1' (is it a table at all?)"),
    ("semicolon_separated.csv", [], "{p}: not a table: the header has a single column 'antigen;TCR;interaction' "
                                    "(it looks separated by semicolons; save it as CSV (commas) or TSV (tabs))"),
    ("ragged_row.csv", [], "{p}: not a readable CSV table: data row 2 (line 3) has 4 fields, the header has 3"),
    ("duplicate_header.csv", [], "{p}: column 'TCR' appears twice in the header"),
    ("unnamed_column.csv", [], "{p}: header column 3 has no name"),
    ("blank_header.csv", [], "{p}: the first line is blank; expected a header naming the columns"),
    ("no_label_column.csv", [], "{p}: no column for 'label' (looked for label, interaction, binder, binding, binds, "
                                "target); columns found: 'antigen', 'TCR', 'score'; name it with --columns "
                                "label=<column>, or, for a table of binders only, make negatives with "
                                "--negatives swapped"),
    ("ambiguous_peptide.csv", [], "{p}: columns 'peptide', 'antigen' could each be the 'peptide' column; choose one "
                                  "with --columns peptide=<column> (columns found: 'peptide', 'antigen', 'TCR', "
                                  "'interaction')"),
    ("bad_letter.csv", [], "{p}: data row 2 (line 3), column 'TCR': 'CASS1APGATNEKLFF' has '1' at position 5, "
                           f"{AA20} (1 more row like this)"),
    ("lowercase.csv", [], "{p}: data row 2 (line 3), column 'antigen': 'nlvpmvatv' has 'n' at position 1, "
                          f"{AA20} (lowercase: pass --lowercase to upper-case sequences)"),
    ("empty_sequence.csv", [], "{p}: data row 2 (line 3), column 'TCR': empty sequence"),
    ("too_long.csv", [], "{p}: data row 1 (line 2), column 'TCR': 'CASSIRSSYEQYFCASSIRSSYEQYFCASSIRSSYEQYF' is 39 "
                         "long, over the maximum of 30 (raise it with --max-len)"),
    ("bad_label.tsv", [], "{p}: data row 2 (line 3), column 'binder': label '-1' is not 0/1/true/false"),
    ("missing_peptide.csv", [], "{p}: data row 2 (line 3), column 'antigen': missing value"),
    ("na_label.csv", [], "{p}: data row 2 (line 3), column 'interaction': missing value"),
    ("conflicting_labels.csv", [], "{p}: data row 1 (line 2) and data row 3 (line 4): the same pair (antigen "
                                   "'GILGFVFTL', TCR 'CASSIRSSYEQYF') is labelled both 1 and 0"),
    ("single_class.csv", [], "{p}: column 'interaction': every row has label 1 (binder); a binding benchmark needs "
                             "both classes"),
    ("duplicates.csv", ["--duplicates", "error"],
     "{p}: data row 3 (line 4) repeats data row 1 (line 2) (antigen 'GILGFVFTL', TCR 'CASSIRSSYEQYF'); 1 duplicate "
     "row in all; drop them with --duplicates drop"),
    ("vdjdb_alpha_only.tsv", [], "{p}: column 'Gene' names no beta chain (TRB) rows; only beta CDR3s are read from "
                                 "a one-chain-per-row table"),
    ("bad_letter.csv", ["--columns", "peptide=epitope"],
     "{p}: --columns peptide=epitope: no column 'epitope'; columns found: 'antigen', 'TCR', 'interaction'"),
    ("bad_letter.csv", ["--columns", "peptide"], "--columns: 'peptide' is not FIELD=COLUMN (e.g. peptide=antigen)"),
]


def _invoke(args: list[str]):
    return CliRunner().invoke(app, args)


def _assert_one_line_error(result, expected: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr == f"error: {expected}\n"


@pytest.mark.parametrize("name, extra, expected", ON_DISK, ids=[f"{c[0]}{' '.join(c[1])}" for c in ON_DISK])
def test_corpus_file(name, extra, expected):
    path = str(CORPUS / name)
    _assert_one_line_error(_invoke(["data", "inspect", path, *extra]), expected.format(p=path))


def _binary(p: Path) -> None:
    p.write_bytes(bytes(range(256)) * 4)


def _latin1(p: Path) -> None:
    p.write_bytes("antigen,TCR,interaction\nGILGFVFTL,CASSF,1\n# caf\xe9\n".encode("latin-1"))


def _int_sequences(p: Path) -> None:
    pl.DataFrame({"peptide": ["GILGFVFTL", "NLVPMVATV"], "cdr3b": [1, 2], "label": [1, 0]}).write_parquet(p)


GENERATED = [
    ("nope.csv", None, "{p}: no such file"),
    ("folder", lambda p: p.mkdir(), "{p}: is a directory, not a table file"),
    ("empty.csv", lambda p: p.write_bytes(b""), "{p}: file is empty"),
    ("blank.tsv", lambda p: p.write_text("\n \n\n"), "{p}: file is empty"),
    ("binary.bin", _binary, "{p}: not a table: binary content, neither CSV/TSV text nor Parquet"),
    ("latin1.csv", _latin1, "{p}: not a table: byte 48 is not UTF-8 text"),
    ("fake.parquet", lambda p: p.write_text("a,b\n1,2\n"),
     "{p}: not a Parquet file (it does not start with the Parquet magic bytes)"),
    ("ints.parquet", _int_sequences, "{p}: column 'cdr3b': holds Int64 values, not amino-acid sequences"),
]


@pytest.mark.parametrize("name, make, expected", GENERATED, ids=[c[0] for c in GENERATED])
def test_generated_input(tmp_path, name, make, expected):
    path = tmp_path / name
    if make is not None:
        make(path)
    _assert_one_line_error(_invoke(["data", "inspect", str(path)]), expected.format(p=path))


def test_truncated_parquet(tmp_path):
    whole, cut = tmp_path / "whole.parquet", tmp_path / "cut.parquet"
    pl.DataFrame({"peptide": ["GILGFVFTL"] * 50, "cdr3b": ["CASSF"] * 50, "label": [1, 0] * 25}).write_parquet(whole)
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    result = _invoke(["data", "inspect", str(cut)])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith(f"error: {cut}: not a readable Parquet file (")
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("args, expected", [
    (["--n-peptides", "1"], "negatives='swapped' takes a peptide's negatives from other peptides' binders, so it "
                            "needs n_peptides of at least 2"),
    (["--difficulty", "2"], None),
])
def test_synth_error_writes_nothing(tmp_path, args, expected):
    out = tmp_path / "out.csv"
    result = _invoke(["data", "synth", str(out), *args])
    if expected is None:  # rejected by the option parser itself, also with exit code 2
        assert result.exit_code == 2 and "--difficulty" in result.output
    else:
        _assert_one_line_error(result, expected)
    assert list(tmp_path.iterdir()) == []


def test_synth_unknown_format_writes_nothing(tmp_path):
    out = tmp_path / "out.xlsx"
    _assert_one_line_error(_invoke(["data", "synth", str(out)]),
                           f"{out}: unknown table format '.xlsx'; use .csv, .tsv or .parquet")
    assert list(tmp_path.iterdir()) == []

