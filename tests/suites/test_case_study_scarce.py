"""The case study's label-scarce section reads its numbers from the controls' summary and the nettcr-olga board, and
says "not run" where a result is missing."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SUITES = REPO / "benchmarks" / "suites"


def _module():
    sys.path.insert(0, str(SUITES))
    try:
        spec = importlib.util.spec_from_file_location("case_study_scarce", SUITES / "case_study_scarce.py")
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        spec.loader.exec_module(module)  # type: ignore[union-attr]
        return module
    finally:
        sys.path.remove(str(SUITES))


def _comparison(diff: float, p_holm: float) -> dict:
    return {"configuration": "x", "mean": 0.7, "diff": diff, "ci": [diff - 0.02, diff + 0.02], "p": p_holm,
            "p_holm": p_holm, "detected": diff > 0 and p_holm < 0.05}


def _set_detected(results: list[dict]) -> None:
    for r in results:
        for c in r["comparisons"]:
            c["detected"] = c["diff"] > 0 and c["p_holm"] < 0.05


def test_missing_results_read_not_run(tmp_path: Path) -> None:
    text = _module().scarce_section(tmp_path)
    assert "Known-answer controls:** not run" in text and "`nettcr-olga` suite has not been run" in text


def test_the_control_rates_are_counted_from_the_summary(tmp_path: Path) -> None:
    results = [{"control": "positive", "seed": s, "comparisons": [_comparison(0.09, 0.01 if s < 4 else 0.2)]}
               for s in range(5)]
    results += [{"control": "negative", "seed": s, "comparisons": [_comparison(0.001, 0.8)]} for s in range(5)]
    (tmp_path / "controls").mkdir()
    (tmp_path / "controls" / "summary.json").write_text(json.dumps({"alpha": 0.05, "results": results}))
    text = _module().controls_part(tmp_path)
    assert "the positive control in 4 of 5 seeds (80%; mean gain +0.090 AUROC)" in text
    assert "the negative control in 0 of 5 seeds (0%; mean gain +0.001 AUROC)" in text
    assert "sees a gain where one was planted, and does not invent one" in text
    results[0]["comparisons"][0]["p_holm"] = 0.5  # 3 of 5: under the 80% the controls must reach
    _set_detected(results)
    (tmp_path / "controls" / "summary.json").write_text(json.dumps({"alpha": 0.05, "results": results}))
    assert "missed the planted gain" in _module().controls_part(tmp_path)


def test_the_learning_curve_rows_and_readings_follow_the_board(tmp_path: Path) -> None:
    point = {"label_fraction": 0.05, "n_labelled": 650.0, "mean": 0.80, "is_reference": False, "diff": 0.04,
             "ci_low": 0.01, "ci_high": 0.07, "p_holm": 0.01, "detectable": None}
    ref = {"label_fraction": 0.05, "n_labelled": 650.0, "mean": 0.76, "is_reference": True}
    board = {"metric": "auroc", "run": {"pretrain_corpus": {"sources": ["olga:n=100000"], "sizes": [100000],
                                                            "hashes": ["abc"], "removed": [3, 9],
                                                            "convention": "cdr3", "stripped": [100000]}},
             "learning_curve": {"curves": [
                 {"key": "supervised [finetune]", "arm": "supervised", "label": "supervised", "points": [ref]},
                 {"key": "mask1 × ntxent [finetune]", "arm": "pretrained", "label": "m", "points": [point]},
                 {"key": "majority [baseline]", "arm": "baseline", "label": "majority", "points": [ref]}]}}
    (tmp_path / "nettcr-olga").mkdir()
    (tmp_path / "nettcr-olga" / "leaderboard.json").write_text(json.dumps(board))
    text = _module().olga_part(tmp_path)
    assert "| mask1 × ntxent [finetune] | 5% | 650 | 0.800 | +0.040 [+0.010, +0.070] | 0.01 | pretraining better |" \
        in text
    assert "lost 3–9 rows per fold" in text and "majority" not in text
    assert "(`cdr3`: anchors removed from 100,000 junctions)" in text
    assert "Pretraining was better in 1 and worse in 0 of 1 comparisons" in text
