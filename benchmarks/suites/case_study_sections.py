"""The case study's sections after "The answers": the competence targets, one section per suite, the limits.

Each section reads a suite's results through case_study_data.py and words its conclusions by the numbers; a
suite without results reads "not run". case_study.py puts them together.
"""

from __future__ import annotations

from case_study_data import (
    NO_TRAINING_ROWS,
    Row,
    Suite,
    best,
    best_supervised,
    board_table,
    compare_words,
    compared,
    contains_zero,
    f3,
    framing,
    is_neural,
    name,
    not_run,
    partition_table,
    peptide_split,
    peptide_table,
    published_table,
    recipe_row,
    rows_used,
    shape,
    short,
    shortcut_table,
    spread,
    table,
)

from tcrbench.report.banners import UNDERTRAINED_CHANCE, UNDERTRAINED_GAP

GOAL_MIN = 60  # the CPU suite set's time goal, in minutes
IMMREP_TARGET = 0.78  # supervised neural arm, macro AUROC over the epitopes with training rows
TARGET_MARGIN = 0.02  # within this of the simple baseline named by each target
UNSEEN = NO_TRAINING_ROWS["immrep22"][0]  # reported apart from the epitopes with training rows
S = dict[str, Suite]


def answer_partitions(g: Suite, rnd: Suite) -> str:
    if not (g.ran and rnd.ran):
        return f"**TCR-disjoint partitions:** {'; '.join(not_run(x.name) for x in (g, rnd) if not x.ran)}."
    rg, rr = g.by_key(), rnd.by_key()
    deltas = {k: rg[k]["mean"] - rr[k]["mean"] for k in rg if k in rr and rg[k].get("baseline") != "majority"}
    if not deltas:
        return f"**TCR-disjoint partitions:** `{g.name}` and `{rnd.name}` share no configuration to compare."
    lower = [k for k, d in deltas.items() if round(d, 3) < 0]
    what = ("every score" if len(lower) == len(deltas) else f"{len(lower)} of {len(deltas)} scores")
    shortcut = ", the shortcut `tcr_only` included," if "tcr_only [baseline]" in lower else ""
    rows = compared(g.rows) + compared(rnd.rows)
    gains = [r for r in rows if r["ci_low"] > 0]
    holm = sum(r.get("p_holm") is not None and r["p_holm"] < 0.05 for r in rows)
    big = spread(rows)[0] if rows else 0.0
    return (f"**TCR-disjoint folds lower {what}{shortcut} and "
            f"{'do not create a pretraining gain' if not gains else f'leave {len(gains)} pretraining gain(s)'}.** "
            f"On NetTCR-2.0, the authors' similarity-reduced partitions change scores by "
            f"{min(deltas.values()):+.3f} to {max(deltas.values()):+.3f} {g.metric} against random folds; pretraining "
            f"differences stay within ±{big:.3f} of zero under both splits, {holm} of {len(rows)} significant after "
            "Holm's correction.")


def targets(suites: S) -> str:
    """The competence targets: is a supervised neural arm good enough for a pretraining comparison to mean much?"""
    def row(s: Suite, target: str, r: Row | None, value: float | None, bar: float | None) -> tuple[str, ...]:
        if not s.ran or r is None or value is None or bar is None:
            return (f"`{s.name}`", target, "not run" if not s.ran else "–", "–", "–")
        gap = round(value, 3) - round(bar, 3)
        met = f"met ({gap:+.3f} from the bar)" if gap >= 0 else f"**not met** ({-gap:.3f} short)"
        return (f"`{s.name}`", target, name(r), f3(value), met)

    def near(s: Suite, baseline: str, how: str) -> tuple[str, ...]:
        ref = s.find(lambda r: r.get("baseline") == baseline)
        r = best_supervised(s)
        bar = ref["mean"] - TARGET_MARGIN if ref else None
        target = f"{s.metric} {how} `{baseline}` ({f3(ref['mean'] if ref else None)}) − {TARGET_MARGIN}"
        return row(s, target, r, r["mean"] if r else None, bar)

    im = suites["immrep22"]
    split = peptide_split(im) or {}
    seen = lambda r: split.get(r["key"], (None,))[0]
    r = best_supervised(im, seen)
    n_seen = max((v[1] for v in split.values()), default=0)
    pub = ((im.board or {}).get("published") or {}).get("results") or {}
    note = f" (NetTCR-2.0 CDR3αβ published {pub['NetTCR-2.0 CDR3αβ']:.3f} on all epitopes)" if "NetTCR-2.0 CDR3αβ" in pub \
        else ""
    lines = [row(im, f"macro AUROC over the {f'{n_seen} ' if n_seen else ''}epitopes with training rows ≥ {IMMREP_TARGET}{note}", r,
                 seen(r) if r else None, IMMREP_TARGET),
             near(suites["nettcr"], "logreg_onehot", "at or above"),
             near(suites["course"], "tcr_only", "at or above"), near(suites["course-3fold"], "tcr_only", "at or above")]
    banners = [f"- `{s.name}`: {m}" for s in suites.values() for m in s.banners("undertrained")]
    return "\n\n".join([
        "## Are the neural arms competent?",
        "A pretraining comparison means something only between neural arms that learn. Each target below asks the "
        "best fine-tuned supervised neural arm of a suite (the supervised arm, or the supervised CNN baseline where "
        "the board has one) to reach a bar set by a published model or a simple baseline on the same folds.",
        table(("suite", "target", "best supervised neural arm", "score", "verdict"), "lllrl", lines),
        ("The boards flag under-trained neural arms:\n\n" + "\n".join(banners)) if banners else
        f"No board carries the under-training banner (a supervised neural arm within {UNDERTRAINED_CHANCE:g} of "
        f"chance, or more than {UNDERTRAINED_GAP:.2f} below the best simple baseline)."])


