"""The behavioural check of each kind: call the plugin the way the runner will, on tiny inputs.

Augmentations, objectives and encoders are checked in depth (they are where a subtle bug silently skews a
benchmark); the other kinds get protocol attribute checks. `tcrbench.plugins.contracts.check_plugin` picks the
check by kind, after the static checks of name, description and parameters.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from tcrbench.data.vocab import (
    FIRST_AA,
    MASK,
    PAD,
    REGION_CDR3A,
    REGION_CDR3B,
    REGION_NAMES,
    REGION_PEPTIDE,
    REGION_SPECIAL,
    UNK,
    VOCAB_SIZE,
    TokenBatch,
)
from tcrbench.plugins.batches import random_token_batch, validate_layout
from tcrbench.plugins.protocols import Augmented, Kind, ObjectiveOutput, PretrainBatch, moves_tokens


class ContractError(AssertionError):
    """A plugin breaks its kind's contract; the message names the plugin and what is wrong."""


Check = Callable[..., None]  # fn(instance, label, **options), raising ContractError


def fail(label: str, what: str) -> ContractError:
    """The error for one broken promise, prefixed with the plugin's label."""
    return ContractError(f"{label}: {what}")


def require_methods(instance: Any, label: str, methods: tuple[str, ...], flags: tuple[str, ...] = ()) -> None:
    """The protocol's methods exist and its flags are declared as bools (a missing flag would read as False)."""
    for m in methods:
        if not callable(getattr(instance, m, None)):
            raise fail(label, f"has no method {m}()")
    for f in flags:
        if not isinstance(getattr(instance, f, None), bool):
            raise fail(label, f"must declare `{f}` as a bool (class attribute)")


# ------------------------------------------------------------------ augmentation
def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _clone(batch: TokenBatch) -> TokenBatch:
    return TokenBatch(batch.ids.clone(), batch.segments.clone(), batch.regions.clone())


def _same(a: TokenBatch, b: TokenBatch) -> bool:
    return bool(torch.equal(a.ids, b.ids) and torch.equal(a.segments, b.segments) and torch.equal(a.regions, b.regions))


def _run_sequences(batch: TokenBatch, row: int, region: int) -> list[int]:
    return batch.ids[row][batch.regions[row] == region].tolist()


def _is_subsequence(small: list[int], big: list[int]) -> bool:
    it = iter(big)
    return all(tok in it for tok in small)


def check_augmentation(aug: Any, label: str) -> None:
    """Shape kept, inputs untouched, deterministic per generator seed (and only per it), specials untouched,
    `changed` a bool mask covering every changed id; for re-packing augmentations a valid layout whose parts
    are subsequences of the originals."""
    if not callable(aug):
        raise fail(label, "is not callable as aug(batch, generator)")
    moving = moves_tokens(aug)
    region: Any = getattr(aug, "region", None)
    for case, (size, alpha, seed) in enumerate([(7, False, 0), (9, True, 1), (12, 0.5, 2), (1, True, 3)]):
        batch = random_token_batch(size, _generator(1000 + case), with_alpha=alpha)
        before = _clone(batch)
        out = aug(batch, _generator(seed))
        if not _same(batch, before):
            raise fail(label, "modified its input batch in place; return new tensors")
        if not isinstance(out, Augmented):
            raise fail(label, f"must return tcrbench.Augmented, got {type(out).__name__}")
        new, changed = out.batch, out.changed
        for field in ("ids", "segments", "regions"):
            t = getattr(new, field)
            if t.shape != batch.ids.shape or t.dtype != torch.long:
                raise fail(
                    label,
                    f"output {field} has shape {tuple(t.shape)} {t.dtype}; expected "
                    f"{tuple(batch.ids.shape)} torch.int64 (augmentations keep the shape)",
                )
        if changed.dtype != torch.bool or changed.shape != batch.ids.shape:
            raise fail(
                label,
                f"`changed` must be a bool tensor of shape {tuple(batch.ids.shape)}, "
                f"got {changed.dtype} {tuple(changed.shape)}",
            )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(case + 12345)  # a different global seed must not matter
            again = aug(batch, _generator(seed))
        if not (_same(again.batch, new) and torch.equal(again.changed, changed)):
            raise fail(
                label,
                "is not deterministic given the generator (same seed gave a different output, "
                "or it used torch's global RNG)",
            )
        differs = new.ids != batch.ids
        if (differs & ~changed).any():
            row = int((differs & ~changed).any(dim=1).nonzero()[0])
            raise fail(label, f"row {row}: ids changed at positions not flagged in `changed`")
        if moving:
            _check_repacked(label, batch, new, region)
        else:
            _check_kept_positions(label, batch, new, changed, region)


