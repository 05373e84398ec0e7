"""The pretraining cache: each (configuration, fold, seed) is pretrained once, and what it left is reused.

Both protocols of a cell (fine-tune and probe) and every training-dynamics evaluation start from the same
pretrained encoder, so it is kept in the run folder's cache with its losses; resumable checkpoints and
--eval-every snapshots live beside it. A damaged or missing file costs a re-run of pretraining (to the same
numbers, since everything is seeded), never a wrong encoder.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from tcrbench.plugins.protocols import PretrainBatch
from tcrbench.results.atomic import atomic_path, write_text
from tcrbench.run.config import RunConfig
from tcrbench.run.corpus_view import FoldWithCorpus
from tcrbench.run.prepare import PreparedData
from tcrbench.run.progress import Progress
from tcrbench.run.timelimit import TimeLimit
from tcrbench.training.checkpoint import CellFiles, CheckpointDir, CorruptCheckpoint, report_corrupt
from tcrbench.training.dynamics import Schedule, parse_schedule
from tcrbench.training.pretrain import Checkpointing, load_snapshot, pretrain, snapshot_file
from tcrbench.training.seeding import derive_seed

if TYPE_CHECKING:
    from tcrbench.run.cell import Cell

log = logging.getLogger("tcrbench.run")

BatchObserver = Callable[["Cell", PretrainBatch], None]


class PretrainCache:
    """Pretrained encoders of one run folder's cells: load the finished one, or pretrain (resuming) and keep it."""

    def __init__(
        self,
        cfg: RunConfig,
        data: PreparedData,
        cache_dir: Path,
        device: torch.device,
        limit: TimeLimit,
        fresh_encoder: Callable[[Cell], torch.nn.Module],
        observe_batch: BatchObserver | None = None,
        held_out: Callable[[Cell], np.ndarray] | None = None,
    ) -> None:
        self.cfg = cfg
        self.data = data
        self.cache_dir = cache_dir
        self.device = device
        self.limit = limit
        self.fresh_encoder = fresh_encoder  # the cell's initial weights (seed and fold only)
        self.observe_batch = observe_batch
        self.held_out = held_out  # the rows whose TCRs the corpus must not show this cell (test, inner validation)
        self.schedule: Schedule | None = parse_schedule(cfg.eval_every) if cfg.eval_every is not None else None

    def files(self, cell: Cell) -> CellFiles:
        """The cell's cache files, keyed by configuration id, seed and fold (not by arm label: ids are stable)."""
        return CellFiles(self.cache_dir, f"{cell.config_id}-s{cell.seed}-f{cell.fold_index}")

    def pretrain_rows(self, cell: Cell) -> np.ndarray:
        """Rows pretraining may see: the training fold, or every row under the transductive --pretrain-on all."""
        if self.cfg.pretrain_on == "all":
            return np.arange(self.data.frame.height)
        return np.asarray(cell.fold.train)

    def pretrained(self, cell: Cell, encoder: torch.nn.Module, progress: Progress) -> dict[str, Any]:
        """Pretrain `encoder` in place (or load the cached result of pretraining) for this cell; its losses.

        Pretraining checkpoints itself into the cache (every --checkpoint-every steps or --checkpoint-minutes),
        so a killed or --max-time-stopped cell goes on from its latest good checkpoint, to the same numbers.
        """
        files = self.files(cell)
        schedule = self.schedule
        if files.finished(dynamics=schedule is not None):
            try:
                encoder.load_state_dict(torch.load(files.weights, map_location="cpu", weights_only=True))
                result: dict[str, Any] = json.loads(files.meta.read_text())
                CheckpointDir(files.checkpoints).clear()
                return result
            except Exception as exc:  # a damaged cache costs a re-run of pretraining, never a wrong encoder
                log.warning(
                    "%s: cached encoder unreadable (%s: %s); pretraining again", files.weights, type(exc).__name__, exc
                )
                encoder.load_state_dict(self.fresh_encoder(cell).state_dict())
                files.forget()
        data, conf, cfg = self.data, cell.conf, self.cfg
        rows = torch.as_tensor(self.pretrain_rows(cell))
        labels = None
        if conf.uses_labels:  # label-using objectives see only the training fold's positive pairs
            rows = rows[data.labels[rows] > 0.5]
            labels = data.labels[rows]
        batch: Any = PretrainBatch(data.tokens.index(rows), data.groups[rows], labels)
        corpus_record: dict[str, Any] = {}
        if data.corpus is not None and not conf.uses_labels:  # label-using objectives read labelled pairs only
            batch, corpus_record = self._with_corpus(cell, batch)
        obj = conf.obj_obj
        apply_chunk(obj, cfg.budget.pretrain_chunk)
        observer = None
        if self.observe_batch is not None:
            observe = self.observe_batch
            observer = lambda b: observe(cell, b)
        checkpointing = Checkpointing(
            files.checkpoints,
            every_steps=cfg.checkpoint_every,
            every_seconds=cfg.checkpoint_minutes * 60 if cfg.checkpoint_minutes else None,
            deadline=self.limit.deadline(),
            snapshot_dir=files.dynamics if schedule else None,
            snapshot_steps=schedule.steps if schedule else None,
        )
        stats = pretrain(
            encoder,
            obj,
            conf.aug_obj,
            batch,
            cfg.budget,
            derive_seed(cell.seed, "pretrain", cell.fold_index),
            self.device,
            on_step=progress.step("pretrain"),
            observe_batch=observer,
            checkpointing=checkpointing,
        )
        if stats.resumed_from:
            log.info("%s: pretraining resumed from the checkpoint of step %d", files.key, stats.resumed_from)
        encoder.to("cpu")
        result = {
            "pretrain_loss": stats.final_loss,
            "pretrain_losses": stats.epoch_losses,
            "pretrain_seconds": stats.seconds,
            "pretrain_corpus": corpus_record,
        }
        if schedule is not None:
            beyond = schedule.beyond(stats.steps)
            if beyond:
                log.warning(
                    "--eval-every: step(s) %s are past the %d pretraining steps of %s; skipped",
                    ", ".join(map(str, beyond)),
                    stats.steps,
                    files.key,
                )
            write_text(files.index, json.dumps({"steps": schedule.steps(stats.steps), "total": stats.steps}))
        with atomic_path(files.weights) as tmp:
            torch.save(encoder.state_dict(), tmp)
        write_text(files.meta, json.dumps(result))
        CheckpointDir(files.checkpoints).clear()
        self.limit.did_work()
        return result

    def _with_corpus(self, cell: Cell, batch: PretrainBatch) -> tuple[FoldWithCorpus, dict[str, Any]]:
        """The fold's rows plus the corpus rows that share no chain with a TCR this cell holds out."""
        data = self.data
        held = np.asarray(cell.fold.test) if self.held_out is None else self.held_out(cell)
        kept, removed = data.corpus.kept(data.frame[held.tolist()])
        record = {**data.corpus_report.to_dict(), "removed": removed, "used": len(kept)}
        if removed:
            log.info(
                "%s: the leak guard removed %d corpus row(s) holding a held-out TCR", self.files(cell).key, removed
            )
        return FoldWithCorpus(batch, data.corpus, kept), record

    def snapshot(self, cell: Cell, step: int, progress: Progress) -> dict[str, Any]:
        """A --eval-every snapshot; a missing or damaged one is made again by pretraining the cell again."""
        files = self.files(cell)
        try:
            return load_snapshot(files.dynamics, step)
        except (CorruptCheckpoint, FileNotFoundError) as exc:
            path, fix = snapshot_file(files.dynamics, step), "pretraining this cell again to rebuild it"
            if isinstance(exc, CorruptCheckpoint):
                report_corrupt(exc, path, fix)
            else:
                log.warning("%s: missing; %s", path, fix)
        files.forget()
        self.pretrained(cell, self.fresh_encoder(cell), progress)
        return load_snapshot(files.dynamics, step)


def apply_chunk(objective: Any, chunk: int) -> None:
    """The run's gradient-caching chunk reaches every objective part that has a `chunk` parameter."""
    for part in getattr(objective, "parts", None) or [objective]:
        if chunk and hasattr(part, "chunk"):
            part.chunk = chunk
