"""The leaderboard's front door: a board from result rows (:func:`build_board`) or from a run folder
(:func:`load_board`), and the run's default metric. The types every renderer reads live in
tcrbench.report.model; how the board is built, in tcrbench.report.build and tcrbench.report.pairing.

Reading a run folder needs neither torch nor Python 3.11: a machine that only reads results can render them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from tcrbench.errors import UsageError
from tcrbench.report.build import build_board
from tcrbench.report.model import Banner, BoardMeta, BoardRow, CellScore, FailedCell, Leaderboard, row_key
from tcrbench.results.folder import RunFolder

if TYPE_CHECKING:
    from rich.console import Console

    from tcrbench.run.config import Published

__all__ = [
    "Banner",
    "BoardMeta",
    "BoardRow",
    "CellScore",
    "FailedCell",
    "Leaderboard",
    "build_board",
    "default_metric",
    "load_board",
    "render_console",
    "row_key",
]

DEFAULT_METRIC = "auroc"


def _folder(run: str | Path | RunFolder) -> RunFolder:
    return run if isinstance(run, RunFolder) else RunFolder(run)


def default_metric(run: str | Path | RunFolder) -> str:
    """The run's primary metric from its config.toml, else AUROC (rows copied without their config)."""
    value = _folder(run).config.get("primary_metric")
    return value if isinstance(value, str) and value else DEFAULT_METRIC


def _published(folder: RunFolder) -> Published | None:
    """The [published] table of the run's config, parsed by the same code that checked it when the run began."""
    raw = folder.config.get("published")
    if raw is None:
        return None
    from tcrbench.run.config import parse_published

    return parse_published(raw, str(folder.config_file))


def load_board(run_dir: str | Path | RunFolder, metric: str | None = None, **options: Any) -> Leaderboard:
    """The leaderboard of a run folder: its rows, environment, config hash, published results and predictions.

    The folder's config.toml is read once (through :class:`RunFolder`), for the default metric and the
    published results both. ``options`` go to :func:`build_board`.
    """
    from tcrbench.results.store import RunStore  # polars: only when a folder is read

    folder = _folder(run_dir)
    path = folder.path
    if not path.is_dir():
        raise UsageError(f"{path}: no such run folder")
    store = RunStore(path)
    rows = store.rows()
    if store.skipped:  # a report cannot recompute a row: name the damaged file instead of reporting without it
        raise UsageError(f"{store.skipped[0]} (a damaged result row; re-run the command to compute it again)")
    if not rows:
        raise UsageError(f"{path}: the run folder holds no result rows yet")
    if "published" not in options:
        options["published"] = _published(folder)
    try:
        return build_board(
            rows,
            metric or default_metric(folder),
            environment=folder.environment,
            config_hash=folder.config_hash or None,
            run_dir=path,
            predictions_dir=folder.predictions_dir,
            **options,
        )
    except UsageError as exc:
        raise UsageError(f"{path}: {exc}") from None


def render_console(board: Leaderboard, console: Console) -> None:
    """Print the board to a terminal (rich): banners, the table, failures."""
    from tcrbench.report.console import render_console as render

    render(board, console)
