"""The `run` command as a researcher (or a script) meets it: `--json` prints one summary object and nothing else on
stdout, every option's `--help` shows its default and choices, and the ETA comes from finished cells of each kind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tcrbench.cli.main import app
from tcrbench.run.progress import estimate_left, format_eta

TINY = ["run", "--dataset", "synthetic:n_peptides=3,n_positives_per_peptide=20", "--aug", "mask1",
        "--objective", "ntxent", "--folds", "2", "--pretrain-steps", "2", "--pretrain-batch", "32", "--steps", "2",
        "--batch-size", "32", "--baseline", "majority", "--protocol", "probe"]


# ------------------------------------------------------------------------------------ --json
def test_json_prints_one_summary_object_and_nothing_else_on_stdout(tmp_path: Path) -> None:
    out = tmp_path / "my run"
    result = CliRunner().invoke(app, [*TINY, "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    stdout = result.stdout
    assert stdout.count("\n") == 1  # one line: the object
    summary = json.loads(stdout)
    assert summary["status"] == "complete" and summary["exit_code"] == 0
    assert summary["run"] == str(out) and summary["config_hash"] == (out / "config_hash").read_text().strip()
    assert summary["rows"] == {"total": 6, "ok": 6, "failed": 0, "computed": 6, "skipped": 0}
    assert summary["report"] == f"tcrbench report '{out}'" and summary["failed"] == []
    assert summary["executor"] == "serial"
    assert set(summary["seconds"]) == {"setup", "cells", "total"} and summary["seconds"]["total"] > 0
    assert "results:" not in stdout and "run folder:" not in stdout  # no board, no next-step line

    again = CliRunner().invoke(app, [*TINY, "--out", str(out), "--json", "--quiet"])
    assert again.exit_code == 0
    assert json.loads(again.stdout)["rows"] == {"total": 6, "ok": 6, "failed": 0, "computed": 0, "skipped": 6}


BROKEN = """
from dataclasses import dataclass
from typing import ClassVar

from tcrbench.plugins.hookspecs import hookimpl


@dataclass
class Broken:
    name: ClassVar[str] = "broken"
    description: ClassVar[str] = "a baseline that always fails"
    shortcut: ClassVar[bool] = False

    def fit_predict(self, train, test, seed):
        raise RuntimeError("no good")


@hookimpl
def register_baselines(register):
    register(Broken)
