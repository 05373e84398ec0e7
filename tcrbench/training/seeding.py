"""Named, derived seeds: every random stream of a cell comes from (seed, purpose, fold), never from global state,
so the pretrained arm and the baseline start from the same weights and see the same data order."""

from __future__ import annotations

import hashlib

import torch


def derive_seed(seed: int, purpose: str, fold: int = 0) -> int:
    digest = hashlib.sha256(f"{seed}/{purpose}/{fold}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & ((1 << 31) - 1)  # 31 bits: every library accepts it


def generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    g = torch.Generator(device=device)
    g.manual_seed(seed)
    return g


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        from tcrbench.errors import UsageError

        raise UsageError(f"--device {name!r}: not a torch device (use auto, cpu, cuda or cuda:N)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        from tcrbench.errors import UsageError

        raise UsageError(f"--device {name!r}: CUDA is not available on this machine")
    return device
