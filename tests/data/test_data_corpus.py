"""Pretraining corpora: every source format read into (peptide, cdr3b, cdr3a), bad rows counted, OLGA seeded and
cached, and the synthetic known-answer corpora carrying (or not) the planted motifs."""

from __future__ import annotations

import importlib.util

import numpy as np
import polars as pl
import pytest

from tcrbench.data.corpus import build_corpus, parse_source, read_corpus_file
from tcrbench.data.synthetic import motif_for, synthesize
from tcrbench.data.synthetic_corpus import control_corpus
from tcrbench.errors import UsageError

HAS_OLGA = importlib.util.find_spec("olga") is not None


def test_airr_rearrangements_put_each_locus_in_its_chain_and_drop_unproductive(tmp_path):
    airr = tmp_path / "rearrangements.tsv"
    airr.write_text(
        "sequence_id\tlocus\tjunction_aa\tv_call\tj_call\tproductive\n"
        "a\tTRB\tCASSLGQAYEQYF\tTRBV7-9*01\tTRBJ2-7*01\tT\n"
        "b\tTRA\tCAVRDSNYQLIW\tTRAV1-2*01\tTRAJ33*01\tT\n"
        "c\tTRB\tCASS*LGQF\tTRBV7-9*01\tTRBJ2-1*01\tF\n"
        "d\tIGH\tCARDYW\tIGHV1*01\tIGHJ4*01\tT\n"
    )
    frame = read_corpus_file(airr, str(airr))
    assert frame.rows() == [("", "CASSLGQAYEQYF", None), ("", "", "CAVRDSNYQLIW")]


def test_a_one_column_list_of_cdr3s_and_a_paired_table_are_corpora(tmp_path):
    listing = tmp_path / "cdr3s.csv"
    listing.write_text("cdr3b\nCASSLGQAYEQYF\nCASSPDRGYTF\n")
    assert read_corpus_file(listing, "x")["cdr3b"].to_list() == ["CASSLGQAYEQYF", "CASSPDRGYTF"]
    paired = tmp_path / "paired.csv"
    paired.write_text("peptide,CDR3a,CDR3b\nGILGFVFTL,CAVRDSNYQLIW,CASSIRSSYEQYF\n")
    assert read_corpus_file(paired, "x").rows() == [("GILGFVFTL", "CASSIRSSYEQYF", "CAVRDSNYQLIW")]
    nothing = tmp_path / "nothing.csv"
    nothing.write_text("sample,count\na,1\n")
    with pytest.raises(UsageError, match="no CDR3 column"):
        read_corpus_file(nothing, str(nothing))


def test_invalid_and_too_wide_rows_are_counted_not_silently_lost(tmp_path):
    src = tmp_path / "c.csv"
    src.write_text("cdr3b\nCASSLGQAYEQYF\nCASS*QF\ncassqf\nCASSLGQAYEQYFCASSLGQAYEQYF\nCASSPDRGYTF\n")
    frame, report = build_corpus([str(src)], width=20, cache_dir=tmp_path / "cache")
    assert frame["cdr3b"].to_list() == ["CASSLGQAYEQYF", "CASSPDRGYTF"]
    assert (report.read, report.invalid, report.too_long, report.size) == (5, 2, 1, 2)
    again, report2 = build_corpus([str(src)], width=20, cache_dir=tmp_path / "cache")  # from the cache
    assert again.equals(frame) and report2.to_dict() == report.to_dict()
    src.write_text("cdr3b\nCASSPDRGYTF\n")  # new content, new fingerprint: never the stale cache
    changed, report3 = build_corpus([str(src)], width=20, cache_dir=tmp_path / "cache")
    assert changed.height == 1 and report3.fingerprint != report.fingerprint


@pytest.mark.parametrize(
    "spec, message",
    [
        ("olga:n=0", "at least 1"),
        ("olga:chain=gamma", "beta or alpha"),
        ("olga:n=ten", "integers"),
        ("olga:size=5", "n=, chain= and seed="),
        ("no/such/file.tsv", "no such file"),
    ],
)
def test_bad_sources_are_one_line_errors(spec, message):
    with pytest.raises(UsageError, match=message):
        parse_source(spec)