def sec_three_folds(s: Suite) -> str:
    head = f"## 1. The study's data and protocol: {shape(s) if s.ran else 'its folds'}"
    if not s.ran:
        return f"{head}\n\n{not_run(s.name)}."
    rows, r = compared(s.rows), recipe_row(s)
    ratio = (s.board or {}).get("test", {}).get("test_train_ratio")
    text = (f"`{s.name}`: {shape(s)}, as in the study, but with a fresh encoder per fold pretrained on that fold's "
            f"training sequences only, {s.metric} instead of accuracy, and the corrected resampled t-test "
            f"(n_test/n_train = {f3(ratio)[:4]}, df = {r['df'] if r else '–'}).")
    after = ""
    if rows:
        top = max(rows, key=lambda x: abs(x["diff"]))
        after = (f"{sum(map(contains_zero, rows))} of {len(rows)} pretrained intervals contain zero; the largest "
                 f"pretrained difference is {name(top)}, {f3(top['diff'], True)}. ")
    if any("few_folds" in x.get("flags", []) for x in s.rows):
        after += "With so few folds no rank test could reach p < 0.05 (the `few_folds` flag): read the intervals. "
    after += ("The study's accuracy also sat below what always answering \"non-binder\" scores at this file's class "
              "ratio, and it fine-tuned one model fold after fold, so its later folds had already trained on their "
              "test data.")
    return "\n\n".join([head, text, board_table(s), after])


def sec_more_folds(s: Suite) -> str:
    head = f"## 2. The same question on {shape(s) if s.ran else 'more folds and seeds'}"
    if not s.ran:
        return f"{head}\n\n{not_run(s.name)}."
    rows, r = compared(s.rows), recipe_row(s)
    redraw = (s.board or {}).get("test", {}).get("seeds_redraw_folds")
    text = (f"`{s.name}`: the same configuration on the same data, {shape(s)}"
            + (" (the folds redrawn for each seed, so every (seed, fold) cell is a pair" if redraw else " (")
            + f"; {r['n_pairs'] if r else '–'} pairs per comparison, df = {r['df'] if r else '–'}).")
    after = []
    by_protocol = {p: best(x for x in rows if x["protocol"] == p) for p in ("finetune", "probe")}
    if all(by_protocol.values()):
        a, b = (short(x["label"]) for x in by_protocol.values())  # type: ignore[index]
        noise = a != b and all(map(contains_zero, rows))
        after.append(f"The best pretraining recipe is {a} when fine-tuned and {b} when probed"
                     + (": the recipes rank in different orders under the two protocols, which is what noise "
                        "around zero looks like." if noise else "."))
    freq = s.find(lambda x: x.get("baseline") == "tcr_frequency")
    if freq is not None and abs(freq["mean"] - 0.5) < 0.01:
        after.append(f"`tcr_frequency` scores {f3(freq['mean'])} because TCRs do not recur in these data.")
    return "\n\n".join([head, text, board_table(s), " ".join(after)])


