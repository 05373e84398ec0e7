"""The always-on tracker: `metrics.jsonl` in the run folder, one line per finished cell, appended as it lands.

Appended rather than rewritten: it is a log of what happened (a resumed or retried run adds lines, each tagged
with its invocation), while `rows/` and `results.jsonl` stay the table of results.
"""

from __future__ import annotations

import json
from typing import Any

from tcrbench.trackers.records import RunInfo

FILE = "metrics.jsonl"


class JsonlTracker:
    name = "jsonl"

    def __init__(self, run: RunInfo) -> None:
        self.run = run
        self.path = run.run_dir / FILE
        self.handle = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - open for the tracker's lifetime, closed in finish()

    def cell(self, record: dict[str, Any]) -> None:
        line = {**record, "invocation": self.run.invocation, "step": self.run.step(record)}
        self.handle.write(json.dumps(line, sort_keys=True, allow_nan=False) + "\n")
        self.handle.flush()  # a reader (or a crash) sees every finished cell at once

    def finish(self, rows: list[dict[str, Any]]) -> None:
        self.handle.close()

    def interrupt(self) -> None:
        self.handle.close()


def read_metrics(run_dir: Any) -> list[dict[str, Any]]:
    """Every line of a run's metrics log."""
    from pathlib import Path

    path = Path(run_dir) / FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
