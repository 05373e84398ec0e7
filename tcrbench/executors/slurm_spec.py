"""The `[slurm]` table of a run's TOML: what each Slurm job asks for, read once and checked before any job starts.

A typo in a batch directive costs a queue wait before Slurm rejects it, so every key is checked here and a bad value
is one line naming the key. Each job runs one Dask worker that computes one cell at a time with `cores` torch
threads; `walltime` also sets how often cells checkpoint (`checkpoint_fraction` of it), which bounds what a job
killed at its wall time can lose.
"""

from __future__ import annotations

import difflib
import math
import re
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Optional

from tcrbench.errors import UsageError

# directives the spec's own keys write: given in job_extra they would contradict them
_MANAGED = {
    "-t": "walltime",
    "--time": "walltime",
    "--mem": "memory",
    "--mem-per-cpu": "memory",
    "-c": "cores",
    "--cpus-per-task": "cores",
    "-p": "partition",
    "--partition": "partition",
    "-A": "account",
    "--account": "account",
    "-J": "job_name",
    "--job-name": "job_name",
    "-o": "log_directory",
    "--output": "log_directory",
    "-e": "log_directory",
    "--error": "log_directory",
    "-n": "(one task per job)",
    "--ntasks": "(one task per job)",
    "-a": "(one job per worker)",
    "--array": "(one job per worker)",
}
_WALLTIME = re.compile(r"^(?:(\d+)-)?(\d{1,2}):(\d{2}):(\d{2})$")  # [D-]HH:MM:SS, how Slurm prints a time limit
_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)\s*h)?\s*(?:(\d+(?:\.\d+)?)\s*m)?\s*(?:(\d+(?:\.\d+)?)\s*s?)?\s*$")
_NAME = re.compile(r"^[A-Za-z0-9_.+-]+$")
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)([KMGTP])i?B?$", re.IGNORECASE)
_UNITS = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40, "P": 2**50}


