"""`tcrbench stats plan` and `stats compare` on CSV files and on a fabricated run folder (rows only, no training)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tcrbench.cli.main import app as main_app
from tcrbench.cli.stats import app
from tcrbench.errors import UsageError
from tcrbench.results.schema import ResultRow
from tcrbench.results.store import RunStore
from tcrbench.stats import compare, plan_design


def _csv(tmp_path: Path, seeds: int = 3, folds: int = 5, split: bool = True) -> Path:
    rng = np.random.default_rng(2)
    lines = ["method,fold,seed" + (",split_seed" if split else "") + ",score"]
    for s in range(seeds):
        for f in range(folds):
            base = 0.75 + rng.normal(0, 0.02)
            for method, score in (("base", base), ("new", base + 0.01 + rng.normal(0, 0.015))):
                lines.append(f"{method},{f},{s}" + (f",{s}" if split else "") + f",{score:.4f}")
    path = tmp_path / "scores.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _run_folder(tmp_path: Path, redraw: bool = True, seeds: int = 2, folds: int = 3,
                fractions: tuple[float, ...] = (1.0,)) -> Path:
    """Rows as `tcrbench run` writes them: supervised and pretrained arms under one protocol."""
    store = RunStore(tmp_path / "run")
    store.open('primary_metric = "auroc"\n', "c0ffee", {}, overwrite=False)
    rng = np.random.default_rng(9)
    for s, f, fraction in ((s, f, x) for s in range(seeds) for f in range(folds) for x in fractions):
        base = 0.70 + rng.normal(0, 0.02) - (1 - fraction) / 4
        for label, arm, score in (("supervised · tiny", "supervised", base),
                                  ("mlm · tiny", "pretrained", base + 0.02 + rng.normal(0, 0.01))):
            store.write_row(ResultRow(
                row_key=f"{arm}-s{s}-f{f}-{fraction}", config_hash="c0ffee", config_id=arm, label=label, arm=arm,
                protocol="finetune", augmentation=None, objective=None, encoder="tiny", baseline=None, params={},
                uses_labels=False, shortcut=False, pretrain_on="train", fold=f, fold_name=f"fold{f}", seed=s,
                seeds_redraw_folds=redraw, n_train=200, n_test=100, status="ok",
                metrics={"auroc": score, "auprc": score - 0.3}, label_fraction=fraction))
    return store.path


def test_plan_on_a_csv_prints_power_and_designs_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    result = CliRunner().invoke(app, ["plan", str(_csv(tmp_path)), "--effect", "0.02", "-b", "base",
                                      "--out", str(out)], env={"COLUMNS": "160"})  # no folded headers
    assert result.exit_code == 0, result.output
    assert "power now" in result.output and "5 folds × seeds" in result.output and "new" in result.output
    data = json.loads(out.read_text())
    plan = data["plans"][0]
    assert plan["method"] == "new" and plan["n_pairs"] == 15 and data["pairing"].startswith("seeds redraw")
    p = plan["plan"]
    expected = plan_design(0.02, p["sd"], folds=5, seeds=3, test_train_ratio=0.25, current_sd=p["current_sd"])
    assert p["power"] == pytest.approx(expected.power) and p["detectable"] == pytest.approx(expected.detectable)
    five = next(x for x in p["plans"] if x["folds"] == 5)
    assert five["reachable"] == (five["seeds_needed"] is not None)
    if five["reachable"]:
        assert f"5×{five['seeds_needed']}" in result.output
    else:
        assert "not reachable with 5 folds" in result.output


def test_plan_says_when_seeds_cannot_reach_the_power(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["plan", str(_csv(tmp_path)), "--effect", "0.001", "-b", "base",
                                      "--folds", "3"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "not reachable with 3 folds" in result.output and "not reachable with 5 folds" in result.output


def test_plan_and_compare_on_a_run_folder_pair_by_the_rows(tmp_path: Path) -> None:
    run = _run_folder(tmp_path, redraw=True)
    out = tmp_path / "plan.json"
    result = CliRunner().invoke(app, ["plan", str(run), "--effect", "0.02", "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["baseline"] == "supervised · tiny [finetune]" and data["plans"][0]["n_pairs"] == 6
    assert data["plans"][0]["plan"]["test_train_ratio"] == pytest.approx(0.5)
    assert "metric auroc" in result.output
    cmp_out = tmp_path / "cmp.json"
    result = CliRunner().invoke(app, ["compare", str(run), "--metric", "auprc", "--out", str(cmp_out)])
    assert result.exit_code == 0, result.output
    row = json.loads(cmp_out.read_text())["rows"][1]
    assert row["method"] == "mlm · tiny [finetune]" and row["n_pairs"] == 6 and row["detectable"] > 0
    fixed = _run_folder(tmp_path / "fixed", redraw=False)
    result = CliRunner().invoke(app, ["compare", str(fixed), "--out", str(cmp_out)])
    assert result.exit_code == 0, result.output
    assert json.loads(cmp_out.read_text())["rows"][1]["n_pairs"] == 3  # fold means over the 2 seeds


def test_a_run_folder_with_label_fractions_is_compared_one_fraction_at_a_time(tmp_path: Path) -> None:
    run = _run_folder(tmp_path, fractions=(0.1, 1.0))
    out = tmp_path / "cmp.json"
    for args, fraction in (([], 1.0), (["--label-fraction", "0.1"], 0.1)):
        result = CliRunner().invoke(app, ["compare", str(run), *args, "--out", str(out)])
        assert result.exit_code == 0, result.output
        rows = json.loads(out.read_text())["rows"]
        suffix = "" if fraction == 1.0 else " @0.1"
        assert [r["method"] for r in rows] == [f"supervised · tiny [finetune]{suffix}", f"mlm · tiny [finetune]{suffix}"]
        assert rows[0]["mean"] < 0.7 if fraction < 1 else rows[0]["mean"] > 0.65
    bad = CliRunner().invoke(main_app, ["stats", "compare", str(run), "--label-fraction", "0.5"])
    assert bad.exit_code == 2 and "has rows at 0.1, 1" in bad.output


def test_compare_shows_5x2cv_when_the_data_say_5_by_2(tmp_path: Path) -> None:
    scores = _csv(tmp_path, seeds=5, folds=2)
    out = tmp_path / "r.json"
    result = CliRunner().invoke(app, ["compare", str(scores), "-b", "base", "--out", str(out)])
    assert result.exit_code == 0, result.output
    row = json.loads(out.read_text())["rows"][1]
    assert row["n_pairs"] == 10 and row["five_by_two"] is not None
    expected = compare({k: v for k, v in _columns(scores).items()}, "base").row("new").five_by_two
    assert row["five_by_two"]["t_p"] == pytest.approx(expected.t_p)
    assert f"{expected.t_p:.3f} / {expected.f_p:.3f}" in result.output and "sign-flip p" in result.output


def _columns(path: Path) -> dict[str, list[str]]:
    from tcrbench.cli.stats_input import read_scores_table

    return read_scores_table(path)[0]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--effect", "0.02"], "--baseline is required for a CSV"),
        (["--effect", "0", "-b", "base"], "--effect 0.0"),
        (["--effect", "0.02", "-b", "base", "--power", "1.5"], "--power 1.5"),
        (["--effect", "0.02", "-b", "base", "--folds", "1,5"], "--folds 1,5"),
        (["--effect", "0.02", "-b", "base", "--metric", "auroc"], "--metric auroc: only for a run folder"),
        (["--effect", "0.02", "-b", "bse"], "unknown baseline 'bse'; did you mean 'base'?"),
    ],
)
def test_plan_bad_input_is_a_one_line_usage_error(tmp_path: Path, args: list[str], expected: str) -> None:
    result = CliRunner().invoke(app, ["plan", str(_csv(tmp_path)), *args])
    assert isinstance(result.exception, UsageError), result.output
    assert expected in str(result.exception) and "\n" not in str(result.exception)


def test_several_seeds_without_pairing_exit_2_through_the_main_command(tmp_path: Path) -> None:
    scores = _csv(tmp_path, split=False)
    result = CliRunner().invoke(main_app, ["stats", "plan", str(scores), "--effect", "0.02", "-b", "base"])
    assert result.exit_code == 2
    assert "nothing says whether each seed drew new folds" in result.output
    ok = CliRunner().invoke(main_app, ["stats", "plan", str(scores), "--effect", "0.02", "-b", "base",
                                       "--seeds-redraw-folds"])
    assert ok.exit_code == 0, ok.output
