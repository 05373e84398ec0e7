"""The worker side of the parallel executors: rebuild the driver's Runner once per process, then compute cells.

A worker receives a small picklable `WorkerJob` (the driver's `JobSpec`: the configuration, the run folder,
where the driver's plugins came from) instead of the driver's Runner, whose data and plugin objects are neither
small nor picklable. It rebuilds the same Runner with `setup(open_store=False)` (the driver alone writes rows)
and refuses to compute when its plugins, configuration hash or grid differ from the driver's: a cell computed
against other plugins or other data would be a silently wrong row. This is the one executor module that imports
the runner; the runner itself hands executors plain data.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tcrbench.errors import UsageError
from tcrbench.executors import CellTask
from tcrbench.executors.job import JobSpec, plugin_fingerprint
from tcrbench.results.folder import RunFolder

if TYPE_CHECKING:
    from tcrbench.run.runner import Runner

__all__ = [
    "WorkerJob",
    "WorkerSetupError",
    "WorkerStopped",
    "compute",
    "pin_gpu",
    "plugin_fingerprint",
    "prepare",
    "runner_for",
    "undo_malloc_trim",
]


class WorkerSetupError(UsageError):
    """A worker cannot rebuild the driver's run (other plugins, other data): fatal for the whole run."""


class WorkerStopped(Exception):
    """A cell stopped the run on purpose (--max-time's StoppedForTime, or a SystemExit): carried to the driver
    wrapped in this marker, which every engine returns faithfully and every executor tells apart from a broken
    cell; the driver lets the running cells finish, then raises `original` so the run ends as it would in one
    process."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(str(original))
        self.original = original

    def __reduce__(self) -> tuple[Any, ...]:
        return WorkerStopped, (self.original,)


@dataclass(frozen=True)
class WorkerJob(JobSpec):
    """The driver's JobSpec made callable: `job(task) -> rows`, computed in this worker process."""

    @classmethod
    def of(cls, runner: Runner) -> WorkerJob:
        """The job for a driver whose `setup()` and `cells()` have run."""
        return cls.from_spec(runner.job_spec())

    @classmethod
    def from_spec(cls, spec: JobSpec) -> WorkerJob:
        """The callable job for a spec (a spec that already is one is returned as it is)."""
        return spec if isinstance(spec, cls) else cls(**spec.as_kwargs())

    def cell_threads(self) -> int:
        """The configuration's thread count (--threads, else 1): the executor's cores never change a number."""
        return self.cfg.cell_threads()

    def __call__(self, task: CellTask) -> list[dict[str, Any]]:
        """The task's rows, computed in this process (the run is rebuilt on the first call)."""
        return compute(self, task)


def as_job(compute: Any) -> Any:
    """What an executor submits: a driver's JobSpec becomes a WorkerJob; any other callable (the executor tests'
    cheap cells) is submitted as it is."""
    return WorkerJob.from_spec(compute) if isinstance(compute, JobSpec) else compute


def prepare(job: Any) -> int:
    """Rebuild the run in this worker before its first cell (once per process), so that a cell's time limit
    counts the cell, not the worker's start; returns this process's id. Other callables need nothing."""
    if isinstance(job, WorkerJob):
        runner_for(job)
    return os.getpid()


_cached: tuple[tuple[Any, ...], Runner] | None = None


def _key(job: WorkerJob) -> tuple[Any, ...]:
    return job.out, job.config_hash, job.plugin_sources, job.plugins_dir


def runner_for(job: WorkerJob) -> Runner:
    """This process's Runner for `job`, built on first use: preparing data once per worker, not once per cell."""
    global _cached
    if _cached is not None and _cached[0] == _key(job):
        return _cached[1]
    _cached = None  # a worker of a shared cluster may move on to another run: keep one Runner, not all
    runner = _build(job)
    _cached = (_key(job), runner)
    return runner


