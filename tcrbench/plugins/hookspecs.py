"""Every hook tcrbench calls. Each docstring is that hook's reference (docs/plugins/hooks.md is checked against it).

Registration hooks receive a `register` callable and call it once per plugin class they provide. A plugin class
is a dataclass (its fields are its typed parameters) with class attributes `name` and `description`, and the
methods of its kind's protocol in `tcrbench.plugins.protocols`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("tcrbench")
hookimpl = pluggy.HookimplMarker("tcrbench")

Register = Callable[[type], None]


@hookspec
def register_augmentations(register: Register) -> None:
    """Register augmentation classes: `__call__(batch: TokenBatch, generator) -> Augmented`.

    They corrupt a batch of token ids without a loop over rows, touch only amino-acid positions, and are
    deterministic given the generator. Used by `--aug NAME[:k=v,...]`; compose with `+`.
    """


@hookspec
def register_objectives(register: Register) -> None:
    """Register pretraining objective classes: `build(encoder) -> nn.Module` whose forward returns an ObjectiveOutput.

    Declare `uses_labels` (True if the objective reads binding labels) and `pretrains`. Used by `--objective NAME`;
    weighted sums with `+` and a `weight` parameter per part.
    """


@hookspec
def register_encoders(register: Register) -> None:
    """Register encoder factories: `build(max_len) -> nn.Module` with `hidden_size`, `forward(batch)` and `pool`.

    Used by `--encoder NAME[:k=v,...]`. The runner seeds torch before `build`, so initial weights depend on the seed only.
    """


@hookspec
def register_datasets(register: Register) -> None:
    """Register dataset classes: `load() -> polars.DataFrame` in the canonical schema. Used by `--dataset NAME`."""


@hookspec
def register_splitters(register: Register) -> None:
    """Register fold strategies: `split(frame, n_folds, seed) -> list[Fold]`; declare `redraws_with_seed`.

    Identical (peptide, TCR) pairs must share a fold. Used by `--split NAME`.
    """


@hookspec
def register_metrics(register: Register) -> None:
    """Register metrics: `__call__(y_true, y_score, *, peptides, threshold) -> MetricValue`.

    Declare `needs_threshold`; the runner passes a threshold chosen on the training fold.
    """


@hookspec
def register_baselines(register: Register) -> None:
    """Register simple baselines: `fit_predict(train, test, seed) -> (train_scores, test_scores)`.

    Declare `shortcut = True` for baselines that expose negative-sampling shortcuts (peptide-only, TCR-only, ...);
    reports warn when one comes close to the best model.
    """


@hookspec
def register_reporters(register: Register) -> None:
    """Register leaderboard renderers: `write(board, out_dir) -> list[Path]` (Markdown, HTML, JSON, ...)."""


@hookspec
def register_commands(app: Any) -> None:
    """Add commands to the `tcrbench` typer application (`@app.command()` or `app.add_typer`)."""


@hookspec
def cell_finished(row: dict[str, Any], run_dir: Path) -> None:
    """Observe one finished cell: `row` is the result row just written to the run's store (trackers, loggers)."""


@hookspec
def run_finished(run_dir: Path, rows: list[dict[str, Any]]) -> None:
    """Observe the end of a run, after every cell has a row (succeeded or failed)."""
