"""The NetTCR-style chain CNN: per-chain features that do not depend on the batch a pair lands in."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tcrbench.data.tokenizer import Tokenizer
from tcrbench.data.vocab import REGION_CDR3A, REGION_CDR3B, REGION_PEPTIDE
from tcrbench.models.chains import CHAIN_REGIONS, ChainCNNConfig, ChainCNNEncoder, chain_layout
from tcrbench.training.buckets import trim
from tcrbench_plugins.encoders import ChainCNN

PEPTIDES = ["GILGFVFTL", "NLVPMVATV", "KLGGALQAK", "GILGFVFTL"]
CDR3B = ["CASSIRSSYEQYF", "CASSLAPGATNEKLFF", "CASRQDRGYEQYF", "CSARDGTGNGYTF"]
CDR3A = ["CAVRDSNYQLIW", None, "CAGAGSQGNLIF", "CALSEGGNNKLTF"]


def encoder(**kw: object) -> ChainCNNEncoder:
    torch.manual_seed(0)
    return ChainCNNEncoder(ChainCNNConfig(**kw), 64).eval()  # type: ignore[arg-type]


def batch(width: int | None = None):
    return Tokenizer(width).encode_pairs(PEPTIDES, CDR3B, CDR3A)


def test_layout_puts_each_chain_left_aligned() -> None:
    tokens = batch()
    chain, within, grid, width = chain_layout(tokens)
    assert width == max(len(s) for s in PEPTIDES + CDR3B + [a for a in CDR3A if a])
    decoded = Tokenizer(None).decode(tokens) if hasattr(Tokenizer, "decode") else None
    for row in range(len(PEPTIDES)):
        for index, region in enumerate(CHAIN_REGIONS):
            ids = tokens.ids[row][tokens.regions[row] == region]
            assert torch.equal(grid[row, index, : len(ids)], ids)
            assert (grid[row, index, len(ids):] == 0).all()
    assert decoded is None or len(decoded) == len(PEPTIDES)
    assert (within[tokens.regions == 0] == -1).all() and (chain[tokens.regions == 0] == -1).all()


@pytest.mark.parametrize("encoding", ["learned", "blosum62"])
def test_a_pair_gets_the_same_features_in_any_batch_width_or_bucket(encoding: str) -> None:
    enc = encoder(encoding=encoding)
    wide, narrow = batch(64), trim(batch())
    with torch.no_grad():
        pooled_wide = enc.pool(enc(wide), wide)
        pooled_narrow = enc.pooled(narrow)
        alone = torch.cat([enc.pooled(trim(narrow.index(slice(i, i + 1)))) for i in range(len(PEPTIDES))])
        shuffled = enc.pooled(trim(narrow.index(torch.tensor([3, 2, 1, 0]))))
    assert torch.allclose(pooled_wide, pooled_narrow, atol=1e-6)
    assert torch.allclose(alone, pooled_narrow, atol=1e-5)
    assert torch.allclose(shuffled, pooled_narrow.flip(0), atol=1e-5)


def test_chains_have_their_own_blocks_and_a_missing_alpha_is_zero() -> None:
    enc = encoder(channels=4, widths=(1, 3))
    tokens = batch()
    with torch.no_grad():
        hidden = enc(tokens)
        pooled = enc.pooled(tokens)
    block = enc.block
    assert hidden.shape == (len(PEPTIDES), tokens.ids.shape[1], 3 * block)
    for index, region in enumerate((REGION_PEPTIDE, REGION_CDR3B, REGION_CDR3A)):
        at = tokens.regions == region
        others = [i for i in range(3) if i != index]
        for other in others:
            assert (hidden[at][:, other * block:(other + 1) * block] == 0).all()
    assert (pooled[1, 2 * block:] == 0).all()  # row 1 has no CDR3α
    assert (pooled[0, 2 * block:] > 0).any()


def test_masked_taps_equal_separate_convolutions_of_each_width() -> None:
    enc = encoder(channels=3, widths=(1, 3, 5), embed=6)
    tokens = trim(batch())
    _, _, grid, _ = chain_layout(tokens)
    weight = (enc.weight * enc.taps).detach()  # chains x (widest*embed) x block
    with torch.no_grad():
        feats, _, _ = enc.chain_grid(tokens)
        for index in range(3):
            x = enc.tokens(grid[:, index]) * (grid[:, index] != 0).unsqueeze(-1)
            x = x.transpose(1, 2)
            for j, w in enumerate((1, 3, 5)):
                conv = nn.Conv1d(6, 3, w, padding="same")
                kernel = weight[index].reshape(5, 6, 9)[:, :, j * 3:(j + 1) * 3]  # widest x embed x channels
                left = (5 - w) // 2
                conv.weight.copy_(kernel[left:left + w].permute(2, 1, 0))
                conv.bias.copy_(enc.bias[index, 0, j * 3:(j + 1) * 3])
                expected = torch.relu(conv(x)).transpose(1, 2) * (grid[:, index] != 0).unsqueeze(-1)
                assert torch.allclose(feats[:, index, :, j * 3:(j + 1) * 3], expected, atol=1e-5)


def test_plugin_settings_are_checked_at_configuration_time() -> None:
    with pytest.raises(ValueError, match="encoding"):
        ChainCNNConfig(encoding="onehot")
    with pytest.raises(ValueError, match="odd"):
        ChainCNN(widths="2/4").build(32)
    assert ChainCNN().build(32).hidden_size == 3 * 32 * 5
