"""Contract checks a plugin author runs against their own plugin (re-exported as `tcrbench.testing.check_plugin`).

A check builds tiny inputs, calls the plugin the way the runner will, and fails with one message that names the
plugin and the broken promise. Every built-in passes it, so a third-party plugin that passes fits the same slots.
Kinds handled here in depth: augmentation, objective, encoder; the others get protocol attribute checks and
can be deepened with `register_check`.
"""

from __future__ import annotations

import dataclasses
import math
import types
from typing import Any, Callable, Literal, Union, get_args, get_origin

import torch

from tcrbench.plugins.protocols import Augmented, Kind, ObjectiveOutput, PretrainBatch
from tcrbench.data.vocab import (
    AMINO_ACIDS, CLS, FIRST_AA, MASK, PAD, REGION_CDR3A, REGION_CDR3B, REGION_NAMES, REGION_PEPTIDE,
    REGION_SPECIAL, SEP, UNK, VOCAB_SIZE, TokenBatch,
)
from tcrbench.plugins.params import param_specs


class ContractError(AssertionError):
    """A plugin breaks its kind's contract; the message names the plugin and what is wrong."""


# ------------------------------------------------------------------ tiny valid batches
PEPTIDE_LENGTHS, CDR3B_LENGTHS, CDR3A_LENGTHS = (8, 11), (10, 17), (9, 16)
_LETTERS = AMINO_ACIDS


def _random_seqs(n: int, lengths: tuple[int, int], generator: torch.Generator) -> list[str]:
    sizes = torch.randint(lengths[0], lengths[1] + 1, (n,), generator=generator).tolist()
    letters = torch.randint(0, len(_LETTERS), (sum(sizes),), generator=generator).tolist()
    out, start = [], 0
    for size in sizes:
        out.append("".join(_LETTERS[i] for i in letters[start:start + size]))
        start += size
    return out


def random_token_batch(batch_size: int, generator: torch.Generator, with_alpha: bool | float = False,
                       width: int | None = None) -> TokenBatch:
    """Random pairs laid out `<cls> pep <sep> cdr3b <sep> [cdr3a <sep>] <pad>...` by the real tokenizer.

    with_alpha: False (no alpha chains), True (every row), or a probability per row. Lengths are peptide
    8-11, CDR3b 10-17, CDR3a 9-16, so a batch is at most 48 tokens wide unless `width` asks for more.
    """
    from tcrbench.data.tokenizer import Tokenizer

    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    peptides = _random_seqs(batch_size, PEPTIDE_LENGTHS, generator)
    cdr3b = _random_seqs(batch_size, CDR3B_LENGTHS, generator)
    cdr3a: list[str | None] | None = None
    if with_alpha is not False:
        prob = 1.0 if with_alpha is True else float(with_alpha)
        present = (torch.rand(batch_size, generator=generator) < prob).tolist()
        alphas = _random_seqs(batch_size, CDR3A_LENGTHS, generator)
        cdr3a = [a if keep else None for a, keep in zip(alphas, present)]
        if not any(present):
            cdr3a = None
    return Tokenizer(width).encode_pairs(peptides, cdr3b, cdr3a)


_SEGMENT_OF = {REGION_PEPTIDE: 0, REGION_CDR3B: 1, REGION_CDR3A: 1}


