"""Fixtures for the executor and tracker tests: a grid that runs in seconds, its serial result rows, and the
folder of test plugins that workers load."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from tcrbench.results.schema import comparable
from tcrbench.run.config import RunConfig
from tcrbench.testing import tiny_config

HERE = Path(__file__).resolve().parent
PLUGINS = HERE / "plugins"


small_config = tiny_config  # 8 cells, 12 rows, one thread each


def rows_by_key(path: Path) -> dict[str, dict]:
    return {p.stem: comparable(json.loads(p.read_text())) for p in sorted((path / "rows").glob("*.json"))}


def run_grid(cfg: RunConfig, out: Path, backend: str, plugins_dir: Path | None = None, **kw):
    """Run `cfg` into `out` on a backend (2 workers, 1 thread each, for the parallel ones)."""
    from tcrbench.executors.select import build_executor
    from tcrbench.run.runner import Runner
    from tcrbench.testing import temporary_plugins

    with temporary_plugins(plugins_dir=plugins_dir) as plugins:
        executor = build_executor(backend, workers=None if backend == "serial" else 2, threads=1, **kw)
        return Runner(cfg, plugins, out=out, quiet=True).run(executor)


@pytest.fixture
def kit():
    """What the test modules share (they are imported by path and cannot import each other)."""
    return SimpleNamespace(config=small_config, rows=rows_by_key, plugins_dir=PLUGINS, run=run_grid)


@pytest.fixture(scope="session")
def killer(tmp_path_factory):
    """A grid whose augmentation kills its worker once per run (while `marker` is absent), and its serial rows."""
    base = tmp_path_factory.mktemp("killer")
    marker = base / "killed"
    cfg = small_config(augs=[f"die_once:marker={marker}"])
    marker.touch()  # while the marker exists nobody dies
    run_grid(cfg, base / "serial", "serial", plugins_dir=PLUGINS)
    return SimpleNamespace(cfg=cfg, marker=marker, rows=rows_by_key(base / "serial"))


@pytest.fixture
def helpers(monkeypatch):
    """scale_helpers, importable here and in every worker process spawned from here."""
    monkeypatch.syspath_prepend(str(HERE))
    import scale_helpers

    yield scale_helpers
    sys.modules.pop("scale_helpers", None)


@pytest.fixture(scope="session")
def serial_run(tmp_path_factory) -> Path:
    """The small grid run by the in-process serial executor (read it, do not write to it)."""
    out = tmp_path_factory.mktemp("serial") / "run"
    run_grid(small_config(), out, "serial")
    return out


@pytest.fixture(scope="session")
def serial_rows(serial_run) -> dict[str, dict]:
    """The serial run's rows without timings: what every backend must reproduce."""
    return rows_by_key(serial_run)
