"""The contract check: every built-in passes it, and each way of breaking a contract is caught and named."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest
import torch
from torch import nn

from tcrbench.data.vocab import CLS, MASK, PAD, SEP, TokenBatch
from tcrbench.models.pooling import pool
from tcrbench.plugins.contracts import ContractError, check_plugin, random_token_batch, validate_layout
from tcrbench.plugins.loader import load_plugins
from tcrbench.plugins.protocols import Augmented, Kind, ObjectiveOutput
from tcrbench.plugins.registry import Entry

MINE = ("tcrbench_plugins.augmentations", "tcrbench_plugins.objectives", "tcrbench_plugins.encoders")


def builtin_entries() -> list[Entry]:
    loaded = load_plugins(builtins=MINE, entry_points=False, strict=True, disabled=set())
    return list(loaded.registry)


@pytest.mark.parametrize("entry", builtin_entries(), ids=lambda e: f"{e.kind.value}-{e.name}")
def test_every_builtin_passes_the_contract(entry: Entry) -> None:
    check_plugin(entry.kind, entry.cls)


def test_the_builtins_are_all_registered() -> None:
    names = {(e.kind.value, e.name) for e in builtin_entries()}
    expected = {("augmentation", n) for n in ("identity", "mask1", "mask", "substitute", "crop", "delete",
                                               "chain_drop")}
    expected |= {("objective", n) for n in ("none", "ntxent", "mlm", "clip", "vicreg")}
    expected |= {("encoder", n) for n in ("transformer", "cnn", "chain_cnn")}
    assert names == expected


# ---------------------------------------------------------------- broken augmentations
@dataclass
class TouchesCls:
    name: ClassVar[str] = "touches_cls"
    description: ClassVar[str] = "masks the <cls> token"

    def __call__(self, batch: TokenBatch, generator: torch.Generator) -> Augmented:
        ids = batch.ids.clone()
        ids[:, 0] = MASK
        return Augmented(batch.with_ids(ids), ids != batch.ids)


@dataclass
class UsesGlobalRng:
    name: ClassVar[str] = "global_rng"
    description: ClassVar[str] = "draws from torch's global generator"

    def __call__(self, batch: TokenBatch, generator: torch.Generator) -> Augmented:
        changed = (torch.rand(batch.ids.shape) < 0.5) & batch.amino_acid_mask
        return Augmented(batch.with_ids(batch.ids.masked_fill(changed, MASK)), changed)


@dataclass
class InPlace:
    name: ClassVar[str] = "in_place"
    description: ClassVar[str] = "writes into its input"

    def __call__(self, batch: TokenBatch, generator: torch.Generator) -> Augmented:
        batch.ids[:, 1] = MASK
        return Augmented(batch, torch.zeros_like(batch.ids, dtype=torch.bool))


@dataclass
class HidesChanges:
    name: ClassVar[str] = "hides"
    description: ClassVar[str] = "changes ids but reports nothing"

    def __call__(self, batch: TokenBatch, generator: torch.Generator) -> Augmented:
        ids = batch.ids.masked_fill(batch.amino_acid_mask, MASK)
        return Augmented(batch.with_ids(ids), torch.zeros_like(ids, dtype=torch.bool))


@dataclass
class IntChanged:
    name: ClassVar[str] = "int_changed"
    description: ClassVar[str] = "changed as integers"

    def __call__(self, batch: TokenBatch, generator: torch.Generator) -> Augmented:
        return Augmented(batch, torch.zeros_like(batch.ids))


@dataclass
class Shrinks:
    name: ClassVar[str] = "shrinks"
    description: ClassVar[str] = "drops the last column"

    def __call__(self, batch: TokenBatch, generator: torch.Generator) -> Augmented:
        out = batch.index((slice(None), slice(0, -1)))
        return Augmented(out, torch.zeros_like(out.ids, dtype=torch.bool))


@dataclass
class BadRepack:
    name: ClassVar[str] = "bad_repack"
    description: ClassVar[str] = "moves tokens but leaves a hole"
    moves_tokens: ClassVar[bool] = True

    def __call__(self, batch: TokenBatch, generator: torch.Generator) -> Augmented:
        ids = batch.ids.clone()
        ids[:, 2] = PAD
        return Augmented(batch.with_ids(ids), ids != batch.ids)


@pytest.mark.parametrize("cls, message", [
    (TouchesCls, "changed a <cls>, <sep> or <pad>"),
    (UsesGlobalRng, "not deterministic"),
    (InPlace, "in place"),
    (HidesChanges, "not flagged"),
    (IntChanged, "bool tensor"),
    (Shrinks, "keep the shape"),
    (BadRepack, "broken layout"),
])
def test_broken_augmentations_are_caught(cls: type, message: str) -> None:
    with pytest.raises(ContractError, match=message) as info:
        check_plugin("augmentation", cls)
    assert repr(cls.name) in str(info.value)


# ---------------------------------------------------------------- static problems
@dataclass
class NoDefault:
    p: float
    name: ClassVar[str] = "no_default"
    description: ClassVar[str] = "a parameter without default"

    def __call__(self, batch: TokenBatch, generator: torch.Generator) -> Augmented:
        return Augmented(batch, torch.zeros_like(batch.ids, dtype=torch.bool))


@dataclass
class ListParam:
    sizes: list = field(default_factory=list)
    name: ClassVar[str] = "list_param"
    description: ClassVar[str] = "an unsupported parameter type"

    def __call__(self, batch: TokenBatch, generator: torch.Generator) -> Augmented:
        return Augmented(batch, torch.zeros_like(batch.ids, dtype=torch.bool))


@dataclass
class WrongDefault:
    p: float = "high"  # type: ignore[assignment]
    name: ClassVar[str] = "wrong_default"
    description: ClassVar[str] = "default of the wrong type"


class Nameless:
    description = "no name"


@pytest.mark.parametrize("cls, message", [
    (NoDefault, "no default"),
    (ListParam, "unsupported|has type"),
    (WrongDefault, "not a float"),
    (Nameless, "`name`"),
])
def test_static_problems_are_caught(cls: type, message: str) -> None:
    with pytest.raises(ContractError, match=message):
        check_plugin("augmentation", cls)


def test_unknown_kind_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="kind must be one of"):
        check_plugin("augmentations", TouchesCls)


# ---------------------------------------------------------------- broken objectives and encoders
class _DeadHead(nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.used = nn.Linear(hidden, 4)
        self.unused = nn.Linear(hidden, 4)

    def forward(self, encoder: Any, batch: Any, augmentation: Any, generator: torch.Generator) -> ObjectiveOutput:
        tokens = augmentation(batch.tokens, generator).batch
        return ObjectiveOutput(self.used(encoder.pool(encoder(tokens), tokens)).square().mean())


@dataclass
class DeadHeadObjective:
    name: ClassVar[str] = "dead_head"
    description: ClassVar[str] = "part of its head never gets a gradient"
    uses_labels: ClassVar[bool] = False
    pretrains: ClassVar[bool] = True

    def build(self, encoder: nn.Module) -> nn.Module:
        return _DeadHead(encoder.hidden_size)


class _NaNModule(_DeadHead):
    def forward(self, *args: Any) -> ObjectiveOutput:
        out = super().forward(*args)
        return ObjectiveOutput(out.loss * float("nan"))


@dataclass
class NaNObjective(DeadHeadObjective):
    name: ClassVar[str] = "nan"

    def build(self, encoder: nn.Module) -> nn.Module:
        return _NaNModule(encoder.hidden_size)


@dataclass
class NoFlags:
    name: ClassVar[str] = "no_flags"
    description: ClassVar[str] = "forgets uses_labels"

    def build(self, encoder: nn.Module) -> nn.Module:
        return nn.Identity()


@pytest.mark.parametrize("cls, message", [
    (DeadHeadObjective, "no gradient reached objective parameter 'unused.weight'"),
    (NaNObjective, "not finite"),
    (NoFlags, "uses_labels"),
])
def test_broken_objectives_are_caught(cls: type, message: str) -> None:
    with pytest.raises(ContractError, match=message):
        check_plugin("objective", cls)


class _PaddingBlind(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.hidden_size = 8
        self.embed = nn.Embedding(30, 8)

    def forward(self, batch: TokenBatch) -> torch.Tensor:
        x = self.embed(batch.ids)
        return x + x.mean(dim=1, keepdim=True)  # mixes padding into every position

    def pool(self, hidden: torch.Tensor, batch: TokenBatch) -> torch.Tensor:
        return pool(hidden, batch, "mean")


@dataclass
class PaddingBlind:
    name: ClassVar[str] = "padding_blind"
    description: ClassVar[str] = "lets padding change real positions"

    def build(self, max_len: int) -> nn.Module:
        return _PaddingBlind()


@dataclass
class Unseeded:
    name: ClassVar[str] = "unseeded"
    description: ClassVar[str] = "weights from its own private seed"
    _counter: ClassVar[list[int]] = [0]

    def build(self, max_len: int) -> nn.Module:
        self._counter[0] += 1
        g = torch.Generator().manual_seed(self._counter[0])
        module = _PaddingBlind()
        with torch.no_grad():
            module.embed.weight.copy_(torch.randn(30, 8, generator=g))
        return module


@pytest.mark.parametrize("cls, message", [(PaddingBlind, "padding"), (Unseeded, "different weights")])
def test_broken_encoders_are_caught(cls: type, message: str) -> None:
    with pytest.raises(ContractError, match=message):
        check_plugin("encoder", cls)


def test_other_kinds_get_protocol_checks() -> None:
    @dataclass
    class Splitter:
        name: ClassVar[str] = "halves"
        description: ClassVar[str] = "two halves"

        def split(self, frame: Any, n_folds: int, seed: int) -> list:
            return []

    with pytest.raises(ContractError, match="redraws_with_seed"):
        check_plugin(Kind.SPLITTER, Splitter)


# ---------------------------------------------------------------- the tiny batch generator and the layout check
def test_random_token_batch_is_valid_and_reproducible() -> None:
    a = random_token_batch(20, torch.Generator().manual_seed(3), with_alpha=0.5)
    b = random_token_batch(20, torch.Generator().manual_seed(3), with_alpha=0.5)
    validate_layout(a)
    assert torch.equal(a.ids, b.ids) and torch.equal(a.segments, b.segments)
    assert (a.ids[:, 0] == CLS).all()
    has_alpha = (a.regions == 3).any(1)
    assert 0 < int(has_alpha.sum()) < 20
    assert random_token_batch(4, torch.Generator().manual_seed(0), width=60).ids.shape == (4, 60)


@pytest.mark.parametrize("breakage, message", [
    (lambda b: b.ids.__setitem__((0, 0), SEP), "does not start with <cls>"),
    (lambda b: b.ids.__setitem__((1, 3), SEP), "not closed by <sep>|empty part|not an amino acid"),
    (lambda b: b.segments.__setitem__((2, 2), 1), "segment"),
    (lambda b: b.ids.__setitem__((3, b.ids.shape[1] - 1), 7), "padding is followed"),
])
def test_validate_layout_names_the_broken_row(breakage: Any, message: str) -> None:
    batch = random_token_batch(4, torch.Generator().manual_seed(1), width=50)
    breakage(batch)
    with pytest.raises(ValueError, match=message):
        validate_layout(batch)
