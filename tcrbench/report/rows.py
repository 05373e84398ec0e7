"""Result rows in, one group of (fold, seed) cells per configuration out, with every field checked on the way.

A malformed row is a one-line error naming the row (by its row_key when it has one), never a traceback from
deep inside the statistics; a failed cell becomes a cell with a NaN score and its reason, never a gap.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tcrbench.errors import UsageError
from tcrbench.report.model import CellScore, row_key

REQUIRED_KEYS = ("label", "protocol", "arm", "fold", "seed", "status")


@dataclass
class Group:
    """The rows of one configuration under one protocol, and their cells keyed by (fold, seed)."""

    key: str
    first: dict[str, Any]
    fraction: float = 1.0
    cells: dict[tuple[int, int], CellScore] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def arm(self) -> str:
        return str(self.first["arm"])

    @property
    def protocol(self) -> str:
        return str(self.first["protocol"])

    def n_labelled(self) -> float | None:
        """Mean labelled training rows over the finished rows that record them (None when none does)."""
        values = [float(r["n_labelled"]) for r in self.ok_rows() if r.get("n_labelled") is not None]
        return float(np.mean(values)) if values else None

    def ok_rows(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["status"] == "ok"]

    def has_score(self) -> bool:
        """Whether any cell finished with a score: a group without one cannot be tested or be a reference."""
        return any(math.isfinite(c.score) for c in self.cells.values())


def _where(row: Mapping[str, Any], index: int) -> str:
    return f"result row {row.get('row_key') or index + 1}"


def _as_int(value: Any, name: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not float(value).is_integer():
        raise UsageError(f"{where}: field {name!r} must be an integer, got {value!r}")
    return int(value)


def metric_value(row: Mapping[str, Any], metric: str, where: str) -> float:
    """The row's value of ``metric``; NaN when the row lacks it, an error when it is not a number."""
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


def label_fraction(row: Mapping[str, Any], where: str = "result row") -> float:
    """The share of the training fold's labelled rows the cell used: 1.0 when the row predates the field.

    Rounded to 6 decimals, so fractions that went through JSON or float arithmetic still meet as one group.
    """
    value = row.get("label_fraction")
    if value is None:
        return 1.0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < float(value) <= 1.0:
        raise UsageError(f"{where}: field 'label_fraction' must be a number in (0, 1], got {value!r}")
    return round(float(value), 6)


def group_rows(rows: Sequence[Mapping[str, Any]], metric: str) -> dict[str, Group]:
    """Rows grouped by configuration key (label, protocol, label fraction) in first-seen order; a second row for
    the same cell is an error."""
    groups: dict[str, Group] = {}
    for i, raw in enumerate(rows):
        if not isinstance(raw, Mapping):
            raise UsageError(f"result row {i + 1}: expected a mapping, got {type(raw).__name__}")
        where = _where(raw, i)
        missing = [k for k in REQUIRED_KEYS if k not in raw]
        if missing:
            raise UsageError(f"{where}: missing field {missing[0]!r}")
        if raw["status"] not in ("ok", "failed"):
            raise UsageError(f"{where}: field 'status' must be 'ok' or 'failed', got {raw['status']!r}")
        row = dict(raw)
        fold, seed = _as_int(row["fold"], "fold", where), _as_int(row["seed"], "seed", where)
        fraction = label_fraction(row, where)
        if row.get("n_labelled") is not None:
            _as_int(row["n_labelled"], "n_labelled", where)
        key = row_key(str(row["label"]), str(row["protocol"]), fraction)
        group = groups.setdefault(key, Group(key, row, fraction))
        ok = row["status"] == "ok"
        score = metric_value(row, metric, where) if ok else math.nan
        cell = CellScore(
            fold=fold,
            seed=seed,
            score=score,
            status=str(row["status"]),
            reason=str(row.get("reason") or ""),
            row_key=str(row.get("row_key") or ""),
            n_train=_as_int(row.get("n_train") or 0, "n_train", where),
            n_test=_as_int(row.get("n_test") or 0, "n_test", where),
        )
        if (fold, seed) in group.cells:
            first = group.cells[(fold, seed)].row_key or "an earlier row"
            raise UsageError(f"{where}: a second row for {key}, fold {fold}, seed {seed} (the first is {first})")
        group.cells[(fold, seed)] = cell
        group.rows.append(row)
    return groups


def check_metric(groups: Mapping[str, Group], metric: str) -> None:
    """A metric no finished row has is a misspelling, not a board of NaNs: say which metrics there are."""
    ok = [r for g in groups.values() for r in g.ok_rows()]
    if ok and not any(metric in (r.get("metrics") or {}) for r in ok):
        present = sorted({m for r in ok for m in (r.get("metrics") or {})})
        raise UsageError(f"metric {metric!r} is in no finished row (metrics present: {', '.join(present) or 'none'})")


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample sd of the finite values (NaN where there are too few)."""
    v = np.asarray([x for x in values if math.isfinite(x)], dtype=float)
    if v.size == 0:
        return math.nan, math.nan
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else math.nan


def redraw(rows: Sequence[Mapping[str, Any]]) -> bool | None:
    """Whether the rows' seeds redraw the folds; None when they disagree."""
    values = {bool(r.get("seeds_redraw_folds", False)) for r in rows}
    return values.pop() if len(values) == 1 else None


def mean_ratio(cells: Sequence[CellScore]) -> float | None:
    """Mean n_test/n_train over cells; None when a cell lacks the sizes (then 1/(k-1) is assumed)."""
    ratios = [c.n_test / c.n_train for c in cells if c.n_train > 0 and c.n_test > 0]
    if not ratios or len(ratios) < len(cells):
        return None
    return float(np.mean(ratios))
