"""What the case study reads from a results folder, and how it words a number: the part of case_study.py that
holds no prose (the sections are in case_study_sections.py).

A suite's folder (docs/results/<suite>/) gives leaderboard.json (the board), README.md (its wall time),
config.toml (its budget) and environment.json (its data). A missing folder is a suite that was not run.
Conclusions are chosen here by the numbers: `headline` says "makes no detectable difference" only when the
corrected interval contains zero.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the package's fallback
    import tomli as tomllib

Row = dict[str, Any]
ORDER = ("course-3fold", "course", "immrep22", "nettcr", "nettcr-random")
METRIC_NAMES = {"auroc": "AUROC", "macro_auroc": "macro AUROC"}
# This copy of IMMREP22 lacks GILGFVFTL's training file (the suite's [published] note says so): the peptides
# reported apart, since no model here trained on them.
NO_TRAINING_ROWS = {"immrep22": ("GILGFVFTL",)}
WALL = re.compile(r"^- wall time: ([\d.]+) min on (\d+) CPU cores", re.MULTILINE)


@dataclass
class Suite:
    """One suite's results folder; `board` is None when the suite was not run."""

    name: str
    board: dict[str, Any] | None = None
    config: dict[str, Any] = field(default_factory=dict)
    env: dict[str, Any] = field(default_factory=dict)
    wall_min: float | None = None
    cores: int | None = None

    @property
    def ran(self) -> bool:
        return self.board is not None

    @property
    def rows(self) -> list[Row]:
        """Rows with a score, in the board's rank order."""
        return [r for r in (self.board or {}).get("rows", []) if r.get("mean") is not None]

    @property
    def metric(self) -> str:
        m = (self.board or {}).get("metric", "auroc")
        return METRIC_NAMES.get(m, m)

    @property
    def run(self) -> dict[str, Any]:
        return (self.board or {}).get("run") or {}

    @property
    def margin(self) -> float:
        return float(((self.board or {}).get("test") or {}).get("shortcut_margin") or 0.02)

    def find(self, pred: Callable[[Row], bool]) -> Row | None:
        """The best-ranked row that `pred` accepts."""
        return next((r for r in self.rows if pred(r)), None)

    def by_key(self) -> dict[str, Row]:
        return {r["key"]: r for r in self.rows}

    def reference(self, row: Row) -> Row | None:
        return self.by_key().get(row.get("reference") or "")

    def banners(self, kind: str) -> list[str]:
        return [b["message"] for b in (self.board or {}).get("banners", []) if b.get("kind") == kind]


def load_suite(results: Path, name: str) -> Suite:
    """The suite's folder under `results`, or a suite marked not run when it has no leaderboard.json."""
    folder = results / name
    board_file = folder / "leaderboard.json"
    if not board_file.is_file():
        return Suite(name)
    suite = Suite(name, board=json.loads(board_file.read_text()))
    if (folder / "config.toml").is_file():
        suite.config = tomllib.loads((folder / "config.toml").read_text())
    if (folder / "environment.json").is_file():
        suite.env = json.loads((folder / "environment.json").read_text())
    readme = folder / "README.md"
    match = WALL.search(readme.read_text()) if readme.is_file() else None
    if match:
        suite.wall_min, suite.cores = float(match.group(1)), int(match.group(2))
    return suite


def load_all(results: Path) -> dict[str, Suite]:
    return {name: load_suite(results, name) for name in ORDER}


# ---- which rows are which
def is_neural(r: Row) -> bool:
    """A neural model: the supervised and pretrained arms, and the supervised CNN baseline when it is one."""
    return r.get("arm") in ("supervised", "pretrained") or (r.get("arm") == "baseline" and bool(r.get("encoder")))


def is_supervised_neural(r: Row) -> bool:
    """A neural model trained with labels only and fine-tuned: the arm every pretraining gain is measured from.
    A published model (SCEPTR) fine-tuned is not one: its weights were pretrained by others."""
    return (r.get("arm") == "supervised" and r.get("protocol") == "finetune") or (
        r.get("arm") == "baseline" and bool(r.get("encoder")) and not r.get("published"))


def is_simple(r: Row) -> bool:
    """A simple (non-neural) baseline other than the constant `majority`."""
    return r.get("protocol") == "baseline" and not is_neural(r) and r.get("baseline") != "majority"


def is_pretrained(r: Row) -> bool:
    return r.get("arm") == "pretrained"


def is_study_recipe(r: Row) -> bool:
    return is_pretrained(r) and r.get("augmentation") == "mask1" and r.get("objective") == "ntxent"


def best(rows: Iterable[Row], score: Callable[[Row], float | None] = lambda r: r.get("mean")) -> Row | None:
    scored = [r for r in rows if score(r) is not None]
    return max(scored, key=lambda r: score(r)) if scored else None  # type: ignore[arg-type, return-value]


def compared(rows: Iterable[Row]) -> list[Row]:
    """Pretrained rows with a corrected interval against their supervised arm."""
    return [r for r in rows if is_pretrained(r) and r.get("ci_low") is not None and r.get("ci_high") is not None]