def validate_layout(batch: TokenBatch) -> None:
    """Raise ValueError naming the first row that is not `<cls> part <sep> [part <sep>]... <pad>...`.

    Parts are non-empty runs of one region, in canonical order (peptide, CDR3b, CDR3a; any may be absent after
    a chain is dropped); segments are 0 for <cls>, padding and the peptide with its <sep>, 1 for the chains.
    A reference check for tests, so it loops over rows.
    """
    ids, seg, reg = batch.ids.tolist(), batch.segments.tolist(), batch.regions.tolist()
    aa_ids = set(range(FIRST_AA, VOCAB_SIZE)) | {MASK, UNK}
    for row, (i_row, s_row, r_row) in enumerate(zip(ids, seg, reg)):
        def bad(what: str, _row: int = row) -> ValueError:
            return ValueError(f"row {_row}: {what} (ids {i_row})")

        if not i_row or i_row[0] != CLS or r_row[0] != REGION_SPECIAL or s_row[0] != 0:
            raise bad("does not start with <cls> (region special, segment 0)")
        pos, last_region, n = 1, 0, len(i_row)
        while pos < n and i_row[pos] != PAD:
            region = r_row[pos]
            if region not in _SEGMENT_OF or region <= last_region:
                raise bad(f"position {pos}: region {region} out of order after region {last_region}")
            start = pos
            while pos < n and r_row[pos] == region:
                if i_row[pos] not in aa_ids:
                    raise bad(f"position {pos}: token {i_row[pos]} in region {region} is not an amino acid")
                if s_row[pos] != _SEGMENT_OF[region]:
                    raise bad(f"position {pos}: segment {s_row[pos]} for region {region}")
                pos += 1
            if pos == start:
                raise bad(f"position {pos}: empty part")
            if pos >= n or i_row[pos] != SEP or r_row[pos] != REGION_SPECIAL or s_row[pos] != _SEGMENT_OF[region]:
                raise bad(f"position {pos}: part of region {region} is not closed by <sep>")
            pos += 1
            last_region = region
        if last_region == 0:
            raise bad("has no sequence at all")
        if any(t != PAD for t in i_row[pos:]) or any(r != REGION_SPECIAL for r in r_row[pos:]) \
                or any(s != 0 for s in s_row[pos:]):
            raise bad(f"position {pos}: padding is followed by tokens, or has a region/segment")


def moves_tokens(augmentation: Any) -> bool:
    """True when an augmentation (or any part of a composed one) re-packs positions, like crop or delete.

    Such augmentations keep the width but shift tokens, so `changed` cannot serve as masked-LM targets.
    """
    if getattr(augmentation, "moves_tokens", False):
        return True
    return any(moves_tokens(p) for p in getattr(augmentation, "parts", ()) or ())


# ------------------------------------------------------------------ the checks
Check = Callable[[Any, str], None]
_CHECKS: dict[Kind, Check] = {}


def register_check(kind: Kind) -> Callable[[Check], Check]:
    """Add (or replace) the behavioural check for one kind: `fn(instance, label)` raising ContractError."""
    def deco(fn: Check) -> Check:
        _CHECKS[kind] = fn
        return fn
    return deco


def _fail(label: str, what: str) -> ContractError:
    return ContractError(f"{label}: {what}")


_SCALARS = (bool, int, float, str)


def _supported_type(tp: Any) -> bool:
    if tp in _SCALARS:
        return True
    origin = get_origin(tp)
    if origin is Literal:
        return all(isinstance(a, _SCALARS) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        return len(args) == len(get_args(tp)) - 1 and all(_supported_type(a) for a in args)
    return False


def _default_fits(value: Any, tp: Any) -> bool:
    origin = get_origin(tp)
    if origin is Literal:
        return value in get_args(tp)
    if origin in (Union, types.UnionType):
        return any(_default_fits(value, a) for a in get_args(tp))
    if tp is type(None):
        return value is None
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, tp)


def _check_static(kind: Kind, cls: type, label: str) -> None:
    name, description = getattr(cls, "name", None), getattr(cls, "description", None)
    if not isinstance(name, str) or not name or any(c in name for c in ":+,= "):
        raise _fail(label, f"`name` must be a non-empty string without ':+,= ', got {name!r}")
    if not isinstance(description, str) or not description.strip():
        raise _fail(label, "needs a one-line `description`")
    for spec in param_specs(cls):
        if spec.default is dataclasses.MISSING:
            raise _fail(label, f"parameter {spec.name!r} has no default; every parameter needs one")
        if not _supported_type(spec.type):
            raise _fail(label, f"parameter {spec.name!r} has type {spec.type!r}; supported: bool, int, float, "
                               "str, Literal[...] of those, Optional[...] of those")
        if not _default_fits(spec.default, spec.type):
            raise _fail(label, f"parameter {spec.name!r}: default {spec.default!r} is not a {spec.type_name}")


