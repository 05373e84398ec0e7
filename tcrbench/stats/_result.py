"""One ``to_dict`` for every result type, so reports and the CLI serialise them the same way."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np


def _plain(value: Any) -> Any:
    """Turn numpy scalars/arrays, tuples and nested results into plain Python values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


class Result:
    """Mixin for frozen result dataclasses: ``to_dict()`` gives plain Python values (floats may be inf/nan)."""

    def to_dict(self) -> dict[str, Any]:
        return _plain(self)


def json_safe(value: Any) -> Any:
    """Make a ``to_dict()`` value valid strict JSON: nan becomes null, ±inf the strings "inf"/"-inf".

    Infinite t statistics are meaningful (zero variance, flagged), so their sign is kept rather than dropped.
    """
    if isinstance(value, Result):
        value = value.to_dict()
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
    return value
