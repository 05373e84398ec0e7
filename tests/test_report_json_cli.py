"""`tcrbench report RUN --json`: one JSON object on stdout, the files written and every configuration's headline
(mean, the difference from the supervised arm with its corrected CI, p, Holm p, significant), nothing else."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from typer.testing import CliRunner

from tcrbench.cli.main import app
from tcrbench.report.board import load_board
from tcrbench.results.schema import ResultRow
from tcrbench.results.store import RunStore
from tcrbench.testing import plugin_module, temporary_plugins

FILES = ("leaderboard.html", "leaderboard.json", "leaderboard.md")
ARMS = (("supervised · tiny", "supervised", 0.0), ("mlm · tiny", "pretrained", 0.06), ("ntxent · tiny", "pretrained", 0.0))


def write_run(path: Path, seeds: int = 2, folds: int = 3) -> Path:
    """Rows as `tcrbench run` writes them: a supervised arm, a pretrained arm clearly better, one no better."""
    store = RunStore(path)
    store.open('primary_metric = "auroc"\n', "c0ffee", {}, overwrite=False)
    rng = np.random.default_rng(5)
    for s in range(seeds):
        for f in range(folds):
            base = 0.70 + rng.normal(0, 0.02)
            for label, arm, gain in ARMS:
                score = base + gain + rng.normal(0, 0.005)
                store.write_row(ResultRow(
                    row_key=f"{label[:3]}-s{s}-f{f}", config_hash="c0ffee", config_id=label[:3], label=label, arm=arm,
                    protocol="finetune", augmentation=None, objective=None, encoder="tiny", baseline=None, params={},
                    uses_labels=False, shortcut=False, pretrain_on="train", fold=f, fold_name=f"fold{f}", seed=s,
                    seeds_redraw_folds=True, n_train=200, n_test=100, status="ok", metrics={"auroc": score}))
    return store.path


@pytest.fixture
def run(tmp_path: Path) -> Path:
    return write_run(tmp_path / "run")


def test_json_is_the_only_thing_on_stdout_and_matches_the_board(run: Path) -> None:
    result = CliRunner().invoke(app, ["report", str(run), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)  # the whole of stdout is one JSON object: no table, no "wrote" lines
    assert result.stdout.startswith("{") and result.stdout.rstrip().endswith("}")
    assert doc["schema"] == "tcrbench-report" and doc["metric"] == "auroc" and doc["run_dir"] == str(run)
    assert sorted(Path(p).name for p in doc["files"]) == sorted(FILES)
    assert all(Path(p).is_file() for p in doc["files"])
    board = load_board(run)
    assert [r["key"] for r in doc["rows"]] == [r.key for r in board.rows]
    by_key = {r["key"]: r for r in doc["rows"]}
    for row in board.rows:
        got = by_key[row.key]
        for field in ("mean", "sd", "diff", "ci_low", "ci_high", "p", "p_holm", "significant", "is_reference"):
            assert got[field] == pytest.approx(getattr(row, field)) if isinstance(got[field], float) else (
                got[field] == getattr(row, field)), (row.key, field)
    better, same = by_key["mlm · tiny [finetune]"], by_key["ntxent · tiny [finetune]"]
    reference = by_key["supervised · tiny [finetune]"]
    assert better["significant"] is True and better["ci_low"] > 0 and better["reference"] == reference["key"]
    assert same["significant"] is False and same["ci_low"] < 0 < same["ci_high"]
    assert reference["is_reference"] is True and reference["diff"] is None and reference["p"] is None


def test_json_with_out_lists_the_files_where_they_went(run: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["report", str(run), "--json", "--out", str(tmp_path / "board")])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert sorted(doc["files"]) == sorted(str(tmp_path / "board" / name) for name in FILES)


@dataclass
class _Broken:
    name: ClassVar[str] = "broken"
    description: ClassVar[str] = "test reporter that fails"

    def write(self, board: object, out_dir: Path) -> list[Path]:
        raise RuntimeError("disk on fire")


def test_a_failing_reporter_is_in_the_json_and_the_exit_code(run: Path) -> None:
    with temporary_plugins(plugin_module("broken_reporter", reporters=[_Broken])):
        result = CliRunner().invoke(app, ["report", str(run), "--json"])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert [e["reporter"].split()[0] for e in doc["reporter_errors"]] == ["broken"]
    assert "disk on fire" in doc["reporter_errors"][0]["message"] and len(doc["files"]) == 3
    assert "warning: reporter broken" in result.stderr


def test_json_is_strict_even_with_failed_rows(tmp_path: Path) -> None:
    """NaN and infinite statistics become null and "inf": any JSON parser reads the output."""
    run = write_run(tmp_path / "run", seeds=1, folds=2)
    row = json.loads(next((run / "rows").glob("mlm*.json")).read_text())
    row.update(status="failed", metrics={}, reason="RuntimeError: boom")
    next((run / "rows").glob("mlm*.json")).write_text(json.dumps(row))
    result = CliRunner().invoke(app, ["report", str(run), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    assert doc["n_failed"] == 1 and any(r["n_failed"] == 1 for r in doc["rows"])
