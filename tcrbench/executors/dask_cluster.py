"""The Dask cluster a run uses: a loopback LocalCluster it starts, or an existing one it joins by address or
scheduler file; and how to take one worker out from under a hanging cell."""

from __future__ import annotations

import copy
import logging
import os
from contextlib import ExitStack
from typing import Any

from tcrbench.errors import UsageError

log = logging.getLogger("tcrbench.run")

MISSING = "--executor dask needs the dask distributed package: pip install 'tcrbench[dask]'"

# Our own retry bound: the scheduler gives up on a task at the first death of its worker and the executor decides
# (allowed-failures 0). Workers are sent only the cell they run when the queue is long (worker-saturation 1.0).
SETTINGS = {
    "distributed.scheduler.allowed-failures": 0,
    "distributed.scheduler.worker-saturation": 1.0,
    # a cell is seconds to hours of torch in one thread: sampling its stack every 10 ms tells
    # nothing and takes CPU from the cell (a few percent, measured on a 2-core machine)
    "distributed.worker.profile.enabled": False,
}


def distributed_module() -> Any:
    """The `distributed` package, or a one-line UsageError saying how to install it."""
    try:
        import distributed
    except ImportError:
        raise UsageError(MISSING) from None
    return distributed


def local_cluster(workers: int, gpus: list[int] | None, dashboard: bool) -> Any:
    """A loopback cluster: one single-threaded worker process per requested worker (or per GPU)."""
    import dask.config
    from distributed import LocalCluster

    kw = dict(
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        silence_logs=logging.ERROR,
        dashboard_address="127.0.0.1:8787" if dashboard else None,
    )
    if not dashboard:  # the scheduler's health routes still listen: on a free loopback port, not 8787
        kw["scheduler_kwargs"] = {"dashboard": False, "dashboard_address": "127.0.0.1:0"}
    with dask.config.set(SETTINGS):
        if not gpus:
            return LocalCluster(n_workers=workers, **kw)
        cluster = LocalCluster(n_workers=0, **kw)
        for gpu in gpus:  # one worker per GPU, each seeing only its own
            spec = copy.deepcopy(cluster.new_spec)
            spec["options"] = {**spec["options"], "env": {"CUDA_VISIBLE_DEVICES": str(gpu)}}
            cluster.worker_spec[f"gpu-{gpu}"] = spec
        cluster.scale(len(gpus))
        return cluster


def connect(
    stack: ExitStack,
    scheduler: str | None,
    scheduler_file: str | None,
    timeout: float,
    start_local: Any,
    wait_for: int,
) -> Any:
    """A client of the named cluster, or of a local one `start_local()` starts; closed with `stack`."""
    from distributed import Client

    if scheduler_file:
        try:
            return stack.enter_context(Client(scheduler_file=scheduler_file, timeout=timeout))
        except (OSError, ValueError) as exc:
            raise UsageError(f"--scheduler-file {scheduler_file}: cannot join the cluster ({exc})") from None
    if scheduler:
        try:
            return stack.enter_context(Client(scheduler, timeout=timeout))
        except (OSError, ValueError) as exc:
            raise UsageError(f"--scheduler {scheduler}: cannot join the cluster ({exc})") from None
    cluster = stack.enter_context(start_local())
    client = stack.enter_context(Client(cluster))
    client.wait_for_workers(wait_for, timeout=120)
    return client


def take_down(client: Any, addresses: list[str]) -> None:
    """End the worker processes at `addresses` (their cells hang): through their nannies, which start fresh ones;
    a worker without a nanny is ended directly, and its cluster goes on without it."""
    if not addresses:
        return
    try:
        client.restart_workers(addresses, timeout=60, raise_for_error=True)
        return
    except Exception as exc:  # no nanny, or the restart timed out: end the process itself
        log.warning("could not restart worker(s) %s (%s); ending them", ", ".join(addresses), exc)
    try:
        client.run(os._exit, 1, workers=addresses, wait=False)
    except Exception as exc:
        log.warning("could not end worker(s) %s: %s", ", ".join(addresses), exc)
