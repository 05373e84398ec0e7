"""What a board says about where it came from: portable paths, config.toml read once, the statistics in one place,
and a report layer that reads and renders a run folder without torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tcrbench.report.board import load_board, row_key
from tcrbench.report.html import render_html
from tcrbench.report.json_report import render_json
from tcrbench.report.markdown import render_markdown
from tcrbench.report.paths import display_path, display_source
from tcrbench.stats import MethodComparison

PUBLISHED = """primary_metric = "macro_auroc"

[published]
metric = "macro_auroc"
source = "a paper"

[published.results]
"Method A" = 0.61
"""


# ------------------------------------------------------------------------------------------------ paths
def test_a_path_inside_the_base_is_shown_relative_to_it_any_other_by_its_name(tmp_path):
    base = tmp_path / "repo"
    assert display_path(base / "runs" / "suites" / "nettcr", base) == "runs/suites/nettcr"
    assert display_path("runs/x", base) == "runs/x"  # relative paths are taken from the base
    assert display_path(base, base) == "."
    assert display_path(tmp_path / "elsewhere" / "run", base) == "run"
    assert display_path("../sibling/run", base) == "run"


def test_a_data_source_is_shortened_only_when_it_is_an_absolute_path(tmp_path):
    base = tmp_path / "repo"
    assert display_source(str(tmp_path / "shared" / "data" / "pairs.csv"), base) == "pairs.csv"
    assert display_source(str(base / "data" / "pairs.csv"), base) == "data/pairs.csv"
    assert display_source("dataset synthetic", base) == "dataset synthetic"
    assert display_source("data/pairs.csv", base) == "data/pairs.csv"


def _set_source(run: Path, source: str) -> None:
    env_file = run / "environment.json"
    env = json.loads(env_file.read_text())
    env["data"]["source"] = source
    env_file.write_text(json.dumps(env))


def test_boards_name_run_folders_and_data_files_without_the_machines_layout(tmp_path, make_run, specs, monkeypatch):
    repo = tmp_path / "repo"
    repo.mkdir()
    data = tmp_path / "shared" / "data" / "pairs.csv"
    inside = make_run(repo / "runs" / "suites" / "course", specs()[:3])
    outside = make_run(tmp_path / "scratch" / "run-7", specs()[:3])
    for run in (inside, outside):
        _set_source(run, str(data))
    monkeypatch.chdir(repo)

    board = load_board(inside.resolve())  # an absolute path, as regenerate.py passes it
    assert board.meta.run_dir == "runs/suites/course"
    assert board.meta.data_source == "pairs.csv" and board.meta.title == "tcrbench leaderboard: pairs.csv"
    assert load_board(Path("runs/suites/course")).meta.run_dir == "runs/suites/course"
    assert load_board(outside).meta.run_dir == "run-7"
    texts = {"md": render_markdown(board), "html": render_html(board), "json": render_json(board)}
    assert "run: `runs/suites/course`" in texts["md"]
    assert json.loads(texts["json"])["run"]["run_dir"] == "runs/suites/course"
    for name, text in texts.items():
        assert str(tmp_path) not in text, name


# --------------------------------------------------------------------------------- one read, one home
def test_load_board_reads_config_toml_once_for_the_metric_and_the_published_table(tmp_path, make_run, specs,
                                                                                   monkeypatch):
    import tcrbench.results.folder as folder

    run = make_run(tmp_path / "run", specs()[:3])
    (run / "config.toml").write_text(PUBLISHED)
    calls = []
    loads = folder.tomllib.loads
    monkeypatch.setattr(folder.tomllib, "loads", lambda text: calls.append(1) or loads(text))
    board = load_board(run)
    assert len(calls) == 1
    assert board.metric == "macro_auroc"
    assert board.published is not None and board.published.results == {"Method A": 0.61}


def test_a_board_row_holds_its_comparison_and_reads_the_statistics_from_it(tmp_path, make_run, specs):
    board = load_board(make_run(tmp_path / "run", specs()))
    row = board.find("mask1 × ntxent · tiny", "finetune")
    c = row.comparison
    assert isinstance(c, MethodComparison) and c.method == row.key
    assert (row.diff, row.ci_low, row.ci_high, row.t, row.df, row.p) == (c.diff, c.ci_low, c.ci_high, c.t, c.df, c.p)
    assert (row.wins, row.ties, row.losses, row.n_pairs, row.d_z) == (c.wins, c.ties, c.losses, c.n_pairs, c.d_z)
    assert row.p_holm == c.p_holm and row.p_holm >= row.p  # Holm across the board, kept in the comparison
    assert row.test_train_ratio == c.corrected.test_train_ratio
    reference = board.row(row_key("supervised · tiny", "finetune"))
    assert reference.comparison is None and reference.diff is None and reference.flags == ()


# ------------------------------------------------------------------------------------------- no torch
NO_TORCH = """
import sys



class NoTorch:  # as if torch were not installed
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, NoTorch())
from tcrbench.report.board import load_board
from tcrbench.report.html import render_html
from tcrbench.report.json_report import render_json
from tcrbench.report.markdown import render_markdown

board = load_board(sys.argv[1])
print(len(render_markdown(board)) > 0, len(render_html(board)) > 0, len(render_json(board)) > 0)
"""


def test_a_run_folder_is_read_and_rendered_without_torch(tmp_path, make_run, specs):
    run = make_run(tmp_path / "run", specs()[:3])
    done = subprocess.run([sys.executable, "-c", NO_TORCH, str(run)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True", "True"]
