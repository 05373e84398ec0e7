"""Number formatting shared by the `tcrbench stats` commands, so every table prints numbers the same way."""

from __future__ import annotations

import math
from typing import Any


def num(x: Any, digits: int = 3) -> str:
    """A number for a table: '-' for None/NaN, 'inf' spelt out, tiny values in g-format, residue as 0."""
    if x is None:
        return "-"
    if isinstance(x, float):
        if math.isnan(x):
            return "-"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        if abs(x) < 1e-12:  # floating-point residue of a zero difference
            x = 0.0
        return f"{x:.{digits}g}" if abs(x) < 1e-3 and x != 0 else f"{x:.{digits}f}"
    return str(x)


def pval(x: float | None) -> str:
    """A p-value: three decimals, or two significant digits below 0.001."""
    if x is None or math.isnan(x):
        return "-"
    return f"{x:.2g}" if x < 0.001 else f"{x:.3f}"
