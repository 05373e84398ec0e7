"""The case study's section on published models and classical anchors: where the study's recipe stands against
SCEPTR and tcrdist nearest neighbours on IMMREP22 and NetTCR-2.0 (docs/results/immrep22, docs/results/nettcr).
Every number is read from the boards and every comparison word is chosen by them; with several folds the recipe and
SCEPTR are compared directly by the same corrected t-test the boards use, paired by fold."""

from __future__ import annotations

from collections.abc import Callable

from case_study_data import (
    Row,
    Suite,
    compare_words,
    f3,
    fp,
    is_study_recipe,
    not_run,
    peptide_split,
    supervised_finetune,
    table,
)

TCRDIST3 = "tcrdist3"  # the published IMMREP22 entry the tcrdist_knn target is set against
TARGET = 0.04  # the issue's bar: within 0.04 of tcrdist3's published macro AUROC


def _sceptr(s: Suite, protocol: str) -> Row | None:
    return s.find(lambda r: bool(r.get("published")) and str(r.get("encoder") or "").startswith("sceptr")
                  and r.get("protocol") == protocol)


def _baseline(s: Suite, name: str) -> Row | None:
    return s.find(lambda r: str(r.get("baseline") or "").split(":")[0] == name)


def _recipe(s: Suite) -> Row | None:
    return s.find(lambda r: is_study_recipe(r) and r.get("protocol") == "finetune")


def lineup(s: Suite) -> list[tuple[str, Row | None]]:
    """The rows this section compares, named for a reader."""
    return [
        ("the study's recipe (mask1 × NT-Xent, fine-tuned)", _recipe(s)),
        ("the same CNN, supervised from scratch", supervised_finetune(s)),
        ("SCEPTR, fine-tuned", _sceptr(s, "finetune")),
        ("SCEPTR, frozen + probe", _sceptr(s, "probe")),
        ("nearest neighbours in SCEPTR's embedding", _baseline(s, "embedding_knn")),
        ("tcrdist nearest neighbours", _baseline(s, "tcrdist_knn")),
        ("k-mer logistic regression per peptide", _baseline(s, "kmer_per_peptide")),
    ]


def paired(s: Suite, a: Row, b: Row) -> str:
    """a − b over the folds both have, by the boards' corrected t-test; '' with fewer than two folds."""
    from tcrbench.stats import corrected_ttest

    def scores(r: Row) -> dict[int, float]:
        return {c["fold"]: c["score"] for c in r.get("cells", []) if c.get("score") is not None}

    sa, sb = scores(a), scores(b)
    folds = sorted(set(sa) & set(sb))
    if len(folds) < 2:
        return ""
    ratio = (s.board or {}).get("test", {}).get("test_train_ratio")
    t = corrected_ttest([sa[f] for f in folds], [sb[f] for f in folds], test_train_ratio=ratio)
    return (f"{f3(t.mean_diff, True)} [{f3(t.ci_low, True)}, {f3(t.ci_high, True)}], p = {fp(t.p)} "
            f"over {len(folds)} folds")


def _table(s: Suite, split: dict[str, tuple[float | None, int, float | None]] | None) -> str:
    rows = [(what, r) for what, r in lineup(s) if r is not None]
    seen: Callable[[Row], str] = lambda r: f3((split or {}).get(r["key"], (None,))[0])
    header = ["model", "board section", s.metric]
    if split:
        n_seen = max((v[1] for v in split.values()), default=0)
        header.append(f"{s.metric}, the {n_seen} peptides with training rows")
        lines = [[what, r.get("group") or "", f3(r["mean"]), seen(r)] for what, r in rows]
    else:  # a pooled metric: the macro AUROC beside it says how the rarer peptides fare
        header.append("macro AUROC")
        lines = [[what, r.get("group") or "", f3(r["mean"]), f3(r.get("macro_auroc"))] for what, r in rows]
    return table(header, "ll" + "r" * (len(header) - 2), lines)


def _words(s: Suite, score: Callable[[Row], float | None]) -> str:
    recipe, sc_ft, sc_pr, knn = _recipe(s), _sceptr(s, "finetune"), _sceptr(s, "probe"), _baseline(s, "tcrdist_knn")
    if recipe is None or score(recipe) is None:
        return "The study's recipe has no fine-tuned row on this board."
    parts = []
    for label, other in (("SCEPTR fine-tuned", sc_ft), ("SCEPTR frozen with a probe", sc_pr),
                         ("tcrdist nearest neighbours", knn)):
        if other is None or score(other) is None:
            continue
        test = paired(s, recipe, other)
        parts.append(f"{compare_words(score(recipe), score(other))} {label} ({f3(score(other))}"  # type: ignore[arg-type]
                     + (f"; recipe minus it {test}" if test else "") + ")")
    if not parts:
        return f"The study's recipe ({f3(score(recipe))}) has no published model or anchor beside it on this board."
    return f"The study's recipe ({f3(score(recipe))}) is " + "; ".join(parts) + "."


def immrep_paragraph(s: Suite) -> str:
    if not s.ran:
        return not_run(s.name) + "."
    split = peptide_split(s)

    def seen(r: Row) -> float | None:
        return (split or {}).get(r["key"], (None,))[0]

    published = ((s.board or {}).get("published") or {}).get("results") or {}
    knn, ref = _baseline(s, "tcrdist_knn"), published.get(TCRDIST3)
    text = (f"**IMMREP22** (one train → test split, so no interval; {s.metric} over the peptides with training rows, "
            "since GILGFVFTL has none in this copy). " + _words(s, seen))
    if knn is not None and ref is not None and seen(knn) is not None:
        gap = seen(knn) - ref  # type: ignore[operator]
        verdict = "within" if abs(gap) <= TARGET or gap > 0 else "short of"
        text += (f" `tcrdist_knn` scores {f3(seen(knn))} against {TCRDIST3}'s published {ref:.3f} "
                 f"({f3(gap, True)}: {verdict} the {TARGET} the anchor is held to"
                 + ("; above it" if gap > 0 else "") + ").")
    return text + "\n\n" + _table(s, split)


def nettcr_paragraph(s: Suite) -> str:
    if not s.ran:
        return not_run(s.name) + "."
    text = ("**NetTCR-2.0** (the authors' five partitions; CDR3α and CDR3β only, so SCEPTR runs its CDR3-only "
            "variant and tcrdist reads CDR3s). " + _words(s, lambda r: r.get("mean")))
    return text + "\n\n" + _table(s, None)


def published_section(immrep: Suite, nettcr: Suite) -> str:
    return "\n\n".join([
        "## Against published pretrained models and classical anchors",
        "Does the study's recipe beat what people already use? SCEPTR (a published contrastive + masked-LM TCR model "
        "whose weights ship in its wheel) ran under the same split, folds, seeds and budget as every other arm: "
        "frozen with the probe, and fine-tuned through its weights (at a tenth of the head's learning rate). Beside "
        "it, two nearest-neighbour scorers that read only each peptide's training binders and non-binders: tcrdist "
        "(the classical distance that topped IMMREP22's deep models) and cosine distance in SCEPTR's embedding, as "
        "SCEPTR's authors benchmark few-shot specificity. Boards: [immrep22](results/immrep22/README.md), "
        "[nettcr](results/nettcr/README.md); how the scorers work: [nearest neighbours](neighbours.md), "
        "[published models](published-models.md).",
        immrep_paragraph(immrep),
        nettcr_paragraph(nettcr),
    ])
