"""The leaderboard's training-dynamics section, from constructed rows whose plateau, loss convergence and best
checkpoint follow from how they were built; and the main table, which must not see a single checkpoint."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from tcrbench.report.board import build_board
from tcrbench.report.html import render_html
from tcrbench.report.json_report import render_json
from tcrbench.report.markdown import render_markdown
from tcrbench.results.schema import ResultRow
from tcrbench.stats import corrected_ttest

FOLDS, SEEDS = range(5), (0, 1)
STEPS = (0, 100, 200, 400, 800, 1600)
GAIN = {0: 0.0, 100: 0.02, 200: 0.05, 400: 0.05, 800: 0.05, 1600: 0.051}  # arrives at 200
LOSS = {100: 3.0, 200: 2.5, 400: 2.0, 800: 1.7, 1600: 1.68}  # converges (5% rule) at 800
LABEL = "mlm <pretrained> · tiny"


def supervised_score(fold: int, seed: int) -> float:
    return 0.6 + 0.01 * fold + 0.002 * seed


def jitter(fold: int, step: int) -> float:
    return 0.0 if step == 0 else (0.002 if fold % 2 == 0 else -0.002)


def _row(label: str, arm: str, protocol: str, fold: int, seed: int, score: float, step: int | None = None,
         loss: float | None = None) -> dict:
    key = f"{arm}-s{seed}-f{fold}-{protocol}" + (f"-step{step}" if step is not None else "")
    return ResultRow(row_key=key, config_hash="h", config_id=arm, label=label, arm=arm, protocol=protocol,
                     augmentation=None, objective=None, encoder="tiny", baseline=None, params={}, uses_labels=False,
                     shortcut=False, pretrain_on="train", fold=fold, fold_name=f"f{fold}", seed=seed,
                     seeds_redraw_folds=False, n_train=800, n_test=200, status="ok",
                     metrics={"auroc": score, "macro_auroc": score}, pretrain_loss=loss, step=step).to_dict()


def rows(with_supervised: bool = True, with_dynamics: bool = True) -> list[dict]:
    out = []
    for fold in FOLDS:
        for seed in SEEDS:
            base = supervised_score(fold, seed)
            if with_supervised:
                out.append(_row("supervised · tiny", "supervised", "probe", fold, seed, base))
            out.append(_row(LABEL, "pretrained", "probe", fold, seed, base + GAIN[1600] + jitter(fold, 1600)))
            if with_dynamics:
                out += [_row(LABEL, "pretrained", "dynamics-probe", fold, seed, base + GAIN[s] + jitter(fold, s), s,
                             LOSS.get(s)) for s in STEPS]
    return out


def test_the_main_table_ignores_dynamics_rows():
    with_dyn, without = build_board(rows()), build_board(rows(with_dynamics=False))
    assert [r.key for r in with_dyn.rows] == [r.key for r in without.rows]
    assert [(r.mean, r.diff, r.p) for r in with_dyn.rows] == [(r.mean, r.diff, r.p) for r in without.rows]
    assert with_dyn.meta.n_rows == without.meta.n_rows == 20
    assert without.dynamics is None and with_dyn.dynamics is not None


def test_curve_plateau_loss_and_best_checkpoint():
    (curve,) = build_board(rows()).dynamics.curves
    assert curve.label == LABEL and curve.protocol == "dynamics-probe"
    assert curve.reference == "supervised · tiny [probe]"
    assert [p.step for p in curve.points] == list(STEPS) and all(p.n_cells == 10 for p in curve.points)
    assert curve.plateau.step == 200 and curve.plateau.reached
    assert curve.loss_converged_step == 800 and curve.loss_converged_at_plateau is False
    assert curve.best_step == 1600
    assert curve.point(0).loss is None and curve.point(400).loss == pytest.approx(2.0)
    # the gain's interval is the leaderboard's corrected resampled t interval on the same pairs
    scores = np.array([[supervised_score(f, s) + GAIN[100] + jitter(f, 100) for f in FOLDS] for s in SEEDS])
    base = np.array([[supervised_score(f, s) for f in FOLDS] for s in SEEDS])
    ref = corrected_ttest(scores, base, test_train_ratio=0.25)
    p = curve.point(100)
    assert p.gain == pytest.approx(ref.mean_diff) and p.gain_se == pytest.approx(ref.se)
    assert (p.gain_ci_low, p.gain_ci_high) == (pytest.approx(ref.ci_low), pytest.approx(ref.ci_high))


def test_without_a_supervised_arm_the_gain_is_taken_against_step_0():
    (curve,) = build_board(rows(with_supervised=False)).dynamics.curves
    assert curve.reference.startswith("step 0")
    assert curve.point(200).gain == pytest.approx(0.05 + 0.002 / 5)
    assert curve.plateau.step == 200


def test_markdown_html_and_json_show_the_section():
    board = build_board(rows())
    md = render_markdown(board)
    section = md.split("## Training dynamics", 1)[1]
    assert "plateau at step 200" in section and "not yet converged (it converges at step 800)" in section
    assert "best checkpoint: step 1600" in section and "optimistic" in section
    assert re.search(r"\|\s+200 \| 0\.\d{3} \[0\.\d{3}, 0\.\d{3}\] \| \+0\.050 \[", section)
    assert "\\<pretrained\\>" in section  # data is escaped in Markdown too

    page = render_html(board)
    assert "<h2>Training dynamics</h2>" in page and 'class="plot dynamics_0"' in page
    assert "data:image/png;base64," in page.split("Training dynamics", 1)[1]
    assert "<pretrained>" not in page and "&lt;pretrained&gt;" in page

    doc = json.loads(render_json(board))
    (curve,) = doc["dynamics"]["curves"]
    assert curve["plateau"]["step"] == 200 and curve["best_step"] == 1600 and curve["loss_converged_step"] == 800
    assert [p["step"] for p in curve["points"]] == list(STEPS) and curve["points"][0]["loss"] is None
    assert json.loads(render_json(build_board(rows(with_dynamics=False))))["dynamics"] is None
    assert "Training dynamics" not in render_markdown(build_board(rows(with_dynamics=False)))
