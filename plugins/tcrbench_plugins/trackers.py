"""Built-in observer plugin: every finished cell goes to `metrics.jsonl` and to the trackers the run selected.

The run folder's `trackers.json` says which trackers a run uses (written when the run starts); a tracker that
fails is switched off for the rest of the run with one warning, so a tracker outage never costs a result or the
other trackers' logs. Tracker packages are imported only when a run selects them.
"""

from __future__ import annotations

import atexit
import importlib
import logging
import sys
from pathlib import Path
from typing import Any

from tcrbench.plugins.hookspecs import hookimpl
from tcrbench.trackers.jsonl import JsonlTracker
from tcrbench.trackers.records import RunInfo, cell_record
from tcrbench.trackers.selection import OPTIONAL, read_selection

log = logging.getLogger("tcrbench.run")


class _Session:
    """The trackers of one run folder during one invocation."""

    def __init__(self, run_dir: Path, selection: dict[str, Any]) -> None:
        self.invocation = selection.get("invocation", "")
        info = RunInfo.load(run_dir, self.invocation, int(selection.get("generation", 0)))
        self.trackers: list[Any] = []
        for name in ["jsonl", *selection.get("trackers", [])]:
            try:
                if name == "jsonl":
                    self.trackers.append(JsonlTracker(info))
                else:
                    self.trackers.append(importlib.import_module(OPTIONAL[name].module).create(info))
            except Exception as exc:
                _warn(name, "could not start", exc)
        # A run that stops early (--max-time, Ctrl-C, an error) never reaches run_finished: at exit, flush what
        # the trackers hold. Registered after the trackers started, so it runs before their own exit handlers.
        atexit.register(self.interrupt)

    def interrupt(self) -> None:
        """Close a run that did not finish: every cell logged so far is flushed, the run stays resumable."""
        atexit.unregister(self.interrupt)
        for tracker in self.trackers:
            try:
                tracker.interrupt()
            except Exception as exc:
                _warn(tracker.name, "failed while closing", exc)
        self.trackers = []

    def finish(self, rows: list[dict[str, Any]]) -> None:
        atexit.unregister(self.interrupt)
        self.call("finish", rows)
        self.trackers = []

    def call(self, method: str, arg: Any) -> None:
        for tracker in list(self.trackers):
            try:
                getattr(tracker, method)(arg)
            except Exception as exc:
                self.trackers.remove(tracker)
                _warn(tracker.name, "failed", exc)


def _warn(name: str, what: str, exc: Exception) -> None:
    message = f"tracker {name} {what} ({type(exc).__name__}: {exc})"
    if what != "failed while closing":
        message += "; it is off for the rest of this run"
    log.warning(message)
    print(f"warning: {message}", file=sys.stderr)


_sessions: dict[str, _Session] = {}


def _session(run_dir: Path) -> _Session:
    key = str(Path(run_dir).resolve())
    selection = read_selection(run_dir)
    current = _sessions.get(key)
    if current is not None and current.invocation != selection.get("invocation", ""):
        current.interrupt()  # an earlier invocation that ended without run_finished (stopped or crashed)
        current = None
    if current is None:
        current = _sessions[key] = _Session(Path(run_dir), selection)
    return current


@hookimpl
def cell_finished(row: dict[str, Any], run_dir: Path) -> None:
    _session(run_dir).call("cell", cell_record(row))


@hookimpl
def run_finished(run_dir: Path, rows: list[dict[str, Any]]) -> None:
    session = _sessions.pop(str(Path(run_dir).resolve()), None)
    if session is not None:  # nothing was computed in this invocation: nothing to log or close
        session.finish(rows)
