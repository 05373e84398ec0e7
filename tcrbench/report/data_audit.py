"""The data audit in a report's header: the table's shortcut and leak warnings, and how its negatives were made.

A leaderboard on a table whose labels are given away by TCR recurrence, or whose given splits share pairs, means
something else than the numbers suggest; the reader must see that next to the numbers, not only in `data
inspect`. The runner stores the audit (tcrbench.data.audit) in environment.json; result rows carry the strategy
that made a positives-only table's negatives, and each strategy is known to create its own shortcut.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: The shortcut each negative-sampling strategy is known to create (docs/shortcuts.md).
KNOWN_SHORTCUTS: Mapping[str, str] = {
    "swapped": "TCR frequency",  # every binder comes back as a negative of other peptides
    "background": "TCR source",  # negatives from another repertoire: the TCR alone tells the class
}


@dataclass(frozen=True)
class DataAudit:
    """What the header states about the data: audit warnings, negatives strategies, the audit's numbers."""

    warnings: tuple[str, ...] = ()
    negatives: tuple[str, ...] = ()  # distinct non-empty `negatives` of the rows, e.g. "swapped:ratio=5,seed=0"
    numbers: Mapping[str, Any] = field(default_factory=dict)


def data_audit(environment: Mapping[str, Any] | None, rows: Sequence[Mapping[str, Any]]) -> DataAudit | None:
    """The audit of environment.json's ``data.audit`` and the rows' ``negatives`` (None when neither says anything)."""
    data = (environment or {}).get("data")
    raw = data.get("audit") if isinstance(data, Mapping) else None
    audit = raw if isinstance(raw, Mapping) else {}
    found = audit.get("warnings")
    warnings = tuple(str(w) for w in found) if isinstance(found, (list, tuple)) else ()
    negatives = tuple(dict.fromkeys(str(r["negatives"]) for r in rows if r.get("negatives")))
    if not audit and not negatives:
        return None
    numbers = {k: v for k, v in audit.items() if k != "warnings"}
    return DataAudit(warnings=warnings, negatives=negatives, numbers=numbers)


def negatives_text(strategy: str) -> str:
    """ "negatives made by swapped:ratio=5,seed=0: known shortcut: TCR frequency" (no shortcut named if unknown)."""
    known = KNOWN_SHORTCUTS.get(strategy.split(":", 1)[0].strip())
    return f"negatives made by {strategy}" + (f": known shortcut: {known}" if known else "")


def _measured(strategy: str, numbers: Any) -> str:
    """The audit's number for the shortcut a strategy is known to create, when the run measured it."""
    kind = strategy.split(":", 1)[0].strip()
    if kind == "swapped" and isinstance(numbers.get("tcr_frequency_auroc"), (int, float)):
        return f" (TCR-frequency AUROC on this table: {numbers['tcr_frequency_auroc']:.3f}; chance 0.5)"
    if kind == "background" and isinstance(numbers.get("tcrs_in_both_share"), (int, float)):
        return (
            f" ({numbers['tcrs_in_both_share']:.1%} of TCRs in both classes: a peptide-blind model can tell "
            "repertoire TCRs from binders)"
        )
    return ""


def audit_lines(audit: DataAudit | None) -> list[str]:
    """The header's lines, plain text (each renderer escapes): negatives strategies first, then audit warnings."""
    if audit is None:
        return []
    return [negatives_text(n) + _measured(n, audit.numbers) for n in audit.negatives] + [
        f"data audit: {w}" for w in audit.warnings
    ]


def audit_to_dict(audit: DataAudit | None) -> dict[str, Any] | None:
    """leaderboard.json's ``run.data_audit``."""
    if audit is None:
        return None
    return {
        "warnings": list(audit.warnings),
        "negatives": [
            {"strategy": n, "known_shortcut": KNOWN_SHORTCUTS.get(n.split(":", 1)[0].strip())} for n in audit.negatives
        ],
        "numbers": dict(audit.numbers),
    }