def sec_shortcuts(suites: S) -> str:
    out = ["## 3. What the shortcut baselines say about the data", shortcut_table(suites.values())]
    course, im, net = suites["course"], suites["immrep22"], suites["nettcr"]
    get = lambda s, b: s.find(lambda r: r.get("baseline") == b)
    top = lambda s: best(r for r in s.rows if not r.get("shortcut"))
    bullets = []
    if (tcr := get(course, "tcr_only")) and (t := top(course)):
        bullets.append(f"- **Course data**: no TCR occurs as both positive and negative, and almost every TCR occurs "
                       f"once. A model of the TCR alone therefore learns \"binder-like\" sequence style: `tcr_only` "
                       f"scores {f3(tcr['mean'])}, {compare_words(tcr['mean'], t['mean'])} the best model of the pair "
                       f"({name(t)}, {f3(t['mean'])})" + (", within the board's shortcut margin." if tcr["mean"] >=
                                                          t["mean"] - course.margin else ", beyond the shortcut margin."))
    if freq := get(im, "tcr_frequency"):
        ranked = ((im.board or {}).get("published") or {}).get("ranked") or []
        above = [x["method"] for x in ranked if x["source"] == "published" and x["score"] > freq["mean"]]
        bullets.append("- **IMMREP22**: its negatives are partly swapped TCRs (binders of other epitopes) and partly "
                       "healthy-donor controls; a TCR seen as a binder in training recurs as a swapped negative, so a "
                       "peptide-blind \"database TCR or control?\" score is strong: `tcr_frequency` reaches "
                       f"{f3(freq['mean'])} {im.metric}, below {len(above)} of the published methods.")
    if (tcr := get(net, "tcr_only")) and (t := top(net)):
        bullets.append(f"- **NetTCR-2.0**: `tcr_only` reaches {f3(tcr['mean'])} {net.metric} on the authors' "
                       f"partitions, {compare_words(tcr['mean'], t['mean'])} the best model ({name(t)}, "
                       f"{f3(t['mean'])})" + (": the negatives here are also distinguishable from the positives "
                                             "without the peptide." if tcr["mean"] >= t["mean"] - net.margin else "."))
    if any((p := get(s, "peptide_only")) and p["mean"] < 0.5 for s in suites.values()):
        bullets.append("- **`peptide_only` below 0.5** is not a bug: every peptide has a fixed ratio of negatives to "
                       "positives, so the positives held out in a test fold are missing from its training fold, and "
                       "the peptide's training rate falls exactly where its test rate rises. Stratifying folds by "
                       "label × peptide softens this but cannot remove it when a peptide has only a handful of rows.")
    return "\n\n".join(out + ["\n".join(bullets)] if bullets else out)


def sec_partitions(g: Suite, rnd: Suite) -> str:
    head = "## 4. What TCR-disjoint partitions change"
    if not (g.ran and rnd.ran):
        return f"{head}\n\n{'; '.join(not_run(x.name) for x in (g, rnd) if not x.ran)}."
    intro = ("On the course data, TCR-disjoint folds are nearly the same as random folds, because almost every TCR "
             "occurs once. NetTCR-2.0 is where the question bites: its authors' partitions (" + shape(g).split(" ×")[0]
             + " here) keep similar TCRs "
             f"together, so a test TCR has no near-twin in training. `{g.name}` uses them; `{rnd.name}` is the same "
             "configuration on random folds.")
    rows = compared(g.rows) + compared(rnd.rows)
    least = min((r["p_holm"] for r in rows if r.get("p_holm") is not None), default=None)
    after = answer_partitions(g, rnd).split("** ", 1)[1]
    if least is not None:
        after += f" The smallest Holm p of a pretrained configuration on either board is {f3(least)}."
    deltas = [r["mean"] - rnd.by_key()[k]["mean"] for k, r in g.by_key().items() if k in rnd.by_key()]
    if sum(round(d, 3) < 0 for d in deltas) > len(deltas) / 2:
        after += " Random folds overstate most absolute scores here; report the similarity-reduced numbers."
    return "\n\n".join([head, intro, partition_table(g, rnd), after])


