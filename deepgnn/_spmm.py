"""Sparse-dense products with the GCN-normalized adjacency; speed lives here, not in models.

Two kernels sit behind one autograd function:

* on CUDA, when Triton is importable, a CSR kernel of our own (:func:`_triton_spmm`): one
  program per row, the row's features accumulated in registers, the bias and the activation
  applied in the epilogue, every output element written exactly once (no zero-fill pass);
* everywhere else ``torch.sparse.mm`` on the CSR tensor, then the activation in place.

Both compute :math:`\\sigma(\\hat A X + b)` for :math:`\\sigma` in :data:`ACTIVATIONS`. The
backward turns the incoming gradient into :math:`G' = G \\odot \\sigma'(Y)` from the saved
output :math:`Y` (one pass, which also sums :math:`G'`'s columns for the bias gradient), then
reuses the forward kernel for :math:`\\hat A G'` because :math:`\\hat A` is symmetric.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import torch
from torch import Tensor

__all__ = ["ACTIVATIONS", "CSR", "symmetric_spmm", "triton_enabled"]

#: Activations the kernels apply in their epilogue, in the order of their kernel codes.
ACTIVATIONS = ("identity", "tanh", "relu")
_ACT_CODE = {name: code for code, name in enumerate(ACTIVATIONS)}


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
    """Whether ``symmetric_spmm`` runs the Triton kernels for ``x`` (CUDA, Triton importable)."""
    return x.is_cuda and x.dtype in _TRITON_DTYPES and _triton_importable()


_TRITON_DTYPES = (torch.float32, torch.bfloat16, torch.float16)


@functools.cache
def _kernels():  # noqa: ANN202 -- built on first use so that `import deepgnn` needs no triton
    import triton
    import triton.language as tl

    try:
        from triton.language.extra import libdevice
    except ImportError:  # Triton < 3.1
        libdevice = tl.math

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
        ACT: tl.constexpr,
        BLOCK_K: tl.constexpr,
        BLOCK_D: tl.constexpr,
    ):
        # out[i, J] = act(sum_k val[k] * x[col[k], J] (+ bias[J])) over row i's nonzeros k, for
        # the column block J = program_id(1). Rows vary fastest in launch order, so all rows of
        # one column block run together and its slice of x can stay in L2.
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
        if ACT == 1:
            res = libdevice.tanh(res)  # the CUDA math library's tanhf, as torch.tanh uses
        elif ACT == 2:
            res = tl.where(res < 0.0, 0.0, res)  # NaN stays NaN, as in torch.relu
        tl.store(
            out + row.to(tl.int64) * stride_out + offs_d,
            res.to(out.dtype.element_ty),
            mask=mask_d,
        )

    @triton.jit
    def act_backward(
        g,
        y,
        gp,
        partial,
        n,
        d,
        stride_g,
        stride_y,
        stride_gp,
        rows_per_prog,
        ACT: tl.constexpr,
        SUM: tl.constexpr,
        BLOCK_N: tl.constexpr,
        BLOCK_D: tl.constexpr,
    ):
        # Over the rows [p * rows_per_prog, (p + 1) * rows_per_prog) of program p:
        # gp = g * act'(y), with act' taken from the output y (ACT 0: gp is g, nothing is
        # written), and with SUM, partial[p] = the column sums of gp, in float32.
        pid = tl.program_id(0)
        offs_d = tl.arange(0, BLOCK_D)
        mask_d = offs_d < d
        acc = tl.zeros((BLOCK_N, BLOCK_D), dtype=tl.float32)
        lo = pid * rows_per_prog
        hi = tl.minimum(lo + rows_per_prog, n)
        for r0 in range(lo, hi, BLOCK_N):
            rows = r0 + tl.arange(0, BLOCK_N)
            m = (rows < hi)[:, None] & mask_d[None, :]
            rows = rows.to(tl.int64)
            gv = tl.load(g + rows[:, None] * stride_g + offs_d[None, :], mask=m, other=0.0)
            gv = gv.to(tl.float32)
            if ACT != 0:
                yv = tl.load(y + rows[:, None] * stride_y + offs_d[None, :], mask=m, other=0.0)
                yv = yv.to(tl.float32)
                if ACT == 1:
                    gv = gv * (1.0 - yv * yv)  # tanh' = 1 - tanh^2, as aten's tanh_backward
                else:
                    gv = tl.where(yv <= 0.0, 0.0, gv)  # as aten's threshold_backward
                tl.store(
                    gp + rows[:, None] * stride_gp + offs_d[None, :],
                    gv.to(gp.dtype.element_ty),
                    mask=m,
                )
            if SUM:
                acc += gv
        if SUM:
            tl.store(partial + pid * d + offs_d, tl.sum(acc, axis=0), mask=mask_d)

    return triton, csr_spmm, act_backward


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


def _triton_spmm(adj: CSR, x: Tensor, bias: Tensor | None, activation: str = "identity") -> Tensor:
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
        ACT=_ACT_CODE[activation],
        BLOCK_K=block_k,
        BLOCK_D=block_d,
        num_warps=num_warps,
    )
    return out


def _triton_act_backward(
    g: Tensor,
    y: Tensor | None,
    activation: str,
    column_sum: bool,
    *,
    programs_per_sm: int = 4,
    block_elems: int = 8192,
    num_warps: int = 8,
) -> tuple[Tensor, Tensor | None]:
    """``(g * act'(y), its column sums in float32 or None)`` in one pass over ``g`` and ``y``.

    Each of a few programs per SM walks a contiguous slab of rows and writes one row of
    partial column sums; one small ``sum`` adds them up. Defaults timed on an H100 (arxiv
    size, L2 flushed) for the column sum alone: 33 us at d=64 and 83 us at d=256, against 65
    and 161 us for ``g.sum(0)``; with tanh's derivative, 62 us at d=64 and 204 us at d=256
    (2.5 TB/s; a device-to-device copy runs at 2.95 TB/s there).
    """
    _, _, kernel = _kernels()
    n, d = g.shape
    act = _ACT_CODE[activation]
    gp = g if act == 0 else torch.empty_like(g)
    if n == 0 or d == 0:
        return gp, (torch.zeros(d, device=g.device) if column_sum else None)
    block_n, block_d, programs, rows_per_prog = _column_geometry(
        n, d, _sm_count(g.device), programs_per_sm, block_elems
    )
    partial = torch.empty(programs if column_sum else 1, d, device=g.device, dtype=torch.float32)
    kernel[(programs,)](
        g,
        g if y is None else y,
        gp,
        partial,
        n,
        d,
        g.stride(0),
        g.stride(0) if y is None else y.stride(0),
        gp.stride(0),
        rows_per_prog,
        ACT=act,
        SUM=column_sum,
        BLOCK_N=block_n,
        BLOCK_D=block_d,
        num_warps=num_warps,
    )
    return gp, (partial.sum(0) if column_sum else None)


def _triton_column_sum(g: Tensor, **geometry: int) -> Tensor:
    """Column sums of ``g`` ``(n, d)`` in float32 (the bias gradient of the identity case)."""
    return _triton_act_backward(g, None, "identity", True, **geometry)[1]


@functools.cache
def _column_geometry(
    n: int, d: int, sms: int, programs_per_sm: int, block_elems: int
) -> tuple[int, int, int, int]:
    """``(BLOCK_N, BLOCK_D, programs, rows_per_program)``: a few programs per SM, each walking a
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


def _spmm(adj: CSR, x: Tensor, bias: Tensor | None, activation: str) -> Tensor:
    if triton_enabled(x):
        return _triton_spmm(adj, x, bias, activation)
    if bias is None:
        out = torch.sparse.mm(adj.sparse, x)
    else:
        out = torch.sparse.addmm(bias.expand(x.shape[0], -1), adj.sparse, x)
    if activation == "tanh":
        out.tanh_()
    elif activation == "relu":
        out.relu_()
    return out


def _act_grad(grad: Tensor, y: Tensor | None, activation: str) -> Tensor:
    """``grad * act'(y)`` with the ops autograd uses for ``tanh`` / ``relu`` (differentiable)."""
    if activation == "tanh":
        return torch.ops.aten.tanh_backward(grad, y)
    if activation == "relu":
        return torch.ops.aten.threshold_backward(grad, y, 0)
    return grad


class _SymmetricSpMM(torch.autograd.Function):
    """``act(Â @ x + bias)`` for a symmetric sparse ``Â`` whose backward reuses the forward kernel."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx, x: Tensor, adj: CSR, bias: Tensor | None, activation: str
    ) -> Tensor:
        ctx.adj = adj
        ctx.activation = activation
        ctx.has_bias = bias is not None
        ctx.bias_dtype = None if bias is None else bias.dtype
        out = _spmm(adj, x, bias, activation)
        if activation != "identity":
            ctx.save_for_backward(out)  # act' is a function of the output: 1 - y^2, [y > 0]
        return out

    @staticmethod
    def backward(  # type: ignore[override]
        ctx, grad: Tensor
    ) -> tuple[Tensor | None, None, Tensor | None, None]:
        grad = grad.contiguous()
        y = ctx.saved_tensors[0] if ctx.activation != "identity" else None
        need_x = ctx.needs_input_grad[0]
        need_b = ctx.has_bias and ctx.needs_input_grad[2]
        if torch.is_grad_enabled():
            # create_graph=True (SPoGInit's gradient search, analyze): differentiable torch
            # ops, and Â·G' through this Function again, so that double backward works.
            g = _act_grad(grad, y, ctx.activation)
            grad_x = _SymmetricSpMM.apply(g, ctx.adj, None, "identity") if need_x else None
            grad_b = g.sum(0) if need_b else None
        elif ctx.activation == "identity" and not need_b:
            g, grad_b = grad, None
            grad_x = _spmm(ctx.adj, g, None, "identity") if need_x else None
        else:
            if triton_enabled(grad):
                # One pass for G' = G * act'(Y) and its column sums, where separate ops take
                # two or three (tanh's backward, then G'.sum(0)). Fused into the SpMM this way,
                # tanh cut a depth-64 gcn step on an H100 from 36.1-36.6 ms to 34.1-34.3 ms
                # (width 64) and from 184.5 to 175.4 ms (width 256).
                g, grad_b = _triton_act_backward(grad, y, ctx.activation, need_b)
            else:
                g = _act_grad(grad, y, ctx.activation)
                grad_b = g.sum(0) if need_b else None
            # Â is symmetric, so the backward of Â·X is Â·G: reuse the forward kernel instead of
            # the sparse transpose torch.sparse builds on every backward (~2x per step, H100).
            grad_x = _spmm(ctx.adj, g, None, "identity") if need_x else None
        if grad_b is not None:
            grad_b = grad_b.to(ctx.bias_dtype)
        return grad_x, None, grad_b, None


def symmetric_spmm(
    adj: CSR, x: Tensor, bias: Tensor | None = None, activation: str = "identity"
) -> Tensor:
    r"""Return :math:`\sigma(\hat A x + b)` for a symmetric sparse ``adj`` and dense ``x``.

    Differentiable in ``x`` and ``bias``, twice (under ``create_graph`` the backward is built
    from differentiable ops and this function).

    Args:
        adj: the symmetric matrix :math:`\hat A`, ``(n, n)``, as :class:`CSR` arrays.
        x: dense ``(n, d)`` tensor, contiguous.
        bias: optional ``(d,)`` tensor added to every row.
        activation: :math:`\sigma`, one of :data:`ACTIVATIONS` (the caller checks it).
    """
    return _SymmetricSpMM.apply(x, adj, bias, activation)
