"""Row log-sum-exp of exp(similarity) matrices, computed in row panels with a hand-written backward.

Every contrastive loss in this package is "log-sum-exp over a similarity matrix minus a positive term". The
positive term is a row-wise dot product (cheap, left to autograd); the log-sum-exp is where the N² cost is,
so it lives here, in two custom autograd functions:

* ``self_lse(A)``: ``log Σ_{j≠i} exp(a_i·a_j)`` for every row of one matrix (NT-Xent). The matrix
  ``A Aᵀ`` is symmetric, so only the panels on and right of the diagonal are computed: each panel's row sums
  feed its own rows and its column sums feed the later rows. That halves the forward products and the
  exponentials, and the backward visits the same half.
* ``cross_lse(Q, K)``: row (and optionally column) log-sum-exp of ``Q Kᵀ`` (InfoNCE, and NT-Xent across
  processes where the local rows meet the global columns).

Both use a *fixed* shift of zero when every exponent is bounded by ``FIXED_SHIFT_LIMIT`` (|a_i·a_j| ≤
max‖a‖² by Cauchy-Schwarz; for cosine similarity that bound is exactly 1/T). Then exp cannot overflow or
underflow to zero, the exponentials of a panel serve rows and columns at once, and no max pass is needed.
Above the limit (T below ~0.02 in float32) they fall back to plain full-width row panels with an exact
per-row max and, for column sums, an online (running-max) log-sum-exp.

``keep=True`` ("dense") stores the exponentiated panels for the backward: O(N²) memory, fastest.
``keep=False`` ("tiled") recomputes them in the backward: O(N·d + N·panel_rows) memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.autograd.function import once_differentiable

from tcrbench.errors import UsageError

# Rows of the similarity matrix (2N for NT-Xent, N for InfoNCE) above which impl="auto" recomputes in the
# backward instead of storing exp(similarities). At 8192 rows the stored half-matrix is 128 MiB in float32.
DEFAULT_TILE_THRESHOLD = 8192
# Panel height when stored (dense). Measured on the 2-core CPU: 256-row panels keep the element-wise passes
# that follow each product (exp, row and column sums, the gradient weights) closer to cache than taller
# ones, and at or below 256 rows the whole matrix is one block, so small batches pay one panel's fixed costs.
PANEL_ROWS = 256
# When recomputing (tiled), panels are taller: fewer, larger operations parallelise better (measured with
# 2 threads at N = 16384: 512-row panels 0.95x the floor, 256-row panels 1.4x on a busy machine), within
# a budget of elements per panel buffer; at most three buffers are live (16 Mi floats = 64 MiB each).
TILED_PANEL_ROWS = 512
TILED_PANEL_ELEMENTS = 1 << 24
MIN_PANEL_ROWS = 32
# Largest |exponent| for which exp() with a zero shift is safe: e^±50 and sums of up to ~1e8 of them stay
# normal float32 numbers. Half precision is computed in float32 (see ``compute_dtype``).
FIXED_SHIFT_LIMIT = {torch.float32: 50.0, torch.float64: 300.0}

IMPLS = ("auto", "dense", "tiled")


@dataclass(frozen=True)
class Plan:
    """How one log-sum-exp call is executed: store the panels or recompute them, and the panel height."""

    keep: bool
    rows: int


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """Half-precision inputs are upcast: the N×d upcast is cheap next to the N² work and keeps sums exact."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def make_plan(
    rows: int, cols: int, impl: str = "auto", block_size: int | None = None, tile_threshold: int | None = None
) -> Plan:
    """Choose dense or tiled and a panel height for a ``rows × cols`` similarity matrix."""
    if impl not in IMPLS:
        raise UsageError(f"impl must be one of {', '.join(IMPLS)}, got {impl!r}")
    if block_size is not None and (not isinstance(block_size, int) or block_size < 1):
        raise UsageError(f"block_size must be a positive integer, got {block_size!r}")
    threshold = DEFAULT_TILE_THRESHOLD if tile_threshold is None else tile_threshold
    if not isinstance(threshold, int) or threshold < 1:
        raise UsageError(f"tile_threshold must be a positive integer, got {tile_threshold!r}")
    keep = impl == "dense" or (impl == "auto" and rows <= threshold)
    if block_size is not None:
        panel = block_size
    elif keep:
        panel = PANEL_ROWS
    else:
        panel = max(MIN_PANEL_ROWS, min(TILED_PANEL_ROWS, TILED_PANEL_ELEMENTS // max(cols, 1)))
    return Plan(keep=keep, rows=max(1, min(panel, rows)))


def fixed_shift_ok(bound: float, dtype: torch.dtype) -> bool:
    """True when every exponent lies in [-bound, bound] and ``bound`` is small enough to skip the max pass."""
    return math.isfinite(bound) and bound <= FIXED_SHIFT_LIMIT[compute_dtype(dtype)]


def _panels(n: int, rows: int) -> list[tuple[int, int]]:
    return [(i, min(i + rows, n)) for i in range(0, n, rows)]


class _Buffers:
    """Flat scratch storage, allocated on first use and reused by every panel, so the loop allocates nothing."""

    def __init__(self, like: torch.Tensor, elements: int) -> None:
        self.like, self.elements = like, elements
        self.flat: dict[int, torch.Tensor] = {}

    def view(self, k: int, rows: int, cols: int) -> torch.Tensor:
        if k not in self.flat:
            self.flat[k] = self.like.new_empty(self.elements)
        return self.flat[k][: rows * cols].view(rows, cols)


# ----------------------------------------------------------------------------------------------------------
# Symmetric: log Σ_{j≠i} exp(a_i·a_j), fixed shift, upper-triangle panels.


def _sym_panel(A: torch.Tensor, i0: int, i1: int, out: torch.Tensor) -> torch.Tensor:
    """exp(A[i0:i1] · A[i0:]ᵀ) with the self-similarities set to zero (-inf before exp)."""
    torch.mm(A[i0:i1], A[i0:].t(), out=out)
    out[:, : i1 - i0].diagonal().fill_(-math.inf)
    return out.exp_()


class _SelfLSE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, A: torch.Tensor, rows: int, keep: bool) -> torch.Tensor:
        M = A.shape[0]
        panels = _panels(M, rows)
        sums = A.new_zeros(M)
        buffers = _Buffers(A, rows * M)
        stored = []
        for i0, i1 in panels:
            b, width = i1 - i0, M - i0
            E = A.new_empty(b, width) if keep else buffers.view(0, b, width)
            _sym_panel(A, i0, i1, E)
            sums[i0:i1] += E.sum(1)
            if i1 < M:
                sums[i1:] += E[:, b:].sum(0)
            if keep:
                stored.append(E)
        ctx.save_for_backward(A, sums)
        ctx.rows, ctx.stored = rows, stored
        return sums.log()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor):
        A, sums = ctx.saved_tensors
        M = A.shape[0]
        rows, stored = ctx.rows, ctx.stored
        # d lse_i / d s_ij = E_ij / sums_i; s_ij feeds rows i and j, so G_ij = E_ij (w_i + w_j).
        w = grad / sums
        dA = torch.zeros_like(A)
        buffers = _Buffers(A, rows * M)
        for k, (i0, i1) in enumerate(_panels(M, rows)):
            b, width = i1 - i0, M - i0
            E = stored[k] if stored else _sym_panel(A, i0, i1, buffers.view(1, b, width))
            G = buffers.view(0, b, width)
            torch.add(w[i0:i1, None], w[None, i0:], out=G)
            G.mul_(E)
            dA[i0:i1].addmm_(G, A[i0:])
            if i1 < M:
                dA[i1:].addmm_(G[:, b:].t(), A[i0:i1])
        return dA, None, None


