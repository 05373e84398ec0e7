"""leaderboard.json: the board for tools, every statistic as a number, strict JSON.

NaN becomes null and an infinite t (zero-variance differences, flagged) the string "inf"/"-inf", through
tcrbench.stats.json_safe, so any JSON parser reads the file. docs/reports.md documents every field.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tcrbench import __version__
from tcrbench.report.corpus import corpus_to_dict
from tcrbench.report.curves import curves_to_dict
from tcrbench.report.data_audit import audit_to_dict
from tcrbench.report.dynamics.model import DynamicsSection
from tcrbench.report.merge import Ranking
from tcrbench.report.model import BoardRow, Leaderboard
from tcrbench.report.published import published_lines
from tcrbench.stats import json_safe

SCHEMA = "tcrbench-leaderboard"
SCHEMA_VERSION = 1
TEST_NAME = "corrected resampled t-test (Nadeau & Bengio 2003)"

_ROW_FIELDS = (
    "key",
    "label",
    "protocol",
    "arm",
    "group",
    "published",
    "augmentation",
    "objective",
    "encoder",
    "baseline",
    "uses_labels",
    "shortcut",
    "is_reference",
    "reference",
    "rank",
    "status",
    "mean",
    "sd",
    "macro_auroc",
    "macro_auroc_sd",
    "diff",
    "ci_low",
    "ci_high",
    "t",
    "df",
    "p",
    "p_holm",
    "p_bh",
    "d_z",
    "wins",
    "ties",
    "losses",
    "n_folds",
    "n_seeds",
    "n_scores",
    "n_pairs",
    "n_failed",
    "test_train_ratio",
    "flags",
    "note",
    "pretrain_loss",
    "label_fraction",
    "n_labelled",
    "detectable",
    "cells",
)


def row_to_dict(row: BoardRow) -> dict[str, Any]:
    """One board row; its statistics come from ``row.comparison`` (null where the row has no test)."""
    values = {f: getattr(row, f, None) for f in _ROW_FIELDS}
    values["status"] = row.status
    values["macro_auroc"], values["macro_auroc_sd"] = row.macro_mean, row.macro_sd
    values["flags"] = list(row.flags)
    values["cells"] = [
        {"fold": c.fold, "seed": c.seed, "score": c.score, "status": c.status, "reason": c.reason, "row_key": c.row_key}
        for c in row.cells
    ]
    return values


def _per_peptide(board: Leaderboard) -> dict[str, Any] | None:
    t = board.per_peptide
    if t is None:
        return None
    return {
        "how": t.how,
        "min_positives": t.min_positives,
        "n_missing_predictions": t.n_missing,
        "peptides": [
            {"peptide": p, "n_positives": n, "n_negatives": m}
            for p, n, m in zip(t.peptides, t.n_positives, t.n_negatives)
        ],
        "configurations": [
            {"key": k, "auroc": list(a), "n_cells": list(c)} for k, a, c in zip(t.keys, t.auroc, t.n_cells)
        ],
    }


def dynamics_to_dict(section: DynamicsSection) -> dict[str, Any]:
    """The training-dynamics section as plain values."""
    return {
        "metric": section.metric,
        "confidence": section.confidence,
        "rule": section.rule,
        "warning": section.warning,
        "curves": [
            {
                "label": c.label,
                "protocol": c.protocol,
                "label_fraction": c.label_fraction,
                "reference": c.reference,
                "baseline_mean": c.baseline_mean,
                "baseline_ci": list(c.baseline_ci),
                "plateau": None
                if c.plateau is None
                else {
                    "step": c.plateau.step,
                    "level": c.plateau.level,
                    "half_width": c.plateau.half_width,
                    "reached": c.plateau.reached,
                },
                "loss_converged_step": c.loss_converged_step,
                "loss_converged_at_plateau": c.loss_converged_at_plateau,
                "best_step": c.best_step,
                "points": [
                    {
                        "step": p.step,
                        "n_cells": p.n_cells,
                        "n_failed": p.n_failed,
                        "mean": p.mean,
                        "ci_low": p.ci_low,
                        "ci_high": p.ci_high,
                        "gain": p.gain,
                        "gain_se": p.gain_se,
                        "gain_ci_low": p.gain_ci_low,
                        "gain_ci_high": p.gain_ci_high,
                        "loss": p.loss,
                    }
                    for p in c.points
                ],
            }
            for c in section.curves
        ],
    }


def published_to_dict(board: Leaderboard) -> dict[str, Any] | None:
    """The published results and the ranked list (None when the run's config has no [published] table)."""
    pub = board.published
    if pub is None:
        return None
    return {
        "metric": pub.metric,
        "source": pub.source,
        "note": pub.note,
        "results": dict(pub.results),
        "ranked": [
            {"method": x.method, "source": x.source, "score": x.score, "sd": x.sd, "shortcut": x.shortcut}
            for x in published_lines(board)
        ],
    }


def _common(board: Leaderboard) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "kind": board.kind,
        "title": board.meta.title,
        "metric": board.metric,
        "higher_is_better": board.meta.higher_is_better,
        "tcrbench_version": __version__,
        "banners": [{"kind": b.kind, "message": b.message, "keys": list(b.keys)} for b in board.banners],
        "failures": [
            {
                "key": f.key,
                "label": f.label,
                "protocol": f.protocol,
                "fold": f.fold,
                "seed": f.seed,
                "reason": f.reason,
                "row_key": f.row_key,
            }
            for f in board.failures
        ],
    }


