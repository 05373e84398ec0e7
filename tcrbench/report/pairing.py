"""Who is compared with whom, and the test of each pair: the board's statistics, one call to tcrbench.stats each.

A pretrained configuration is compared with the supervised arm of the *same* protocol (fine-tune with
fine-tune, probe with probe): a probe on frozen features against a fully fine-tuned model would measure the
protocol, not the pretraining. Simple baselines and the CNN baseline are compared with the supervised
fine-tune arm. With label-fraction learning curves each fraction is its own configuration, compared with the
supervised arm fitted on the same share of labels. Cells are paired by (fold, seed). Holm's correction runs across every comparison on the board,
since every one of them is a chance for a false "better".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from tcrbench.errors import UsageError
from tcrbench.report.model import MIXED_REDRAW, NOT_COMPARED, BoardRow, scope
from tcrbench.report.rows import Group, mean_ratio, redraw
from tcrbench.stats import benjamini_hochberg, compare, holm
from tcrbench.stats import flags as F
from tcrbench.stats.compare import MethodComparison

#: The protocol whose supervised arm the simple baselines are compared with.
BASELINE_REFERENCE_PROTOCOL = "finetune"
_REF, _METHOD = "reference", "method"


@dataclass(frozen=True)
class Options:
    """How every pair on the board is tested."""

    confidence: float
    resolution: float | None
    higher_is_better: bool


@dataclass(frozen=True)
class Tested:
    """A configuration against its reference: the comparison (None when there is no test), the flags the board
    adds to the comparison's own, and what counted as a pair (or, without a test, why not)."""

    comparison: MethodComparison | None
    flags: tuple[str, ...] = ()
    pairing: str = ""
    note: str = ""


#: A reference's scope: (protocol, label fraction).
Scope = tuple[str, float]


def references(groups: Mapping[str, Group]) -> dict[Scope, str]:
    """(protocol, label fraction) -> key of its supervised arm (the first one, should a grid ever hold two)."""
    refs: dict[Scope, str] = {}
    for key, g in groups.items():
        if g.arm == "supervised":
            refs.setdefault((g.protocol, g.fraction), key)
    return refs


def scoped_references(refs: Mapping[Scope, str]) -> dict[str, str]:
    """The references by name ("finetune", "finetune @ 10% labels"), all labels first: the board's meta."""
    order = sorted(refs, key=lambda s: -s[1])  # stable: protocols keep their first-seen order within a fraction
    return {scope(p, f): refs[(p, f)] for p, f in order}


def reference_for(g: Group, refs: Mapping[Scope, str]) -> str | None:
    """The key of the supervised row ``g`` is compared with, at ``g``'s label fraction; None for a supervised
    arm or without one."""
    if g.arm == "supervised":
        return None
    if g.arm == "baseline":
        if (BASELINE_REFERENCE_PROTOCOL, g.fraction) in refs:
            return refs[(BASELINE_REFERENCE_PROTOCOL, g.fraction)]
        same = sorted(s for s in refs if s[1] == g.fraction)
        return refs[same[0]] if same else None
    return refs.get((g.protocol, g.fraction))


def compare_pair(g: Group, ref: Group, opts: Options) -> Tested:
    """``g`` against ``ref`` over their (fold, seed) cells, through tcrbench.stats.compare."""
    keys = sorted(set(ref.cells) | set(g.cells), key=lambda fs: (fs[1], fs[0]))
    table: dict[str, list[Any]] = {"method": [], "fold": [], "seed": [], "score": []}
    for name, group in ((_REF, ref), (_METHOD, g)):
        for fold, seed in keys:
            cell = group.cells.get((fold, seed))
            table["method"].append(name)
            table["fold"].append(fold)
            table["seed"].append(seed)
            table["score"].append(cell.score if cell is not None else math.nan)
    paired = [
        g.cells[k]
        for k in keys
        if k in g.cells and k in ref.cells and math.isfinite(g.cells[k].score) and math.isfinite(ref.cells[k].score)
    ]
    seeds_redraw = redraw(ref.ok_rows() + g.ok_rows())
    try:
        comparison = compare(
            table,
            _REF,
            test_train_ratio=mean_ratio(paired),
            seeds_redraw_folds=bool(seeds_redraw),
            drop_nan=True,
            confidence=opts.confidence,
            resolution=opts.resolution,
            higher_is_better=opts.higher_is_better,
            source=g.key,
        )
    except UsageError as exc:
        reason = str(exc).rsplit("against the baseline: ", 1)[-1]
        return Tested(None, (NOT_COMPARED,), note=f"not compared with {ref.key}: {reason}")
    flags = []
    if comparison.ratio_assumed:
        flags.append(F.RATIO_ASSUMED)
    if seeds_redraw is None:
        flags.append(MIXED_REDRAW)
    # Holm's family is the whole board, not this one pair: apply_holm fills p_holm and p_bh in.
    row = replace(comparison.row(_METHOD), method=g.key, p_holm=None, p_bh=None)
    return Tested(row, tuple(flags), pairing=comparison.pairing)


def apply_holm(rows: list[BoardRow]) -> list[BoardRow]:
    """Holm and Benjamini–Hochberg adjusted p across every tested row of the board."""
    tested: list[tuple[int, MethodComparison, float]] = []
    for i, r in enumerate(rows):
        c = r.comparison
        if c is not None and c.p is not None and math.isfinite(c.p):
            tested.append((i, c, c.p))
    if not tested:
        return rows
    p = [x for _, _, x in tested]
    adjusted, bh = holm(p), benjamini_hochberg(p)
    out = list(rows)
    for (i, c, _), h, b in zip(tested, adjusted, bh):
        out[i] = replace(rows[i], comparison=replace(c, p_holm=float(h), p_bh=float(b)))
    return out


def rank(rows: list[BoardRow], higher_is_better: bool) -> list[BoardRow]:
    """Ranks by mean score (1 = best); rows without a score sit last, unranked."""
    sign = -1.0 if higher_is_better else 1.0
    scored = sorted((r for r in rows if math.isfinite(r.mean)), key=lambda r: (sign * r.mean, r.key))
    unscored = sorted((r for r in rows if not math.isfinite(r.mean)), key=lambda r: r.key)
    return [replace(r, rank=i + 1) for i, r in enumerate(scored)] + unscored
