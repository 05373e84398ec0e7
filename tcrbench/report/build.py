"""The leaderboard of a run: result rows in, one typed row per configuration out, each compared with the
supervised arm it must beat (tcrbench.report.pairing says which and how).

Failed cells are listed, flagged and left out, never allowed to break the report. Renderers (Markdown, HTML,
JSON, console) only read the :class:`Leaderboard` this returns; nothing here formats text.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tcrbench.errors import UsageError
from tcrbench.report.banners import board_banners
from tcrbench.report.corpus import corpus_info
from tcrbench.report.curves import learning_curves
from tcrbench.report.data_audit import data_audit
from tcrbench.report.dynamics.build import build_dynamics, split_rows
from tcrbench.report.model import (
    ALL_FAILED,
    FAILED_CELLS,
    NO_REFERENCE,
    Banner,
    BoardMeta,
    BoardRow,
    FailedCell,
    Leaderboard,
)
from tcrbench.report.pairing import (
    Options,
    Tested,
    apply_holm,
    compare_pair,
    rank,
    reference_for,
    references,
    scoped_references,
)
from tcrbench.report.paths import display_path, display_source
from tcrbench.report.rows import (
    Group,
    check_metric,
    group_rows,
    mean_ratio,
    mean_sd,
    metric_value,
    redraw,
)
from tcrbench.stats import flags as F

if TYPE_CHECKING:
    from tcrbench.run.config import Published


def _board_row(g: Group, reference: str | None, is_reference: bool, tested: Tested) -> BoardRow:
    cells = tuple(sorted(g.cells.values(), key=lambda c: (c.seed, c.fold)))
    ok = g.ok_rows()
    mean, sd = mean_sd([c.score for c in cells if c.status == "ok"])
    macro_mean, macro_sd = mean_sd([metric_value(r, "macro_auroc", g.key) for r in ok])
    losses = [float(r["pretrain_loss"]) for r in ok if r.get("pretrain_loss") is not None]
    n_failed = sum(c.status == "failed" for c in cells)
    failed = (ALL_FAILED,) if n_failed == len(cells) else (FAILED_CELLS,) if n_failed else ()
    first = g.first
    return BoardRow(
        key=g.key,
        label=str(first["label"]),
        protocol=g.protocol,
        arm=g.arm,
        augmentation=first.get("augmentation"),
        objective=first.get("objective"),
        encoder=first.get("encoder"),
        baseline=first.get("baseline"),
        uses_labels=any(bool(r.get("uses_labels")) for r in g.rows),
        shortcut=any(bool(r.get("shortcut")) for r in g.rows),
        is_reference=is_reference,
        reference=reference,
        mean=mean,
        sd=sd,
        macro_mean=macro_mean,
        macro_sd=macro_sd,
        n_folds=len({c.fold for c in cells}),
        n_seeds=len({c.seed for c in cells}),
        n_scores=sum(math.isfinite(c.score) for c in cells),
        n_failed=n_failed,
        cells=cells,
        comparison=tested.comparison,
        board_flags=tuple(dict.fromkeys(failed + tested.flags)),
        note=tested.note,
        pretrain_loss=float(np.mean(losses)) if losses else None,
        label_fraction=g.fraction,
        n_labelled=g.n_labelled(),
        published=any(bool(r.get("published")) for r in g.rows),
    )


def _test(g: Group, groups: Mapping[str, Group], ref_key: str | None, opts: Options) -> Tested:
    """The comparison a row gets: none for a supervised arm or a row without scores, a flag without a reference."""
    if g.arm == "supervised":
        return Tested(None)
    if ref_key is None or not groups[ref_key].has_score():
        return Tested(None, (NO_REFERENCE,), note="no finished supervised arm to compare with")
    if not g.has_score():
        return Tested(None)
    return compare_pair(g, groups[ref_key], opts)


def build_board(
    rows: list[dict[str, Any]],
    metric: str = "auroc",
    *,
    environment: Mapping[str, Any] | None = None,
    config_hash: str | None = None,
    run_dir: str | Path | None = None,
    predictions_dir: str | Path | None = None,
    confidence: float = 0.95,
    resolution: float | None = None,
    shortcut_margin: float = 0.02,
    higher_is_better: bool = True,
    min_positives: int = 5,
    title: str | None = None,
    published: Published | None = None,
) -> Leaderboard:
    """A leaderboard from result rows (the dicts ``RunStore.rows()`` returns).

    ``predictions_dir`` (a run's ``predictions/``) adds the per-peptide AUROC table; ``environment`` (the run's
    environment.json) supplies versions and the data source. ``shortcut_margin`` is in the metric's units.
    ``run_dir`` and a data source that is a file are shown as tcrbench.report.paths.display_path makes them.
    """
    if not rows:
        raise UsageError("no result rows to report (has the run finished any cell?)")
    if not 0.0 < confidence < 1.0:
        raise UsageError(f"confidence={confidence} must lie strictly between 0 and 1")
    main_rows, dynamics_rows = split_rows(rows)  # checkpoints of a dynamics run are a curve, not configurations
    if not main_rows:
        raise UsageError("no leaderboard rows to report, only training-dynamics rows (has any cell finished?)")
    if not (math.isfinite(shortcut_margin) and shortcut_margin >= 0):
        raise UsageError(f"shortcut_margin={shortcut_margin} must be a non-negative number")
    groups = group_rows(main_rows, metric)
    check_metric(groups, metric)
    refs = references(groups)
    opts = Options(confidence, resolution, higher_is_better)
    pairings: list[str] = []
    board_rows: list[BoardRow] = []
    for key, g in groups.items():
        ref_key = reference_for(g, refs)
        tested = _test(g, groups, ref_key, opts)
        if tested.pairing:
            pairings.append(tested.pairing)
        is_ref = g.arm == "supervised" and refs.get((g.protocol, g.fraction)) == key
        board_rows.append(_board_row(g, ref_key, is_ref, tested))
    board_rows = rank(apply_holm(board_rows), higher_is_better)
    fractions = tuple(sorted({g.fraction for g in groups.values()}))

    failures = tuple(
        FailedCell(r.key, r.label, r.protocol, c.fold, c.seed, c.reason, c.row_key)
        for r in board_rows
        for c in r.cells
        if c.status == "failed"
    )
    env = dict(environment or {})
    data = env.get("data")
    raw_source = data.get("source") if isinstance(data, Mapping) else None
    source = display_source(str(raw_source)) if raw_source else None
    hashes = sorted({str(r["config_hash"]) for r in main_rows if r.get("config_hash")})
    all_cells = [c for r in board_rows for c in r.cells]
    seeds_redraw = redraw(main_rows)
    meta = BoardMeta(
        title=title or (f"tcrbench leaderboard: {source}" if source else "tcrbench leaderboard"),
        run_dir=display_path(run_dir) if run_dir is not None else None,
        config_hash=config_hash or (hashes[0] if len(hashes) == 1 else ",".join(hashes) or None),
        data_source=source,
        versions=dict(env.get("versions") or main_rows[0].get("versions") or {}),
        git=env.get("git"),
        device=env.get("device"),
        pretrain_on=next((str(r["pretrain_on"]) for r in main_rows if r.get("pretrain_on")), None),
        framing=next((str(r["framing"]) for r in main_rows if r.get("framing") and r.get("arm") != "baseline"), None),
        seeds_redraw_folds=seeds_redraw,
        pairing=pairings[0] if pairings else "",
        test_train_ratio=mean_ratio([c for c in all_cells if c.status == "ok"]),
        ratio_assumed=any(F.RATIO_ASSUMED in r.flags for r in board_rows),
        confidence=confidence,
        higher_is_better=higher_is_better,
        shortcut_margin=shortcut_margin,
        resolution=resolution,
        folds=tuple(sorted({c.fold for c in all_cells})),
        seeds=tuple(sorted({c.seed for c in all_cells})),
        references=scoped_references(refs),
        n_rows=len(main_rows),
        n_failed=len(failures),
        corpus=corpus_info(main_rows),
        data_audit=data_audit(env, main_rows),
        label_fractions=fractions,
    )
    banners = board_banners(
        board_rows,
        meta.references,
        failures,
        metric=metric,
        margin=shortcut_margin,
        higher_is_better=higher_is_better,
        redraw=seeds_redraw,
    )
    per_peptide = None
    if predictions_dir is not None:
        from tcrbench.report.peptides import peptide_table  # polars: only when there are predictions to read

        # one fraction's configurations: the largest (all labels, normally), as the table's caption says
        largest = [r for r in board_rows if r.label_fraction == fractions[-1]]
        per_peptide = peptide_table(
            largest,
            Path(predictions_dir),
            min_positives=min_positives,
            label_fraction=fractions[-1] if len(fractions) > 1 else None,
        )
        if per_peptide is not None and per_peptide.n_missing:
            banners.append(
                Banner(
                    "missing_predictions",
                    f"{per_peptide.n_missing} finished cell(s) have no "
                    "readable predictions file; the per-peptide table uses the others.",
                )
            )
    dynamics = build_dynamics(dynamics_rows, main_rows, metric, confidence, higher_is_better)
    curves = learning_curves(board_rows, metric, confidence)
    return Leaderboard(
        metric=metric,
        rows=tuple(board_rows),
        banners=tuple(banners),
        failures=failures,
        meta=meta,
        per_peptide=per_peptide,
        dynamics=dynamics,
        published=published,
        learning_curves=curves,
    )