def _check_kept_positions(label: str, batch: TokenBatch, new: TokenBatch, changed: torch.Tensor, region: Any) -> None:
    """An augmentation that keeps positions touches amino acids of its region only, and writes tokens only."""
    differs = new.ids != batch.ids
    special = ~batch.amino_acid_mask
    if (differs & special).any():
        row = int((differs & special).any(dim=1).nonzero()[0])
        raise fail(label, f"row {row}: changed a <cls>, <sep> or <pad> token")
    if (changed & special).any():
        raise fail(label, "`changed` flags a special or padding position")
    if not (torch.equal(new.segments, batch.segments) and torch.equal(new.regions, batch.regions)):
        raise fail(label, "changed segments or regions without declaring `moves_tokens = True`")
    if region in REGION_NAMES and (changed & ~batch.region_mask(region)).any():
        raise fail(label, f"changed positions outside region {region!r}")
    bad = changed & ((new.ids < FIRST_AA) & (new.ids != MASK) & (new.ids != UNK) | (new.ids >= VOCAB_SIZE))
    if bad.any():
        raise fail(label, "wrote a token that is neither an amino acid, <mask> nor <unk>")


def _check_repacked(label: str, batch: TokenBatch, new: TokenBatch, region: Any) -> None:
    """A re-packing augmentation leaves a valid layout whose parts are subsequences of the originals, and
    leaves the parts outside its region alone."""
    try:
        validate_layout(new)
    except ValueError as exc:
        raise fail(label, f"re-packed batch has a broken layout: {exc}") from None
    allowed_regions = REGION_NAMES.get(region, (REGION_PEPTIDE, REGION_CDR3B, REGION_CDR3A))
    for row in range(len(batch)):
        for r in (REGION_PEPTIDE, REGION_CDR3B, REGION_CDR3A):
            old_seq, new_seq = _run_sequences(batch, row, r), _run_sequences(new, row, r)
            if not _is_subsequence(new_seq, old_seq):
                raise fail(label, f"row {row}: region {r} is not a subsequence of the original")
            if r not in allowed_regions and new_seq != old_seq:
                raise fail(label, f"row {row}: touched region {r} outside region {region!r}")


# ------------------------------------------------------------------ objective
class _MaskOne:
    """The check's default augmentation: one <mask> per row (the study's), independent of the plugins."""

    name = "check-mask1"
    description = "one <mask> per row"

    def __call__(self, batch: TokenBatch, generator: torch.Generator) -> Augmented:
        from tcrbench.kernels.masking import mask_one

        ids, changed = mask_one(batch.ids, batch.amino_acid_mask & (batch.ids != MASK), generator)
        return Augmented(batch.with_ids(ids), changed)


class _TinyTransformer:
    name = "check-transformer"
    description = "tiny transformer"

    def build(self, max_len: int) -> torch.nn.Module:
        from tcrbench.models.transformer import TransformerEncoder, sized

        return TransformerEncoder(sized("tiny"), max_len)


def _pretrain_batch(uses_labels: bool, seed: int) -> PretrainBatch:
    tokens = random_token_batch(8, _generator(seed), with_alpha=0.5)
    groups = torch.tensor([0, 0, 1, 1, 1, 2, 3, 3])
    labels = torch.ones(8, dtype=torch.long) if uses_labels else None
    return PretrainBatch(tokens, groups, labels)


def _objective_step(obj: Any, factory: Any, augmentation: Any, seed: int) -> tuple[Any, Any, ObjectiveOutput]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        encoder = factory.build(64)
        module = obj.build(encoder)
        encoder.train()
        module.train()
        batch = _pretrain_batch(bool(obj.uses_labels), seed)
        out = module(encoder, batch, augmentation, _generator(seed))
        if isinstance(out, ObjectiveOutput) and not out.backward_done:
            out.loss.backward()
    return encoder, module, out


def check_objective(obj: Any, label: str, encoder_factory: Any = None, augmentation: Any = None) -> None:
    """A finite scalar loss, gradients on every trainable parameter of encoder and objective head, and the
    same loss again from the same seeds."""
    require_methods(obj, label, ("build",), ("uses_labels", "pretrains"))
    if not obj.pretrains:
        return
    factory = encoder_factory if encoder_factory is not None else _TinyTransformer()
    aug = augmentation if augmentation is not None else _MaskOne()
    try:
        encoder, module, out = _objective_step(obj, factory, aug, 0)
    except ContractError:
        raise
    except Exception as exc:
        raise fail(label, f"failed on a tiny batch: {type(exc).__name__}: {exc}") from exc
    if not isinstance(out, ObjectiveOutput):
        raise fail(label, f"forward must return tcrbench.ObjectiveOutput, got {type(out).__name__}")
    loss = out.loss
    if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
        raise fail(label, "loss must be a scalar tensor")
    if not torch.isfinite(loss):
        raise fail(label, f"loss is not finite ({loss.item()})")
    if not isinstance(out.logs, dict) or not all(
        isinstance(k, str) and isinstance(v, (int, float)) for k, v in out.logs.items()
    ):
        raise fail(label, "logs must be a dict of str -> float")
    for owner, mod in (("encoder", encoder), ("objective", module)):
        for pname, p in mod.named_parameters():
            if not p.requires_grad:
                continue
            if p.grad is None:
                raise fail(label, f"no gradient reached {owner} parameter {pname!r}")
            if not torch.isfinite(p.grad).all():
                raise fail(label, f"non-finite gradient in {owner} parameter {pname!r}")
    _, _, again = _objective_step(obj, factory, aug, 0)
    first, second = loss.item(), again.loss.item()
    if not math.isclose(first, second, rel_tol=1e-5, abs_tol=1e-6):
        raise fail(label, f"not reproducible: same seeds gave loss {first} then {second}")


