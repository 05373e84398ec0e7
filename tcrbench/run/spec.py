"""Parsing the short text specs a run is configured with: `AUGMENTATION/OBJECTIVE` pairs and `name:params`.

Kept apart from `config` and `grid` so both can use them: the configuration validates pairs when it is read,
the grid expands them into configurations, and neither has to import the other for it.
"""

from __future__ import annotations

from tcrbench.errors import UsageError


def parse_pair(text: str) -> tuple[str, str]:
    """`mask1/ntxent` -> ("mask1", "ntxent"); a malformed pair is a one-line UsageError naming the form."""
    aug, sep, obj = text.partition("/")
    if not sep or not aug.strip() or not obj.strip() or "/" in obj:
        raise UsageError(f"pair {text!r}: expected AUGMENTATION/OBJECTIVE, such as mask1/ntxent or identity/mlm")
    return aug.strip(), obj.strip()


def parse_pairs(texts: list[str]) -> list[tuple[str, str]]:
    """Every pair of a `pairs` list, parsed; an empty list is refused (leave `pairs` out to cross instead)."""
    if not texts:
        raise UsageError("pairs must list at least one AUGMENTATION/OBJECTIVE pair (or be left out)")
    return [parse_pair(text) for text in texts]


def spec_name(text: str) -> str:
    """The plugin name of a spec: `synthetic:n_peptides=3` -> `synthetic` (what a run folder is named after)."""
    return text.split(":")[0]


def parse_fractions(values: list[float] | str) -> list[float]:
    """`0.02,0.1,1.0` (or a list) to sorted distinct fractions in (0, 1]."""
    items = values.split(",") if isinstance(values, str) else list(values)
    out: list[float] = []
    for item in items:
        try:
            f = float(item)
        except (TypeError, ValueError):
            raise UsageError(f"--label-fraction: {item!r} is not a number") from None
        if not 0.0 < f <= 1.0:
            raise UsageError(f"--label-fraction: {f:g} must be in (0, 1]")
        out.append(f)
    if not out:
        raise UsageError("--label-fraction: give at least one fraction, such as 0.05,0.2,1.0")
    if len(set(out)) != len(out):
        raise UsageError(f"--label-fraction: {','.join(f'{f:g}' for f in out)} names a fraction twice")
    return sorted(out)
