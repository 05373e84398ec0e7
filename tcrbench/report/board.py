"""The leaderboard of a run: result rows in, one typed row per configuration out, each compared with the
supervised arm it must beat.

A pretrained configuration is compared with the supervised arm of the *same* protocol (fine-tune with
fine-tune, probe with probe): a probe on frozen features against a fully fine-tuned model would measure the
protocol, not the pretraining. Simple baselines and the CNN baseline are compared with the supervised
fine-tune arm. Cells are paired by (fold, seed); failed cells are listed, flagged and left out, never
allowed to break the report. Holm's correction runs across every comparison on the board, since every one
of them is a chance for a false "better".

Renderers (Markdown, HTML, JSON, console) only read a :class:`Leaderboard`; nothing here formats text.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tcrbench.errors import UsageError
from tcrbench.report.banners import board_banners
from tcrbench.report.dynamics import build_dynamics, split_rows
from tcrbench.report.model import (
    ALL_FAILED, FAILED_CELLS, MIXED_REDRAW, NO_REFERENCE, NOT_COMPARED, Banner, BoardMeta, BoardRow, CellScore,
    FailedCell, Leaderboard, row_key,
)
from tcrbench.stats import benjamini_hochberg, compare, holm
from tcrbench.stats import flags as F

if TYPE_CHECKING:
    from rich.console import Console

    from tcrbench.run.config import Published

__all__ = ["Banner", "BoardMeta", "BoardRow", "CellScore", "FailedCell", "Leaderboard", "build_board",
           "default_metric", "load_board", "render_console", "row_key"]

REQUIRED_KEYS = ("label", "protocol", "arm", "fold", "seed", "status")
#: The protocol whose supervised arm the simple baselines are compared with.
BASELINE_REFERENCE_PROTOCOL = "finetune"
_REF, _METHOD = "reference", "method"


# --------------------------------------------------------------------------------------------- reading rows
@dataclass
class _Group:
    key: str
    first: dict[str, Any]
    cells: dict[tuple[int, int], CellScore] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def arm(self) -> str:
        return str(self.first["arm"])

    @property
    def protocol(self) -> str:
        return str(self.first["protocol"])

    def ok_rows(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["status"] == "ok"]


def _where(row: Mapping[str, Any], index: int) -> str:
    return f"result row {row.get('row_key') or index + 1}"


def _as_int(value: Any, name: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not float(value).is_integer():
        raise UsageError(f"{where}: field {name!r} must be an integer, got {value!r}")
    return int(value)


def _metric_value(row: Mapping[str, Any], metric: str, where: str) -> float:
    metrics = row.get("metrics") or {}
    if not isinstance(metrics, Mapping):
        raise UsageError(f"{where}: field 'metrics' must be a mapping, got {type(metrics).__name__}")
    value = metrics.get(metric)
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{where}: metric {metric!r} is {value!r}, not a number") from None


def _group_rows(rows: Sequence[Mapping[str, Any]], metric: str) -> dict[str, _Group]:
    groups: dict[str, _Group] = {}
    for i, raw in enumerate(rows):
        where = _where(raw, i)
        if not isinstance(raw, Mapping):
            raise UsageError(f"result row {i + 1}: expected a mapping, got {type(raw).__name__}")
        missing = [k for k in REQUIRED_KEYS if k not in raw]
        if missing:
            raise UsageError(f"{where}: missing field {missing[0]!r}")
        if raw["status"] not in ("ok", "failed"):
            raise UsageError(f"{where}: field 'status' must be 'ok' or 'failed', got {raw['status']!r}")
        row = dict(raw)
        fold, seed = _as_int(row["fold"], "fold", where), _as_int(row["seed"], "seed", where)
        key = row_key(str(row["label"]), str(row["protocol"]))
        group = groups.setdefault(key, _Group(key, row))
        ok = row["status"] == "ok"
        score = _metric_value(row, metric, where) if ok else math.nan
        cell = CellScore(fold=fold, seed=seed, score=score, status=str(row["status"]),
                         reason=str(row.get("reason") or ""), row_key=str(row.get("row_key") or ""),
                         n_train=_as_int(row.get("n_train") or 0, "n_train", where),
                         n_test=_as_int(row.get("n_test") or 0, "n_test", where))
        if (fold, seed) in group.cells:
            first = group.cells[(fold, seed)].row_key or "an earlier row"
            raise UsageError(f"{where}: a second row for {key}, fold {fold}, seed {seed} (the first is {first})")
        group.cells[(fold, seed)] = cell
        group.rows.append(row)
    return groups


def _check_metric(groups: Mapping[str, _Group], metric: str) -> None:
    ok = [r for g in groups.values() for r in g.ok_rows()]
    if ok and not any(metric in (r.get("metrics") or {}) for r in ok):
        present = sorted({m for r in ok for m in (r.get("metrics") or {})})
        raise UsageError(f"metric {metric!r} is in no finished row (metrics present: {', '.join(present) or 'none'})")


def _references(groups: Mapping[str, _Group]) -> dict[str, str]:
    """protocol -> key of its supervised arm (the first one, should a grid ever hold two)."""
    refs: dict[str, str] = {}
    for key, g in groups.items():
        if g.arm == "supervised":
            refs.setdefault(g.protocol, key)
    return refs


def _reference_for(g: _Group, refs: Mapping[str, str]) -> str | None:
    if g.arm == "supervised":
        return None
    if g.arm == "baseline":
        if BASELINE_REFERENCE_PROTOCOL in refs:
            return refs[BASELINE_REFERENCE_PROTOCOL]
        return refs[sorted(refs)[0]] if refs else None
    return refs.get(g.protocol)


def _mean_sd(values: Sequence[float]) -> tuple[float, float]:
    v = np.asarray([x for x in values if math.isfinite(x)], dtype=float)
    if v.size == 0:
        return math.nan, math.nan
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else math.nan


def _redraw(rows: Sequence[Mapping[str, Any]]) -> bool | None:
    values = {bool(r.get("seeds_redraw_folds", False)) for r in rows}
    return values.pop() if len(values) == 1 else None


def _ratio(cells: Sequence[CellScore]) -> float | None:
    """Mean n_test/n_train over cells; None when a cell lacks the sizes (then 1/(k-1) is assumed)."""
    ratios = [c.n_test / c.n_train for c in cells if c.n_train > 0 and c.n_test > 0]
    if not ratios or len(ratios) < len(cells):
        return None
    return float(np.mean(ratios))


# ---------------------------------------------------------------------------------------------- statistics
@dataclass(frozen=True)
class _Options:
    confidence: float
    resolution: float | None
    higher_is_better: bool


def _compare_pair(g: _Group, ref: _Group, opts: _Options) -> tuple[dict[str, Any], str]:
    """Statistics of ``g`` against ``ref`` over their (fold, seed) cells, and the pairing used (or a note)."""
    keys = sorted(set(ref.cells) | set(g.cells), key=lambda fs: (fs[1], fs[0]))
    table: dict[str, list[Any]] = {"method": [], "fold": [], "seed": [], "score": []}
    for name, group in ((_REF, ref), (_METHOD, g)):
        for fold, seed in keys:
            cell = group.cells.get((fold, seed))
            table["method"].append(name)
            table["fold"].append(fold)
            table["seed"].append(seed)
            table["score"].append(cell.score if cell is not None else math.nan)
    paired = [g.cells[k] for k in keys if k in g.cells and k in ref.cells
              and math.isfinite(g.cells[k].score) and math.isfinite(ref.cells[k].score)]
    ratio = _ratio(paired)
    redraw = _redraw(ref.ok_rows() + g.ok_rows())
    try:
        comparison = compare(table, _REF, test_train_ratio=ratio, seeds_redraw_folds=bool(redraw),
                             drop_nan=True, confidence=opts.confidence, resolution=opts.resolution,
                             higher_is_better=opts.higher_is_better, source=g.key)
    except UsageError as exc:
        reason = str(exc).rsplit("against the baseline: ", 1)[-1]
        return {"flags": (NOT_COMPARED,)}, f"not compared with {ref.key}: {reason}"
    r = comparison.row(_METHOD)
    flags = list(r.flags)
    if comparison.ratio_assumed:
        flags.append(F.RATIO_ASSUMED)
    if redraw is None:
        flags.append(MIXED_REDRAW)
    stats = dict(diff=r.diff, ci_low=r.ci_low, ci_high=r.ci_high, t=r.t, df=r.df, p=r.p, d_z=r.d_z,
                 wins=r.wins, ties=r.ties, losses=r.losses, n_pairs=r.n_pairs,
                 test_train_ratio=comparison.test_train_ratio, flags=tuple(flags))
    return stats, comparison.pairing


def _board_row(g: _Group, reference: str | None, is_reference: bool, stats: Mapping[str, Any],
               note: str) -> BoardRow:
    cells = tuple(sorted(g.cells.values(), key=lambda c: (c.seed, c.fold)))
    ok = g.ok_rows()
    mean, sd = _mean_sd([c.score for c in cells if c.status == "ok"])
    macro_mean, macro_sd = _mean_sd([_metric_value(r, "macro_auroc", g.key) for r in ok])
    losses = [float(r["pretrain_loss"]) for r in ok if r.get("pretrain_loss") is not None]
    n_failed = sum(c.status == "failed" for c in cells)
    flags = list(stats.get("flags", ()))
    if n_failed == len(cells):
        flags.insert(0, ALL_FAILED)
    elif n_failed:
        flags.insert(0, FAILED_CELLS)
    first = g.first
    values = {k: v for k, v in stats.items() if k != "flags"}
    return BoardRow(
        key=g.key, label=str(first["label"]), protocol=g.protocol, arm=g.arm,
        augmentation=first.get("augmentation"), objective=first.get("objective"), encoder=first.get("encoder"),
        baseline=first.get("baseline"), uses_labels=any(bool(r.get("uses_labels")) for r in g.rows),
        shortcut=any(bool(r.get("shortcut")) for r in g.rows), is_reference=is_reference, reference=reference,
        mean=mean, sd=sd, macro_mean=macro_mean, macro_sd=macro_sd,
        n_folds=len({c.fold for c in cells}), n_seeds=len({c.seed for c in cells}),
        n_scores=sum(math.isfinite(c.score) for c in cells), n_failed=n_failed, cells=cells,
        flags=tuple(dict.fromkeys(flags)), note=note,
        pretrain_loss=float(np.mean(losses)) if losses else None, **values,
    )


def _apply_holm(rows: list[BoardRow]) -> list[BoardRow]:
    tested = [i for i, r in enumerate(rows) if r.p is not None and math.isfinite(r.p)]
    if not tested:
        return rows
    p = [rows[i].p for i in tested]
    adjusted, bh = holm(p), benjamini_hochberg(p)
    out = list(rows)
    for j, i in enumerate(tested):
        out[i] = replace(rows[i], p_holm=float(adjusted[j]), p_bh=float(bh[j]))
    return out


def _rank(rows: list[BoardRow], higher_is_better: bool) -> list[BoardRow]:
    sign = -1.0 if higher_is_better else 1.0
    scored = sorted((r for r in rows if math.isfinite(r.mean)), key=lambda r: (sign * r.mean, r.key))
    unscored = sorted((r for r in rows if not math.isfinite(r.mean)), key=lambda r: r.key)
    return [replace(r, rank=i + 1) for i, r in enumerate(scored)] + unscored


# ---------------------------------------------------------------------------------------------- entry point
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
    published: "Published | None" = None,
) -> Leaderboard:
    """A leaderboard from result rows (the dicts ``RunStore.rows()`` returns).

    ``predictions_dir`` (a run's ``predictions/``) adds the per-peptide AUROC table; ``environment`` (the run's
    environment.json) supplies versions and the data source. ``shortcut_margin`` is in the metric's units.
    """
    if not rows:
        raise UsageError("no result rows to report (has the run finished any cell?)")
    if not 0.0 < confidence < 1.0:
        raise UsageError(f"confidence={confidence} must lie strictly between 0 and 1")
    rows, dynamics_rows = split_rows(rows)  # checkpoints of a dynamics run are a curve, not configurations
    if not rows:
        raise UsageError("no leaderboard rows to report, only training-dynamics rows (has any cell finished?)")
    if not (math.isfinite(shortcut_margin) and shortcut_margin >= 0):
        raise UsageError(f"shortcut_margin={shortcut_margin} must be a non-negative number")
    groups = _group_rows(rows, metric)
    _check_metric(groups, metric)
    refs = _references(groups)
    opts = _Options(confidence, resolution, higher_is_better)
    pairings: list[str] = []
    board_rows: list[BoardRow] = []
    for key, g in groups.items():
        ref_key = _reference_for(g, refs)
        stats: dict[str, Any] = {}
        note = ""
        if g.arm == "supervised":
            pass
        elif ref_key is None or not any(math.isfinite(c.score) for c in groups[ref_key].cells.values()):
            stats = {"flags": (NO_REFERENCE,)}
            note = "no finished supervised arm to compare with"
        elif any(math.isfinite(c.score) for c in g.cells.values()):
            stats, pairing = _compare_pair(g, groups[ref_key], opts)
            if stats.get("diff") is None:
                note = pairing
            else:
                pairings.append(pairing)
        board_rows.append(_board_row(g, ref_key, g.arm == "supervised" and refs.get(g.protocol) == key, stats, note))
    board_rows = _rank(_apply_holm(board_rows), higher_is_better)

    failures = tuple(
        FailedCell(r.key, r.label, r.protocol, c.fold, c.seed, c.reason, c.row_key)
        for r in board_rows for c in r.cells if c.status == "failed"
    )
    env = dict(environment or {})
    data = env.get("data") if isinstance(env.get("data"), Mapping) else {}
    hashes = sorted({str(r["config_hash"]) for r in rows if r.get("config_hash")})
    all_cells = [c for r in board_rows for c in r.cells]
    redraw = _redraw(rows)
    meta = BoardMeta(
        title=title or (f"tcrbench leaderboard: {data.get('source')}" if data.get("source") else "tcrbench leaderboard"),
        run_dir=str(run_dir) if run_dir is not None else None,
        config_hash=config_hash or (hashes[0] if len(hashes) == 1 else ",".join(hashes) or None),
        data_source=data.get("source"),
        versions=dict(env.get("versions") or rows[0].get("versions") or {}),
        git=env.get("git"), device=env.get("device"),
        pretrain_on=next((str(r["pretrain_on"]) for r in rows if r.get("pretrain_on")), None),
        seeds_redraw_folds=redraw,
        pairing=pairings[0] if pairings else "",
        test_train_ratio=_ratio([c for c in all_cells if c.status == "ok"]),
        ratio_assumed=any(F.RATIO_ASSUMED in r.flags for r in board_rows),
        confidence=confidence, higher_is_better=higher_is_better, shortcut_margin=shortcut_margin,
        resolution=resolution,
        folds=tuple(sorted({c.fold for c in all_cells})), seeds=tuple(sorted({c.seed for c in all_cells})),
        references=dict(refs), n_rows=len(rows), n_failed=len(failures),
    )
    banners = board_banners(board_rows, refs, failures, metric=metric, margin=shortcut_margin,
                            higher_is_better=higher_is_better, redraw=redraw)
    per_peptide = None
    if predictions_dir is not None:
        from tcrbench.report.peptides import peptide_table

        per_peptide = peptide_table(board_rows, Path(predictions_dir), min_positives=min_positives)
        if per_peptide is not None and per_peptide.n_missing:
            banners.append(Banner("missing_predictions", f"{per_peptide.n_missing} finished cell(s) have no "
                                  "readable predictions file; the per-peptide table uses the others."))
    dynamics = build_dynamics(dynamics_rows, rows, metric, confidence, higher_is_better)
    return Leaderboard(metric=metric, rows=tuple(board_rows), banners=tuple(banners), failures=failures,
                       meta=meta, per_peptide=per_peptide, dynamics=dynamics, published=published)


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        value = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    return value if isinstance(value, dict) else {}


def _is_json(path: Path) -> bool:
    try:
        json.loads(path.read_text())
    except json.JSONDecodeError:
        return False
    return True


def default_metric(run_dir: str | Path) -> str:
    """The run's primary metric from its config.toml, else AUROC."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]

    path = Path(run_dir) / "config.toml"
    if path.is_file():
        try:
            value = tomllib.loads(path.read_text()).get("primary_metric")
        except tomllib.TOMLDecodeError:
            value = None
        if isinstance(value, str) and value:
            return value
    return "auroc"


