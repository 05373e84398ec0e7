"""Hand a board to every registered reporter plugin; one broken third-party reporter must not stop the others."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tcrbench.errors import UsageError
from tcrbench.report.model import Leaderboard


@dataclass
class Written:
    """Files each reporter wrote, and the reporters that failed with their one-line error."""

    paths: list[Path] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)


def write_reports(board: Leaderboard, out_dir: str | Path, plugins: Any = None) -> Written:
    """Run every reporter registered with the plugin manager (the built-ins: markdown, html, json).

    The plugin layer (which imports torch) loads here, not when this module is imported: a board can be
    built and rendered without it.
    """
    from tcrbench.plugins.protocols import Kind

    if plugins is None:
        from tcrbench.plugins.loader import get_plugins

        plugins = get_plugins()
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    result = Written()
    for name in plugins.registry.names(Kind.REPORTER):
        entry = plugins.registry.get(Kind.REPORTER, name)
        try:
            paths = entry.create().write(board, out)
        except Exception as exc:  # a reporter's bug is reported by name; the other files still get written
            result.errors.append((f"{name} ({entry.source})", f"{type(exc).__name__}: {' '.join(str(exc).split())}"))
            continue
        result.paths.extend(Path(p) for p in (paths or []))
    return result