def contains_zero(r: Row) -> bool:
    return r["ci_low"] <= 0 <= r["ci_high"]


# ---- words for numbers
def short(label: str) -> str:
    """A configuration without its encoder spec: 'mask1 × ntxent · chain_cnn:dropout=0.3 [probe]' ->
    'mask1 × ntxent [probe]'."""
    return re.sub(r" · [^ \[]+", "", label)


def name(r: Row, protocol: bool = True) -> str:
    label = short(r["label"])
    return f"{label} [{r['protocol']}]" if protocol and r.get("protocol") != "baseline" else label


def f3(x: float | None, signed: bool = False) -> str:
    if x is None:
        return "–"
    x = 0.0 if abs(x) < 0.0005 else x  # no "-0.000"
    return f"{x:+.3f}" if signed else f"{x:.3f}"


def fp(p: float | None) -> str:
    if p is None:
        return "–"
    return f"{p:.1e}" if p < 0.001 else f"{p:.3f}"


def msd(r: Row) -> str:
    return f3(r.get("mean")) + (f" ± {r['sd']:.3f}" if r.get("sd") is not None else "")


def ci(r: Row) -> str:
    return f"{f3(r.get('diff'), True)} [{f3(r.get('ci_low'), True)}, {f3(r.get('ci_high'), True)}]"


def stats(r: Row) -> str:
    """difference, interval and p-values of a compared row, in words."""
    return (f"difference {f3(r['diff'], True)}, 95% CI {f3(r['ci_low'], True)} to {f3(r['ci_high'], True)}, "
            f"corrected t-test p = {fp(r.get('p'))}, Holm p = {fp(r.get('p_holm'))}")


def headline(r: Row, metric: str) -> str:
    """What pretraining did, chosen by the interval: no detectable difference only when it contains zero."""
    if contains_zero(r):
        return "makes no detectable difference"
    held = "survives" if (r.get("p_holm") is not None and r["p_holm"] < 0.05) else "does not survive"
    return f"changes {metric} by {f3(r['diff'], True)}, an interval that excludes zero but {held} Holm's correction"


def compare_words(a: float, b: float) -> str:
    """'0.012 above', '0.012 below', or 'level with' when the rounded scores are equal."""
    d = round(a, 3) - round(b, 3)
    if abs(d) < 0.0005:
        return "level with"
    return f"{abs(d):.3f} {'above' if d > 0 else 'below'}"


def wtl(r: Row) -> str:
    return "–" if r.get("wins") is None else f"{r['wins']}/{r['ties']}/{r['losses']}"


def table(header: Sequence[str], align: str, lines: Iterable[Sequence[str]]) -> str:
    """A Markdown table; `align` has one character per column: l or r."""
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" if a == "l" else "---:" for a in align) + "|"]
    out += ["| " + " | ".join(cells) + " |" for cells in lines]
    return "\n".join(out)


def board_table(s: Suite) -> str:
    """The suite's board: configuration, protocol, score, diff vs supervised [CI], p, Holm p, W/T/L."""
    def diff(r: Row) -> str:
        if r.get("is_reference"):
            return "reference"
        return ci(r) if r.get("ci_low") is not None else (f3(r.get("diff"), True) if r.get("diff") is not None
                                                           else "–")
    return table(("configuration", "protocol", f"{s.metric} mean ± sd", "diff vs supervised [95% CI]", "p",
                  "Holm p", "W/T/L"), "llrrrrr",
                 ((short(r["label"]), r["protocol"], msd(r), diff(r), fp(r.get("p")), fp(r.get("p_holm")), wtl(r))
                  for r in s.rows))


# ---- per-peptide numbers
def peptide_split(s: Suite) -> dict[str, tuple[float | None, int, float | None]] | None:
    """key -> (mean per-peptide AUROC over the peptides with training rows, their count, AUROC of the first
    peptide without training rows), from the board's per-peptide table; None when the board has none."""
    table_ = (s.board or {}).get("per_peptide")
    if not table_ or not table_.get("configurations"):
        return None
    peptides = [p["peptide"] for p in table_["peptides"]]
    unseen = [p for p in NO_TRAINING_ROWS.get(s.name, ()) if p in peptides]
    out = {}
    for c in table_["configurations"]:
        seen = [a for p, a in zip(peptides, c["auroc"]) if p not in unseen and a is not None]
        apart = c["auroc"][peptides.index(unseen[0])] if unseen else None
        out[c["key"]] = (sum(seen) / len(seen) if seen else None, len(seen), apart)
    return out


def supervised_finetune(s: Suite) -> Row | None:
    return s.find(lambda r: r.get("arm") == "supervised" and r.get("protocol") == "finetune")


def framing(s: Suite) -> str:
    """'pan-peptide' (the peptide an input) or 'per-peptide' (a head per peptide), from the board or the config."""
    value = str(s.run.get("framing") or s.config.get("framing") or "pan")
    return {"pan": "pan-peptide", "per_peptide": "per-peptide"}.get(value, value)


