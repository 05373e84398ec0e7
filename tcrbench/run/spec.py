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
