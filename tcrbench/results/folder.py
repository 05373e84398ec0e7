"""Every file name of a run folder, in one place, and the one reader of its configuration.

The runner writes these files, the report and the trackers read them; naming them here means a renamed file is
renamed everywhere. Reading needs neither torch nor a Python newer than 3.10 (tomli stands in for tomllib).
"""

from __future__ import annotations

import json
import sys
from functools import cached_property
from pathlib import Path
from typing import Any

from tcrbench.errors import UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10
    import tomli as tomllib

CONFIG = "config.toml"
CONFIG_HASH = "config_hash"
ENVIRONMENT = "environment.json"
ROWS = "rows"
PREDICTIONS = "predictions"
CACHE = "cache"
RESULTS_JSONL = "results.jsonl"
RESULTS_PARQUET = "results.parquet"
LOG = "run.log"
LEADERBOARDS = ("leaderboard.md", "leaderboard.html", "leaderboard.json")


class RunFolder:
    """A run's folder: paths of its parts, and its config, hash and environment read once each."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    # ------------------------------------------------------------ paths
    @property
    def config_file(self) -> Path:
        return self.path / CONFIG

    @property
    def hash_file(self) -> Path:
        return self.path / CONFIG_HASH

    @property
    def environment_file(self) -> Path:
        return self.path / ENVIRONMENT

    @property
    def rows_dir(self) -> Path:
        return self.path / ROWS

    @property
    def predictions_dir(self) -> Path:
        return self.path / PREDICTIONS

    @property
    def cache_dir(self) -> Path:
        return self.path / CACHE

    @property
    def results_jsonl(self) -> Path:
        return self.path / RESULTS_JSONL

    @property
    def log_file(self) -> Path:
        return self.path / LOG

    def outputs(self) -> list[Path]:
        """Files derived from the rows, which --overwrite removes with them."""
        return [self.path / RESULTS_PARQUET, self.results_jsonl, *(self.path / name for name in LEADERBOARDS)]

    def is_run(self) -> bool:
        return self.rows_dir.is_dir()

    # ------------------------------------------------------------ contents, read once
    @cached_property
    def config(self) -> dict[str, Any]:
        """The resolved configuration; {} when the folder has none (rows copied from elsewhere)."""
        if not self.config_file.exists():
            return {}
        try:
            return tomllib.loads(self.config_file.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise UsageError(f"{self.config_file}: not a readable TOML file ({exc})") from None

    @cached_property
    def config_hash(self) -> str:
        return self.hash_file.read_text().strip() if self.hash_file.exists() else ""

    @cached_property
    def environment(self) -> dict[str, Any]:
        if not self.environment_file.exists():
            return {}
        try:
            value = json.loads(self.environment_file.read_text())
        except json.JSONDecodeError as exc:
            raise UsageError(f"{self.environment_file}: not valid JSON ({exc})") from None
        return value if isinstance(value, dict) else {}
