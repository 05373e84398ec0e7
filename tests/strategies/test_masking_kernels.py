"""The vectorised masking helpers against plain per-row reference loops."""

from __future__ import annotations

import pytest
import torch

from tcrbench.data.vocab import FIRST_AA, MASK, PAD, VOCAB_SIZE
from tcrbench.kernels.masking import (
    bernoulli_mask,
    bert_replace,
    mask_one,
    pick_one,
    rank_in_region,
    repack_left,
)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def random_allowed(b: int, length: int, seed: int, density: float = 0.5) -> torch.Tensor:
    return torch.rand(b, length, generator=gen(seed)) < density


def test_pick_one_exactly_one_allowed_position_per_row() -> None:
    allowed = random_allowed(200, 30, 0)
    allowed[:5] = False  # rows with nothing allowed stay untouched
    picked = pick_one(allowed, gen(1))
    assert picked.dtype == torch.bool
    assert not (picked & ~allowed).any()
    counts = picked.sum(dim=1)
    assert torch.equal(counts, allowed.any(dim=1).long())


def test_pick_one_is_uniform_over_allowed_positions() -> None:
    allowed = torch.zeros(20000, 12, dtype=torch.bool)
    allowed[:, [1, 4, 5, 9]] = True
    freq = pick_one(allowed, gen(3)).float().mean(dim=0)
    assert torch.allclose(freq[[1, 4, 5, 9]], torch.full((4,), 0.25), atol=0.015)
    assert freq[[0, 2, 3, 6, 7, 8, 10, 11]].sum() == 0


def test_mask_one_writes_the_mask_id_where_changed() -> None:
    ids = torch.randint(FIRST_AA, VOCAB_SIZE, (64, 20), generator=gen(0))
    allowed = random_allowed(64, 20, 1)
    new, changed = mask_one(ids, allowed, gen(2))
    assert torch.equal(new[changed], torch.full((int(changed.sum()),), MASK))
    assert torch.equal(new[~changed], ids[~changed])
    again, changed2 = mask_one(ids, allowed, gen(2))
    assert torch.equal(again, new) and torch.equal(changed2, changed)


def test_bernoulli_mask_rate_and_bounds() -> None:
    allowed = random_allowed(400, 50, 0, density=0.6)
    sel = bernoulli_mask(allowed, 0.3, gen(1))
    assert not (sel & ~allowed).any()
    rate = sel.sum() / allowed.sum()
    assert abs(float(rate) - 0.3) < 0.01
    assert not bernoulli_mask(allowed, 0.0, gen(1)).any()
    assert torch.equal(bernoulli_mask(allowed, 1.0, gen(1)), allowed)
    with pytest.raises(ValueError, match="p must be in"):
        bernoulli_mask(allowed, 1.5, gen(1))


def test_bert_replace_splits_80_10_10_and_leaves_the_rest() -> None:
    ids = torch.full((500, 40), FIRST_AA)  # all 'A', so a random replacement is visible unless it draws 'A'
    selected = random_allowed(500, 40, 0, density=0.5)
    out = bert_replace(ids, selected, gen(1))
    assert torch.equal(out[~selected], ids[~selected])
    n = selected.sum()
    masked = (out == MASK) & selected
    random = (out != MASK) & (out != FIRST_AA) & selected
    assert abs(float(masked.sum() / n) - 0.8) < 0.01
    # 10% random, of which 1/20 draw 'A' again
    assert abs(float(random.sum() / n) - 0.1 * 19 / 20) < 0.01
    assert ((out[random] >= FIRST_AA) & (out[random] < VOCAB_SIZE)).all()


def test_bert_replace_rejects_bad_fractions() -> None:
    ids = torch.zeros(2, 3, dtype=torch.long)
    with pytest.raises(ValueError, match="mask_frac"):
        bert_replace(ids, ids.bool(), gen(0), mask_frac=0.9, random_frac=0.2)


def reference_repack(ids: torch.Tensor, keep: torch.Tensor, pad: int) -> torch.Tensor:
    out = torch.full_like(ids, pad)
    for r in range(ids.shape[0]):
        kept = ids[r][keep[r]]
        out[r, : len(kept)] = kept
    return out


@pytest.mark.parametrize("seed", range(5))
def test_repack_left_matches_a_per_row_reference(seed: int) -> None:
    ids = torch.randint(1, 25, (33, 17), generator=gen(seed))
    other = torch.randint(0, 4, (33, 17), generator=gen(seed + 100))
    keep = random_allowed(33, 17, seed + 200, density=0.6)
    new_ids, new_other = repack_left(ids, keep, other, pad_id=PAD, fill=0)
    assert torch.equal(new_ids, reference_repack(ids, keep, PAD))
    assert torch.equal(new_other, reference_repack(other, keep, 0))


def test_repack_left_keeps_everything_when_all_kept() -> None:
    ids = torch.arange(12).reshape(3, 4)
    (out,) = repack_left(ids, torch.ones_like(ids, dtype=torch.bool))
    assert torch.equal(out, ids)
    with pytest.raises(ValueError, match="shape"):
        repack_left(ids, torch.ones(3, 5, dtype=torch.bool))


def test_rank_in_region_counts_within_each_row() -> None:
    region = torch.tensor([[False, True, True, False, True], [True, False, False, True, False]])
    rank = rank_in_region(region)
    assert rank[region].tolist() == [0, 1, 2, 0, 1]
