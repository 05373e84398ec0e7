"""A whole run on a table of binders only: the negatives are made once, recorded, and the run is repeatable."""

from __future__ import annotations

import sys

import polars as pl
import pytest

from tcrbench.run.runner import Runner
from tcrbench.testing import temporary_plugins

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TCRBENCH_CACHE", str(tmp_path / "tcrbench-cache"))


def _binders_csv(path):
    """6 peptides x 10 binders, written the way pandas writes a frame (its index as an unnamed first column)."""
    rows = [(f"GILGF{'ACDEFG'[i]}FTL", f"CASS{'ACDEFG'[i]}{'KLMNPQRSTV'[j]}YEQYF") for i in range(6) for j in range(10)]
    frame = pl.DataFrame(rows, schema=["peptide", "cdr3b"], orient="row").with_row_index("")
    frame.write_csv(path)
    return str(path)


def _run(tmp_path, tiny, out):
    cfg = tiny(data=_binders_csv(tmp_path / "binders.csv"), dataset="synthetic", negatives="swapped:ratio=3")
    with temporary_plugins() as plugins:
        runner = Runner(cfg, plugins, out=tmp_path / out, quiet=True)
        summary = runner.run()
        return cfg, runner, summary


def test_a_run_on_binders_only_makes_and_records_its_negatives(tmp_path, tiny):
    cfg, runner, summary = _run(tmp_path, tiny, "run")
    assert not summary.failed
    frame = runner.data.frame
    assert frame.height == 60 * 4 and int(frame["label"].sum()) == 60
    assert all(r["n_train"] + r["n_test"] == 240 for r in summary.rows)
    saved = tomllib.loads((tmp_path / "run" / "config.toml").read_text())
    assert saved["negatives"] == cfg.negatives == "swapped:ratio=3,seed=0"  # resolved, defaults written out
    again = _run(tmp_path, tiny, "again")[2]
    assert again.config_hash == summary.config_hash  # same table, same strategy, same negatives


def test_every_row_records_the_strategy(tmp_path, tiny):
    summary = _run(tmp_path, tiny, "run")[2]
    assert {r["negatives"] for r in summary.rows} == {"swapped:ratio=3,seed=0"}


def test_a_dataset_with_negatives_of_its_own_is_refused(tmp_path, tiny):
    from tcrbench.errors import UsageError

    with temporary_plugins() as plugins, pytest.raises(UsageError, match="has negatives already"):
        Runner(tiny(negatives="swapped"), plugins, out=tmp_path / "run", quiet=True).run()
    assert not (tmp_path / "run").exists()


def _vdjdb_export(path, table):
    """A VDJdb web export of the synthetic table's binders: one TRB row each, unpaired (complex.id 0), plus a mouse
    row and a score-0 row that the conversion drops."""
    header = "complex.id\tGene\tCDR3\tV\tJ\tSpecies\tMHC A\tMHC B\tMHC class\tEpitope\tEpitope gene\t" \
             "Epitope species\tScore"
    lines = [header]
    binders = table.filter(pl.col("label") == 1)
    for pep, cdr3 in zip(binders["peptide"].to_list(), binders["cdr3b"].to_list()):
        lines.append(f"0\tTRB\t{cdr3}\tTRBV7-9*01\tTRBJ2-7*01\tHomoSapiens\tHLA-A*02:01\tB2M\tMHCI\t{pep}\tX\tY\t1")
    lines.append("0\tTRB\tCASSQDRGYEQYF\tTRBV1*01\tTRBJ2-7*01\tMusMusculus\tH-2Kb\tB2M\tMHCI\tSIINFEKL\tX\tY\t2")
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.mark.parametrize("strategy, ratio", [("swapped:ratio=2", 2), ("background:source=FILE,ratio=3", 3)])
def test_a_database_export_of_binders_runs_end_to_end_with_made_negatives(tmp_path, tiny, strategy, ratio):
    from tcrbench.data.synthetic_corpus import control_corpus
    from tcrbench.testing import tiny_dataset

    table = tiny_dataset(n_peptides=3, n_positives_per_peptide=20)
    export = _vdjdb_export(tmp_path / "vdjdb.tsv", table)
    repertoire = tmp_path / "repertoire.csv"
    control_corpus("negative", 400, n_peptides=3, seed=0).write_csv(repertoire)
    cfg = tiny(data=export, dataset="synthetic", negatives=strategy.replace("FILE", str(repertoire)),
               protocols=["probe"], baselines=["tcr_only"])
    with temporary_plugins() as plugins:
        runner = Runner(cfg, plugins, out=tmp_path / "run", quiet=True)
        summary = runner.run()
    assert not summary.failed
    frame = runner.data.frame
    # the mouse row dropped; swapped: each TCR can meet only the 2 other peptides, so 1:2 is what it can make
    assert int(frame["label"].sum()) == 60 and frame.height == 60 * (1 + ratio)
    positives = set(zip(*(frame.filter(pl.col("label") == 1)[c].to_list() for c in ("peptide", "cdr3b"))))
    negatives = set(zip(*(frame.filter(pl.col("label") == 0)[c].to_list() for c in ("peptide", "cdr3b"))))
    assert not positives & negatives
    assert {r["negatives"] for r in summary.rows} == {cfg.negatives}
    if strategy.startswith("background"):
        assert {t for _, t in negatives} <= set(pl.read_csv(repertoire)["cdr3b"].to_list())
