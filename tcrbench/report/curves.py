"""Label-fraction learning curves: each configuration's score against the labelled rows it was fitted on.

Every (configuration, fraction) is already a row of the board, tested against the supervised arm at the same
fraction with Holm across the whole board; a curve only regroups those rows by configuration, so the curve and
the table can never disagree. The section exists when the board holds more than one label fraction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tcrbench.report import format as fmt
from tcrbench.report.model import BoardRow, fraction_text, row_key

_ARM_ORDER = {"supervised": 0, "pretrained": 1, "baseline": 2}


@dataclass(frozen=True)
class FractionPoint:
    """One configuration at one label fraction: the board row's numbers (``key`` names the row)."""

    label_fraction: float
    key: str
    n_labelled: float | None
    mean: float
    sd: float
    n_scores: int
    is_reference: bool
    reference: str | None
    diff: float | None
    ci_low: float | None
    ci_high: float | None
    p_holm: float | None
    detectable: float | None  # shown only where the comparison is not significant
    significant: bool


@dataclass(frozen=True)
class LearningCurve:
    """One configuration (label and protocol) across the board's label fractions, smallest first."""

    label: str
    protocol: str
    arm: str
    shortcut: bool
    points: tuple[FractionPoint, ...]

    @property
    def key(self) -> str:
        """The configuration's identity at all labels: "label [protocol]"."""
        return row_key(self.label, self.protocol)


@dataclass(frozen=True)
class LearningCurves:
    """Every configuration's curve; ``fractions`` are the board's label fractions, smallest first."""

    metric: str
    confidence: float
    fractions: tuple[float, ...]
    curves: tuple[LearningCurve, ...]


def _point(r: BoardRow) -> FractionPoint:
    return FractionPoint(
        label_fraction=r.label_fraction,
        key=r.key,
        n_labelled=r.n_labelled,
        mean=r.mean,
        sd=r.sd,
        n_scores=r.n_scores,
        is_reference=r.is_reference,
        reference=r.reference,
        diff=r.diff,
        ci_low=r.ci_low,
        ci_high=r.ci_high,
        p_holm=r.p_holm,
        detectable=r.detectable,
        significant=r.significant,
    )


def learning_curves(rows: Sequence[BoardRow], metric: str, confidence: float) -> LearningCurves | None:
    """The curves of a board's rows; None when the board holds a single label fraction."""
    fractions = tuple(sorted({r.label_fraction for r in rows}))
    if len(fractions) < 2:
        return None
    groups: dict[tuple[str, str], list[BoardRow]] = {}
    for r in rows:
        groups.setdefault((r.label, r.protocol), []).append(r)
    protocols = list(dict.fromkeys(p for _, p in groups))
    order = sorted(groups, key=lambda k: (protocols.index(k[1]), _ARM_ORDER.get(groups[k][0].arm, 3), k[0]))
    curves = []
    for label, protocol in order:
        members = sorted(groups[(label, protocol)], key=lambda r: r.label_fraction)
        curves.append(
            LearningCurve(
                label=label,
                protocol=protocol,
                arm=members[0].arm,
                shortcut=any(r.shortcut for r in members),
                points=tuple(_point(r) for r in members),
            )
        )
    return LearningCurves(metric, confidence, fractions, tuple(curves))


def shown_detectable(p: FractionPoint) -> float | None:
    """The detectable difference where it is worth printing: a comparison that did not show a difference."""
    return p.detectable if p.detectable is not None and not p.significant else None


def table(section: LearningCurves) -> tuple[list[str], list[list[str]], list[bool]]:
    """(headers, rows, numeric columns) of the learning-curve table, shared by Markdown and HTML."""
    pct = f"{section.confidence * 100:g}"
    headers = [
        "configuration",
        "label fraction",
        "labelled rows",
        f"{section.metric} mean ± sd",
        f"diff vs supervised at that fraction [{pct}% CI]",
        "Holm p",
    ]
    numeric = [False, True, True, True, True, True]
    detectable = any(shown_detectable(p) is not None for c in section.curves for p in c.points)
    if detectable:
        headers.append(fmt.DETECTABLE_HEADER)
        numeric.append(True)
    rows = []
    for c in section.curves:
        for p in c.points:
            name = f"{c.label} [{c.protocol}]" + (" (reference)" if p.is_reference else "")
            diff = (
                fmt.MISSING
                if p.diff is None
                else f"{fmt.num(p.diff, signed=True)} [{fmt.num(p.ci_low, signed=True)}, "
                f"{fmt.num(p.ci_high, signed=True)}]"
            )
            line = [
                name,
                fraction_text(p.label_fraction),
                fmt.num(p.n_labelled, 0),
                fmt.mean_sd(p.mean, p.sd),
                diff,
                fmt.pval(p.p_holm),
            ]
            if detectable:
                line.append(fmt.num(shown_detectable(p)) if shown_detectable(p) is not None else "")
            rows.append(line)
    return headers, rows, numeric


def caption(section: LearningCurves) -> str:
    """What the table shows, in one paragraph (each renderer escapes it)."""
    pct = f"{section.confidence * 100:g}"
    return (
        f"Each configuration at each label fraction ({', '.join(fraction_text(f) for f in section.fractions)} of "
        "each training fold's labelled rows, nested subsets; pretraining saw every sequence): labelled rows (mean "
        f"over cells), {section.metric} over folds × seeds, and the difference from the supervised arm of the same "
        f"protocol at the same fraction with its corrected {pct}% CI; Holm p is adjusted across every comparison "
        "on the board."
    )


def curves_to_dict(section: LearningCurves | None) -> dict[str, Any] | None:
    """leaderboard.json's ``learning_curve`` (null when the board holds a single label fraction)."""
    if section is None:
        return None
    return {
        "metric": section.metric,
        "confidence": section.confidence,
        "fractions": list(section.fractions),
        "curves": [
            {
                "key": c.key,
                "label": c.label,
                "protocol": c.protocol,
                "arm": c.arm,
                "shortcut": c.shortcut,
                "points": [
                    {
                        "label_fraction": p.label_fraction,
                        "key": p.key,
                        "n_labelled": p.n_labelled,
                        "mean": p.mean,
                        "sd": p.sd,
                        "n_scores": p.n_scores,
                        "is_reference": p.is_reference,
                        "reference": p.reference,
                        "diff": p.diff,
                        "ci_low": p.ci_low,
                        "ci_high": p.ci_high,
                        "p_holm": p.p_holm,
                        "significant": p.significant,
                        "detectable": p.detectable,
                    }
                    for p in c.points
                ],
            }
            for c in section.curves
        ],
    }
