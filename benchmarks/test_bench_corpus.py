"""Memory of pretraining on a large unlabelled corpus: it must stay flat as the corpus grows.

    pytest benchmarks/test_bench_corpus.py --benchmark-only -s

A corpus is kept as one Arrow table of sequence strings (about 25 bytes a row) plus two 8-byte chain hashes a
row for the leak guard; only each batch's rows are tokenised. Measured in fresh subprocesses (peak resident set,
`ru_maxrss`): reading a 1,000,000-row corpus file and pretraining 20 steps on it with the default encoder,
against the same with a 10,000-row file (the reference), and against tokenising the whole 1M-row corpus up front
(what streaming avoids). The goal, stated as a bound: the 1M-row run's peak exceeds the 10k-row run's by less
than 200 MB (the strings and hashes: ~60 MB), where up-front tokenisation alone needs several times that.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

BOUND_MB = 200.0

_CHILD = r"""
import json, os, resource, sys, time
os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
import numpy as np, polars as pl, torch
torch.set_num_threads(1)
from tcrbench.data.corpus import build_corpus
from tcrbench.data.tokenizer import Tokenizer
from tcrbench.plugins.loader import get_plugins
from tcrbench.plugins.protocols import Kind, PretrainBatch
from tcrbench.run.config import Budget
from tcrbench.run.corpus_view import CorpusIndex, FoldWithCorpus
from tcrbench.testing import tiny_dataset
from tcrbench.training.pretrain import pretrain

path, mode, cache = sys.argv[1], sys.argv[2], sys.argv[3]
frame = tiny_dataset(n_peptides=4, n_positives_per_peptide=25)
tokenizer = Tokenizer.for_frame(frame)
width = max(tokenizer.max_len, 32)
tokens = Tokenizer(width).encode(frame)
t0 = time.perf_counter()
corpus, report = build_corpus([path], width, cache)
if mode == "upfront":  # the reference that streaming avoids: every corpus row tokenised at once
    held = Tokenizer(width).encode_pairs(corpus["peptide"], corpus["cdr3b"], corpus["cdr3a"])
    print(json.dumps({"rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "rows": len(held)}))
    sys.exit(0)
index = CorpusIndex(corpus, Tokenizer(width))
kept, removed = index.kept(frame)
data = FoldWithCorpus(PretrainBatch(tokens, torch.zeros(len(frame), dtype=torch.long)), index, kept)
registry = get_plugins().registry
encoder = registry.create(Kind.ENCODER, "chain_cnn").build(width)
stats = pretrain(encoder, registry.create(Kind.OBJECTIVE, "ntxent"), registry.create(Kind.AUGMENTATION, "mask1"),
                 data, Budget(pretrain_steps=20, pretrain_batch=256), 0, torch.device("cpu"))
print(json.dumps({"rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "rows": len(data),
                  "seconds": time.perf_counter() - t0, "loss": stats.final_loss}))
"""


def _corpus(path: Path, n: int) -> Path:
    """n CDR3-like strings (C + 8-16 residues + F), made with numpy in one go."""
    rng = np.random.default_rng(n)
    letters = np.frombuffer(b"ACDEFGHIKLMNPQRSTVWY", dtype=np.uint8)
    lengths = rng.integers(8, 17, size=n)
    body = letters[rng.integers(0, 20, size=int(lengths.sum()))].tobytes().decode()
    ends = np.cumsum(lengths)
    seqs = ["C" + body[e - k : e] + "F" for e, k in zip(ends.tolist(), lengths.tolist())]
    pl.DataFrame({"cdr3b": seqs}).write_csv(path)
    return path


def _peak(path: Path, mode: str, cache: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), mode, str(cache)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.benchmark(group="corpus-memory")
def test_pretraining_memory_stays_flat_as_the_corpus_grows(benchmark, tmp_path):
    small, large = _corpus(tmp_path / "small.csv", 10_000), _corpus(tmp_path / "large.csv", 1_000_000)
    for path in (small, large):  # build each cache once, so the measured runs read it as a run would
        _peak(path, "stream", tmp_path / "cache")
    result: dict[str, dict] = {}

    def measure() -> None:
        result["10k"] = _peak(small, "stream", tmp_path / "cache")
        result["1M"] = _peak(large, "stream", tmp_path / "cache")

    benchmark.pedantic(measure, rounds=1, iterations=1)
    result["upfront"] = _peak(large, "upfront", tmp_path / "cache")
    growth = result["1M"]["rss_mb"] - result["10k"]["rss_mb"]
    benchmark.extra_info.update(
        {k: round(v["rss_mb"], 1) for k, v in result.items()}
        | {"growth_mb": round(growth, 1), "ratio_1M_to_10k": round(result["1M"]["rss_mb"] / result["10k"]["rss_mb"], 3)}
    )
    print(
        f"\npeak RSS: 10k rows {result['10k']['rss_mb']:.0f} MB, 1M rows {result['1M']['rss_mb']:.0f} MB "
        f"(+{growth:.0f} MB, ratio {result['1M']['rss_mb'] / result['10k']['rss_mb']:.2f}); "
        f"tokenising the 1M rows up front: {result['upfront']['rss_mb']:.0f} MB"
    )
    assert growth < BOUND_MB
