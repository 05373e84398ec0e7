"""Build an executor from the command line's options, refusing combinations that cannot mean what they say."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tcrbench.errors import UsageError
from tcrbench.executors import SerialExecutor

EXECUTORS = ("serial", "processes", "dask", "slurm")


def local_cores() -> int:
    """Cores this process may use (its CPU affinity, which a batch scheduler sets), not the machine's total."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def local_gpus(device: str) -> list[int]:
    """The GPUs a local pool should spread over: every visible one when the run asks for `auto` or `cuda`."""
    if device not in ("auto", "cuda"):
        return []  # cpu, or one named GPU (cuda:N) that every worker shares
    import torch

    return list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []


def build_executor(
    kind: str | None = None,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    scheduler_file: str | None = None,
    dashboard: bool = False,
    max_retries: int = 2,
    device: str = "auto",
    threads: int | None = None,
    say: Callable[[str], None] | None = None,
    config_file: str | Path | None = None,
) -> Any:
    """The executor for `tcrbench run`; `kind` None picks dask when a cluster is named, processes for --workers.

    `threads` is the configuration's per-cell thread count (--threads; None is 1). It never changes how many threads
    a cell gets (the configuration fixes that, on every executor); it only sizes a local pool without --workers:
    as many workers as the cores hold cells of that many threads (at least 2). `config_file` is the run's --config,
    whose [slurm] table `--executor slurm` reads.
    """
    joins = scheduler or scheduler_file
    if kind is None:
        kind = "dask" if joins else "processes" if workers is not None and workers > 1 else "serial"
    kind = kind.strip().lower()
    if kind not in EXECUTORS:
        raise UsageError(f"--executor {kind!r}: choose serial, processes, dask or slurm")
    if max_retries < 0:
        raise UsageError(f"--max-retries must be 0 or more, got {max_retries}")
    if workers is not None and workers < 1:
        raise UsageError(f"--workers must be at least 1, got {workers}")
    if joins and kind != "dask":
        raise UsageError(f"--scheduler/--scheduler-file join a Dask cluster: they need --executor dask, not {kind}")
    if dashboard and kind != "dask":
        raise UsageError(f"--dashboard shows Dask's dashboard: it needs --executor dask, not {kind}")
    if kind == "slurm":
        if workers is not None:
            raise UsageError("--workers sizes a local pool; --executor slurm runs up to [slurm] max_jobs jobs")
        if config_file is None:
            raise UsageError("--executor slurm reads its [slurm] table from --config: give the run's TOML file")
        from tcrbench.executors.slurm_backend import SlurmExecutor
        from tcrbench.executors.slurm_spec import load_slurm_spec

        return SlurmExecutor(load_slurm_spec(config_file), max_retries=max_retries, say=say)
    if kind == "serial":
        if workers is not None and workers > 1:
            raise UsageError(
                f"--workers {workers}: the serial executor runs one cell at a time;"
                " use --executor processes or --executor dask"
            )
        return SerialExecutor()
    if joins:
        if workers is not None:
            raise UsageError("--workers starts a local cluster; a joined cluster (--scheduler) has its own workers")
        from tcrbench.executors.dask_backend import DaskExecutor

        return DaskExecutor(
            scheduler=scheduler,
            scheduler_file=scheduler_file,
            dashboard=dashboard,
            max_retries=max_retries,
            say=say,
        )
    gpus = local_gpus(device)
    if gpus and workers is not None and workers > len(gpus):
        raise UsageError(
            f"--workers {workers}: each worker takes one GPU and {len(gpus)} are visible;"
            f" use --workers {len(gpus)} or fewer, or --device cpu"
        )
    if threads is not None and threads < 1:
        raise UsageError(f"--threads must be at least 1, got {threads}")
    n = workers or (len(gpus) if gpus else max(2, local_cores() // (threads or 1)))
    gpus = gpus[:n]
    if kind == "processes":
        from tcrbench.executors.processes import ProcessExecutor

        return ProcessExecutor(n, max_retries=max_retries, gpus=gpus or None)
    from tcrbench.executors.dask_backend import DaskExecutor

    return DaskExecutor(workers=n, dashboard=dashboard, max_retries=max_retries, gpus=gpus or None, say=say)
