"""Property tests for every built-in augmentation on random valid batches, plus each one's own promise."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tcrbench.data.blosum import substitution_probs
from tcrbench.data.tokenizer import Tokenizer
from tcrbench.data.vocab import (
    AMINO_ACIDS,
    FIRST_AA,
    MASK,
    PAD,
    REGION_CDR3A,
    REGION_CDR3B,
    REGION_NAMES,
    REGION_PEPTIDE,
    TokenBatch,
)
from tcrbench.kernels.masking import bernoulli_mask
from tcrbench.plugins.contracts import moves_tokens, random_token_batch, validate_layout
from tcrbench.plugins.protocols import Augmented
from tcrbench_plugins.augmentations import (
    BUILTIN_AUGMENTATIONS,
    ChainDrop,
    Crop,
    Delete,
    Identity,
    Mask,
    Mask1,
    Substitute,
)

PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
REGIONS = ("peptide", "tcr", "both")

# every built-in, with the parameter settings that change its behaviour
CONFIGS = [
    Identity(), Mask1(), Mask1(region="peptide"), Mask(), Mask(p=0.5, bert=True, region="tcr"),
    Substitute(), Substitute(p=0.6, region="peptide"), Crop(), Crop(min_fraction=0.3, region="both"),
    Delete(), Delete(p=0.6, region="tcr"), ChainDrop(), ChainDrop(p=1.0, chain="alpha"),
]


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@st.composite
def token_batches(draw: st.DrawFn) -> TokenBatch:
    """Random valid pairs; some with alpha chains, some wider than needed, some with <mask> already in place."""
    size = draw(st.integers(1, 12))
    alpha = draw(st.sampled_from([False, True, 0.5]))
    seed = draw(st.integers(0, 2**31 - 1))
    batch = random_token_batch(size, gen(seed), with_alpha=alpha)
    extra = draw(st.integers(0, 3))
    if extra:
        pad = torch.zeros(size, extra, dtype=torch.long)
        batch = TokenBatch(torch.cat([batch.ids, pad + PAD], 1), torch.cat([batch.segments, pad], 1),
                           torch.cat([batch.regions, pad], 1))
    if draw(st.booleans()):  # an earlier augmentation in a chain may have masked some residues
        pre = bernoulli_mask(batch.amino_acid_mask, 0.2, gen(seed + 1))
        batch = batch.with_ids(batch.ids.masked_fill(pre, MASK))
    return batch


def test_all_builtins_are_covered() -> None:
    assert {type(c) for c in CONFIGS} == set(BUILTIN_AUGMENTATIONS)


@pytest.mark.parametrize("aug", CONFIGS, ids=repr)
@PROPERTY
@given(batch=token_batches(), seed=st.integers(0, 2**31 - 1))
def test_shape_specials_and_determinism(aug: object, batch: TokenBatch, seed: int) -> None:
    out = aug(batch, gen(seed))
    assert isinstance(out, Augmented)
    assert out.batch.ids.shape == batch.ids.shape
    assert out.changed.dtype == torch.bool and out.changed.shape == batch.ids.shape
    again = aug(batch, gen(seed))
    assert torch.equal(again.batch.ids, out.batch.ids)
    assert torch.equal(again.batch.regions, out.batch.regions)
    assert torch.equal(again.changed, out.changed)
    differs = out.batch.ids != batch.ids
    assert not (differs & ~out.changed).any(), "every changed id is flagged"
    if moves_tokens(aug):
        validate_layout(out.batch)
        # the pad tail only grows, and <cls>/<sep> are never created or destroyed beyond a dropped chain's <sep>
        assert ((out.batch.ids != PAD).sum(1) <= (batch.ids != PAD).sum(1)).all()
    else:
        special = ~batch.amino_acid_mask
        assert torch.equal(out.batch.ids[special], batch.ids[special]), "specials and padding untouched"
        assert torch.equal(out.batch.segments, batch.segments)
        assert torch.equal(out.batch.regions, batch.regions)
        region = getattr(aug, "region", "both")
        assert not (out.changed & ~batch.region_mask(region)).any(), "only the chosen region"


@PROPERTY
@given(batch=token_batches(), seed=st.integers(0, 2**31 - 1), region=st.sampled_from(REGIONS))
def test_mask1_changes_exactly_one_amino_acid_per_pair(batch: TokenBatch, seed: int, region: str) -> None:
    out = Mask1(region=region)(batch, gen(seed))
    available = batch.region_mask(region) & (batch.ids != MASK)
    assert torch.equal(out.changed.sum(dim=1), available.any(dim=1).long())
    assert torch.equal(out.changed, out.batch.ids != batch.ids)
    assert (out.batch.ids[out.changed] == MASK).all()


@PROPERTY
@given(batch=token_batches(), seed=st.integers(0, 2**31 - 1))
def test_mask_without_bert_writes_mask_exactly_where_changed(batch: TokenBatch, seed: int) -> None:
    out = Mask(p=0.4)(batch, gen(seed))
    assert torch.equal(out.changed, out.batch.ids != batch.ids)
    assert (out.batch.ids[out.changed] == MASK).all()


def test_mask_extremes_and_validation() -> None:
    batch = random_token_batch(10, gen(0), with_alpha=True)
    assert not Mask(p=0.0)(batch, gen(1)).changed.any()
    full = Mask(p=1.0)(batch, gen(1))
    assert torch.equal(full.changed, batch.amino_acid_mask)
    with pytest.raises(ValueError, match="p must be between 0 and 1"):
        Mask(p=1.2)


@PROPERTY
@given(batch=token_batches(), seed=st.integers(0, 2**31 - 1))
def test_substitute_always_changes_to_another_amino_acid(batch: TokenBatch, seed: int) -> None:
    out = Substitute(p=0.5)(batch, gen(seed))
    assert torch.equal(out.changed, out.batch.ids != batch.ids)
    new = out.batch.ids[out.changed]
    assert ((new >= FIRST_AA) & (new != MASK)).all()
    assert (batch.ids[out.changed] >= FIRST_AA).all(), "never substitutes a <mask> or <unk>"


def test_substitute_draws_from_the_blosum_conditional() -> None:
    isoleucine = FIRST_AA + AMINO_ACIDS.index("I")
    tokens = Tokenizer().encode_pairs(["I" * 11] * 3000, ["I" * 15] * 3000)
    out = Substitute(p=1.0)(tokens, gen(0))
    drawn = out.batch.ids[out.changed] - FIRST_AA
    freq = torch.bincount(drawn, minlength=20).float() / drawn.numel()
    expected = substitution_probs()[AMINO_ACIDS.index("I")]
    assert drawn.numel() == 3000 * 26
    assert (out.batch.ids[out.changed] != isoleucine).all()
    assert torch.allclose(freq, expected, atol=0.01)


def runs(batch: TokenBatch, row: int) -> dict[int, list[int]]:
    return {r: batch.ids[row][batch.regions[row] == r].tolist() for r in (REGION_PEPTIDE, REGION_CDR3B, REGION_CDR3A)}


def is_window(small: list[int], big: list[int]) -> bool:
    return any(big[i:i + len(small)] == small for i in range(len(big) - len(small) + 1))


@PROPERTY
@given(batch=token_batches(), seed=st.integers(0, 2**31 - 1), fraction=st.floats(0.1, 1.0),
       region=st.sampled_from(REGIONS))
def test_crop_keeps_a_contiguous_window_of_at_least_the_fraction(batch: TokenBatch, seed: int, fraction: float,
                                                                 region: str) -> None:
    out = Crop(min_fraction=fraction, region=region)(batch, gen(seed))
    validate_layout(out.batch)
    for row in range(len(batch)):
        before, after = runs(batch, row), runs(out.batch, row)
        for r in before:
            if r in REGION_NAMES[region] and before[r]:
                assert is_window(after[r], before[r])
                assert len(after[r]) >= max(1, math.ceil(fraction * len(before[r]) - 1e-9))
            else:
                assert after[r] == before[r]


def test_crop_with_fraction_one_is_the_identity() -> None:
    batch = random_token_batch(20, gen(4), with_alpha=True)
    out = Crop(min_fraction=1.0, region="both")(batch, gen(5))
    assert torch.equal(out.batch.ids, batch.ids) and not out.changed.any()


def test_crop_actually_shortens_and_varies() -> None:
    batch = random_token_batch(200, gen(4))
    out = Crop(min_fraction=0.5)(batch, gen(5))
    lengths = (out.batch.regions == REGION_CDR3B).sum(1)
    assert (lengths < (batch.regions == REGION_CDR3B).sum(1)).float().mean() > 0.5
    assert lengths.unique().numel() > 3


@PROPERTY
@given(batch=token_batches(), seed=st.integers(0, 2**31 - 1), p=st.floats(0.0, 1.0))
def test_delete_keeps_subsequences_and_one_residue_per_part(batch: TokenBatch, seed: int, p: float) -> None:
    out = Delete(p=p)(batch, gen(seed))
    validate_layout(out.batch)
    for row in range(len(batch)):
        before, after = runs(batch, row), runs(out.batch, row)
        for r, seq in before.items():
            assert bool(after[r]) == bool(seq)
            it = iter(seq)
            assert all(tok in it for tok in after[r])


def test_delete_extremes() -> None:
    batch = random_token_batch(30, gen(1), with_alpha=0.5)
    assert torch.equal(Delete(p=0.0)(batch, gen(2)).batch.ids, batch.ids)
    out = Delete(p=1.0)(batch, gen(2))
    for r in (REGION_PEPTIDE, REGION_CDR3B, REGION_CDR3A):
        present = (batch.regions == r).any(1)
        assert torch.equal((out.batch.regions == r).sum(1), present.long())


@PROPERTY
@given(batch=token_batches(), seed=st.integers(0, 2**31 - 1), chain=st.sampled_from(["random", "alpha", "beta"]))
def test_chain_drop_removes_one_whole_chain_only_from_paired_rows(batch: TokenBatch, seed: int, chain: str) -> None:
    out = ChainDrop(p=1.0, chain=chain)(batch, gen(seed))
    validate_layout(out.batch)
    for row in range(len(batch)):
        before, after = runs(batch, row), runs(out.batch, row)
        assert after[REGION_PEPTIDE] == before[REGION_PEPTIDE]
        if before[REGION_CDR3A] and before[REGION_CDR3B]:
            dropped = [r for r in (REGION_CDR3A, REGION_CDR3B) if not after[r]]
            assert len(dropped) == 1
            kept = REGION_CDR3B if dropped == [REGION_CDR3A] else REGION_CDR3A
            assert after[kept] == before[kept]
            if chain != "random":
                assert dropped == [REGION_CDR3A if chain == "alpha" else REGION_CDR3B]
        else:
            assert after == before


def test_chain_drop_probability_and_random_choice() -> None:
    batch = random_token_batch(4000, gen(2), with_alpha=True)
    out = ChainDrop(p=0.3)(batch, gen(3))
    lost_a = ~(out.batch.regions == REGION_CDR3A).any(1)
    lost_b = ~(out.batch.regions == REGION_CDR3B).any(1)
    assert not (lost_a & lost_b).any()
    assert abs(float((lost_a | lost_b).float().mean()) - 0.3) < 0.03
    assert abs(float(lost_a.float().sum() / (lost_a | lost_b).float().sum()) - 0.5) < 0.05
    assert not ChainDrop(p=0.0)(batch, gen(3)).changed.any()


def test_different_seeds_give_different_corruptions() -> None:
    batch = random_token_batch(16, gen(0), with_alpha=True)
    for aug in (Mask1(), Mask(), Substitute(), Crop(), Delete(p=0.3), ChainDrop()):
        a, b = aug(batch, gen(1)), aug(batch, gen(2))
        assert not torch.equal(a.batch.ids, b.batch.ids), aug


def test_augmentations_do_not_touch_global_rng() -> None:
    batch = random_token_batch(8, gen(0), with_alpha=True)
    state = torch.get_rng_state()
    for aug in CONFIGS:
        aug(batch, gen(1))
    assert torch.equal(torch.get_rng_state(), state)
