"""Row files that are not whole rows: a truncated write from an old version, a hand edit, a disk that filled up.

A resumed run must not take such a file for a finished row (it would skip the cell, then fail on reading it), and
the reports must not fail on it either. `row_problem` says what is wrong with a row file; `set_aside` moves it to
`<name>.json.corrupt` beside it, kept for the user to look at, so the row counts as missing and is computed again.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from tcrbench.results.schema import ResultRow

# the fields a row must have: those without a default (`ResultRow.from_dict` fills the others and ignores extras)
REQUIRED = tuple(
    f.name
    for f in dataclasses.fields(ResultRow)
    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
)


def load_row(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """The row file at `path` as a dict, or None and why it is not a whole result row."""
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"unreadable ({exc})"
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON ({exc})"
    if not isinstance(data, dict):
        return None, f"not a JSON object (a {type(data).__name__})"
    missing = [name for name in REQUIRED if name not in data]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        return None, f"missing the field(s) {shown}"
    return data, None


def row_problem(path: Path) -> str | None:
    """Why the row file at `path` is not a whole result row, or None when it is one."""
    return load_row(path)[1]


def set_aside(path: Path) -> Path:
    """Rename `path` to `<name>.corrupt` (`<name>.corrupt.1`, ... when that is taken), and return the new path."""
    target = path.with_name(path.name + ".corrupt")
    n = 0
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.corrupt.{n}")
    path.rename(target)
    return target
