"""The SCEPTR encoder: its vectors are SCEPTR's own, deterministic, of the documented width; the variant follows the
documented germline rule; fine-tuning trains SCEPTR's weights; a tiny run records the variant in its rows."""

from __future__ import annotations

import copy
import importlib.util
import sys
import typing
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch
from typer.testing import CliRunner

from tcrbench.data import load_table
from tcrbench.data.tokenizer import Tokenizer
from tcrbench.errors import UsageError
from tcrbench.plugins.loader import load_plugins
from tcrbench.plugins.protocols import Fold, Kind

EXCERPT = Path(__file__).parent / "data" / "immrep22_excerpt.csv"  # 10 rows of IMMREP22, with TRAV/TRBV and CDR1/2
LOOPS = ["cdr1a", "cdr2a", "cdr1b", "cdr2b"]
needs_sceptr = pytest.mark.skipif(
    importlib.util.find_spec("sceptr") is None, reason="sceptr (the optional extra tcrbench[sceptr]) is not installed"
)


def factory(spec: str = "sceptr") -> typing.Any:
    return load_plugins(entry_points=False).registry.create(Kind.ENCODER, spec)


def table() -> pl.DataFrame:
    return load_table(EXCERPT).frame


def tokens(frame: pl.DataFrame) -> typing.Any:
    return Tokenizer(None).encode_pairs(frame["peptide"].to_list(), frame["cdr3b"].to_list(), frame["cdr3a"].to_list())


def test_a_missing_extra_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sceptr", None)
    f = factory("sceptr:variant=tiny")
    for call in (lambda: f.build(30), lambda: f.bind_table(table()), lambda: f.embed_tcrs(table())):
        with pytest.raises(UsageError) as exc:
            call()
        assert str(exc.value) == "encoder sceptr needs the optional extra: pip install 'tcrbench[sceptr]'"


def test_the_factory_is_a_published_model_with_sceptrs_variants() -> None:
    from tcrbench.models.sceptr_adapter import VARIANTS

    f = factory()
    assert type(f).published is True and f.variant == "auto"
    assert set(typing.get_args(typing.get_type_hints(type(f))["variant"])) == {"auto", *VARIANTS}
    assert "finetuned" not in VARIANTS  # supervised on the benchmarks' own peptides


@needs_sceptr
def test_vectors_are_sceptrs_own_deterministic_and_64_wide() -> None:
    import pandas as pd
    import sceptr

    frame = table().drop(LOOPS)  # loops from the V genes, as SCEPTR's own API finds them
    ours = factory("sceptr:variant=default").embed_tcrs(frame)
    model = sceptr.variant.default()
    model.disable_hardware_acceleration()
    theirs = model.calc_vector_representations(
        pd.DataFrame({"TRAV": frame["trav"], "CDR3A": frame["cdr3a"], "TRBV": frame["trbv"], "CDR3B": frame["cdr3b"]})
    )
    assert ours.dtype == np.float32 and ours.shape == (10, 64)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    np.testing.assert_array_equal(ours, factory("sceptr:variant=default").embed_tcrs(frame))  # deterministic
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)  # SCEPTR's vectors are L2-normalised


@needs_sceptr
def test_the_runners_path_gives_the_same_vectors_and_the_germline_changes_them() -> None:
    frame = table()
    full = factory("sceptr")
    full.bind_table(frame)
    assert full.resolved()["variant"] == "default" and full.resolved()["germline_rows"] == 10
    encoder = full.build(30).eval()
    with torch.no_grad():
        pooled = encoder.pooled(tokens(frame))
    assert pooled.shape == (10, 64 + 64)  # [peptide block | SCEPTR vector]
    np.testing.assert_allclose(pooled[:, 64:].numpy(), full.embed_tcrs(frame), atol=1e-6)
    cdr3 = factory("sceptr:variant=cdr3_only").embed_tcrs(frame)
    no_loops = factory("sceptr:variant=default,min_germline=0").embed_tcrs(frame.drop(LOOPS, "trav", "trbv"))
    vectors = full.embed_tcrs(frame)
    assert (np.linalg.norm(vectors - cdr3, axis=1) > 0.3).all()  # another model: every row moves
    assert (np.linalg.norm(vectors - no_loops, axis=1) > 0.3).all()  # CDR1/CDR2 move every vector


