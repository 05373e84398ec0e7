"""Atomic file writes: a reader (or a resumed run) sees either the old file or the whole new one, never half.

`tempfile.mkstemp` creates its file with mode 0600 whatever the umask, so before the rename the file gets the mode a
plain `open(path, "w")` would have given it: ``0o666 & ~umask`` (0644 under the usual umask 022, 0640 under 027).
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_UMASK_LOCK = threading.Lock()


def _umask_from_proc() -> int | None:
    """The umask as Linux (4.7 and later) reports it in /proc/self/status, read without changing it; else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split(":", 1)[1].strip(), 8)
    except (OSError, ValueError):
        return None
    return None


def current_umask() -> int:
    """The process umask, read at each call so a umask set after import is honoured.

    The umask can only be read by setting it (`os.umask` returns the old value), and it is process-global: between
    the swap and the restore, a file another thread creates gets the temporary umask. So on Linux it is read from
    /proc/self/status, which changes nothing; elsewhere the swap runs under a module lock, which serialises every
    read through this function (code that calls `os.umask` directly is outside the lock's reach), and swaps in 022,
    not 0, so that a file created in that window is never world-writable.
    """
    umask = _umask_from_proc()
    if umask is not None:
        return umask
    with _UMASK_LOCK:
        old = os.umask(0o022)
        os.umask(old)
    return old


def default_file_mode() -> int:
    """The mode a plain `open(path, "w")` gives a new file under the current umask."""
    return 0o666 & ~current_umask()


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path` in one rename, on error it vanishes.

    The file that lands at `path` has the mode of a plain `open()` (see the module docstring), not mkstemp's 0600.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # after the caller's write: a writer that deletes and re-creates the file would otherwise undo the chmod
        os.chmod(tmp_path, default_file_mode())
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
