"""A local Hugging Face checkpoint (TCR-BERT, ESM-2) as the TCR model behind `PublishedTcrEncoder`.

Users keep such checkpoints on disk, each with its own tokenizer; nothing is downloaded. Loading happens with
`local_files_only=True` under HF_HUB_OFFLINE=1 and TRANSFORMERS_OFFLINE=1, and `transformers` is imported only
here, inside `load` (importing it costs seconds). A checkpoint is identified by its content (config, tokenizer and
weight files hashed), not its path, so a result names the exact weights that made it. Each process loads a
checkpoint once and gives every cell a deep copy: fine-tuning one cell never leaks into the next.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from tcrbench.data.decode import DecodedPairs
from tcrbench.errors import UsageError

SUPPORTED: dict[str, str] = {"bert": "TCR-BERT, ProtBERT", "esm": "ESM-2"}
EXTRA = "pip install 'tcrbench[hf]'"
PROBE = "ACDEFGHIKLMNPQRSTVWY"  # every residue must come out of the tokenizer as one token of its own
Chains = Literal["auto", "beta", "both"]
Pooling = Literal["mean", "cls"]
Tcr = tuple[str | None, str]  # (CDR3α or None, CDR3β): what one row asks the model to read
Encoded = tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]  # input ids, token types, special-token mask

WEIGHT_FILES = ("model*.safetensors", "pytorch_model*.bin", "*.safetensors.index.json", "pytorch_model*.index.json")
TOKENIZER_FILES = ("tokenizer*.json", "vocab*", "special_tokens_map.json", "added_tokens.json", "merges.txt")


@dataclass(frozen=True)
class CheckpointInfo:
    """What the folder says about the model before anything is loaded, and the hash of what loading reads."""

    path: Path
    model_type: str
    hidden: int
    layers: int
    files: tuple[str, ...]
    digest: str  # sha256 over the names and contents of `files`

    @property
    def identity(self) -> str:
        """`bert/768/0123456789abcdef`: recorded in every row, and checked when a configuration pins it."""
        return f"{self.model_type}/{self.hidden}/{self.digest[:16]}"


def require_transformers(where: str) -> None:
    """Fail in one line when the extra is missing, without paying for the import."""
    missing = [m for m in ("transformers", "safetensors") if not installed(m)]
    if missing:
        raise UsageError(f"{where}: needs {' and '.join(missing)} (the Hugging Face extra): {EXTRA}")


def installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def inspect_checkpoint(text: str, where: str) -> CheckpointInfo:
    """Check the folder (config.json, a supported model type, weights, a tokenizer) and hash what loading reads."""
    if not text.strip():
        raise UsageError(f"{where}: give the checkpoint's folder, e.g. --encoder hf:path=models/tcr-bert")
    path = Path(text).expanduser()
    if not path.exists():
        raise UsageError(f"{where}: path {path} does not exist")
    if not path.is_dir():
        raise UsageError(f"{where}: path {path} is not a folder (give the folder that holds config.json)")
    names = sorted(p.name for p in path.iterdir() if p.is_file())
    if "config.json" not in names:
        found = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "") if names else "nothing"
        raise UsageError(f"{where}: {path} has no config.json, so it is not a saved Hugging Face model (found {found})")
    try:
        config = json.loads((path / "config.json").read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{where}: {path / 'config.json'} cannot be read as JSON ({exc})") from None
    model_type = config.get("model_type") if isinstance(config, dict) else None
    if model_type not in SUPPORTED:
        kinds = "; ".join(f"{k} ({v})" for k, v in SUPPORTED.items())
        found = f"a {model_type!r} model" if model_type else "no model_type"
        raise UsageError(f"{where}: {path / 'config.json'} names {found}; supported model types: {kinds}")
    hidden, layers = config.get("hidden_size"), config.get("num_hidden_layers")
    if not isinstance(hidden, int) or not isinstance(layers, int):
        raise UsageError(f"{where}: {path / 'config.json'} lacks an integer hidden_size or num_hidden_layers")
    weights = [n for n in names if any(fnmatch(n, p) for p in WEIGHT_FILES)]
    if not weights:
        raise UsageError(f"{where}: {path} has no PyTorch weights (model.safetensors or pytorch_model.bin)")
    tokenizer = [n for n in names if any(fnmatch(n, p) for p in TOKENIZER_FILES)]
    if not tokenizer:
        raise UsageError(
            f"{where}: {path} has no tokenizer (vocab.txt or tokenizer.json); save it beside the model with "
            "tokenizer.save_pretrained(folder)"
        )
    files = tuple(sorted({"config.json", "tokenizer_config.json", *weights, *tokenizer} & set(names)))
    return CheckpointInfo(path.resolve(), model_type, hidden, layers, files, _digest(path.resolve(), files))


_DIGESTS: dict[tuple[Any, ...], str] = {}


def _digest(path: Path, files: tuple[str, ...]) -> str:
    """sha256 over each file's name and content; remembered per (path, sizes, mtimes) so a process hashes once."""
    stats = tuple((n, (path / n).stat().st_size, (path / n).stat().st_mtime_ns) for n in files)
    key = (str(path), stats)
    if key not in _DIGESTS:
        total = hashlib.sha256()
        for name in files:
            one = hashlib.sha256()
            with open(path / name, "rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    one.update(chunk)
            total.update(f"{name}\0{one.hexdigest()}\n".encode())
        _DIGESTS[key] = total.hexdigest()
    return _DIGESTS[key]


@contextlib.contextmanager
def offline() -> Iterator[None]:
    """HF_HUB_OFFLINE and TRANSFORMERS_OFFLINE set while loading, the caller's values restored after."""
    keys = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update(dict.fromkeys(keys, "1"))
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def _quiet(transformers: Any) -> Iterator[None]:
    """No load report (a BertForMaskedLM's unused LM head) or progress bar in the middle of a run's output."""
    logging = transformers.utils.logging
    verbosity, bars = logging.get_verbosity(), logging.is_progress_bar_enabled()
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        logging.set_verbosity(verbosity)
        if bars:
            logging.enable_progress_bar()


class ResidueTokenizer:
    """The checkpoint's own tokenizer, fed residues the way its vocabulary expects, with encodings cached per TCR.

    WordPiece vocabularies of single residues (TCR-BERT, ProtBERT) need residues separated by spaces; ESM's
    tokenizer splits a sequence itself. Which one a tokenizer is gets measured on the 20 amino acids, never
    assumed. Shared, not copied, between the cells' deep copies: the same TCRs come every epoch and every cell.
    """

    def __init__(self, tokenizer: Any, where: str) -> None:
        self.tokenizer = tokenizer
        self.spaced = residue_convention(tokenizer, where)
        pad = tokenizer.pad_token_id
        self.pad_id = int(pad) if pad is not None else 0
        self._cache: dict[Tcr, Encoded] = {}

    def __deepcopy__(self, memo: dict[int, Any]) -> ResidueTokenizer:
        return self

    def text(self, sequence: str) -> str:
        return " ".join(sequence) if self.spaced else sequence

    def encode(self, tcrs: list[Tcr]) -> list[Encoded]:
        """Each TCR as the model reads it: β alone, or α and β as the tokenizer's sentence pair."""
        missing = [t for t in dict.fromkeys(tcrs) if t not in self._cache]
        singles = [t for t in missing if t[0] is None]
        pairs = [t for t in missing if t[0] is not None]
        for group, args in (
            (singles, ([self.text(b) for _, b in singles],)),
            (pairs, ([self.text(a or "") for a, _ in pairs], [self.text(b) for _, b in pairs])),
        ):
            if not group:
                continue
            out = self.tokenizer(*args, return_special_tokens_mask=True, return_token_type_ids=True)
            types = out.get("token_type_ids") or [[0] * len(ids) for ids in out["input_ids"]]
            for tcr, ids, typ, special in zip(group, out["input_ids"], types, out["special_tokens_mask"]):
                self._cache[tcr] = (tuple(ids), tuple(typ), tuple(special))
        return [self._cache[t] for t in tcrs]


def residue_convention(tokenizer: Any, where: str) -> bool:
    """True when residues must be space-separated, False when the tokenizer splits them itself."""
    seen: list[str] = []
    for spaced in (False, True):
        ids = tokenizer(" ".join(PROBE) if spaced else PROBE, add_special_tokens=False)["input_ids"]
        seen = [str(t) for t in tokenizer.convert_ids_to_tokens(ids)]
        if [t.upper() for t in seen] == list(PROBE):
            return spaced
    raise UsageError(
        f"{where}: the checkpoint's tokenizer does not read the 20 amino acids as one token each, neither as "
        f"written nor space-separated (it gives {' '.join(seen[:8])} ...); is it a protein or TCR tokenizer?"
    )


_LOADED: dict[tuple[str, str], tuple[nn.Module, ResidueTokenizer]] = {}


def load(info: CheckpointInfo, where: str) -> tuple[nn.Module, ResidueTokenizer]:
    """The checkpoint's model (float32, eval mode, on the CPU) and tokenizer: loaded once per process, offline."""
    key = (str(info.path), info.digest)
    if key in _LOADED:
        return _LOADED[key]
    require_transformers(where)
    with offline():
        import transformers

        with _quiet(transformers):
            try:
                tokenizer = transformers.AutoTokenizer.from_pretrained(str(info.path), local_files_only=True)
                model = transformers.AutoModel.from_pretrained(
                    str(info.path), local_files_only=True, trust_remote_code=False, add_pooling_layer=False
                )
            except (OSError, ValueError, KeyError, TypeError) as exc:
                text = " ".join(str(exc).split())
                raise UsageError(f"{where}: cannot load {info.path}: {type(exc).__name__}: {text}") from None
    model = model.float().eval()
    residues = ResidueTokenizer(tokenizer, where)
    check_vocabulary(residues, int(model.get_input_embeddings().num_embeddings), where)
    if len(_LOADED) >= 2:  # a process rarely compares more than a couple of checkpoints; each may be gigabytes
        _LOADED.pop(next(iter(_LOADED)))
    _LOADED[key] = (model, residues)
    return _LOADED[key]


def check_vocabulary(residues: ResidueTokenizer, n_embeddings: int, where: str) -> None:
    """Every id a pair encodes to must have an embedding: a tokenizer saved without the model's special tokens
    (TCR-BERT's code passes `*`, `|`, `$` when it loads) would otherwise add its own past the model's vocabulary."""
    ids, _, _ = residues.encode([("CASS", "CAS")])[0]
    outside = sorted({i for i in ids if not 0 <= i < n_embeddings})
    if outside:
        tokens = residues.tokenizer.convert_ids_to_tokens(outside)
        raise UsageError(
            f"{where}: the tokenizer's {', '.join(map(str, tokens))} (ids {', '.join(map(str, outside))}) are not in "
            f"the model's vocabulary of {n_embeddings}; set the model's own special tokens in special_tokens_map.json"
        )


def position_limit(config: Any) -> int | None:
    """The longest input the model has positions for (None for rotary positions, as in ESM-2)."""
    if getattr(config, "position_embedding_type", "absolute") != "absolute":
        return None
    limit = int(getattr(config, "max_position_embeddings", 0) or 0)
    if getattr(config, "model_type", "") == "esm":  # positions start after the padding index
        limit -= int(getattr(config, "pad_token_id", 1) or 1) + 1
    return limit or None


class HfTcrAdapter(nn.Module):
    """Decoded rows -> B x width TCR vectors from a Hugging Face encoder, pooled over the residues or at <cls>."""

    def __init__(
        self,
        model: nn.Module,
        residues: ResidueTokenizer,
        chains: Chains = "auto",
        pooling: Pooling = "mean",
        layer: int = -1,
    ) -> None:
        super().__init__()
        config: Any = model.config
        self.model = model
        self.residues = residues
        self.width = int(config.hidden_size)
        self.chains, self.pooling, self.layer = chains, pooling, layer
        self.type_ids = int(getattr(config, "type_vocab_size", 0) or 0) >= 2  # BERT reads segments, ESM does not
        self.limit = position_limit(config)

    def tcrs(self, cdr3b: list[str | None], cdr3a: list[str | None]) -> list[Tcr]:
        """What each row asks the model to read under `chains`; a row without CDR3β cannot be read."""
        out: list[Tcr] = []
        for i, (beta, alpha) in enumerate(zip(cdr3b, cdr3a)):
            if not beta:
                raise ValueError(f"row {i} has no CDR3β, which every chains setting reads")
            if self.chains == "both" and not alpha:
                raise ValueError(f"chains=both, but row {i} has no CDR3α (chains=auto reads β alone there)")
            out.append((None if self.chains == "beta" else (alpha or None), beta))
        return out

    def forward(self, pairs: DecodedPairs) -> torch.Tensor:
        return self.run(self.residues.encode(self.tcrs(pairs.cdr3b, pairs.cdr3a)))

    def run(self, encoded: list[Encoded]) -> torch.Tensor:
        """Padded ids through the model on its parameters' device, pooled to B x width."""
        length = max(len(e[0]) for e in encoded)
        if self.limit is not None and length > self.limit:
            raise ValueError(f"a TCR takes {length} tokens; the model has positions for {self.limit}")
        ids = np.full((len(encoded), length), self.residues.pad_id, dtype=np.int64)
        types = np.zeros_like(ids)
        residue = np.zeros(ids.shape, dtype=bool)
        attention = np.zeros(ids.shape, dtype=np.int64)
        for row, (tokens, typ, special) in enumerate(encoded):
            n = len(tokens)
            ids[row, :n], types[row, :n], attention[row, :n] = tokens, typ, 1
            residue[row, :n] = np.asarray(special) == 0
        device = next(self.model.parameters()).device
        inputs = {
            "input_ids": torch.from_numpy(ids).to(device),
            "attention_mask": torch.from_numpy(attention).to(device),
        }
        if self.type_ids:
            inputs["token_type_ids"] = torch.from_numpy(types).to(device)
        out = self.model(**inputs, output_hidden_states=self.layer != -1, return_dict=True)
        hidden = out.last_hidden_state if self.layer == -1 else out.hidden_states[self.layer]
        if self.pooling == "cls":
            return hidden[:, 0]
        weights = torch.from_numpy(residue).to(device=device, dtype=hidden.dtype).unsqueeze(-1)
        return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


@torch.no_grad()
def embed(adapter: HfTcrAdapter, tcrs: list[Tcr], batch_size: int = 256) -> np.ndarray:
    """One float32 vector per TCR, in eval mode; each distinct TCR once, batched with TCRs of its own token length
    (no padding), so a TCR's vector does not depend on which others the table holds."""
    adapter.eval()
    unique = list(dict.fromkeys(tcrs))
    vectors = np.zeros((len(unique), adapter.width), dtype=np.float32)
    if not unique:
        return vectors
    encoded = adapter.residues.encode(unique)
    lengths = np.array([len(e[0]) for e in encoded])
    for length in np.unique(lengths):
        rows = np.flatnonzero(lengths == length)
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            out = adapter.run([encoded[i] for i in chunk])
            vectors[chunk] = out.float().cpu().numpy()
    where = {t: i for i, t in enumerate(unique)}
    return vectors[[where[t] for t in tcrs]]
