"""A cell's training-dynamics rows: each --eval-every snapshot of its pretraining, evaluated like a finished
encoder (probe or fine-tune) on the run's largest label fraction, each evaluation cached so a resumed cell does
not evaluate a snapshot twice. Functions of a `CellRunner`, which supplies scoring, evaluation and the cache."""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from tcrbench.results.atomic import write_text
from tcrbench.results.schema import ResultRow
from tcrbench.run.label_fraction import item
from tcrbench.run.progress import Progress
from tcrbench.training.checkpoint import CellFiles
from tcrbench.training.dynamics import protocol_name
from tcrbench.training.failures import CellFailed

if TYPE_CHECKING:
    from tcrbench.run.cell import Cell, CellRunner

log = logging.getLogger("tcrbench.run")


def dynamics_rows(runner: CellRunner, cell: Cell, redraw: bool, progress: Progress) -> list[ResultRow]:
    """One row per evaluated pretraining step (0 = the untrained encoder), each with the loss at that step,
    evaluated on the run's largest label fraction."""
    protocol = runner.cfg.dynamics_protocol
    name = item(protocol_name(protocol), max(runner.cfg.label_fractions))
    files = runner.cache.files(cell)
    rows = []
    for step in [0, *json.loads(files.index.read_text())["steps"]]:
        runner.limit.check(f"evaluating step {step} of {cell.row_key(name)}")
        result = _dynamics_result(runner, cell, protocol, step, files, progress)
        row = runner.row(cell, name, redraw, **result)
        rows.append(dataclasses.replace(row, row_key=cell.row_key(f"{name}-step{step}"), step=step))
    for stale in files.dynamics.glob(".*.tmp"):  # what a kill in the middle of a write left behind
        stale.unlink(missing_ok=True)
    return rows


def _dynamics_result(
    runner: CellRunner, cell: Cell, protocol: str, step: int, files: CellFiles, progress: Progress
) -> dict[str, Any]:
    """The evaluation of one snapshot, cached so a resumed cell does not evaluate it twice."""
    cache = files.evaluation(protocol, step)
    if cache.exists():
        try:
            cached: dict[str, Any] = json.loads(cache.read_text())
            return cached
        except json.JSONDecodeError:
            log.warning("%s: unreadable; evaluating again", cache)
    t0 = time.perf_counter()
    encoder = runner.initial_encoder(cell)
    loss = None
    if step:
        snapshot = runner.cache.snapshot(cell, step, progress)
        encoder.load_state_dict(snapshot["encoder"])
        loss = float(snapshot["loss"])
    result: dict[str, Any] = {"status": "ok", "reason": "", "pretrain_loss": loss}
    try:
        fraction = max(runner.cfg.label_fractions)
        s_train, s_test, _ = runner._scores(cell, protocol, encoder, progress, fraction)
        rows = runner.labelled(cell, fraction)
        result["metrics"], result["threshold"] = runner.evaluate(cell, s_train, s_test, train_rows=rows)
    except CellFailed as exc:  # one bad checkpoint is a failed point on the curve, not a failed cell
        result.update(status="failed", reason=str(exc))
    result["train_seconds"] = result["seconds"] = time.perf_counter() - t0
    write_text(cache, json.dumps(result))
    runner.limit.did_work()
    return result
