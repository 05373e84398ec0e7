"""Readers: the three formats agree, file quirks are handled, rows keep pointing at the file's lines."""

import polars as pl
import pytest

from tcrbench.data import load_table, read_raw, write_table
from tcrbench.errors import UsageError

ROWS = [("GILGFVFTL", "CASSIRSSYEQYF", 1), ("NLVPMVATV", "CASSLAPGATNEKLFF", 0),
        ("GILGFVFTL", "CASSPGQGAYEQYF", 0), ("NLVPMVATV", "CASSYGGQETQYF", 1)]


def _course(rows=ROWS) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["antigen", "TCR", "interaction"], orient="row")


@pytest.mark.parametrize("name", ["t.csv", "t.tsv", "t.parquet", "t.txt"])
def test_formats_give_the_same_canonical_frame(tmp_path, name):
    path = tmp_path / name
    frame = _course()
    if name.endswith(".parquet"):
        frame.write_parquet(path)
    else:
        frame.write_csv(path, separator="," if name.endswith(".csv") else "\t")
    loaded = load_table(path)
    assert loaded.frame.columns == ["peptide", "cdr3b", "label"]
    assert loaded.frame.schema["label"] == pl.Int8
    assert loaded.frame.rows() == ROWS
    assert loaded.report.columns == {"peptide": "antigen", "cdr3b": "TCR", "label": "interaction"}
    assert (loaded.report.positives, loaded.report.negatives) == (2, 2)


def test_parquet_detected_by_content_whatever_the_extension(tmp_path):
    path = tmp_path / "really_parquet.csv"
    _course().write_parquet(path)
    assert read_raw(path).kind == "parquet"


def test_parquet_with_typed_labels(tmp_path):
    path = tmp_path / "t.parquet"
    pl.DataFrame({"peptide": ["GILGFVFTL", "NLVPMVATV"], "cdr3b": ["CASSF", "CASRF"],
                  "label": [True, False]}).write_parquet(path)
    assert load_table(path).frame["label"].to_list() == [1, 0]


