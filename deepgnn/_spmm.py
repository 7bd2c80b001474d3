"""Sparse-dense products with the GCN-normalized adjacency; speed lives here, not in models.

Two kernels sit behind one autograd function:

* on CUDA, when Triton is importable, a CSR kernel of our own (:func:`_triton_spmm`): one
  program per row, the row's features accumulated in registers, the bias added in the
  epilogue, every output element written exactly once (no zero-fill pass);
* everywhere else ``torch.sparse.mm`` on the CSR tensor.

Both compute :math:`\\hat A X + b`; the backward reuses the forward kernel because
:math:`\\hat A` is symmetric.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import torch
from torch import Tensor

__all__ = ["CSR", "symmetric_spmm", "triton_enabled"]


class CSR(NamedTuple):
    """The arrays of a symmetric sparse matrix on one device, as the kernels take them.

    Attributes:
        sparse: the matrix as a torch sparse CSR tensor (the ``torch.sparse.mm`` path).
        crow: row pointers, int32 when the nonzeros fit, shape ``(n + 1,)``.
        col: column ids, int32, shape ``(nnz,)``.
        val: float32 values, shape ``(nnz,)`` (the Triton kernel accumulates in float32).
    """

    sparse: Tensor
    crow: Tensor
    col: Tensor
    val: Tensor


@functools.cache
def _triton_importable() -> bool:
    try:
        import triton  # noqa: F401
        import triton.language  # noqa: F401
    except ImportError:
        return False
    return True


def triton_enabled(x: Tensor) -> bool:
    """Whether ``symmetric_spmm`` runs the Triton kernel for ``x`` (CUDA, Triton importable)."""
    return x.is_cuda and x.dtype in _TRITON_DTYPES and _triton_importable()


_TRITON_DTYPES = (torch.float32, torch.bfloat16, torch.float16)


@functools.cache
def _kernels():  # noqa: ANN202 -- built on first use so that `import deepgnn` needs no triton
    import triton
    import triton.language as tl

    @triton.jit
    def csr_spmm(
        crow,
        col,
        val,
        x,
        bias,
        out,
        d,
        stride_x,
        stride_out,
        HAS_BIAS: tl.constexpr,
        BLOCK_K: tl.constexpr,
        BLOCK_D: tl.constexpr,
    ):
        # out[i, J] = sum_k val[k] * x[col[k], J] (+ bias[J]) over row i's nonzeros k, for the
        # column block J = program_id(1). Rows vary fastest in launch order, so all rows of one
        # column block run together and its slice of x can stay in L2.
        row = tl.program_id(0)
        start = tl.load(crow + row)
        end = tl.load(crow + row + 1)
        offs_d = tl.program_id(1) * BLOCK_D + tl.arange(0, BLOCK_D)
        mask_d = offs_d < d
        acc = tl.zeros((BLOCK_K, BLOCK_D), dtype=tl.float32)
        for k0 in range(start, end, BLOCK_K):
            offs_k = k0 + tl.arange(0, BLOCK_K)
            mask_k = offs_k < end
            c = tl.load(col + offs_k, mask=mask_k, other=0).to(tl.int64)
            v = tl.load(val + offs_k, mask=mask_k, other=0.0)
            xs = tl.load(
                x + c[:, None] * stride_x + offs_d[None, :],
                mask=mask_k[:, None] & mask_d[None, :],
                other=0.0,
            )
            acc += xs.to(tl.float32) * v[:, None]
        res = tl.sum(acc, axis=0)
        if HAS_BIAS:
            res += tl.load(bias + offs_d, mask=mask_d, other=0.0).to(tl.float32)
        tl.store(
            out + row.to(tl.int64) * stride_out + offs_d,
            res.to(out.dtype.element_ty),
            mask=mask_d,
        )

    @triton.jit
    def column_partial_sums(
        g, partial, n, d, stride_g, rows_per_prog, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr
    ):
        # partial[p] = sum of g's rows [p * rows_per_prog, (p + 1) * rows_per_prog), in float32.
        pid = tl.program_id(0)
        offs_d = tl.arange(0, BLOCK_D)
        mask_d = offs_d < d
        acc = tl.zeros((BLOCK_N, BLOCK_D), dtype=tl.float32)
        lo = pid * rows_per_prog
        hi = tl.minimum(lo + rows_per_prog, n)
        for r0 in range(lo, hi, BLOCK_N):
            rows = r0 + tl.arange(0, BLOCK_N)
            m = rows < hi
            acc += tl.load(
                g + rows.to(tl.int64)[:, None] * stride_g + offs_d[None, :],
                mask=m[:, None] & mask_d[None, :],
                other=0.0,
            ).to(tl.float32)
        tl.store(partial + pid * d + offs_d, tl.sum(acc, axis=0), mask=mask_d)

    return triton, csr_spmm, column_partial_sums


# One warp gathers 8 neighbour rows at a time, 64 columns per program: timed best on an H100
# (torch 2.11, Triton 3.6, arxiv-sized random graph) over BLOCK_K in {4, 8, 16}, num_warps in
# {1, 2, 4} and BLOCK_D in {32, ..., width}, for widths 64, 128 and 256 (width 40: within 8%).
# Wider features are split into column blocks of 64 that run one after another, so the slice
# of x being gathered (N x 64 floats = 43 MB at arxiv size) stays in the 50 MB L2: at width 256
# this took the SpMM from 791 us (one block of 256) to 560 us; torch.sparse.mm takes 892 us.
@functools.cache
def _spmm_config(d: int) -> tuple[int, int, int]:
    """``(BLOCK_K, BLOCK_D, num_warps)`` for feature width ``d``."""
    import triton

    return 8, min(max(triton.next_power_of_2(d), 16), 64), 1


def _triton_spmm(adj: CSR, x: Tensor, bias: Tensor | None) -> Tensor:
    triton, kernel, _ = _kernels()
    n, d = x.shape
    out = torch.empty_like(x)
    if n == 0 or d == 0:
        return out
    block_k, block_d, num_warps = _spmm_config(d)
    kernel[(n, triton.cdiv(d, block_d))](
        adj.crow,
        adj.col,
        adj.val,
        x,
        bias if bias is not None else x,
        out,
        d,
        x.stride(0),
        out.stride(0),
        HAS_BIAS=bias is not None,
        BLOCK_K=block_k,
        BLOCK_D=block_d,
        num_warps=num_warps,
    )
    return out


def _triton_column_sum(
    g: Tensor, *, programs_per_sm: int = 4, block_elems: int = 8192, num_warps: int = 8
) -> Tensor:
    """Column sums of ``g`` ``(n, d)`` in float32: per-slab partial sums, then one small sum.

    Defaults timed on an H100 (arxiv size, L2 flushed): 33 us at d=64 and 83 us at d=256,
    against 65 and 161 us for ``g.sum(0)``.
    """
    _, _, kernel = _kernels()
    n, d = g.shape
    block_n, block_d, programs, rows_per_prog = _column_sum_geometry(
        n, d, _sm_count(g.device), programs_per_sm, block_elems
    )
    partial = torch.empty(programs, d, device=g.device, dtype=torch.float32)
    kernel[(programs,)](
        g,
        partial,
        n,
        d,
        g.stride(0),
        rows_per_prog,
        BLOCK_N=block_n,
        BLOCK_D=block_d,
        num_warps=num_warps,
    )
    return partial.sum(0)


@functools.cache
def _column_sum_geometry(
    n: int, d: int, sms: int, programs_per_sm: int, block_elems: int
) -> tuple[int, int, int, int]:
    """``(BLOCK_N, BLOCK_D, programs, rows_per_program)``: a few programs per SM, each summing a
    contiguous slab of rows."""
    import triton

    block_d = max(triton.next_power_of_2(d), 16)
    block_n = max(1, block_elems // block_d)
    programs = max(1, min(triton.cdiv(n, block_n), programs_per_sm * sms))
    rows_per_prog = triton.cdiv(triton.cdiv(n, programs), block_n) * block_n
    return block_n, block_d, triton.cdiv(n, rows_per_prog), rows_per_prog


@functools.cache
def _sm_count(device: torch.device) -> int:
    return torch.cuda.get_device_properties(device).multi_processor_count


def _spmm(adj: CSR, x: Tensor, bias: Tensor | None) -> Tensor:
    if triton_enabled(x):
        return _triton_spmm(adj, x, bias)
    if bias is None:
        return torch.sparse.mm(adj.sparse, x)
    return torch.sparse.addmm(bias.expand(x.shape[0], -1), adj.sparse, x)


class _SymmetricSpMM(torch.autograd.Function):
    """``Â @ x + bias`` for a symmetric sparse ``Â`` whose backward reuses the forward kernel."""

    @staticmethod
    def forward(ctx, x: Tensor, adj: CSR, bias: Tensor | None) -> Tensor:  # type: ignore[override]
        ctx.adj = adj
        ctx.has_bias = bias is not None
        ctx.bias_dtype = None if bias is None else bias.dtype
        return _spmm(adj, x, bias)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, None, Tensor | None]:  # type: ignore[override]
        # Â is symmetric, so the backward of Â·X is Â·G: reuse the forward kernel instead of the
        # sparse transpose torch.sparse builds on every backward (~2x per step, H100, depth 64).
        grad = grad.contiguous()
        grad_x = None
        if ctx.needs_input_grad[0]:
            # Under create_graph go through the Function again, so that double backward works;
            # otherwise call the kernel directly and spare the host the Function's overhead.
            if torch.is_grad_enabled():
                grad_x = _SymmetricSpMM.apply(grad, ctx.adj, None)
            else:
                grad_x = _spmm(ctx.adj, grad, None)
        grad_b = None
        if ctx.has_bias and ctx.needs_input_grad[2]:
            # g.sum(0) of a (169343, 64) float32 matrix took 64 us on an H100, the two-pass Triton
            # sum 32 us. Under create_graph keep the differentiable torch op.
            if triton_enabled(grad) and not torch.is_grad_enabled():
                grad_b = _triton_column_sum(grad)
            else:
                grad_b = grad.sum(0)
            grad_b = grad_b.to(ctx.bias_dtype)
        return grad_x, None, grad_b


def symmetric_spmm(adj: CSR, x: Tensor, bias: Tensor | None = None) -> Tensor:
    r"""Return :math:`\hat A x + b` for a symmetric sparse ``adj`` and dense ``x`` of shape ``(n, d)``.

    Differentiable in ``x`` and ``bias`` (twice: the backward calls this function again).

    Args:
        adj: the symmetric matrix :math:`\hat A`, ``(n, n)``, as :class:`CSR` arrays.
        x: dense ``(n, d)`` tensor, contiguous.
        bias: optional ``(d,)`` tensor added to every row.
    """
    return _SymmetricSpMM.apply(x, adj, bias)
