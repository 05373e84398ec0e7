"""The long score table :func:`tcrbench.stats.compare` reads, as a (seeds × folds) grid per method.

Input is a long table with columns ``method``, ``fold``, ``score`` and optionally ``seed`` (one row per
finished cell), as a mapping of columns, an iterable of row mappings or a polars/pandas DataFrame. Each
method's cells must match the baseline's (fold, seed) cells exactly, since the tests pair them cell by cell;
every mismatch is a one-line error naming the file line or table row where it is.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from typing import Any

import numpy as np

from tcrbench.errors import UsageError

REQUIRED_COLUMNS = ("method", "fold", "score")
SEED_COLUMN = "seed"
#: Optional: the seed that drew the folds (= seed when seeds redraw the folds, constant when they do not).
SPLIT_SEED_COLUMN = "split_seed"


class Where:
    """Names a row the way the user will find it: a file line, or a 1-based row of a table."""

    def __init__(self, source: str, lines: Sequence[int] | None) -> None:
        self.source, self.lines = source, lines

    def __call__(self, index: int) -> str:
        if self.lines is None:
            return f"{self.source}, row {index + 1}"
        return f"{self.source}, line {self.lines[index]}"


def _as_columns(scores: Any, source: str) -> dict[str, list[Any]]:
    if isinstance(scores, (str, bytes, PathLike)):
        raise UsageError(f"{source}: pass the table itself, not a file name (for files: tcrbench stats compare)")
    if isinstance(scores, Mapping):
        cols = {str(k): list(v) for k, v in scores.items()}
    elif hasattr(scores, "columns") and hasattr(scores, "__getitem__"):  # a polars or pandas DataFrame
        cols = {str(c): list(scores[c]) for c in scores.columns}
    elif isinstance(scores, Iterable):
        rows = list(scores)
        names: dict[str, None] = {}
        for i, row in enumerate(rows):
            if not isinstance(row, Mapping):
                raise UsageError(
                    f"{source}, row {i + 1}: expected a mapping of column to value, got {type(row).__name__}"
                )
            names.update(dict.fromkeys(map(str, row)))
        cols = {n: [row.get(n) for row in rows] for n in names}
    else:
        kind = type(scores).__name__
        raise UsageError(f"{source}: expected a table (mapping of columns, rows, or a DataFrame), got {kind}")
    lengths = {len(v) for v in cols.values()}
    if len(lengths) > 1:
        raise UsageError(f"{source}: columns have different lengths {sorted(lengths)}")
    return {k.strip().lower(): v for k, v in cols.items()}


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _label(value: Any) -> str:
    """Fold and seed labels compare as text, so 1 and "1" (CSV vs DataFrame) are the same fold."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _natural(label: str) -> tuple[int, Any]:
    try:
        return (0, int(label))
    except ValueError:
        return (1, label)


def _score(value: Any, where: str) -> float:
    if _blank(value):
        return math.nan
    if isinstance(value, bool):
        raise UsageError(f"{where}: column 'score' is a boolean, not a number")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{where}: column 'score' is {value!r}, not a number") from None
    if math.isinf(x):
        raise UsageError(f"{where}: column 'score' is infinite")
    return x


@dataclass
class Grid:
    """Scores per method, aligned with the baseline's folds and seeds."""

    methods: list[str]
    folds: list[str]
    seeds: list[str]
    scores: dict[str, np.ndarray]  # method -> (seeds, folds), NaN where a score was missing
    nan_rows: list[int]
    split_seeds: list[str] | None = None  # per seed (in ``seeds`` order): the seed that drew its folds


