"""Pretraining throughput, and the share of a step spent outside the encoder's forward and backward passes.

Goal (issue 5): at batch 1024, small transformer, CPU, augmentation + projection + loss + optimiser take at most
15% of a pretraining step. Both timings are taken in the same run; the ratio is the result, not the seconds.
Both use the fastest of 7 rounds, which a busy machine disturbs least.
Run: `python -m pytest benchmarks/test_bench_pretrain.py -s` (not --benchmark-only, which skips the ratio).
"""

from __future__ import annotations

import pytest
import torch

from tcrbench.data.synthetic import synthesize
from tcrbench.data.tokenizer import Tokenizer
from tcrbench.plugins.protocols import Kind, PretrainBatch
from tcrbench.run.config import Budget
from tcrbench.testing import temporary_plugins
from tcrbench.training.optim import make_optimizer

BATCH = 1024
RESULTS: dict[str, float] = {}


@pytest.fixture(scope="module")
def setup():
    torch.set_num_threads(2)
    frame = synthesize(n_peptides=16, n_positives_per_peptide=64)
    tokens = Tokenizer.for_frame(frame).encode(frame)
    groups = torch.zeros(len(tokens), dtype=torch.long)
    batch = PretrainBatch(tokens.index(slice(0, BATCH)), groups[:BATCH])
    with temporary_plugins() as plugins:
        torch.manual_seed(0)
        encoder = plugins.registry.create(Kind.ENCODER, "transformer:size=small").build(tokens.ids.shape[1])
        objective = plugins.registry.create(Kind.OBJECTIVE, "ntxent")
        augmentation = plugins.registry.create(Kind.AUGMENTATION, "mask1")
    head = objective.build(encoder)
    opt = make_optimizer(list(encoder.parameters()) + list(head.parameters()), Budget(), 1e-4)
    return encoder, head, augmentation, batch, opt


def test_full_pretraining_step(benchmark, setup):
    encoder, head, augmentation, batch, opt = setup
    gen = torch.Generator().manual_seed(0)

    def step():
        out = head(encoder, batch, augmentation, gen)
        out.loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    benchmark.pedantic(step, rounds=7, warmup_rounds=1)
    RESULTS["step"] = benchmark.stats.stats.min
    benchmark.extra_info["sequences_per_second"] = BATCH / benchmark.stats.stats.min


def test_encoder_forward_backward_only(benchmark, setup):
    """The irreducible part: the encoder on both views, forward and backward, nothing else."""
    encoder, head, augmentation, batch, opt = setup
    gen = torch.Generator().manual_seed(0)
    v1 = augmentation(batch.tokens, gen).batch
    v2 = augmentation(batch.tokens, gen).batch

    def step():
        loss = encoder.pool(encoder(v1), v1).sum() + encoder.pool(encoder(v2), v2).sum()
        loss.backward()
        opt.zero_grad(set_to_none=True)

    benchmark.pedantic(step, rounds=7, warmup_rounds=1)
    RESULTS["encoder"] = benchmark.stats.stats.min


def test_report_overhead_share():
    if {"step", "encoder"} - RESULTS.keys():
        pytest.skip("run the whole module to get the ratio")
    share = 1 - RESULTS["encoder"] / RESULTS["step"]
    print(f"\npretraining step at batch {BATCH}, small transformer: {BATCH / RESULTS['step']:.0f} sequences/s; "
          f"share outside the encoder's forward+backward: {share:.1%} (goal <= 15%)")
