"""What every tracker logs about a run and a cell, computed once so the trackers agree with each other."""

from __future__ import annotations

import hashlib
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

_UNSAFE = re.compile(r"[^A-Za-z0-9_\-. /]")  # what MLflow accepts in a key; the others accept it too


class Tracker(Protocol):
    name: str

    def cell(self, record: dict[str, Any]) -> None:
        """Log one finished cell (a `cell_record`)."""

    def finish(self, rows: list[dict[str, Any]]) -> None:
        """Flush and close at the end of the run; `rows` are every row of the run."""

    def interrupt(self) -> None:
        """Flush and close a run that stopped before its end (--max-time, an error): resumable, not finished."""


@dataclass
class RunInfo:
    """The run a tracker logs: its folder, its resolved configuration and this invocation."""

    run_dir: Path
    config: dict[str, Any] = field(default_factory=dict)
    config_hash: str = ""
    invocation: str = ""
    generation: int = 0  # how many times --overwrite started the run folder again

    @classmethod
    def load(cls, run_dir: Path, invocation: str, generation: int = 0) -> RunInfo:
        from tcrbench.results.folder import RunFolder

        folder = RunFolder(run_dir)
        return cls(run_dir, folder.config, folder.config_hash, invocation, generation)

    @property
    def name(self) -> str:
        return self.run_dir.name

    @property
    def run_id(self) -> str:
        """Stable across invocations of the same run folder: a resumed run continues its tracker run."""
        key = f"{self.run_dir.resolve()}|{self.config_hash}|{self.generation}"
        digest = hashlib.sha256(key.encode()).hexdigest()
        return f"tcrbench-{digest[:16]}"

    def step(self, record: dict[str, Any]) -> int:
        """The cell's position in the grid (seed-major, then fold): the same on every backend and every resume."""
        seeds = list(self.config.get("seeds") or [record["seed"]])
        folds = int(self.config.get("folds") or record["fold"] + 1)
        position = seeds.index(record["seed"]) if record["seed"] in seeds else 0
        return position * folds + int(record["fold"])


def finite(value: Any) -> float | None:
    """NaN and infinities become None: the metrics log stays strict JSON that any tool can read."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def series(row: dict[str, Any]) -> str:
    """The configuration and protocol a row belongs to, as a tracker-safe key: `<slug>-<config id>/<protocol>`."""
    suffix = f"-s{row['seed']}-f{row['fold']}-{row['protocol']}"
    key = row["row_key"]
    base = key[: -len(suffix)] if key.endswith(suffix) else key
    return _UNSAFE.sub("_", f"{base}/{row['protocol']}")


def safe(name: str) -> str:
    return _UNSAFE.sub("_", name)


def cell_record(row: dict[str, Any]) -> dict[str, Any]:
    """One line of the metrics log: which cell, how it ended, its metrics and timings."""
    return {
        "row_key": row["row_key"],
        "series": series(row),
        "label": row["label"],
        "arm": row["arm"],
        "protocol": row["protocol"],
        "seed": row["seed"],
        "fold": row["fold"],
        "status": row["status"],
        "reason": row.get("reason", ""),
        "metrics": {k: finite(v) for k, v in sorted(row.get("metrics", {}).items())},
        "pretrain_loss": finite(row.get("pretrain_loss")),
        "pretrain_losses": [finite(v) for v in row.get("pretrain_losses") or []],
        "pretrain_seconds": row.get("pretrain_seconds", 0.0),
        "train_seconds": row.get("train_seconds", 0.0),
        "seconds": row.get("seconds", 0.0),
        "finished_at": time.time(),
    }
