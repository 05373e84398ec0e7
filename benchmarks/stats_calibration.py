"""Calibration and power of tcrbench's default test, measured on simulated cross-validation with a known answer.

Usage:  nice python benchmarks/stats_calibration.py [--quick] [--reps N] [--out docs/results/stats_calibration.json]

The simulation runs real cross-validation, so fold scores carry CV's own correlation (overlapping training
sets, one dataset shared by every fold and seed):

* a dataset of ``N`` examples is drawn afresh for every repetition: two blocks of 4 standard-normal features
  x1, x2 and a hidden N(0, 1) variable h; the label is Bernoulli(sigmoid(a·s1 + b·s2 + h)) with
  s_i = sum(x_i)/2;
* learner A is a logistic regression (scikit-learn) on block x1, learner B the same on block x2;
* folds are redrawn for every seed (repeated CV); each fold's score is the test-fold AUROC;
* the default test (corrected resampled t, n_test/n_train of the actual folds, every (seed, fold) a pair)
  compares B with A at alpha = 0.05.

With a = b the two learners are exchangeable, so the true difference is exactly 0 (a null with a known answer).
With b > a, B is truly better; b is set so that the population AUROC gain of the optimal block predictors
(on a 2,000,000-example sample) is the target gain; each design's ``mean_diff`` (± ``mean_diff_se``) is
what the fitted learners gain in CV at that design's training size, and checks it. The planner (tcrbench.stats.plan_design / corrected_power) is then
given each design's mean observed sd of differences and compared with the simulated power.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
from scipy import optimize
from sklearn.linear_model import LogisticRegression

from tcrbench.stats import corrected_power, corrected_ttest, five_by_two_cv

N = 500  # examples per simulated dataset (small, as TCR binding sets per peptide are)
P = 4  # features per block
A_COEF = 1.0  # signal of block x1 (learner A); block x2 has b >= a
H_COEF = 1.0  # hidden signal neither learner sees, keeping AUROC realistic (about 0.7)
ALPHA = 0.05
NULL_DESIGNS = [(5, 1), (5, 3), (10, 1), (3, 5), (2, 5)]  # (folds, seeds); (2, 5) is 5x2cv
POWER_GAINS = [0.018, 0.020, 0.022]
POWER_DESIGNS = [(5, 1), (5, 3)]
NINETY_GAINS = [0.04, 0.07, 0.10, 0.13, 0.16]  # at 5x3, to find the gain giving 90% power
CHECK_DESIGNS = [(10, 1, 0.10), (3, 5, 0.08), (5, 1, 0.12), (10, 3, 0.07)]  # extra (folds, seeds, gain) for the planner check


def auroc(y: np.ndarray, s: np.ndarray) -> float:
    """Mann-Whitney AUROC (continuous scores, so no ties)."""
    ranks = np.empty(s.size)
    ranks[np.argsort(s)] = np.arange(1, s.size + 1)
    n1 = int(y.sum())
    n0 = y.size - n1
    return float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def draw(rng: np.random.Generator, n: int, b: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x1, x2 = rng.normal(size=(n, P)), rng.normal(size=(n, P))
    logit = A_COEF * x1.sum(1) / math.sqrt(P) + b * x2.sum(1) / math.sqrt(P) + H_COEF * rng.normal(size=n)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int8)
    return x1, x2, y


def fit_score(x: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray) -> float:
    model = LogisticRegression().fit(x[train], y[train])
    return auroc(y[test], x[test] @ model.coef_[0])


def population_gain(b: float, n: int = 2_000_000, seed: int = 12345) -> float:
    """AUROC(s2) - AUROC(s1) on one large sample: the gain of the optimal block predictors (fixed seed)."""
    x1, x2, y = draw(np.random.default_rng(seed), n, b)
    return auroc(y, x2.sum(1)) - auroc(y, x1.sum(1))


def coef_for_gain(gain: float) -> float:
    if gain == 0:
        return A_COEF
    return float(optimize.brentq(lambda b: population_gain(b) - gain, A_COEF, A_COEF + 3.0, xtol=1e-5))


def one_cv(rng: np.random.Generator, folds: int, seeds: int, b: float) -> dict[str, float]:
    """One dataset, ``seeds`` repetitions of ``folds``-fold CV with redrawn folds; the default test of B vs A."""
    x1, x2, y = draw(rng, N, b)
    sa, sb = np.empty((seeds, folds)), np.empty((seeds, folds))
    ratios = []
    for s in range(seeds):
        fold_of = rng.permutation(np.arange(N) % folds)
        for f in range(folds):
            test, train = np.flatnonzero(fold_of == f), np.flatnonzero(fold_of != f)
            sa[s, f] = fit_score(x1, y, train, test)
            sb[s, f] = fit_score(x2, y, train, test)
            ratios.append(test.size / train.size)
    r = corrected_ttest(sb, sa, test_train_ratio=float(np.mean(ratios)), seeds_redraw_folds=True)
    out = {"p": r.p, "sd": r.sd_diff, "diff": r.mean_diff}
    if (folds, seeds) == (2, 5):
        five = five_by_two_cv(sb, sa)
        out |= {"p_5x2_t": five.t_p, "p_5x2_f": five.f_p}
    return out


def simulate(folds: int, seeds: int, gain: float, b: float, reps: int, seed: int) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    runs = [one_cv(rng, folds, seeds, b) for _ in range(reps)]
    p = np.array([r["p"] for r in runs])
    rate = float(np.mean(p < ALPHA))
    out: dict[str, object] = {
        "folds": folds,
        "seeds": seeds,
        "design": "5x2cv" if (folds, seeds) == (2, 5) else f"{folds}x{seeds}",
        "n_pairs": folds * seeds,
        "true_gain": gain,
        "reps": reps,
        "rejection_rate": rate,
        "rejection_rate_se": math.sqrt(max(rate * (1 - rate), 1e-12) / reps),
        "mean_diff": float(np.mean([r["diff"] for r in runs])),
        "mean_diff_se": float(np.std([r["diff"] for r in runs], ddof=1) / math.sqrt(reps)),
        "mean_sd_diff": float(np.mean([r["sd"] for r in runs])),
    }
    if (folds, seeds) == (2, 5):
        out["rejection_rate_5x2cv_t"] = float(np.mean([r["p_5x2_t"] < ALPHA for r in runs]))
        out["rejection_rate_5x2cv_f"] = float(np.mean([r["p_5x2_f"] < ALPHA for r in runs]))
    if gain:
        ratio = 1.0 / (folds - 1)
        planned = corrected_power(gain, float(out["mean_sd_diff"]), folds * seeds, ratio, alpha=ALPHA)  # type: ignore[arg-type]
        out["planner_power"] = planned
        out["planner_relative_error"] = (planned - rate) / rate if rate > 0 else math.inf
    return out


def gain_for_power(points: list[dict[str, object]], target: float) -> float | None:
    """Linear interpolation of simulated power against gain at ``target``; None outside the grid."""
    xs = [float(p["true_gain"]) for p in points]  # type: ignore[arg-type]
    ys = [float(p["rejection_rate"]) for p in points]  # type: ignore[arg-type]
    for (x0, y0), (x1, y1) in zip(zip(xs, ys), zip(xs[1:], ys[1:])):
        if y0 < target <= y1:
            return x0 + (target - y0) * (x1 - x0) / (y1 - y0)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few repetitions (a smoke run, minutes)")
    parser.add_argument("--reps", type=int, default=None, help="repetitions per design (default 500, quick 40)")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args()
    reps = args.reps or (40 if args.quick else 500)
    warnings.filterwarnings("ignore")
    start = time.time()
    coef = {g: coef_for_gain(g) for g in sorted({0.0, *POWER_GAINS, *NINETY_GAINS, *(c[2] for c in CHECK_DESIGNS)})}
    log = lambda msg: print(f"[{time.time() - start:6.0f}s] {msg}", file=sys.stderr, flush=True)
    log(f"coefficients for the gains: {coef}")

    seed = 1000
    null = []
    for k, r in NULL_DESIGNS:
        null.append(simulate(k, r, 0.0, coef[0.0], reps, seed := seed + 1))
        log(f"null {null[-1]['design']}: rejection rate {null[-1]['rejection_rate']:.3f}")
    power = []
    for k, r in POWER_DESIGNS:
        for g in POWER_GAINS:
            power.append(simulate(k, r, g, coef[g], reps, seed := seed + 1))
            log(f"gain {g} at {k}x{r}: power {power[-1]['rejection_rate']:.3f} (planner {power[-1]['planner_power']:.3f})")
    ninety = []
    for g in NINETY_GAINS:
        ninety.append(simulate(5, 3, g, coef[g], reps, seed := seed + 1))
        log(f"gain {g} at 5x3: power {ninety[-1]['rejection_rate']:.3f} (planner {ninety[-1]['planner_power']:.3f})")
    extra = []
    for k, r, g in CHECK_DESIGNS:
        extra.append(simulate(k, r, g, coef[g], reps, seed := seed + 1))
        log(f"gain {g} at {k}x{r}: power {extra[-1]['rejection_rate']:.3f} (planner {extra[-1]['planner_power']:.3f})")

    checks = [p for p in power + ninety + extra if 0.2 <= float(p["rejection_rate"]) <= 0.95]  # type: ignore[arg-type]
    within = [abs(float(p["planner_relative_error"])) <= 0.25 for p in checks]  # type: ignore[arg-type]
    sd5 = next(float(p["mean_sd_diff"]) for p in null if p["design"] == "5x1")  # type: ignore[arg-type]
    sd10 = next(float(p["mean_sd_diff"]) for p in null if p["design"] == "10x1")  # type: ignore[arg-type]
    result = {
        "command": "nice python benchmarks/stats_calibration.py" + (" --quick" if args.quick else "")
        + (f" --reps {args.reps}" if args.reps else "") + (f" --out {args.out}" if args.out else ""),
        "test": "corrected resampled t (two-sided), every (seed, fold) a pair, folds redrawn per seed",
        "alpha": ALPHA,
        "simulation": {
            "n_examples": N,
            "features_per_block": P,
            "label_model": "Bernoulli(sigmoid(a*s1 + b*s2 + h)), s_i = sum(x_i)/sqrt(P), h ~ N(0,1) hidden",
            "learners": "A: LogisticRegression on x1; B: LogisticRegression on x2 (scikit-learn defaults)",
            "score": "AUROC of each test fold",
            "a": A_COEF,
            "b_for_gain": {str(g): b for g, b in coef.items()},
            "reps_per_design": reps,
        },
        "null": null,
        "power": power,
        "power_5x3_grid": ninety,
        "gain_for_90pct_power_5x3": gain_for_power(ninety, 0.9),
        "planner_check": {
            "designs_checked": len(checks),
            "within_25pct_relative": int(sum(within)),
            "max_abs_relative_error": max((abs(float(p["planner_relative_error"])) for p in checks), default=None),  # type: ignore[arg-type]
            "extra_designs": extra,
            "note": "planner given each design's mean observed sd of differences; designs with simulated power "
            "between 0.2 and 0.95 are checked",
        },
        "sd_vs_folds": {"sd_5x1": sd5, "sd_10x1": sd10, "ratio": sd10 / sd5, "sqrt_2": math.sqrt(2.0)},
        "seconds": round(time.time() - start, 1),
        "python": platform.python_version(),
    }
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
        log(f"wrote {args.out}")
    else:
        print(text)


if __name__ == "__main__":
    main()
