"""The exceptions the command line turns into one-line messages: bad input (exit 2), a run folder that
cannot be written to (exit 4)."""

from __future__ import annotations


class UsageError(ValueError):
    """Bad input from the user (a file, a row, an option): the message is shown as-is, without a traceback."""


class StorageFault(OSError):
    """The run folder cannot be written (disk full, quota, read-only file system): not a result, so no cell is
    recorded as failed; the run stops with exit status 4 and the same command resumes once space is freed."""

    code = 4
    ERRNOS = frozenset({28, 122, 30})  # ENOSPC, EDQUOT, EROFS

    @classmethod
    def wraps(cls, exc: BaseException) -> bool:
        return isinstance(exc, OSError) and exc.errno in cls.ERRNOS and not isinstance(exc, StorageFault)

    @classmethod
    def of(cls, exc: OSError) -> StorageFault:
        where = exc.filename or "the run folder"
        return cls(
            exc.errno,
            f"{where}: {exc.strerror}; every finished row is kept, run the same command once it "
            "can be written to resume",
        )
