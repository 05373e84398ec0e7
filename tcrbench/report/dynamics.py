"""The training-dynamics section of a leaderboard: downstream score against pretraining step.

For every pretrained configuration run with --eval-every: the metric at each evaluated step (mean and
corrected CI over folds × seeds), its gain over the supervised arm of the same protocol (paired by fold and
seed), the pretraining loss at that step, the step where the gain plateaus (tcrbench.stats.plateau) and
whether the loss had converged by then. The best checkpoint is reported with the warning it deserves: it
was chosen on the test folds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as sps

from tcrbench.stats.plateau import Plateau, loss_converged, plateau
from tcrbench.training.dynamics import base_protocol, is_dynamics_row

PLATEAU_WIDTH = 1.0  # band half-width in standard errors
LOSS_TOLERANCE = 0.05  # loss converged: never again falls by more than 5% of its range
RULE = ("plateau: the earliest checkpoint from which every later mean gain stays within ± 1 standard error "
        "(the mean of those checkpoints' corrected standard errors over folds × seeds) of the mean gain over "
        "those checkpoints; the pretraining loss has converged at a checkpoint when it never again falls by "
        "more than 5% of its range over the run")
OPTIMISTIC = ("the best checkpoint is chosen on the test folds, so its score is optimistic: report the plateau "
              "(or the last) checkpoint, or choose on a validation split")

Cell = tuple[int, int]  # (fold, seed)


@dataclass(frozen=True)
class CurvePoint:
    step: int
    n_cells: int
    n_failed: int
    mean: float
    ci_low: float
    ci_high: float
    gain: float  # mean of (score - supervised) over the paired cells; NaN without a reference
    gain_se: float
    gain_ci_low: float
    gain_ci_high: float
    loss: float | None  # mean pretraining loss over the cells at this step (None at step 0)


@dataclass(frozen=True)
class DynamicsCurve:
    """One configuration's curve under one protocol."""

    label: str
    protocol: str  # dynamics-probe | dynamics-finetune
    reference: str  # what the gain is taken against
    baseline_mean: float
    baseline_ci: tuple[float, float]
    points: tuple[CurvePoint, ...]
    plateau: Plateau | None
    loss_converged_step: int | None
    best_step: int | None

    @property
    def loss_converged_at_plateau(self) -> bool | None:
        """Had the loss converged (by the rule) by the plateau step? None without a plateau or a loss."""
        if self.plateau is None or not any(p.loss is not None for p in self.points):
            return None
        return self.loss_converged_step is not None and self.loss_converged_step <= self.plateau.step

    def point(self, step: int) -> CurvePoint:
        for p in self.points:
            if p.step == step:
                return p
        raise KeyError(step)


@dataclass(frozen=True)
class DynamicsSection:
    metric: str
    confidence: float
    curves: tuple[DynamicsCurve, ...]
    rule: str = RULE
    warning: str = OPTIMISTIC


def split_rows(rows: Sequence[Mapping[str, Any]]) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """(leaderboard rows, dynamics rows): the leaderboard must never count a checkpoint as a configuration."""
    main, dynamics = [], []
    for r in rows:
        (dynamics if isinstance(r, Mapping) and is_dynamics_row(r) else main).append(r)
    return main, dynamics


def build_dynamics(dynamics_rows: Sequence[Mapping[str, Any]], main_rows: Sequence[Mapping[str, Any]],
                   metric: str, confidence: float = 0.95, higher_is_better: bool = True) -> DynamicsSection | None:
    """The section, or None when the run has no dynamics rows."""
    if not dynamics_rows:
        return None
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for r in dynamics_rows:
        groups.setdefault((str(r["label"]), str(r["protocol"])), []).append(r)
    curves = [_curve(label, protocol, rows, main_rows, metric, confidence, higher_is_better)
              for (label, protocol), rows in sorted(groups.items())]
    return DynamicsSection(metric, confidence, tuple(curves))


def _score(row: Mapping[str, Any], metric: str) -> float:
    value = (row.get("metrics") or {}).get(metric)
    try:
        return float(value) if value is not None else math.nan
    except (TypeError, ValueError):
        return math.nan


