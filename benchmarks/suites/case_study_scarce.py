"""The case study's section on where pretraining should help: the label-scarce NetTCR-2.0 run with a generated
corpus (docs/results/nettcr-olga/) and the known-answer controls (docs/results/controls/). Every number is read
from those files and every conclusion is chosen by them; a missing result is reported as not run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SUITE = "nettcr-olga"


def _f3(x: float | None, signed: bool = False) -> str:
    return "?" if x is None else (f"{x:+.3f}" if signed else f"{x:.3f}")


def _verdict(p: dict[str, Any]) -> str:
    if p.get("diff") is None:
        return "not compared"
    if p.get("ci_low") is not None and p["ci_low"] > 0 and (p.get("p_holm") or 1) < 0.05:
        return "pretraining better"
    if p.get("ci_high") is not None and p["ci_high"] < 0 and (p.get("p_holm") or 1) < 0.05:
        return "pretraining worse"
    found = p.get("detectable")
    return "not shown to differ" + (f" (80% power for ≥ {found:.3f})" if found else "")


def _span(values: Any) -> str:
    values = values if isinstance(values, list) else [values]
    values = [v for v in values if isinstance(v, (int, float))]
    if not values:
        return "?"
    return f"{min(values):,}" if min(values) == max(values) else f"{min(values):,}–{max(values):,}"


def _corpus_line(board: dict[str, Any]) -> str:
    corpus = board.get("run", {}).get("pretrain_corpus") or {}
    if not corpus:
        return "No corpus was recorded."
    stripped = corpus.get("stripped") or []
    return (f"The corpus ({', '.join(f'`{s}`' for s in corpus.get('sources') or [])}, {_span(corpus.get('sizes'))} "
            f"sequences kept, hash `{', '.join(corpus.get('hashes') or []) or '?'}`) was written in the table's CDR3 "
            f"convention (`{corpus.get('convention') or '?'}`"
            + (f": anchors removed from {_span(stripped)} junctions" if any(stripped) else "")
            + f") and lost {_span(corpus.get('removed'))} rows per fold to the leak guard (corpus chains equal to a "
            "held-out TCR's).")


def olga_part(results: Path) -> str:
    path = results / SUITE / "leaderboard.json"
    if not path.is_file():
        return (f"**NetTCR-2.0 with a generated corpus:** the `{SUITE}` suite has not been run "
                f"(`python benchmarks/suites/regenerate.py {SUITE}`).")
    board = json.loads(path.read_text())
    curves = board.get("learning_curve") or {}
    readme = (results / SUITE / "README.md").read_text() if (results / SUITE / "README.md").is_file() else ""
    wall = next((line for line in readme.splitlines() if "wall time" in line.lower()), "")
    lines = [
        f"**NetTCR-2.0 with a generated corpus** ([`{SUITE}`](results/{SUITE}/README.md)): the `nettcr` suite's data, "
        "given partitions and encoder, `mask1` × NT-Xent pretraining on each training fold plus 100,000 OLGA human "
        "CDR3β chains, and every arm and baseline trained on 5%, 20% and 100% of each fold's labels. "
        + _corpus_line(board),
        "",
        "| configuration | labels | labelled rows | " + str(board.get("metric", "auroc")) + " | diff vs supervised "
        "[95% CI] | Holm p | reading |",
        "|---|---:|---:|---:|---|---:|---|",
    ]
    for curve in curves.get("curves") or []:
        if curve.get("arm") not in ("pretrained", "supervised") and curve.get("label") not in ("logreg_onehot",):
            continue
        for p in curve.get("points") or []:
            ci = "–" if p.get("diff") is None else (
                f"{_f3(p['diff'], True)} [{_f3(p.get('ci_low'), True)}, {_f3(p.get('ci_high'), True)}]")
            holm = "–" if p.get("p_holm") is None else f"{p['p_holm']:.3g}"
            reading = "reference" if p.get("is_reference") else _verdict(p)
            lines.append(f"| {curve['key']} | {p['label_fraction']:.0%} | {p.get('n_labelled') or 0:,.0f} | "
                         f"{_f3(p.get('mean'))} | {ci} | {holm} | {reading} |")
    pretrained = [(c, p) for c in curves.get("curves") or [] if c.get("arm") == "pretrained" for p in c["points"]]
    better = [(c, p) for c, p in pretrained if _verdict(p) == "pretraining better"]
    worse = [(c, p) for c, p in pretrained if _verdict(p) == "pretraining worse"]
    smallest = min(pretrained, key=lambda cp: cp[1]["label_fraction"], default=None)
    if pretrained:
        summary = (f"Pretraining was better in {len(better)} and worse in {len(worse)} of {len(pretrained)} "
                   "comparisons (Holm p < 0.05, interval excluding 0).")
        if smallest is not None and smallest[1].get("detectable"):
            summary += (f" At the fewest labels ({smallest[1]['label_fraction']:.0%}, "
                        f"{smallest[0].get('protocol', '?')}), a true gain of "
                        f"{smallest[1]['detectable']:.3f} would have been detected with 80% power.")
        lines += ["", summary]
    if wall:
        lines += ["", wall.strip()]
    return "\n".join(lines)


def controls_part(results: Path) -> str:
    path = results / "controls" / "summary.json"
    if not path.is_file():
        return ("**Known-answer controls:** not run (`python benchmarks/suites/controls.py`).")
    data = json.loads(path.read_text())
    parts, rates = [], {}
    for control in ("positive", "negative"):
        comps = [c for r in data["results"] if r["control"] == control for c in r["comparisons"]]
        if comps:
            hits = sum(c["detected"] for c in comps)
            gain = sum(c["diff"] for c in comps) / len(comps)
            rates[control] = hits / len(comps)
            parts.append(f"the {control} control in {hits} of {len(comps)} seeds ({hits / len(comps):.0%}; mean gain "
                         f"{gain:+.3f} AUROC)")
    sees = rates.get("positive", 0.0) >= 0.8
    invents = rates.get("negative", 1.0) > 0.05
    verdict = (("The benchmark sees a gain where one was planted" if sees else
                "The benchmark missed the planted gain in more than 1 seed in 5")
               + (", and does not invent one where none was." if not invents else
                  ", but also reported one where none was planted in more than 5% of seeds."))
    return ("**Known-answer controls** ([results](results/controls/README.md), "
            "[design](label-scarce.md#known-answer-controls)): on synthetic tables whose unlabelled corpus does or does "
            "not carry the binding motifs, the board showed the pretrained arm better than the supervised one at Holm "
            f"p < {data.get('alpha', 0.05)} for " + " and for ".join(parts) + ". " + verdict)


def scarce_section(results: Path) -> str:
    return "\n\n".join(["## Where pretraining should help: scarce labels, more sequences",
                        "Pretraining is meant to pay off when unlabelled sequences are plentiful and labels are few "
                        "(see [label-scarce pretraining](label-scarce.md)).",
                        controls_part(results), olga_part(results)])