def sec_immrep(s: Suite) -> str:
    head = "## 5. IMMREP22 against its published results"
    if not s.ran:
        return f"{head}\n\n{not_run(s.name)}."
    pub = (s.board or {}).get("published") or {}
    split = peptide_split(s)
    n_all = len(((s.board or {}).get("per_peptide") or {}).get("peptides") or [])
    out = [head, f"`{s.name}`: the official train → test split, {s.metric} as the benchmark defines it (AUROC per "
           f"epitope on its test rows, averaged over the {n_all or 'test'} epitopes; "
           "`tests/suites/test_immrep_metric.py` checks it by hand), with the neural arms in the "
           f"{framing(s)} framing. The reports rank the published results beside ours, not re-run:",
           published_table(s) if pub.get("ranked") else "This board has no published results.",
           f"> {pub['note']}" if pub.get("note") else ""]
    if split is None:
        out.append(f"The board has no per-peptide table, so the macro AUROC over the epitopes with training rows and "
                   f"{UNSEEN} apart are unavailable for this run.")
        return "\n\n".join(x for x in out if x)
    out.append(peptide_table(s, split, UNSEEN))
    neural = [split[r["key"]][2] for r in s.rows if is_neural(r) and split.get(r["key"], (0, 0, None))[2] is not None]
    span = f"{f3(min(neural))} to {f3(max(neural))}" if neural else "–"
    how = (f"In the per-peptide framing a fine-tuned model reads its epitope's own output of a head on the shared "
           f"encoder; {UNSEEN}'s output never receives a gradient, so its scores are those of an untrained head: "
           f"chance-level at best, and here the neural arms score it {span}. The per-peptide probe has no training "
           f"rows to fit for it and gives every one of its rows the same score, which ranks none above another."
           if framing(s) == "per-peptide" else
           f"In the pan-peptide framing {UNSEEN} is an input the model never saw in training, so nothing ties its "
           f"binders to it; the neural arms score it {span}.")
    freq = s.find(lambda r: r.get("baseline") == "tcr_frequency")
    if freq is not None and split.get(freq["key"], (0, 0, None))[2] is not None:
        how += (f" A peptide-blind baseline needs no rows of the epitope: `tcr_frequency` scores "
                f"{f3(split[freq['key']][2])} on it.")
    out.append(f"{UNSEEN} has no training rows in this copy (its training file was not available), so every model "
               f"here meets it only at test time; the published models had its training data. {how}")
    if len(s.run.get("folds") or []) * len(s.run.get("seeds") or []) < 2:
        out.append("With one split and one seed there is no fold-to-fold variation to test, so the differences carry "
                   "no p-value; add seeds to the suite for the spread over initialisations.")
    return "\n\n".join(x for x in out if x)


def sec_limits(suites: S) -> str:
    ran = [s for s in suites.values() if s.ran]
    budgets = [s.config.get("budget") or {} for s in ran]
    pre = sorted({b["pretrain_epochs"] for b in budgets if "pretrain_epochs" in b})
    tune = max((b["finetune_epochs"] for b in budgets if "finetune_epochs" in b), default=None)
    sub = [s for s in ran if s.config.get("subsample")]
    one = [s for s in ran if len(s.run.get("seeds") or []) == 1]
    items = [f"- **Small budgets.** Pretraining runs {'–'.join(map(str, pre[::max(1, len(pre) - 1)])) or '?'} "
             f"epoch(s) on each training fold's sequences and fine-tuning at most {tune} epochs, far less than TCR-BERT or "
             "STAPLER used. The question answered is \"does this recipe help at this budget?\", the question a user "
             "with a laptop faces, but a recipe might help at a scale these runs did not reach; MLM's benefit in "
             "particular is known to appear (and peak) along pretraining, which `--eval-every` measures (see "
             "[dynamics](dynamics.md))."]
    if sub:
        items.append("- **Subsamples.** " + ", ".join(f"`{s.name}` uses {rows_used(s).split(' (')[0]}" for s in sub)
                     + " of its file, stratified by label × peptide, so per-peptide learning is thin. Run with a larger "
                     "`--subsample`, or delete the suite's `subsample` line, where a GPU is available.")
    items.append("- **Shared budgets.** Both arms of every comparison share the budget (and the early-stopping rule "
                 "where there is one), so the comparison is fair; the absolute numbers are not the best these models "
                 "can reach.")
    if one:
        items.append("- **One seed on " + ", ".join(f"`{s.name}`" for s in one) + ".** These suites run one seed to "
                     "stay within the hour; `seeds = [0, 1, 2]` triples the time and gives the spread over "
                     "initialisations.")
    return "## What these runs do not show\n\n" + "\n".join(items)


REPRODUCE = """## Reproduce and extend

- The suite files are ordinary configs: `tcrbench run --config benchmarks/suites/nettcr.toml --seeds 3
  --out runs/nettcr-3seeds` runs the same suite with more seeds; any option on the command line overrides the
  file (`--pair` or `--aug`/`--objective` replace its pairs).
- `tcrbench report runs/suites/<suite>` rewrites a suite's reports from its run folder;
  `tcrbench leaderboard runs/suites/course runs/suites/nettcr runs/suites/immrep22` ranks the configurations
  across datasets (Friedman and Nemenyi).
- CI runs every suite end to end on a small subsample with a few training steps
  (`tests/suites/test_suite_configs.py`), so the configurations cannot rot, and checks that this page equals its
  render from docs/results/ (`tests/suites/test_case_study.py`)."""


def sections(suites: S) -> list[str]:
    return [sec_three_folds(suites["course-3fold"]), sec_more_folds(suites["course"]), sec_shortcuts(suites),
            sec_partitions(suites["nettcr"], suites["nettcr-random"]), sec_immrep(suites["immrep22"]),
            sec_limits(suites), REPRODUCE]