def _cells(rows: Sequence[Mapping[str, Any]], metric: str) -> dict[Cell, float]:
    out = {}
    for r in rows:
        if r.get("status") == "ok" and math.isfinite(_score(r, metric)):
            out[(int(r["fold"]), int(r["seed"]))] = _score(r, metric)
    return out


def _reference(label_rows: Sequence[Mapping[str, Any]], main_rows: Sequence[Mapping[str, Any]], protocol: str,
               metric: str) -> tuple[str, dict[Cell, float]]:
    """The supervised arm of the same protocol; without one, the curve's own step 0 (the same encoder)."""
    supervised = [r for r in main_rows if r.get("arm") == "supervised" and r.get("protocol") == protocol]
    if supervised:
        first = str(supervised[0]["label"])
        return f"{first} [{protocol}]", _cells([r for r in supervised if str(r["label"]) == first], metric)
    step0 = [r for r in label_rows if r.get("step") == 0]
    return ("step 0 (the untrained encoder)", _cells(step0, metric)) if step0 else ("none", {})


def _interval(cells: Mapping[Cell, float], redraw: bool, ratio: float,
              confidence: float) -> tuple[float, float, float, float]:
    """Mean, corrected standard error and CI over cells; seeds averaged per fold unless they redraw folds."""
    if not cells:
        return math.nan, math.nan, math.nan, math.nan
    if redraw:
        values = np.asarray(list(cells.values()), dtype=float)
    else:
        by_fold: dict[int, list[float]] = {}
        for (fold, _), v in cells.items():
            by_fold.setdefault(fold, []).append(v)
        values = np.asarray([np.mean(v) for v in by_fold.values()], dtype=float)
    mean = float(values.mean())
    if values.size < 2:
        return mean, math.nan, math.nan, math.nan
    se = math.sqrt(1.0 / values.size + ratio) * float(values.std(ddof=1))
    half = float(sps.t.ppf(0.5 + confidence / 2.0, values.size - 1)) * se
    return mean, se, mean - half, mean + half


def _curve(label: str, protocol: str, rows: Sequence[Mapping[str, Any]], main_rows: Sequence[Mapping[str, Any]],
           metric: str, confidence: float, higher_is_better: bool) -> DynamicsCurve:
    redraw = all(bool(r.get("seeds_redraw_folds", False)) for r in rows)
    ratios = [r["n_test"] / r["n_train"] for r in rows if r.get("n_train") and r.get("n_test")]
    folds = {int(r["fold"]) for r in rows}
    ratio = float(np.mean(ratios)) if ratios else 1.0 / max(1, len(folds) - 1)
    reference, base = _reference(rows, main_rows, base_protocol(protocol), metric)
    b_mean, _, b_low, b_high = _interval(base, redraw, ratio, confidence)
    by_step: dict[int, list[Mapping[str, Any]]] = {}
    for r in rows:
        by_step.setdefault(int(r["step"]), []).append(r)
    points = []
    for step in sorted(by_step):
        at = by_step[step]
        cells = _cells(at, metric)
        mean, _, low, high = _interval(cells, redraw, ratio, confidence)
        diffs = {c: v - base[c] for c, v in cells.items() if c in base}
        gain, gain_se, g_low, g_high = _interval(diffs, redraw, ratio, confidence)
        losses = [float(r["pretrain_loss"]) for r in at
                  if r.get("status") == "ok" and r.get("pretrain_loss") is not None]
        points.append(CurvePoint(step, len(cells), sum(r.get("status") != "ok" for r in at), mean, low, high,
                                 gain, gain_se, g_low, g_high, float(np.mean(losses)) if losses else None))
    steps = [p.step for p in points]
    use_gain = any(math.isfinite(p.gain) for p in points)
    level = [p.gain if use_gain else p.mean for p in points]
    noise = [p.gain_se if use_gain else _se_of(p, confidence) for p in points]
    found = plateau(steps, level, noise, PLATEAU_WIDTH) if any(math.isfinite(v) for v in level) else None
    with_loss = [p for p in points if p.loss is not None]
    converged = loss_converged([p.step for p in with_loss], [p.loss for p in with_loss], LOSS_TOLERANCE)
    scored = [p for p in points if math.isfinite(p.mean)]
    best = (max if higher_is_better else min)(scored, key=lambda p: p.mean).step if scored else None
    return DynamicsCurve(label, protocol, reference, b_mean, (b_low, b_high), tuple(points), found, converged, best)


