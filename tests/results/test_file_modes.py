"""Files written atomically get the mode a plain open() gives (0666 less the umask), not mkstemp's 0600."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tcrbench.report.board import load_board
from tcrbench.report.writers import write_reports
from tcrbench.results import atomic
from tcrbench.results.atomic import atomic_path, current_umask, write_bytes, write_text
from tcrbench.run.runner import Runner
from tcrbench.testing import temporary_plugins, tiny_config


@pytest.fixture
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    """Set the process umask for one test and restore it after."""
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask,expected", [(0o022, 0o644), (0o027, 0o640)], indirect=["umask"])
def test_a_row_and_a_report_file_have_the_umask_mode(tmp_path: Path, umask: int, expected: int) -> None:
    out = tmp_path / "run"
    with temporary_plugins() as plugins:
        Runner(tiny_config(baselines=["majority"], protocols=["probe"], folds=2), plugins, out=out,
               quiet=True).run()
        written = write_reports(load_board(out), out)
    rows = sorted((out / "rows").glob("*.json"))
    assert rows and written.paths and not written.errors
    for path in [*rows, *sorted((out / "predictions").glob("*.parquet")), out / "config.toml", *written.paths]:
        assert _mode(path) == expected, f"{path.relative_to(out)}: {oct(_mode(path))}, not {oct(expected)}"
    # a plain open() agrees, which is the point
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    assert _mode(plain) == expected


@pytest.mark.parametrize("umask,expected", [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)], indirect=["umask"])
def test_every_atomic_writer_honours_the_umask(tmp_path: Path, umask: int, expected: int) -> None:
    write_text(tmp_path / "a.txt", "a")
    write_bytes(tmp_path / "b.bin", b"b")
    with atomic_path(tmp_path / "c.bin") as tmp:
        tmp.unlink()  # a writer that re-creates the file still ends with the right mode
        tmp.write_bytes(b"c")
    for name in ("a.txt", "b.bin", "c.bin"):
        assert _mode(tmp_path / name) == expected, name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.bin", "c.bin"]  # no temporary left


@pytest.mark.parametrize("umask", [0o027], indirect=True)
def test_reading_the_umask_leaves_it_alone(umask: int, monkeypatch: pytest.MonkeyPatch) -> None:
    assert current_umask() == umask
    monkeypatch.setattr(atomic, "_umask_from_proc", lambda: None)  # the swap under the lock (no /proc)
    assert current_umask() == umask
    assert os.umask(umask) == umask  # still set as the test set it
