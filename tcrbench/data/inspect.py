"""What is in a table, before anyone trains on it: class balance per peptide, lengths, duplicates, shortcuts.

The shortcut check matters most: when no TCR occurs as both a binder and a non-binder, a model that never looks
at the peptide can score well by recognising "binder-like" TCRs, and a benchmark on such data measures that.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from tcrbench.data.audit import MIN_PER_CLASS, SHORTCUT_WARNING, audit_table
from tcrbench.data.schema import LABEL, PEPTIDE, SEQUENCES, pair_key, tcr_key
from tcrbench.data.validate import ValidationReport

__all__ = ["SHORTCUT_WARNING", "inspect_table", "render_text"]


def _num(value: Any) -> float:
    """A polars scalar (typed as any Python value) as a float: these statistics are numeric by construction."""
    return float(value)


def _n(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _ratio(positives: float, negatives: float) -> str:
    return f"1:{negatives / positives:.2f}".rstrip("0").rstrip(".") if positives else "no positives"


def _ratio_stats(per: pl.DataFrame) -> dict[str, Any]:
    """Negatives per positive across peptides: small peptides round away from the design ratio, so say how
    many peptides sit exactly at the most common ratio as well as the spread."""
    with_pos = per.filter(pl.col("positives") > 0)
    if with_pos.height == 0:
        return {"median": None, "min": None, "max": None, "mode": None, "at_mode": 0, "without_positives": per.height}
    r = (with_pos["negatives"] / with_pos["positives"]).round(2)
    counts = r.value_counts().sort(["count", r.name], descending=[True, False])  # ties: the smaller ratio
    mode = _num(counts[0, 0])
    return {
        "median": _num(r.median()),
        "min": _num(r.min()),
        "max": _num(r.max()),
        "mode": _ratio(1, mode),
        "at_mode": int(_num(counts[0, 1])),
        "without_positives": per.height - with_pos.height,
    }


def inspect_table(frame: pl.DataFrame, report: ValidationReport | None = None) -> dict[str, Any]:
    """A JSON-ready summary of a canonical table; `report` adds what loading found (drops, duplicates)."""
    per = (
        frame.group_by(PEPTIDE)
        .agg(pl.col(LABEL).sum().cast(pl.Int64).alias("positives"), pl.len().cast(pl.Int64).alias("rows"))
        .with_columns((pl.col("rows") - pl.col("positives")).alias("negatives"))
        .sort(["positives", PEPTIDE], descending=[True, False])
    )
    per_peptide = [
        {
            "peptide": r[PEPTIDE],
            "positives": r["positives"],
            "negatives": r["negatives"],
            "ratio": _ratio(r["positives"], r["negatives"]),
        }
        for r in per.iter_rows(named=True)
    ]
    ratio_stats = _ratio_stats(per)
    lengths = {}
    for col in (c for c in SEQUENCES if c in frame.columns):
        s = frame[col].drop_nulls().str.len_chars()
        if len(s):
            lengths[col] = {
                "min": int(_num(s.min())),
                "median": _num(s.median()),
                "mean": round(_num(s.mean()), 2),
                "max": int(_num(s.max())),
                "missing": frame[col].null_count(),
            }
    key = pair_key(frame)
    dup = frame.group_by(key).len().filter(pl.col("len") > 1)
    tcrs = frame.group_by(tcr_key(frame)).agg(pl.col(LABEL).n_unique().alias("classes"))
    in_both = int((tcrs["classes"] > 1).sum())
    positives = int(frame[LABEL].sum())
    warnings = list(report.warnings) if report is not None else []
    if in_both == 0 and 0 < positives < frame.height:
        warnings.append(SHORTCUT_WARNING)
    summary: dict[str, Any] = {
        "source": report.source if report is not None else None,
        "rows": frame.height,
        "peptides": per.height,
        "positives": positives,
        "negatives": frame.height - positives,
        "ratio": _ratio(positives, frame.height - positives),
        "ratio_per_peptide": ratio_stats,
        "chains": [c for c in ("cdr3b", "cdr3a") if c in frame.columns],
        "lengths": lengths,
        "duplicate_pairs": dup.height,
        "duplicate_rows": int((dup["len"] - 1).sum()) if dup.height else 0,
        "tcrs": tcrs.height,
        "tcrs_in_both_classes": in_both,
        "per_peptide": per_peptide,
        "warnings": warnings,
        "audit": audit_table(frame).to_dict(),
    }
    if report is not None:
        summary["loading"] = {k: v for k, v in report.to_dict().items() if k not in ("source", "warnings")}
    return summary


def render_text(summary: dict[str, Any], top: int = 10) -> str:
    """The summary as a few readable lines and a per-peptide table of the `top` peptides (0: all)."""
    lines = []
    if summary.get("source"):
        lines.append(f"{summary['source']}")
    rs = summary["ratio_per_peptide"]
    if rs["mode"] is None:
        same = "no peptide has positives"
    elif rs["min"] == rs["max"]:
        same = f"{rs['mode']} for every peptide"
    else:
        same = (
            f"{rs['mode']} for {rs['at_mode']:,} of {summary['peptides']:,} peptides; median "
            f"{_ratio(1, rs['median'])}, range {_ratio(1, rs['min'])} to {_ratio(1, rs['max'])}"
        )
    if rs["without_positives"]:
        same += f"; {_n(rs['without_positives'], 'peptide')} without positives"
    lines += [
        f"rows: {summary['rows']:,}   peptides: {summary['peptides']:,}   chains: {', '.join(summary['chains'])}",
        f"positives: {summary['positives']:,}   negatives: {summary['negatives']:,}   overall {summary['ratio']}",
        f"positives:negatives per peptide: {same}",
        f"duplicates: {summary['duplicate_pairs']:,} pairs occur more than once "
        f"({summary['duplicate_rows']:,} extra rows)",
        f"TCRs: {summary['tcrs']:,} distinct, {summary['tcrs_in_both_classes']:,} occur in both classes",
    ]
    for col, st in summary["lengths"].items():
        missing = f", {st['missing']:,} missing" if st["missing"] else ""
        lines.append(
            f"length {col}: min {st['min']}, median {st['median']:g}, mean {st['mean']:g}, max {st['max']}{missing}"
        )
    loading = summary.get("loading")
    if loading:
        done = []
        if loading["dropped_duplicates"]:
            done.append(f"dropped {_n(loading['dropped_duplicates'], 'duplicate row')}")
        if loading["blank_rows"]:
            done.append(f"skipped {_n(loading['blank_rows'], 'blank row')}")
        if loading["other_chain_rows"]:
            done.append(f"skipped {_n(loading['other_chain_rows'], 'non-beta chain row')}")
        if loading["cdr3_stripped"]:
            done.append(f"stripped conserved ends of {_n(loading['cdr3_stripped'], 'CDR3')}")
        if loading["lowercased"]:
            done.append(f"upper-cased {_n(loading['lowercased'], 'row')}")
        if done:
            lines.append("loading: " + "; ".join(done))
    shown = summary["per_peptide"] if top <= 0 else summary["per_peptide"][:top]
    if shown:
        width = max(len("peptide"), *(len(p["peptide"]) for p in shown))
        more = len(summary["per_peptide"]) - len(shown)
        lines.append("")
        lines.append(
            f"{'peptide':<{width}}  {'positives':>9}  {'negatives':>9}  ratio"
            + (f"   (top {len(shown)} of {summary['peptides']}; --top 0 shows all)" if more else "")
        )
        for p in shown:
            lines.append(f"{p['peptide']:<{width}}  {p['positives']:>9,}  {p['negatives']:>9,}  {p['ratio']}")
    audit = summary.get("audit")
    if audit:
        lines += ["", *_audit_lines(audit)]
    shown_warnings = list(dict.fromkeys([*summary["warnings"], *(audit or {}).get("warnings", [])]))
    if shown_warnings:
        lines.append("")
        lines += [f"warning: {w}" for w in shown_warnings]
    return "\n".join(lines)


def _f(value: float | None, spec: str = ".3f") -> str:
    return "n/a" if value is None else format(value, spec)


def _audit_lines(a: dict[str, Any]) -> list[str]:
    """The shortcut and leak audit (tcrbench.data.audit) as a few lines; thresholds in docs/shortcuts.md."""
    per = (
        f"per peptide mean {_f(a['tcr_frequency_per_peptide_mean'])}, range {_f(a['tcr_frequency_per_peptide_min'])}"
        f"-{_f(a['tcr_frequency_per_peptide_max'])} over {_n(a['tcr_frequency_peptides'], 'peptide')} with "
        f">= {MIN_PER_CLASS} of each class"
    )
    lines = [
        "shortcut and leak audit (no training):",
        f"  TCR-frequency AUROC (rarer TCR = binder): pooled {_f(a['tcr_frequency_auroc'])}; {per}",
        f"  peptide-prior AUROC (in-sample, an upper bound): {_f(a['peptide_prior_auroc'])}",
        f"  TCRs in both classes: {_f(a['tcrs_in_both_share'], '.1%')} of {a['tcrs']:,}",
        f"  duplicates: {a['duplicate_rows']:,} extra rows ({a['duplicate_rows_share']:.1%}), "
        f"{a['duplicate_pairs']:,} repeated pairs ({a['duplicate_pairs_share']:.1%}), "
        f"{a['conflicting_pairs']:,} with conflicting labels",
        f"  peptides with < {MIN_PER_CLASS} positives: {a['peptides_few_positives']:,} of {a['peptides']:,}; "
        f"positive share per peptide {_f(a['positive_share_min'], '.1%')}-{_f(a['positive_share_max'], '.1%')}",
        f"  CDR3 convention: {a['cdr3_convention']} ({_f(a['anchored_share'], '.1%')} carry the C...F/W ends)",
    ]
    if a["split_column"]:
        lines.append(
            f"  given splits ({a['split_column']}): {a['shared_pairs']:,} pairs and {a['shared_tcrs']:,} TCRs "
            "occur in more than one"
        )
    return lines