def _se_of(p: CurvePoint, confidence: float) -> float:
    """A point's standard error back from its CI (used when there is no reference to take gains against)."""
    if p.n_cells < 2 or not math.isfinite(p.ci_high):
        return math.nan
    return (p.ci_high - p.mean) / float(sps.t.ppf(0.5 + confidence / 2.0, max(1, p.n_cells - 1)))


# ---------------------------------------------------------------------------------------------- renderers' data
def summary_lines(curve: DynamicsCurve, fmt_num: Any) -> list[str]:
    """The curve's findings as plain sentences (Markdown and HTML wrap them; `fmt_num` formats numbers)."""
    out = [f"gain taken against {curve.reference}: {fmt_num(curve.baseline_mean)} "
           f"[{fmt_num(curve.baseline_ci[0])}, {fmt_num(curve.baseline_ci[1])}]"]
    p = curve.plateau
    if p is None:
        out.append("plateau: no finished checkpoint to judge")
    else:
        what = "gain" if any(math.isfinite(x.gain) for x in curve.points) else "score"
        state = "" if p.reached else " (only the last checkpoint qualifies: still changing when pretraining ended)"
        out.append(f"plateau at step {p.step}: mean {what} {fmt_num(p.level, signed=what == 'gain')} "
                   f"± {fmt_num(p.half_width)} from there on{state}")
        converged = curve.loss_converged_at_plateau
        if converged is not None:
            loss_at = curve.loss_converged_step
            when = f"it converges at step {loss_at}" if loss_at is not None else "it was still falling at the end"
            out.append(f"pretraining loss at the plateau: {'converged' if converged else 'not yet converged'} "
                       f"({when})")
    if curve.best_step is not None:
        best = curve.point(curve.best_step)
        out.append(f"best checkpoint: step {curve.best_step}, {fmt_num(best.mean)} — {OPTIMISTIC}")
    return out


def table_rows(curve: DynamicsCurve, fmt_num: Any) -> list[list[str]]:
    """step, score [CI], gain [CI], loss, cells (failed)."""
    out = []
    for p in curve.points:
        score = f"{fmt_num(p.mean)} [{fmt_num(p.ci_low)}, {fmt_num(p.ci_high)}]"
        gain = (f"{fmt_num(p.gain, signed=True)} [{fmt_num(p.gain_ci_low, signed=True)}, "
                f"{fmt_num(p.gain_ci_high, signed=True)}]")
        marks = []
        if curve.plateau is not None and p.step == curve.plateau.step:
            marks.append("plateau")
        if p.step == curve.best_step:
            marks.append("best (optimistic)")
        cells = f"{p.n_cells}" + (f" ({p.n_failed} failed)" if p.n_failed else "")
        out.append([str(p.step), score, gain, fmt_num(p.loss, 4), cells, ", ".join(marks)])
    return out


TABLE_HEADERS = ("step", "{metric} mean [{pct}% CI]", "gain [{pct}% CI]", "pretraining loss", "cells", "")


def headers(section: DynamicsSection) -> list[str]:
    pct = f"{section.confidence * 100:g}"
    return [h.format(metric=section.metric, pct=pct) for h in TABLE_HEADERS]


