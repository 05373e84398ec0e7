"""Speed of the vectorised tcrdist, as a ratio against a plain per-pair loop measured in the same run, and the
whole `tcrdist_knn` fit on IMMREP22 (train -> test) with its macro AUROC.

    pytest benchmarks/test_bench_tcrdist.py --benchmark-only -s

The plain reference is what one writes from the rules: one Python loop over pairs, one over gap positions, one
over residues (the arithmetic pwseqdist compiles with numba). Both sides compute the same CDR3 block, checked
equal; the ratio uses each side's fastest round. The IMMREP22 fit reads ../shared/data/immrep22_compact.csv and skips where it is missing.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import polars as pl
import pytest

from tcrbench.data.blosum import BLOSUM62
from tcrbench.neighbours.tcrdist import CDR3_LOOP, Loop, loop_distances

AA = "ACDEFGHIKLMNPQRSTVWY"
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "immrep22_compact.csv"
N_PLAIN = 300  # the plain loop's block: 90,000 pairs
N_BLOCK = 2000  # the vectorised block alone: 4,000,000 pairs
_best: dict[str, float] = {}


def cdr3s(n: int, seed: int = 0) -> list[str]:
    """Distinct CDR3β-like sequences: the real ones where the shared data are present, generated otherwise."""
    if DATA.exists():
        seqs = sorted(set(pl.read_csv(DATA, columns=["CDR3b"])["CDR3b"].to_list()))
        random.Random(seed).shuffle(seqs)
        return seqs[:n]
    rng = random.Random(seed)
    return ["CASS" + "".join(rng.choice(AA) for _ in range(rng.randint(3, 11))) + "EQYF" for _ in range(n)]


def plain(a: str, b: str, loop: Loop = CDR3_LOOP) -> int:
    def mm(x: str, y: str) -> int:
        return 0 if x == y else min(4, 4 - BLOSUM62[x][y])

    if len(a) == len(b):
        return loop.weight * sum(mm(a[i], b[i]) for i in range(loop.ntrim, len(a) - loop.ctrim))
    short = min(len(a), len(b))
    lo, hi = 5, short - 5
    while lo > hi:
        lo, hi = lo - 1, hi + 1
    best = min(
        sum(mm(a[i], b[i]) for i in range(loop.ntrim, g))
        + sum(mm(a[-1 - c], b[-1 - c]) for c in range(loop.ctrim, short - g))
        for g in range(lo, hi + 1)
    )
    return loop.weight * (best + loop.gap_penalty * abs(len(a) - len(b)))


def plain_block(q: list[str], r: list[str]) -> np.ndarray:
    return np.array([[plain(a, b) for b in r] for a in q], dtype=np.float32)


def _time(benchmark, key: str, fn, rounds: int) -> object:
    result = benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=1 if rounds > 1 else 0)
    _best[key] = benchmark.stats.stats.min
    return result


@pytest.mark.benchmark(group="tcrdist-block")
def test_plain_loop(benchmark) -> None:
    seqs = cdr3s(N_PLAIN)
    _time(benchmark, "plain", lambda: plain_block(seqs, seqs), rounds=2)


@pytest.mark.benchmark(group="tcrdist-block")
def test_vectorised_same_block(benchmark) -> None:
    seqs = cdr3s(N_PLAIN)
    got = _time(benchmark, "vectorised", lambda: loop_distances(seqs, seqs, CDR3_LOOP), rounds=10)
    np.testing.assert_array_equal(got, plain_block(seqs, seqs))
    if "plain" in _best:
        ratio = _best["plain"] / _best["vectorised"]
        benchmark.extra_info["speedup_vs_plain"] = round(ratio, 1)
        print(
            f"\n{N_PLAIN}x{N_PLAIN} CDR3 block: plain loop {_best['plain']:.2f} s, vectorised "
            f"{_best['vectorised'] * 1e3:.1f} ms: {ratio:.0f}x faster"
        )


@pytest.mark.benchmark(group="tcrdist-large")
def test_vectorised_large_block(benchmark) -> None:
    seqs = cdr3s(N_BLOCK, seed=1)
    _time(benchmark, "large", lambda: loop_distances(seqs, seqs, CDR3_LOOP), rounds=3)
    pairs = len(seqs) ** 2 / _best["large"]
    benchmark.extra_info["pairs_per_second"] = round(pairs)
    print(f"\n{len(seqs)}x{len(seqs)} CDR3 block: {_best['large']:.2f} s, {pairs / 1e6:.1f} M pairs/s")


@pytest.mark.benchmark(group="tcrdist-immrep22")
@pytest.mark.skipif(not DATA.exists(), reason=f"{DATA} not found (the shared real data)")
def test_tcrdist_knn_on_immrep22(benchmark) -> None:
    from sklearn.metrics import roc_auc_score

    from tcrbench.data import load_table
    from tcrbench.plugins.protocols import Kind
    from tcrbench.testing import temporary_plugins

    frame = load_table(DATA).frame
    train, test = frame.filter(pl.col("split") == "train"), frame.filter(pl.col("split") == "test")
    with temporary_plugins() as loaded:
        model = loaded.registry.create(Kind.BASELINE, "tcrdist_knn")
    start = time.perf_counter()
    _, scores = benchmark.pedantic(lambda: model.fit_predict(train, test, 0), rounds=1, iterations=1)
    seconds = time.perf_counter() - start
    y, peptides = test["label"].to_numpy(), np.array(test["peptide"].to_list())
    seen = set(train["peptide"].to_list())
    macro = np.mean([roc_auc_score(y[peptides == p], scores[peptides == p]) for p in sorted(seen)])
    benchmark.extra_info.update({"macro_auroc": round(float(macro), 4), "seconds": round(seconds, 1)})
    print(f"\ntcrdist_knn on IMMREP22: macro AUROC {macro:.4f} over {len(seen)} peptides, {seconds:.1f} s")
    assert macro > 0.80
