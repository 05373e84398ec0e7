"""The training-dynamics section as plain sentences and table cells, shared by Markdown and HTML so they agree.

``fmt_num`` is the renderers' number formatter (tcrbench.report.format.num); each renderer escapes the text.
"""

from __future__ import annotations

import math
from typing import Any

from tcrbench.report.dynamics.model import OPTIMISTIC, DynamicsCurve, DynamicsSection

TABLE_HEADERS = ("step", "{metric} mean [{pct}% CI]", "gain [{pct}% CI]", "pretraining loss", "cells", "")


def summary_lines(curve: DynamicsCurve, fmt_num: Any) -> list[str]:
    """The curve's findings as plain sentences (Markdown and HTML wrap them; `fmt_num` formats numbers)."""
    out = [
        f"gain taken against {curve.reference}: {fmt_num(curve.baseline_mean)} "
        f"[{fmt_num(curve.baseline_ci[0])}, {fmt_num(curve.baseline_ci[1])}]"
    ]
    p = curve.plateau
    if p is None:
        out.append("plateau: no finished checkpoint to judge")
    else:
        what = "gain" if any(math.isfinite(x.gain) for x in curve.points) else "score"
        state = "" if p.reached else " (only the last checkpoint qualifies: still changing when pretraining ended)"
        out.append(
            f"plateau at step {p.step}: mean {what} {fmt_num(p.level, signed=what == 'gain')} "
            f"± {fmt_num(p.half_width)} from there on{state}"
        )
        converged = curve.loss_converged_at_plateau
        if converged is not None:
            loss_at = curve.loss_converged_step
            when = f"it converges at step {loss_at}" if loss_at is not None else "it was still falling at the end"
            out.append(f"pretraining loss at the plateau: {'converged' if converged else 'not yet converged'} ({when})")
    if curve.best_step is not None:
        best = curve.point(curve.best_step)
        out.append(f"best checkpoint: step {curve.best_step}, {fmt_num(best.mean)} — {OPTIMISTIC}")
    return out


def table_rows(curve: DynamicsCurve, fmt_num: Any) -> list[list[str]]:
    """step, score [CI], gain [CI], loss, cells (failed)."""
    out = []
    for p in curve.points:
        score = f"{fmt_num(p.mean)} [{fmt_num(p.ci_low)}, {fmt_num(p.ci_high)}]"
        gain = (
            f"{fmt_num(p.gain, signed=True)} [{fmt_num(p.gain_ci_low, signed=True)}, "
            f"{fmt_num(p.gain_ci_high, signed=True)}]"
        )
        marks = []
        if curve.plateau is not None and p.step == curve.plateau.step:
            marks.append("plateau")
        if p.step == curve.best_step:
            marks.append("best (optimistic)")
        cells = f"{p.n_cells}" + (f" ({p.n_failed} failed)" if p.n_failed else "")
        out.append([str(p.step), score, gain, fmt_num(p.loss, 4), cells, ", ".join(marks)])
    return out


def headers(section: DynamicsSection) -> list[str]:
    """The column headers of :func:`table_rows`, with the section's metric and confidence filled in."""
    pct = f"{section.confidence * 100:g}"
    return [h.format(metric=section.metric, pct=pct) for h in TABLE_HEADERS]
