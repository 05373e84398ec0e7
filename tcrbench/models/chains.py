"""A NetTCR-style CNN: each chain (peptide, CDR3β, CDR3α) gets its own convolutions, max-pooled per chain.

Convolving the concatenated pair lets kernels straddle a chain boundary and forces one filter bank to serve every
chain; NetTCR-2.0 instead convolves each chain apart with kernel widths 1-9 and concatenates the pooled chains
before a small dense head. Here each chain's residues are gathered into their own left-aligned tensor (one sort,
no Python loop over rows), convolved, and scattered back to their positions in a block of the feature vector that
belongs to that chain. So the encoder still returns per-position states (masked-LM works on it) and the usual
masked max over positions is exactly the concatenation of per-chain max pools (ReLU features are >= 0, and the
other chains' blocks are 0 at a position). Padding is zeroed before every convolution and 'same' padding is
zeros, so a pair gives the same features however wide its batch is.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from tcrbench.data.vocab import FIRST_AA, PAD, REGION_CDR3A, REGION_CDR3B, REGION_PEPTIDE, VOCAB_SIZE, TokenBatch
from tcrbench.models.pooling import pool

CHAIN_REGIONS: tuple[int, ...] = (REGION_PEPTIDE, REGION_CDR3B, REGION_CDR3A)
ENCODINGS: tuple[str, ...] = ("learned", "blosum62")
INTERACTIONS: tuple[str, ...] = ("product", "concat")


@dataclass(frozen=True)
class ChainCNNConfig:
    embed: int = 24  # learned embedding width (BLOSUM62 rows are 20 wide)
    channels: int = 32  # filters per kernel width and chain
    widths: tuple[int, ...] = (1, 3, 5, 7, 9)
    encoding: str = "learned"
    head_hidden: int = 64  # the dense layer of the classification head
    dropout: float = 0.1  # in the head
    interaction: str = "product"  # how the head joins peptide and receptor: "product" or "concat"

    def __post_init__(self) -> None:
        if min(self.embed, self.channels, self.head_hidden) < 1:
            raise ValueError(f"embed, channels and head_hidden must be positive, got {self}")
        if not self.widths or min(self.widths) < 1:
            raise ValueError(f"widths must be positive integers, got {self.widths}")
        if self.encoding not in ENCODINGS:
            raise ValueError(f"encoding must be one of {', '.join(ENCODINGS)}, got {self.encoding!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.interaction not in INTERACTIONS:
            raise ValueError(f"interaction must be one of {', '.join(INTERACTIONS)}, got {self.interaction!r}")

    @property
    def chain_features(self) -> int:
        return self.channels * len(self.widths)


def blosum_embedding() -> nn.Embedding:
    """A frozen embedding whose amino-acid rows are BLOSUM62 rows scaled by 1/5 (specials are zero)."""
    from tcrbench.data.blosum import score_matrix

    weight = torch.zeros(VOCAB_SIZE, 20)
    weight[FIRST_AA:] = score_matrix().float() / 5.0
    return nn.Embedding.from_pretrained(weight, freeze=True, padding_idx=PAD)


def chain_layout(batch: TokenBatch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """Where each chain's residues go in a left-aligned B x chains x W grid.

    Returns each position's chain (B x L, -1 for specials and padding), its index within its chain (B x L), the
    grid's token ids (B x chains x W, padding where a chain is shorter) and W.
    """
    regions = batch.regions
    chain = torch.full_like(regions, -1)
    for index, region in enumerate(CHAIN_REGIONS):
        chain = torch.where(regions == region, index, chain)
    one_hot = F.one_hot(chain.clamp_min(0), len(CHAIN_REGIONS)) * (chain >= 0).unsqueeze(-1)  # B x L x chains
    within = (one_hot.cumsum(dim=1) * one_hot).sum(dim=-1) - 1  # position inside its chain, -1 elsewhere
    width = max(int(within.max()) + 1, 1)
    b = regions.shape[0]
    grid = torch.full((b, len(CHAIN_REGIONS) * width), PAD, dtype=batch.ids.dtype, device=batch.ids.device)
    real = chain >= 0
    slot = chain.clamp_min(0) * width + within.clamp_min(0)
    rows = torch.arange(b, device=regions.device).unsqueeze(1).expand_as(slot)
    grid[rows[real], slot[real]] = batch.ids[real]
    return chain, within, grid.view(b, len(CHAIN_REGIONS), width), width


def _tap_mask(widths: tuple[int, ...], channels: int, in_channels: int) -> torch.Tensor:
    """(widest x in_channels) x (widths x channels): the widest kernel keeping only each width's centred taps."""
    widest = max(widths)
    mask = torch.zeros(widest, in_channels, len(widths) * channels)
    for i, w in enumerate(widths):
        left = (widest - w) // 2
        mask[left : left + w, :, i * channels : (i + 1) * channels] = 1.0
    return mask.reshape(widest * in_channels, len(widths) * channels)


