"""The training-dynamics statistics from result rows: one curve per (configuration, protocol).

Each step's mean and gain get the corrected interval of the leaderboard's test (seeds averaged per fold unless
they redraw the folds), so a curve and the board agree on what counts as noise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats as sps

from tcrbench.report.dynamics.model import CurvePoint, DynamicsCurve, DynamicsSection
from tcrbench.report.model import row_key
from tcrbench.report.rows import label_fraction
from tcrbench.stats.plateau import loss_converged, plateau
from tcrbench.training.dynamics import base_protocol, is_dynamics_row

PLATEAU_WIDTH = 1.0  # band half-width in standard errors
LOSS_TOLERANCE = 0.05  # loss converged: never again falls by more than 5% of its range

Cell = tuple[int, int]  # (fold, seed)
Row = Mapping[str, Any]


def split_rows(rows: Sequence[Row]) -> tuple[list[Row], list[Row]]:
    """(leaderboard rows, dynamics rows): the leaderboard must never count a checkpoint as a configuration."""
    main: list[Row] = []
    dynamics: list[Row] = []
    for r in rows:
        (dynamics if isinstance(r, Mapping) and is_dynamics_row(r) else main).append(r)
    return main, dynamics


def build_dynamics(
    dynamics_rows: Sequence[Row],
    main_rows: Sequence[Row],
    metric: str,
    confidence: float = 0.95,
    higher_is_better: bool = True,
) -> DynamicsSection | None:
    """The section, or None when the run has no dynamics rows."""
    if not dynamics_rows:
        return None
    groups: dict[tuple[str, str, float], list[Row]] = {}
    for r in dynamics_rows:
        groups.setdefault((str(r["label"]), str(r["protocol"]), label_fraction(r)), []).append(r)
    curves = [
        _curve(label, protocol, rows, _at(main_rows, fraction), metric, confidence, higher_is_better, fraction)
        for (label, protocol, fraction), rows in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], -kv[0][2]))
    ]
    return DynamicsSection(metric, confidence, tuple(curves))


def _at(rows: Sequence[Row], fraction: float) -> list[Row]:
    """The rows fitted on ``fraction`` of the labels: a curve's reference must have seen as many labels."""
    return [r for r in rows if label_fraction(r) == fraction]


def _score(row: Row, metric: str) -> float:
    value = (row.get("metrics") or {}).get(metric)
    try:
        return float(value) if value is not None else math.nan
    except (TypeError, ValueError):
        return math.nan


def _cells(rows: Sequence[Row], metric: str) -> dict[Cell, float]:
    out = {}
    for r in rows:
        if r.get("status") == "ok" and math.isfinite(_score(r, metric)):
            out[(int(r["fold"]), int(r["seed"]))] = _score(r, metric)
    return out


def _reference(
    label_rows: Sequence[Row], main_rows: Sequence[Row], protocol: str, metric: str
) -> tuple[str, dict[Cell, float]]:
    """The supervised arm of the same protocol; without one, the curve's own step 0 (the same encoder)."""
    supervised = [r for r in main_rows if r.get("arm") == "supervised" and r.get("protocol") == protocol]
    if supervised:
        first = str(supervised[0]["label"])
        name = row_key(first, protocol, label_fraction(supervised[0]))
        return name, _cells([r for r in supervised if str(r["label"]) == first], metric)
    step0 = [r for r in label_rows if r.get("step") == 0]
    return ("step 0 (the untrained encoder)", _cells(step0, metric)) if step0 else ("none", {})


def _interval(
    cells: Mapping[Cell, float], redraw: bool, ratio: float, confidence: float
) -> tuple[float, float, float, float]:
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


def _curve(
    label: str,
    protocol: str,
    rows: Sequence[Row],
    main_rows: Sequence[Row],
    metric: str,
    confidence: float,
    higher_is_better: bool,
    fraction: float = 1.0,
) -> DynamicsCurve:
    redraw = all(bool(r.get("seeds_redraw_folds", False)) for r in rows)
    ratios = [r["n_test"] / r["n_train"] for r in rows if r.get("n_train") and r.get("n_test")]
    folds = {int(r["fold"]) for r in rows}
    ratio = float(np.mean(ratios)) if ratios else 1.0 / max(1, len(folds) - 1)
    reference, base = _reference(rows, main_rows, base_protocol(protocol), metric)
    b_mean, _, b_low, b_high = _interval(base, redraw, ratio, confidence)
    by_step: dict[int, list[Row]] = {}
    for r in rows:
        by_step.setdefault(int(r["step"]), []).append(r)
    points = []
    for step in sorted(by_step):
        at = by_step[step]
        cells = _cells(at, metric)
        mean, _, low, high = _interval(cells, redraw, ratio, confidence)
        diffs = {c: v - base[c] for c, v in cells.items() if c in base}
        gain, gain_se, g_low, g_high = _interval(diffs, redraw, ratio, confidence)
        losses = [
            float(r["pretrain_loss"]) for r in at if r.get("status") == "ok" and r.get("pretrain_loss") is not None
        ]
        points.append(
            CurvePoint(
                step,
                len(cells),
                sum(r.get("status") != "ok" for r in at),
                mean,
                low,
                high,
                gain,
                gain_se,
                g_low,
                g_high,
                float(np.mean(losses)) if losses else None,
            )
        )
    steps = [p.step for p in points]
    use_gain = any(math.isfinite(p.gain) for p in points)
    level = [p.gain if use_gain else p.mean for p in points]
    noise = [p.gain_se if use_gain else _se_of(p, confidence) for p in points]
    found = plateau(steps, level, noise, PLATEAU_WIDTH) if any(math.isfinite(v) for v in level) else None
    with_loss = [(p.step, p.loss) for p in points if p.loss is not None]
    converged = loss_converged([s for s, _ in with_loss], [v for _, v in with_loss], LOSS_TOLERANCE)
    scored = [p for p in points if math.isfinite(p.mean)]
    best = (max if higher_is_better else min)(scored, key=lambda p: p.mean).step if scored else None
    return DynamicsCurve(
        label, protocol, reference, b_mean, (b_low, b_high), tuple(points), found, converged, best, fraction
    )


def _se_of(p: CurvePoint, confidence: float) -> float:
    """A point's standard error back from its CI (used when there is no reference to take gains against)."""
    if p.n_cells < 2 or not math.isfinite(p.ci_high):
        return math.nan
    return (p.ci_high - p.mean) / float(sps.t.ppf(0.5 + confidence / 2.0, max(1, p.n_cells - 1)))
