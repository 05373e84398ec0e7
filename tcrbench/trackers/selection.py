"""Which trackers a run uses: validated up front, written to the run folder, read back by the observer plugin.

The choice lives in the run folder (`trackers.json`) rather than in the configuration, because trackers do not
change the numbers and must not change the configuration hash; the observer finds it next to the rows it logs.
"""

from __future__ import annotations

import difflib
import importlib.util
import json
import shutil
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tcrbench.errors import UsageError
from tcrbench.results.atomic import write_text

FILE = "trackers.json"


@dataclass(frozen=True)
class OptionalTracker:
    module: str  # our adapter, imported only when selected
    packages: tuple[str, ...]  # what must be importable (checked without importing it)
    extra: str  # pip install 'tcrbench[extra]'


OPTIONAL: dict[str, OptionalTracker] = {
    "wandb": OptionalTracker("tcrbench.trackers.wandb_tracker", ("wandb",), "wandb"),
    "mlflow": OptionalTracker("tcrbench.trackers.mlflow_tracker", ("mlflow", "sqlalchemy", "alembic"), "mlflow"),
    "tensorboard": OptionalTracker("tcrbench.trackers.tensorboard_tracker", ("tensorboard",), "tensorboard"),
}


def check_available(name: str) -> None:
    """Fail before any work starts when a selected tracker's package is missing."""
    spec = OPTIONAL[name]
    for package in spec.packages:
        if importlib.util.find_spec(package) is None:
            raise UsageError(f"--track {name} needs the {package} package: pip install 'tcrbench[{spec.extra}]'")


def resolve_trackers(names: Iterable[str]) -> list[str]:
    """Known, installed, each once, in the order given."""
    out: list[str] = []
    for raw in names:
        name = raw.strip().lower()
        if name == "jsonl":
            continue  # always on
        if name not in OPTIONAL:
            hint = difflib.get_close_matches(name, list(OPTIONAL), n=1)
            extra = f"; did you mean {hint[0]!r}?" if hint else ""
            raise UsageError(f"--track {raw!r}: unknown tracker (choose from {', '.join(OPTIONAL)}){extra}")
        check_available(name)
        if name not in out:
            out.append(name)
    return out


FRESH_START = ("metrics.jsonl", "tensorboard")  # logs that --overwrite starts again


def write_selection(run_dir: str | Path, names: Iterable[str], fresh: bool = False) -> list[str]:
    """Record this invocation's trackers; a fresh invocation id tells observers that a new run has started.

    `fresh` (--overwrite: every cell is computed again) empties the run folder's own logs and starts a new
    generation, so W&B and MLflow log a new tracker run instead of a second set of values in the old one.
    """
    chosen = resolve_trackers(names)
    generation = int(read_selection(run_dir).get("generation", 0))
    if fresh:
        generation += 1
        for name in FRESH_START:
            path = Path(run_dir) / name
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
    payload = {"trackers": chosen, "invocation": uuid.uuid4().hex, "generation": generation, "started": time.time()}
    write_text(Path(run_dir) / FILE, json.dumps(payload, indent=2) + "\n")
    return chosen


def read_selection(run_dir: str | Path) -> dict:
    """The run's selection; a folder written before trackers existed has only the always-on log."""
    path = Path(run_dir) / FILE
    if not path.exists():
        return {"trackers": [], "invocation": "", "generation": 0, "started": None}
    return json.loads(path.read_text())