def test_labels_accept_words_and_floats(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("antigen,TCR,interaction\nGILGFVFTL,CASSF,True\nGILGFVFTL,CASRF,false\n"
                    "NLVPMVATV,CASSF,1.0\nNLVPMVATV,CASRF,0\n")
    assert load_table(path).frame["label"].to_list() == [1, 0, 1, 0]


def test_blank_lines_are_skipped_and_rows_still_name_file_lines(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("antigen,TCR,interaction\nGILGFVFTL,CASSF,1\n\nNLVPMVATV,CASRF,0\nNLVPMVATV,CA5RF,0\n\n")
    with pytest.raises(UsageError, match=r"data row 4 \(line 5\), column 'TCR': 'CA5RF' has '5'"):
        load_table(path)
    path.write_text("antigen,TCR,interaction\nGILGFVFTL,CASSF,1\n\nNLVPMVATV,CASRF,0\n\n")
    loaded = load_table(path)
    assert loaded.frame.height == 2 and loaded.report.blank_rows == 2 and loaded.report.rows_read == 4


def test_line_numbers_left_out_when_a_quoted_field_spans_lines(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('antigen,TCR,interaction,note\nGILGFVFTL,CASSF,1,"two\nlines"\nNLVPMVATV,CA5RF,0,x\n')
    with pytest.raises(UsageError) as exc:
        load_table(path)
    assert "data row 2, column 'TCR'" in str(exc.value) and "(line" not in str(exc.value)


def test_whitespace_around_values_is_trimmed(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("antigen,TCR,interaction\n GILGFVFTL , CASSF ,1\nNLVPMVATV,CASRF, 0\n")
    assert load_table(path).frame.rows() == [("GILGFVFTL", "CASSF", 1), ("NLVPMVATV", "CASRF", 0)]


def test_lowercase_option_upper_cases(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("antigen,TCR,interaction\ngilgfvftl,CASSF,1\nNLVPMVATV,cAsRf,0\n")
    with pytest.raises(UsageError, match="pass --lowercase"):
        load_table(path)
    loaded = load_table(path, lowercase=True)
    assert loaded.frame.rows() == [("GILGFVFTL", "CASSF", 1), ("NLVPMVATV", "CASRF", 0)]
    assert loaded.report.lowercased == 2


def test_cdr3_strip_lines_up_imgt_and_trimmed_styles(tmp_path):
    imgt, trimmed = tmp_path / "imgt.csv", tmp_path / "trimmed.csv"
    imgt.write_text("peptide,CDR3b,CDR3a,binder\nGILGFVFTL,CASSIRSSYEQYF,CAVSDLEPNSSASKIIF,1\n"
                    "NLVPMVATV,CASSLAPGATNEKLFW,CAGAGSQGNLIF,0\n")
    trimmed.write_text("peptide,CDR3b,CDR3a,binder\nGILGFVFTL,ASSIRSSYEQY,AVSDLEPNSSASKII,1\n"
                       "NLVPMVATV,ASSLAPGATNEKLF,AGAGSQGNLI,0\n")
    a, b = load_table(imgt, cdr3="strip"), load_table(trimmed, cdr3="strip")
    assert a.frame.equals(b.frame)
    assert a.report.cdr3_stripped == 4 and b.report.cdr3_stripped == 0
    # "keep" leaves both as written
    assert load_table(imgt).frame["cdr3b"][0] == "CASSIRSSYEQYF"


def test_cdr3_strip_applies_max_len_to_the_stripped_sequence(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("antigen,TCR,interaction\nGILGFVFTL,CASSIRSYEF,1\nNLVPMVATV,CASSF,0\n")
    with pytest.raises(UsageError, match="'CASSIRSYEF' is 10 long, over the maximum of 9"):
        load_table(path, max_len=9)
    assert load_table(path, max_len=9, cdr3="strip").frame["cdr3b"].to_list() == ["ASSIRSYE", "ASS"]


def test_one_chain_per_row_export_keeps_beta_rows(tmp_path):
    path = tmp_path / "vdjdb.tsv"
    path.write_text("complex.id\tGene\tCDR3\tEpitope\tlabel\n"
                    "1\tTRA\tCAVSDLEPNSSASKIIF\tGILGFVFTL\t1\n1\tTRB\tCASSIRSSYEQYF\tGILGFVFTL\t1\n"
                    "2\tTRB\tCASSLAPGATNEKLFF\tNLVPMVATV\t0\n2\tTRA\tCAGAGSQGNLIF\tNLVPMVATV\t0\n")
    loaded = load_table(path)
    assert loaded.frame["cdr3b"].to_list() == ["CASSIRSSYEQYF", "CASSLAPGATNEKLFF"]
    assert loaded.report.other_chain_rows == 2


def test_partition_and_extra_columns_are_kept(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("CDR3a,CDR3b,peptide,partition,binder,donor\nAVS,ASSI,GILGFVFTL,1,1,d1\n"
                    "AGA,ASSL,NLVPMVATV,2,0,d2\n")
    loaded = load_table(path, extra_columns=["donor"])
    assert loaded.frame.columns == ["peptide", "cdr3b", "cdr3a", "label", "partition", "donor"]
    assert loaded.frame["partition"].to_list() == [1, 2] and loaded.frame.schema["partition"] == pl.Int64
    with pytest.raises(UsageError, match="extra column 'age' not found"):
        load_table(path, extra_columns=["age"])


def test_optional_alpha_chain_may_be_missing(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("peptide,CDR3b,CDR3a,binder\nGILGFVFTL,ASSI,AVS,1\nNLVPMVATV,ASSL,,0\nNLVPMVATV,ASSR,NA,1\n")
    assert load_table(path).frame["cdr3a"].to_list() == ["AVS", None, None]


def test_columns_option_as_string_and_dict(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,c\nGILGFVFTL,CASSF,1\nNLVPMVATV,CASRF,0\n")
    spec = load_table(path, columns="peptide=a,cdr3b=b,label=c").frame
    assert spec.equals(load_table(path, columns={"peptide": "a", "cdr3b": "b", "label": "c"}).frame)
    assert spec.rows() == [("GILGFVFTL", "CASSF", 1), ("NLVPMVATV", "CASRF", 0)]


def test_duplicates_kept_counted_or_dropped(tmp_path):
    path = tmp_path / "t.csv"
    _course(ROWS + ROWS[:2] + ROWS[:1]).write_csv(path)
    kept = load_table(path)
    assert kept.frame.height == 7
    assert (kept.report.duplicate_pairs, kept.report.duplicate_rows, kept.report.dropped_duplicates) == (2, 3, 0)
    dropped = load_table(path, duplicates="drop")
    assert dropped.frame.rows() == ROWS and dropped.report.dropped_duplicates == 3


def test_write_table_round_trips_each_format(tmp_path):
    frame = load_table(_write(tmp_path / "in.csv", _course())).frame
    for name in ("o.csv", "o.tsv", "o.parquet"):
        write_table(frame, tmp_path / name)
        assert load_table(tmp_path / name).frame.equals(frame)


def test_write_table_leaves_nothing_behind_on_failure(tmp_path, monkeypatch):
    def broken(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pl.DataFrame, "write_csv", broken)
    with pytest.raises(OSError, match="disk full"):
        write_table(_course(), tmp_path / "o.csv")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name, message", [("o.xlsx", "unknown table format '.xlsx'"),
                                           ("missing/o.csv", "does not exist")])
def test_write_table_rejects_bad_targets(tmp_path, name, message):
    with pytest.raises(UsageError, match=message):
        write_table(_course(), tmp_path / name)


def _write(path, frame):
    frame.write_csv(path)
    return path
