"""The runner owns the loop over cells: (configuration, fold, seed). Each cell starts from a fresh encoder
initialised from its seed, pretrains on its training fold only, is fine-tuned and probed with the baseline's exact
budget, and leaves one atomically written row per protocol. Finished rows are never recomputed (unless asked)."""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import polars as pl
import torch

from tcrbench.plugins.protocols import Fold, Kind, PretrainBatch
from tcrbench.run.config import RunConfig
from tcrbench.run.environment import environment, versions
from tcrbench.executors import CellTask, SerialExecutor
from tcrbench.run.grid import Configuration, plan
from tcrbench.run.prepare import PreparedData, prepare
from tcrbench.results.atomic import atomic_path, write_text
from tcrbench.results.schema import ResultRow
from tcrbench.results.store import RunStore
from tcrbench.training.failures import CellFailed
from tcrbench.training.finetune import embed, finetune, predict
from tcrbench.training.checkpoint import CellFiles, CheckpointDir, CorruptCheckpoint, StoppedForTime, report_corrupt
from tcrbench.training.dynamics import Schedule, parse_schedule, protocol_name
from tcrbench.training.pretrain import Checkpointing, load_snapshot, pretrain, snapshot_file
from tcrbench.training.probe import linear_probe
from tcrbench.training.seeding import derive_seed, resolve_device

log = logging.getLogger("tcrbench.run")


@dataclass
class RunSummary:
    path: Path
    config_hash: str
    rows: list[dict[str, Any]]
    computed: int
    skipped: int
    failed: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class Cell:
    conf: Configuration
    config_id: str
    fold_index: int
    fold: Fold
    seed: int

    def row_key(self, protocol: str) -> str:
        return f"{self.conf.slug}-{self.config_id[:8]}-s{self.seed}-f{self.fold_index}-{protocol}"


class Progress:
    """Grid and current-cell progress; a no-op when quiet."""

    def __init__(self, quiet: bool, total: int) -> None:
        self.bar = None
        if not quiet:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress
            from rich.progress import TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self.bar = RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                    TimeElapsedColumn(), TimeRemainingColumn(), transient=False)
            self.bar.start()
            self.grid = self.bar.add_task("grid", total=total)
            self.cell = self.bar.add_task("", total=1, visible=False)

    def start_cell(self, label: str) -> None:
        if self.bar:
            self.bar.update(self.cell, description=label, completed=0, total=1, visible=True)

    def step(self, phase: str) -> Callable[[int, int, float, float], None]:
        def update(step: int, total: int, loss: float, per_s: float) -> None:
            if self.bar:
                self.bar.update(self.cell, completed=step, total=total,
                                description=f"  {phase}: loss {loss:.4f}, {per_s:,.0f} seq/s")
        return update

    def advance(self, n: int = 1) -> None:
        if self.bar:
            self.bar.advance(self.grid, n)

    def stop(self) -> None:
        if self.bar:
            self.bar.stop()


def make_folds(cfg: RunConfig, registry: Any, data: PreparedData, seed: int) -> tuple[list[Fold], bool]:
    splitter = registry.create(Kind.SPLITTER, cfg.split)
    redraw = bool(getattr(splitter, "redraws_with_seed", True)) and not cfg.fixed_folds
    folds = splitter.split(data.frame, cfg.folds, seed if redraw else 0)
    return folds, redraw


