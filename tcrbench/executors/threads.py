"""The thread count inside a cell, set the same way by every executor: same configuration, same numbers.

torch's intra-op threads and the BLAS/OpenMP pools numpy, SciPy and scikit-learn use (the linear probe) split sums
differently with other thread counts, so a cell's numbers depend on them (measured: the default grid serially with
2 threads and on Dask workers with 1 differed in the third decimal). The count comes from the configuration
(`RunConfig.cell_threads()`: --threads, else 1), never from the executor or the machine, and is set before every
cell, since a Dask worker starts with OMP_NUM_THREADS=1 and a worker of a shared cluster may have run another run.

Pools already loaded are limited through threadpoolctl; a library loaded later (SciPy's OpenBLAS is loaded by the
first probe) reads its count from the environment when it loads, so the environment says the same.

The count is set for good when a run sets up, never restored after it: measured, a driver that went back to its
own counts between two runs computed fine-tuning thresholds in its second run that differed in the 6th decimal
from a fresh process's, while a process that keeps the run's count matches fresh workers bit for bit.
"""

from __future__ import annotations

import os
import sys
from typing import Any

ENVIRONMENT = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

_controller: Any = None
_modules_seen = -1  # len(sys.modules) when the controller last looked at the loaded libraries


def use_threads(n: int) -> None:
    """Run this process's next cells on `n` torch threads and `n`-thread BLAS/OpenMP pools."""
    global _controller, _modules_seen
    import torch

    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    for name in ENVIRONMENT:
        os.environ[name] = str(n)
    try:
        from threadpoolctl import ThreadpoolController  # scikit-learn's own dependency
    except ImportError:  # pragma: no cover - scikit-learn is a dependency, and it requires threadpoolctl
        return
    if _controller is None or len(sys.modules) != _modules_seen:
        # looking at the loaded libraries takes milliseconds, limiting them microseconds: look again only when
        # imports may have loaded new ones
        _controller = ThreadpoolController()
        _modules_seen = len(sys.modules)
    _controller.limit(limits=n)