# ----------------------------------------------------------------------------------------------------------
# Rectangular: rows (and optionally columns) of exp(Q Kᵀ), optional self-exclusion at a column offset.


def _cross_logits(
    Q: torch.Tensor, K: torch.Tensor, i0: int, i1: int, offset: int | None, out: torch.Tensor
) -> torch.Tensor:
    torch.mm(Q[i0:i1], K.t(), out=out)
    if offset is not None:
        out[:, offset + i0 : offset + i1].diagonal().fill_(-math.inf)
    return out


class _CrossLSE(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx, Q: torch.Tensor, K: torch.Tensor, offset: int | None, cols: bool, fixed: bool, rows: int, keep: bool
    ):
        m, n = Q.shape[0], K.shape[0]
        floor = torch.finfo(Q.dtype).min
        row_lse = Q.new_empty(m)
        col_sum = Q.new_zeros(n if cols else 0)
        col_max = Q.new_full((n if cols else 0,), floor)
        buffers = _Buffers(Q, rows * n)
        stored = []
        for i0, i1 in _panels(m, rows):
            b = i1 - i0
            S = _cross_logits(Q, K, i0, i1, offset, Q.new_empty(b, n) if keep else buffers.view(0, b, n))
            if fixed:  # the stored panel holds exp(S) in fixed mode, S itself otherwise
                S.exp_()
                row_lse[i0:i1] = S.sum(1).log_()
                if cols:
                    col_sum += S.sum(0)
            else:
                E = buffers.view(1, b, n)
                row_max = S.amax(1).clamp_min_(floor)
                row_lse[i0:i1] = torch.sub(S, row_max[:, None], out=E).exp_().sum(1).log_() + row_max
                if cols:  # online log-sum-exp down the columns: rescale the running sums to the new max
                    new_max = torch.maximum(col_max, S.amax(0).clamp_min_(floor))
                    col_sum.mul_((col_max - new_max).exp_())
                    col_sum += torch.sub(S, new_max[None, :], out=E).exp_().sum(0)
                    col_max = new_max
            if keep:
                stored.append(S)
        col_lse = col_sum.log() if fixed else col_sum.log() + col_max
        ctx.save_for_backward(Q, K, row_lse, col_lse)
        ctx.offset, ctx.cols, ctx.fixed, ctx.rows, ctx.stored = offset, cols, fixed, rows, stored
        return row_lse, col_lse

    @staticmethod
    @once_differentiable
    def backward(ctx, g_row: torch.Tensor, g_col: torch.Tensor):
        Q, K, row_lse, col_lse = ctx.saved_tensors
        offset, cols, fixed, rows, stored = ctx.offset, ctx.cols, ctx.fixed, ctx.rows, ctx.stored
        m, n = Q.shape[0], K.shape[0]
        dQ = torch.empty_like(Q)
        dK = torch.zeros_like(K)
        buffers = _Buffers(Q, rows * n)
        if fixed:
            w = g_row / row_lse.exp()
            v = g_col / col_lse.exp() if cols else None
        for k, (i0, i1) in enumerate(_panels(m, rows)):
            b = i1 - i0
            if stored:
                S = stored[k]
            else:
                S = _cross_logits(Q, K, i0, i1, offset, buffers.view(1, b, n))
                if fixed:
                    S.exp_()
            if fixed and not cols:  # G = diag(w) E: scale after the product instead of forming G
                torch.mm(S, K, out=dQ[i0:i1])
                dQ[i0:i1].mul_(w[i0:i1, None])
                dK.addmm_(S.t(), Q[i0:i1] * w[i0:i1, None])
                continue
            G = buffers.view(0, b, n)
            if fixed:
                torch.add(w[i0:i1, None], v[None, :], out=G).mul_(S)  # type: ignore[index]
            else:
                torch.sub(S, row_lse[i0:i1, None], out=G).exp_().mul_(g_row[i0:i1, None])
                if cols:
                    col_part = torch.sub(S, col_lse[None, :], out=buffers.view(2, b, n)).exp_()
                    G.add_(col_part.mul_(g_col[None, :]))
            torch.mm(G, K, out=dQ[i0:i1])
            dK.addmm_(G.t(), Q[i0:i1])
        return dQ, dK, None, None, None, None, None


