"""The runner owns the loop over cells: (configuration, fold, seed). It sets the run up (plugins, data, run
folder), lists the grid's cells, skips the rows already written, hands the rest to an executor and writes each
cell's rows atomically as they come back. Finished rows are never recomputed (unless asked).

What happens inside one cell is `cell.py`; pretrained encoders are kept by `pretrain_cache.py`.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from tcrbench.errors import StorageFault, UsageError
from tcrbench.executors import CellTask, SerialExecutor
from tcrbench.executors.job import JobSpec
from tcrbench.executors.limits import Limits, RunOutOfTime
from tcrbench.executors.threads import use_threads
from tcrbench.plugins.protocols import Fold, Kind, PretrainBatch
from tcrbench.results.folder import RunFolder
from tcrbench.results.schema import ResultRow
from tcrbench.results.store import RunStore
from tcrbench.run.cell import Cell, CellRunner
from tcrbench.run.config import RunConfig
from tcrbench.run.costs import cell_kind, cell_seconds, expected_cost
from tcrbench.run.environment import environment, versions
from tcrbench.run.grid import plan
from tcrbench.run.jobspec import job_spec
from tcrbench.run.label_fraction import item
from tcrbench.run.prepare import PreparedData, prepare
from tcrbench.run.progress import Progress
from tcrbench.run.spec import spec_name
from tcrbench.training.dynamics import protocol_name
from tcrbench.training.seeding import resolve_device

__all__ = ["Cell", "Progress", "RunSummary", "Runner", "expected_cost", "make_folds", "run"]

log = logging.getLogger("tcrbench.run")


@dataclass
class RunSummary:
    """What a finished (or resumed) run did: every row of its folder, and how many were computed this time."""

    path: Path
    config_hash: str
    rows: list[dict[str, Any]]
    computed: int
    skipped: int
    failed: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    executor: str = "serial"
    # wall-clock seconds: "setup" (data, folds, run folder), "cells" (the executor's run), "total"
    seconds: dict[str, float] = field(default_factory=dict)


def make_folds(cfg: RunConfig, registry: Any, data: PreparedData, seed: int) -> tuple[list[Fold], bool]:
    """The folds of one seed, and whether seeds redraw them (else they are drawn once, with seed 0)."""
    splitter = registry.create(Kind.SPLITTER, cfg.split)
    redraw = bool(getattr(splitter, "redraws_with_seed", True)) and not cfg.fixed_folds
    folds = splitter.split(data.frame, cfg.folds, seed if redraw else 0)
    return folds, redraw


class Runner:
    """One run: set up once per process, then the grid loop (driver) or single cells (workers)."""

    def __init__(
        self,
        cfg: RunConfig,
        plugins: Any,
        out: str | Path | None = None,
        overwrite: bool = False,
        retry_failed: bool = False,
        quiet: bool = False,
        observe_pretrain_batch: Callable[[Cell, PretrainBatch], None] | None = None,
        trackers: Sequence[str] = (),
    ) -> None:
        self.cfg = cfg
        self.plugins = plugins
        self.registry = plugins.registry
        self.out = out
        self.overwrite = overwrite
        self.retry_failed = retry_failed
        self.quiet = quiet
        self.observe_pretrain_batch = observe_pretrain_batch
        self.trackers = tuple(trackers)
        self._progress = Progress(True, 0)
        self._computed = 0

    @property
    def computed(self) -> int:
        """Rows this run has written so far (what a stopped run reports)."""
        return self._computed

    # ------------------------------------------------------------ set-up
    def setup(self, open_store: bool = True) -> None:
        """Resolve plugins, data and the run folder; workers call it with open_store=False (the driver writes)."""
        cfg = self.cfg
        self.device = resolve_device(cfg.device)
        self.threads = cfg.cell_threads()  # inside every cell, on every executor (executors/threads.py)
        use_threads(self.threads)  # before this run computes anything, and kept: see executors/threads.py
        self.configs = plan(cfg, self.registry)
        self.metrics = [
            self.registry.create(Kind.METRIC, m)
            for m in (self.registry.names(Kind.METRIC) if cfg.metrics is None else cfg.metrics)
        ]
        if cfg.primary_metric not in [m.name for m in self.metrics]:
            raise UsageError(f"primary metric {cfg.primary_metric!r} is not among the metrics computed")
        self.data = prepare(cfg, self.registry)
        identities = {
            str(c.encoder): str(c.enc_obj.identity) for c in self.configs if getattr(c.enc_obj, "identity", "")
        }
        self.config_hash = cfg.config_hash(self.data.fingerprint, self.data.corpus_fingerprint, identities)
        name = Path(cfg.data).stem if cfg.data else spec_name(cfg.dataset)
        self.path = Path(self.out) if self.out is not None else Path("runs") / f"{name}-{self.config_hash[:8]}"
        self.store = RunStore(self.path)
        self.versions = {**versions(), "torch_threads": str(self.threads)}  # every row records its thread count
        self.cell_runner = CellRunner(
            cfg,
            self.registry,
            self.data,
            self.metrics,
            self.store,
            self.device,
            self.config_hash,
            self.versions,
            self.observe_pretrain_batch,
        )
        if not open_store:
            return
        env = environment(self.device, self.plugins)
        env["threads"] = self.threads  # the cells' count, not this process's
        env["data"] = {"source": self.data.source, "rows": self.data.frame.height, "fingerprint": self.data.fingerprint}
        audit = self._audit()
        if audit is not None:
            env["data"]["audit"] = audit  # the report repeats its warnings in the header
        if self.data.corpus_report is not None:
            env["pretrain_corpus"] = self.data.corpus_report.to_dict()
        try:
            self.store.open(cfg.to_toml(), self.config_hash, env, overwrite=self.overwrite)
        except OSError as exc:  # --out naming a file, an unwritable folder, a full disk: one line, nothing half-done
            if StorageFault.wraps(exc):
                raise StorageFault.of(exc) from exc
            raise UsageError(f"--out {self.path}: cannot be written ({exc.strerror or exc})") from None
        from tcrbench.trackers.selection import write_selection

        write_selection(self.path, self.trackers, fresh=self.overwrite)  # the observers' trackers for this run
        self._attach_log(RunFolder(self.path).log_file)

    def _audit(self) -> dict[str, Any] | None:
        """The prepared table's shortcut and leak audit (tcrbench.data.audit); a failure is logged, never raised:
        the audit informs the report, it must not cost the run."""
        try:
            from tcrbench.data.audit import audit_table

            return audit_table(self.data.frame).to_dict()
        except Exception:
            log.warning("data audit failed; the report will show none", exc_info=True)
            return None

    @staticmethod
    def _attach_log(log_file: Path) -> None:
        """The run's log file takes this process's messages (and the tracebacks of failed cells)."""
        handler = logging.FileHandler(log_file)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.handlers = [h for h in log.handlers if not isinstance(h, logging.FileHandler)]
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False

    def job_spec(self) -> JobSpec:
        """Plain data a parallel executor's workers rebuild this run from (after `setup()` and `cells()`); see
        `jobspec.job_spec` for what is refused."""
        return job_spec(self)

    # ------------------------------------------------------------ the grid
    def cells(self) -> tuple[list[Cell], list[str], dict[int, bool]]:
        """Every cell of the grid in a fixed order, the folds' warnings, and whether each seed redraws folds."""
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

    def items(self, cell: Cell) -> list[str]:
        """What the cell computes: each protocol at each label fraction (`finetune`, `finetune@0.05`, ...)."""
        return [item(p, f) for f in sorted(self.cfg.label_fractions, reverse=True) for p in cell.conf.protocols]

    def todo(self, cell: Cell) -> list[str]:
        """The cell's protocols (at each label fraction) without a whole row (or with a failed one, under
        --retry-failed). A row file that is not a whole row is set aside by the store and counts as missing.

        With --eval-every, a pretraining cell's dynamics rows count too: when one is missing and every main row is
        there (and none failed), the cell's first item is computed again, which writes its dynamics rows again (their
        evaluations come from the cell's cache when it still holds them).
        """
        missing = []
        for protocol in self.items(cell):
            key = cell.row_key(protocol)
            if not self.store.has(key) or (self.retry_failed and self.store.read_row(key).get("status") == "failed"):
                missing.append(protocol)
        # a failed cell wrote no dynamics rows: it is retried under --retry-failed only, like its main rows
        if (
            not missing
            and any(not self.store.has(key) for key in self.dynamics_keys(cell))
            and all(self.store.read_row(cell.row_key(p)).get("status") != "failed" for p in self.items(cell))
        ):
            missing = self.items(cell)[:1]
        return missing

    def dynamics_keys(self, cell: Cell) -> list[str]:
        """The row keys of a cell's --eval-every rows (none unless it pretrains with dynamics on): step 0 always, and
        every step of its snapshot index once pretraining has written it (before, only step 0 is known)."""
        conf = cell.conf
        if self.cell_runner.cache.schedule is None or (conf.arm == "baseline" and conf.base_obj is not None):
            return []
        if conf.arm != "pretrained" and not (conf.obj_obj is not None and getattr(conf.obj_obj, "pretrains", False)):
            return []
        name = item(protocol_name(self.cfg.dynamics_protocol), max(self.cfg.label_fractions))
        steps = [0]
        try:  # the index pretraining wrote; missing (or unreadable) until the cell has pretrained
            steps += json.loads(self.cell_runner.cache.files(cell).index.read_text())["steps"]
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return [cell.row_key(f"{name}-step{step}") for step in steps]

    def run(self, executor: Any = None) -> RunSummary:
        """Compute every missing row of the grid with `executor` (serial by default) and summarise the folder."""
        began = time.perf_counter()
        self.setup()
        cells, warnings, redraws = self.cells()
        self._cells, self._redraws = cells, redraws
        for w in dict.fromkeys(warnings):
            self._warn(w)
        total = sum(len(self.items(c)) for c in cells)
        self._progress = progress = Progress(self.quiet, total)
        self._computed = 0
        skipped = 0
        tasks = []
        for i, cell in enumerate(cells):
            missing = self.todo(cell)
            skipped += len(self.items(cell)) - len(missing)
            if missing:
                tasks.append(
                    CellTask(i, tuple(missing), f"{cell.conf.label} · fold {cell.fold_index} · seed {cell.seed}")
                )
        for message in self.store.repairs:
            self._warn(message)
        progress.advance(skipped)
        tasks.sort(key=lambda t: -expected_cost(cells[t.index].conf, t.protocols))
        executor = executor or SerialExecutor()
        self._kinds = {t.index: cell_kind(cells[t.index].conf, t.protocols) for t in tasks}
        costs = {self._kinds[t.index]: expected_cost(cells[t.index].conf, t.protocols) for t in tasks}
        progress.plan([self._kinds[t.index] for t in tasks], costs, lambda: int(getattr(executor, "slots", 1) or 1))
        log.info(
            "run %s: %d cells, %d rows, %d to compute on %s, %d thread(s) per cell",
            self.config_hash,
            len(cells),
            total,
            sum(len(t.protocols) for t in tasks),
            executor.name,
            self.threads,
        )
        set_up = time.perf_counter()
        try:
            self._execute(executor, tasks)
        except RunOutOfTime as exc:  # a cell hung past --max-time's grace: stopped from outside, resumable
            from tcrbench.training.checkpoint import StoppedForTime

            log.warning("%s", exc)
            raise StoppedForTime(str(exc)) from None
        except OSError as exc:  # writing a row hit a full disk: stop; every row written so far is whole
            if StorageFault.wraps(exc):
                raise StorageFault.of(exc) from exc
            raise
        finally:
            progress.stop()
        computed_at = time.perf_counter()
        rows = self.store.rows()
        self.store.consolidate()
        failed = [r for r in rows if r["status"] == "failed"]
        try:
            self.plugins.hook.run_finished(run_dir=self.path, rows=rows)
        except Exception as exc:  # an observer must not lose a finished run
            log.warning("run_finished observer failed: %s", exc)
        end = time.perf_counter()
        seconds = {"setup": set_up - began, "cells": computed_at - set_up, "total": end - began}
        return RunSummary(
            self.path,
            self.config_hash,
            rows,
            self._computed,
            skipped,
            failed,
            list(dict.fromkeys(warnings)),
            executor=str(executor.name),
            seconds={k: round(v, 3) for k, v in seconds.items()},
        )

    def _execute(self, executor: Any, tasks: list[CellTask]) -> None:
        """Hand the tasks to the executor, with the grid's time limits when it enforces them (ours all do)."""
        kw: dict[str, Any] = {}
        if getattr(executor, "enforces_limits", False):
            kw["limits"] = Limits(self.cfg.cell_timeout, self.cfg.max_time)
        if getattr(executor, "remote", False):  # workers rebuild this run from plain data
            executor.run(tasks, self.job_spec(), self.accept_rows, self.lose_task, **kw)
            return
        if kw:
            executor.run(tasks, self.compute_task, self.accept_rows, self.lose_task, **kw)
        else:
            executor.run(tasks, self.compute_task, self.accept_rows)

    def _warn(self, message: str) -> None:
        log.warning(message)
        if not self.quiet:
            print(f"warning: {message}", file=sys.stderr)

    # ------------------------------------------------------------ cells, and what comes back from them
    def initial_encoder(self, cell: Cell) -> torch.nn.Module:
        """A fresh encoder whose weights depend on (seed, fold) only: the same for every arm of that cell."""
        return self.cell_runner.initial_encoder(cell)

    def run_cell(self, cell: Cell, protocols: list[str], redraw: bool, progress: Progress) -> list[ResultRow]:
        """One cell's rows (failed rows when it breaks); a --max-time stop goes up as StoppedForTime."""
        return self.cell_runner.run_cell(cell, protocols, redraw, progress)

    def compute_task(self, task: CellTask) -> list[dict[str, Any]]:
        """One cell's rows, as plain dicts (what a worker process sends back to the driver)."""
        if not hasattr(self, "_cells"):
            self._cells, _, self._redraws = self.cells()
        cell = self._cells[task.index]
        self._progress.start_cell(task.label)
        use_threads(self.threads)
        return [
            r.to_dict() for r in self.run_cell(cell, list(task.protocols), self._redraws[cell.seed], self._progress)
        ]

    def accept_rows(self, task: CellTask, rows: list[dict[str, Any]]) -> None:
        """The driver's side: write each row atomically, then tell observers."""
        kind = getattr(self, "_kinds", {}).get(task.index)
        if kind is not None:
            self._progress.cell_done(kind, cell_seconds(rows))
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
        redraw = self._redraws[cell.seed]
        self.accept_rows(
            task,
            [self.cell_runner.row(cell, p, redraw, status="failed", reason=reason).to_dict() for p in task.protocols],
        )

    def _notify_cell(self, row: ResultRow) -> None:
        try:
            self.plugins.hook.cell_finished(row=row.to_dict(), run_dir=self.path)
        except Exception as exc:
            log.warning("cell_finished observer failed: %s", exc)
            if not self.quiet:
                print(f"warning: a cell_finished observer failed: {exc}")


def run(cfg: RunConfig, plugins: Any = None, executor: Any = None, **kw: Any) -> RunSummary:
    """Run (or resume) the grid of `cfg`; the library entry point behind `tcrbench run`.

    A --max-time stop raises `tcrbench.training.checkpoint.StoppedForTime` (the command maps it to exit status 3).
    """
    if plugins is None:
        from tcrbench.plugins.loader import get_plugins

        plugins = get_plugins()
    return Runner(cfg, plugins, **kw).run(executor)
