"""Test plugin: mask1, except that it SIGKILLs its own process: once per run (the first call to claim the
marker file), or on every call with `always=true`. Loaded with --plugins-dir, so worker processes load it too."""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from typing import ClassVar

from tcrbench.plugins.hookspecs import hookimpl
from tcrbench.plugins.params import param
from tcrbench_plugins.augmentations import Mask1


def _claim(path: str) -> bool:
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


@dataclass
class DieOnce(Mask1):
    marker: str = param("", help="created by the call that dies; while it exists, nobody dies")
    always: bool = param(False, help="die on every call")
    name: ClassVar[str] = "die_once"
    description: ClassVar[str] = "mask1 that kills its process mid-pretraining (tests worker recovery)"

    def __call__(self, batch, generator):
        if self.always or _claim(self.marker):
            os.kill(os.getpid(), signal.SIGKILL)
        return super().__call__(batch, generator)


@hookimpl
def register_augmentations(register):
    register(DieOnce)
