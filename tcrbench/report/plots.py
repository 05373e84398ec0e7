"""The board's plots as PNG bytes, ready to inline in HTML: few, small (dpi 100), and from the board alone."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from tcrbench.report.figure import Plot, label_text, to_png
from tcrbench.report.merge import Ranking
from tcrbench.report.model import BoardRow, Leaderboard, fraction_text

__all__ = ["Plot", "board_plots", "cd_diagram", "forest", "learning_curve", "paired_lines", "peptide_heatmap"]

MAX_PEPTIDES = 30
UP, DOWN, FLAT = "#1b7837", "#b2182b", "#777777"
ARM_COLOURS = {"pretrained": "#2166ac", "supervised": "#444444", "baseline": "#e08214"}
SHORTCUT_COLOUR = "#999999"
SUPERVISED_GREYS = ("#222222", "#6b6b6b", "#a0a0a0")
CURVE_COLOURS = ("#2166ac", "#1b7837", "#762a83", "#e08214", "#b2182b", "#35978f", "#8c510a", "#c51b7d")


def _tag(row: BoardRow) -> str:
    rank = f"#{row.rank} " if row.rank is not None else ""
    share = f" @ {fraction_text(row.label_fraction)}" if row.label_fraction < 1.0 else ""
    return label_text(f"{rank}{row.label}", 34) + f" [{label_text(row.protocol, 12)}]{share}"


def _finite_or(x: float | None, default: float) -> float:
    """``x`` where it is a finite number, else ``default`` (an interval end the test could not give)."""
    return x if x is not None and math.isfinite(x) else default


def _colour(row: BoardRow) -> str:
    return SHORTCUT_COLOUR if row.shortcut else ARM_COLOURS.get(row.arm, "#2166ac")


def paired_lines(board: Leaderboard) -> Plot | None:
    """Each compared configuration beside its reference, one line per (fold, seed) pair: slope = difference."""
    rows = board.compared()
    if not rows:
        return None
    fig = Figure(figsize=(min(14.0, 2.5 + 0.9 * len(rows)), 4.6), layout="constrained")
    ax = fig.add_subplot()
    for i, row in enumerate(rows):
        ref = {(c.fold, c.seed): c.score for c in board.row(row.reference).cells} if row.reference else {}
        for cell in row.cells:
            base = ref.get((cell.fold, cell.seed), math.nan)
            if not (math.isfinite(cell.score) and math.isfinite(base)):
                continue
            colour = (
                FLAT
                if abs(cell.score - base) < 1e-12
                else (UP if (cell.score > base) == board.meta.higher_is_better else DOWN)
            )
            ax.plot([i - 0.28, i + 0.28], [base, cell.score], color=colour, lw=1.2, alpha=0.8, marker="o", ms=3)
    ax.set_xticks(range(len(rows)), [_tag(r) for r in rows], rotation=35, ha="right", fontsize=8)
    ax.set_xlim(-0.6, len(rows) - 0.4)
    ax.set_ylabel(label_text(board.metric))
    ax.grid(axis="y", alpha=0.3)
    ax.set_title("Per fold: supervised reference (left end) → configuration (right end)", fontsize=10)
    caption = (
        "One line per (fold, seed) cell, from the score of the supervised arm the row is compared with to the "
        "configuration's score on the same cell; green: the configuration wins the cell, red: it loses."
    )
    return Plot("paired_lines", "Paired per-fold scores", caption, to_png(fig))


def forest(board: Leaderboard) -> Plot | None:
    """Differences from the reference with their corrected CIs; filled markers: Holm p < 0.05."""
    rows = [r for r in board.compared() if r.diff is not None and math.isfinite(r.diff)]
    if not rows:
        return None
    fig = Figure(figsize=(8.0, 1.2 + 0.38 * len(rows)), layout="constrained")
    ax = fig.add_subplot()
    for y, row in enumerate(rows):
        diff = _finite_or(row.diff, math.nan)
        low, high = _finite_or(row.ci_low, diff), _finite_or(row.ci_high, diff)
        colour = _colour(row)
        ax.plot([low, high], [y, y], color=colour, lw=2)
        significant = row.p_holm is not None and row.p_holm < 0.05
        ax.plot([diff], [y], marker="o", ms=7, color=colour, mfc=colour if significant else "white", mew=1.5)
    ax.axvline(0.0, color="#333333", lw=1, ls="--")
    ax.set_yticks(range(len(rows)), [_tag(r) for r in rows], fontsize=8)
    ax.invert_yaxis()
    pct = f"{board.meta.confidence * 100:g}"
    ax.set_xlabel(f"difference in {label_text(board.metric)} from the supervised reference ({pct}% corrected CI)")
    ax.grid(axis="x", alpha=0.3)
    caption = (
        f"Mean difference from the supervised arm with its corrected {pct}% interval (Nadeau–Bengio). "
        "An interval crossing the dashed line at 0 is not shown to differ. Filled: Holm p < 0.05. "
        "Blue: pretrained, orange: baselines, grey: shortcut baselines."
    )
    return Plot("forest", "Differences from the supervised arm", caption, to_png(fig))


def peptide_heatmap(board: Leaderboard, max_peptides: int = MAX_PEPTIDES) -> Plot | None:
    """Per-peptide AUROC, configurations × the peptides with most positives (0.5 = white = chance)."""
    table = board.per_peptide
    if table is None or not table.keys or not table.peptides:
        return None
    n = min(max_peptides, len(table.peptides))
    values = np.array([row[:n] for row in table.auroc], dtype=float)
    rows = [board.row(k) for k in table.keys]
    fig = Figure(figsize=(min(16.0, 3.5 + 0.42 * n), 1.6 + 0.36 * len(rows)), layout="constrained")
    ax = fig.add_subplot()
    masked = np.ma.masked_invalid(values)
    image = ax.imshow(masked, cmap="RdBu", norm=TwoSlopeNorm(vcenter=0.5, vmin=0.0, vmax=1.0), aspect="auto")
    ax.set_facecolor("#dddddd")
    ax.set_yticks(range(len(rows)), [_tag(r) for r in rows], fontsize=8)
    ax.set_xticks(
        range(n),
        [label_text(f"{p} ({k})", 24) for p, k in zip(table.peptides[:n], table.n_positives[:n])],
        rotation=90,
        fontsize=7,
    )
    if values.size <= 400:
        for (i, j), v in np.ndenumerate(values):
            if math.isfinite(v):
                ax.text(
                    j,
                    i,
                    f"{v:.2f}",
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="white" if abs(v - 0.5) > 0.3 else "black",
                )
    fig.colorbar(image, ax=ax, shrink=0.8, label="AUROC")
    more = f" (the {n} with most positives of {len(table.peptides)})" if n < len(table.peptides) else ""
    caption = (
        f"AUROC per peptide{more}; in brackets its positives in the test folds. {table.how}. "
        "Grey: no fold had enough positives."
    )
    return Plot("peptide_heatmap", "Per-peptide AUROC", caption, to_png(fig))


def cd_diagram(ranking: Ranking) -> Plot | None:
    """Demšar's critical-difference diagram: mean ranks on an axis, bars join methods not shown to differ."""
    if ranking.nemenyi is None or ranking.cd is None:
        return None
    names = list(ranking.nemenyi.methods)
    ranks = list(ranking.nemenyi.mean_ranks)
    k = len(names)
    order = sorted(range(k), key=lambda i: ranks[i])
    half = math.ceil(k / 2)
    bottom = -(0.5 * half + 0.4 + 0.14 * max(0, len(ranking.cliques) - 2))
    fig = Figure(figsize=(9.0, 0.6 * (1.5 - bottom) + 0.4), layout="constrained")
    ax = fig.add_subplot()
    ax.set_xlim(0.5 - 0.35 * k, k + 0.5 + 0.35 * k)
    ax.set_ylim(bottom, 1.5)
    ax.axis("off")
    ax.plot([1, k], [0, 0], color="black", lw=1)
    for t in range(1, k + 1):
        ax.plot([t, t], [0, 0.12], color="black", lw=1)
        ax.text(t, 0.2, str(t), ha="center", va="bottom", fontsize=8)
    ax.plot([1, 1 + ranking.cd], [1.05, 1.05], color="#b2182b", lw=2)
    ax.text(1 + ranking.cd / 2, 1.15, f"CD = {ranking.cd:.2f}", ha="center", va="bottom", fontsize=8)
    for pos, i in enumerate(order):
        left = pos < half
        level = -(pos + 1) if left else -(k - pos)
        x_end = 0.5 - 0.05 * k if left else k + 0.5 + 0.05 * k
        ax.plot([ranks[i], ranks[i], x_end], [0, level * 0.5 - 0.1, level * 0.5 - 0.1], color="#444444", lw=0.8)
        ax.text(
            x_end,
            level * 0.5 - 0.1,
            f" {label_text(names[i], 34)} ({ranks[i]:.2f}) ",
            fontsize=8,
            va="center",
            ha="right" if left else "left",
        )
    for j, clique in enumerate(ranking.cliques):
        members = [ranks[names.index(m)] for m in clique]
        y = -0.18 - 0.14 * j
        ax.plot([min(members) - 0.03, max(members) + 0.03], [y, y], color="#2166ac", lw=3, solid_capstyle="round")
    caption = (
        f"Mean rank of each method over {len(ranking.datasets)} datasets (1 = best). Methods joined by a blue "
        f"bar differ by less than the Nemenyi critical difference (alpha = {ranking.alpha:g}): not shown to differ."
    )
    return Plot("cd_diagram", "Critical-difference diagram", caption, to_png(fig))


