"""What `tcrbench stats` reads: a CSV/TSV of scores, or a run folder whose rows become the same long table.

A run folder knows how its folds were drawn (every row carries ``seeds_redraw_folds``), so its table gets a
``split_seed`` column and is paired correctly without a flag; its n_test/n_train comes from the rows' sizes.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tcrbench.errors import UsageError

#: The arm a run folder's default baseline comes from, and the protocol preferred among several.
REFERENCE_ARM = "supervised"
REFERENCE_PROTOCOL = "finetune"


@dataclass
class ScoresInput:
    """A long score table and what its source says about it."""

    columns: dict[str, list[Any]]
    lines: list[int] | None  # file line of each row (CSV); None for a run folder
    source: str
    default_baseline: str | None = None
    ratio: float | None = None  # mean n_test/n_train of a run folder's rows
    metric: str | None = None


def read_scores_table(path: Path) -> tuple[dict[str, list[str]], list[int]]:
    """Columns of a CSV (or TSV, by suffix) as text, and the file line of every data row."""
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    delimiter = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        header = next(reader, None)
        if header is None:
            raise UsageError(f"{path}: the file is empty")
        names = [h.strip().lower() for h in header]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise UsageError(f"{path}, line 1: column {dupes[0]!r} appears more than once")
        columns: dict[str, list[str]] = {n: [] for n in names}
        lines: list[int] = []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(names):
                raise UsageError(f"{path}, line {reader.line_num}: {len(row)} fields, but the header has {len(names)}")
            for name, cell in zip(names, row, strict=True):
                columns[name].append(cell)
            lines.append(reader.line_num)
    return columns, lines


def method_key(row: dict[str, Any]) -> str:
    """A configuration's name in the table: "label [protocol]" (as on the leaderboard), plus the label
    fraction when it is not 1."""
    key = f"{row.get('label')} [{row.get('protocol')}]"
    fraction = row.get("label_fraction", 1.0)
    if isinstance(fraction, (int, float)) and not isinstance(fraction, bool) and fraction != 1.0:
        key += f" @{fraction:g}"
    return key


def _fraction(row: dict[str, Any]) -> float:
    value = row.get("label_fraction", 1.0)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 1.0


def read_run_folder(path: Path, metric: str | None, fraction: float | None = None) -> ScoresInput:
    """A run folder's rows at one label fraction (the largest unless `fraction` names another) as a long table
    (method, fold, seed, split_seed, score); failed rows score NaN. Training-dynamics checkpoints are left out.

    One fraction at a time, so every method meets the supervised arm trained on the same labels, as on the board.
    """
    from tcrbench.results.store import RunStore  # polars, only when a run folder is read

    store = RunStore(path)
    rows = [r for r in store.rows() if r.get("step") is None]
    if not rows:
        raise UsageError(f"{path}: the run folder has no result rows yet")
    fractions = sorted({_fraction(r) for r in rows})
    chosen_fraction = fractions[-1] if fraction is None else fraction
    if chosen_fraction not in fractions:
        raise UsageError(
            f"--label-fraction {chosen_fraction:g}: {path} has rows at {', '.join(f'{f:g}' for f in fractions)}"
        )
    rows = [r for r in rows if _fraction(r) == chosen_fraction]
    chosen = metric or str(store.config().get("primary_metric") or "auroc")
    cols: dict[str, list[Any]] = {"method": [], "fold": [], "seed": [], "split_seed": [], "score": []}
    ratios: list[float] = []
    references: dict[str, str] = {}
    for row in rows:
        where = f"{path}: row {row.get('row_key', '?')}"
        if any(k not in row for k in ("label", "protocol", "fold", "seed", "status")):
            raise UsageError(f"{where}: not a tcrbench result row (needs label, protocol, fold, seed, status)")
        key = method_key(row)
        value = (row.get("metrics") or {}).get(chosen) if row["status"] == "ok" else None
        cols["method"].append(key)
        cols["fold"].append(row["fold"])
        cols["seed"].append(row["seed"])
        cols["split_seed"].append(row["seed"] if row.get("seeds_redraw_folds", False) else "fixed")
        cols["score"].append(math.nan if value is None else value)
        if row.get("arm") == REFERENCE_ARM:
            references.setdefault(str(row["protocol"]), key)
        n_train, n_test = row.get("n_train") or 0, row.get("n_test") or 0
        if n_train > 0 and n_test > 0:
            ratios.append(n_test / n_train)
    if not any(isinstance(v, (int, float)) and math.isfinite(v) for v in cols["score"]):
        raise UsageError(f"{path}: no finished row has metric {chosen!r} (choose another with --metric)")
    default = references.get(REFERENCE_PROTOCOL) or (references[sorted(references)[0]] if references else None)
    ratio = sum(ratios) / len(ratios) if ratios and len(ratios) == len(rows) else None
    source = str(path) if len(fractions) == 1 else f"{path} (rows at {chosen_fraction:g} of the labels)"
    return ScoresInput(cols, None, source, default, ratio, chosen)


def load_scores(path: Path, metric: str | None = None, fraction: float | None = None) -> ScoresInput:
    """A run folder (a directory) or a CSV/TSV file; ``metric`` and ``fraction`` only apply to run folders."""
    if path.is_dir():
        return read_run_folder(path, metric, fraction)
    if metric is not None:
        raise UsageError(f"--metric {metric}: only for a run folder; a CSV has one score column")
    if fraction is not None:
        raise UsageError(f"--label-fraction {fraction:g}: only for a run folder")
    columns, lines = read_scores_table(path)
    return ScoresInput(columns, lines, str(path))


def choose_baseline(given: str | None, scores: ScoresInput) -> str:
    """--baseline, or a run folder's supervised arm (the fine-tune one if there are several)."""
    if given:
        return given
    if scores.default_baseline:
        return scores.default_baseline
    if scores.lines is None:
        raise UsageError(f"{scores.source}: no supervised arm to compare with; name one with --baseline")
    raise UsageError(f"{scores.source}: --baseline is required for a CSV (the method the others are compared with)")
