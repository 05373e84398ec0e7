"""Paths as a board shows them: portable, so a committed leaderboard does not carry the layout of the machine
that wrote it (a home folder, /tmp, a CI workspace).

A path inside the current directory is shown relative to it (``tcrbench report runs/x`` from the repository
root shows ``runs/x``); any other path is shown by its name alone. A data source is a path only when it is
absolute; other sources ("dataset synthetic", a relative file name) are already portable and kept as given.
"""

from __future__ import annotations

import os
from pathlib import Path


def display_path(path: str | Path, base: str | Path | None = None) -> str:
    """``path`` relative to ``base`` (default: the current directory) when inside it, else its name."""
    here = Path(base if base is not None else Path.cwd()).resolve()
    full = (here / Path(path)).resolve()
    try:
        return full.relative_to(here).as_posix()
    except ValueError:
        return full.name or str(path)


def display_source(source: str, base: str | Path | None = None) -> str:
    """A data source as a board shows it: an absolute file path made portable, anything else unchanged."""
    return display_path(source, base) if os.path.isabs(source) else source