class Runner:
    def __init__(self, cfg: RunConfig, plugins: Any, out: str | Path | None = None, overwrite: bool = False,
                 retry_failed: bool = False, quiet: bool = False,
                 observe_pretrain_batch: Callable[[Cell, PretrainBatch], None] | None = None,
                 trackers: Sequence[str] = ()) -> None:
        self.cfg = cfg
        self.plugins = plugins
        self.registry = plugins.registry
        self.out = out
        self.overwrite = overwrite
        self.retry_failed = retry_failed
        self.quiet = quiet
        self.observe_pretrain_batch = observe_pretrain_batch
        self.trackers = tuple(trackers)

    # ------------------------------------------------------------ set-up
    def setup(self, open_store: bool = True) -> None:
        """Resolve plugins, data and the run folder; workers call it with open_store=False (the driver writes)."""
        cfg = self.cfg
        self.device = resolve_device(cfg.device)
        if cfg.threads is not None:
            torch.set_num_threads(cfg.threads)
        self.configs = plan(cfg, self.registry)
        self.metrics = [self.registry.create(Kind.METRIC, m)
                        for m in (self.registry.names(Kind.METRIC) if cfg.metrics is None else cfg.metrics)]
        if cfg.primary_metric not in [m.name for m in self.metrics]:
            from tcrbench.errors import UsageError

            raise UsageError(f"primary metric {cfg.primary_metric!r} is not among the metrics computed")
        self.data = prepare(cfg, self.registry)
        self.config_hash = cfg.config_hash(self.data.fingerprint)
        name = Path(cfg.data).stem if cfg.data else cfg.dataset.split(":")[0]
        self.path = Path(self.out) if self.out is not None else Path("runs") / f"{name}-{self.config_hash[:8]}"
        self.store = RunStore(self.path)
        self.versions = versions()
        if not open_store:
            return
        env = environment(self.device, self.plugins)
        env["data"] = {"source": self.data.source, "rows": self.data.frame.height,
                       "fingerprint": self.data.fingerprint}
        self.store.open(cfg.to_toml(), self.config_hash, env, overwrite=self.overwrite)
        from tcrbench.trackers.selection import write_selection

        write_selection(self.path, self.trackers, fresh=self.overwrite)  # the observers' trackers for this run
        self._attach_log()

    def _attach_log(self) -> None:
        handler = logging.FileHandler(self.path / "run.log")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.handlers = [h for h in log.handlers if not isinstance(h, logging.FileHandler)]
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False

    # ------------------------------------------------------------ the grid
    def cells(self) -> tuple[list[Cell], list[str], dict[int, bool]]:
        from tcrbench.data.splits import fold_warnings

        cells, warnings, redraws = [], [], {}
        ids = {id(c): c.config_id(self.cfg) for c in self.configs}
        for seed in self.cfg.seeds:
            folds, redraw = make_folds(self.cfg, self.registry, self.data, seed)
            redraws[seed] = redraw
            if seed == self.cfg.seeds[0] or redraw:
                warnings.extend(fold_warnings(self.data.frame, folds))
            for i, fold in enumerate(folds):
                for conf in self.configs:
                    cells.append(Cell(conf, ids[id(conf)], i, fold, seed))
        return cells, warnings, redraws

    def todo(self, cell: Cell) -> list[str]:
        missing = []
        for protocol in cell.conf.protocols:
            key = cell.row_key(protocol)
            if not self.store.has(key):
                missing.append(protocol)
            elif self.retry_failed and self.store.read_row(key).get("status") == "failed":
                missing.append(protocol)
        return missing

    def run(self, executor: Any = None) -> RunSummary:
        self.setup()
        cells, warnings, redraws = self.cells()
        self._cells, self._redraws = cells, redraws
        for w in dict.fromkeys(warnings):
            log.warning(w)
            if not self.quiet:
                print(f"warning: {w}")
        total = sum(len(c.conf.protocols) for c in cells)
        self._progress = progress = Progress(self.quiet, total)
        self._computed = 0
        skipped = 0
        tasks = []
        for i, cell in enumerate(cells):
            missing = self.todo(cell)
            skipped += len(cell.conf.protocols) - len(missing)
            if missing:
                tasks.append(CellTask(i, tuple(missing), f"{cell.conf.label} · fold {cell.fold_index} · seed {cell.seed}"))
        progress.advance(skipped)
        tasks.sort(key=lambda t: -expected_cost(cells[t.index].conf, t.protocols))
        executor = executor or SerialExecutor()
        log.info("run %s: %d cells, %d rows, %d to compute on %s", self.config_hash, len(cells), total,
                 sum(len(t.protocols) for t in tasks), executor.name)
        try:
            if getattr(executor, "remote", False):  # workers rebuild this runner from a small picklable job
                from tcrbench.executors.worker import WorkerJob

                executor.run(tasks, WorkerJob.of(self), self.accept_rows, self.lose_task)
            else:
                executor.run(tasks, self.compute_task, self.accept_rows)
        finally:
            progress.stop()
        rows = self.store.rows()
        self.store.consolidate()
        failed = [r for r in rows if r["status"] == "failed"]
        try:
            self.plugins.hook.run_finished(run_dir=self.path, rows=rows)
        except Exception as exc:  # an observer must not lose a finished run
            log.warning("run_finished observer failed: %s", exc)
        return RunSummary(self.path, self.config_hash, rows, self._computed, skipped, failed,
                          list(dict.fromkeys(warnings)))

    def compute_task(self, task: CellTask) -> list[dict[str, Any]]:
        """One cell's rows, as plain dicts (what a worker process sends back to the driver)."""
        if not hasattr(self, "_cells"):
            self._cells, _, self._redraws = self.cells()
        cell = self._cells[task.index]
        progress = getattr(self, "_progress", None) or Progress(True, 0)
        progress.start_cell(task.label)
        return [r.to_dict() for r in self.run_cell(cell, list(task.protocols), self._redraws[cell.seed], progress)]

    def accept_rows(self, task: CellTask, rows: list[dict[str, Any]]) -> None:
        """The driver's side: write each row atomically, then tell observers."""
        for data in rows:
            row = ResultRow.from_dict(data)
            self.store.write_row(row)
            self._computed += 1
            self._progress.advance()
            log.info("%s %s %s", row.row_key, row.status, row.reason or row.metrics.get(self.cfg.primary_metric))
            self._notify_cell(row)

    def lose_task(self, task: CellTask, reason: str) -> None:
        """A cell no worker could finish (its worker kept dying): failed rows, so the grid goes on."""
        cell = self._cells[task.index]
        log.error("%s lost: %s", cell.row_key(task.protocols[0]), reason)
        self.accept_rows(task, [self._row(cell, p, self._redraws[cell.seed], status="failed", reason=reason).to_dict()
                                for p in task.protocols])

    def _notify_cell(self, row: ResultRow) -> None:
        try:
            self.plugins.hook.cell_finished(row=row.to_dict(), run_dir=self.path)
        except Exception as exc:
            log.warning("cell_finished observer failed: %s", exc)
            if not self.quiet:
                print(f"warning: a cell_finished observer failed: {exc}")

    # ------------------------------------------------------------ one cell
    def run_cell(self, cell: Cell, protocols: list[str], redraw: bool, progress: Progress) -> list[ResultRow]:
        start = time.perf_counter()
        try:
            if cell.conf.arm == "baseline" and cell.conf.base_obj is not None:
                return [self._baseline_row(cell, redraw, start)]
            return self._encoder_rows(cell, protocols, redraw, progress, start)
        except Exception as exc:  # one broken cell must not take the grid down; the traceback goes to run.log
            reason = str(exc) if isinstance(exc, CellFailed) else f"{type(exc).__name__}: {exc}"
            log.error("%s failed: %s", cell.row_key(protocols[0]), reason, exc_info=not isinstance(exc, CellFailed))
            return [self._row(cell, p, redraw, status="failed", reason=reason, seconds=time.perf_counter() - start)
                    for p in protocols]

    def _row(self, cell: Cell, protocol: str, redraw: bool, **kw: Any) -> ResultRow:
        conf = cell.conf
        sources = {}
        for kind, obj in ((Kind.AUGMENTATION, conf.aug_obj), (Kind.OBJECTIVE, conf.obj_obj),
                          (Kind.ENCODER, conf.enc_obj), (Kind.BASELINE, conf.base_obj)):
            for part in (getattr(obj, "parts", None) or ([obj] if obj is not None else [])):
                sources[f"{kind.value}:{part.name}"] = str(self.registry.get(kind, part.name).source)
        return ResultRow(
            row_key=cell.row_key(protocol), config_hash=self.config_hash, config_id=cell.config_id,
            label=conf.label, arm=conf.arm, protocol=protocol, augmentation=conf.augmentation,
            objective=conf.objective, encoder=conf.encoder, baseline=conf.baseline, params=conf.params,
            uses_labels=conf.uses_labels, shortcut=conf.shortcut, pretrain_on=self.cfg.pretrain_on,
            fold=cell.fold_index, fold_name=cell.fold.name, seed=cell.seed, seeds_redraw_folds=redraw,
            n_train=len(cell.fold.train), n_test=len(cell.fold.test), sources=sources, versions=self.versions, **kw)

    def _evaluate(self, cell: Cell, protocol: str, train_scores: np.ndarray, test_scores: np.ndarray) -> tuple[dict[str, float], float]:
        from tcrbench.run.evaluation import choose_threshold, evaluate

        frame = self.data.frame
        y_train = frame["label"].to_numpy()[cell.fold.train]
        y_test = frame["label"].to_numpy()[cell.fold.test]
        threshold = choose_threshold(y_train, train_scores)
        metrics = evaluate(self.metrics, y_test, test_scores, frame["peptide"].to_numpy()[cell.fold.test], threshold)
        preds = pl.DataFrame({
            "row": frame["__index"].to_numpy()[cell.fold.test],
            "peptide": frame["peptide"].to_numpy()[cell.fold.test],
            "cdr3b": frame["cdr3b"].to_numpy()[cell.fold.test],
            "label": y_test, "score": test_scores,
        })
        self.store.write_predictions(cell.row_key(protocol), preds)
        return metrics, float(threshold)

    def _baseline_row(self, cell: Cell, redraw: bool, start: float) -> ResultRow:
        frame = self.data.frame
        train, test = frame[cell.fold.train.tolist()], frame[cell.fold.test.tolist()]
        seed = derive_seed(cell.seed, "baseline", cell.fold_index)
        s_train, s_test = cell.conf.base_obj.fit_predict(train, test, seed)
        metrics, threshold = self._evaluate(cell, "baseline", np.asarray(s_train, float), np.asarray(s_test, float))
        return self._row(cell, "baseline", redraw, status="ok", metrics=metrics, threshold=threshold,
                         train_seconds=time.perf_counter() - start, seconds=time.perf_counter() - start)

    def _pretrain_rows(self, cell: Cell) -> np.ndarray:
        if self.cfg.pretrain_on == "all":
            return np.arange(self.data.frame.height)
        return np.asarray(cell.fold.train)

    def _encoder_rows(self, cell: Cell, protocols: list[str], redraw: bool, progress: Progress,
                      start: float) -> list[ResultRow]:
        conf = cell.conf
        try:
            self._check_time(f"starting {cell.row_key(protocols[0])}")
            encoder = self.initial_encoder(cell)
            pre = {"pretrain_loss": None, "pretrain_losses": [], "pretrain_seconds": 0.0}
            pretrains = conf.arm == "pretrained" or (conf.obj_obj is not None
                                                     and getattr(conf.obj_obj, "pretrains", False))
            if pretrains:
                pre = self._pretrained(cell, encoder, progress)
            # dynamics rows first: the driver writes rows in order, so a cell whose main rows exist has them all
            rows = self._dynamics_rows(cell, redraw, progress) if pretrains and self._schedule() else []
        except StoppedForTime as stop:
            log.warning("%s", stop)
            print(f"tcrbench: {stop}", file=sys.stderr, flush=True)
            raise
        for protocol in protocols:
            t0 = time.perf_counter()
            s_train, s_test = self._scores(cell, protocol, encoder, progress)
            metrics, threshold = self._evaluate(cell, protocol, s_train, s_test)
            rows.append(self._row(cell, protocol, redraw, status="ok", metrics=metrics, threshold=threshold,
                                  train_seconds=time.perf_counter() - t0,
                                  seconds=time.perf_counter() - t0 + pre["pretrain_seconds"], **pre))
        self._worked = True
        return rows

    def _scores(self, cell: Cell, protocol: str, encoder: torch.nn.Module,
                progress: Progress) -> tuple[np.ndarray, np.ndarray]:
        """Train- and test-fold scores of `encoder` under a protocol: fine-tuned (on a copy) or linearly probed."""
        data = self.data
        train_idx, test_idx = torch.as_tensor(cell.fold.train), torch.as_tensor(cell.fold.test)
        seed = derive_seed(cell.seed, protocol, cell.fold_index)
        if protocol == "finetune":
            model, _ = finetune(copy.deepcopy(encoder), data.tokens.index(train_idx), data.labels[train_idx],
                                self.cfg.budget, seed, self.device, loss=getattr(cell.conf.enc_obj, "loss", "ce"),
                                on_step=progress.step("fine-tune"))
            s_train = predict(model, data.tokens.index(train_idx), self.device)
            s_test = predict(model, data.tokens.index(test_idx), self.device)
        else:
            x_train = embed(encoder, data.tokens.index(train_idx), self.device)
            x_test = embed(encoder, data.tokens.index(test_idx), self.device)
            s_train, s_test = linear_probe(x_train, data.labels[train_idx].numpy(), x_test, seed)
        if not (np.isfinite(s_train).all() and np.isfinite(s_test).all()):
            raise CellFailed(f"{protocol}: non-finite predictions")
        return s_train, s_test

    def initial_encoder(self, cell: Cell) -> torch.nn.Module:
        """A fresh encoder whose weights depend on (seed, fold) only: the same for every arm of that cell."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(cell.seed, "init", cell.fold_index))
            return cell.conf.enc_obj.build(self.data.max_len)

    def _pretrained(self, cell: Cell, encoder: torch.nn.Module, progress: Progress) -> dict[str, Any]:
        """Pretrain (or load the cached result of pretraining) for this configuration, fold and seed.

        Pretraining checkpoints itself into the cache (every --checkpoint-every steps or --checkpoint-minutes),
        so a killed or --max-time-stopped cell goes on from its latest good checkpoint, to the same numbers.
        """
        files = self._files(cell)
        schedule = self._schedule()
        if files.finished(dynamics=schedule is not None):
            try:
                encoder.load_state_dict(torch.load(files.weights, map_location="cpu", weights_only=True))
                result = json.loads(files.meta.read_text())
                CheckpointDir(files.checkpoints).clear()
                return result
            except Exception as exc:  # a damaged cache costs a re-run of pretraining, never a wrong encoder
                log.warning("%s: cached encoder unreadable (%s: %s); pretraining again", files.weights,
                            type(exc).__name__, exc)
                encoder.load_state_dict(self.initial_encoder(cell).state_dict())
                files.forget()
        data, conf, cfg = self.data, cell.conf, self.cfg
        rows = torch.as_tensor(self._pretrain_rows(cell))
        labels = None
        if conf.uses_labels:  # label-using objectives see only the training fold's positive pairs
            rows = rows[data.labels[rows] > 0.5]
            labels = data.labels[rows]
        batch = PretrainBatch(data.tokens.index(rows), data.groups[rows], labels)
        obj = conf.obj_obj
        _apply_chunk(obj, cfg.budget.pretrain_chunk)
        observer = None
        if self.observe_pretrain_batch is not None:
            observer = lambda b: self.observe_pretrain_batch(cell, b)  # noqa: E731
        checkpointing = Checkpointing(
            files.checkpoints, every_steps=cfg.checkpoint_every,
            every_seconds=cfg.checkpoint_minutes * 60 if cfg.checkpoint_minutes else None, deadline=self._deadline(),
            snapshot_dir=files.dynamics if schedule else None, snapshot_steps=schedule.steps if schedule else None)
        stats = pretrain(encoder, obj, conf.aug_obj, batch, cfg.budget,
                         derive_seed(cell.seed, "pretrain", cell.fold_index), self.device,
                         on_step=progress.step("pretrain"), observe_batch=observer, checkpointing=checkpointing)
        if stats.resumed_from:
            log.info("%s: pretraining resumed from the checkpoint of step %d", files.key, stats.resumed_from)
        encoder.to("cpu")
        result = {"pretrain_loss": stats.final_loss, "pretrain_losses": stats.epoch_losses,
                  "pretrain_seconds": stats.seconds}
        if schedule is not None:
            beyond = schedule.beyond(stats.steps)
            if beyond:
                log.warning("--eval-every: step(s) %s are past the %d pretraining steps of %s; skipped",
                            ", ".join(map(str, beyond)), stats.steps, files.key)
            write_text(files.index, json.dumps({"steps": schedule.steps(stats.steps), "total": stats.steps}))
        with atomic_path(files.weights) as tmp:
            torch.save(encoder.state_dict(), tmp)
        write_text(files.meta, json.dumps(result))
        CheckpointDir(files.checkpoints).clear()
        self._worked = True
        return result

    # ------------------------------------------------------------ training dynamics and stopping in time
    def _files(self, cell: Cell) -> CellFiles:
        return CellFiles(self.store.cache_dir, f"{cell.config_id}-s{cell.seed}-f{cell.fold_index}")

    def _schedule(self) -> Schedule | None:
        if self.cfg.eval_every is None:
            return None
        if getattr(self, "_parsed_schedule", None) is None:
            self._parsed_schedule = parse_schedule(self.cfg.eval_every)
        return self._parsed_schedule

    def _deadline(self) -> float | None:
        """When --max-time runs out (time.monotonic), counted from this runner's first encoder cell."""
        if self.cfg.max_time is None:
            return None
        if getattr(self, "_stop_at", None) is None:
            self._stop_at = time.monotonic() + self.cfg.max_time
        return self._stop_at

    def _check_time(self, before: str) -> None:
        """Stop if --max-time has run out, but never before this process has done some work: every
        stopped run must leave more done than it found."""
        deadline = self._deadline()
        if deadline is not None and time.monotonic() >= deadline and getattr(self, "_worked", False):
            raise StoppedForTime(f"stopped for --max-time before {before}; run the same command again to resume")

    def _dynamics_rows(self, cell: Cell, redraw: bool, progress: Progress) -> list[ResultRow]:
        """One row per evaluated pretraining step (0 = the untrained encoder), each with the loss at that step."""
        protocol = self.cfg.dynamics_protocol
        name = protocol_name(protocol)
        files = self._files(cell)
        rows = []
        for step in [0, *json.loads(files.index.read_text())["steps"]]:
            self._check_time(f"evaluating step {step} of {cell.row_key(name)}")
            result = self._dynamics_result(cell, protocol, step, files, progress)
            row = self._row(cell, name, redraw, **result)
            rows.append(dataclasses.replace(row, row_key=cell.row_key(f"{name}-step{step}"), step=step))
        for stale in files.dynamics.glob(".*.tmp"):  # what a kill in the middle of a write left behind
            stale.unlink(missing_ok=True)
        return rows

    def _dynamics_result(self, cell: Cell, protocol: str, step: int, files: CellFiles,
                         progress: Progress) -> dict[str, Any]:
        """The evaluation of one snapshot, cached so a resumed cell does not evaluate it twice."""
        cache = files.evaluation(protocol, step)
        if cache.exists():
            try:
                return json.loads(cache.read_text())
            except json.JSONDecodeError:
                log.warning("%s: unreadable; evaluating again", cache)
        t0 = time.perf_counter()
        encoder = self.initial_encoder(cell)
        loss = None
        if step:
            snapshot = self._snapshot(cell, step, files, progress)
            encoder.load_state_dict(snapshot["encoder"])
            loss = float(snapshot["loss"])
        result: dict[str, Any] = {"status": "ok", "reason": "", "pretrain_loss": loss}
        try:
            s_train, s_test = self._scores(cell, protocol, encoder, progress)
            result["metrics"], result["threshold"] = self._metrics(cell, s_train, s_test)
        except CellFailed as exc:  # one bad checkpoint is a failed point on the curve, not a failed cell
            result.update(status="failed", reason=str(exc))
        result["train_seconds"] = result["seconds"] = time.perf_counter() - t0
        write_text(cache, json.dumps(result))
        self._worked = True
        return result

    def _snapshot(self, cell: Cell, step: int, files: CellFiles, progress: Progress) -> dict[str, Any]:
        """A snapshot; a missing or damaged one is made again by pretraining this cell again (same numbers)."""
        try:
            return load_snapshot(files.dynamics, step)
        except (CorruptCheckpoint, FileNotFoundError) as exc:
            path, fix = snapshot_file(files.dynamics, step), "pretraining this cell again to rebuild it"
            if isinstance(exc, CorruptCheckpoint):
                report_corrupt(exc, path, fix)
            else:
                log.warning("%s: missing; %s", path, fix)
        files.forget()
        self._pretrained(cell, self.initial_encoder(cell), progress)
        return load_snapshot(files.dynamics, step)

    def _metrics(self, cell: Cell, train_scores: np.ndarray, test_scores: np.ndarray) -> tuple[dict[str, float], float]:
        """Metrics with a threshold chosen on the training fold, as `_evaluate`, without a predictions file."""
        from tcrbench.run.evaluation import choose_threshold, evaluate

        frame = self.data.frame
        threshold = choose_threshold(frame["label"].to_numpy()[cell.fold.train], train_scores)
        metrics = evaluate(self.metrics, frame["label"].to_numpy()[cell.fold.test], test_scores,
                           frame["peptide"].to_numpy()[cell.fold.test], threshold)
        return metrics, float(threshold)


def _apply_chunk(objective: Any, chunk: int) -> None:
    """The run's gradient-caching chunk reaches every objective part that has a `chunk` parameter."""
    for part in getattr(objective, "parts", None) or [objective]:
        if chunk and hasattr(part, "chunk"):
            part.chunk = chunk


def expected_cost(conf: Any, protocols: tuple[str, ...]) -> int:
    """A rough rank of a cell's work: pretraining > neural training > simple baseline.

    Cells run longest first, so parallel workers do not end with one long cell running while the others idle
    (on the 8-cell scaling grid the tail was 7 s of 39). Only the order changes: every cell's numbers come from
    its own seeds, whatever ran before it.
    """
    pretrains = conf.arm == "pretrained"
    neural = conf.objective is not None  # the supervised arms (objective "none") train a network too
    return (2 if pretrains else 0) + (1 if neural else 0) + len(protocols)


def run(cfg: RunConfig, plugins: Any = None, executor: Any = None, **kw: Any) -> RunSummary:
    """Run (or resume) the grid of `cfg`; the library entry point behind `tcrbench run`."""
    if plugins is None:
        from tcrbench.plugins.loader import get_plugins

        plugins = get_plugins()
    return Runner(cfg, plugins, **kw).run(executor)