def _run(board: Leaderboard) -> dict[str, Any]:
    m = board.meta
    out = _common(board)
    out.update(
        {
            "run": {
                "run_dir": m.run_dir,
                "config_hash": m.config_hash,
                "data_source": m.data_source,
                "versions": dict(m.versions),
                "git": m.git,
                "device": m.device,
                "pretrain_on": m.pretrain_on,
                "framing": m.framing,
                "pretrain_corpus": corpus_to_dict(m.corpus),
                "data_audit": audit_to_dict(m.data_audit),
                "label_fractions": list(m.label_fractions),
                "folds": list(m.folds),
                "seeds": list(m.seeds),
                "n_rows": m.n_rows,
                "n_failed": m.n_failed,
            },
            "test": {
                "name": TEST_NAME,
                "confidence": m.confidence,
                "pairing": m.pairing,
                "seeds_redraw_folds": m.seeds_redraw_folds,
                "test_train_ratio": m.test_train_ratio,
                "ratio_assumed": m.ratio_assumed,
                "correction": "holm",
                "n_comparisons": len(board.compared()),
                "resolution": m.resolution,
                "shortcut_margin": m.shortcut_margin,
            },
            "references": dict(m.references),
            "rows": [row_to_dict(r) for r in board.rows],
            "per_peptide": _per_peptide(board),
            "learning_curve": curves_to_dict(board.learning_curves),
            "dynamics": dynamics_to_dict(board.dynamics) if board.dynamics is not None else None,
            "published": published_to_dict(board),
        }
    )
    return out


def _ranking(r: Ranking) -> dict[str, Any]:
    nm = r.nemenyi
    return {
        "alpha": r.alpha,
        "datasets": list(r.datasets),
        "methods": [
            {
                "key": x.key,
                "label": x.label,
                "protocol": x.protocol,
                "arm": x.arm,
                "uses_labels": x.uses_labels,
                "shortcut": x.shortcut,
                "mean_rank": x.mean_rank,
                "ranked": x.ranked,
                "scores": list(x.scores),
                "ranks": list(x.ranks),
            }
            for x in r.rows
        ],
        "friedman": r.friedman.to_dict() if r.friedman is not None else None,
        "nemenyi": None
        if nm is None
        else {
            "methods": list(nm.methods),
            "mean_ranks": list(nm.mean_ranks),
            "cd": nm.cd,
            "q_alpha": nm.q_alpha,
            "p_values": [list(row) for row in nm.p_values],
        },
        "cliques": [list(c) for c in r.cliques],
        "note": r.note,
    }


def board_to_dict(board: Leaderboard) -> dict[str, Any]:
    """The JSON document as plain (JSON-safe) Python values."""
    if board.kind == "merged" and board.ranking is not None:
        out = _common(board)
        out.update(
            {
                "datasets": list(board.ranking.datasets),
                "ranking": _ranking(board.ranking),
                "boards": [_run(b) for b in board.datasets],
            }
        )
    else:
        out = _run(board)
    return json_safe(out)


def render_json(board: Leaderboard) -> str:
    """leaderboard.json's text: strict JSON (no NaN), indented, UTF-8 kept readable."""
    return json.dumps(board_to_dict(board), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


HEADLINE_SCHEMA = "tcrbench-report"
_HEADLINE_FIELDS = (
    "key",
    "label",
    "protocol",
    "arm",
    "label_fraction",
    "rank",
    "status",
    "is_reference",
    "reference",
    "mean",
    "sd",
    "diff",
    "ci_low",
    "ci_high",
    "p",
    "p_holm",
    "significant",
    "n_failed",
)


def headline_to_dict(
    board: Leaderboard,
    files: Sequence[str | Path],
    errors: Sequence[tuple[str, str]] = (),
    run_dir: str | Path | None = None,
) -> dict[str, Any]:
    """What `tcrbench report --json` prints: the run folder as given, the files written and one line per
    configuration (its mean, and its difference from the supervised arm with the corrected CI and p), for a script
    that wants the answer without reading leaderboard.json."""
    m = board.meta
    run_dir = m.run_dir if run_dir is None else run_dir
    rows = []
    for r in board.rows:
        row = {f: getattr(r, f) for f in _HEADLINE_FIELDS}
        row["flags"] = list(r.flags)
        rows.append(row)
    out = {
        "schema": HEADLINE_SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "run_dir": None if run_dir is None else str(run_dir),
        "files": [str(f) for f in files],
        "reporter_errors": [{"reporter": name, "message": message} for name, message in errors],
        "metric": board.metric,
        "higher_is_better": m.higher_is_better,
        "test": TEST_NAME,
        "confidence": m.confidence,
        "correction": "holm",
        "banners": [{"kind": b.kind, "message": b.message} for b in board.banners],
        "n_rows": m.n_rows,
        "n_failed": m.n_failed,
        "rows": rows,
    }
    return dict(json_safe(out))
