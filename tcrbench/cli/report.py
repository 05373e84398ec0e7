"""`tcrbench report RUN_DIR` and `tcrbench leaderboard RUN_DIR...`: leaderboards from finished runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from tcrbench.errors import UsageError

if TYPE_CHECKING:
    from tcrbench.report.model import Leaderboard


def _check_options(confidence: float, margin: float, min_positives: int, resolution: Optional[float]) -> None:
    """Bad option values as one-line usage errors before any folder is read."""
    if not 0.0 < confidence < 1.0:
        raise UsageError(f"--confidence {confidence}: must lie strictly between 0 and 1")
    if margin < 0:
        raise UsageError(f"--shortcut-margin {margin}: must not be negative")
    if min_positives < 1:
        raise UsageError(f"--min-positives {min_positives}: must be at least 1")
    if resolution is not None and not resolution > 0:
        raise UsageError(f"--resolution {resolution}: must be positive")


def _finish(board: Leaderboard, out: Path, quiet: bool, as_json: bool = False, run_dir: Optional[Path] = None) -> None:
    """Hand the board to every reporter, print it (or, with --json, only its headline as one JSON object), and exit
    1 when a reporter failed (the others still wrote)."""
    from tcrbench.report.console import render_console, terminal_console
    from tcrbench.report.writers import write_reports

    written = write_reports(board, out)
    for name, message in written.errors:
        typer.echo(f"warning: reporter {name} failed: {message}", err=True)
    if as_json:
        from tcrbench.report.json_report import headline_to_dict

        data = headline_to_dict(board, written.paths, written.errors, run_dir)
        typer.echo(json.dumps(data, indent=2, allow_nan=False))
    else:
        console = terminal_console()
        if not quiet:
            render_console(board, console)
        for path in written.paths:
            console.print(f"wrote {path}", highlight=False, soft_wrap=True)
    if written.errors:
        raise typer.Exit(code=1)


JSON_HELP = (
    "Print one JSON object instead of the table: the files written and the headline row of every configuration "
    "(mean, the difference from the supervised arm with its CI, p, Holm p, significant); nothing else on stdout."
)


def register(app: typer.Typer) -> None:
    """Add `report` and `leaderboard` to the CLI."""

    @app.command("report")
    def report_command(
        run_dir: Path = typer.Argument(..., help="A run folder written by `tcrbench run`."),
        metric: Optional[str] = typer.Option(
            None, "--metric", help="Metric to rank by (default: the run's primary metric)."
        ),
        out: Optional[Path] = typer.Option(None, "--out", help="Write the files here instead of into RUN_DIR."),
        confidence: float = typer.Option(0.95, "--confidence", help="Level of the corrected confidence intervals."),
        resolution: Optional[float] = typer.Option(
            None, "--resolution", help="Round scores to this before counting wins/ties/losses (e.g. 0.001)."
        ),
        shortcut_margin: float = typer.Option(
            0.02, "--shortcut-margin", help="Banner when a shortcut baseline comes this close to the best model."
        ),
        min_positives: int = typer.Option(
            5, "--min-positives", help="Per-peptide table: positives a test fold needs for a peptide to count."
        ),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Only list the files written."),
        as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    ) -> None:
        """Write leaderboard.md, leaderboard.html and leaderboard.json into the run folder and print the table."""
        from tcrbench.report.board import load_board

        _check_options(confidence, shortcut_margin, min_positives, resolution)
        board = load_board(
            run_dir,
            metric,
            confidence=confidence,
            resolution=resolution,
            shortcut_margin=shortcut_margin,
            min_positives=min_positives,
        )
        _finish(board, out if out is not None else run_dir, quiet, as_json, run_dir)

    @app.command("leaderboard")
    def leaderboard_command(
        run_dirs: list[Path] = typer.Argument(..., help="Run folders to merge, one per dataset."),
        out: Path = typer.Option(Path("leaderboard"), "--out", help="Folder for the merged leaderboard files."),
        metric: Optional[str] = typer.Option(
            None, "--metric", help="Metric to rank by (default: the first run's primary metric)."
        ),
        alpha: float = typer.Option(0.05, "--alpha", help="Significance level of the Nemenyi critical difference."),
        confidence: float = typer.Option(0.95, "--confidence", help="Level of the corrected confidence intervals."),
        resolution: Optional[float] = typer.Option(
            None, "--resolution", help="Round scores to this before counting wins/ties/losses."
        ),
        shortcut_margin: float = typer.Option(
            0.02, "--shortcut-margin", help="Banner when a shortcut baseline comes this close to the best model."
        ),
        min_positives: int = typer.Option(
            5, "--min-positives", help="Per-peptide table: positives a test fold needs for a peptide to count."
        ),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Only list the files written."),
    ) -> None:
        """Merge runs (one per dataset) into one board ranked with Friedman and Nemenyi, with a CD diagram."""
        from tcrbench.report.board import default_metric, load_board
        from tcrbench.report.merge import merge_boards
        from tcrbench.results.folder import RunFolder

        _check_options(confidence, shortcut_margin, min_positives, resolution)
        if not 0.0 < alpha < 1.0:
            raise UsageError(f"--alpha {alpha}: must lie strictly between 0 and 1")
        seen: dict[Path, Path] = {}
        for d in run_dirs:
            resolved = d.resolve()
            if resolved in seen:
                raise UsageError(f"{d}: given twice (also as {seen[resolved]})")
            seen[resolved] = d
        folders = [RunFolder(d) for d in run_dirs]  # each config.toml is read once, here or by load_board
        chosen = metric or default_metric(folders[0])
        boards = [
            load_board(
                f,
                chosen,
                confidence=confidence,
                resolution=resolution,
                shortcut_margin=shortcut_margin,
                min_positives=min_positives,
            )
            for f in folders
        ]
        _finish(merge_boards(boards, alpha=alpha), out, quiet)
