"""docs/case-study.md is rendered from docs/results by benchmarks/suites/case_study.py: the committed page equals its
render, numbers on the page follow the JSON, conclusions follow the intervals, and a missing suite reads "not run"."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SUITES = REPO / "benchmarks" / "suites"
ENCODER = "chain_cnn:encoding=blosum62"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, SUITES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@pytest.fixture(scope="module")
def case_study() -> ModuleType:
    return _load("case_study")


def test_the_committed_page_is_the_render_of_the_committed_results(case_study: ModuleType) -> None:
    """Regenerate both together: python benchmarks/suites/regenerate.py (or case_study.py after the suites)."""
    page = (REPO / "docs" / "case-study.md").read_text()
    assert page == case_study.render(REPO / "docs" / "results"), \
        "docs/case-study.md is stale: run python benchmarks/suites/case_study.py"


# ---- a small constructed results folder
def _row(label: str, protocol: str, mean: float, *, arm: str = "pretrained", diff: float | None = None,
         ci: tuple[float, float] | None = None, baseline: str | None = None, shortcut: bool = False,
         aug: str | None = None, objective: str | None = None) -> dict[str, Any]:
    reference = None if arm == "supervised" else f"supervised · {ENCODER} [finetune]"
    if arm == "pretrained":
        reference = f"supervised · {ENCODER} [{protocol}]"
    return {"key": f"{label} [{protocol}]", "label": label, "protocol": protocol, "arm": arm, "augmentation": aug,
            "objective": objective, "encoder": None if arm == "baseline" else ENCODER, "baseline": baseline,
            "uses_labels": arm == "baseline", "shortcut": shortcut, "is_reference": arm == "supervised",
            "reference": reference, "rank": None, "status": "ok", "mean": mean, "sd": 0.01, "diff": diff,
            "ci_low": ci[0] if ci else None, "ci_high": ci[1] if ci else None, "t": 1.0 if ci else None,
            "df": 4 if ci else None, "p": 0.4 if ci else None, "p_holm": 0.8 if ci else None, "d_z": None,
            "wins": 3 if ci else None, "ties": 0 if ci else None, "losses": 2 if ci else None, "n_folds": 5,
            "n_seeds": 1, "n_pairs": 5 if ci else None, "flags": [], "note": ""}


def _write_suite(results: Path, suite: str, pretrained_mean: float = 0.6123,
                 ci: tuple[float, float] = (-0.02, 0.03)) -> None:
    supervised = 0.6050
    rows = [
        _row("tcr_only", "baseline", 0.6400, arm="baseline", baseline="tcr_only", shortcut=True,
             diff=0.035, ci=(0.01, 0.06)),
        _row("logreg_kmer", "baseline", 0.6300, arm="baseline", baseline="logreg_kmer", diff=0.025, ci=(0.0, 0.05)),
        _row(f"mask1 × ntxent · {ENCODER}", "finetune", pretrained_mean, aug="mask1", objective="ntxent",
             diff=pretrained_mean - supervised, ci=ci),
        _row(f"supervised · {ENCODER}", "finetune", supervised, arm="supervised"),
    ]
    rows.sort(key=lambda r: -r["mean"])
    for rank, r in enumerate(rows, 1):
        r["rank"] = rank
    board = {"schema": "tcrbench-leaderboard", "kind": "run", "title": suite, "metric": "auroc",
             "higher_is_better": True, "banners": [], "failures": [],
             "run": {"folds": [0, 1, 2, 3, 4], "seeds": [0], "framing": "pan"},
             "test": {"test_train_ratio": 0.25, "seeds_redraw_folds": False, "shortcut_margin": 0.02},
             "references": {}, "rows": rows, "per_peptide": None, "dynamics": None, "published": None}
    out = results / suite
    out.mkdir(parents=True, exist_ok=True)
    (out / "leaderboard.json").write_text(json.dumps(board))
    (out / "README.md").write_text(f"# Suite `{suite}`\n\n- wall time: 7.5 min on 2 CPU cores\n")


def test_a_number_changed_in_the_json_changes_on_the_page(case_study: ModuleType, tmp_path: Path) -> None:
    _write_suite(tmp_path, "course-3fold")
    before = case_study.render(tmp_path)
    assert "0.612" in before and "7.5 min" in before
    _write_suite(tmp_path, "course-3fold", pretrained_mean=0.6789)
    after = case_study.render(tmp_path)
    assert "0.679" in after and "0.612" not in after


def test_an_interval_holding_zero_reads_no_detectable_difference(case_study: ModuleType, tmp_path: Path) -> None:
    _write_suite(tmp_path, "course-3fold", ci=(-0.02, 0.03))
    answers = case_study.render(tmp_path).split("## What was run")[0]
    assert "pretraining makes no detectable difference" in answers
    assert "95% CI -0.020 to +0.030" in answers


def test_an_interval_excluding_zero_reads_as_a_change(case_study: ModuleType, tmp_path: Path) -> None:
    _write_suite(tmp_path, "course-3fold", pretrained_mean=0.6350, ci=(0.012, 0.048))
    answers = case_study.render(tmp_path).split("## What was run")[0]
    assert "no detectable difference" not in answers
    assert "pretraining changes AUROC by +0.030" in answers and "does not survive Holm's correction" in answers


def test_missing_suites_are_reported_as_not_run(case_study: ModuleType, tmp_path: Path) -> None:
    empty = case_study.render(tmp_path)
    for suite in ("course-3fold", "course", "immrep22", "nettcr", "nettcr-random"):
        assert f"`{suite}` was not run" in empty
    _write_suite(tmp_path, "course")
    page = case_study.render(tmp_path)
    assert "`course` was not run" not in page and "`immrep22` was not run" in page


def test_immrep_reports_the_trained_epitopes_and_the_unseen_one_apart(case_study: ModuleType,
                                                                      tmp_path: Path) -> None:
    _write_suite(tmp_path, "immrep22")
    board = json.loads((tmp_path / "immrep22" / "leaderboard.json").read_text())
    board["metric"], board["run"]["framing"] = "macro_auroc", "per_peptide"
    keys = [r["key"] for r in board["rows"]]
    supervised = f"supervised · {ENCODER} [finetune]"
    board["per_peptide"] = {
        "peptides": [{"peptide": p, "n_positives": 10, "n_negatives": 50} for p in ("GILGFVFTL", "AAA", "BBB")],
        "configurations": [{"key": k, "auroc": [0.45, 0.80, 0.78] if k == supervised else [0.5, 0.6, 0.7],
                            "n_cells": [1, 1, 1]} for k in keys]}
    (tmp_path / "immrep22" / "leaderboard.json").write_text(json.dumps(board))
    page = case_study.render(tmp_path)
    assert "macro AUROC, 2 with training rows" in page and "GILGFVFTL AUROC" in page
    assert "| supervised | finetune | 0.605 | 0.790 | 0.450 | reference |" in page
    assert "untrained head" in page  # what a per-peptide model does with an epitope it never trained on
    target = next(line for line in page.splitlines() if line.startswith("| `immrep22` |"))
    assert "0.790" in target and "met (+0.010 from the bar)" in target


def test_regenerate_rewrites_the_page_only_for_the_repositorys_results(monkeypatch, tmp_path: Path) -> None:
    regenerate = _load("regenerate")
    calls: list[Path] = []
    monkeypatch.setattr(regenerate, "run_suite", lambda *args: 0.0)
    monkeypatch.setattr(regenerate, "write_index", lambda results: None)
    monkeypatch.setattr(regenerate, "write_case_study", calls.append)
    assert regenerate.main(["course", "--results", str(tmp_path)]) == 0
    assert calls == []
    assert regenerate.main(["course"]) == 0
    assert calls == [(REPO / "docs" / "results").resolve()]
