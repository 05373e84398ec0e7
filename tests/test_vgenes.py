"""V genes: read from the common column names, normalised with tidytcells, resolved to IMGT CDR1/CDR2; rows whose V
gene does not resolve are counted by name, never dropped."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import polars as pl
import pytest

from tcrbench.data import load_table
from tcrbench.data.aliases import resolve_columns
from tcrbench.data.schema import pair_key, tcr_key
from tcrbench.data.vgenes import MISSING_EXTRA, germline_loops, resolve_germline
from tcrbench.errors import UsageError

EXCERPT = Path(__file__).parent / "data" / "immrep22_excerpt.csv"  # 10 rows of IMMREP22, with TRAV/TRBV and CDR1/2
LOOPS = ["cdr1a", "cdr2a", "cdr1b", "cdr2b"]
needs_tidytcells = pytest.mark.skipif(
    importlib.util.find_spec("tidytcells") is None, reason="tidytcells (the sceptr extra) is not installed"
)


def test_v_gene_columns_are_read_as_text_and_stay_out_of_the_keys() -> None:
    loaded = load_table(EXCERPT)
    frame = loaded.frame
    assert frame.columns == ["peptide", "cdr3b", "cdr3a", *LOOPS, "trav", "trbv", "label", "split"]
    assert frame["trav"][0] == "TRAV8-1*01" and frame["trbv"][9] == "TRBV6-1*01"
    assert pair_key(frame) == ["peptide", "cdr3b", "cdr3a"] and tcr_key(frame) == ["cdr3b", "cdr3a"]


def test_v_gene_aliases_of_common_formats(tmp_path: Path) -> None:
    tcrdist = ["epitope", "cdr3_a_aa", "v_a_gene", "cdr3_b_aa", "v_b_gene", "label"]
    assert resolve_columns(tcrdist, None, "t")["trav"] == "v_a_gene"
    assert resolve_columns(tcrdist, None, "t")["trbv"] == "v_b_gene"
    # a one-chain-per-row AIRR table: its v_call is the beta V gene, like its junction_aa is the beta CDR3 ...
    airr = ["sequence_id", "locus", "v_call", "junction_aa", "epitope", "binds"]
    assert resolve_columns(airr, None, "t")["trbv"] == "v_call"
    # ... but beside a paired table's CDR3s a chain-less v_call could be either chain: not read
    assert "trbv" not in resolve_columns(["peptide", "CDR3a", "CDR3b", "v_call", "binder"], None, "t")
    path = tmp_path / "t.csv"
    path.write_text("peptide,CDR3b,v_beta,binder\nGILGFVFTL,CASSIRSSYEQYF, TRBV19*01 ,1\nGILGFVFTL,CASSLGF,NA,0\n")
    assert load_table(path).frame["trbv"].to_list() == ["TRBV19*01", None]  # trimmed; NA is missing


@needs_tidytcells
def test_v_genes_give_the_imgt_loops_that_immrep22_writes_down() -> None:
    table = load_table(EXCERPT).frame
    resolved, report = resolve_germline(table.drop(LOOPS))
    assert report.rows == report.complete == 10 and report.from_v_genes == 20 and report.from_table == 0
    differ = [
        (trav, col, mine, theirs)
        for col in LOOPS
        for trav, mine, theirs in zip(table["trav"], resolved[col], table[col])
        if mine != theirs
    ]
    # the one difference: IMGT's current TRAV12-1 CDR2 has one residue more than IMMREP22's older copy
    assert differ == [("TRAV12-1*01", "cdr2a", "VYSSGN", "VYSSG")]


@needs_tidytcells
def test_the_tables_own_loops_win_and_unresolved_genes_are_named_not_dropped() -> None:
    table = load_table(EXCERPT).frame
    bad = ["TRBV99", "TRAJ33*01", "foo", None, "TRBV19*05", "TCRBV05-01", "TRBV12-3"]
    frame = table.head(7).drop("cdr1b", "cdr2b").with_columns(pl.Series("trbv", bad))
    resolved, report = resolve_germline(frame)
    assert resolved.height == 7 and resolved["cdr3b"].to_list() == frame["cdr3b"].to_list()
    assert report.unresolved == {"TRAJ33*01": 1, "TRBV99": 1, "foo": 1}  # a J gene is not a V gene
    assert report.complete == 3 and report.from_table == 7 and report.from_v_genes == 3
    assert resolved["cdr1b"].to_list()[3:] == [None, "LNHDA", "SGHRS", "SGHNS"]  # unknown allele -> gene; old names
    assert resolved["cdr1a"].to_list() == table.head(7)["cdr1a"].to_list()  # alpha loops from the table, unchanged
    assert report.note().endswith("V genes not resolved: TRAJ33*01 (1 row), TRBV99 (1 row), foo (1 row)")
    # the table's loops win over its V gene where both are given
    given = table.head(1).with_columns(pl.lit("TRBV19*01").alias("trbv"))
    assert resolve_germline(given)[0]["cdr1b"].to_list() == table["cdr1b"].head(1).to_list() == ["MNHNY"]


@needs_tidytcells
def test_a_gene_without_allele_takes_its_first_functional_allele() -> None:
    assert germline_loops("TRBV5-1", "TRB") == ("TRBV5-1*01", "SGHRS", "YFSETQ")
    assert germline_loops("TRAV40*01", "TRA") == ("TRAV40*01", "STGYPT", "")  # IMGT has no CDR2 for TRAV40
    assert germline_loops("TRBV19*01", "TRA") is None  # a beta gene in the alpha column


def test_no_germline_columns_need_no_tidytcells(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tidytcells", None)
    germline_loops.cache_clear()
    frame = pl.DataFrame({"peptide": ["GILGFVFTL"], "cdr3b": ["CASSIRSSYEQYF"], "label": [1]})
    resolved, report = resolve_germline(frame)
    assert report.complete == 0 and report.share == 0.0 and set(LOOPS) <= set(resolved.columns)
    with pytest.raises(UsageError) as exc:
        resolve_germline(frame.with_columns(pl.lit("TRBV19*01").alias("trbv")))
    assert str(exc.value) == MISSING_EXTRA
    germline_loops.cache_clear()
