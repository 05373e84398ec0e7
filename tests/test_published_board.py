"""Published encoders and nearest-neighbour anchors on one board with the recipe: same folds, their own sections."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

needs_sceptr = pytest.mark.skipif(
    importlib.util.find_spec("sceptr") is None, reason="the sceptr extra is not installed (pip install 'tcrbench[sceptr]')"
)


@needs_sceptr
@pytest.mark.slow
def test_a_run_puts_sceptr_and_the_knn_anchors_beside_the_recipe(tmp_path: Path) -> None:
    from tcrbench.cli.main import app
    from tcrbench.report.board import load_board
    from tcrbench.report.model import GROUPS
    from tcrbench.results.store import RunStore
    from tcrbench.testing import tiny_dataset

    tiny_dataset(4, 12).write_csv(tmp_path / "t.csv")
    (tmp_path / "grid.toml").write_text(
        f'data = "{tmp_path / "t.csv"}"\n'
        'pairs = ["mask1/ntxent"]\n'
        'published_encoders = ["sceptr:variant=cdr3_only"]\n'
        'baselines = ["majority", "tcrdist_knn", "embedding_knn:encoder=sceptr:variant=cdr3_only"]\n'
        'folds = 2\nthreads = 1\nprotocols = ["probe", "finetune"]\n'
        "[budget]\npretrain_steps = 2\nfinetune_steps = 3\nbatch_size = 16\n"
    )
    result = CliRunner().invoke(app, ["run", "--config", str(tmp_path / "grid.toml"), "--out", str(tmp_path / "run"),
                                      "--quiet"])
    assert result.exit_code == 0, result.output
    rows = RunStore(tmp_path / "run").rows()
    published = {(r["label"], r["protocol"]) for r in rows if r["published"]}
    assert published == {("sceptr:variant=cdr3_only (published)", "probe"), ("sceptr:variant=cdr3_only (published)", "finetune"),
                         ("embedding_knn:encoder=sceptr:variant=cdr3_only", "baseline")}
    assert all(r["status"] == "ok" for r in rows), [r["reason"] for r in rows if r["status"] != "ok"]
    # the published arm saw exactly the recipe's folds
    folds = {r["label"]: sorted((r["fold"], r["n_test"]) for r in rows if r["protocol"] in ("finetune", "baseline"))
             for r in rows}
    assert folds["sceptr:variant=cdr3_only (published)"] == folds["majority"]
    board = load_board(tmp_path / "run")
    sections = {r.label: r.group for r in board.rows}
    assert sections["sceptr:variant=cdr3_only (published)"] == GROUPS[0]
    assert sections["embedding_knn:encoder=sceptr:variant=cdr3_only"] == GROUPS[0]
    assert sections["tcrdist_knn"] == sections["majority"] == GROUPS[3]
    assert any(g == GROUPS[1] for g in sections.values()) and any(g == GROUPS[2] for g in sections.values())
    result = CliRunner().invoke(app, ["report", str(tmp_path / "run"), "--quiet"])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "run" / "leaderboard.md").read_text()
    positions = [text.index(f"**{g}**") for g in GROUPS]
    assert positions == sorted(positions)  # the sections in their fixed order
    doc = json.loads((tmp_path / "run" / "leaderboard.json").read_text())
    assert {r["group"] for r in doc["rows"]} == set(GROUPS)
