"""The extra unlabelled corpus pretraining saw, as the board states it: which sources, how large, which version
(hash) and how many test-fold TCRs the leak guard took out.

A gain from pretraining on an outside corpus is only as clean as that corpus's separation from the test folds,
so the board names the corpus and the removals next to the numbers. Rows record it per cell; the leak guard
removes different TCRs for each test fold, so sizes and removals are kept as the distinct values seen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CorpusInfo:
    """The corpus over every row that records one: distinct sources, hashes, sizes and removal counts."""

    sources: tuple[str, ...]
    hashes: tuple[str, ...]
    sizes: tuple[int, ...]
    removed: tuple[int, ...]
    used: tuple[int, ...]  # rows pretraining used after the leak guard (the runner's "used")
    n_rows: int  # result rows that carry a corpus
    convention: str = ""  # the CDR3 convention the corpus was written in (the labelled table's)
    stripped: tuple[int, ...] = ()  # junction anchors removed to match a table of anchor-less CDR3s


def _ints(values: Sequence[Any]) -> tuple[int, ...]:
    out = set()
    for v in values:
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out.add(int(v))
    return tuple(sorted(out))


def corpus_info(rows: Sequence[Mapping[str, Any]]) -> CorpusInfo | None:
    """The corpus of ``rows`` (None when no row carries a non-empty ``pretrain_corpus``)."""
    found = [
        r["pretrain_corpus"] for r in rows if isinstance(r.get("pretrain_corpus"), Mapping) and r["pretrain_corpus"]
    ]
    if not found:
        return None
    sources: dict[str, None] = {}
    for c in found:
        raw = c.get("sources") or ()
        for s in [raw] if isinstance(raw, str) else raw:
            sources.setdefault(str(s))
    return CorpusInfo(
        sources=tuple(sources),
        hashes=tuple(sorted({str(c["hash"]) for c in found if c.get("hash")})),
        sizes=_ints([c.get("size") for c in found]),
        removed=_ints([c.get("removed") for c in found]),
        used=_ints([c.get("used") for c in found]),
        n_rows=len(found),
        convention=", ".join(sorted({str(c["convention"]) for c in found if c.get("convention")})),
        stripped=_ints([c.get("stripped") for c in found]),
    )


def _span(values: tuple[int, ...]) -> str:
    if not values:
        return "not recorded"
    if len(values) == 1:
        return f"{values[0]:,}"
    return f"{values[0]:,}–{values[-1]:,} (differs by fold)"


def corpus_text(c: CorpusInfo) -> str:
    """One line for Markdown and HTML (each renderer escapes it)."""
    hashes = ", ".join(c.hashes) or "not recorded"
    return (
        f"pretraining corpus besides the training fold: {', '.join(c.sources) or 'sources not recorded'}; "
        f"size {_span(c.sizes)}; hash {hashes}; test-fold TCRs removed by the leak guard: {_span(c.removed)}"
        + (f"; rows used after it: {_span(c.used)}" if c.used else "")
        + (f"; CDR3s written as the table's ({c.convention})" if c.convention else "")
        + (f", anchors removed from {_span(c.stripped)}" if any(c.stripped) else "")
    )


def corpus_to_dict(c: CorpusInfo | None) -> dict[str, Any] | None:
    """leaderboard.json's ``run.pretrain_corpus``."""
    if c is None:
        return None
    return {
        "sources": list(c.sources),
        "hashes": list(c.hashes),
        "sizes": list(c.sizes),
        "removed": list(c.removed),
        "used": list(c.used),
        "n_rows": c.n_rows,
        "convention": c.convention,
        "stripped": list(c.stripped),
    }
