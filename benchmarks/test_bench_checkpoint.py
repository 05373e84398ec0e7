"""What resumable pretraining costs: one checkpoint against the 200 pretraining steps between two of them.

Goal (issue 7): with a checkpoint every 200 steps, checkpointing takes under 5% of pretraining time for the
small transformer on CPU. Both parts are timed in the same run: a full pretraining step (augmentation,
encoder, NT-Xent, backward, AdamW) at batch 128, and writing a real checkpoint of that run (encoder, head,
optimiser moments, schedule, generators, data position; SHA-256, fsync, rename). The ratio is the result.
Run: `python -m pytest benchmarks/test_bench_checkpoint.py -s` (the whole module: the last test prints the ratio).
"""

from __future__ import annotations

import pytest
import torch

from tcrbench.data.synthetic import synthesize
from tcrbench.data.tokenizer import Tokenizer
from tcrbench.plugins.protocols import Kind, PretrainBatch
from tcrbench.run.config import Budget
from tcrbench.testing import temporary_plugins
from tcrbench.training.checkpoint import load_checkpoint, save_checkpoint
from tcrbench.training.optim import make_optimizer
from tcrbench.training.pretrain import Checkpointing, pretrain

BATCH = 128  # below the default 256: a shorter step makes the checkpoint's share larger, not smaller
EVERY = 200
RESULTS: dict[str, float] = {}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    torch.set_num_threads(2)
    frame = synthesize(n_peptides=8, n_positives_per_peptide=32)
    tokens = Tokenizer.for_frame(frame).encode(frame)
    data = PretrainBatch(tokens, torch.zeros(len(tokens), dtype=torch.long))
    with temporary_plugins() as plugins:
        encoder_spec = plugins.registry.create(Kind.ENCODER, "transformer:size=small")
        objective = plugins.registry.create(Kind.OBJECTIVE, "ntxent")
        augmentation = plugins.registry.create(Kind.AUGMENTATION, "mask1")
    folder = tmp_path_factory.mktemp("ckpt")
    # two real steps with a checkpoint after the first: the payload has every piece a long run's has
    pretrain(encoder_spec.build(tokens.ids.shape[1]), objective, augmentation, data,
             Budget(pretrain_steps=2, pretrain_batch=BATCH), 0, torch.device("cpu"),
             checkpointing=Checkpointing(folder, every_steps=1))
    payload = load_checkpoint(folder / "step-0000001.ckpt")
    torch.manual_seed(0)
    encoder = encoder_spec.build(tokens.ids.shape[1])
    head = objective.build(encoder)
    opt = make_optimizer(list(encoder.parameters()) + list(head.parameters()), Budget(), 1e-4)
    return encoder, head, augmentation, data.index(slice(0, BATCH)), opt, payload, folder


def test_pretraining_step(benchmark, setup):
    encoder, head, augmentation, batch, opt, _, _ = setup
    gen = torch.Generator().manual_seed(0)

    def step():
        out = head(encoder, batch, augmentation, gen)
        out.loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    benchmark.pedantic(step, rounds=4, warmup_rounds=1)
    RESULTS["step"] = benchmark.stats.stats.median


def test_write_checkpoint(benchmark, setup):
    *_, payload, folder = setup
    benchmark.pedantic(lambda: save_checkpoint(folder / "bench.ckpt", payload), rounds=5, warmup_rounds=1)
    RESULTS["checkpoint"] = benchmark.stats.stats.median
    benchmark.extra_info["bytes"] = (folder / "bench.ckpt").stat().st_size


def test_report_checkpoint_share():
    if {"step", "checkpoint"} - RESULTS.keys():
        pytest.skip("run the whole module to get the ratio")
    share = RESULTS["checkpoint"] / (RESULTS["checkpoint"] + EVERY * RESULTS["step"])
    print(f"\nsmall transformer, batch {BATCH}: step {RESULTS['step'] * 1e3:.0f} ms, checkpoint "
          f"{RESULTS['checkpoint'] * 1e3:.0f} ms; a checkpoint every {EVERY} steps costs {share:.2%} of "
          f"pretraining time (goal < 5%)")
    assert share < 0.05
