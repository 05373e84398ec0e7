"""Banners: the warnings a reader must see before the table, because they change what the table means.

A shortcut baseline close to the best model says the data can be scored without learning binding; pretraining
that loses to the supervised arm is the answer to the benchmark's question; label-using "pretraining" is not
self-supervised. Each banner has a stable ``kind`` and names the rows it is about. On a board with several
label fractions, a banner that compares rows compares them within one fraction: a model fitted on 2% of the
labels is not the yardstick of one fitted on all of them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from tcrbench.report.format import num
from tcrbench.report.model import NO_REFERENCE, Banner, BoardRow, FailedCell, fraction_text, row_key
from tcrbench.stats import flags as F


def _fmt(x: float | None, signed: bool = False) -> str:
    return num(x, signed=signed)


def _better(a: float, b: float, higher_is_better: bool) -> bool:
    return a > b if higher_is_better else a < b


def _by_fraction(rows: Sequence[BoardRow]) -> dict[float, list[BoardRow]]:
    """The rows of each label fraction, all labels first."""
    out: dict[float, list[BoardRow]] = {}
    for r in sorted(rows, key=lambda r: -r.label_fraction):
        out.setdefault(r.label_fraction, []).append(r)
    return out


def _at(fraction: float) -> str:
    return "" if fraction >= 1.0 else f" at {fraction_text(fraction)} labels"


def _shortcut_banners(rows: Sequence[BoardRow], metric: str, margin: float, hib: bool) -> list[Banner]:
    return [
        b for fraction, group in _by_fraction(rows).items() for b in _shortcuts(group, metric, margin, hib, fraction)
    ]


def _shortcuts(rows: Sequence[BoardRow], metric: str, margin: float, hib: bool, fraction: float) -> list[Banner]:
    """Shortcut baselines against the best model of the same label fraction."""
    models = [r for r in rows if not r.shortcut and math.isfinite(r.mean)]
    if not models:
        return []
    best = (max if hib else min)(models, key=lambda r: r.mean)
    out = []
    for s in rows:
        if not s.shortcut or not math.isfinite(s.mean):
            continue
        gap = (best.mean - s.mean) if hib else (s.mean - best.mean)
        if gap > margin:
            continue
        where = "above" if gap < 0 else f"within {margin:g} of"
        out.append(
            Banner(
                "shortcut",
                f"Shortcut baseline {s.label}{_at(fraction)} reaches {metric} {_fmt(s.mean)}, {where} the best model "
                f"{best.label} [{best.protocol}] ({_fmt(best.mean)}). It sees only part of each pair, so these "
                "data can be scored without learning binding: the ranking says little about binding.",
                (s.key, best.key),
            )
        )
    return out


#: A shortcut baseline whose mean AUROC lies this far below chance (0.5) has found label information too.
BELOW_CHANCE_MARGIN = 0.05


def _below_chance_banners(rows: Sequence[BoardRow], metric: str) -> list[Banner]:
    """Shortcut baselines well below chance, per label fraction. A detector that sees part of a pair can only fall
    far below 0.5 when what it learned in training is inverted in the test folds: the folds (e.g. the peptides'
    positive rates anti-correlate between training and test) or the negatives (a training binder is a test
    negative) carry the labels. Flip its scores and it predicts well, so it is as much a shortcut as one above."""
    if "auroc" not in metric:  # chance is 0.5 for AUROC-like metrics only
        return []
    out = []
    for fraction, group in _by_fraction(rows).items():
        for s in group:
            if s.shortcut and math.isfinite(s.mean) and s.mean < 0.5 - BELOW_CHANCE_MARGIN:
                out.append(
                    Banner(
                        "shortcut_below_chance",
                        f"Shortcut baseline {s.label}{_at(fraction)} scores {metric} {_fmt(s.mean)}, more than "
                        f"{BELOW_CHANCE_MARGIN:g} below chance (0.5): it sees only part of each pair, so the folds or "
                        "the negatives carry label information (what it learned in training is inverted in the test "
                        "folds); flipped, it would predict well. See docs/shortcuts.md.",
                        (s.key,),
                    )
                )
    return out


def _losing_banners(rows: Sequence[BoardRow], refs: Mapping[str, str], hib: bool) -> list[Banner]:
    out = []
    by_key = {r.key: r for r in rows}
    for protocol, ref_key in refs.items():
        ref = by_key.get(ref_key)
        pre = [r for r in rows if r.arm == "pretrained" and r.reference == ref_key and r.diff is not None]
        if ref is None or not pre:
            continue
        losers = [r for r in pre if _better(0.0, r.diff, hib) and F.IDENTICAL not in r.flags]  # type: ignore[arg-type]
        if not losers:
            continue

        def detail(r: BoardRow) -> str:
            return (
                f"{r.label} (diff {_fmt(r.diff, True)} [{_fmt(r.ci_low, True)}, {_fmt(r.ci_high, True)}], "
                f"Holm p {_fmt(r.p_holm)})"
            )

        if len(losers) == len(pre):
            closest = (max if hib else min)(pre, key=lambda r: r.diff)  # type: ignore[arg-type, return-value]
            text = (
                f"Pretraining loses to the supervised baseline ({protocol}): every pretrained configuration "
                f"({len(pre)}) scores below {ref.label} ({_fmt(ref.mean)}). Closest: {detail(closest)}."
            )
        else:
            text = (
                f"Pretraining loses to the supervised baseline ({protocol}) in {len(losers)} of {len(pre)} "
                f"configurations: " + "; ".join(detail(r) for r in losers) + "."
            )
        out.append(Banner("pretraining_loses", text, tuple(r.key for r in losers)))
    return out


UNDERTRAINED_CHANCE = 0.03  # a supervised neural arm this close to AUROC 0.5 has not learned
UNDERTRAINED_GAP = 0.10  # ... nor one this far below the best simple baseline


def _undertrained_banners(rows: Sequence[BoardRow], metric: str, hib: bool) -> list[Banner]:
    """The supervised neural arm near chance, or far below a simple baseline: every comparison of pretraining
    against it is between two arms that did not learn, whatever its p-value. Judged at the board's largest
    label fraction: an arm near chance on 2% of the labels is a learning curve, not an under-trained model."""
    if rows:
        largest = max(r.label_fraction for r in rows)
        rows = [r for r in rows if r.label_fraction == largest]
    supervised = [r for r in rows if r.arm == "supervised" and math.isfinite(r.mean)]
    # the fine-tuned arm is what the neural models can do; a linear probe on a pan-peptide encoder cannot model the
    # peptide-receptor interaction at all, so judging competence by it would raise the banner on every pan board
    if any(r.protocol == "finetune" for r in supervised):
        supervised = [r for r in supervised if r.protocol == "finetune"]
    simple = [r for r in rows if r.protocol == "baseline" and math.isfinite(r.mean)]
    best = (max if hib else min)(simple, key=lambda r: r.mean) if simple else None
    out = []
    for arm in supervised:
        reasons = []
        if "auroc" in metric and abs(arm.mean - 0.5) < UNDERTRAINED_CHANCE:
            reasons.append(f"within {UNDERTRAINED_CHANCE:g} of chance (0.5)")
        if best is not None and (best.mean - arm.mean if hib else arm.mean - best.mean) > UNDERTRAINED_GAP:
            reasons.append(
                f"{_fmt(abs(best.mean - arm.mean))} below the simple baseline {best.label} ({_fmt(best.mean)})"
            )
        if reasons:
            out.append(
                Banner(
                    "undertrained",
                    f"The neural arms are under-trained; a pretraining comparison here says little: the supervised arm "
                    f"{arm.label} [{arm.protocol}] scores {metric} {_fmt(arm.mean)}, " + " and ".join(reasons) + ".",
                    (arm.key, *((best.key,) if best is not None else ())),
                )
            )
    return out


def _other_banners(
    rows: Sequence[BoardRow], failures: Sequence[FailedCell], n_cells: int, meta_redraw: bool | None
) -> list[Banner]:
    out = []
    label_users = [r for r in rows if r.arm == "pretrained" and r.uses_labels]
    if label_users:
        names = ", ".join(dict.fromkeys(row_key(r.label, r.protocol) for r in label_users))
        out.append(
            Banner(
                "uses_labels",
                f"Uses labels: {names} pretrain with the binding labels, so they are not "
                "self-supervised; a gain may come from the extra use of labels, not from pretraining.",
                tuple(r.key for r in label_users),
            )
        )
    uncompared = [r for r in rows if NO_REFERENCE in r.flags]
    if uncompared:
        out.append(
            Banner(
                "no_reference",
                "No finished supervised arm to compare with: "
                f"{', '.join(r.key for r in uncompared)} shown without a comparison.",
                tuple(r.key for r in uncompared),
            )
        )
    if failures:
        configs = sorted({f.key for f in failures})
        out.append(
            Banner(
                "failures",
                f"{len(failures)} of {n_cells} cells failed ({len(configs)} configuration(s)): "
                "they are listed under Failures and left out of the statistics.",
                tuple(configs),
            )
        )
    if meta_redraw is None:
        out.append(
            Banner(
                "mixed_redraw",
                "Rows disagree on whether seeds redraw the folds; the statistics "
                "average over seeds per fold (n = k), the cautious choice.",
            )
        )
    if any(F.RATIO_ASSUMED in r.flags for r in rows):
        out.append(
            Banner(
                "ratio_assumed",
                "Some rows lack n_train/n_test: the k-fold ratio 1/(k-1) was assumed for the corrected t-test.",
                tuple(r.key for r in rows if F.RATIO_ASSUMED in r.flags),
            )
        )
    return out


def board_banners(
    rows: Sequence[BoardRow],
    refs: Mapping[str, str],
    failures: Sequence[FailedCell],
    *,
    metric: str,
    margin: float,
    higher_is_better: bool,
    redraw: bool | None,
) -> list[Banner]:
    """Every banner for a run's rows, most important first."""
    n_cells = sum(len(r.cells) for r in rows)
    return (
        _undertrained_banners(rows, metric, higher_is_better)
        + _shortcut_banners(rows, metric, margin, higher_is_better)
        + _below_chance_banners(rows, metric)
        + _losing_banners(rows, refs, higher_is_better)
        + _other_banners(rows, failures, n_cells, redraw)
    )
