"""Encoders, pooling and the classification head with its losses."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from tcrbench.data.vocab import TokenBatch
from tcrbench.errors import UsageError
from tcrbench.models.heads import ClassifierHead, MLMHead, classification_loss
from tcrbench.models.pooling import max_pool, mean_pool, pool
from tcrbench.models.transformer import SIZES, TransformerEncoder
from tcrbench.plugins.contracts import check_plugin, random_token_batch
from tcrbench.plugins.protocols import Kind
from tcrbench.plugins.registry import Registry, Source
from tcrbench_plugins.encoders import CNN, Transformer


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def build(factory: object, max_len: int = 64, seed: int = 0) -> torch.nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return factory.build(max_len)  # type: ignore[attr-defined]


@pytest.mark.parametrize("factory", [Transformer(), Transformer(pooling="mean"), CNN(), CNN(pooling="mean")],
                         ids=repr)
def test_tiny_encoders_pass_the_contract(factory: object) -> None:
    check_plugin("encoder", factory)


@pytest.mark.parametrize("factory", [Transformer(dropout=0.0), CNN(dropout=0.0)], ids=repr)
def test_a_row_encodes_the_same_alone_or_in_a_batch(factory: object) -> None:
    model = build(factory).eval()
    batch = random_token_batch(5, gen(1), with_alpha=0.5)
    with torch.no_grad():
        together = model.pool(model(batch), batch)
        for i in range(5):
            alone = batch.index(slice(i, i + 1))
            assert torch.allclose(model.pool(model(alone), alone), together[i:i + 1], atol=1e-5)


def test_study_configuration_matches_the_paper() -> None:
    course = Transformer(size="course").config()
    assert (course.layers, course.hidden, course.heads, course.intermediate, course.max_len, course.segments) == \
        (8, 512, 8, 2048, 64, 2)
    assert Transformer(size="course").pooling == "cls"


def test_course_refuses_data_longer_than_its_64_positions() -> None:
    with pytest.raises(UsageError, match="64 positions"):
        Transformer(size="course").build(65)


def test_tiny_is_really_tiny_and_small_is_bigger() -> None:
    assert (SIZES["tiny"].layers, SIZES["tiny"].hidden) == (2, 32)
    assert (SIZES["small"].layers, SIZES["small"].hidden) == (4, 128)
    tiny = sum(p.numel() for p in build(Transformer()).parameters())
    assert tiny < 50_000


def test_overrides_change_the_architecture() -> None:
    model = build(Transformer(hidden=48, heads=4, layers=3))
    assert model.hidden_size == 48 and len(model.blocks) == 3
    assert build(CNN(hidden=24, widths="3,5")).hidden_size == 24


def registry() -> Registry:
    reg = Registry()
    for cls in (Transformer, CNN):
        reg.add(Kind.ENCODER, cls, Source("test", "built-in", "0"))
    return reg


@pytest.mark.parametrize("spec, message", [
    ("transformer:hidden=30,heads=4", "divisible by heads"),
    ("transformer:size=huge", "must be one of"),
    ("transformer:dropout=1.5", "dropout"),
    ("cnn:widths=3/x", "integers separated by '/'"),
    ("cnn:widths=0", "positive"),
])
def test_bad_settings_fail_at_configuration_time(spec: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        registry().create(Kind.ENCODER, spec)


def test_widths_parse_from_the_command_line_and_from_config_lists() -> None:
    assert registry().create(Kind.ENCODER, "cnn:widths=2/4").config().widths == (2, 4)
    assert CNN(widths="2, 4").config().widths == (2, 4)


def test_forward_rejects_batches_wider_than_the_position_table() -> None:
    model = build(Transformer(), max_len=20)
    batch = random_token_batch(2, gen(0), width=48)
    with pytest.raises(ValueError, match="exceeds"):
        model(batch)


def test_pooling_ignores_padding() -> None:
    hidden = torch.randn(2, 5, 3)
    mask = torch.tensor([[True, True, False, False, False], [True, True, True, True, True]])
    assert torch.allclose(mean_pool(hidden, mask)[0], hidden[0, :2].mean(0))
    assert torch.allclose(max_pool(hidden, mask)[0], hidden[0, :2].max(0).values)
    assert torch.allclose(max_pool(hidden, mask)[1], hidden[1].max(0).values)
    batch = TokenBatch(torch.ones(2, 5, dtype=torch.long), torch.zeros(2, 5, dtype=torch.long),
                       torch.zeros(2, 5, dtype=torch.long))
    assert torch.equal(pool(hidden, batch, "cls"), hidden[:, 0])
    with pytest.raises(ValueError, match="pooling must be one of"):
        pool(hidden, batch, "median")


def test_cnn_pool_is_the_masked_max_of_its_features() -> None:
    model = build(CNN()).eval()
    batch = random_token_batch(4, gen(3), with_alpha=0.5)
    with torch.no_grad():
        hidden = model(batch)
        pooled = model.pool(hidden, batch)
    for i in range(4):
        real = batch.attention_mask[i]
        assert torch.allclose(pooled[i], hidden[i][real].max(0).values)
        assert (hidden[i][~real] == 0).all()


def test_classifier_head_shape() -> None:
    head = ClassifierHead(16, num_labels=2)
    assert head(torch.randn(3, 16)).shape == (3, 2)
    assert MLMHead(16)(torch.randn(4, 16)).shape[0] == 4


def reference_focal(logits: torch.Tensor, labels: torch.Tensor, gamma: float, alpha: float) -> torch.Tensor:
    total = 0.0
    for z, y in zip(logits.tolist(), labels.tolist()):
        p = torch.softmax(torch.tensor(z), 0)[y].item()
        weight = alpha if y == 1 else 1 - alpha
        total += -weight * (1 - p) ** gamma * torch.log(torch.tensor(p)).item()
    return torch.tensor(total / len(labels))


def test_focal_loss_matches_the_formula() -> None:
    logits = torch.randn(32, 2, generator=gen(0)) * 3
    labels = torch.randint(0, 2, (32,), generator=gen(1))
    got = classification_loss(logits, labels, kind="focal", gamma=3.0, alpha=0.25)
    assert torch.allclose(got, reference_focal(logits, labels, 3.0, 0.25), atol=1e-5)


def test_focal_with_gamma_zero_and_no_alpha_is_cross_entropy() -> None:
    logits = torch.randn(16, 2, generator=gen(2))
    labels = torch.randint(0, 2, (16,), generator=gen(3))
    ce = classification_loss(logits, labels, kind="ce")
    assert torch.allclose(ce, F.cross_entropy(logits, labels))
    assert torch.allclose(classification_loss(logits, labels, kind="focal", gamma=0.0, alpha=None), ce, atol=1e-6)


def test_one_logit_and_two_logit_forms_agree() -> None:
    z = torch.randn(20, generator=gen(4))
    labels = torch.randint(0, 2, (20,), generator=gen(5))
    two = torch.stack([torch.zeros(20), z], 1)
    for kind in ("ce", "focal"):
        assert torch.allclose(classification_loss(z, labels, kind=kind), classification_loss(two, labels, kind=kind),
                              atol=1e-6)


def test_focal_down_weights_easy_examples() -> None:
    labels = torch.tensor([1, 1])
    easy, hard = torch.tensor([4.0]), torch.tensor([-1.0])
    ratio_focal = classification_loss(easy, labels[:1], "focal") / classification_loss(hard, labels[:1], "focal")
    ratio_ce = classification_loss(easy, labels[:1], "ce") / classification_loss(hard, labels[:1], "ce")
    assert ratio_focal < ratio_ce / 10


def test_loss_rejects_unknown_kinds_and_multiclass_focal() -> None:
    with pytest.raises(ValueError, match="'ce' or 'focal'"):
        classification_loss(torch.zeros(2, 2), torch.zeros(2), kind="hinge")
    with pytest.raises(ValueError, match="binary"):
        classification_loss(torch.zeros(2, 3), torch.zeros(2), kind="focal")


def test_encoder_weights_depend_on_the_torch_seed_only() -> None:
    a, b, c = build(Transformer(), seed=1), build(Transformer(), seed=1), build(Transformer(), seed=2)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert not torch.equal(a.tokens.weight, c.tokens.weight)
    assert isinstance(a, TransformerEncoder)