def load_board(run_dir: str | Path, metric: str | None = None, **options: Any) -> Leaderboard:
    """The leaderboard of a run folder: its rows, environment.json, config hash and predictions."""
    from tcrbench.results.store import RunStore

    path = Path(run_dir)
    if not path.is_dir():
        raise UsageError(f"{path}: no such run folder")
    store = RunStore(path)
    try:
        rows = store.rows()
    except json.JSONDecodeError:
        bad = next(p for p in sorted(store.rows_dir.glob("*.json")) if not _is_json(p))
        raise UsageError(f"{bad}: not valid JSON (a result row written by another tool, or damaged)") from None
    if not rows:
        raise UsageError(f"{path}: the run folder holds no result rows yet")
    hash_file = path / "config_hash"
    config_hash = hash_file.read_text().strip() if hash_file.is_file() else None
    environment = _read_json(path / "environment.json")
    from tcrbench.report.published import read_published

    options.setdefault("published", read_published(path))
    try:
        return build_board(rows, metric or default_metric(path), environment=environment, config_hash=config_hash,
                           run_dir=path, predictions_dir=store.pred_dir, **options)
    except UsageError as exc:
        raise UsageError(f"{path}: {exc}") from None


def render_console(board: Leaderboard, console: "Console") -> None:
    """Print the board to a terminal (rich): banners, the table, failures."""
    from tcrbench.report.console import render

    render(board, console)