@pytest.mark.skipif(not HAS_OLGA, reason="the olga extra is not installed (pip install 'tcrbench[olga]')")
def test_olga_is_seeded_cached_and_leaves_numpy_alone(tmp_path, monkeypatch):
    from tcrbench.data.olga_corpus import olga_frame

    monkeypatch.setenv("TCRBENCH_CACHE", str(tmp_path))
    np.random.seed(123)
    before = np.random.random()
    np.random.seed(123)
    a = olga_frame(300, "beta", seed=4)
    assert np.random.random() == before  # the global generator is put back
    files = list((tmp_path / "olga").glob("*.parquet"))
    assert len(files) == 1
    b = olga_frame(300, "beta", seed=4)
    assert a.equals(b) and not a.equals(olga_frame(300, "beta", seed=5))
    seqs = a["cdr3b"].to_list()
    assert all(s[0] == "C" and s[-1] in "FW" for s in seqs) and len(set(seqs)) > 250
    alpha = olga_frame(50, "alpha", seed=4)
    assert alpha["cdr3b"].to_list() == [""] * 50 and alpha["cdr3a"].null_count() == 0


def _carries(cdr3: str, motifs: list[str]) -> bool:
    return any(m in cdr3 for m in motifs)


def test_control_corpora_plant_the_tables_motifs_or_none_of_them():
    table = synthesize(seed=3)
    motifs = [motif_for(p) for p in table["peptide"].unique().to_list()]
    positive, negative = control_corpus("positive", 2000, seed=3), control_corpus("negative", 2000, seed=3)
    share = np.mean([_carries(s, motifs) for s in positive["cdr3b"].to_list()])
    # each row carries a motif, each of its residues mutated with probability difficulty/2 = 0.25: 0.75**3 intact
    assert 0.38 < share < 0.50
    assert not any(_carries(s, motifs) for s in negative["cdr3b"].to_list())
    lengths = [positive["cdr3b"].str.len_chars().mean(), negative["cdr3b"].str.len_chars().mean()]
    assert abs(lengths[0] - lengths[1]) < 0.3  # matched: the same lengths and ends
    assert control_corpus("positive", 50, seed=3).equals(control_corpus("positive", 50, seed=3))
    with pytest.raises(UsageError):
        control_corpus("maybe", 10)  # type: ignore[arg-type]


def test_corpus_source_table_round_trips_through_the_reader(tmp_path):
    path = tmp_path / "positive.csv"
    control_corpus("positive", 100, seed=0).write_csv(path)
    frame, report = build_corpus([str(path)], width=40, cache_dir=tmp_path / "cache")
    assert report.size == 100 and frame.schema == pl.Schema({"peptide": pl.String, "cdr3b": pl.String, "cdr3a": pl.String})


def test_a_corpus_is_written_in_the_tables_cdr3_convention(tmp_path):
    from tcrbench.data.corpus import cdr3_convention

    assert cdr3_convention(pl.Series(["CASSLGQAYEQYF", "CASSPDRGYTF"])) == "junction"
    assert cdr3_convention(pl.Series(["ASSLGQAYEQY", "ASSPDRGYT", "CASSF"])) == "cdr3"  # NetTCR-2.0 style
    src = tmp_path / "airr.tsv"
    src.write_text("locus\tjunction_aa\nTRB\tCASSLGQAYEQYF\nTRA\tCAVRDSNYQLIW\nTRB\tASSPDRGYT\n")
    frame, report = build_corpus([str(src)], width=30, cache_dir=tmp_path / "cache", convention="cdr3")
    assert frame.rows() == [("", "ASSLGQAYEQY", None), ("", "", "AVRDSNYQLI"), ("", "ASSPDRGYT", None)]
    assert report.stripped == 2 and report.to_dict()["convention"] == "cdr3"
    kept, _ = build_corpus([str(src)], width=30, cache_dir=tmp_path / "cache", convention="junction")
    assert kept["cdr3b"].to_list() == ["CASSLGQAYEQYF", "", "ASSPDRGYT"]  # a separate cache entry, as written