def board_plots(board: Leaderboard) -> list[Plot]:
    """Every plot the board supports, in reading order."""
    candidates: Sequence[Plot | None]
    if board.kind == "merged":
        candidates = [cd_diagram(board.ranking)] if board.ranking is not None else []
    else:
        candidates = [forest(board), paired_lines(board), learning_curve(board), peptide_heatmap(board)]
    return [p for p in candidates if p is not None]


def learning_curve(board: Leaderboard) -> Plot | None:
    """Score against labelled rows (log x), one line per configuration; each bar is the corrected CI of the
    difference from the supervised arm at that fraction, drawn around that arm's mean, so a bar that misses the
    supervised point is a difference the test saw."""
    section = board.learning_curves
    if section is None:
        return None
    points = {p.key: p for c in section.curves for p in c.points}
    by_rows = all(p.n_labelled is not None and p.n_labelled > 0 for p in points.values())

    def x_of(p: float | None, fraction: float) -> float:
        return float(p) if by_rows and p is not None else fraction

    fig = Figure(figsize=(8.5, 5.0), layout="constrained")
    ax = fig.add_subplot()
    n = len(section.curves)
    supervised = [c.key for c in section.curves if c.arm == "supervised"]
    for i, curve in enumerate(section.curves):
        if curve.shortcut:
            colour = SHORTCUT_COLOUR
        elif curve.arm == "supervised":  # one grey per protocol's reference
            colour = SUPERVISED_GREYS[supervised.index(curve.key) % len(SUPERVISED_GREYS)]
        else:
            colour = CURVE_COLOURS[i % len(CURVE_COLOURS)]
        nudge = 1.0 + 0.025 * (i - (n - 1) / 2)  # side by side on a log axis, so bars do not hide each other
        xs = [x_of(p.n_labelled, p.label_fraction) * nudge for p in curve.points]
        ys = [p.mean for p in curve.points]
        style = "--" if curve.shortcut or curve.arm == "baseline" else "-"
        ax.plot(xs, ys, color=colour, ls=style, lw=1.5, label=label_text(curve.key, 44))
        for x, p in zip(xs, curve.points):
            ref = points.get(p.reference) if p.reference else None
            if ref is not None and p.ci_low is not None and p.ci_high is not None and math.isfinite(ref.mean):
                low, high = ref.mean + _finite_or(p.ci_low, 0.0), ref.mean + _finite_or(p.ci_high, 0.0)
                ax.plot([x, x], [low, high], color=colour, lw=1.2, alpha=0.8)
                ax.plot([x, x], [low, high], color=colour, lw=0, marker="_", ms=7)
            filled = p.is_reference or p.significant
            ax.plot([x], [p.mean], marker="o", ms=6, color=colour, mfc=colour if filled else "white", mew=1.5)
    ax.set_xscale("log")
    ticks = sorted({x_of(p.n_labelled, p.label_fraction) for p in points.values()})
    ax.set_xticks(ticks, [f"{t:,.0f}" if by_rows else fraction_text(t) for t in ticks], fontsize=8)
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("labelled training rows (log scale)" if by_rows else "share of labelled training rows (log scale)")
    ax.set_ylabel(label_text(board.metric))
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="best")
    pct = f"{section.confidence * 100:g}"
    caption = (
        f"Mean {board.metric} over folds × seeds against the labelled training rows each configuration was fitted "
        f"on (mean over cells; fractions {', '.join(fraction_text(f) for f in section.fractions)}). Bars: the "
        f"corrected {pct}% CI of the difference from the supervised arm of the same protocol at the same fraction, "
        "drawn around that arm's mean (grey lines): a bar that does not reach the supervised mean shows a "
        "difference. Filled: Holm p < 0.05 (and the supervised arms, which carry no bar). Dashed: baselines. "
        "Points are nudged sideways so bars do not overlap."
    )
    return Plot("learning_curve", "Learning curve", caption, to_png(fig))
