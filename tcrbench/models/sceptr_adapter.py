"""SCEPTR's trained transformer as a TCR vectoriser for `PublishedTcrEncoder`: decoded rows in, B x width out.

SCEPTR (Nagano & Chain, MIT) ships its weights inside its wheel, so loading reads files and downloads nothing. Its
model (`libtcrlm.bert.Bert`) takes each TCR as 4-column tokens (residue, position in its loop, loop length, loop
id) behind a <cls> token and returns the L2-normalised <cls> state (mean of the residues for the average-pooling
variants). SCEPTR's own tokenisers read CDR1/CDR2 through V-gene objects; this module builds the same tokens from
sequences directly, so CDR1/CDR2 can come from the table's columns as well as from V genes, and a masked residue
(X, from an augmentation) becomes SCEPTR's own <mask> token instead of an error. The test suite checks the vectors
against `sceptr`'s API on real TCRs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any, Optional

import torch
from torch import nn
from torch.nn.utils.rnn import pad_sequence

from tcrbench.data.decode import DecodedPairs
from tcrbench.data.vocab import AMINO_ACIDS
from tcrbench.errors import UsageError

MISSING_EXTRA = "encoder sceptr needs the optional extra: pip install 'tcrbench[sceptr]'"

# tcrbench's name -> the folder of `sceptr/_model_saves`. Left out: `finetuned` (supervised on VDJdb binders of
# GILGFVFTL, NLVPMVATV, YLQPRTFLL and others, the very peptides IMMREP22 and NetTCR-2.0 test: a label leak) and
# the single-chain A/B models (their tokenisers read one chain).
VARIANTS: dict[str, str] = {
    "default": "SCEPTR",
    "cdr3_only": "SCEPTR_CDR3_only",
    "large": "SCEPTR_large",
    "small": "SCEPTR_small",
    "tiny": "SCEPTR_tiny",
    "blosum": "SCEPTR_BLOSUM",
    "average_pooling": "SCEPTR_average_pooling",
    "mlm_only": "SCEPTR_MLM_only",
    "cdr3_only_mlm_only": "SCEPTR_CDR3_only_MLM_only",
    "left_aligned": "SCEPTR_left_aligned",
    "shuffled_data": "SCEPTR_shuffled_data",
    "synthetic_data": "SCEPTR_synthetic_data",
    "dropout_noise_only": "SCEPTR_dropout_noise_only",
}
CDR_LAYOUT, CDR3_LAYOUT = "cdr", "cdr3"  # all six loops (CdrTokeniser) or the two CDR3s (Cdr3Tokeniser)
_LAYOUTS = {"CdrTokeniser": CDR_LAYOUT, "Cdr3Tokeniser": CDR3_LAYOUT}
# libtcrlm's token ids: 0 padding, 1 <mask>, 2 <cls>, then the amino acids in AMINO_ACIDS order
_MASK, _CLS = 1, 2
_IDS = {aa: 3 + i for i, aa in enumerate(AMINO_ACIDS)}

# (cdr1a, cdr2a, cdr1b, cdr2b); None or "" where unknown
Loops = tuple[Optional[str], Optional[str], Optional[str], Optional[str]]


def require_sceptr() -> None:
    """Import check: the one-line error every entry point gives when the extra is missing."""
    try:
        import libtcrlm  # noqa: F401
        import sceptr  # noqa: F401
    except ImportError:
        raise UsageError(MISSING_EXTRA) from None


@dataclass(frozen=True)
class Loaded:
    """A SCEPTR variant read from the wheel: its torch module and how it wants TCRs tokenised."""

    bert: nn.Module
    layout: str
    width: int
    model_name: str


def load_variant(variant: str) -> Loaded:
    """The variant's trained `Bert`, on the CPU (sceptr's own loader moves it to CUDA when it sees one)."""
    require_sceptr()
    from libtcrlm.config_reader import ConfigReader

    folder = resources.files("sceptr._model_saves") / VARIANTS[variant]
    config = json.loads((folder / "config.json").read_text())
    with (folder / "state_dict.pt").open("rb") as f:
        state = torch.load(f, map_location="cpu", weights_only=True)
    reader = ConfigReader(config)
    tokeniser = config["data"]["tokeniser"]["class"]
    if tokeniser not in _LAYOUTS:
        raise UsageError(f"encoder sceptr:variant={variant}: tokeniser {tokeniser} is not supported")
    bert = reader.get_bert()
    bert.load_state_dict(state)
    for module in bert.modules():  # same numbers without torch's prototype nested tensors (and their warning)
        if isinstance(module, nn.TransformerEncoder):
            module.enable_nested_tensor = module.use_nested_tensor = False
    return Loaded(bert.eval(), _LAYOUTS[tokeniser], int(bert.d_model), reader.get_model_name())


def restore_junction(cdr3: str) -> str:
    """C...F around a CDR3 written without its conserved anchors (NetTCR's convention); SCEPTR read junctions.
    One that has both already is kept; otherwise C is added where missing and F always (a stripped CDR3 may end
    in F itself: ...GELF from ...GELFF). F is the anchor of nearly every J gene (W of a few alpha ones): a guess."""
    if cdr3.startswith("C") and cdr3.endswith(("F", "W")):
        return cdr3
    return f"{'' if cdr3.startswith('C') else 'C'}{cdr3}F"


def _loop(seq: Optional[str], compartment: int) -> list[tuple[int, int, int, int]]:
    if not seq:
        return []
    n = len(seq)
    return [(_IDS.get(aa, _MASK), i, n, compartment) for i, aa in enumerate(seq, start=1)]


def tokenise(layout: str, cdr3b: Optional[str], cdr3a: Optional[str], loops: Optional[Loops]) -> torch.Tensor | None:
    """SCEPTR's tokens of one TCR (L x 4 long), or None when it has no loop at all (a peptide-only view)."""
    if layout == CDR3_LAYOUT:
        tokens = _loop(cdr3a, 1) + _loop(cdr3b, 2)
    else:
        c1a, c2a, c1b, c2b = loops or (None, None, None, None)
        tokens = _loop(c1a, 1) + _loop(c2a, 2) + _loop(cdr3a, 3) + _loop(c1b, 4) + _loop(c2b, 5) + _loop(cdr3b, 6)
    if not tokens:
        return None
    return torch.tensor([(_CLS, 0, 0, 0), *tokens], dtype=torch.long)


class TokenCache:
    """Tokens per TCR, computed once: the same TCRs come back every epoch. Shared, not copied, by deepcopy (the
    fine-tuning protocol trains a copy of the encoder; the tokens do not change)."""

    def __init__(self, layout: str, germline: Mapping[tuple[str | None, str | None], Loops], restore: bool) -> None:
        self.layout = layout
        self.germline = germline
        self.restore = restore
        self._tokens: dict[tuple[Any, ...], torch.Tensor | None] = {}

    def __deepcopy__(self, memo: dict[int, Any]) -> TokenCache:
        return self

    def get(self, cdr3b: str | None, cdr3a: str | None, loops: Loops | None = None) -> torch.Tensor | None:
        """Tokens of a TCR; its loops from the bound table unless given."""
        if loops is None and self.layout == CDR_LAYOUT:
            loops = self.germline.get((cdr3b, cdr3a))
        key = (cdr3b, cdr3a, loops)
        if key not in self._tokens:  # a TCR the bound table does not know runs with its CDR3s only
            fix = restore_junction if self.restore else (lambda s: s)
            self._tokens[key] = tokenise(
                self.layout, fix(cdr3b) if cdr3b else cdr3b, fix(cdr3a) if cdr3a else cdr3a, loops
            )
        return self._tokens[key]


class SceptrAdapter(nn.Module):
    """SCEPTR's module under tcrbench's encoder protocol; its weights train when fine-tuning trains the encoder."""

    def __init__(self, loaded: Loaded, cache: TokenCache) -> None:
        super().__init__()
        self.bert = loaded.bert
        self.width = loaded.width
        self.model_name = loaded.model_name
        self.cache = cache

    def vectors(self, tokens: list[torch.Tensor | None]) -> torch.Tensor:
        """B x width on the parameters' device; a row without any loop gives zeros."""
        device = next(self.bert.parameters()).device
        keep = [i for i, t in enumerate(tokens) if t is not None]
        if not keep:
            return torch.zeros(len(tokens), self.width, device=device)
        present: list[torch.Tensor] = [t for t in tokens if t is not None]
        padded = pad_sequence(present, batch_first=True, padding_value=0).to(device)
        run: Any = self.bert.get_vector_representations_of  # libtcrlm's Bert: embed, attend, pool, L2-normalise
        found = run(padded)
        if len(keep) == len(tokens):
            return found
        out = torch.zeros(len(tokens), self.width, device=device, dtype=found.dtype)
        return out.index_copy(0, torch.tensor(keep, device=device), found)

    def forward(self, pairs: DecodedPairs) -> torch.Tensor:
        return self.vectors([self.cache.get(b, a) for b, a in zip(pairs.cdr3b, pairs.cdr3a)])
