"""--negatives for tables of binders only (swapped pairs, background TCRs), the pandas index column, --columns."""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from tcrbench.cli.main import app
from tcrbench.data import load_table
from tcrbench.data.aliases import resolve_columns
from tcrbench.data.negatives import DEFAULT_RATIO, add_negatives, parse_negatives
from tcrbench.data.readers import read_raw
from tcrbench.errors import UsageError
from tcrbench.plugins.protocols import Kind
from tcrbench.run.config import RunConfig, apply_settings
from tcrbench.testing import temporary_plugins

HAS_OLGA = importlib.util.find_spec("olga") is not None


def _binders(n_peptides: int = 6, per_peptide: int = 8, shared: int = 0) -> pl.DataFrame:
    """A canonical table of binders; the first `shared` TCRs of peptide 0 also bind peptide 1 (a cross-reactive
    TCR, so a peptide's pool is not simply every other peptide's binders)."""
    peps = [f"GILGF{'ACDEFGHIKL'[i]}FTL" for i in range(n_peptides)]
    rows = [(p, f"CASS{'ACDEFGHIKL'[i]}{'MNPQRSTVWY'[j % 10]}{'ACDEF'[j // 10]}YEQYF") for i, p in enumerate(peps)
            for j in range(per_peptide)]
    rows += [(peps[1], rows[j][1]) for j in range(shared)]
    return pl.DataFrame(rows, schema=["peptide", "cdr3b"], orient="row").with_columns(
        pl.lit(1, dtype=pl.Int8).alias("label"))


def _pairs(frame: pl.DataFrame, label: int) -> list[tuple[str, ...]]:
    return list(frame.filter(pl.col("label") == label).select("peptide", "cdr3b").iter_rows())


# ------------------------------------------------------------------ parsing
def test_strategies_resolve_with_their_defaults_written_out(tmp_path):
    assert parse_negatives("swapped").text == f"swapped:ratio={DEFAULT_RATIO},seed=0"
    assert parse_negatives(" swapped:ratio=3, seed=7 ").text == "swapped:ratio=3,seed=7"
    assert parse_negatives("background:source=olga").text == f"background:source=olga,ratio={DEFAULT_RATIO},seed=0"
    rep = tmp_path / "rep.tsv"
    rep.write_text("junction_aa\nCASSLGQAYEQYF\n")
    assert parse_negatives(f"background:source={rep},ratio=2").source == str(rep)


@pytest.mark.parametrize("text, message", [
    ("shuffled", "unknown strategy 'shuffled'"),
    ("swapped:ratio=0", "ratio must be at least 1"),
    ("swapped:ratio=two", "ratio and seed must be integers"),
    ("swapped:source=olga", "expected ratio=, seed= settings, got 'source=olga'"),
    ("background", "background needs source=olga or source=FILE"),
    ("background:source=/no/such/rep.tsv", "no such file '/no/such/rep.tsv'"),
])
def test_bad_strategies_are_one_line_errors_naming_the_option(text, message):
    with pytest.raises(UsageError) as exc:
        parse_negatives(text)
    assert str(exc.value).startswith(f"--negatives {text}: ") and message in str(exc.value)
    assert "\n" not in str(exc.value)


def test_a_bad_strategy_on_the_command_line_exits_2_before_any_run_folder(tmp_path):
    data = tmp_path / "pos.csv"
    _binders().drop("label").write_csv(data)
    result = CliRunner().invoke(app, ["run", "--data", str(data), "--negatives", "swaped", "--out",
                                      str(tmp_path / "run")])
    assert result.exit_code == 2
    assert "--negatives swaped: unknown strategy 'swaped'" in result.output
    assert not (tmp_path / "run").exists()


def test_the_setting_is_in_the_config_hash_only_when_set():
    plain = RunConfig()
    assert "negatives" not in plain.numbers_dict()  # runs from before the setting keep their hash
    swapped = apply_settings(RunConfig(), {"negatives": "swapped"}, "test")
    assert swapped.negatives == f"swapped:ratio={DEFAULT_RATIO},seed=0"
    assert swapped.config_hash("f") != plain.config_hash("f")
    with pytest.raises(UsageError, match="--negatives bogus: unknown strategy"):
        apply_settings(RunConfig(), {"negatives": "bogus"}, "test")


def test_a_background_file_in_a_config_file_is_found_beside_it(tmp_path):
    (tmp_path / "rep.tsv").write_text("junction_aa\nCASSLGQAYEQYF\n")
    (tmp_path / "grid.toml").write_text('negatives = "background:source=rep.tsv,ratio=2"\n')
    from tcrbench.run.config import load_config_file

    cfg = load_config_file(tmp_path / "grid.toml")
    assert cfg.negatives == f"background:source={(tmp_path / 'rep.tsv').resolve()},ratio=2,seed=0"


