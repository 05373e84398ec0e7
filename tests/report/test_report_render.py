"""Markdown, HTML, JSON, plots and the console table: what each shows, and that data cannot break them."""

from __future__ import annotations

import base64
import io
import json
import math
import re
import struct
import unicodedata
from html.parser import HTMLParser

import numpy as np
import pytest
from rich.console import Console

from tcrbench.errors import UsageError
from tcrbench.report.board import build_board, load_board, render_console
from tcrbench.report.html import render_html
from tcrbench.report.json_report import render_json
from tcrbench.report.markdown import render_markdown
from tcrbench.report.merge import merge_boards
from tcrbench.report.model import GROUPS
from tcrbench.report.plots import board_plots, cd_diagram
from tcrbench.stats import friedman, nemenyi

HOSTILE = '<script>alert("x")</script> | *bold* `code` $x^2$ & <img src=http://evil.example/a.png>'


@pytest.fixture(scope="module")
def board(tmp_path_factory, make_run, specs, spec_type):
    grid = specs() + [spec_type(HOSTILE, "pretrained", "finetune", 1.2, uses_labels=True, objective="clip")]
    fail = frozenset({("cnn (supervised)", "finetune", 2, 0)})
    return load_board(make_run(tmp_path_factory.mktemp("render") / "run", grid, fail=fail))


@pytest.fixture(scope="module")
def page(board) -> str:
    return render_html(board)


def _parse(page: str) -> _Collector:
    parser = _Collector()
    parser.feed(page)
    return parser


def _display_width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


# ------------------------------------------------------------------------------------------------ markdown
def test_markdown_table_lines_up_and_keeps_its_columns(board):
    text = render_markdown(board)
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("| # ")]
    assert len(starts) == len({r.group for r in board.rows}) >= 2  # a table per board section
    tables = []
    for start in starts:
        assert lines[start - 2].startswith("**") and lines[start - 2].strip("*") in GROUPS
        table = []
        for line in lines[start:]:
            if not line.startswith("|"):
                break
            table.append(line)
        tables.append(table)
    assert sum(len(t) - 2 for t in tables) == len(board.rows)
    for table in tables:
        assert len({_display_width(line) for line in table}) == 1  # padded: reads as a grid in a terminal
    table = [line for t in tables for line in t]
    n_cols = len(re.split(r"(?<!\\)\|", table[0])) - 2
    # 15 columns, and the detectable difference where a comparison on the board was not significant
    assert any(r.comparison is not None and not r.significant for r in board.rows)
    assert n_cols == 16 and "detectable (80% power)" in table[0]
    assert all(len(re.split(r"(?<!\\)\|", line)) - 2 == n_cols for line in table)  # the label's | is escaped


def test_markdown_shows_banners_labels_failures_and_per_peptide(board):
    text = render_markdown(board)
    assert "**⚠ uses labels**" in text and "**⚠ failures**" in text
    hostile_line = next(line for line in text.splitlines() if "alert" in line and line.startswith("| "))
    assert "uses labels" in hostile_line and "<script>" not in text and r"\<script\>" in text
    assert "## Failures" in text and "cell 2/0 broke" in text
    assert "## Per-peptide AUROC" in text and "GILGFVFTL" in text
    assert "config hash `c0ffee0123456789`" in text and "(reference)" in text


# ---------------------------------------------------------------------------------------------------- html
class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts = 0
        self.open: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self.scripts += 1


def test_html_escapes_every_string_from_data(page):
    parser = _parse(page)
    assert parser.scripts == 0
    assert "<script>alert" not in page and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "<img src=http" not in page
    assert not [t for t, a in parser.tags if t == "img" and not (a.get("src") or "").startswith("data:image/png;base64,")]


