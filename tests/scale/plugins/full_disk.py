"""Test plugin: a baseline whose cell hits a full disk (ENOSPC), in whatever process runs it.
Loaded with --plugins-dir, so worker processes load it too; opt-in, so no default grid runs it."""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import ClassVar

from tcrbench.plugins.hookspecs import hookimpl
from tcrbench_plugins.baselines import Majority


@dataclass
class FullDisk(Majority):
    name: ClassVar[str] = "full_disk"
    description: ClassVar[str] = "majority, but writing its cell fails with ENOSPC (tests storage faults)"
    opt_in: ClassVar[bool] = True

    def fit_predict(self, train, test, seed):
        raise OSError(errno.ENOSPC, "No space left on device", "checkpoint.tmp")


@hookimpl
def register_baselines(register):
    register(FullDisk)