def section_to_dict(section: DynamicsSection) -> dict[str, Any]:
    """The section as plain values for leaderboard.json."""
    return {
        "metric": section.metric, "confidence": section.confidence, "rule": section.rule,
        "warning": section.warning,
        "curves": [{
            "label": c.label, "protocol": c.protocol, "reference": c.reference, "baseline_mean": c.baseline_mean,
            "baseline_ci": list(c.baseline_ci),
            "plateau": None if c.plateau is None else {
                "step": c.plateau.step, "level": c.plateau.level, "half_width": c.plateau.half_width,
                "reached": c.plateau.reached},
            "loss_converged_step": c.loss_converged_step, "loss_converged_at_plateau": c.loss_converged_at_plateau,
            "best_step": c.best_step,
            "points": [{"step": p.step, "n_cells": p.n_cells, "n_failed": p.n_failed, "mean": p.mean,
                        "ci_low": p.ci_low, "ci_high": p.ci_high, "gain": p.gain, "gain_se": p.gain_se,
                        "gain_ci_low": p.gain_ci_low, "gain_ci_high": p.gain_ci_high, "loss": p.loss}
                       for p in c.points],
        } for c in section.curves],
    }


def curve_plot(curve: DynamicsCurve, section: DynamicsSection, index: int = 0) -> Any:
    """Score against step with its CI, the supervised band, the loss on a second axis, plateau and best marked."""
    from matplotlib.figure import Figure

    from tcrbench.report.plots import Plot, _png, _text

    pts = [p for p in curve.points if math.isfinite(p.mean)]
    fig = Figure(figsize=(7.5, 4.0), layout="constrained")
    ax = fig.add_subplot()
    x = np.asarray([p.step for p in pts], dtype=float)
    if math.isfinite(curve.baseline_mean):
        low, high = curve.baseline_ci
        if math.isfinite(low) and math.isfinite(high):
            ax.axhspan(low, high, color="#bbbbbb", alpha=0.35, lw=0, label="supervised (CI)")
        ax.axhline(curve.baseline_mean, color="#444444", lw=1, ls=":", label="supervised mean")
    if pts:
        lows = np.asarray([p.ci_low if math.isfinite(p.ci_low) else p.mean for p in pts])
        highs = np.asarray([p.ci_high if math.isfinite(p.ci_high) else p.mean for p in pts])
        ax.fill_between(x, lows, highs, color="#2166ac", alpha=0.18, lw=0)
        ax.plot(x, [p.mean for p in pts], color="#2166ac", marker="o", ms=4, lw=1.6,
                label=f"{_text(section.metric)} (mean, CI)")
    if curve.plateau is not None:
        ax.axvline(curve.plateau.step, color="#1b7837", lw=1.2, ls="--", label=f"plateau (step {curve.plateau.step})")
    if curve.best_step is not None:
        best = curve.point(curve.best_step)
        ax.plot([best.step], [best.mean], marker="*", ms=13, color="#e08214", ls="none",
                label="best (chosen on test: optimistic)")
    ax.set_xlabel("pretraining step")
    ax.set_ylabel(_text(section.metric))
    if len(x) > 2 and x.max() > 0 and x[x > 0].min() * 100 <= x.max():
        ax.set_xscale("symlog", linthresh=max(1.0, float(x[x > 0].min())))
    ax.grid(alpha=0.3)
    losses = [(p.step, p.loss) for p in curve.points if p.loss is not None]
    handles, labels = ax.get_legend_handles_labels()
    if losses:
        twin = ax.twinx()
        line = twin.plot([s for s, _ in losses], [v for _, v in losses], color="#777777", ls="--", marker=".",
                         lw=1.2, label="pretraining loss")
        twin.set_ylabel("pretraining loss")
        handles += line
        labels += ["pretraining loss"]
    ax.legend(handles, labels, fontsize=7, loc="best")
    ax.set_title(f"{_text(curve.label, 60)} [{curve.protocol}]", fontsize=10)
    caption = (f"{section.metric} of the encoder saved at each pretraining step, mean over folds × seeds with its "
               f"corrected {section.confidence * 100:g}% interval; grey band: {curve.reference}; dashed grey: the "
               f"pretraining loss (right axis). Rule — {RULE}. Star: {OPTIMISTIC}.")
    return Plot(f"dynamics_{index}", f"Training dynamics: {curve.label} [{curve.protocol}]",
                caption, _png(fig))
