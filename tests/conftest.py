"""Shared fixtures: a fresh plugin manager per test, and where the real data lives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("TCRBENCH_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(autouse=True)
def _fresh_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees plugins or environment left behind by another."""
    from tcrbench.plugins import loader as plugins

    for var in ("TCRBENCH_PLUGINS_DIR", "TCRBENCH_STRICT_PLUGINS", "TCRBENCH_DISABLE_PLUGINS"):
        monkeypatch.delenv(var, raising=False)
    plugins.set_plugins(None)
    yield
    plugins.set_plugins(None)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is missing (set TCRBENCH_SHARED_DATA)")
    return SHARED_DATA