# ------------------------------------------------------------------ swapped
def test_swapped_negatives_never_repeat_a_binder_and_meet_the_ratio_per_peptide():
    binders = _binders(shared=3)
    frame, warnings = add_negatives(binders, parse_negatives("swapped:ratio=3"))
    assert warnings == []
    assert frame.head(binders.height).equals(binders)  # the binders first, untouched
    negatives = _pairs(frame, 0)
    assert not set(negatives) & set(_pairs(binders, 1))
    assert len(set(negatives)) == len(negatives)  # no pair twice
    per_peptide = Counter(p for p, _ in negatives)
    assert per_peptide == {p: 3 * n for p, n in Counter(binders["peptide"]).items()}
    assert set(t for _, t in negatives) <= set(binders["cdr3b"])  # the table's own TCRs


def test_a_short_pool_gives_what_it_can_and_a_warning():
    binders = _binders(n_peptides=2, per_peptide=4)  # each peptide has 4 other TCRs, 5 x 4 = 20 are asked
    frame, warnings = add_negatives(binders, parse_negatives("swapped"))
    assert Counter(p for p, _ in _pairs(frame, 0)) == {p: 4 for p in set(binders["peptide"])}
    assert len(warnings) == 1
    assert "2 of 2 peptides got fewer than 5 negatives per binder" in warnings[0]
    assert "4 of 20" in warnings[0]


def test_swapped_negatives_are_deterministic_under_a_seed():
    binders = _binders()
    one = add_negatives(binders, parse_negatives("swapped:ratio=2,seed=4"))[0]
    assert one.equals(add_negatives(binders, parse_negatives("swapped:ratio=2,seed=4"))[0])
    assert not one.equals(add_negatives(binders, parse_negatives("swapped:ratio=2,seed=5"))[0])


def test_tcr_disjoint_folds_keep_every_swapped_negative_with_its_tcr():
    binders = _binders(n_peptides=6, per_peptide=10, shared=4)
    frame = add_negatives(binders, parse_negatives("swapped:ratio=3"))[0]
    with temporary_plugins() as plugins:
        folds = plugins.registry.create(Kind.SPLITTER, "tcr").split(frame, 3, 0)
    cdr3 = frame["cdr3b"].to_numpy()
    for fold in folds:
        test, train = set(cdr3[np.asarray(fold.test)]), set(cdr3[np.asarray(fold.train)])
        assert not test & train  # so a TCR's negatives sit in the fold of its binders
    label = frame["label"].to_numpy()
    assert all((label[np.asarray(f.test)] == 0).any() for f in folds)


def test_swapped_negatives_carry_their_tcr_and_their_peptide_s_mhc():
    binders = pl.DataFrame({
        "peptide": ["AAAAAAAAA", "AAAAAAAAA", "CCCCCCCCC", "CCCCCCCCC"],
        "cdr3b": ["CASSAF", "CASSCF", "CASSDF", "CASSEF"],
        "cdr3a": ["CAVAF", None, "CAVDF", "CAVEF"],
        "mhc": ["HLA-A*02:01", "HLA-A*02:01", "HLA-B*07:02", "HLA-B*07:02"],
        "label": pl.Series([1, 1, 1, 1], dtype=pl.Int8),
    })
    frame = add_negatives(binders, parse_negatives("swapped:ratio=1"))[0]
    negatives = frame.filter(pl.col("label") == 0)
    chains = {b: a for b, a in binders.select("cdr3b", "cdr3a").iter_rows()}
    assert all(chains[b] == a for b, a in negatives.select("cdr3b", "cdr3a").iter_rows())
    mhc = dict(binders.select("peptide", "mhc").iter_rows())
    assert all(mhc[p] == m for p, m in negatives.select("peptide", "mhc").iter_rows())


# ------------------------------------------------------------------ background
def test_background_from_a_file_in_the_table_s_convention(tmp_path):
    binders = _binders(n_peptides=3, per_peptide=4).with_columns(pl.col("cdr3b").str.slice(1, 8))  # no anchors
    rep = tmp_path / "rep.tsv"
    own = "C" + binders["cdr3b"][0] + "F"  # a binder of the first peptide, written as a junction
    junctions = [own] + [f"CASR{a}{b}GELFF" for a in "ACDEFG" for b in "KLMN"]
    pl.DataFrame({"junction_aa": junctions, "locus": ["TRB"] * len(junctions)}).write_csv(rep, separator="\t")
    spec = parse_negatives(f"background:source={rep},ratio=2,seed=1")
    frame, warnings = add_negatives(binders, spec)
    assert warnings == []
    negatives = _pairs(frame, 0)
    assert Counter(p for p, _ in negatives) == {p: 8 for p in set(binders["peptide"])}
    stripped = {j[1:-1] for j in junctions}
    assert {t for _, t in negatives} <= stripped  # anchors cut, as the table writes CDR3s
    assert not set(negatives) & set(_pairs(binders, 1))
    assert len({t for _, t in negatives}) == len(negatives)  # 25 TCRs for 24 negatives: each used once
    assert frame.equals(add_negatives(binders, spec)[0])