"""


def test_json_reports_failed_cells_with_their_reasons_and_exit_status_1(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TCRBENCH_PLUGINS_DIR", str(tmp_path / "plugins"))  # --plugins-dir sets it: undone after
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "broken.py").write_text(BROKEN)
    args = ["--plugins-dir", str(tmp_path / "plugins"), *TINY, "--baseline", "broken", "--out", str(tmp_path / "run"),
            "--json", "--quiet"]
    result = CliRunner().invoke(app, args)
    summary = json.loads(result.stdout)
    assert result.exit_code == 1 == summary["exit_code"] and summary["status"] == "failed"
    assert summary["rows"]["failed"] == 2 and summary["rows"]["ok"] == 6
    assert {f["reason"] for f in summary["failed"]} == {"RuntimeError: no good"}


def test_json_says_a_stopped_run_is_stopped(tmp_path: Path, monkeypatch) -> None:
    from tcrbench.run.runner import Runner
    from tcrbench.training.checkpoint import StoppedForTime

    def stopped(self: Runner, executor: object = None) -> None:
        self.path, self.config_hash, self._computed = tmp_path / "run", "ab" * 8, 2
        raise StoppedForTime("stopped for --max-time before cell 3; run the same command again to resume")

    monkeypatch.setattr(Runner, "run", stopped)
    result = CliRunner().invoke(app, [*TINY, "--out", str(tmp_path / "run"), "--json"])
    assert result.exit_code == 3
    summary = json.loads(result.stdout)
    assert summary == {"status": "stopped", "exit_code": 3, "run": str(tmp_path / "run"), "config_hash": "ab" * 8,
                       "rows": {"computed": 2}, "report": f"tcrbench report {tmp_path / 'run'}",
                       "message": "stopped for --max-time before cell 3; run the same command again to resume"}


def test_warnings_go_to_stderr_and_into_the_summary(tmp_path: Path, monkeypatch) -> None:
    import tcrbench.data.splits

    monkeypatch.setattr(tcrbench.data.splits, "fold_warnings", lambda frame, folds: ["fold 1 has one class"])
    result = CliRunner().invoke(app, [*TINY, "--out", str(tmp_path / "run"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["warnings"] == ["fold 1 has one class"]
    assert "warning: fold 1 has one class" in result.stderr


# ------------------------------------------------------------------------------------ --help
def _run_command():
    import typer.main

    group = typer.main.get_command(app)
    return group.commands["run"]  # type: ignore[attr-defined]


def test_every_run_option_shows_its_default_in_help() -> None:
    missing = []
    for param in _run_command().params:
        shown = param.show_default
        if isinstance(shown, str) and shown:
            continue
        if shown is not False and param.default is not None:  # a real default (--max-retries 2)
            continue
        missing.append(param.opts[0])
    assert missing == []
    text = CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "200"}).output
    for needle in ["[default: (5)]", "[default: (6h)]", "[default: 2]", "[default: (chain_cnn)]", "[default: (1)]"]:
        assert needle in text, needle


def test_options_with_a_fixed_set_of_values_list_them_in_help() -> None:
    """Every Literal setting of RunConfig and Budget, and the executors and trackers, shows its choices."""
    import typing

    from tcrbench.run.config import Budget, RunConfig

    metavars = {p.name: p.metavar for p in _run_command().params}
    flag = {"duplicates": "drop_duplicates", "protocols": "protocol"}
    for cls in (RunConfig, Budget):
        for name, tp in typing.get_type_hints(cls).items():
            if typing.get_origin(tp) is typing.Literal and name in {*metavars, *flag}:
                values = typing.get_args(tp)
                metavar = metavars[flag.get(name, name)]
                if name == "duplicates":
                    continue  # a --drop-duplicates/--keep-duplicates flag pair
                assert metavar == f"[{'|'.join(values)}]", name
    assert metavars["executor"] == "[serial|processes|dask|slurm]" and metavars["protocol"] == "[finetune|probe]"
    assert metavars["track"] == "[wandb|mlflow|tensorboard]"


# ------------------------------------------------------------------------------------ the ETA
def test_the_eta_weighs_each_kind_of_cell_by_its_own_durations() -> None:
    cost = {"baseline": 0, "neural": 3}
    # two baseline cells of a millisecond done, 253 cells to go of which 50 neural cells of 2 minutes each:
    # a rate of rows would say seconds; the kinds say 100 minutes
    left = estimate_left({"baseline": 203, "neural": 50}, {"baseline": [0.001, 0.001], "neural": [120.0]}, cost)
    assert left is not None and left[0] == pytest.approx(50 * 120 + 203 * 0.001) and left[1] is False
    assert format_eta(left) == "ETA 1:40:00"
    halved = estimate_left({"baseline": 203, "neural": 50}, {"baseline": [0.001], "neural": [120.0]}, cost, slots=2)
    assert halved is not None and halved[0] == pytest.approx((50 * 120 + 203 * 0.001) / 2)


def test_a_kind_without_a_finished_cell_borrows_and_says_so() -> None:
    cost = {"pretrained": 3, "supervised": 1, "majority": 1, "kmer": 1}
    left = estimate_left({"supervised": 4, "kmer": 2}, {"supervised": [10.0], "pretrained": [60.0]}, cost)
    assert left == (4 * 10.0 + 2 * 10.0, True)  # kmer borrows the same-rank supervised mean
    left = estimate_left({"pretrained": 1}, {"supervised": [10.0]}, cost)
    assert left == (10.0, True)  # no dearer kind known: the dearest known one
    assert format_eta(left) == "ETA ~0:00:10"
    assert estimate_left({"supervised": 3}, {}, cost) is None
    assert format_eta(None) == "ETA -:--:--"
    assert estimate_left({"supervised": 0}, {"supervised": [1.0]}, cost) == (0.0, False)


def test_the_progress_display_counts_down_by_kind() -> None:
    from tcrbench.run.progress import Progress

    progress = Progress(True, 0)  # quiet: no bars, the same bookkeeping
    progress.plan(["neural", "neural", "baseline", "baseline"], {"neural": 3, "baseline": 0}, lambda: 1)
    assert progress.eta() == "ETA -:--:--"
    progress.cell_done("neural", 100.0)
    assert progress.eta() == "ETA ~0:05:00"  # baselines borrow the only known mean until one finishes
    progress.cell_done("baseline", 0.5)
    assert progress.eta() == "ETA 0:01:40"
    progress.cell_done("neural", None)  # a failed cell: counted as done, its time ignored
    assert progress.eta() == "ETA 0:00:00"
