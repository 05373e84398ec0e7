"""Render docs/case-study.md from the suites' results, so the page cannot drift from the boards.

    python benchmarks/suites/case_study.py            # docs/results -> docs/case-study.md
    python benchmarks/suites/case_study.py --check    # exit 1 when docs/case-study.md differs from its render

`python benchmarks/suites/regenerate.py` calls it after writing docs/results/. Every number on the page is read
from docs/results/<suite>/ (leaderboard.json, README.md, config.toml, environment.json; see case_study_data.py),
and every sentence that states a conclusion is chosen by those numbers: "no detectable difference" only when the
corrected interval contains zero, "above"/"below" by the rounded difference, a target "met" only when the number
clears it. Prose that carries no number is fixed text here. A suite without results is reported as not run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # the sibling module, however this file is loaded (script, importlib, regenerate.py)
    sys.path.insert(0, str(HERE))

from case_study_data import (  # noqa: E402
    Row,
    Suite,
    best,
    compare_words,
    compared,
    contains_zero,
    f3,
    framing,
    headline,
    is_neural,
    is_pretrained,
    is_simple,
    load_all,
    name,
    not_run,
    peptide_split,
    recipe_row,
    rows_used,
    shape,
    short,
    spread,
    stats,
    table,
)
from case_study_published import published_section  # noqa: E402
from case_study_scarce import scarce_section  # noqa: E402
from case_study_sections import GOAL_MIN, answer_partitions, sections, targets  # noqa: E402

REPO = HERE.parents[1]
S = dict[str, Suite]


def vs_reference(s: Suite, r: Row) -> str:
    ref = s.reference(r)
    return f"`{short(r['label'])}` scores {s.metric} {f3(r['mean'])} against {f3(ref['mean'] if ref else None)}"


def best_pair(s: Suite) -> tuple[Row | None, Row | None]:
    """The best neural arm and the best simple model of the pair (no shortcut baseline)."""
    return best(filter(is_neural, s.rows)), best(r for r in s.rows if is_simple(r) and not r.get("shortcut"))


# ---- the answers
def answer_three_folds(s: Suite) -> str:
    r = recipe_row(s)
    if not s.ran or r is None:
        return f"**On the study's data with its own folds:** {not_run(s.name)}." if not s.ran else \
            "**On the study's data with its own folds** no pretrained configuration could be compared."
    return (f"**On the study's data, with the study's {len(s.run['folds'])} folds, pretraining "
            f"{headline(r, s.metric)}.** Fine-tuned, {vs_reference(s, r)} for the same encoder without pretraining "
            f"({stats(r)}). How the study's own table fares under the same test is worked through in "
            "[statistics](statistics.md#the-studys-own-table-worked-through).")


def answer_more_folds(s: Suite, three: Suite) -> str:
    rows, r = compared(s.rows), recipe_row(s)
    if not s.ran or r is None:
        return f"**With more folds and seeds:** {not_run(s.name) if not s.ran else 'nothing could be compared'}."
    found = [x for x in rows if not contains_zero(x)]
    summary = ("no pretrained configuration differs detectably from its supervised arm" if not found else
               f"{len(found)} of {len(rows)} pretrained configurations differ detectably from their supervised arm "
               f"({'; '.join(f'{name(x)} {headline(x, s.metric)}' for x in found)})")
    big, bound = spread(rows)
    text = (f"**With {shape(s)}, {summary}.** Fine-tuned, {vs_reference(s, r)} ({stats(r)}); it won {r['wins']} "
            f"of {r['n_pairs']} (seed, fold) pairs. No pretrained configuration differs from its supervised arm by "
            f"more than {big:.3f} {s.metric}, and every interval lies within ±{bound:.3f}")
    text += "." if found else f": if pretraining has an effect at this budget, it is smaller than {bound:.3f}."
    ratios = width_ratios(three, s)
    if ratios:
        text += (f" The corrected intervals are {min(ratios):.1f} to {max(ratios):.1f} times narrower than on the "
                 f"{len(three.run['folds'])}-fold run.")
    return text


def width_ratios(a: Suite, b: Suite) -> list[float]:
    """Interval width on `a` over that on `b`, for each pretrained configuration compared on both."""
    wa = {r["key"]: r["ci_high"] - r["ci_low"] for r in compared(a.rows)}
    return [wa[r["key"]] / (r["ci_high"] - r["ci_low"]) for r in compared(b.rows)
            if r["key"] in wa and r["ci_high"] > r["ci_low"]]


def answer_shortcut(s: Suite, three: Suite) -> str:
    tcr = s.find(lambda r: r.get("baseline") == "tcr_only")
    top = best(r for r in s.rows if not r.get("shortcut"))
    if tcr is None or top is None:
        return f"**The course data's shortcut:** {not_run(s.name) if not s.ran else 'no tcr_only row'}."
    holds = tcr["mean"] >= top["mean"] - s.margin  # the board's shortcut rule
    lead = ("**The course data can be scored without looking at binding.**" if holds
            else "**On the course data the peptide-blind shortcut falls short of the models.**")
    text = (f"{lead} A peptide-blind model of the TCR alone (`tcr_only`) scores {s.metric} {f3(tcr['mean'])} on "
            f"{shape(s)}, {compare_words(tcr['mean'], top['mean'])} the best model that reads the pair "
            f"({name(top)}, {f3(top['mean'])})")
    text += (f", beyond the board's shortcut margin ({s.margin:g}): the models of the pair learn something the TCR "
             "alone does not give." if not holds else
             ". In this file no TCR is both a binder and a non-binder, so \"is this a binder TCR?\" is answerable "
             "from the TCR's sequence style alone, and a leaderboard on these data ranks shortcut learning as much as "
             "binding.")
    other = three.find(lambda r: r.get("baseline") == "tcr_only") if three is not s else None
    if other is not None:
        text += (f" On the {len(three.run['folds'])}-fold run `tcr_only` scores {f3(other['mean'])}, rank "
                 f"{other['rank']} of its board.")
    return text


def answer_neural(suites: S) -> str:
    parts, wins, n = [], 0, 0
    for s in suites.values():
        neural, simple = best_pair(s)
        if neural is None or simple is None:
            continue
        n += 1
        wins += round(neural["mean"], 3) >= round(simple["mean"], 3)
        parts.append(f"`{s.name}`: {name(neural)} {f3(neural['mean'])}, "
                     f"{compare_words(neural['mean'], simple['mean'])} {simple['label']} ({f3(simple['mean'])})")
    tops = [(s.name, top) for s in suites.values() if (top := best(s.rows)) is not None]
    if not n:
        return "**The neural arms against the simple models:** no suite has both."
    return (f"**The best neural arm matches or beats the best simple model of the pair (no shortcut baseline) on "
            f"{wins} of {n} suites.** " + "; ".join(parts) + ". The best model of each board: "
            + "; ".join(f"`{n_}` {name(r)} ({f3(r['mean'])})" for n_, r in tops) + ".")


def answer_immrep(s: Suite) -> str:
    if not s.ran:
        return f"**Against IMMREP22's published leaderboard:** {not_run(s.name)}."
    ranked = (s.board.get("published") or {}).get("ranked") or []  # type: ignore[union-attr]
    top, split = best(s.rows), peptide_split(s) or {}
    neural = best(filter(is_neural, s.rows))
    text = "**Against IMMREP22's published leaderboard**, "
    if top is not None:
        place = next((i for i, x in enumerate(ranked, 1) if x["method"] == top["key"]), None)
        kind = "a peptide-blind shortcut, " if top.get("shortcut") else ""
        text += (f"our best model is {kind}{name(top)}, at {f3(top['mean'])} {s.metric}"
                 + (f" (rank {place} of {len(ranked)} beside the published results)" if place else "") + "; ")
    if neural is not None:
        seen = split.get(neural["key"], (None, 0, None))
        text += (f"the best neural arm, {name(neural)}, reaches {f3(neural['mean'])} over all epitopes and "
                 f"{f3(seen[0])} over the {seen[1]} with training rows")
    published = (s.board.get("published") or {}).get("results") or {}  # type: ignore[union-attr]
    if "NetTCR-2.0 CDR3αβ" in published:
        text += f", against NetTCR-2.0 CDR3αβ's published {published['NetTCR-2.0 CDR3αβ']:.3f}"
    moves = [f"{f3(r['mean'] - ref['mean'], True)} ({name(r)})" for r in s.rows
             if is_pretrained(r) and (ref := s.reference(r)) is not None]
    tested = compared(s.rows)
    if tested:
        text += ". Against its supervised arm, " + "; ".join(f"{name(r)} {headline(r, s.metric)} ({stats(r)})"
                                                           for r in tested)
    elif moves:
        text += f". Pretraining moved the neural arms by {', '.join(moves)} on {shape(s)}, with no interval"
    return text + "."


def closing(suites: S) -> str:
    rows = [(s.name, r) for s in suites.values() for r in compared(s.rows)]
    gains = [(n, r) for n, r in rows if r["ci_low"] > 0]
    pairs = [(s.name, *best_pair(s)) for s in suites.values()]
    simple_ok = [n for n, ne, si in pairs if ne and si and round(si["mean"], 3) >= round(ne["mean"], 3)]
    counted = sum(1 for _, ne, si in pairs if ne and si)
    if not counted:
        return "**For a reader deciding whether to pretrain:** no suite has results yet."
    text = ("**For a reader deciding whether to pretrain:** at the budgets below, "
            + ("no pretraining recipe beat its own supervised arm by a margin a corrected test could detect, on any "
               "suite with an interval" if not gains else
               f"{len(gains)} pretrained configuration(s) beat their supervised arm with an interval above zero: "
               + "; ".join(f"`{n}` {name(r)} {stats(r)}" for n, r in gains))
            + f"; and a simple model of the pair matched or beat every neural arm on {len(simple_ok)} of {counted} "
            "suites"
            + (f" ({', '.join(f'`{n}`' for n in simple_ok)})" if simple_ok else "") + ".")
    return text + (" A claimed gain is only worth acting on when it survives (a) a fresh encoder per fold pretrained "
                   "on that fold's training sequences only, (b) AUROC rather than accuracy, (c) a corrected test over "
                   "enough folds and seeds, and (d) the shortcut baselines on the same folds. The limits of these "
                   "runs are listed [below](#what-these-runs-do-not-show).")


# ---- sections
def what_was_run(suites: S) -> str:
    def epochs(b: dict) -> str:
        fe = f"≤ {b.get('finetune_epochs')} (patience {b['patience']})" if b.get("patience") else \
            str(b.get("finetune_epochs", "?"))
        return f"{b.get('pretrain_epochs', '?')} + {fe}"

    def data(s: Suite) -> str:
        return f"{Path(str(s.config.get('data', '?'))).name}, {rows_used(s)}"

    lines = [(f"[`{s.name}`](results/{s.name}/README.md)", data(s), f"`{s.config.get('split', '?')}`, {shape(s)}",
              f"`{s.config.get('encoder', '?')}`, {framing(s)}",
              ", ".join(f"`{p}`" for p in s.config.get("pairs") or []), epochs(s.config.get("budget") or {}),
              f"{s.wall_min:.1f} min" if s.wall_min is not None else "?")
             if s.ran else (f"`{s.name}`", "not run", "", "", "", "", "") for s in suites.values()]
    walls = [s.wall_min for s in suites.values() if s.wall_min is not None]
    cores = sorted({s.cores for s in suites.values() if s.cores})
    total = sum(walls)
    verdict = (f"inside the {GOAL_MIN}-minute goal" if total <= GOAL_MIN else
               f"{total - GOAL_MIN:.1f} minutes over the {GOAL_MIN}-minute goal")
    return "\n\n".join([
        "## What was run",
        "Each suite is one TOML file, run with `tcrbench run --config benchmarks/suites/<suite>.toml` (add `--data "
        "PATH` for another copy of the file). Every suite pretrains a fresh encoder per (fold, seed) on the training "
        "fold's sequences only, fine-tunes it and linearly probes it with the supervised arm's exact budget, seeds "
        "and data order, and runs every simple baseline on the same folds. Fine-tuning stops early on an inner "
        "validation split of the training fold where the budget gives a patience.",
        table(("suite", "data", "split, folds × seeds", "encoder, framing", "pretraining pairs (aug/objective)",
               "epochs: pretraining + fine-tuning", "wall time"), "lllllll", lines),
        f"Wall times are for {' or '.join(map(str, cores)) or '?'} CPU cores with `--executor processes`, as "
        f"written by `regenerate.py` into each suite's README. The {len(walls)} suites took **{total:.1f} minutes** "
        f"in all, {verdict}." if walls else "No suite README gives a wall time.",
        "In the tables below, each difference is against the supervised arm of the same protocol (the same encoder, "
        "budget and seeds without pretraining), and simple baselines are compared with the fine-tuned one; p is the "
        "corrected resampled t-test and Holm p corrects it across every comparison on that suite's board. W/T/L "
        "counts the (seed, fold) pairs won, tied and lost.",
        "Regenerate everything (a finished run folder is resumed, not recomputed); the last step rewrites this page "
        "from docs/results/:",
        "```bash\npython benchmarks/suites/regenerate.py                   # all suites -> runs/suites/, docs/results/"
        "\npython benchmarks/suites/regenerate.py immrep22 nettcr   # some of them\n"
        "python benchmarks/suites/case_study.py                   # this page alone, from docs/results/\n```"])


def render(results_dir: Path) -> str:
    """The whole page from a results folder holding one folder per suite."""
    suites = load_all(Path(results_dir))
    three, course = suites["course-3fold"], suites["course"]
    answers = [answer_three_folds(three), answer_more_folds(course, three),
               answer_shortcut(course if course.ran else three, three), answer_neural(suites),
               answer_partitions(suites["nettcr"], suites["nettcr-random"]), answer_immrep(suites["immrep22"])]
    head = [
        "# Case study: does single-token masking + NT-Xent pretraining help binding prediction?",
        "<!-- Generated by benchmarks/suites/case_study.py from docs/results/ (regenerate.py runs it): edit the "
        "generator, not this page. -->",
        "The study this project starts from pretrained a transformer with SimCLR's NT-Xent on two views of each "
        "pair, each view masking one random token, and reported that pretraining raised \"accuracy\" from 52% to "
        "65% over 3 folds of the course data (`tcrclassifier_pairs.csv`). This page answers the same question with "
        "tcrbench on three real datasets, for a reader deciding whether pretraining is worth their compute. Every "
        "number below is read from the suites' results in [results/](results/README.md) by "
        "`benchmarks/suites/case_study.py`, and every sentence that states a conclusion is chosen by those numbers.",
        "## The answers",
        "\n".join(f"{i}. {a}" for i, a in enumerate(answers, 1)),
        closing(suites),
    ]
    return "\n\n".join([*head, what_was_run(suites), targets(suites), *sections(suites),
                        published_section(suites["immrep22"], suites["nettcr"]),
                        scarce_section(Path(results_dir))]) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=REPO / "docs" / "results", help="the suites' results")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "case-study.md", help="the page to write")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when the page is stale")
    args = parser.parse_args(argv)
    page = render(args.results)
    if args.check:
        stale = not args.out.is_file() or args.out.read_text() != page
        print(f"{args.out}: {'stale; run python benchmarks/suites/case_study.py' if stale else 'up to date'}")
        return int(stale)
    args.out.write_text(page)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