@pytest.mark.skipif(not HAS_OLGA, reason="the olga extra is not installed")
def test_background_from_olga_is_seeded(tmp_path, monkeypatch):
    monkeypatch.setenv("TCRBENCH_CACHE", str(tmp_path / "cache"))
    binders = _binders(n_peptides=2, per_peptide=3)
    spec = parse_negatives("background:source=olga,ratio=2,seed=3")
    frame = add_negatives(binders, spec)[0]
    negatives = frame.filter(pl.col("label") == 0)
    assert negatives.height == 12
    assert negatives["cdr3b"].str.contains("^C[A-Z]+[FW]$").all()  # junctions, as the table writes them
    assert frame.equals(add_negatives(binders, spec)[0])


def test_background_olga_without_the_extra_names_it(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "olga" else real(name, *a))
    with pytest.raises(UsageError, match=r"^--negatives background:source=olga,ratio=5,seed=0: the olga package is "
                                         r"not installed; pip install 'tcrbench\[olga\]'"):
        add_negatives(_binders(), parse_negatives("background:source=olga"))


# ------------------------------------------------------------------ which tables
def _run(args: list[str]):
    return CliRunner().invoke(app, ["run", *args, "--folds", "2", "--steps", "1", "--pretrain-steps", "1",
                                    "--no-baselines", "--quiet"])


def test_a_table_of_binders_without_negatives_names_the_option(tmp_path):
    data = tmp_path / "pos.csv"
    _binders().drop("label").write_csv(data)
    result = _run(["--data", str(data), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert "no column for 'label'" in result.output and "--negatives swapped" in result.output
    _binders().write_csv(data)  # a label column of 1s only
    result = _run(["--data", str(data), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert "every row has label 1 (binder)" in result.output


def test_a_table_with_its_own_negatives_is_refused(tmp_path):
    data = tmp_path / "pairs.csv"
    _binders().with_columns(pl.Series("label", [0, 1] * 24)).write_csv(data)
    result = _run(["--data", str(data), "--negatives", "swapped", "--out", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert "--negatives makes negatives for a table of binders only, but column 'label' labels 24 rows 0" in (
        result.output)
    assert not (tmp_path / "run").exists()


def test_a_label_column_of_ones_reads_as_binders_only(tmp_path):
    data = tmp_path / "pos.csv"
    _binders().with_columns(pl.lit("true").alias("binder")).drop("label").write_csv(data)
    loaded = load_table(data, positives_only=True)
    assert loaded.frame["label"].to_list() == [1] * 48 and loaded.report.negatives == 0


# ------------------------------------------------------------------ pandas index column
def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize("start", [0, 1])
def test_a_pandas_index_column_is_ignored_with_a_note(tmp_path, start):
    rows = "".join(f"{i + start},GILGFVFTL,CASS{'AC'[i]}YEQYF,{i}\n" for i in range(2))
    path = _write(tmp_path / "t.csv", ",peptide,cdr3b,label\n" + rows)
    raw = read_raw(path)
    assert [c for c in raw.frame.columns if c != "__row"] == ["peptide", "cdr3b", "label"]
    loaded = load_table(path)
    assert loaded.frame.height == 2
    assert loaded.report.warnings[0] == (f"{path}: the unnamed first column holds row numbers {start}..{start + 1} "
                                         "(a pandas index); it was ignored")
    tsv = _write(tmp_path / "t.tsv", "\tpeptide\tcdr3b\tlabel\n" + rows.replace(",", "\t"))
    assert load_table(tsv).frame.height == 2


@pytest.mark.parametrize("first", ["5", "x", ""])
def test_an_unnamed_column_of_other_values_is_still_refused(tmp_path, first):
    path = _write(tmp_path / "t.csv", f",peptide,cdr3b,label\n{first},GILGFVFTL,CASSAYEQYF,1\n"
                                      "1,GILGFVFTL,CASSCYEQYF,0\n")
    with pytest.raises(UsageError, match=r"t.csv: header column 1 has no name$"):
        read_raw(path)


# ------------------------------------------------------------------ --columns
def test_columns_can_name_every_field_and_leave_out_every_optional_one():
    found = ["A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K"]
    fields = ["peptide", "cdr3b", "cdr3a", "cdr1a", "cdr2a", "cdr1b", "cdr2b", "mhc", "label", "partition", "split"]
    assert resolve_columns(found, dict(zip(fields, found)), "t") == dict(zip(fields, found))
    named = ["peptide", "cdr3b", "cdr3a", "cdr1b", "mhc", "binder", "partition", "split"]
    for field in ("cdr3a", "cdr1b", "mhc", "partition", "split"):
        assert field not in resolve_columns(named, {field: ""}, "t")
    assert "label" not in resolve_columns(named, {"label": ""}, "t", positives_only=True)
    with pytest.raises(UsageError, match="--columns label= leaves out a required field"):
        resolve_columns(named, {"label": ""}, "t")


def test_swapped_with_one_peptide_makes_nothing_and_says_so():
    with pytest.raises(UsageError, match="no negative could be made"):
        add_negatives(_binders(n_peptides=1), parse_negatives("swapped"))
