"""Body of one rank in the two-process gather test (imported by the spawned children, so not a test file)."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.distributed as dist

from tcrbench.kernels import info_nce, nt_xent


def global_batch(sizes: tuple[int, ...], d: int = 6) -> dict[str, torch.Tensor]:
    """The same seeded global batch in every process; rank r owns the r-th block of rows."""
    g = torch.Generator().manual_seed(42)
    n = sum(sizes)
    return {"z1": torch.randn(n, d, generator=g, dtype=torch.float64),
            "z2": torch.randn(n, d, generator=g, dtype=torch.float64),
            "groups": torch.randint(0, 3, (n,), generator=g)}


def run(rank: int, port: int, sizes: tuple[int, ...], out: str) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=len(sizes))
    try:
        torch.set_num_threads(1)
        data = global_batch(sizes)
        start = sum(sizes[:rank])
        mine = slice(start, start + sizes[rank])
        result = {}
        for name, fn in (("ntxent", lambda a, b: nt_xent(a, b, 0.3, impl="tiled", block_size=3)),
                         ("infonce", lambda a, b: info_nce(a, b, 0.3, positives=data["groups"][mine]))):
            z1 = data["z1"][mine].clone().requires_grad_()
            z2 = data["z2"][mine].clone().requires_grad_()
            loss = fn(z1, z2)
            loss.backward()
            result[name] = (loss.detach(), z1.grad, z2.grad)
        torch.save(result, Path(out) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()
