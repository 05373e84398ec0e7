"""What produced a result: versions, git hash, device and threads, recorded with every run."""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
from pathlib import Path
from typing import Any

import torch

PACKAGES = ("tcrbench", "torch", "numpy", "polars", "scipy", "scikit-learn", "pluggy", "typer")


def versions() -> dict[str, str]:
    """Versions of Python and the packages the numbers depend on; every result row carries them."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_hash() -> str | None:
    """The checkout's commit (with -dirty for local changes), or None outside a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        res = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if res.returncode != 0:
        return None
    dirty = subprocess.run(
        ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        timeout=5,
    ).stdout.strip()
    return res.stdout.strip() + ("-dirty" if dirty else "")


def environment(device: torch.device, plugins: Any) -> dict[str, Any]:
    """What ran the run (versions, git, device, threads, plugin sources), saved as environment.json."""
    return {
        "versions": versions(),
        "git": git_hash(),
        "device": str(device),
        "cuda": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "plugins": {name: str(src) for name, src in plugins.sources.items()},
    }