def undo_malloc_trim() -> bool:
    """Give glibc back its own memory thresholds when MALLOC_TRIM_THRESHOLD_ pins them (Dask's nanny sets it to
    64 KiB in every worker it starts, to hand memory back to the OS quickly).

    A pinned threshold also pins the mmap threshold at 128 KiB, so every tensor above that size is a fresh
    mmap and munmap, page faults included: measured here, a grid of tiny-transformer cells ran 2.2x slower.
    The values set are the ones glibc's own adaptive thresholds grow to on 64-bit Linux (32 and 64 MiB).
    Returns whether it changed anything.
    """
    if not os.environ.get("MALLOC_TRIM_THRESHOLD_") or not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError):  # not glibc (musl has no mallopt)
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(mallopt(m_mmap_threshold, 32 * 2**20)) and bool(mallopt(m_trim_threshold, 64 * 2**20))


def _build(job: WorkerJob) -> Runner:
    from tcrbench.plugins.loader import load_plugins, set_plugins
    from tcrbench.run.runner import Runner

    undo_malloc_trim()

    where = f"worker {socket.gethostname()}:{os.getpid()}"
    if job.cfg.data and not Path(job.cfg.data).exists():
        raise WorkerSetupError(
            f"{where}: --data {job.cfg.data} not found from {os.getcwd()}; "
            "use an absolute path on a filesystem every worker sees"
        )
    plugins = load_plugins(
        job.plugins_dir, strict=False, disabled=set(job.disabled), builtins=job.builtins, entry_points=job.entry_points
    )
    mine = dict(plugin_fingerprint(plugins.sources))
    theirs = dict(job.plugin_sources)
    if mine != theirs:
        diff = sorted(set(mine.items()) ^ set(theirs.items()))
        name, _ = diff[0]
        raise WorkerSetupError(
            f"{where}: plugin {name!r} is {mine.get(name, 'missing')} here but "
            f"{theirs.get(name, 'missing')} on the driver; install the same plugins everywhere"
        )
    set_plugins(plugins)  # a plugin that looks up another (embedding_knn's encoder) sees the run's plugins
    runner = Runner(job.cfg, plugins, out=job.out, quiet=True)
    runner.setup(open_store=False)
    if runner.config_hash != job.config_hash:
        raise WorkerSetupError(
            f"{where}: configuration hash {runner.config_hash} differs from the driver's "
            f"{job.config_hash} (other data or other package versions on this worker?)"
        )
    cells, _, _ = runner.cells()
    if len(cells) != job.n_cells:
        raise WorkerSetupError(f"{where}: the grid has {len(cells)} cells here but {job.n_cells} on the driver")
    _attach_log(RunFolder(job.out).log_file)
    return runner


def _attach_log(log_file: Path) -> None:
    """Failed cells log their traceback; append them to the run's log, marked with this worker."""
    log = logging.getLogger("tcrbench.run")
    if any(isinstance(h, logging.FileHandler) and Path(h.baseFilename) == log_file for h in log.handlers):
        return
    log.handlers = [h for h in log.handlers if not isinstance(h, logging.FileHandler)]
    handler = logging.FileHandler(log_file)
    handler.setFormatter(
        logging.Formatter(f"%(asctime)s %(levelname)s [worker {socket.gethostname()}:{os.getpid()}] %(message)s")
    )
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def compute(job: WorkerJob, task: CellTask) -> list[dict[str, Any]]:
    """One cell's rows, computed in this worker process."""
    from tcrbench.errors import StorageFault
    from tcrbench.executors.threads import use_threads
    from tcrbench.training.checkpoint import StoppedForTime  # with torch: a spawned worker starts light

    runner = runner_for(job)
    # Set for every cell, never inherited: Dask's nanny starts workers with OMP_NUM_THREADS=1, and a worker of a
    # shared cluster may come from another run; the driver's serial cells use the same count (threads.py).
    use_threads(job.cell_threads())
    try:
        return runner.compute_task(task)
    except (StoppedForTime, SystemExit, StorageFault) as stop:  # a stop, not a broken cell (a full disk is not a
        raise WorkerStopped(stop) from None  # result either): the driver ends the run with it


def pin_gpu(gpu: int | None) -> None:
    """Give this worker process one GPU (before CUDA starts in it); None leaves the environment alone."""
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu)