class ChainCNNEncoder(nn.Module):
    """TokenBatch -> B x L x (3 x channels x widths) per-position features, one block per chain; max pooling.

    All chains and kernel widths run as one batched matrix product over sliding windows (a batch entry per chain;
    narrower widths are masked taps of the widest kernel, which is the same function): on a CPU a few large
    operations beat fifteen small convolutions, whose backward passes dominated the step.
    """

    pooling = "max"

    def __init__(self, config: ChainCNNConfig, max_len: int) -> None:
        super().__init__()
        if any(w % 2 == 0 for w in config.widths):
            raise ValueError(f"kernel widths must be odd (centred taps), got {config.widths}")
        self.config = config
        self.max_len = max_len
        self.block = config.chain_features
        self.hidden_size = self.block * len(CHAIN_REGIONS)
        self.head_hidden = config.head_hidden  # the classifier reads these: NetTCR's narrow ReLU layer
        self.head_activation = "relu"
        self.head_dropout = config.dropout
        if config.encoding == "blosum62":
            self.tokens = blosum_embedding()
            width = 20
        else:
            self.tokens = nn.Embedding(VOCAB_SIZE, config.embed, padding_idx=PAD)
            width = config.embed
        chains = len(CHAIN_REGIONS)
        self.widest = max(config.widths)
        fan_in = self.widest * width
        bound = 1.0 / fan_in**0.5  # nn.Conv1d's default initialisation
        self.weight = nn.Parameter(torch.empty(chains, fan_in, self.block).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(chains, 1, self.block).uniform_(-bound, bound))
        self.register_buffer("taps", _tap_mask(config.widths, config.channels, width), persistent=False)

    def chain_grid(self, batch: TokenBatch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Features on the left-aligned grid (B x chains x W x block), and each position's chain and index."""
        chain, within, grid, width = chain_layout(batch)
        b, chains = grid.shape[0], grid.shape[1]
        real = (grid != PAD).unsqueeze(-1)
        x = self.tokens(grid) * real  # B x chains x W x embed, padding zeroed
        half = self.widest // 2
        x = F.pad(x, (0, 0, half, half))  # zero 'same' padding along W
        windows = x.unfold(2, self.widest, 1)  # B x chains x W x embed x widest
        windows = windows.permute(1, 0, 2, 4, 3).reshape(chains, b * width, -1)  # chains x (B W) x (widest embed)
        taps = torch.as_tensor(self.taps)
        y = F.relu(torch.baddbmm(self.bias, windows, self.weight * taps))  # chains x (B W) x block
        y = y.view(chains, b, width, self.block).transpose(0, 1) * real  # B x chains x W x block
        return y, chain, within

    def forward(self, batch: TokenBatch) -> torch.Tensor:
        feats, chain, within = self.chain_grid(batch)
        b, chains, width, block = feats.shape
        real = chain >= 0
        slot = (chain.clamp_min(0) * width + within.clamp_min(0)).unsqueeze(-1).expand(-1, -1, block)
        per_position = feats.reshape(b, chains * width, block).gather(1, slot) * real.unsqueeze(-1)
        place = F.one_hot(chain.clamp_min(0), chains).to(per_position.dtype) * real.unsqueeze(-1)
        return (place.unsqueeze(-1) * per_position.unsqueeze(-2)).reshape(b, chain.shape[1], chains * block)

    def pool(self, hidden: torch.Tensor, batch: TokenBatch) -> torch.Tensor:
        return pool(hidden, batch, "max")

    def classifier_head(self, n_outputs: int) -> nn.Module | None:
        """The head the classifier uses on this encoder (None: the generic dense head with head_hidden)."""
        if self.config.interaction != "product":
            return None
        return PeptideReceptorHead(self.block, self.config.head_hidden, n_outputs, self.config.dropout)

    def pooled(self, batch: TokenBatch) -> torch.Tensor:
        """`pool(forward(batch))` without placing features back at their positions: the classifier's fast path.

        Equal because features are >= 0 and zero off their chain, so the grid's zero padding never wins a maximum.
        """
        feats, _, _ = self.chain_grid(batch)
        return feats.amax(dim=2).reshape(feats.shape[0], -1)


class PeptideReceptorHead(nn.Module):
    """Pooled chains -> logits, joining the peptide's and the receptor's projections by their sum and product.

    Binding is an interaction: a concatenation followed by one ReLU layer has to build every peptide-by-receptor
    term from sums, and on the planted-rule table it sat at chance for tens of epochs before learning (or never
    learned). The elementwise product of a peptide projection and a receptor projection holds those terms from the
    start, so the model learns in a few epochs with the peptide as an input (the pan-peptide framing).
    """

    def __init__(
        self, block: int, hidden: int, n_outputs: int, dropout: float, receptor_width: int | None = None
    ) -> None:
        super().__init__()
        self.block = block
        self.drop = nn.Dropout(dropout)
        self.peptide = nn.Linear(block, hidden)
        # the chain CNN's receptor is its two chain blocks; a published TCR model's vector has its own width
        self.receptor = nn.Linear(receptor_width or block * (len(CHAIN_REGIONS) - 1), hidden)
        self.out = nn.Linear(2 * hidden, n_outputs)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        zp = self.peptide(self.drop(pooled[:, : self.block]))
        zt = self.receptor(self.drop(pooled[:, self.block :]))
        return self.out(self.drop(torch.cat([F.relu(zp + zt), zp * zt], dim=1)))
