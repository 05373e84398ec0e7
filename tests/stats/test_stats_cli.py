"""`tcrbench stats compare` on CSV files, through typer's CliRunner on the sub-app."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tcrbench.cli.stats import app
from tcrbench.errors import UsageError

STUDY = """method,fold,score
baseline,0,57.9
baseline,1,56.9
baseline,2,42.1
pretrained,0,60.3
pretrained,1,66.5
pretrained,2,67.4
"""


def _write(tmp_path: Path, text: str, name: str = "scores.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _run(*args: str):
    return CliRunner().invoke(app, ["compare", *args])


def _usage_error(result) -> str:
    assert isinstance(result.exception, UsageError), result.output
    message = str(result.exception)
    assert "\n" not in message
    return message


def test_study_table_prints_and_writes_json_and_csv(tmp_path: Path) -> None:
    scores = _write(tmp_path, STUDY)
    out_json, out_csv = tmp_path / "r.json", tmp_path / "r.csv"
    result = _run(str(scores), "--baseline", "baseline", "--ratio", "0.5", "--out", str(out_json),
                  "--out", str(out_csv), "--rope", "1")
    assert result.exit_code == 0, result.output
    assert "pretrained" in result.output and "0.365" in result.output and "few_folds" in result.output
    assert "n_test/n_train = 0.5 (given)" in result.output
    data = json.loads(out_json.read_text())
    row = next(r for r in data["rows"] if r["method"] == "pretrained")
    assert row["p"] == pytest.approx(0.36479137481776763, abs=1e-9)
    assert row["corrected"]["df"] == 2 and row["wilcoxon"]["p"] == 0.25
    assert data["test_train_ratio"] == 0.5 and data["baseline"] == "baseline"
    with out_csv.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["method"] for r in rows] == ["baseline", "pretrained"]
    assert float(rows[1]["p_holm"]) == pytest.approx(0.36479137481776763, abs=1e-9)
    assert rows[1]["flags"] == "few_folds" and rows[0]["p"] == ""


def test_sizes_give_the_same_p_as_the_ratio(tmp_path: Path) -> None:
    scores = _write(tmp_path, STUDY)
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert _run(str(scores), "-b", "baseline", "--n-train", "200", "--n-test", "100", "--out", str(a)).exit_code == 0
    assert _run(str(scores), "-b", "baseline", "--out", str(b)).exit_code == 0  # k-fold ratio assumed
    ra, rb = json.loads(a.read_text()), json.loads(b.read_text())
    assert ra["rows"][1]["p"] == pytest.approx(rb["rows"][1]["p"]) and rb["ratio_assumed"]


def test_seeds_and_tsv(tmp_path: Path) -> None:
    lines = ["method\tfold\tseed\tscore"]
    for seed in range(2):
        for fold in range(4):
            lines.append(f"base\t{fold}\t{seed}\t{0.70 + 0.01 * fold + 0.002 * seed:.3f}")
            lines.append(f"new\t{fold}\t{seed}\t{0.72 + 0.01 * fold - 0.003 * seed + 0.004 * (fold % 2):.3f}")
    scores = _write(tmp_path, "\n".join(lines) + "\n", "scores.tsv")
    out = tmp_path / "r.json"
    assert _run(str(scores), "-b", "base", "--seeds-redraw-folds", "--out", str(out)).exit_code == 0
    row = json.loads(out.read_text())["rows"][1]
    assert row["n_pairs"] == 8 and row["n_seeds"] == 2
    assert _run(str(scores), "-b", "base", "--fixed-folds", "--out", str(out)).exit_code == 0
    assert json.loads(out.read_text())["rows"][1]["n_pairs"] == 4
    assert _run(str(scores), "-b", "base", "--seeds-reinit", "--out", str(out)).exit_code == 0  # the old spelling
    assert json.loads(out.read_text())["rows"][1]["n_pairs"] == 4
    message = _usage_error(_run(str(scores), "-b", "base"))
    assert "2 seeds, but nothing says whether each seed drew new folds" in message and "--fixed-folds" in message


def test_nan_line_is_named_and_drop_nan_counts(tmp_path: Path) -> None:
    scores = _write(tmp_path, STUDY.replace("66.5", "NaN").replace("42.1", ""))
    message = _usage_error(_run(str(scores), "-b", "baseline"))
    assert message.startswith(f"{scores}, line 4: column 'score' is missing or NaN")
    # only one pair would survive: still an error, now about the count
    assert "got 1 after dropping 2" in _usage_error(_run(str(scores), "-b", "baseline", "--drop-nan"))
    more = _write(tmp_path, scores.read_text() + "baseline,3,55.0\npretrained,3,61.0\n", "more.csv")
    out = tmp_path / "r.json"
    result = _run(str(more), "-b", "baseline", "--drop-nan", "--out", str(out))
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["n_nan_dropped"] == 2 and data["rows"][1]["n_dropped"] == 2
    assert data["rows"][1]["n_pairs"] == 2 and "nan_dropped" in data["rows"][1]["flags"]


@pytest.mark.parametrize(
    ("text", "args", "expected"),
    [
        (STUDY.replace("fold", "split"), ["-b", "baseline"], "missing column 'fold'"),
        (STUDY, ["-b", "Baseline"], "unknown baseline 'Baseline'; did you mean 'baseline'?"),
        (STUDY.replace("pretrained,2,67.4", "pretrained,3,67.4"), ["-b", "baseline"],
         "line 7: method 'pretrained' has fold 3, seed 0, which baseline 'baseline' lacks"),
        (STUDY + "pretrained,1\n", ["-b", "baseline"], "line 8: 2 fields, but the header has 3"),
        (STUDY.replace("60.3", "sixty"), ["-b", "baseline"], "line 5: column 'score' is 'sixty', not a number"),
        (STUDY, ["-b", "baseline", "--ratio", "0.5", "--n-train", "10", "--n-test", "5"], "--ratio and --n-train"),
        (STUDY, ["-b", "baseline", "--n-train", "10"], "--n-train and --n-test go together"),
        (STUDY, ["-b", "baseline", "--out", "r.txt"], "--out r.txt: the file name must end in .json or .csv"),
        ("", ["-b", "baseline"], "the file is empty"),
    ],
)
def test_bad_input_raises_usage_error(tmp_path: Path, text: str, args: list[str], expected: str) -> None:
    scores = _write(tmp_path, text)
    message = _usage_error(_run(str(scores), *args))
    assert expected in message


def test_missing_file(tmp_path: Path) -> None:
    assert "no such file" in _usage_error(_run(str(tmp_path / "nope.csv"), "-b", "x"))
