"""Known-answer controls: can the benchmark see a pretraining gain where there is one, and only there?

    python benchmarks/suites/controls.py                    # 20 seeds x both controls, into docs/results/controls
    python benchmarks/suites/controls.py --seeds 2 --runs /tmp/r --results /tmp/c   # a quick look

For each seed: the synthetic table of that seed (8 peptides x 100 binders, 1:3 swapped negatives, difficulty 0.3),
and two unlabelled corpora of 10,000 CDR3s for it (`tcrbench.data.synthetic_corpus.control_corpus`): the positive
control carries the table's binding motifs, the negative control matched CDR3s without them. Each corpus feeds one
run: mask1 x NT-Xent pretraining on the training fold plus the corpus, a linear probe per peptide on 5% of each
fold's labels, 10 TCR-disjoint folds, against the supervised arm (the same encoder, not pretrained) on exactly the
same labels. The encoder is the chain CNN with 4 filters per kernel width: its random features are weak, so what
the representation learned is what the probe measures. A seed counts as "detected" when the board shows the
pretrained arm better than the supervised one at Holm p < 0.05.

Every run is a normal run folder under --runs (resumed, not recomputed, when the script is run again);
summary.json and README.md go to --results.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

REPO = Path(__file__).resolve().parents[2]
CONTROLS = ("positive", "negative")
TABLE = {"n_peptides": 8, "n_positives_per_peptide": 100, "difficulty": 0.3}
CORPUS_ROWS = 10_000
SETTINGS = {
    "pairs": ["mask1/ntxent"],
    "encoder": "chain_cnn:channels=4",
    "framing": "per_peptide",
    "protocols": ["probe"],
    "label_fractions": [0.05],
    "folds": 10,
    "baselines": [],
    "threads": 1,
    "budget": {"pretrain_steps": 150, "pretrain_batch": 128},
}
ALPHA = 0.05


def dataset(seed: int) -> str:
    return "synthetic:" + ",".join(f"{k}={v}" for k, v in TABLE.items()) + f",seed={seed}"


def run_control(control: str, seed: int, runs: Path) -> dict:
    """One board: the control corpus of this seed in pretraining; what the pretrained arm's comparison says."""
    from tcrbench.data.readers import write_table
    from tcrbench.data.synthetic_corpus import control_corpus
    from tcrbench.report.build import build_board
    from tcrbench.run.config import RunConfig, apply_settings
    from tcrbench.run.runner import run

    runs.mkdir(parents=True, exist_ok=True)
    corpus = runs / f"corpus-{control}-s{seed}.csv"
    if not corpus.exists():
        write_table(control_corpus(control, CORPUS_ROWS, seed=seed, **_corpus_args()), corpus)
    settings = {**SETTINGS, "dataset": dataset(seed), "pretrain_data": [str(corpus)]}
    cfg = apply_settings(RunConfig(), json.loads(json.dumps(settings)), "controls")
    summary = run(cfg, out=runs / f"{control}-s{seed}", quiet=True)
    board = build_board(summary.rows)
    out = {"control": control, "seed": seed, "config_hash": summary.config_hash, "comparisons": []}
    for row in board.rows:
        c = row.comparison
        if row.arm != "pretrained" or c is None:
            continue
        detected = bool(c.diff is not None and c.diff > 0 and c.p_holm is not None and c.p_holm < ALPHA)
        out["comparisons"].append(
            {"configuration": row.key, "mean": row.mean, "diff": c.diff, "ci": [c.ci_low, c.ci_high],
             "p": c.p, "p_holm": c.p_holm, "detected": detected}
        )
    ref = next(r for r in board.rows if r.arm == "supervised")
    out["supervised_mean"] = ref.mean
    return out


def _corpus_args() -> dict:
    return {"n_peptides": TABLE["n_peptides"], "difficulty": TABLE["difficulty"]}


def render(results: list[dict], seconds: float) -> str:
    seeds = sorted({r["seed"] for r in results})
    lines = [
        "# Known-answer controls",
        "",
        "Written by `python benchmarks/suites/controls.py`; what it tests and why: "
        "[label-scarce pretraining](../../label-scarce.md#known-answer-controls).",
        "",
        f"{len(seeds)} seeds, each its own synthetic table and corpora; wall time {seconds / 60:.1f} min. "
        f"Detected: the pretrained arm better than the supervised arm at Holm p < {ALPHA}.",
        "",
        "| control | detected | mean gain (AUROC) | seeds |",
        "|---|---:|---:|---:|",
    ]
    for control in CONTROLS:
        mine = [c for r in results if r["control"] == control for c in r["comparisons"]]
        if not mine:
            continue
        hits = sum(c["detected"] for c in mine)
        gain = sum(c["diff"] for c in mine) / len(mine)
        lines.append(f"| {control} | {hits}/{len(mine)} ({hits / len(mine):.0%}) | {gain:+.3f} | {len(mine)} |")
    lines += ["", "| seed | control | supervised | pretrained | gain [95% CI] | Holm p | detected |",
              "|---:|---|---:|---:|---|---:|---|"]
    for r in sorted(results, key=lambda r: (r["seed"], r["control"])):
        for c in r["comparisons"]:
            lines.append(
                f"| {r['seed']} | {r['control']} | {r['supervised_mean']:.3f} | {c['mean']:.3f} | "
                f"{c['diff']:+.3f} [{c['ci'][0]:+.3f}, {c['ci'][1]:+.3f}] | {c['p_holm']:.3g} | "
                f"{'yes' if c['detected'] else 'no'} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--runs", type=Path, default=REPO / "runs" / "suites" / "controls")
    parser.add_argument("--results", type=Path, default=REPO / "docs" / "results" / "controls")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    results = []
    for seed in range(args.seeds):
        for control in CONTROLS:
            results.append(run_control(control, seed, args.runs))
            c = results[-1]["comparisons"][0]
            print(f"seed {seed} {control}: gain {c['diff']:+.3f}, Holm p {c['p_holm']:.3g}", flush=True)
    seconds = time.perf_counter() - start
    args.results.mkdir(parents=True, exist_ok=True)
    payload = {"settings": SETTINGS, "table": TABLE, "corpus_rows": CORPUS_ROWS, "alpha": ALPHA,
               "seconds": seconds, "results": results}
    (args.results / "summary.json").write_text(json.dumps(payload, indent=1) + "\n")
    (args.results / "README.md").write_text(render(results, seconds))
    print(f"wrote {args.results}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