def test_html_is_self_contained(page):
    parser = _parse(page)
    links = [(t, k, v) for t, a in parser.tags for k, v in a.items() if k in ("src", "href", "action", "srcset")]
    assert links and all(v.startswith("data:image/png;base64,") for _, _, v in links)
    # the hostile label's URL survives only as escaped text, never as markup
    found = re.findall(r"&lt;img src=http://|https?://", page)
    assert found and set(found) == {"&lt;img src=http://"}
    assert "@import" not in page and "url(" not in page
    assert not [t for t, a in parser.tags if t == "link"]
    csp = next(a["content"] for t, a in parser.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in csp and "img-src data:" in csp


def test_html_has_the_tables_and_one_image_per_plot(page):
    parser = _parse(page)
    classes = [a.get("class") for t, a in parser.tags if t == "table"]
    assert classes == ["board", "peptides", "failures"]
    images = [a for t, a in parser.tags if t == "img"]
    assert len(images) == 3  # forest, paired lines, per-peptide heat map
    rows = [a.get("class") for t, a in parser.tags if t == "tr"]
    assert rows.count("reference") == 2


def test_plots_are_small_pngs(page):
    sources = [a["src"] for t, a in _parse(page).tags if t == "img"]
    titles = [a["alt"] for t, a in _parse(page).tags if t == "img"]
    assert titles == ["Differences from the supervised arm", "Paired per-fold scores", "Per-peptide AUROC"]
    for src in sources:
        png = base64.b64decode(src.split(",", 1)[1])
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", png[16:24])
        assert 300 < width < 1700 and 150 < height < 1700
        assert len(png) < 150_000


def test_a_board_without_comparisons_has_no_plots(make_rows):
    board = build_board(make_rows({("supervised", "finetune"): [[0.7, 0.72, 0.71]]}))
    assert board_plots(board) == []
    page = render_html(board)
    assert "<img" not in page and "supervised" in page


# ---------------------------------------------------------------------------------------------------- json
def _strict(text: str):
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def test_json_is_strict_and_carries_run_identity_and_statistics(board):
    doc = _strict(render_json(board))
    assert doc["schema"] == "tcrbench-leaderboard" and doc["kind"] == "run" and doc["metric"] == "auroc"
    assert doc["run"]["config_hash"] == "c0ffee0123456789"
    assert doc["run"]["versions"] == {"python": "3.11.7", "tcrbench": "0.1.0", "numpy": "2.4.6"}
    assert doc["test"]["n_comparisons"] == len(board.compared())
    for row, original in zip(doc["rows"], board.rows):
        assert row["key"] == original.key
        for name in ("mean", "diff", "ci_low", "ci_high", "t", "p", "p_holm", "d_z"):
            value = getattr(original, name)
            if value is None or (isinstance(value, float) and math.isnan(value)):
                assert row[name] is None
            else:
                assert isinstance(row[name], (int, float)) and row[name] == pytest.approx(value)
    ref = next(r for r in doc["rows"] if r["is_reference"])
    assert ref["diff"] is None and ref["reference"] is None
    cnn = next(r for r in doc["rows"] if r["label"] == "cnn (supervised)")
    assert cnn["status"] == "partial" and "failed_cells" in cnn["flags"]
    assert [c["status"] for c in cnn["cells"]] == ["ok", "ok", "failed"] and cnn["cells"][2]["score"] is None
    assert doc["per_peptide"]["peptides"][0].keys() == {"peptide", "n_positives", "n_negatives"}
    assert {f["key"] for f in doc["failures"]} == {cnn["key"]}


def test_json_writes_infinite_t_as_a_string(make_rows):
    rows = make_rows({("supervised", "finetune"): [[0.70, 0.72, 0.71, 0.69]],
                      ("pre", "finetune"): [[0.72, 0.74, 0.73, 0.71]]})
    doc = _strict(render_json(build_board(rows)))
    pre = next(r for r in doc["rows"] if r["label"] == "pre")
    assert pre["t"] == "inf" and "zero_variance" in pre["flags"]
    assert isinstance(pre["p"], float) and 0 < pre["p"] < 1
    supervised = next(r for r in doc["rows"] if r["label"] == "supervised")
    assert supervised["sd"] == pytest.approx(np.std([0.70, 0.72, 0.71, 0.69], ddof=1))


# ---------------------------------------------------------------------------------------------- merged runs
@pytest.fixture(scope="module")
def merged(tmp_path_factory, make_run, specs):
    boards = []
    root = tmp_path_factory.mktemp("merged")
    for i, source in enumerate(["dataset A", "dataset B", "dataset C"]):
        run = make_run(root / f"run{i}", specs(pretrained_signal=1.1 + 0.2 * i), source=source, seed=i)
        boards.append(load_board(run))
    return merge_boards(boards)


def test_merged_ranking_is_friedman_and_nemenyi_on_per_dataset_means(merged):
    r = merged.ranking
    assert r.datasets == ("dataset A", "dataset B", "dataset C")
    keys = [m for m in r.friedman.methods]
    matrix = np.array([[b.row(k).mean for k in keys] for b in merged.datasets])
    expected = friedman(matrix, methods=keys)
    assert r.friedman.statistic == pytest.approx(expected.statistic) and r.friedman.p == pytest.approx(expected.p)
    assert r.cd == pytest.approx(nemenyi(matrix, methods=keys).cd)
    ranked = [x for x in r.rows if x.ranked]
    assert [x.mean_rank for x in ranked] == sorted(x.mean_rank for x in ranked)
    assert ranked[-1].label == "peptide_only"
    for clique in r.cliques:
        ranks = [r.rows[[x.key for x in r.rows].index(k)].mean_rank for k in clique]
        assert max(ranks) - min(ranks) < r.cd


@pytest.mark.slow
def test_merged_reports_have_the_ranking_the_cd_diagram_and_each_dataset(merged):
    text = render_markdown(merged)
    assert "## Ranking across datasets" in text and "Friedman chi²" in text
    assert text.count("## Dataset: ") == 3
    parser = _parse(render_html(merged))
    assert next(a.get("class") for t, a in parser.tags if t == "figure") == "plot cd_diagram"
    assert [a.get("class") for t, a in parser.tags if t == "table"].count("board") == 3
    doc = _strict(render_json(merged))
    assert doc["kind"] == "merged" and doc["datasets"] == ["dataset A", "dataset B", "dataset C"]
    assert len(doc["boards"]) == 3 and doc["boards"][1]["run"]["data_source"] == "dataset B"
    assert doc["ranking"]["nemenyi"]["cd"] == pytest.approx(merged.ranking.cd)
    png = cd_diagram(merged.ranking).png
    assert png[:4] == b"\x89PNG" and len(png) < 150_000


def test_a_method_missing_on_one_dataset_is_listed_but_not_ranked(tmp_path, make_run, specs):
    a = load_board(make_run(tmp_path / "a", specs(), source="A"))
    b = load_board(make_run(tmp_path / "b", specs()[:-1], source="B"))  # no peptide_only here
    merged = merge_boards([a, b])
    row = next(x for x in merged.ranking.rows if x.label == "peptide_only")
    assert not row.ranked and row.mean_rank is None and row.scores[1] is None
    assert "peptide_only [baseline]" not in merged.ranking.friedman.methods
    assert any(x.kind == "incomplete_methods" for x in merged.banners)


def test_merging_needs_different_datasets(tmp_path, make_run, specs):
    a = load_board(make_run(tmp_path / "a", specs(), source="same"))
    b = load_board(make_run(tmp_path / "b", specs(), source="same"))
    with pytest.raises(UsageError, match="holds data 'same' like"):
        merge_boards([a, b])
    single = merge_boards([a])
    assert single.ranking.friedman is None and "at least two" in single.ranking.note
    assert "No Friedman test" in render_markdown(single)


# -------------------------------------------------------------------------------------------------- console
def test_console_prints_banners_table_and_grouped_failures(board):
    buffer = io.StringIO()
    render_console(board, Console(file=buffer, width=250, color_system=None))
    out = buffer.getvalue()
    assert "⚠ uses labels" in out and "⚠ failures" in out
    assert "supervised · tiny (reference)" in out and "<script>" in out  # a terminal shows text as is
    assert "failed cnn (supervised) [finetune]: 1 cell(s) (fold 2 seed 0)" in out
