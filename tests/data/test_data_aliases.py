"""Column aliases: each common format resolves on its own; overrides win; ambiguity and absence are errors."""

import pytest

from tcrbench.data import load_table
from tcrbench.data.aliases import chain_column, parse_column_spec, resolve_columns
from tcrbench.errors import UsageError


@pytest.mark.parametrize("columns, expected", [
    (["antigen", "TCR", "interaction"], {"peptide": "antigen", "cdr3b": "TCR", "label": "interaction"}),
    (["CDR3a", "CDR3b", "peptide", "partition", "binder"],
     {"peptide": "peptide", "cdr3b": "CDR3b", "cdr3a": "CDR3a", "label": "binder", "partition": "partition"}),
    (["peptide", "split", "binder", "TRAV", "CDR3a", "CDR3b", "CDR3a_imgt", "CDR3b_imgt"],
     {"peptide": "peptide", "cdr3b": "CDR3b", "cdr3a": "CDR3a", "label": "binder", "split": "split", "trav": "TRAV"}),
    # IMMREP22's full header: the germline CDRs and V genes are found, the IMGT copies of the CDR3s and J genes not
    (["peptide", "split", "binder", "TRAV", "TRAJ", "CDR3a", "TRBV", "TRBJ", "CDR3b", "CDR1a", "CDR2a", "CDR3a_imgt",
      "CDR1b", "CDR2b", "CDR3b_imgt"],
     {"peptide": "peptide", "cdr3b": "CDR3b", "cdr3a": "CDR3a", "cdr1a": "CDR1a", "cdr2a": "CDR2a",
      "cdr1b": "CDR1b", "cdr2b": "CDR2b", "label": "binder", "split": "split", "trav": "TRAV", "trbv": "TRBV"}),
    # tcrdist3
    (["epitope", "cdr3_a_aa", "cdr1_a_aa", "cdr2_a_aa", "pmhc_a_aa", "cdr3_b_aa", "cdr1_b_aa", "cdr2_b_aa", "label"],
     {"peptide": "epitope", "cdr3b": "cdr3_b_aa", "cdr3a": "cdr3_a_aa", "cdr1a": "cdr1_a_aa", "cdr2a": "cdr2_a_aa",
      "cdr1b": "cdr1_b_aa", "cdr2b": "cdr2_b_aa", "label": "label"}),
    # an AIRR rearrangement: one chain per row, its CDR1/CDR2 read as beta like its junction_aa
    (["sequence_id", "locus", "cdr1_aa", "cdr2_aa", "junction_aa", "epitope", "binds"],
     {"peptide": "epitope", "cdr3b": "junction_aa", "cdr1b": "cdr1_aa", "cdr2b": "cdr2_aa", "label": "binds"}),
    # ... but beside a paired table's CDR3s a chain-less cdr1_aa could be either chain: not read
    (["peptide", "CDR3a", "CDR3b", "cdr1_aa", "binder"],
     {"peptide": "peptide", "cdr3b": "CDR3b", "cdr3a": "CDR3a", "label": "binder"}),
    (["complex.id", "Gene", "CDR3", "V", "J", "MHC A", "MHC B", "Epitope", "Epitope gene", "label"],
     {"peptide": "Epitope", "cdr3b": "CDR3", "mhc": "MHC A", "label": "label"}),
    (["sequence_id", "locus", "cdr3", "cdr3_aa", "junction_aa", "epitope", "binds"],
     {"peptide": "epitope", "cdr3b": "junction_aa", "label": "binds"}),
    (["IR_VJ_1_junction_aa", "IR_VDJ_1_junction_aa", "IR_VDJ_2_junction_aa", "antigen", "label"],
     {"peptide": "antigen", "cdr3b": "IR_VDJ_1_junction_aa", "cdr3a": "IR_VJ_1_junction_aa", "label": "label"}),
])
def test_common_formats_resolve(columns, expected):
    assert resolve_columns(columns, None, "t.csv") == expected


def test_matching_ignores_case():
    assert resolve_columns(["PEPTIDE", "Cdr3B", "LABEL"], None, "t")["cdr3b"] == "Cdr3B"


def test_override_wins_and_frees_the_column_for_nothing_else():
    found = ["pep", "CDR3b", "CDR3a", "y"]
    got = resolve_columns(found, {"peptide": "pep", "label": "y", "cdr3b": "CDR3a"}, "t")
    assert got == {"peptide": "pep", "label": "y", "cdr3b": "CDR3a"}  # CDR3a is taken, so no alpha chain


def test_empty_override_leaves_an_optional_field_out():
    got = resolve_columns(["peptide", "CDR3b", "CDR3a", "binder"], {"cdr3a": ""}, "t")
    assert "cdr3a" not in got


def test_germline_cdrs_are_optional_and_can_be_named_or_left_out():
    found = ["peptide", "CDR3b", "CDR1b", "V1", "binder"]
    assert resolve_columns(found, {"cdr1b": "", "cdr2b": "V1"}, "t") == {
        "peptide": "peptide", "cdr3b": "CDR3b", "cdr2b": "V1", "label": "binder"}
    # an override may read a chain-less name that the aliases would leave unread
    got = resolve_columns(["peptide", "CDR3a", "CDR3b", "cdr1_aa", "binder"], {"cdr1a": "cdr1_aa"}, "t")
    assert got["cdr1a"] == "cdr1_aa"