# ---- the section tables
SHORTCUTS = ("tcr_only", "tcr_frequency", "peptide_only")


def shortcut_table(suites: Iterable[Suite]) -> str:
    """Per suite: each shortcut baseline, the best simple baseline that reads the pair, the best neural arm."""
    def cell(r: Row | None, label: bool = True) -> str:
        return "–" if r is None else f3(r["mean"]) + (f" ({name(r)})" if label else "")

    lines = []
    for s in suites:
        if not s.ran:
            lines.append((f"`{s.name}`", *["not run"] * (len(SHORTCUTS) + 2)))
            continue
        shortcut = [cell(s.find(lambda r, b=b: r.get("baseline") == b), False) for b in SHORTCUTS]
        simple = best(r for r in s.rows if is_simple(r) and not r.get("shortcut"))
        lines.append((f"`{s.name}` ({s.metric})", *shortcut, cell(simple), cell(best(filter(is_neural, s.rows)))))
    return table(("suite (metric)", *(f"`{b}`" for b in SHORTCUTS), "best simple model of the pair",
                  "best neural arm"), "l" + "r" * (len(SHORTCUTS) + 2), lines)


def partition_table(given: Suite, rnd: Suite) -> str:
    """Each configuration on the given partitions beside random folds."""
    other = rnd.by_key()
    keys = [r["key"] for r in given.rows] + [k for k in other if k not in given.by_key()]
    rows = [(given.by_key().get(k), other.get(k)) for k in keys]

    def diff(r: Row | None) -> str:
        if r is None:
            return "–"
        return "reference" if r.get("is_reference") else f"{ci(r)} ({fp(r.get('p_holm'))})"

    lines = [(short((g or q)["label"]), (g or q)["protocol"], msd(g) if g else "–", msd(q) if q else "–",  # type: ignore[index]
              diff(g), diff(q)) for g, q in rows]
    return table(("configuration", "protocol", f"{given.metric}, given partitions", f"{rnd.metric}, random folds",
                  "diff vs supervised, given [95% CI] (Holm p)", "diff vs supervised, random [95% CI] (Holm p)"),
                 "llrrrr", lines)


def published_table(s: Suite) -> str:
    ranked = ((s.board or {}).get("published") or {}).get("ranked") or []
    return table(("method", "source", s.metric), "llr",
                 ((short(x["method"]), x["source"], f3(x["score"])) for x in ranked))


def peptide_table(s: Suite, split: dict[str, tuple[float | None, int, float | None]], unseen: str) -> str:
    """IMMREP22's rows: macro AUROC over all epitopes, over those with training rows, and the unseen one apart."""
    n_all = len(((s.board or {}).get("per_peptide") or {}).get("peptides") or [])
    n_seen = max((v[1] for v in split.values()), default=0)

    def moved(r: Row) -> str:
        ref = s.reference(r)
        return "reference" if r.get("is_reference") else (
            f3(r["mean"] - ref["mean"], True) if ref is not None and is_pretrained(r) else "–")

    return table(("configuration", "protocol", f"macro AUROC, all {n_all}", f"macro AUROC, {n_seen} with training rows",
                  f"{unseen} AUROC", "diff vs supervised"), "llrrrr",
                 ((short(r["label"]), r["protocol"], f3(r["mean"]), f3(split.get(r["key"], (None,))[0]),
                   f3(split.get(r["key"], (None, 0, None))[2]), moved(r)) for r in s.rows))


def best_supervised(s: Suite, score: Callable[[Row], float | None] | None = None) -> Row | None:
    """The best fine-tuned supervised neural arm (the supervised arm, or the supervised CNN baseline)."""
    return best(filter(is_supervised_neural, s.rows), score or (lambda r: r.get("mean")))


# ---- the suite in words
def not_run(name_: str) -> str:
    return f"`{name_}` was not run (its results folder has no leaderboard.json)"


def shape(s: Suite) -> str:
    folds, seeds = len(s.run.get("folds") or []), len(s.run.get("seeds") or [])
    return f"{folds} fold{'s' if folds != 1 else ''} × {seeds} seed{'s' if seeds != 1 else ''}"


def rows_used(s: Suite) -> str:
    """'2,344 rows (stratified subsample)' from the environment's data record."""
    rows = (s.env.get("data") or {}).get("rows")
    return (f"{rows:,} rows" if isinstance(rows, int) else "? rows") + (
        " (stratified subsample)" if s.config.get("subsample") else "")


def recipe_row(s: Suite) -> Row | None:
    """The study's recipe fine-tuned (mask1 × NT-Xent), else the best compared fine-tuned pretrained row."""
    rows = [r for r in compared(s.rows) if r["protocol"] == "finetune"]
    return next((r for r in rows if is_study_recipe(r)), rows[0] if rows else None)


def spread(rows: list[Row]) -> tuple[float, float]:
    return max(abs(r["diff"]) for r in rows), max(max(abs(r["ci_low"]), abs(r["ci_high"])) for r in rows)