def check_plugin(kind: Kind | str, obj_or_cls: Any, **options: Any) -> Any:
    """Check a plugin class (instantiated with its defaults) or instance against its kind's contract.

    Returns the checked instance; raises ContractError naming the plugin and the first broken promise.
    Options: augmentation checks take none; objective checks accept `encoder_factory=` (default: the tiny
    transformer) and `augmentation=`; encoder checks accept `max_len=` (default 64).
    """
    try:
        kind = Kind(kind)
    except ValueError:
        raise ValueError(f"kind must be one of {', '.join(k.value for k in Kind)}, got {kind!r}") from None
    cls = obj_or_cls if isinstance(obj_or_cls, type) else type(obj_or_cls)
    label = f"{kind.value} {getattr(cls, 'name', cls.__name__)!r} ({cls.__module__}.{cls.__qualname__})"
    _check_static(kind, cls, label)
    if isinstance(obj_or_cls, type):
        try:
            instance = obj_or_cls()
        except Exception as exc:
            raise _fail(label, f"cannot be built with its defaults: {type(exc).__name__}: {exc}") from exc
    else:
        instance = obj_or_cls
    check = _CHECKS.get(kind)
    if check is not None:
        if options:
            check(instance, label, **options)  # type: ignore[call-arg]
        else:
            check(instance, label)
    return instance


def _require_methods(instance: Any, label: str, methods: tuple[str, ...], flags: tuple[str, ...] = ()) -> None:
    for m in methods:
        if not callable(getattr(instance, m, None)):
            raise _fail(label, f"has no method {m}()")
    for f in flags:
        if not isinstance(getattr(instance, f, None), bool):
            raise _fail(label, f"must declare `{f}` as a bool (class attribute)")


# ------------------------------------------------------------------ augmentation
def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _clone(batch: TokenBatch) -> TokenBatch:
    return TokenBatch(batch.ids.clone(), batch.segments.clone(), batch.regions.clone())


def _same(a: TokenBatch, b: TokenBatch) -> bool:
    return bool(torch.equal(a.ids, b.ids) and torch.equal(a.segments, b.segments)
                and torch.equal(a.regions, b.regions))


def _run_sequences(batch: TokenBatch, row: int, region: int) -> list[int]:
    return batch.ids[row][batch.regions[row] == region].tolist()


def _is_subsequence(small: list[int], big: list[int]) -> bool:
    it = iter(big)
    return all(tok in it for tok in small)


