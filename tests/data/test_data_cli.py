"""`tcrbench data synth` and `tcrbench data inspect` through the real command tree."""

import json

import polars as pl
from typer.testing import CliRunner

from tcrbench.cli.main import app
from tcrbench.data import load_table, synthesize


def _run(*args: str):
    result = CliRunner().invoke(app, ["data", *args])
    assert result.exit_code == 0, result.output
    return result


def test_synth_writes_the_generator_output(tmp_path):
    out = tmp_path / "s.csv"
    result = _run("synth", str(out), "--n-peptides", "3", "--positives", "12", "--negative-ratio", "2",
                  "--difficulty", "0.2", "--negatives", "background", "--seed", "7")
    assert result.stdout == (f"wrote 108 rows (3 peptides, 1:2, background negatives, difficulty 0.2, seed 7) "
                             f"to {out}\n")
    expected = synthesize(n_peptides=3, n_positives_per_peptide=12, negative_ratio=2, difficulty=0.2,
                          negatives="background", seed=7)
    assert load_table(out).frame.equals(expected)
    assert [p.name for p in tmp_path.iterdir()] == ["s.csv"]  # no temporary file left


def test_synth_parquet_and_overwrite(tmp_path):
    out = tmp_path / "s.parquet"
    _run("synth", str(out), "--seed", "1")
    _run("synth", str(out), "--seed", "2")
    assert pl.read_parquet(out).equals(synthesize(seed=2))


def test_inspect_text(tmp_path):
    out = tmp_path / "s.csv"
    _run("synth", str(out), "--negatives", "background")
    text = _run("inspect", str(out), "--top", "3").stdout
    assert "rows: 1,536   peptides: 16   chains: cdr3b" in text
    assert "positives:negatives per peptide: 1:3 for every peptide" in text
    assert "(top 3 of 16; --top 0 shows all)" in text
    assert "warning: shortcut: no TCR occurs as both binder and non-binder" in text


def test_inspect_json(tmp_path):
    out = tmp_path / "s.csv"
    _run("synth", str(out))
    summary = json.loads(_run("inspect", str(out), "--json").stdout)
    assert (summary["rows"], summary["peptides"], summary["positives"]) == (1536, 16, 384)
    assert len(summary["per_peptide"]) == 16 and summary["warnings"] == []
    assert summary["loading"]["columns"] == {"peptide": "peptide", "cdr3b": "cdr3b", "label": "label"}


def test_inspect_options_reach_the_loader(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("pep,beta,y\nGILGFVFTL,cassirssyeqyf,1\nNLVPMVATV,CASSLAPGATNEKLFF,0\n"
                    "NLVPMVATV,CASSLAPGATNEKLFF,0\n")
    summary = json.loads(_run("inspect", str(path), "--columns", "peptide=pep,cdr3b=beta,label=y", "--lowercase",
                              "--cdr3", "strip", "--duplicates", "drop", "--json").stdout)
    assert summary["rows"] == 2
    assert summary["lengths"]["cdr3b"]["max"] == 14  # CASSLAPGATNEKLFF without its C and F
    assert summary["loading"]["dropped_duplicates"] == 1 and summary["loading"]["lowercased"] == 1
    text = _run("inspect", str(path), "--columns", "peptide=pep,cdr3b=beta,label=y", "--lowercase",
                "--cdr3", "strip", "--duplicates", "drop").stdout
    assert "loading: dropped 1 duplicate row; stripped conserved ends of 3 CDR3s; upper-cased 1 row" in text


def test_synth_writes_a_known_answer_corpus_beside_the_table(tmp_path):
    from tcrbench.data.synthetic_corpus import control_corpus

    out, corpus = tmp_path / "t.csv", tmp_path / "c.csv"
    result = _run("synth", str(out), "--n-peptides", "3", "--seed", "2", "--corpus", str(corpus), "--control",
                  "negative", "--corpus-size", "40")
    assert result.stdout.endswith(f"wrote a negative-control corpus of 40 unlabelled CDR3s to {corpus}\n")
    assert pl.read_csv(corpus).equals(control_corpus("negative", 40, n_peptides=3, seed=2))
    same = CliRunner().invoke(app, ["data", "synth", str(out), "--corpus", str(out)])
    assert same.exit_code == 2 and "the same file as the table" in same.output


def test_run_refuses_a_missing_corpus_before_any_work(tmp_path):
    result = CliRunner().invoke(app, ["run", "--pretrain-data", str(tmp_path / "none.tsv"), "--out",
                                      str(tmp_path / "run")])
    assert result.exit_code == 2 and "--pretrain-data" in result.output and "no such file" in result.output
    assert not (tmp_path / "run").exists()
    bad = CliRunner().invoke(app, ["run", "--label-fraction", "0.1,2", "--out", str(tmp_path / "run")])
    assert bad.exit_code == 2 and "--label-fraction" in bad.output and not (tmp_path / "run").exists()
    olga = CliRunner().invoke(app, ["run", "--pretrain-data", "olga:n=0", "--out", str(tmp_path / "run")])
    assert olga.exit_code == 2 and "olga:n=0" in olga.output and not (tmp_path / "run").exists()
