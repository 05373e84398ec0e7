"""What `tcrbench run --json` prints: one JSON object that a script or a workflow engine reads instead of the board.

It says where the run is, under which configuration hash, what this invocation did (rows computed, reused and
failed, each failure with its reason), how it ended (the exit status), the command that reports it, and where the
time went. A run stopped by --max-time gets the same object with `status` "stopped" and the stop's message.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

STATUS = {0: "complete", 1: "failed", 3: "stopped"}


def report_command(path: Path | str) -> str:
    """The command that turns a run folder into its leaderboard."""
    return f"tcrbench report {shlex.quote(str(path))}"


def run_outcome(summary: Any, exit_code: int) -> dict[str, Any]:
    """The summary object of a run that went through the whole grid (`summary` is a runner.RunSummary)."""
    rows = summary.rows
    return {
        "status": STATUS.get(exit_code, "failed"),
        "exit_code": exit_code,
        "run": str(summary.path),
        "config_hash": summary.config_hash,
        "rows": {
            "total": len(rows),
            "ok": sum(1 for r in rows if r.get("status") == "ok"),
            "failed": len(summary.failed),
            "computed": summary.computed,
            "skipped": summary.skipped,
        },
        "failed": [{"row_key": r["row_key"], "reason": r.get("reason", "")} for r in summary.failed],
        "warnings": list(summary.warnings),
        "executor": summary.executor,
        "seconds": dict(summary.seconds),
        "report": report_command(summary.path),
    }


def stopped_outcome(path: Path | str | None, config_hash: str | None, computed: int, message: str) -> dict[str, Any]:
    """The summary object of a run that --max-time stopped: resumable by the same command."""
    return {
        "status": "stopped",
        "exit_code": 3,
        "run": None if path is None else str(path),
        "config_hash": config_hash,
        "rows": {"computed": computed},
        "message": message,
        "report": None if path is None else report_command(path),
    }
