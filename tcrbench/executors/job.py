"""What the driver hands a parallel executor: plain, picklable data describing the run, never the Runner itself.

The runner builds a `JobSpec` (its configuration, run folder, hash, and where its plugins came from); the
worker module turns it into a callable `WorkerJob` that rebuilds the same run in each worker process. Keeping the
spec here, apart from both, means the runner never imports the worker and only the worker imports the runner.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tcrbench.run.config import RunConfig


@dataclass(frozen=True)
class JobSpec:
    """Everything a worker process needs to rebuild the driver's run."""

    cfg: RunConfig
    out: str  # absolute run folder (predictions and the pretraining cache are written there)
    config_hash: str
    n_cells: int
    builtins: tuple[str, ...]
    entry_points: bool
    plugins_dir: str | None
    disabled: tuple[str, ...]
    plugin_sources: tuple[tuple[str, str], ...]  # plugin_fingerprint() of the driver's plugins

    def as_kwargs(self) -> dict[str, Any]:
        """The spec as keyword arguments, shallow (the configuration object itself, not a copy)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def plugin_fingerprint(sources: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """Plugin name -> where it came from; a file counts by its content, since workers may see another path."""
    out = []
    for name, src in sources.items():
        detail = src.detail.rsplit(" ", 1)[-1] if src.origin == "file" else src.detail
        out.append((name, f"{src.origin} {detail}"))
    return tuple(sorted(out))
