"""Checksummed, atomically written checkpoint files, and the clean stop before a wall-time limit.

A checkpoint is `torch.save` bytes behind a short header that carries their SHA-256. A file cut short by a
kill or a full disk, or flipped bits, fails the checksum before torch ever parses it, so a damaged file is
reported and skipped instead of crashing the cell (or, worse, loading half a model). The payload is loaded
with `weights_only=True`: tensors, numbers, strings and containers only, never arbitrary pickled objects.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import torch

from tcrbench.errors import UsageError
from tcrbench.results.atomic import write_bytes

log = logging.getLogger("tcrbench.run")

MAGIC = b"tcrbench-checkpoint/1\n"
_DIGEST_LEN = 64  # hex sha256
EXIT_STOPPED = 3  # exit status of a run stopped by --max-time: nothing is wrong, re-run to resume


class CorruptCheckpoint(ValueError):
    """A checkpoint whose bytes do not match their checksum, or that torch cannot read."""


class CorruptCheckpointWarning(UserWarning):
    """A damaged checkpoint was skipped; the cell goes on from an older one (or from the start)."""


class StoppedForTime(Exception):
    """Raised at a clean stopping point once --max-time has passed, after the latest state was checkpointed.

    An ordinary exception, so library callers can catch it; the runner lets it through its per-cell error
    capture (a stop is not a failed cell) and `tcrbench run` turns it into exit status `code` (3). Re-running the
    same command resumes the run.
    """

    code: int = EXIT_STOPPED

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # rebuilt through __init__ when it crosses a process boundary (the parallel executors' workers)
        return (type(self), (self.message,))


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    """Write `payload` (tensors, numbers, strings, containers) so a reader sees the whole file or none."""
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    data = buffer.getvalue()
    digest = hashlib.sha256(data).hexdigest().encode("ascii")
    write_bytes(path, MAGIC + digest + b"\n" + data)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """The payload of a checkpoint file; CorruptCheckpoint (naming the file) when it fails its checksum."""
    p = Path(path)
    raw = p.read_bytes()
    head = len(MAGIC) + _DIGEST_LEN + 1
    if len(raw) < head or not raw.startswith(MAGIC):
        raise CorruptCheckpoint(f"{p}: not a tcrbench checkpoint (bad header; truncated?)")
    digest, data = raw[len(MAGIC) : head - 1], raw[head:]
    if hashlib.sha256(data).hexdigest().encode("ascii") != digest:
        raise CorruptCheckpoint(f"{p}: checksum mismatch ({len(data)} payload bytes; truncated or corrupted)")
    try:
        payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # a valid checksum over bytes torch cannot parse: written by something else
        raise CorruptCheckpoint(f"{p}: unreadable checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(payload, dict):
        raise CorruptCheckpoint(f"{p}: payload is a {type(payload).__name__}, not a dict")
    return payload


def report_corrupt(exc: CorruptCheckpoint, path: Path, fallback: str) -> None:
    """Warn (log and Python warning), and move the bad file aside so it is not tried again."""
    message = f"{exc}; {fallback}"
    log.warning(message)
    warnings.warn(message, CorruptCheckpointWarning, stacklevel=3)
    with contextlib.suppress(OSError):  # moving it aside is a courtesy; the warning is what matters
        path.replace(path.with_name(path.name + ".corrupt"))


class CheckpointDir:
    """The numbered checkpoints of one cell: `step-0000123.ckpt`; the newest `keep` are kept."""

    _NAME = re.compile(r"^step-(\d+)\.ckpt$")

    def __init__(self, path: str | Path, keep: int = 2) -> None:
        self.path = Path(path)
        self.keep = max(1, keep)

    def file(self, step: int) -> Path:
        """Zero-padded, so file names sort by step."""
        return self.path / f"step-{step:07d}.ckpt"

    def steps(self) -> list[int]:
        """Steps that have a checkpoint file, newest first."""
        if not self.path.is_dir():
            return []
        found = [int(m.group(1)) for p in self.path.iterdir() if (m := self._NAME.match(p.name))]
        return sorted(found, reverse=True)

    def save(self, step: int, payload: dict[str, Any]) -> None:
        """Write the step's checkpoint, then drop all but the newest `keep` (older ones are only a fallback)."""
        save_checkpoint(self.file(step), payload)
        for old in self.steps()[self.keep :]:
            self.file(old).unlink(missing_ok=True)

    def latest(self, accept: Callable[[dict[str, Any]], Optional[str]] | None = None) -> dict[str, Any] | None:
        """The newest checkpoint that reads back whole (and that `accept` does not reject with a reason)."""
        for step in self.steps():
            path = self.file(step)
            try:
                payload = load_checkpoint(path)
            except CorruptCheckpoint as exc:
                report_corrupt(exc, path, "falling back to the previous checkpoint")
                continue
            reason = accept(payload) if accept is not None else None
            if reason:
                log.warning("%s: not resumed from (%s)", path, reason)
                continue
            return payload
        return None

    def clear(self) -> None:
        """Remove the checkpoints once pretraining has finished: a finished cell keeps no resume state."""
        if self.path.is_dir():
            for p in self.path.iterdir():
                if p.is_file():
                    p.unlink(missing_ok=True)
            with contextlib.suppress(OSError):  # not empty: something else was put there
                self.path.rmdir()