@register_check(Kind.AUGMENTATION)
def check_augmentation(aug: Any, label: str) -> None:
    """Shape kept, inputs untouched, deterministic per generator seed (and only per it), specials untouched,
    `changed` a bool mask covering every changed id; for re-packing augmentations a valid layout whose parts
    are subsequences of the originals."""
    if not callable(aug):
        raise _fail(label, "is not callable as aug(batch, generator)")
    moving = moves_tokens(aug)
    region = getattr(aug, "region", None)
    for case, (size, alpha, seed) in enumerate([(7, False, 0), (9, True, 1), (12, 0.5, 2), (1, True, 3)]):
        batch = random_token_batch(size, _generator(1000 + case), with_alpha=alpha)
        before = _clone(batch)
        out = aug(batch, _generator(seed))
        if not _same(batch, before):
            raise _fail(label, "modified its input batch in place; return new tensors")
        if not isinstance(out, Augmented):
            raise _fail(label, f"must return tcrbench.plugins.protocols.Augmented, got {type(out).__name__}")
        new, changed = out.batch, out.changed
        for field in ("ids", "segments", "regions"):
            t = getattr(new, field)
            if t.shape != batch.ids.shape or t.dtype != torch.long:
                raise _fail(label, f"output {field} has shape {tuple(t.shape)} {t.dtype}; expected "
                                   f"{tuple(batch.ids.shape)} torch.int64 (augmentations keep the shape)")
        if changed.dtype != torch.bool or changed.shape != batch.ids.shape:
            raise _fail(label, f"`changed` must be a bool tensor of shape {tuple(batch.ids.shape)}, "
                               f"got {changed.dtype} {tuple(changed.shape)}")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(case + 12345)  # a different global seed must not matter
            again = aug(batch, _generator(seed))
        if not (_same(again.batch, new) and torch.equal(again.changed, changed)):
            raise _fail(label, "is not deterministic given the generator (same seed gave a different output, "
                               "or it used torch's global RNG)")
        differs = new.ids != batch.ids
        if (differs & ~changed).any():
            row = int((differs & ~changed).any(dim=1).nonzero()[0])
            raise _fail(label, f"row {row}: ids changed at positions not flagged in `changed`")
        if not moving:
            special = ~batch.amino_acid_mask
            if (differs & special).any():
                row = int((differs & special).any(dim=1).nonzero()[0])
                raise _fail(label, f"row {row}: changed a <cls>, <sep> or <pad> token")
            if (changed & special).any():
                raise _fail(label, "`changed` flags a special or padding position")
            if not (torch.equal(new.segments, batch.segments) and torch.equal(new.regions, batch.regions)):
                raise _fail(label, "changed segments or regions without declaring `moves_tokens = True`")
            if region in REGION_NAMES and (changed & ~batch.region_mask(region)).any():
                raise _fail(label, f"changed positions outside region {region!r}")
            bad = changed & ((new.ids < FIRST_AA) & (new.ids != MASK) & (new.ids != UNK) | (new.ids >= VOCAB_SIZE))
            if bad.any():
                raise _fail(label, "wrote a token that is neither an amino acid, <mask> nor <unk>")
        else:
            try:
                validate_layout(new)
            except ValueError as exc:
                raise _fail(label, f"re-packed batch has a broken layout: {exc}") from None
            allowed_regions = REGION_NAMES.get(region, (REGION_PEPTIDE, REGION_CDR3B, REGION_CDR3A))
            for row in range(size):
                for r in (REGION_PEPTIDE, REGION_CDR3B, REGION_CDR3A):
                    old_seq, new_seq = _run_sequences(batch, row, r), _run_sequences(new, row, r)
                    if not _is_subsequence(new_seq, old_seq):
                        raise _fail(label, f"row {row}: region {r} is not a subsequence of the original")
                    if r not in allowed_regions and new_seq != old_seq:
                        raise _fail(label, f"row {row}: touched region {r} outside region {region!r}")


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


@register_check(Kind.OBJECTIVE)
def check_objective(obj: Any, label: str, encoder_factory: Any = None, augmentation: Any = None) -> None:
    """A finite scalar loss, gradients on every trainable parameter of encoder and objective head, and the
    same loss again from the same seeds."""
    _require_methods(obj, label, ("build",), ("uses_labels", "pretrains"))
    if not obj.pretrains:
        return
    factory = encoder_factory if encoder_factory is not None else _TinyTransformer()
    aug = augmentation if augmentation is not None else _MaskOne()
    try:
        encoder, module, out = _objective_step(obj, factory, aug, 0)
    except ContractError:
        raise
    except Exception as exc:
        raise _fail(label, f"failed on a tiny batch: {type(exc).__name__}: {exc}") from exc
    if not isinstance(out, ObjectiveOutput):
        raise _fail(label, f"forward must return tcrbench.plugins.protocols.ObjectiveOutput, got {type(out).__name__}")
    loss = out.loss
    if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
        raise _fail(label, "loss must be a scalar tensor")
    if not torch.isfinite(loss):
        raise _fail(label, f"loss is not finite ({loss.item()})")
    if not isinstance(out.logs, dict) or not all(isinstance(k, str) and isinstance(v, (int, float))
                                                 for k, v in out.logs.items()):
        raise _fail(label, "logs must be a dict of str -> float")
    for owner, mod in (("encoder", encoder), ("objective", module)):
        for pname, p in mod.named_parameters():
            if not p.requires_grad:
                continue
            if p.grad is None:
                raise _fail(label, f"no gradient reached {owner} parameter {pname!r}")
            if not torch.isfinite(p.grad).all():
                raise _fail(label, f"non-finite gradient in {owner} parameter {pname!r}")
    _, _, again = _objective_step(obj, factory, aug, 0)
    first, second = loss.item(), again.loss.item()
    if not math.isclose(first, second, rel_tol=1e-5, abs_tol=1e-6):
        raise _fail(label, f"not reproducible: same seeds gave loss {first} then {second}")