def read_grid(scores: Any, baseline: str, *, drop_nan: bool, where: Where) -> Grid:
    """Every method's scores on the baseline's (seed, fold) grid; NaN scores kept (and counted) when ``drop_nan``."""
    cols = _as_columns(scores, where.source)
    missing = [c for c in REQUIRED_COLUMNS if c not in cols]
    if missing:
        present = ", ".join(cols) or "none"
        raise UsageError(f"{where.source}: missing column {missing[0]!r} (columns present: {present})")
    n_rows = len(cols["method"])
    if n_rows == 0:
        raise UsageError(f"{where.source}: the table has no rows")
    seeds_col = cols.get(SEED_COLUMN)
    split_col = cols.get(SPLIT_SEED_COLUMN)
    split_of: dict[str, tuple[str, int]] = {}  # seed -> (split seed, first row)
    cells: dict[str, dict[tuple[str, str], tuple[float, int]]] = {}
    nan_rows: list[int] = []
    for i in range(n_rows):
        method, fold = cols["method"][i], cols["fold"][i]
        for name, value in (("method", method), ("fold", fold)):
            if _blank(value):
                raise UsageError(f"{where(i)}: column {name!r} is empty")
        seed = "0"
        if seeds_col is not None:
            if _blank(seeds_col[i]):
                raise UsageError(f"{where(i)}: column 'seed' is empty")
            seed = _label(seeds_col[i])
        if split_col is not None:
            if _blank(split_col[i]):
                raise UsageError(f"{where(i)}: column 'split_seed' is empty")
            split = _label(split_col[i])
            first_split, first_row = split_of.setdefault(seed, (split, i))
            if split != first_split:
                raise UsageError(
                    f"{where(i)}: seed {seed} has split_seed {split}, but {first_split} at "
                    f"{where(first_row).split(', ', 1)[1]}; one seed's folds come from one split"
                )
        score = _score(cols["score"][i], where(i))
        if math.isnan(score):
            if not drop_nan:
                raise UsageError(
                    f"{where(i)}: column 'score' is missing or NaN (method {method}, fold {_label(fold)}); "
                    "drop such pairs explicitly with drop_nan / --drop-nan"
                )
            nan_rows.append(i)
        key = (seed, _label(fold))
        per_method = cells.setdefault(str(method).strip(), {})
        if key in per_method:
            first = per_method[key][1]
            raise UsageError(
                f"{where(i)}: duplicate score for method {method}, fold {key[1]}, seed {key[0]} "
                f"(first at {where(first).split(', ', 1)[1]})"
            )
        per_method[key] = (score, i)

    methods = list(cells)
    if baseline not in cells:
        close = difflib.get_close_matches(baseline, methods, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f" (methods: {', '.join(methods)})"
        raise UsageError(f"{where.source}: unknown baseline {baseline!r}{hint}")
    base = cells[baseline]
    folds = sorted({f for _, f in base}, key=_natural)
    seeds = sorted({s for s, _ in base}, key=_natural)
    for s in seeds:
        for f in folds:
            if (s, f) not in base:
                raise UsageError(
                    f"{where.source}: baseline {baseline!r} has no score for fold {f}, seed {s}; "
                    "every fold needs a score for every seed"
                )
    grid: dict[str, np.ndarray] = {}
    for m in methods:
        extra = [k for k in cells[m] if k not in base]
        if extra:
            s, f = extra[0]
            raise UsageError(
                f"{where(cells[m][extra[0]][1])}: method {m!r} has fold {f}, seed {s}, "
                f"which baseline {baseline!r} lacks; folds must match between methods"
            )
        absent = [(s, f) for s in seeds for f in folds if (s, f) not in cells[m]]
        if absent:
            s, f = absent[0]
            more = f" (and {len(absent) - 1} more)" if len(absent) > 1 else ""
            raise UsageError(
                f"{where.source}: method {m!r} has no score for fold {f}, seed {s}{more}, "
                f"which baseline {baseline!r} has; folds must match between methods"
            )
        grid[m] = np.array([[cells[m][(s, f)][0] for f in folds] for s in seeds], dtype=float)
    splits = [split_of[s][0] for s in seeds] if split_col is not None else None
    return Grid(methods=methods, folds=folds, seeds=seeds, scores=grid, nan_rows=nan_rows, split_seeds=splits)
