"""Published results on the same benchmark, ranked together with this run's configurations.

A number from a paper was computed on its authors' data, split and budget; putting it in the same table as ours is
only honest when the benchmark (data, split, metric) is the same, which is why the suite that declares them also
says what differs (`note`), and why they are listed in their own table, never in the leaderboard's tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tcrbench.report.model import Leaderboard


@dataclass(frozen=True)
class PublishedLine:
    """One line of the published-results table: a published score, or one of this run's rows beside them."""

    method: str
    source: str  # "published" or "this run"
    score: float
    sd: float | None = None
    shortcut: bool = False


def published_lines(board: Leaderboard) -> list[PublishedLine]:
    """Published scores and, when the board ranks by the same metric, this run's rows, best first."""
    pub = board.published
    if pub is None:
        return []
    lines = [PublishedLine(name, "published", score) for name, score in pub.results.items()]
    if board.metric == pub.metric:
        lines += [
            PublishedLine(f"{r.label} [{r.protocol}]", "this run", r.mean, r.sd, r.shortcut)
            for r in board.rows
            if r.mean == r.mean
        ]
    return sorted(lines, key=lambda x: -x.score if board.meta.higher_is_better else x.score)


def score_text(line: PublishedLine, num: Callable[[float | None], str]) -> str:
    """The score, with this run's sd beside it where there is one (published scores have none)."""
    return num(line.score) + (f" ± {num(line.sd)}" if line.sd is not None and line.sd == line.sd else "")


def caption(board: Leaderboard) -> str:
    """What the published table is and is not: others' numbers, not re-run, with the suite's note on what differs."""
    pub = board.published
    if pub is None:
        return ""
    text = f"Published {pub.metric}" + (f" ({pub.source})" if pub.source else "") + ", not re-run here"
    if board.metric == pub.metric:
        text += ", ranked with this run's configurations (mean ± sd over folds × seeds)"
    else:
        text += (
            f". This board ranks by {board.metric}; `tcrbench report --metric {pub.metric}` puts this run's "
            "rows beside them"
        )
    return text + "." + (f" {pub.note}" if pub.note else "")
