"""`tcrbench report` and `tcrbench leaderboard` end to end on generated run folders, and the reporter plugins."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import ClassVar

import pytest
from rich.console import Console
from typer.testing import CliRunner

from tcrbench.cli.main import app
from tcrbench.plugins.contracts import check_plugin
from tcrbench.report.board import load_board
from tcrbench.testing import plugin_module, temporary_plugins

FILES = ("leaderboard.html", "leaderboard.json", "leaderboard.md")


@pytest.fixture(scope="module")
def run(tmp_path_factory, make_run, specs):
    fail = frozenset({("peptide_only", "baseline", f, 0) for f in range(3)})
    return make_run(tmp_path_factory.mktemp("cli") / "run", specs(), fail=fail)


def test_report_writes_three_files_into_the_run_and_prints_the_table(run):
    result = CliRunner().invoke(app, ["report", str(run)])
    assert result.exit_code == 0, result.output
    for name in FILES:
        assert (run / name).is_file() and f"wrote {run / name}" in result.output
    assert "mask1 × ntxent · tiny" in result.output and "diff [95% CI]" in result.output
    assert "failed peptide_only [baseline]: 3 cell(s)" in result.output
    doc = json.loads((run / "leaderboard.json").read_text())
    assert doc["run"]["config_hash"] == (run / "config_hash").read_text().strip()
    assert not list(run.glob(".leaderboard*.tmp"))  # atomic writes leave no temporaries


def test_report_out_and_metric_options(run, tmp_path):
    result = CliRunner().invoke(app, ["report", str(run), "--out", str(tmp_path / "elsewhere"), "--metric",
                                      "macro_auroc", "--quiet"])
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "elsewhere" / "leaderboard.json").read_text())
    assert doc["metric"] == "macro_auroc"
    assert "diff [95% CI]" not in result.output  # --quiet: only the files


@pytest.mark.parametrize("args, message", [
    (["report", "{tmp}"], "{tmp}: not a tcrbench run folder"),
    (["report", "{tmp}/missing"], "{tmp}/missing: no such run folder"),
    (["report", "{run}", "--metric", "mcc"], "{run}: metric 'mcc' is in no finished row"),
    (["report", "{run}", "--confidence", "1.5"], "--confidence 1.5: must lie strictly between 0 and 1"),
    (["leaderboard", "{run}", "{run}"], "given twice"),
    (["leaderboard", "{run}", "--alpha", "0"], "--alpha 0.0: must lie strictly between 0 and 1"),
])
def test_bad_input_is_one_line_and_exit_code_2(run, tmp_path, args, message):
    fill = {"tmp": str(tmp_path), "run": str(run)}
    result = CliRunner().invoke(app, [a.format(**fill) for a in args])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message.format(**fill) in lines[0]


def test_leaderboard_merges_runs_into_out(tmp_path, make_run, specs):
    a = make_run(tmp_path / "a", specs(), source="dataset A", seed=1)
    b = make_run(tmp_path / "b", specs(pretrained_signal=0.8), source="dataset B", seed=2)
    out = tmp_path / "merged"
    result = CliRunner().invoke(app, ["leaderboard", str(a), str(b), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == list(FILES)
    doc = json.loads((out / "leaderboard.json").read_text())
    assert doc["kind"] == "merged" and doc["datasets"] == ["dataset A", "dataset B"]
    assert doc["ranking"]["friedman"]["n_datasets"] == 2
    assert "cd_diagram" in (out / "leaderboard.html").read_text()
    assert "ranking across 2 dataset(s)" in result.output


def test_leaderboard_writes_to_leaderboard_in_the_current_folder_by_default(tmp_path, make_run, specs, monkeypatch):
    a = make_run(tmp_path / "a", specs(), source="dataset A")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["leaderboard", str(a), "--quiet"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "leaderboard").iterdir()) == list(FILES)


def test_leaderboard_refuses_two_runs_of_one_dataset(tmp_path, make_run, specs):
    a = make_run(tmp_path / "a", specs(), source="dataset A")
    b = make_run(tmp_path / "b", specs(), source="dataset A")
    result = CliRunner().invoke(app, ["leaderboard", str(a), str(b), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "holds data 'dataset A' like" in result.output
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------------------------------ reporter plugins
def test_builtin_reporters_pass_the_contract_and_write_their_file(run, tmp_path):
    from tcrbench_plugins.reporters import REPORTERS

    board = load_board(run)
    for cls in REPORTERS:
        reporter = check_plugin("reporter", cls)
        paths = reporter.write(board, tmp_path)
        assert paths == [tmp_path / reporter.filename] and paths[0].stat().st_size > 500


@dataclass
class _Csv:
    name: ClassVar[str] = "csv"
    description: ClassVar[str] = "test reporter: one line per row"

    def write(self, board, out_dir: Path) -> list[Path]:
        path = out_dir / "leaderboard.csv"
        path.write_text("".join(f"{r.key},{r.mean}\n" for r in board.rows))
        return [path]


@dataclass
class _Broken:
    name: ClassVar[str] = "broken"
    description: ClassVar[str] = "test reporter that fails"

    def write(self, board, out_dir: Path) -> list[Path]:
        raise RuntimeError("disk on fire")


def test_every_registered_reporter_runs_and_a_broken_one_is_named(run):
    with temporary_plugins(plugin_module("extra_reporters", reporters=[_Csv, _Broken])):
        result = CliRunner().invoke(app, ["report", str(run), "--quiet"])
    assert result.exit_code == 1
    assert (run / "leaderboard.csv").read_text().count("\n") == 6
    assert all((run / name).is_file() for name in FILES)
    assert "warning: reporter broken" in result.output and "RuntimeError: disk on fire" in result.output


def test_the_end_of_run_summary_uses_the_board(run):
    from tcrbench.report.summary import print_summary

    rows = json.loads(json.dumps([json.loads(p.read_text()) for p in sorted((run / "rows").glob("*.json"))]))
    summary = SimpleNamespace(rows=rows, path=run, config_hash="c0ffee", computed=len(rows), skipped=0,
                              failed=[r for r in rows if r["status"] == "failed"])
    console = Console(record=True, width=250, color_system=None)
    print_summary(summary, SimpleNamespace(primary_metric="auroc"), console)
    text = console.export_text()
    assert "diff [95% CI]" in text and "Holm p" in text and "supervised · tiny (reference)" in text
