"""Built-in reporters: the leaderboard as Markdown, self-contained HTML and JSON.

`tcrbench report` and `tcrbench leaderboard` call every registered reporter with the board and the output
folder; each writes its file atomically (a reader sees the old file or the new one, never half of one).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from tcrbench.plugins.hookspecs import hookimpl
from tcrbench.plugins.params import param
from tcrbench.results.atomic import write_text


def _write(out_dir: Path, filename: str, text: str) -> list[Path]:
    target = Path(out_dir) / filename
    write_text(target, text)
    return [target]


@dataclass
class MarkdownReporter:
    name: ClassVar[str] = "markdown"
    description: ClassVar[str] = "leaderboard.md: padded pipe tables that read well on GitHub and in a terminal"
    filename: str = param("leaderboard.md", help="file name inside the output folder")

    def write(self, board: Any, out_dir: Path) -> list[Path]:
        from tcrbench.report.markdown import render_markdown

        return _write(out_dir, self.filename, render_markdown(board))


@dataclass
class HtmlReporter:
    name: ClassVar[str] = "html"
    description: ClassVar[str] = "leaderboard.html: one self-contained page with tables and inline plots"
    filename: str = param("leaderboard.html", help="file name inside the output folder")

    def write(self, board: Any, out_dir: Path) -> list[Path]:
        from tcrbench.report.html import render_html

        return _write(out_dir, self.filename, render_html(board))


@dataclass
class JsonReporter:
    name: ClassVar[str] = "json"
    description: ClassVar[str] = "leaderboard.json: every statistic as a number, strict JSON (schema in docs/reports.md)"
    filename: str = param("leaderboard.json", help="file name inside the output folder")

    def write(self, board: Any, out_dir: Path) -> list[Path]:
        from tcrbench.report.json_report import render_json

        return _write(out_dir, self.filename, render_json(board))


REPORTERS: tuple[type, ...] = (MarkdownReporter, HtmlReporter, JsonReporter)


@hookimpl
def register_reporters(register) -> None:  # type: ignore[no-untyped-def]
    for cls in REPORTERS:
        register(cls)