@needs_sceptr
@pytest.mark.parametrize(
    "spec, unresolved, variant",
    [
        ("sceptr", 1, "default"),  # 9 of 10 rows resolve: the full model, one row with its CDR3s only
        ("sceptr", 2, "cdr3_only"),  # 8 of 10 < min_germline 0.9: CDR3-only for the whole run
        ("sceptr:variant=tiny", 1, "tiny"),
        ("sceptr:variant=tiny", 2, None),  # a full variant named outright is refused, with the genes to fix
        ("sceptr:variant=tiny,min_germline=0.8", 2, "tiny"),
    ],
)
def test_the_germline_rule(spec: str, unresolved: int, variant: str | None, caplog: pytest.LogCaptureFixture) -> None:
    names = ["TRBV99", "TRBV-X"][:unresolved]
    frame = (
        table().drop("cdr1b", "cdr2b").with_columns(pl.Series("trbv", names + table()["trbv"].to_list()[unresolved:]))
    )
    f = factory(spec)
    if variant is None:
        with pytest.raises(UsageError) as exc:
            f.bind_table(frame)
        assert str(exc.value) == (
            "encoder sceptr:variant=tiny reads CDR1/CDR2 of both chains, but only 8 of 10 rows have them (from "
            "cdr1a/cdr2a/cdr1b/cdr2b or V genes trav/trbv; min_germline=0.9); V genes not resolved: TRBV-X (1 row), "
            "TRBV99 (1 row); use variant=auto or cdr3_only"
        )
        return
    f.bind_table(frame)
    resolved = f.resolved()
    assert resolved["variant"] == variant
    if variant != "cdr3_only":
        assert resolved["germline_rows"] == 10 - unresolved and resolved["rows"] == 10
        assert set(resolved["unresolved_v_genes"]) == set(names)
    assert "TRBV99 (1 row)" in caplog.text  # the unresolved genes are named in the run's log either way
    assert f.build(30).tcr.width == {"default": 64, "cdr3_only": 64, "tiny": 16}[variant]


@needs_sceptr
def test_a_row_that_lost_its_v_gene_takes_its_tcrs_loops_from_another_row() -> None:
    frame = table()
    negative = frame.head(1).with_columns(
        pl.lit("GILGFVFTL").alias("peptide"),
        pl.lit(0, dtype=pl.Int8).alias("label"),
        *[pl.lit(None, dtype=pl.String).alias(c) for c in [*LOOPS, "trav", "trbv"]],
    )
    both = pl.concat([negative, negative, frame])  # the loop-less rows are even the commoner combination
    f = factory("sceptr")
    f.bind_table(both)
    assert f.resolved()["germline_rows"] == f.resolved()["rows"] == 12 and f.resolved()["ambiguous_tcrs"] == 1
    vectors = f.embed_tcrs(both)
    np.testing.assert_array_equal(vectors[0], vectors[2])
    with torch.no_grad():
        pooled = f.build(30).eval().pooled(tokens(both))
    np.testing.assert_allclose(pooled[:, 64:].numpy(), vectors, atol=1e-6)


@needs_sceptr
def test_a_table_without_germline_runs_cdr3_only_unless_a_full_variant_is_named() -> None:
    frame = table().drop(*LOOPS, "trav", "trbv")
    auto = factory()
    auto.bind_table(frame)
    assert auto.resolved() == {"variant": "cdr3_only", "model": "SCEPTR_CDR3_only", "junctions": "as written"}
    with pytest.raises(UsageError, match="only 0 of 10 rows have them"):
        factory("sceptr:variant=large").bind_table(frame)


@needs_sceptr
def test_cdr3s_without_anchors_get_them_back() -> None:
    frame = table()
    stripped = frame.with_columns(pl.col(c).str.slice(1, pl.col(c).str.len_chars() - 2) for c in ("cdr3b", "cdr3a"))
    f = factory("sceptr:variant=cdr3_only")
    f.bind_table(stripped)
    assert f.resolved()["junctions"] == "restored C...F"
    restored, original = f.embed_tcrs(stripped), factory("sceptr:variant=cdr3_only").embed_tcrs(frame)
    ends_in_f = (frame["cdr3a"].str.ends_with("F") & frame["cdr3b"].str.ends_with("F")).to_numpy()
    np.testing.assert_allclose(restored[ends_in_f], original[ends_in_f], atol=1e-6)
    assert not ends_in_f.all() and not np.allclose(restored[~ends_in_f], original[~ends_in_f])  # ...LIW: F is a guess