# ------------------------------------------------------------------ encoder
@register_check(Kind.ENCODER)
def check_encoder(factory: Any, label: str, max_len: int = 64) -> None:
    """build(max_len) is deterministic under torch's seed; forward gives B x L x hidden_size, pool B x hidden;
    padding is ignored (extra pad columns change nothing); gradients flow."""
    _require_methods(factory, label, ("build",))
    states = []
    for _ in range(2):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(7)
            model = factory.build(max_len)
        states.append(model.state_dict())
    if states[0].keys() != states[1].keys() or any(not torch.equal(states[0][k], states[1][k]) for k in states[0]):
        raise _fail(label, "build() under the same torch seed gave different weights")
    hidden_size = getattr(model, "hidden_size", None)
    if not isinstance(hidden_size, int) or hidden_size < 1:
        raise _fail(label, f"the built module needs an int `hidden_size`, got {hidden_size!r}")
    if not callable(getattr(model, "pool", None)):
        raise _fail(label, "the built module has no pool(hidden, batch)")
    batch = random_token_batch(6, _generator(5), with_alpha=0.5)
    b, length = batch.ids.shape
    model.eval()
    with torch.no_grad():
        hidden = model(batch)
        if tuple(hidden.shape) != (b, length, hidden_size):
            raise _fail(label, f"forward gave shape {tuple(hidden.shape)}, expected {(b, length, hidden_size)}")
        if not torch.isfinite(hidden).all():
            raise _fail(label, "forward gave non-finite values")
        pooled = model.pool(hidden, batch)
        if tuple(pooled.shape) != (b, hidden_size):
            raise _fail(label, f"pool gave shape {tuple(pooled.shape)}, expected {(b, hidden_size)}")
        extra = min(4, max_len - length)
        if extra > 0:
            pad = torch.zeros(b, extra, dtype=torch.long)
            wide = TokenBatch(torch.cat([batch.ids, pad + PAD], 1), torch.cat([batch.segments, pad], 1),
                              torch.cat([batch.regions, pad + REGION_SPECIAL], 1))
            hidden_wide = model(wide)
            real = batch.attention_mask
            if not torch.allclose(hidden_wide[:, :length][real], hidden[real], atol=1e-5, rtol=1e-4):
                raise _fail(label, "extra padding columns changed the states of real tokens (mask the padding)")
            if not torch.allclose(model.pool(hidden_wide, wide), pooled, atol=1e-5, rtol=1e-4):
                raise _fail(label, "extra padding columns changed the pooled vector")
    model.train()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model.pool(model(batch), batch).square().mean().backward()
    if not any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters()):
        raise _fail(label, "no gradient reached any parameter")


# ------------------------------------------------------------------ the other kinds: protocol attributes
@register_check(Kind.DATASET)
def check_dataset(obj: Any, label: str) -> None:
    _require_methods(obj, label, ("load",))


@register_check(Kind.SPLITTER)
def check_splitter(obj: Any, label: str) -> None:
    _require_methods(obj, label, ("split",), ("redraws_with_seed",))


@register_check(Kind.METRIC)
def check_metric(obj: Any, label: str) -> None:
    _require_methods(obj, label, ("__call__",), ("needs_threshold",))


@register_check(Kind.BASELINE)
def check_baseline(obj: Any, label: str) -> None:
    _require_methods(obj, label, ("fit_predict",), ("shortcut",))


@register_check(Kind.REPORTER)
def check_reporter(obj: Any, label: str) -> None:
    _require_methods(obj, label, ("write",))
