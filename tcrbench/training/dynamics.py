"""Training dynamics: at which pretraining steps an encoder is evaluated downstream, and how those rows are named.

`--eval-every` takes `200` (every 200 steps), `100,500,2000` (those steps) or `log:8` (8 log-spaced steps).
Step 0, the untrained encoder both arms start from, is always evaluated too: it anchors the curve at the
supervised baseline. Every schedule but an explicit list also ends at the last step, where the encoder is
the one the main pretrained rows use, so the curve meets the leaderboard at both ends.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from tcrbench.errors import UsageError

PREFIX = "dynamics-"
PROTOCOLS = ("probe", "finetune")


@dataclass(frozen=True)
class Schedule:
    kind: Literal["every", "list", "log"]
    every: int = 0
    points: tuple[int, ...] = ()
    count: int = 0

    def steps(self, total: int) -> list[int]:
        """The steps in 1..total to evaluate at, ascending."""
        if total <= 0:
            return []
        if self.kind == "every":
            found = set(range(self.every, total + 1, self.every)) | {total}
        elif self.kind == "log":
            if self.count == 1:
                found = {total}
            else:
                ratio = total ** (1.0 / (self.count - 1))
                found = {min(total, max(1, round(ratio**i))) for i in range(self.count)} | {total}
        else:
            found = {s for s in self.points if 0 < s <= total}
        return sorted(found)

    def beyond(self, total: int) -> list[int]:
        """Explicitly requested steps past the end of a pretraining of `total` steps (they are skipped)."""
        return sorted(s for s in self.points if s > total)


def parse_schedule(text: str | int, option: str = "--eval-every") -> Schedule:
    """`200`, `100,500,2000` (also as a TOML list) or `log:8`; a clear UsageError for anything else."""
    raw = str(text).strip()
    if raw.lower().startswith("log:"):
        n = _positive(raw[4:], option, raw)
        if n < 2:
            raise UsageError(f"{option} {raw!r}: log:N needs N >= 2 points")
        return Schedule("log", count=n)
    items = [p for p in raw.strip("[]()").replace(";", ",").split(",") if p.strip()]
    if not items:
        raise UsageError(f"{option} {raw!r}: expected a step interval (200), a list of steps (100,500) or log:N")
    if len(items) == 1 and "," not in raw:
        return Schedule("every", every=_positive(items[0], option, raw))
    points = tuple(sorted({_nonnegative(p, option, raw) for p in items}))
    return Schedule("list", points=points)


def _positive(text: str, option: str, raw: str) -> int:
    value = _nonnegative(text, option, raw)
    if value < 1:
        raise UsageError(f"{option} {raw!r}: {text.strip()!r} must be at least 1")
    return value


def _nonnegative(text: str, option: str, raw: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise UsageError(
            f"{option} {raw!r}: {text.strip()!r} is not a whole number of steps (use 200, 100,500,2000 or log:8)"
        ) from None
    if value < 0:
        raise UsageError(f"{option} {raw!r}: steps cannot be negative ({value})")
    return value


def protocol_name(protocol: str) -> str:
    """The result rows' protocol for dynamics evaluated with `protocol` (probe or finetune)."""
    if protocol not in PROTOCOLS:
        raise UsageError(f"--dynamics-protocol must be probe or finetune, got {protocol!r}")
    return PREFIX + protocol


def base_protocol(name: str) -> str:
    """dynamics-probe -> probe."""
    return name[len(PREFIX) :] if name.startswith(PREFIX) else name


def is_dynamics_row(row: Mapping[str, Any]) -> bool:
    """A row of the training-dynamics curve rather than of the leaderboard."""
    return row.get("step") is not None or str(row.get("protocol", "")).startswith(PREFIX)