# ----------------------------------------------------------------------------------------------------------


def self_lse(A: torch.Tensor, plan: Plan, *, bound: float | None = None) -> torch.Tensor:
    """``log Σ_{j≠i} exp(a_i·a_j)`` for each row i of ``A`` (M × d, M ≥ 2).

    ``bound``: a known bound on |a_i·a_j| (1/T for cosine); computed from the row norms if omitted.
    """
    A = A.contiguous()
    if bound is None:
        bound = float(A.detach().pow(2).sum(1).max())
    if fixed_shift_ok(bound, A.dtype):
        return _SelfLSE.apply(A, plan.rows, plan.keep)
    row, _ = _CrossLSE.apply(A, A, 0, False, False, plan.rows, plan.keep)
    return row


def cross_lse(
    Q: torch.Tensor,
    K: torch.Tensor,
    plan: Plan,
    *,
    self_offset: int | None = None,
    cols: bool = False,
    bound: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Row log-sum-exp of ``exp(Q Kᵀ)`` and, if ``cols``, the column log-sum-exp (else an empty tensor).

    ``self_offset``: row i of Q is column ``self_offset + i`` of K and is excluded (-inf), as for NT-Xent
    anchors. ``bound``: a known bound on |q_i·k_j| (1/T for cosine); computed from the norms if omitted.
    """
    Q, K = Q.contiguous(), K.contiguous()
    if bound is None:
        qn = Q.detach().pow(2).sum(1).max().sqrt()
        kn = K.detach().pow(2).sum(1).max().sqrt()
        bound = float(qn * kn)
    fixed = fixed_shift_ok(bound, Q.dtype)
    return _CrossLSE.apply(Q, K, self_offset, cols, fixed, plan.rows, plan.keep)
