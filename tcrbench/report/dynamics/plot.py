"""The training-dynamics figure: score against pretraining step, the supervised band, the loss, plateau and best."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from tcrbench.report.dynamics.model import OPTIMISTIC, RULE, DynamicsCurve, DynamicsSection
from tcrbench.report.figure import Plot, label_text, to_png


def curve_plot(curve: DynamicsCurve, section: DynamicsSection, index: int = 0) -> Plot:
    """Score against step with its CI, the supervised band, the loss on a second axis, plateau and best marked."""
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
        ax.plot(
            x,
            [p.mean for p in pts],
            color="#2166ac",
            marker="o",
            ms=4,
            lw=1.6,
            label=f"{label_text(section.metric)} (mean, CI)",
        )
    if curve.plateau is not None:
        ax.axvline(curve.plateau.step, color="#1b7837", lw=1.2, ls="--", label=f"plateau (step {curve.plateau.step})")
    if curve.best_step is not None:
        best = curve.point(curve.best_step)
        ax.plot(
            [best.step],
            [best.mean],
            marker="*",
            ms=13,
            color="#e08214",
            ls="none",
            label="best (chosen on test: optimistic)",
        )
    ax.set_xlabel("pretraining step")
    ax.set_ylabel(label_text(section.metric))
    if len(x) > 2 and x.max() > 0 and x[x > 0].min() * 100 <= x.max():
        ax.set_xscale("symlog", linthresh=max(1.0, float(x[x > 0].min())))
    ax.grid(alpha=0.3)
    losses = [(p.step, p.loss) for p in curve.points if p.loss is not None]
    handles, labels = ax.get_legend_handles_labels()
    if losses:
        twin = ax.twinx()
        line = twin.plot(
            [s for s, _ in losses],
            [v for _, v in losses],
            color="#777777",
            ls="--",
            marker=".",
            lw=1.2,
            label="pretraining loss",
        )
        twin.set_ylabel("pretraining loss")
        handles += line
        labels += ["pretraining loss"]
    ax.legend(handles, labels, fontsize=7, loc="best")
    ax.set_title(label_text(curve.name, 80), fontsize=10)
    caption = (
        f"{section.metric} of the encoder saved at each pretraining step, mean over folds × seeds with its "
        f"corrected {section.confidence * 100:g}% interval; grey band: {curve.reference}; dashed grey: the "
        f"pretraining loss (right axis). Rule — {RULE}. Star: {OPTIMISTIC}."
    )
    return Plot(f"dynamics_{index}", f"Training dynamics: {curve.name}", caption, to_png(fig))
