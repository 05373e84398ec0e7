"""Tables follow the terminal: as wide as the terminal (or $COLUMNS) and no wider, 120 columns into a file or pipe;
a narrow terminal loses the least important columns (and says so) before it breaks a word or a number."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from rich.cells import cell_len
from rich.console import Console
from typer.testing import CliRunner

from tcrbench.cli.main import app
from tcrbench.report.board import build_board, load_board
from tcrbench.report.console import DROP_ORDER, PIPE_WIDTH, fit_table, render_console, terminal_console
from tcrbench.results.schema import ResultRow
from tcrbench.results.store import RunStore

LABELS = (("supervised · tiny", "supervised", None), ("mask1+substitute × ntxent+mlm · tiny", "pretrained", None),
          ("vicreg · transformer:size=small", "pretrained", None), ("peptide_only", "baseline", "peptide_only"))


def _rows(seeds: int = 2, folds: int = 3) -> list[ResultRow]:
    rng = np.random.default_rng(1)
    rows = []
    for s in range(seeds):
        for f in range(folds):
            base = 0.7 + rng.normal(0, 0.02)
            for i, (label, arm, baseline) in enumerate(LABELS):
                rows.append(ResultRow(
                    row_key=f"c{i}-s{s}-f{f}", config_hash="c0ffee", config_id=f"c{i}", label=label, arm=arm,
                    protocol="baseline" if baseline else "finetune", augmentation=None, objective=None,
                    encoder=None if baseline else "tiny", baseline=baseline, params={}, uses_labels=bool(baseline),
                    shortcut=bool(baseline), pretrain_on="train", fold=f, fold_name=f"fold{f}", seed=s,
                    seeds_redraw_folds=True, n_train=200, n_test=100, status="ok",
                    metrics={"auroc": base + 0.01 * i + rng.normal(0, 0.01)}))
    return rows


@pytest.fixture(scope="module")
def board():
    return build_board([r.to_dict() for r in _rows()], "auroc", title="width test")


def _render(board, width: int) -> str:
    buffer = io.StringIO()
    render_console(board, Console(file=buffer, width=width, color_system=None, legacy_windows=False))
    return buffer.getvalue()


# ------------------------------------------------------------------------------------ the console's width
def test_a_pipe_gets_the_pipe_width_and_columns_wins(monkeypatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    assert terminal_console(file=io.StringIO()).width == PIPE_WIDTH
    monkeypatch.setenv("COLUMNS", "77")
    assert terminal_console(file=io.StringIO()).width == 77
    assert terminal_console(file=io.StringIO(), width=50).width == 50


def test_a_terminal_keeps_its_own_width(monkeypatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    console = terminal_console(file=io.StringIO(), force_terminal=True)
    assert console.is_terminal and console.width == Console(file=io.StringIO(), force_terminal=True).width


# ------------------------------------------------------------------------------------ the board's table
@pytest.mark.parametrize("width", [60, 80, 100, 120, 160, 250])
def test_no_line_is_wider_than_the_terminal(board, width: int) -> None:
    text = _render(board, width)
    assert max(cell_len(line) for line in text.splitlines()) <= width


@pytest.mark.parametrize("width", [80, 100, 120, 160])
def test_words_and_numbers_are_never_broken(board, width: int) -> None:
    text = _render(board, width)
    words = set(re.split(r"[\s│┃]+", text))
    for row in board.rows:
        for word in row.label.split():
            assert word in words, f"{word!r} of {row.label!r} broken at width {width}"
        assert f"{row.mean:.3f}" in words, f"mean of {row.key} broken at width {width}"
        if row.p_holm is not None:
            assert f"{row.p_holm:.3f}" in words


def test_a_wide_terminal_shows_every_column_and_a_narrow_one_says_what_it_left_out(board) -> None:
    wide, narrow = _render(board, 250), " ".join(_render(board, 80).split())
    assert "left out" not in wide and all(f" {h} " in wide for h in ("t", "df", "d_z", "W/T/L", "flags"))
    note = re.search(r"\(left out to fit the terminal: (.*?); leaderboard.md has every column\)", narrow)
    assert note is not None
    hidden = note.group(1).split(", ")
    assert hidden == list(DROP_ORDER[: len(hidden)]), "columns leave in DROP_ORDER"
    assert all(h in narrow for h in ("configuration", "protocol", "Holm")), "the columns that matter stay"


def test_fit_table_drops_in_order_then_compacts() -> None:
    headers = ["name", "a", "b", "c"]
    rows = [({"name": "alpha beta", "a": "1.000 ± 0.100", "b": "2.000", "c": "3.000"}, None)]
    wide = Console(width=200, file=io.StringIO())
    table, hidden = fit_table(wide, headers, rows, numeric=["a", "b", "c"], drop_order=["c", "b"])
    assert hidden == [] and [c.header for c in table.columns] == headers
    narrow = Console(width=40, file=io.StringIO())
    table, hidden = fit_table(narrow, headers, rows, numeric=["a", "b", "c"], drop_order=["c", "b"])
    assert hidden == ["c"] and [c.header for c in table.columns] == ["name", "a", "b"]
    narrow.print(table)
    assert "1.000 ± 0.100" in narrow.file.getvalue() and "┃" in narrow.file.getvalue()  # one line, boxed
    tiny = Console(width=27, file=io.StringIO())
    table, hidden = fit_table(tiny, headers, rows, numeric=["a", "b", "c"], drop_order=["c", "b"])
    tiny.print(table)
    out = tiny.file.getvalue()
    assert hidden == ["c", "b"] and "┃" not in out and "1.000 ± 0.100" in out  # borders went before the number
    assert max(cell_len(line) for line in out.splitlines()) <= 27


# ------------------------------------------------------------------------------------ through the command line
@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    store = RunStore(tmp_path_factory.mktemp("width") / "run")
    store.open('primary_metric = "auroc"\n', "c0ffee", {}, overwrite=False)
    for row in _rows():
        store.write_row(row)
    return store.path


def test_report_into_a_pipe_is_pipe_width(run: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    cmd = [sys.executable, "-m", "tcrbench", "report", str(run), "--out", str(tmp_path)]
    piped = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert piped.returncode == 0, piped.stderr
    widths = [cell_len(line) for line in piped.stdout.splitlines()]
    assert max(widths) <= PIPE_WIDTH and max(widths) > 100  # a readable file: neither 80 nor 200 columns


def test_report_honours_columns(run: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["report", str(run), "--out", str(tmp_path)], env={"COLUMNS": "90"})
    assert result.exit_code == 0, result.output
    assert max(cell_len(line) for line in result.stdout.splitlines()) <= 90
    assert all(row.label.split()[0] in result.stdout for row in load_board(run).rows)


@pytest.mark.parametrize("width", ["70", "200"])
def test_stats_compare_fits_the_terminal(run: Path, width: str) -> None:
    result = CliRunner().invoke(app, ["stats", "compare", str(run)], env={"COLUMNS": width})
    assert result.exit_code == 0, result.output
    assert max(cell_len(line) for line in result.stdout.splitlines()) <= int(width)
    assert "mask1+substitute" in result.stdout
