"""A suite's [published] table: parsed strictly, kept out of the config hash, shown beside this run's rows."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tcrbench.errors import UsageError
from tcrbench.report.board import load_board
from tcrbench.report.writers import write_reports
from tcrbench.run.config import RunConfig, load_config_file
from tcrbench.run.runner import Runner
from tcrbench.testing import temporary_plugins, tiny_config

TABLE = """
[published]
metric = "auroc"
source = "a paper"
note = "trained on more data"

[published.results]
"Method A" = 0.91
"Method <B>" = 0.05
"""


def test_published_results_parse_and_stay_out_of_the_hash(tmp_path: Path) -> None:
    path = tmp_path / "suite.toml"
    path.write_text('folds = 2\n' + TABLE)
    cfg = load_config_file(path)
    assert cfg.published is not None
    assert cfg.published.results == {"Method A": 0.91, "Method <B>": 0.05}
    assert cfg.published.metric == "auroc" and cfg.published.note == "trained on more data"
    plain = RunConfig(folds=2)
    assert cfg.config_hash("data") == plain.config_hash("data")


@pytest.mark.parametrize("table,message", [
    ('[published]\nmetric = "auroc"\n', "results must be a table"),
    ('[published]\nresults = {A = 0.5}\n', "metric must name the metric"),
    ('[published]\nmetric = "auroc"\nresults = {A = "high"}\n', "'A' must be a number"),
    ('[published]\nmetric = "auroc"\nresults = {A = 0.5}\nsorce = "x"\n', "unknown setting 'sorce'"),
])
def test_malformed_published_tables_are_one_line_errors(tmp_path: Path, table: str, message: str) -> None:
    path = tmp_path / "suite.toml"
    path.write_text(table)
    with pytest.raises(UsageError, match=message) as err:
        load_config_file(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


@pytest.fixture(scope="module")
def reported(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("published") / "run"
    cfg = tiny_config(baselines=["majority"], protocols=["finetune"])
    with temporary_plugins() as plugins:
        runner = Runner(cfg, plugins, out=out, quiet=True)
        runner.cfg.published = load_published()
        runner.run()
    write_reports(load_board(out), out)
    return out


def load_published():
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # Python 3.10: the package's fallback
        import tomli as tomllib

    from tcrbench.run.config import parse_published

    return parse_published(tomllib.loads(TABLE)["published"], "test")


def test_reports_rank_published_scores_with_this_runs_rows(reported: Path) -> None:
    data = json.loads((reported / "leaderboard.json").read_text())["published"]
    ranked = data["ranked"]
    scores = [x["score"] for x in ranked]
    assert scores == sorted(scores, reverse=True)
    assert {x["method"] for x in ranked if x["source"] == "published"} == {"Method A", "Method <B>"}
    ours = [x for x in ranked if x["source"] == "this run"]
    board = json.loads((reported / "leaderboard.json").read_text())["rows"]
    assert len(ours) == len([r for r in board if r["mean"] == r["mean"]]) > 0
    md = (reported / "leaderboard.md").read_text()
    assert "## Published results" in md and "trained on more data" in md and r"Method \<B\>" in md
    html = (reported / "leaderboard.html").read_text()
    assert "Published results" in html and "Method &lt;B&gt;" in html and "Method <B>" not in html


def test_a_board_ranked_by_another_metric_lists_published_scores_alone(reported: Path) -> None:
    board = load_board(reported, "auprc")
    from tcrbench.report.published import caption, published_lines

    assert {x.source for x in published_lines(board)} == {"published"}
    assert "--metric auroc" in caption(board)
