"""Where tcrbench keeps what it makes once and reuses across runs (generated corpora): $TCRBENCH_CACHE, else
~/.cache/tcrbench. Run folders keep their own cache; this one is shared by every run on the machine."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    return Path(os.environ.get("TCRBENCH_CACHE") or Path.home() / ".cache" / "tcrbench")
