"""Cheap compute functions for the executor tests, importable by spawned workers (the tests put this folder on
sys.path, which spawned processes inherit); they take a CellTask and return rows as the runner's would."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from tcrbench.executors.worker import WorkerSetupError


def flaky(marker_dir: str, die_index: int, always: bool, task) -> list[dict]:
    """Kill this worker while computing cell `die_index`: the first time only, or every time."""
    marker = Path(marker_dir) / f"died-{task.index}"
    if task.index == die_index and (always or not marker.exists()):
        marker.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return [{"index": task.index, "pid": os.getpid()}]


def cuda_visible(task) -> list[dict]:
    return [{"index": task.index, "cuda": os.environ.get("CUDA_VISIBLE_DEVICES")}]


def bad_setup(task) -> list[dict]:
    raise WorkerSetupError("worker test-host:1: plugin 'x' is missing here but built-in on the driver")


def plumbing_error(task) -> list[dict]:
    if task.index == 1:
        raise RuntimeError("result could not be sent")
    return [{"index": task.index}]


class Stop(SystemExit):
    """Like --max-time's stop: a SystemExit with a message, raised at a clean point inside a cell."""

    def __init__(self, message: str = "") -> None:
        super().__init__(3)
        self.message = message

    def __str__(self) -> str:
        return self.message


def stop_at(index: int, task) -> list[dict]:
    """Cell `index` stops the run (as a worker's compute reports it); the others take a moment and finish."""
    import time

    from tcrbench.executors.worker import WorkerStopped

    if task.index == index:
        raise WorkerStopped(Stop(f"stopped before cell {index}; run again to resume"))
    time.sleep(0.5)
    return [{"index": task.index}]