def test_empty_override_of_a_required_field_is_an_error():
    with pytest.raises(UsageError, match="leaves out a required field"):
        resolve_columns(["peptide", "CDR3b", "binder"], {"peptide": ""}, "t")


def test_ambiguous_columns_are_listed():
    with pytest.raises(UsageError) as exc:
        resolve_columns(["peptide", "antigen", "TCR", "interaction"], None, "t.csv")
    assert str(exc.value) == ("t.csv: columns 'peptide', 'antigen' could each be the 'peptide' column; choose one "
                              "with --columns peptide=<column> (columns found: 'peptide', 'antigen', 'TCR', "
                              "'interaction')")


def test_ambiguity_resolved_by_override():
    got = resolve_columns(["peptide", "antigen", "TCR", "interaction"], {"peptide": "antigen"}, "t")
    assert got["peptide"] == "antigen"


def test_missing_required_column_lists_what_was_found():
    with pytest.raises(UsageError, match=r"no column for 'cdr3b' .*columns found: 'antigen', 'interaction'"):
        resolve_columns(["antigen", "interaction"], None, "t")


def test_override_naming_an_absent_column():
    with pytest.raises(UsageError, match=r"--columns peptide=pep: no column 'pep'; columns found: 'a', 'b'"):
        resolve_columns(["a", "b"], {"peptide": "pep"}, "t")


def test_override_mapping_one_column_twice():
    with pytest.raises(UsageError, match="maps column 'a' to both 'peptide' and 'cdr3b'"):
        resolve_columns(["a", "b", "c"], {"peptide": "a", "cdr3b": "a"}, "t")


def test_parse_column_spec():
    assert parse_column_spec("peptide=antigen, cdr3b=TCR,label=interaction,cdr3a=") == {
        "peptide": "antigen", "cdr3b": "TCR", "label": "interaction", "cdr3a": ""}
    assert parse_column_spec(None) == {} and parse_column_spec("  ") == {}


@pytest.mark.parametrize("spec, message", [
    ("peptideantigen", r"'peptideantigen' is not FIELD=COLUMN"),
    ("pepide=antigen", r"unknown field 'pepide'.*did you mean 'peptide'\?"),
    ("peptide=a,peptide=b", r"field 'peptide' is given twice"),
])
def test_parse_column_spec_errors(spec, message):
    with pytest.raises(UsageError, match=message):
        parse_column_spec(spec)


def test_chain_column_only_for_one_chain_per_row_exports():
    vdjdb = ["Gene", "CDR3", "Epitope", "label"]
    assert chain_column(vdjdb, resolve_columns(vdjdb, None, "t")) == "Gene"
    nettcr = ["CDR3a", "CDR3b", "peptide", "binder", "chain"]
    assert chain_column(nettcr, resolve_columns(nettcr, None, "t")) is None


IMMREP_HEADER = "peptide,split,binder,TRAV,CDR3a,CDR3b,CDR1a,CDR2a,CDR1b,CDR2b\n"


def test_immrep_file_loads_with_its_germline_cdrs(tmp_path):
    path = tmp_path / "immrep.csv"
    path.write_text(IMMREP_HEADER
                    + "ATDALMTGF,train,1,TRAV24*01,CAFTSNTGKLIF,CASRGDTFYEQYF,SSNFYA,MTLNGDE,SGHRS,YFSETQ\n"
                    + "ATDALMTGF,test,0,TRAV8-4*01,CAVSAGDYKLSF,CATSDSVAGNQPQHF,,YTSAATLV,KGHDR,SFDVKD\n")
    loaded = load_table(path)
    assert loaded.frame.columns == ["peptide", "cdr3b", "cdr3a", "cdr1a", "cdr2a", "cdr1b", "cdr2b", "trav", "label",
                                    "split"]
    assert loaded.frame["cdr1a"].to_list() == ["SSNFYA", None]  # an empty CDR1 is a missing one
    assert loaded.frame["cdr2b"].to_list() == ["YFSETQ", "SFDVKD"]


def test_a_bad_germline_residue_is_one_line_naming_file_row_and_column(tmp_path):
    path = tmp_path / "immrep.csv"
    path.write_text(IMMREP_HEADER + "ATDALMTGF,train,1,TRAV24*01,CAFTSNTGKLIF,CASRGDTFYEQYF,SSNFYA,MTLNGDE,SGHRS,YF*ETQ\n"
                    + "ATDALMTGF,test,0,TRAV8-4*01,CAVSAGDYKLSF,CATSDSVAGNQPQHF,SSVPPY,YTSAATLV,KGHDR,SFDVKD\n")
    with pytest.raises(UsageError) as exc:
        load_table(path)
    assert str(exc.value) == (f"{path}: data row 1 (line 2), column 'CDR2b': 'YF*ETQ' has '*' at position 3, "
                              f"not one of the 20 amino acids ACDEFGHIKLMNPQRSTVWY")
