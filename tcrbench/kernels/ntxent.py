"""NT-Xent (SimCLR): each of the 2N views must pick its partner out of the other 2N − 1.

The N² part is one log-sum-exp over ``A Aᵀ`` (see ``tiled.py``), where ``A`` holds the normalised views with
1/√T folded in, so a single matrix product yields every similarity already divided by the temperature.
The positive logit of each view is a row-wise dot product with its partner: O(N·d), left to autograd.
"""

from __future__ import annotations

import math

import torch

from tcrbench.errors import UsageError
from tcrbench.kernels import distributed
from tcrbench.kernels.tiled import compute_dtype, cross_lse, make_plan, self_lse

SIMILARITIES = ("cosine", "dot")
DEFAULT_EPS = 1e-8


def check_temperature(temperature: float | torch.Tensor) -> float:
    """The temperature's value (a learnable 0-dim tensor is allowed); must be finite and positive."""
    if isinstance(temperature, torch.Tensor):
        if temperature.numel() != 1:
            raise UsageError(f"temperature must be a scalar, got a tensor of shape {tuple(temperature.shape)}")
        value = float(temperature.detach())
    elif isinstance(temperature, (int, float)) and not isinstance(temperature, bool):
        value = float(temperature)
    else:
        raise UsageError(f"temperature must be a number or a scalar tensor, got {type(temperature).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"temperature must be a finite number > 0, got {value}")
    return value


def check_similarity(similarity: str, eps: float) -> None:
    if similarity not in SIMILARITIES:
        raise UsageError(f"similarity must be one of {', '.join(SIMILARITIES)}, got {similarity!r}")
    if not isinstance(eps, (int, float)) or not 1e-18 <= eps <= 1.0:
        raise UsageError(f"eps must be a number in [1e-18, 1] (its square must stay a normal float), got {eps!r}")


def check_embeddings(name: str, z: torch.Tensor) -> None:
    if not isinstance(z, torch.Tensor):
        raise UsageError(f"{name} must be a tensor, got {type(z).__name__}")
    if z.dim() != 2:
        raise UsageError(f"{name} must be 2-D (rows × features), got shape {tuple(z.shape)}")
    if not z.is_floating_point():
        raise UsageError(f"{name} must be floating point, got {z.dtype}")
    if z.shape[0] < 1 or z.shape[1] < 1:
        raise UsageError(f"{name} must have at least one row and one feature, got shape {tuple(z.shape)}")


def scaled(z: torch.Tensor, temperature: float | torch.Tensor, similarity: str, eps: float) -> torch.Tensor:
    """Rows of ``z`` (normalised for cosine) times 1/√T, in the compute dtype.

    Zero rows stay zero under cosine similarity (``eps`` guards the division): they are equally similar to
    everything, get a finite loss, and a finite but large gradient (scaled by 1/eps).
    """
    z = z.to(compute_dtype(z.dtype))
    scale: torch.Tensor | float
    if isinstance(temperature, torch.Tensor):
        scale = temperature.to(z.dtype).rsqrt()
    else:
        scale = 1.0 / math.sqrt(temperature)
    if similarity == "cosine":
        # z / max(‖z‖, eps) as in F.normalize, with the 1/√T folded into the same multiply: fewer passes
        # over the N×d embeddings forward and backward, which shows at small N.
        inverse_norm = (z * z).sum(1, keepdim=True).clamp_min(eps * eps).rsqrt()
        return z * (inverse_norm * scale)
    return z * scale


def nt_xent(
    z1: torch.Tensor,
    z2: torch.Tensor,
    temperature: float | torch.Tensor = 0.1,
    *,
    similarity: str = "cosine",
    impl: str = "auto",
    block_size: int | None = None,
    tile_threshold: int | None = None,
    eps: float = DEFAULT_EPS,
    gather: bool = True,
) -> torch.Tensor:
    """SimCLR's NT-Xent loss over the 2N views of N pairs (row i of ``z1`` pairs with row i of ``z2``).

    Mean over the 2N anchors of ``-s(i, partner) + log Σ_{j≠i} exp s(i, j)``, with ``s = sim / T``.

    similarity: "cosine" (default) or "dot" (raw dot product). temperature: a float or a learnable scalar
    tensor. impl: "dense" stores exp(similarities) for the backward (fastest, O(N²) memory), "tiled"
    recomputes them (O(N·d + N·block_size) memory), "auto" is dense up to ``tile_threshold`` rows of the
    similarity matrix (2N; default ``DEFAULT_TILE_THRESHOLD``). Under an initialised torch.distributed
    with more than one process and ``gather=True``, the views of all ranks are the negatives and this rank's
    anchors are averaged; gradients reach the other ranks' embeddings through the gather.
    One pair alone has no negatives: the loss is exactly 0 with zero gradient.
    """
    check_embeddings("z1", z1)
    check_embeddings("z2", z2)
    if z1.shape != z2.shape:
        raise UsageError(f"z1 and z2 must have the same shape, got {tuple(z1.shape)} and {tuple(z2.shape)}")
    check_similarity(similarity, eps)
    tau = check_temperature(temperature)
    n = z1.shape[0]
    A = scaled(torch.cat([z1, z2]), temperature, similarity, eps)
    positive = (A[:n] * A[n:]).sum(1).mean()
    bound = 1.0 / tau if similarity == "cosine" else None
    if gather and distributed.is_active():
        everyone, offset = distributed.gather_with_grad(A)
        plan = make_plan(A.shape[0], everyone.shape[0], impl, block_size, tile_threshold)
        lse, _ = cross_lse(A, everyone, plan, self_offset=offset, bound=bound)
        return lse.mean() - positive
    if n == 1:
        return A.sum() * 0.0
    plan = make_plan(2 * n, 2 * n, impl, block_size, tile_threshold)
    return self_lse(A, plan, bound=bound).mean() - positive
