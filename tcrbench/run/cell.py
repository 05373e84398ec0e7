"""One cell: a configuration on one fold with one seed, turned into result rows.

Each cell starts from a fresh encoder initialised from its seed and fold only (the same for every arm), is
pretrained on its training fold (through the pretraining cache), then fine-tuned and probed with the baseline's
exact budget; simple baselines fit and predict directly. Whatever goes wrong inside a cell becomes a failed row
with a reason, so one broken cell never takes the grid down; a --max-time stop is not a failure and goes up.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch

from tcrbench.errors import StorageFault
from tcrbench.plugins.protocols import Fold, Kind
from tcrbench.results.schema import ResultRow
from tcrbench.results.store import RunStore
from tcrbench.run.cell_dynamics import dynamics_rows
from tcrbench.run.config import RunConfig
from tcrbench.run.evaluation import choose_threshold, evaluate
from tcrbench.run.grid import Configuration
from tcrbench.run.inner_split import InnerSplit, usable
from tcrbench.run.label_fraction import ITEM_SEP, LabelledSplits, item, parse_item
from tcrbench.run.prepare import PreparedData
from tcrbench.run.pretrain_cache import BatchObserver, PretrainCache
from tcrbench.run.progress import Progress
from tcrbench.run.timelimit import TimeLimit
from tcrbench.training.checkpoint import StoppedForTime
from tcrbench.training.failures import CellFailed
from tcrbench.training.finetune import Validation, embed, finetune, predict
from tcrbench.training.probe import linear_probe, linear_probe_per_group
from tcrbench.training.seeding import derive_seed

log = logging.getLogger("tcrbench.run")


@dataclass
class Cell:
    """A configuration on one fold with one seed: the unit of work, and of resuming."""

    conf: Configuration
    config_id: str
    fold_index: int
    fold: Fold
    seed: int

    def row_key(self, protocol: str) -> str:
        """The row's file name in the run folder: readable, and unique per configuration, seed, fold, protocol
        (and label fraction: `finetune@0.05` becomes `finetune-lf0.05`)."""
        name = protocol.replace(ITEM_SEP, "-lf")
        return f"{self.conf.slug}-{self.config_id[:8]}-s{self.seed}-f{self.fold_index}-{name}"


def _check_published(conf: Configuration) -> None:
    """A published pretrained model (`published = True` on its factory) with an objective that needs per-position
    states fails with the reason, not a shape error deep inside the objective."""
    obj = conf.obj_obj
    if not getattr(conf.enc_obj, "published", False) or obj is None or not getattr(obj, "pretrains", False):
        return
    parts = getattr(obj, "parts", None) or [obj]
    for part in parts:
        if getattr(part, "needs_positions", False):  # objectives that read per-position states (mlm) say so
            raise CellFailed(
                f"encoder {conf.encoder} is a published pretrained model: it gives one vector per TCR, not the "
                f"per-position states objective {part.name!r} needs; run it with --objective none"
            )


def initial_encoder(cell: Cell, max_len: int, frame: pl.DataFrame | None = None) -> torch.nn.Module:
    """A fresh encoder whose weights depend on (seed, fold) only: the same for every arm of that cell.

    `frame`: the prepared table, passed to a factory that asks for it (`bind_table`, e.g. SCEPTR's germline
    CDRs) before it builds."""
    factory = cell.conf.enc_obj
    _check_published(cell.conf)
    bind = getattr(factory, "bind_table", None)
    if frame is not None and callable(bind):
        bind(frame)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(cell.seed, "init", cell.fold_index))
        module: torch.nn.Module = factory.build(max_len)
        return module


class CellRunner:
    """Computes cells' rows in this process against one prepared run (its data, metrics and run folder)."""

    def __init__(
        self,
        cfg: RunConfig,
        registry: Any,
        data: PreparedData,
        metrics: list[Any],
        store: RunStore,
        device: torch.device,
        config_hash: str,
        versions: dict[str, str],
        observe_pretrain_batch: BatchObserver | None = None,
    ) -> None:
        self.cfg = cfg
        self.registry = registry
        self.data = data
        self.metrics = metrics
        self.store = store
        self.device = device
        self.config_hash = config_hash
        self.versions = versions
        self.limit = TimeLimit(cfg.max_time)
        self.splits = LabelledSplits(data.frame, cfg, registry)
        self.cache = PretrainCache(
            cfg,
            data,
            Path(store.cache_dir),
            device,
            self.limit,
            self.initial_encoder,
            observe_pretrain_batch,
            held_out=self.held_out,
        )

    def initial_encoder(self, cell: Cell) -> torch.nn.Module:
        """The cell's fresh encoder at this run's sequence width (a factory that reads the table gets it first)."""
        return initial_encoder(cell, self.data.max_len, self.data.frame)

    # ------------------------------------------------------------ a cell's rows
    def run_cell(self, cell: Cell, protocols: list[str], redraw: bool, progress: Progress) -> list[ResultRow]:
        """The cell's rows for `protocols` (each a protocol, or `protocol@fraction` below the full label budget);
        failed rows (with the reason) when the cell breaks."""
        start = time.perf_counter()
        try:
            if cell.conf.arm == "baseline" and cell.conf.base_obj is not None:
                return [self._baseline_row(cell, what, redraw) for what in protocols]
            return self._encoder_rows(cell, protocols, redraw, progress, start)
        except StoppedForTime:  # a clean stop, not a failed cell: the run ends and resumes here
            raise
        except StorageFault:
            raise
        except Exception as exc:  # one broken cell must not take the grid down; the traceback goes to run.log
            if StorageFault.wraps(exc):  # a full disk is not a result: stop the run, record nothing for this cell
                raise StorageFault.of(exc) from exc  # type: ignore[arg-type]
            reason = str(exc) if isinstance(exc, CellFailed) else f"{type(exc).__name__}: {exc}"
            log.error("%s failed: %s", cell.row_key(protocols[0]), reason, exc_info=not isinstance(exc, CellFailed))
            return [
                self.row(cell, p, redraw, status="failed", reason=reason, seconds=time.perf_counter() - start)
                for p in protocols
            ]

    def row(self, cell: Cell, protocol: str, redraw: bool, **kw: Any) -> ResultRow:
        """A result row of this cell, with its configuration, fold, plugin sources and versions filled in."""
        conf = cell.conf
        protocol, fraction = parse_item(protocol)
        if kw.get("status") == "ok":
            kw.setdefault("n_labelled", len(self.labelled(cell, fraction)))
        sources = {}
        for kind, obj in (
            (Kind.AUGMENTATION, conf.aug_obj),
            (Kind.OBJECTIVE, conf.obj_obj),
            (Kind.ENCODER, conf.enc_obj),
            (Kind.BASELINE, conf.base_obj),
        ):
            for part in getattr(obj, "parts", None) or ([obj] if obj is not None else []):
                sources[f"{kind.value}:{part.name}"] = str(self.registry.get(kind, part.name).source)
        return ResultRow(
            row_key=cell.row_key(item(protocol, fraction)),
            label_fraction=fraction,
            negatives=self.cfg.negatives or "",
            config_hash=self.config_hash,
            config_id=cell.config_id,
            label=conf.label,
            arm=conf.arm,
            protocol=protocol,
            augmentation=conf.augmentation,
            objective=conf.objective,
            encoder=conf.encoder,
            baseline=conf.baseline,
            params=self._params(conf),
            uses_labels=conf.uses_labels,
            shortcut=conf.shortcut,
            published=conf.published,
            pretrain_on=self.cfg.pretrain_on,
            fold=cell.fold_index,
            fold_name=cell.fold.name,
            seed=cell.seed,
            seeds_redraw_folds=redraw,
            n_train=len(cell.fold.train),
            n_test=len(cell.fold.test),
            sources=sources,
            versions=self.versions,
            **kw,
        )

    @staticmethod
    def _params(conf: Configuration) -> dict[str, Any]:
        """The configuration's parameters; an encoder that decides something from the table (SCEPTR's variant and
        germline counts) adds it as `resolved` in its own entry. Not part of the config id, which is fixed up front."""
        params = conf.params
        resolved = getattr(conf.enc_obj, "resolved", None)
        extra = resolved() if callable(resolved) else None
        if extra and isinstance(params.get("encoder"), dict):
            params["encoder"] = {**params["encoder"], "resolved": extra}
        return params

    def evaluate(
        self,
        cell: Cell,
        train_scores: np.ndarray,
        test_scores: np.ndarray,
        predictions: str | None = None,
        train_rows: np.ndarray | None = None,
    ) -> tuple[dict[str, float], float]:
        """Metrics of the test fold at a threshold chosen on the training rows' scores, and that threshold.

        `train_rows` are the labelled rows the scores of `train_scores` belong to (the whole training fold by
        default). With `predictions` (a row key), the test fold's scores are also kept in the run folder under
        that key; the training-dynamics points are evaluated without one.
        """
        frame, fold = self.data.frame, cell.fold
        labels, peptides = frame["label"].to_numpy(), frame["peptide"].to_numpy()
        train = np.asarray(fold.train) if train_rows is None else train_rows
        threshold = choose_threshold(labels[train], train_scores)
        metrics = evaluate(self.metrics, labels[fold.test], test_scores, peptides[fold.test], threshold)
        if predictions is not None:
            self.store.write_predictions(
                predictions,
                pl.DataFrame(
                    {
                        "row": frame["__index"].to_numpy()[fold.test],
                        "peptide": peptides[fold.test],
                        "cdr3b": frame["cdr3b"].to_numpy()[fold.test],
                        "label": labels[fold.test],
                        "score": test_scores,
                    }
                ),
            )
        return metrics, float(threshold)

    def _baseline_row(self, cell: Cell, what: str, redraw: bool) -> ResultRow:
        start = time.perf_counter()
        frame = self.data.frame
        _, fraction = parse_item(what)
        rows = self.labelled(cell, fraction)
        train, test = frame[rows.tolist()], frame[cell.fold.test.tolist()]
        seed = derive_seed(cell.seed, "baseline", cell.fold_index)
        s_train, s_test = cell.conf.base_obj.fit_predict(train, test, seed)
        metrics, threshold = self.evaluate(
            cell,
            np.asarray(s_train, float),
            np.asarray(s_test, float),
            predictions=cell.row_key(what),
            train_rows=rows,
        )
        return self.row(
            cell,
            what,
            redraw,
            status="ok",
            metrics=metrics,
            threshold=threshold,
            train_seconds=time.perf_counter() - start,
            seconds=time.perf_counter() - start,
            framing=str(getattr(cell.conf.base_obj, "framing", "pan")),  # kmer_per_peptide: a model per peptide
        )

    def _encoder_rows(
        self, cell: Cell, protocols: list[str], redraw: bool, progress: Progress, start: float
    ) -> list[ResultRow]:
        conf = cell.conf
        try:
            self.limit.check(f"starting {cell.row_key(protocols[0])}")
            encoder = self.initial_encoder(cell)
            pre: dict[str, Any] = {"pretrain_loss": None, "pretrain_losses": [], "pretrain_seconds": 0.0}
            pretrains = conf.arm == "pretrained" or (
                conf.obj_obj is not None and getattr(conf.obj_obj, "pretrains", False)
            )
            if pretrains:
                pre = self.cache.pretrained(cell, encoder, progress)
            # dynamics rows first: the driver writes rows in order, so a cell whose main rows exist has them all
            rows = dynamics_rows(self, cell, redraw, progress) if pretrains and self.cache.schedule else []
        except StoppedForTime as stop:
            log.warning("%s", stop)
            raise
        for what in protocols:
            t0 = time.perf_counter()
            protocol, fraction = parse_item(what)
            s_train, s_test, trained = self._scores(cell, protocol, encoder, progress, fraction)
            metrics, threshold = self.evaluate(
                cell, s_train, s_test, predictions=cell.row_key(what), train_rows=self.labelled(cell, fraction)
            )
            rows.append(
                self.row(
                    cell,
                    what,
                    redraw,
                    status="ok",
                    metrics=metrics,
                    threshold=threshold,
                    train_seconds=time.perf_counter() - t0,
                    seconds=time.perf_counter() - t0 + pre["pretrain_seconds"],
                    **pre,
                    **trained,
                )
            )
        self.limit.did_work()
        return rows

    def labelled(self, cell: Cell, fraction: float = 1.0) -> np.ndarray:
        """The training fold's rows whose labels this cell may use at `fraction` (see run.label_fraction)."""
        return self.splits.labelled(cell.fold, cell.seed, cell.fold_index, fraction)

    def inner(self, cell: Cell, fraction: float = 1.0) -> InnerSplit:
        """The inner validation split of those rows: drawn once per fold, seed and fraction, shared by every arm."""
        return self.splits.inner(cell.fold, cell.seed, cell.fold_index, fraction)

    def held_out(self, cell: Cell) -> np.ndarray:
        """Rows whose TCRs a corpus must not show this cell's pretraining (test fold, inner validation)."""
        return self.splits.held_out(cell.fold, cell.seed, cell.fold_index)

    def _scores(
        self, cell: Cell, protocol: str, encoder: torch.nn.Module, progress: Progress, fraction: float = 1.0
    ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        """Scores of the labelled training rows and of the test fold for `encoder` under a protocol (fine-tuned on
        a copy, or linearly probed), and what the row records of the training: framing, epochs, the curve."""
        data = self.data
        train_idx = torch.as_tensor(self.labelled(cell, fraction))
        test_idx = torch.as_tensor(cell.fold.test)
        seed = derive_seed(cell.seed, protocol, cell.fold_index)
        per_peptide = self.cfg.framing == "per_peptide"
        groups = data.groups if per_peptide else None
        trained: dict[str, Any] = {"framing": self.cfg.framing}
        if protocol == "finetune":
            split = self.inner(cell, fraction)
            fit_idx, val_idx = torch.as_tensor(split.fit), torch.as_tensor(split.val)
            validation = None
            if usable(data.labels[val_idx].numpy()):
                validation = Validation(data.tokens.index(val_idx), data.labels[val_idx], data.groups[val_idx])
            elif len(val_idx):
                log.warning(
                    "%s: the inner validation split has one class only; training without early stopping",
                    cell.row_key(protocol),
                )
                fit_idx = train_idx
            model, stats = finetune(
                copy.deepcopy(encoder),
                data.tokens.index(fit_idx),
                data.labels[fit_idx],
                cell.conf.finetune_budget(self.cfg.budget),
                seed,
                self.device,
                loss=getattr(cell.conf.enc_obj, "loss", "ce"),
                on_step=progress.step("fine-tune"),
                validation=validation,
                groups=groups[fit_idx] if groups is not None else None,
                n_groups=self.n_groups if per_peptide else 1,
            )
            g_train = groups[train_idx] if groups is not None else None
            g_test = groups[test_idx] if groups is not None else None
            s_train = predict(model, data.tokens.index(train_idx), self.device, groups=g_train)
            s_test = predict(model, data.tokens.index(test_idx), self.device, groups=g_test)
            trained.update(
                epochs=stats.epochs,
                best_epoch=stats.best_epoch,
                val_curve=stats.val_curve,
                n_val=len(val_idx) if validation is not None else 0,
            )
        else:
            x_train = embed(encoder, data.tokens.index(train_idx), self.device)
            x_test = embed(encoder, data.tokens.index(test_idx), self.device)
            y_train = data.labels[train_idx].numpy()
            if per_peptide:
                s_train, s_test = linear_probe_per_group(
                    x_train, y_train, x_test, data.groups[train_idx].numpy(), data.groups[test_idx].numpy(), seed
                )
            else:
                s_train, s_test = linear_probe(x_train, y_train, x_test, seed)
        if not (np.isfinite(s_train).all() and np.isfinite(s_test).all()):
            raise CellFailed(f"{protocol}: non-finite predictions")
        return s_train, s_test, trained

    @property
    def n_groups(self) -> int:
        """Peptides in the whole table: the per-peptide head has one output each, the same in every fold."""
        return int(self.data.groups.max()) + 1 if len(self.data.groups) else 1