# ------------------------------------------------------------------ encoder
def check_encoder(factory: Any, label: str, max_len: int = 64) -> None:
    """build(max_len) is deterministic under torch's seed; forward gives B x L x hidden_size, pool B x hidden;
    padding is ignored (extra pad columns change nothing); gradients flow."""
    require_methods(factory, label, ("build",))
    states = []
    for _ in range(2):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(7)
            model = factory.build(max_len)
        states.append(model.state_dict())
    if states[0].keys() != states[1].keys() or any(not torch.equal(states[0][k], states[1][k]) for k in states[0]):
        raise fail(label, "build() under the same torch seed gave different weights")
    hidden_size = getattr(model, "hidden_size", None)
    if not isinstance(hidden_size, int) or hidden_size < 1:
        raise fail(label, f"the built module needs an int `hidden_size`, got {hidden_size!r}")
    if not callable(getattr(model, "pool", None)):
        raise fail(label, "the built module has no pool(hidden, batch)")
    batch = random_token_batch(6, _generator(5), with_alpha=0.5)
    b, length = batch.ids.shape
    model.eval()
    with torch.no_grad():
        hidden = model(batch)
        if tuple(hidden.shape) != (b, length, hidden_size):
            raise fail(label, f"forward gave shape {tuple(hidden.shape)}, expected {(b, length, hidden_size)}")
        if not torch.isfinite(hidden).all():
            raise fail(label, "forward gave non-finite values")
        pooled = model.pool(hidden, batch)
        if tuple(pooled.shape) != (b, hidden_size):
            raise fail(label, f"pool gave shape {tuple(pooled.shape)}, expected {(b, hidden_size)}")
        extra = min(4, max_len - length)
        if extra > 0:
            pad = torch.zeros(b, extra, dtype=torch.long)
            wide = TokenBatch(
                torch.cat([batch.ids, pad + PAD], 1),
                torch.cat([batch.segments, pad], 1),
                torch.cat([batch.regions, pad + REGION_SPECIAL], 1),
            )
            hidden_wide = model(wide)
            real = batch.attention_mask
            if not torch.allclose(hidden_wide[:, :length][real], hidden[real], atol=1e-5, rtol=1e-4):
                raise fail(label, "extra padding columns changed the states of real tokens (mask the padding)")
            if not torch.allclose(model.pool(hidden_wide, wide), pooled, atol=1e-5, rtol=1e-4):
                raise fail(label, "extra padding columns changed the pooled vector")
    model.train()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model.pool(model(batch), batch).square().mean().backward()
    if not any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters()):
        raise fail(label, "no gradient reached any parameter")


# ------------------------------------------------------------------ the other kinds: protocol attributes
def check_dataset(obj: Any, label: str) -> None:
    """A dataset has load()."""
    require_methods(obj, label, ("load",))


def check_splitter(obj: Any, label: str) -> None:
    """A splitter has split() and says whether a new seed redraws its folds."""
    require_methods(obj, label, ("split",), ("redraws_with_seed",))


def check_metric(obj: Any, label: str) -> None:
    """A metric is callable and says whether it needs a threshold."""
    require_methods(obj, label, ("__call__",), ("needs_threshold",))


def check_baseline(obj: Any, label: str) -> None:
    """A baseline has fit_predict() and says whether it is a shortcut detector."""
    require_methods(obj, label, ("fit_predict",), ("shortcut",))


def check_reporter(obj: Any, label: str) -> None:
    """A reporter has write()."""
    require_methods(obj, label, ("write",))


DEFAULT_CHECKS: dict[Kind, Check] = {
    Kind.AUGMENTATION: check_augmentation,
    Kind.OBJECTIVE: check_objective,
    Kind.ENCODER: check_encoder,
    Kind.DATASET: check_dataset,
    Kind.SPLITTER: check_splitter,
    Kind.METRIC: check_metric,
    Kind.BASELINE: check_baseline,
    Kind.REPORTER: check_reporter,
}
