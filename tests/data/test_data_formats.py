"""Database exports (VDJdb, McPAS-TCR, AIRR, scirpy) are recognised by header and converted into aliasable columns.

Each example file under tests/data/formats/ is hand-written with the edge cases the converters must count:
unpaired complex.id 0 rows, low scores, other species, non-productive rows, a cell with two β chains.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import polars as pl
import pytest

from tcrbench.data.aliases import chain_column, resolve_columns
from tcrbench.data.formats import FORMATS, OPTIONS, choose_format, convert, detect_format
from tcrbench.data.readers import read_raw
from tcrbench.data.validate import ROW, normalise_frame
from tcrbench.errors import UsageError

HERE = Path(__file__).parent / "formats"


def load(name: str, fmt: str | None = None, **options: str) -> tuple[pl.DataFrame, list[str]]:
    raw = read_raw(HERE / name)
    found = fmt or detect_format(raw.frame.columns)
    assert found is not None, f"{name}: not detected"
    return convert(raw.frame, found, raw.source, options)


def by_beta(frame: pl.DataFrame) -> dict[str, dict]:
    return {row["cdr3b"]: row for row in frame.iter_rows(named=True)}


@pytest.mark.parametrize(
    "name,fmt",
    [
        ("vdjdb_export.tsv", "vdjdb"),
        ("vdjdb_slim.txt", "vdjdb"),
        ("mcpas_tcr.csv", "mcpas"),
        ("airr_rearrangement.tsv", "airr"),
        ("scirpy_obs.csv", "scirpy"),
        ("scirpy_airr_context.tsv", "scirpy"),
    ],
)
def test_detected_from_header(name, fmt):
    raw = read_raw(HERE / name)
    assert detect_format(raw.frame.columns) == fmt
    assert detect_format([c for c in raw.frame.columns if c != ROW]) == fmt
    assert fmt in FORMATS and fmt in OPTIONS


@pytest.mark.parametrize(
    "columns",
    [
        ["peptide", "cdr3b", "label"],
        ["antigen", "TCR", "interaction"],
        ["peptide", "CDR3a", "CDR3b", "binder", "partition"],
        ["Epitope", "CDR3", "Gene", "label"],  # VDJdb-like names, but no complex.id
        ["junction_aa", "locus", "epitope", "label"],  # AIRR-like, but no sequence_id
        ["peptide", "cdr3.beta", "label"],
    ],
)
def test_plain_tables_are_no_format(columns):
    assert detect_format(columns) is None
    assert choose_format(columns) is None


def test_vdjdb_pairs_through_complex_id():
    frame, notes = load("vdjdb_export.tsv")
    # 11 rows: 2 mouse dropped; complexes 1, 2, 4 paired; complex.id 0 β kept, its α dropped; complex 5 α-only
    assert frame.height == 4
    rows = by_beta(frame)
    assert rows["CASSIRSSYEQYF"]["cdr3a"] == "CAVRDSNYQLIW"
    assert rows["CASSPQRNTEAFF"]["cdr3a"] == "CALSGFNNAGNMLTF"
    assert rows["CASSYSTGDEQYF"]["cdr3a"] == "CAGHTGNQFYF"
    assert rows["CASSLAPGATNEKLFF"]["cdr3a"] is None  # complex.id 0: β single-chain
    # the pair keeps its earlier row: complex 4 lists β (row 9) before α (row 10)
    assert {b: r[ROW] for b, r in rows.items()} == {
        "CASSIRSSYEQYF": 1,
        "CASSLAPGATNEKLFF": 3,
        "CASSPQRNTEAFF": 5,
        "CASSYSTGDEQYF": 9,
    }
    assert rows["CASSIRSSYEQYF"]["trbv"] == "TRBV19*01" and rows["CASSIRSSYEQYF"]["trav"] == "TRAV12-2*01"
    assert rows["CASSIRSSYEQYF"]["mhc"] == "HLA-A*02:01"
    assert rows["CASSYSTGDEQYF"]["mhc"] == "HLA-DRA*01:01/HLA-DRB1*04:01"  # class II: both chains
    assert "label" not in frame.columns
    assert notes == [
        "VDJdb: 11 rows read; 2 rows of species other than HomoSapiens dropped",
        "VDJdb: 6 α/β rows paired into 3 TCRs through complex.id; 1 β row kept single-chain "
        "(complex.id 0 or no α); 2 α-only rows dropped",
    ]


def test_vdjdb_options():
    frame, notes = load("vdjdb_export.tsv", min_score="1")
    assert "CASSPQRNTEAFF" not in by_beta(frame)  # score 0
    assert frame.height == 3
    assert "2 rows below min_score 1 dropped" in notes[0]
    frame, notes = load("vdjdb_export.tsv", mhc_class="MHCII")
    assert frame["cdr3b"].to_list() == ["CASSYSTGDEQYF"]
    assert "7 rows of MHC class other than MHCII dropped" in notes[0]
    frame, notes = load("vdjdb_export.tsv", species="MusMusculus")
    assert frame.select("cdr3b", "cdr3a").rows() == [("CASSRDWGGQNTLYF", "CAMREGGSNYKLTF")]
    frame, _ = load("vdjdb_export.tsv", species="any")
    assert frame.height == 5
    for bad, match in [
        ({"min_score": "4"}, "min_score='4'"),
        ({"mhc_class": "III"}, "mhc_class='III'"),
        ({"score": "1"}, "no option 'score'"),
    ]:
        with pytest.raises(UsageError, match=match):
            load("vdjdb_export.tsv", **bad)
    with pytest.raises(UsageError, match="no rows left"):
        load("vdjdb_export.tsv", species="MacacaMulatta")


def test_vdjdb_release_dump_names():
    frame, notes = load("vdjdb_slim.txt", min_score="1")
    assert frame.select(ROW, "peptide", "cdr3b", "cdr3a").rows() == [(1, "GILGFVFTL", "CASSIRSSYEQYF", "CAVRDSNYQLIW")]
    assert notes[0] == "VDJdb: 3 rows read; 1 row below min_score 1 dropped"


def test_mcpas_filters_and_counts():
    frame, notes = load("mcpas_tcr.csv")
    assert frame.select(ROW, "peptide", "cdr3b", "cdr3a").rows() == [
        (1, "GILGFVFTL", "CASSSRSSYEQYF", "CAGAGSQGNLIF"),
        (2, "NLVPMVATV", "CASSLAPGATNEKLFF", None),  # 'NA' alpha reads as missing
        (6, "GILGFVFTL", "CASSIRSSYEQYF", "CAVSDLEPNSSASKIIF"),
    ]
    assert frame["trbv"].to_list() == ["TRBV19", "TRBV7-9", "TRBV19"]
    assert notes == [
        "McPAS-TCR: 6 rows read; 1 row of species other than Human dropped; 1 row without a peptide "
        "(Epitope.peptide) dropped; 1 row without a β CDR3 (CDR3.beta.aa) dropped",
        "McPAS-TCR: 3 rows kept, 2 with an α chain",
    ]
    mouse, _ = load("mcpas_tcr.csv", species="Mouse")
    assert mouse.select(ROW, "mhc").rows() == [(4, "H-2Db")]


def test_airr_pairs_cells():
    frame, notes = load("airr_rearrangement.tsv")
    rows = by_beta(frame)
    assert frame.height == 3
    assert rows["CASSIRSSYEQYF"]["cdr3a"] == "CAVRDSNYQLIW"
    # two β chains in this cell: the one with more UMIs (9 against 3) is kept; the pair keeps the α's row 3
    assert "CASSPQRNTEAFF" not in rows
    assert rows["CASSLAPGATNEKLFF"]["cdr3a"] == "CAVNGGSQGNLIF"
    assert rows["CASSLAPGATNEKLFF"][ROW] == 3
    assert rows["CASSYSTGDEQYF"]["cdr3a"] is None  # a β-only cell
    assert rows["CASSIRSSYEQYF"]["cdr1b"] == "MNHEY" and rows["CASSIRSSYEQYF"]["cdr2a"] == "IYSNGD"
    assert rows["CASSIRSSYEQYF"]["peptide"] == "GILGFVFTL"
    assert rows["CASSIRSSYEQYF"]["cell_id"] == "AAACCTGAGATCCGAG-1"
    assert notes == [
        "AIRR: 10 rows read; 1 row not productive dropped; 2 rows of a locus other than TRA/TRB dropped",
        "AIRR: 2 cells paired α/β through cell_id; 1 β chain kept single-chain; 1 α-only chain dropped",
        "AIRR: 1 cell with more than one α or β; the highest umi_count kept, 1 row dropped",
    ]


def test_airr_without_abundance_keeps_first_and_without_cell_id_keeps_beta():
    raw = read_raw(HERE / "airr_rearrangement.tsv").frame
    first, notes = convert(raw.drop("umi_count"), "airr", "t.tsv")
    assert by_beta(first)["CASSPQRNTEAFF"]["cdr3a"] == "CAVNGGSQGNLIF"  # the cell's first β in the file
    assert "the first in the file kept" in notes[-1]
    beta, notes = convert(raw.drop("cell_id"), "airr", "t.tsv")
    assert beta["cdr3b"].to_list() == ["CASSIRSSYEQYF", "CASSPQRNTEAFF", "CASSLAPGATNEKLFF", "CASSYSTGDEQYF"]
    assert beta[ROW].to_list() == [2, 4, 5, 8]
    assert "cdr3a" not in beta.columns
    assert "no cell_id" in notes[-1]


def test_scirpy_keeps_alpha_beta_cells():
    frame, notes = load("scirpy_obs.csv")
    assert frame.select(ROW, "peptide", "cdr3b", "cdr3a", "trbv", "trav").rows() == [
        (1, "GILGFVFTL", "CASSIRSSYEQYF", "CAVRDSNYQLIW", "TRBV19*01", "TRAV12-2*01"),
        (2, "NLVPMVATV", "CASSLAPGATNEKLFF", None, "TRBV7-9*01", None),
        (5, "GILGFVFTL", "CASSYSTGDEQYF", "CAVNGGSQGNLIF", "TRBV5-1*01", "TRAV21*01"),
    ]
    assert notes == [
        "scirpy: 6 cells read; 2 cells without a VDJ chain dropped; 1 cell whose VDJ chain is not TRB dropped",
        "scirpy: 3 cells kept, 2 with an α chain; 1 cell with a second β chain read by its first (VDJ_1)",
    ]
    newer, _ = load("scirpy_airr_context.tsv")
    assert newer.select("cdr3b", "cdr3a").rows() == [("CASSIRSSYEQYF", "CAVRDSNYQLIW"), ("CASSLAPGATNEKLFF", None)]


def test_forcing_a_format():
    columns = read_raw(HERE / "vdjdb_export.tsv").frame.columns
    assert choose_format(columns, "VDJdb") == "vdjdb"
    assert choose_format(columns, "auto") == "vdjdb"
    assert choose_format(columns, "none") is None
    with pytest.raises(UsageError, match="not a mcpas table: no column 'cdr3.beta.aa'"):
        choose_format(columns, "mcpas")
    with pytest.raises(UsageError, match="unknown format 'iedb'"):
        choose_format(columns, "iedb")
    # scirpy columns forced on a table the aliases would read anyway
    assert choose_format(["IR_VDJ_1_junction_aa", "antigen", "label"], "scirpy") == "scirpy"


@pytest.mark.parametrize("name", ["vdjdb_export.tsv", "mcpas_tcr.csv", "airr_rearrangement.tsv", "scirpy_obs.csv"])
def test_converted_columns_resolve_to_the_canonical_schema(name):
    frame, _ = load(name)
    found = [c for c in frame.columns if c != ROW] + ["label"]  # a label column only to satisfy resolve_columns
    mapping = resolve_columns(found, None, name)
    canonical = {f: c for f, c in mapping.items() if f != "label"}
    assert canonical == {f: f for f in canonical}, "a converted column was mapped to another field"
    assert {"peptide", "cdr3b"} <= set(canonical)
    assert chain_column(found, mapping) is None  # the one-chain-per-row filter must not run again
    if "classes" not in inspect.signature(normalise_frame).parameters:
        pytest.skip("normalise_frame has no positives-only mode yet")
    # as load_table does for --negatives: a binders-only table is labelled 1 by the reader, never by convert
    binders = frame.select(ROW, *canonical).with_columns(pl.lit("1").alias("label"))
    clean, report = normalise_frame(binders, name, names=canonical, classes=False)
    assert clean.height == frame.height == report.rows
