"""Trackers: observers that send each finished cell to a log or an experiment tracker.

The always-on `jsonl` tracker appends one line per finished cell to `metrics.jsonl` in the run folder;
`wandb`, `mlflow` and `tensorboard` are opt-in (`tcrbench run --track NAME`), each an optional extra imported
only when a run selects it. The observer plugin `tcrbench_plugins.trackers` drives them from the `cell_finished`
and `run_finished` hooks; which ones a run uses is read from the run folder's `trackers.json`.
"""

from tcrbench.trackers.selection import OPTIONAL, check_available, read_selection, resolve_trackers, write_selection

__all__ = ["OPTIONAL", "check_available", "read_selection", "resolve_trackers", "write_selection"]
