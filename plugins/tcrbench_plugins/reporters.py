"""Built-in reporters: the leaderboard as Markdown, self-contained HTML and JSON.

`tcrbench report` and `tcrbench leaderboard` call every registered reporter with the board and the output
folder; each writes its file atomically (a reader sees the old file or the new one, never half of one).
The three differ only in their file name and renderer, so :class:`FileReporter` holds the writing and each
reporter only renders; a renderer is imported when a board is written, not when plugins load (HTML pulls in
matplotlib, which every CLI call would otherwise pay for).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from tcrbench.plugins.hookspecs import Register, hookimpl
from tcrbench.plugins.params import param
from tcrbench.results.atomic import write_text

if TYPE_CHECKING:
    from tcrbench.report.model import Leaderboard


class FileReporter:
    """A reporter that writes one text file, ``filename``, with the text :meth:`render` makes of the board."""

    name: ClassVar[str]
    description: ClassVar[str]
    filename: str

    def render(self, board: Leaderboard) -> str:
        """The file's text."""
        raise NotImplementedError

    def write(self, board: Leaderboard, out_dir: Path) -> list[Path]:
        """Write the file atomically into ``out_dir`` and return its path."""
        target = Path(out_dir) / self.filename
        write_text(target, self.render(board))
        return [target]


@dataclass
class MarkdownReporter(FileReporter):
    """The board as Markdown: the file a repository shows on its results page."""

    name: ClassVar[str] = "markdown"
    description: ClassVar[str] = "leaderboard.md: padded pipe tables that read well on GitHub and in a terminal"
    filename: str = param("leaderboard.md", help="file name inside the output folder")

    def render(self, board: Leaderboard) -> str:
        from tcrbench.report.markdown import render_markdown

        return render_markdown(board)


@dataclass
class HtmlReporter(FileReporter):
    """The board as one HTML page with its plots inline: nothing to fetch, nothing to run."""

    name: ClassVar[str] = "html"
    description: ClassVar[str] = "leaderboard.html: one self-contained page with tables and inline plots"
    filename: str = param("leaderboard.html", help="file name inside the output folder")

    def render(self, board: Leaderboard) -> str:
        from tcrbench.report.html import render_html

        return render_html(board)


@dataclass
class JsonReporter(FileReporter):
    """The board as strict JSON, for tools (the schema is in docs/reports.md)."""

    name: ClassVar[str] = "json"
    description: ClassVar[str] = (
        "leaderboard.json: every statistic as a number, strict JSON (schema in docs/reports.md)"
    )
    filename: str = param("leaderboard.json", help="file name inside the output folder")

    def render(self, board: Leaderboard) -> str:
        from tcrbench.report.json_report import render_json

        return render_json(board)


REPORTERS: tuple[type[FileReporter], ...] = (MarkdownReporter, HtmlReporter, JsonReporter)


@hookimpl
def register_reporters(register: Register) -> None:
    """Register the three built-in reporters."""
    for cls in REPORTERS:
        register(cls)