@needs_sceptr
def test_masked_residues_and_rows_without_a_tcr_do_not_crash() -> None:
    from tcrbench.data.decode import DecodedPairs
    from tcrbench.models.sceptr_adapter import tokenise

    assert tokenise("cdr3", "CASXF", None, None)[4, 0].item() == 1  # X (a masked residue) is SCEPTR's <mask>
    f = factory("sceptr:variant=tiny,min_germline=0")
    f.bind_table(table())
    adapter = f.build(30).tcr.eval()
    out = adapter(DecodedPairs([None, None], ["CASSXRSSYEQYF", None], [None, None]))
    assert out.shape == (2, 16) and torch.equal(out[1], torch.zeros(16)) and out[0].norm() > 0.99
    assert copy.deepcopy(adapter).cache is adapter.cache  # the fine-tuned copy shares the tokens


@needs_sceptr
def test_fine_tuning_trains_sceptrs_weights() -> None:
    from tcrbench.run.config import Budget
    from tcrbench.training.finetune import finetune

    frame = table()
    f = factory("sceptr:variant=tiny")
    f.bind_table(frame)
    torch.manual_seed(0)
    encoder = f.build(30)
    before = {k: v.clone() for k, v in encoder.tcr.bert.state_dict().items()}
    budget = Budget(finetune_steps=2, batch_size=5, lr=1e-3, patience=0, val_fraction=0.0)
    model, _ = finetune(
        encoder, tokens(frame), torch.tensor(frame["label"].to_numpy()).float(), budget, 0, torch.device("cpu")
    )
    after = model.encoder.tcr.bert.state_dict()
    changed = [k for k in before if "projector" not in k and not torch.equal(before[k], after[k])]
    assert any("_self_attention_stack" in k for k in changed), changed  # the transformer's own layers moved


@needs_sceptr
def test_a_positional_objective_is_refused_with_the_reason() -> None:
    from tcrbench.run.cell import Cell, initial_encoder
    from tcrbench.run.grid import Configuration
    from tcrbench.training.failures import CellFailed

    registry = load_plugins(entry_points=False).registry
    conf = Configuration(
        "mlm",
        "pretrained",
        ("probe",),
        augmentation="identity",
        objective="mlm",
        encoder="sceptr",
        enc_obj=registry.create(Kind.ENCODER, "sceptr"),
        obj_obj=registry.create(Kind.OBJECTIVE, "mlm"),
    )
    cell = Cell(conf, "x", 0, Fold("f0", np.arange(5), np.arange(5, 10)), 0)
    with pytest.raises(CellFailed, match="published pretrained model.*objective 'mlm'.*--objective none"):
        initial_encoder(cell, 30, table())


@needs_sceptr
@pytest.mark.slow
def test_a_tiny_run_probes_and_fine_tunes_and_records_the_variant(tmp_path: Path) -> None:
    from tcrbench.cli.main import app
    from tcrbench.results.store import RunStore
    from tcrbench.testing import tiny_dataset

    genes = ["TRBV19*01", "TRBV7-9*01", "TRBV5-1*01", "TRBV6-5*01", "TRBV20-1*01", "TRBV28*01", "TRBV12-3"]
    frame = tiny_dataset(3, 10)
    tcrs = sorted(set(frame["cdr3b"]))
    v = {t: "TRBV99" if i == 0 else genes[i % len(genes)] for i, t in enumerate(tcrs)}  # one TCR's gene is unknown
    frame.with_columns(pl.col("cdr3b").replace_strict(v).alias("TRBV")).write_csv(tmp_path / "t.csv")
    args = [
        "run",
        "--data",
        str(tmp_path / "t.csv"),
        "--encoder",
        "sceptr:variant=tiny",
        "--objective",
        "none",
        "--protocol",
        "probe",
        "--protocol",
        "finetune",
        "--folds",
        "2",
        "--seeds",
        "1",
        "--baseline",
        "majority",
        "--steps",
        "3",
        "--batch-size",
        "16",
        "--threads",
        "1",
        "--out",
        str(tmp_path / "run"),
        "--quiet",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = [r for r in RunStore(tmp_path / "run").rows() if r["encoder"] == "sceptr:variant=tiny"]
    assert sorted(r["protocol"] for r in rows) == ["finetune", "finetune", "probe", "probe"]
    n_bad = int((frame["cdr3b"] == tcrs[0]).sum())
    for row in rows:
        assert row["status"] == "ok" and 0.0 <= row["metrics"]["auroc"] <= 1.0
        resolved = row["params"]["encoder"]["resolved"]
        assert resolved["variant"] == "tiny" and resolved["model"] == "SCEPTR_tiny"
        assert resolved["unresolved_v_genes"] == {"TRBV99": n_bad}
        assert resolved["germline_rows"] == frame.height - n_bad and resolved["ambiguous_tcrs"] == 0
