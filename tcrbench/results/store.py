"""The run folder, the source of truth for what is done: one atomically written file per finished row.

One file per row (rather than appending to one log) means a kill at any instant leaves only whole rows, and
resuming is "compute what has no file".
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import polars as pl

from tcrbench.errors import UsageError
from tcrbench.results.atomic import atomic_path, write_text
from tcrbench.results.folder import RunFolder
from tcrbench.results.repair import load_row, row_problem, set_aside
from tcrbench.results.schema import ResultRow

log = logging.getLogger("tcrbench.results")


class RunStore:
    def __init__(self, path: str | Path) -> None:
        self.folder = RunFolder(path)
        self.path = self.folder.path
        self.rows_dir = self.folder.rows_dir
        self.pred_dir = self.folder.predictions_dir
        self.cache_dir = self.folder.cache_dir
        self.repairs: list[str] = []  # what `has` set aside, for the runner to log and print
        self.skipped: list[str] = []  # the row files the last `rows()` skipped, and why (for a report's header)

    # ------------------------------------------------------------ set-up
    def open(self, config_toml: str, config_hash: str, environment: dict[str, Any], overwrite: bool) -> None:
        """Create the folder, or reopen it for the same configuration; a different one is refused."""
        existing = self.folder.hash_file
        if existing.exists() and not overwrite:
            old = existing.read_text().strip()
            if old != config_hash:
                raise UsageError(
                    f"--out {self.path}: holds a run of another configuration (hash {old}, this one {config_hash});"
                    " use --overwrite to replace it or choose another --out"
                )
        if overwrite and self.path.exists():
            for sub in (self.rows_dir, self.pred_dir, self.cache_dir):
                shutil.rmtree(sub, ignore_errors=True)
            for output in self.folder.outputs():
                output.unlink(missing_ok=True)
        self.path.mkdir(parents=True, exist_ok=True)
        for sub in (self.rows_dir, self.pred_dir, self.cache_dir):
            sub.mkdir(exist_ok=True)
        for stale in self.path.rglob(".*.tmp"):  # what a killed write left behind (only the driver opens a run)
            stale.unlink(missing_ok=True)
        write_text(self.folder.config_file, config_toml)
        write_text(self.folder.hash_file, config_hash + "\n")
        write_text(self.folder.environment_file, json.dumps(environment, indent=2, sort_keys=True))
        self.folder = RunFolder(self.path)  # forget what was read before these writes

    # ------------------------------------------------------------ rows
    def row_file(self, row_key: str) -> Path:
        return self.rows_dir / f"{row_key}.json"

    def has(self, row_key: str) -> bool:
        """Whether the row is written, whole. A row file that is not a whole row (see results.repair) is moved to
        `<name>.json.corrupt`, kept for the user, and noted in `repairs`: the row counts as missing."""
        path = self.row_file(row_key)
        if not path.exists():
            return False
        problem = row_problem(path)
        if problem is None:
            return True
        kept = set_aside(path)
        self.repairs.append(f"{path}: {problem}; moved to {kept.name}, the row is computed again")
        return False

    def write_row(self, row: ResultRow) -> None:
        write_text(self.row_file(row.row_key), json.dumps(row.to_dict(), sort_keys=True, allow_nan=True))

    def write_predictions(self, row_key: str, frame: pl.DataFrame) -> None:
        with atomic_path(self.pred_dir / f"{row_key}.parquet") as tmp:
            frame.write_parquet(tmp)

    def read_row(self, row_key: str) -> dict[str, Any]:
        return json.loads(self.row_file(row_key).read_text())

    def rows(self) -> list[dict[str, Any]]:
        """Every whole row of the folder; a file that is not one is logged, noted in `skipped` and left out."""
        if not self.rows_dir.is_dir():
            raise UsageError(f"{self.path}: not a tcrbench run folder (no rows/)")
        rows: list[dict[str, Any]] = []
        self.skipped = []
        for p in sorted(self.rows_dir.glob("*.json")):
            row, problem = load_row(p)
            if row is None:  # never fail a report on one bad file; a resumed run sets it aside and redoes it
                self.skipped.append(f"{p}: {problem}")
                log.warning("%s: %s; skipped (re-run the command to compute the row again)", p, problem)
                continue
            rows.append(row)
        return rows

    def consolidate(self) -> Path:
        """All rows as one JSON-lines file, for tools that want a single table."""
        lines = "".join(json.dumps(r, sort_keys=True) + "\n" for r in self.rows())
        target = self.folder.results_jsonl
        write_text(target, lines)
        return target

    def config(self) -> dict[str, Any]:
        return self.folder.config
