"""Every objective with every encoder, and each objective's own promises, on tiny models."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F

from tcrbench.data.tokenizer import Tokenizer
from tcrbench.data.vocab import MASK
from tcrbench.errors import UsageError
from tcrbench.plugins.contracts import random_token_batch, validate_layout
from tcrbench.plugins.loader import load_plugins
from tcrbench.plugins.protocols import Kind, ObjectiveOutput, PretrainBatch
from tcrbench_plugins.augmentations import Crop, Identity, Mask, Mask1, Substitute
from tcrbench_plugins.encoders import CNN, Transformer
from tcrbench_plugins.objectives import (
    BUILTIN_OBJECTIVES,
    CLIP,
    MLM,
    NoPretraining,
    NTXent,
    VICReg,
    peptide_view,
    tcr_view,
    vicreg_loss,
)

ENCODERS = [Transformer(), CNN()]
# each pretraining objective with the augmentation it is usually run with
PAIRS = [(NTXent(), Mask1()), (NTXent(chunk=3), Mask1()), (NTXent(pooling="mean"), Substitute()),
         (MLM(), Identity()), (MLM(), Mask(p=0.3, bert=True)), (CLIP(), Identity()), (CLIP(), Mask1()),
         (VICReg(), Mask1())]


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def pretrain_batch(n: int = 8, seed: int = 0, labels: bool = True) -> PretrainBatch:
    tokens = random_token_batch(n, gen(seed), with_alpha=0.5)
    groups = torch.arange(n) // 3  # several rows per peptide group
    return PretrainBatch(tokens, groups, torch.ones(n, dtype=torch.long) if labels else None)


def build(factory: Any, objective: Any, seed: int = 0) -> tuple[torch.nn.Module, torch.nn.Module]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        encoder = factory.build(64)
        return encoder, objective.build(encoder)


def step(encoder: torch.nn.Module, module: torch.nn.Module, objective: Any, aug: Any, seed: int = 0) -> ObjectiveOutput:
    batch = pretrain_batch(labels=objective.uses_labels)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        out = module(encoder, batch, aug, gen(seed))
        if not out.backward_done:
            out.loss.backward()
    return out


def test_every_builtin_objective_is_exercised() -> None:
    assert {type(o) for o, _ in PAIRS} | {NoPretraining} == set(BUILTIN_OBJECTIVES)


@pytest.mark.parametrize("factory", ENCODERS, ids=lambda f: f.name)
@pytest.mark.parametrize("objective, aug", PAIRS, ids=lambda v: repr(v))
def test_finite_loss_and_gradient_on_every_parameter(factory: Any, objective: Any, aug: Any) -> None:
    encoder, module = build(factory, objective)
    out = step(encoder, module, objective, aug)
    assert out.loss.dim() == 0 and torch.isfinite(out.loss)
    assert out.backward_done == (getattr(objective, "chunk", 0) > 0)
    for owner in (encoder, module):
        for name, p in owner.named_parameters():
            assert p.grad is not None, f"no gradient for {name}"
            assert torch.isfinite(p.grad).all(), name
    assert any(p.grad.abs().sum() > 0 for p in encoder.parameters())


# mean pooling for clip: at initialisation every pair's <cls> state is nearly the same, a slow start for 12 steps
@pytest.mark.parametrize("objective, aug", [(NTXent(), Mask1()), (MLM(), Identity()), (CLIP(pooling="mean"), Mask1()),
                                            (VICReg(), Mask1())], ids=lambda v: repr(v))
def test_a_few_steps_on_fixed_views_lower_the_loss(objective: Any, aug: Any) -> None:
    encoder, module = build(Transformer(dropout=0.0), objective)
    params = list(encoder.parameters()) + list(module.parameters())
    opt = torch.optim.Adam(params, lr=3e-3)
    losses = []
    for _ in range(12):
        opt.zero_grad()
        losses.append(step(encoder, module, objective, aug, seed=0).loss.item())  # same views every step
        opt.step()
    assert losses[-1] < 0.9 * losses[0], losses


def grads(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.grad.clone() for p in module.parameters()]


def test_gradient_caching_gives_the_same_loss_and_gradients() -> None:
    results = []
    for chunk in (0, 3):
        objective = NTXent(chunk=chunk)
        encoder, module = build(Transformer(dropout=0.0), objective, seed=4)
        out = step(encoder, module, objective, Mask1(), seed=1)
        results.append((out.loss.item(), grads(encoder), grads(module), out.backward_done))
    (loss0, enc0, head0, done0), (loss1, enc1, head1, done1) = results
    assert not done0 and done1
    assert loss1 == pytest.approx(loss0, rel=1e-5)
    for a, b in zip(enc0 + head0, enc1 + head1):
        assert torch.allclose(a, b, atol=1e-6, rtol=1e-4)


def test_mlm_loss_is_cross_entropy_at_the_changed_positions_only() -> None:
    objective = MLM()
    encoder, module = build(Transformer(dropout=0.0), objective)
    batch = pretrain_batch(labels=False)
    out = module(encoder, batch, Mask(p=0.3), gen(5))
    corrupted, changed = module.corrupt(batch.tokens, Mask(p=0.3), gen(5))
    logits = module.head(encoder(corrupted))
    reference = F.cross_entropy(logits[changed], batch.tokens.ids[changed])
    assert out.loss.item() == pytest.approx(reference.item(), rel=1e-5)
    assert out.logs["targets"] == int(changed.sum())


def test_mlm_with_identity_masks_like_bert_with_a_target_in_every_pair() -> None:
    module = MLM(p=0.15).build(Transformer().build(64))
    tokens = random_token_batch(400, gen(0))
    corrupted, changed = module.corrupt(tokens, Identity(), gen(1))
    assert (changed.sum(dim=1) >= 1).all()
    assert not (changed & ~tokens.amino_acid_mask).any()
    rate = changed.sum() / tokens.amino_acid_mask.sum()
    assert 0.15 < float(rate) < 0.22  # 15% plus the guaranteed one per pair
    masked = (corrupted.ids == MASK)[changed].float().mean()
    assert abs(float(masked) - 0.8) < 0.03


def test_mlm_with_mask1_has_one_target_per_pair() -> None:
    encoder, module = build(Transformer(), MLM())
    out = module(encoder, pretrain_batch(n=6, labels=False), Mask1(), gen(0))
    assert out.logs["targets"] == 6


def test_mlm_refuses_augmentations_that_move_tokens() -> None:
    encoder, module = build(Transformer(), MLM())
    with pytest.raises(UsageError, match="keeps positions"):
        module(encoder, pretrain_batch(labels=False), Crop(), gen(0))


def test_clip_views_match_the_tokenizer_layouts() -> None:
    tokenizer = Tokenizer()
    peptides, cdr3b, cdr3a = ["GILGFVFTL", "NLVPMVATV"], ["CASSIRSSYEQYF", "CASSLG"], ["CAVRD", None]
    pairs = tokenizer.encode_pairs(peptides, cdr3b, cdr3a)
    width = pairs.ids.shape[1]
    for view, expected in ((peptide_view(pairs), tokenizer.encode_single(peptides, width=width)),
                           (tcr_view(pairs), tokenizer.encode_tcr(cdr3b, cdr3a, width=width))):
        assert torch.equal(view.ids, expected.ids)
        assert torch.equal(view.segments, expected.segments)
        assert torch.equal(view.regions, expected.regions)
    validate_layout(peptide_view(pairs))
    validate_layout(tcr_view(pairs))


def test_clip_needs_labels_and_ignores_negative_pairs() -> None:
    objective = CLIP()
    encoder, module = build(Transformer(dropout=0.0), objective)
    tokens = random_token_batch(10, gen(3), with_alpha=0.5)
    groups = torch.tensor([0, 0, 0, 1, 1, 1, 5, 6, 7, 8])
    labels = torch.tensor([1, 1, 1, 1, 1, 1, 0, 0, 0, 0])
    with pytest.raises(UsageError, match="uses binding labels"):
        module(encoder, PretrainBatch(tokens, groups), Identity(), gen(0))
    mixed = PretrainBatch(tokens, groups, labels)
    only_positives = mixed.index(slice(0, 6))
    a = module(encoder, mixed, Identity(), gen(0))
    b = module(encoder, only_positives, Identity(), gen(0))
    assert a.loss.item() == pytest.approx(b.loss.item(), rel=1e-5)
    assert a.logs["pairs"] == 6 and a.logs["peptides"] == 2


def reference_vicreg(z1: torch.Tensor, z2: torch.Tensor, eps: float = 1e-4) -> tuple[float, float, float]:
    n, d = z1.shape
    inv = sum(float((z1[i, j] - z2[i, j]) ** 2) for i in range(n) for j in range(d)) / (n * d)
    var = cov = 0.0
    for z in (z1, z2):
        mean = [sum(float(z[i, j]) for i in range(n)) / n for j in range(d)]
        for j in range(d):
            v = sum((float(z[i, j]) - mean[j]) ** 2 for i in range(n)) / (n - 1)
            var += max(0.0, 1 - (v + eps) ** 0.5) / d / 2
        for j in range(d):
            for k in range(d):
                if j != k:
                    c = sum((float(z[i, j]) - mean[j]) * (float(z[i, k]) - mean[k]) for i in range(n)) / (n - 1)
                    cov += c * c / d
    return inv, var, cov


def test_vicreg_terms_match_a_plain_reference() -> None:
    z1 = torch.randn(7, 4, generator=gen(0)) * 0.7
    z2 = z1 + 0.3 * torch.randn(7, 4, generator=gen(1))
    loss, terms = vicreg_loss(z1, z2, 25.0, 25.0, 1.0)
    inv, var, cov = reference_vicreg(z1, z2)
    assert terms["invariance"] == pytest.approx(inv, rel=1e-4)
    assert terms["variance"] == pytest.approx(var, rel=1e-4, abs=1e-6)
    assert terms["covariance"] == pytest.approx(cov, rel=1e-4)
    assert loss.item() == pytest.approx(25 * inv + 25 * var + cov, rel=1e-4)


def test_vicreg_penalises_collapse_and_not_identical_spread_views() -> None:
    collapsed = torch.ones(16, 8)
    _, terms = vicreg_loss(collapsed, collapsed)
    assert terms["invariance"] == 0.0 and terms["variance"] == pytest.approx(0.99, abs=1e-3)
    spread = torch.randn(4096, 8, generator=gen(2)) * 2
    _, terms = vicreg_loss(spread, spread)
    assert terms["invariance"] == 0.0 and terms["variance"] == 0.0
    assert terms["covariance"] < 0.2  # independent dimensions: only sampling noise
    with pytest.raises(ValueError, match="N >= 2"):
        vicreg_loss(torch.ones(1, 3), torch.ones(1, 3))


def test_none_does_not_pretrain() -> None:
    objective = NoPretraining()
    assert objective.pretrains is False and objective.uses_labels is False
    with pytest.raises(RuntimeError, match="does not pretrain"):
        objective.build(Transformer().build(64))(None, None, None, None)


def registry() -> Any:
    return load_plugins(builtins=("tcrbench_plugins.augmentations", "tcrbench_plugins.objectives"),
                        entry_points=False, disabled=set()).registry


def test_weighted_sum_from_the_command_line_spec() -> None:
    reg = registry()
    combined = reg.create(Kind.OBJECTIVE, "ntxent+mlm:weight=0.5")
    encoder, module = build(Transformer(), combined)
    out = step(encoder, module, combined, reg.create(Kind.AUGMENTATION, "mask1"))
    assert out.loss.item() == pytest.approx(out.logs["ntxent_loss"] + 0.5 * out.logs["mlm_loss"], rel=1e-5)
    assert all(p.grad is not None for p in list(encoder.parameters()) + list(module.parameters()))
    assert combined.uses_labels is False
    assert reg.create(Kind.OBJECTIVE, "ntxent+clip").uses_labels is True


def test_gradient_caching_cannot_be_summed() -> None:
    reg = registry()
    combined = reg.create(Kind.OBJECTIVE, "ntxent:chunk=2+mlm")
    encoder, module = build(Transformer(), combined)
    with pytest.raises(UsageError, match="cannot be summed"):
        module(encoder, pretrain_batch(labels=False), Mask1(), gen(0))


@pytest.mark.parametrize("spec, message", [
    ("ntxent:temperature=0", "temperature must be positive"),
    ("ntxent:chunk=-1", "chunk"),
    ("mlm:p=2", "p must be between"),
    ("vicreg:var_weight=-1", "var_weight"),
    ("clip:pooling=max", "must be one of"),
])
def test_bad_objective_settings_are_usage_errors(spec: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        registry().create(Kind.OBJECTIVE, spec)