@dataclass(frozen=True)
class SlurmSpec:
    """One job's request; the defaults suit a first try on a CPU partition."""

    partition: Optional[str] = None
    account: Optional[str] = None
    cores: int = 1
    memory: str = "4G"
    gpus: int = 0
    walltime: float = 3600.0  # seconds, a whole number of minutes (Slurm's granularity)
    max_jobs: int = 4
    job_extra: tuple[str, ...] = ()
    prologue: tuple[str, ...] = ()
    python: Optional[str] = None
    interface: Optional[str] = None
    local_directory: Optional[str] = None
    log_directory: Optional[str] = None
    job_name: str = "tcrbench"
    checkpoint_fraction: float = 0.1
    pending_timeout: float = 1800.0

    # ------------------------------------------------------------ reading
    @classmethod
    def from_table(cls, table: Any, where: str = "[slurm]") -> SlurmSpec:
        """The spec of a parsed `[slurm]` table; unknown keys and bad values are UsageErrors naming the key."""
        if not isinstance(table, dict):
            raise UsageError(f"{where}: must be a table of settings, got {type(table).__name__}")
        known = [f.name for f in fields(cls)]
        values: dict[str, Any] = {}
        for key, value in table.items():
            if key not in known:
                hint = difflib.get_close_matches(str(key), known, n=1)
                extra = f"; did you mean {hint[0]!r}?" if hint else f" (known: {', '.join(known)})"
                raise UsageError(f"{where}: unknown key {key!r}{extra}")
            values[key] = _PARSERS[key](value, f"{where} {key}")
        return cls(**values)

    # ------------------------------------------------------------ what jobs get
    @property
    def slurm_time(self) -> str:
        """The wall time as `sbatch --time` reads it: [D-]HH:MM:SS."""
        minutes = int(self.walltime // 60)
        days, rest = divmod(minutes, 24 * 60)
        clock = f"{rest // 60:02d}:{rest % 60:02d}:00"
        return f"{days}-{clock}" if days else clock

    @property
    def memory_mb(self) -> int:
        """`memory` in MiB, read the way sbatch --mem reads it (K, M, G, T are powers of 1024; a B changes nothing)."""
        m = _SIZE.match(self.memory)
        assert m is not None  # checked when read
        return math.ceil(float(m.group(1)) * _UNITS[m.group(2).upper()] / 2**20)

    @property
    def checkpoint_minutes(self) -> float:
        """How often a cell checkpoints: the stated fraction of the wall time, so a kill loses at most that."""
        return self.walltime * self.checkpoint_fraction / 60.0

    def job_kwargs(self, log_directory: str | None = None) -> dict[str, Any]:
        """Keyword arguments for `dask_jobqueue.SLURMCluster` and its `SLURMJob`s.

        One worker process with one thread per job (a cell at a time), `cores` CPUs booked for its torch
        threads; a worker that loses the scheduler for a minute exits, so a driver that dies leaves no job behind.
        """
        extra = [f"--gpus={self.gpus}"] if self.gpus else []
        return {
            "cores": 1,
            "processes": 1,
            "job_cpu": self.cores,
            "job_mem": f"{self.memory_mb}M",  # as Slurm reads it: 16G is 16 GiB
            "memory": f"{self.memory_mb}MiB",  # the worker's own limit: the same bytes, said to Dask
            "walltime": self.slurm_time,
            "queue": self.partition,
            "account": self.account,
            "job_name": self.job_name,
            "job_extra_directives": extra + list(self.job_extra),
            "job_script_prologue": list(self.prologue),
            "python": self.python or sys.executable,
            "interface": self.interface,
            "local_directory": self.local_directory,
            "log_directory": self.log_directory or log_directory,
            "death_timeout": 60,
        }


def load_slurm_spec(path: str | Path) -> SlurmSpec:
    """The `[slurm]` table of a TOML file (a run's --config); a file without one asks for it by name."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10
        import tomli as tomllib

    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text())
    except OSError as exc:
        raise UsageError(f"--config {p}: cannot be read ({exc.strerror or exc})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"--config {p}: not valid TOML ({exc})") from None
    if "slurm" not in raw:
        raise UsageError(f"--executor slurm needs a [slurm] table in --config {p} (partition, cores, memory, walltime)")
    return SlurmSpec.from_table(raw["slurm"], f"{p} [slurm]")


# ---------------------------------------------------------------- one parser per key
def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"{where}: expected a non-empty string, got {value!r}")
    return value.strip()


def _name(value: Any, where: str) -> str:
    text = _text(value, where)
    if not _NAME.match(text):
        raise UsageError(f"{where}: {text!r} is not a Slurm name (letters, digits, _ . + - only)")
    return text


def _count(low: int) -> Any:
    def parse(value: Any, where: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise UsageError(f"{where}: expected a whole number, got {value!r}")
        if value < low:
            raise UsageError(f"{where}: must be at least {low}, got {value}")
        return value

    return parse


def _memory(value: Any, where: str) -> str:
    """`16G`, `16GB`, `500M`: a size with its unit, as sbatch --mem reads it (a bare number would be megabytes
    to Slurm and bytes to Dask, so it is refused)."""
    text = _text(value, where).replace(" ", "")
    m = _SIZE.match(text)
    if m is None or float(m.group(1)) * _UNITS[m.group(2).upper()] < 2**20:
        raise UsageError(f"{where}: {text!r} is not a size such as 4GB or 500MB (at least 1MB)")
    return text


def _seconds(text: str) -> float | None:
    """Seconds of `5400`, `90m`, `1.5h` or `1h30m` (the syntax of --max-time); None when it is none of these.
    Parsed here rather than by the training code, so reading a config file never imports torch."""
    m = _DURATION.match(text.lower())
    if not text.strip() or m is None or not any(m.groups()):
        return None
    hours, minutes, seconds = (float(g) if g else 0.0 for g in m.groups())
    return hours * 3600 + minutes * 60 + seconds


def _walltime(value: Any, where: str) -> float:
    """`04:00:00`, `1-12:00:00`, or a duration with units (`90m`, `4h`, `1h30m`); never a bare number, which
    Slurm reads as minutes and the rest of tcrbench as seconds."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise UsageError(f"{where}: expected HH:MM:SS or a duration such as 90m or 4h, got {value!r}")
    text = value.strip()
    m = _WALLTIME.match(text)
    if m:
        days, hours, minutes, seconds = (int(g) if g else 0 for g in m.groups())
        if minutes > 59 or seconds > 59:
            raise UsageError(f"{where}: {text!r}: minutes and seconds must be under 60")
        total: float | None = float(((days * 24 + hours) * 60 + minutes) * 60 + seconds)
    else:
        total = _seconds(text) if re.search(r"[hms]$", text.lower()) else None
    if total is None:
        raise UsageError(f"{where}: {text!r}: expected HH:MM:SS or a duration with units such as 90m or 4h")
    if total < 60:
        raise UsageError(f"{where}: {text!r} is under a minute, Slurm's smallest time limit")
    return float(-(-total // 60) * 60)  # Slurm rounds up to whole minutes; so does the checkpoint interval


def _duration(value: Any, where: str) -> float:
    total = None if isinstance(value, bool) or not isinstance(value, (str, int, float)) else _seconds(str(value))
    if total is None or total <= 0:
        raise UsageError(f"{where}: expected seconds or a duration such as 30m or 2h, got {value!r}")
    return total


def _fraction(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 0.5:
        raise UsageError(f"{where}: expected a fraction of the wall time in (0, 0.5], got {value!r}")
    return float(value)


def _lines(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise UsageError(f"{where}: expected a list of non-empty strings, got {value!r}")
    return tuple(v.strip() for v in value)


def _directives(value: Any, where: str) -> tuple[str, ...]:
    lines = _lines(value, where)
    for line in lines:
        if not line.startswith("-"):
            raise UsageError(
                f"{where}: {line!r} is not an sbatch option (write it as on sbatch's command line: --qos=x)"
            )
        option = re.split(r"[=\s]", line, maxsplit=1)[0]
        key = _MANAGED.get(option) or (None if option.startswith("--") else _MANAGED.get(option[:2]))
        if key:
            raise UsageError(f"{where}: {line!r} is set by tcrbench; use the key {key!r} instead")
    return lines


_PARSERS: dict[str, Any] = {
    "partition": _name,
    "account": _name,
    "cores": _count(1),
    "memory": _memory,
    "gpus": _count(0),
    "walltime": _walltime,
    "max_jobs": _count(1),
    "job_extra": _directives,
    "prologue": _lines,
    "python": _text,
    "interface": _name,
    "local_directory": _text,
    "log_directory": _text,
    "job_name": _name,
    "checkpoint_fraction": _fraction,
    "pending_timeout": _duration,
}