_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)\s*h)?\s*(?:(\d+(?:\.\d+)?)\s*m)?\s*(?:(\d+(?:\.\d+)?)\s*s?)?\s*$")


def parse_duration(text: str, option: str = "--max-time") -> float:
    """Seconds from `5400`, `90m`, `1.5h` or `1h30m`: how cluster users write wall-time limits."""
    m = _DURATION.match(str(text).lower())
    if not str(text).strip() or m is None or not any(m.groups()):
        raise UsageError(f"{option} {text!r}: expected seconds or a duration such as 90m, 1.5h or 1h30m")
    hours, minutes, seconds = (float(g) if g else 0.0 for g in m.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total <= 0:
        raise UsageError(f"{option} {text!r}: must be more than zero")
    return total


def rng_state(device: torch.device) -> dict[str, Any]:
    """The global generators a training step draws from (dropout): CPU, and the device's when it is CUDA."""
    state: dict[str, Any] = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    """Restore what `rng_state` saved, so a resumed step draws the same dropout masks."""
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


class CellFiles:
    """Where one cell's pretraining lives in the run's cache folder.

    `encoder-<key>.pt/.json`: the finished encoder and its losses (the .json written last marks it done);
    `checkpoints/<key>/`: resumable state while pretraining runs (removed once it is done);
    `dynamics/<key>/`: encoder snapshots at the --eval-every steps, their index, and each evaluation's result.
    """

    def __init__(self, cache_dir: str | Path, key: str) -> None:
        cache = Path(cache_dir)
        self.key = key
        self.weights = cache / f"encoder-{key}.pt"
        self.meta = cache / f"encoder-{key}.json"
        self.checkpoints = cache / "checkpoints" / key
        self.dynamics = cache / "dynamics" / key
        self.index = self.dynamics / "index.json"

    def finished(self, dynamics: bool) -> bool:
        """Whether the encoder is done (and, with --eval-every, its snapshots' index written)."""
        return self.weights.exists() and self.meta.exists() and (not dynamics or self.index.exists())

    def forget(self) -> None:
        """Drop the finished encoder so the next request pretrains again (its snapshots are rewritten)."""
        for p in (self.meta, self.index, self.weights):
            p.unlink(missing_ok=True)

    def evaluation(self, protocol: str, step: int) -> Path:
        """Where one snapshot's evaluation is cached, so a resumed cell does not evaluate it twice."""
        return self.dynamics / f"{protocol}-step-{step:07d}.json"
