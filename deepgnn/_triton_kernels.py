"""deepgnn's Triton kernels; imported by :mod:`deepgnn._spmm` on first use only.

They live at module level because Triton resolves the names a kernel uses (``_tanh``) among
its module's globals, in compiled mode and in its interpreter alike. Import this module after
setting ``TRITON_INTERPRET``: it picks the interpreter's tanh then.
"""

# ruff: noqa: ANN001, ANN201

import os

import triton
import triton.language as tl

try:
    from triton.language.extra import libdevice
except ImportError:  # Triton < 3.1
    libdevice = tl.math

__all__ = ["act_backward", "csr_spmm", "reduce_long"]

if os.environ.get("TRITON_INTERPRET") == "1":

    @triton.jit
    def _tanh(x):
        # Triton's interpreter (3.9) has no libdevice: the same function through exp, within a
        # few float32 ulps of tanhf away from 0 and exact at the saturated ends.
        return 1.0 - 2.0 / (tl.exp(2.0 * x) + 1.0)

else:

    @triton.jit
    def _tanh(x):
        return libdevice.tanh(x)  # the CUDA math library's tanhf, as torch.tanh uses


@triton.jit
def _epilogue(res, bias, offs_d, mask_d, HAS_BIAS: tl.constexpr, ACT: tl.constexpr):
    # bias, then the activation (0: identity, 1: tanh, 2: relu) of a finished row's sum
    if HAS_BIAS:
        res = res + tl.load(bias + offs_d, mask=mask_d, other=0.0).to(tl.float32)
    if ACT == 1:
        res = _tanh(res)
    elif ACT == 2:
        res = tl.where(res < 0.0, 0.0, res)  # NaN stays NaN, as in torch.relu
    return res


@triton.jit
def csr_spmm(
    ptr,
    tgt,
    col,
    val,
    x,
    bias,
    out,
    partial,
    d,
    stride_x,
    stride_out,
    SPLIT: tl.constexpr,
    HAS_BIAS: tl.constexpr,
    ACT: tl.constexpr,
    BLOCK_K: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    # Over the nonzeros [ptr[s], ptr[s + 1]) of segment s = program_id(0) and the column
    # block J = program_id(1): res = sum_k val[k] * x[col[k], J]. Without SPLIT, ptr is the
    # CSR row pointer and segment s is row s; with SPLIT, tgt[s] >= 0 names the row that
    # segment s is all of, and tgt[s] < 0 the slot -1 - tgt[s] of partial where a segment of
    # a long row leaves its sum for reduce_long. Segments vary fastest in launch order, so
    # all segments of one column block run together and its slice of x can stay in L2.
    seg = tl.program_id(0)
    start = tl.load(ptr + seg)
    end = tl.load(ptr + seg + 1)
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
        acc = acc + xs.to(tl.float32) * v[:, None]
    res = tl.sum(acc, axis=0)
    if SPLIT:
        row = tl.load(tgt + seg).to(tl.int64)
    else:
        row = seg.to(tl.int64)
    if row < 0:
        tl.store(partial + (-1 - row) * d + offs_d, res, mask=mask_d)
    else:
        res = _epilogue(res, bias, offs_d, mask_d, HAS_BIAS, ACT)
        tl.store(out + row * stride_out + offs_d, res.to(out.dtype.element_ty), mask=mask_d)


@triton.jit
def reduce_long(
    long_rows,
    long_ptr,
    partial,
    bias,
    out,
    d,
    stride_out,
    HAS_BIAS: tl.constexpr,
    ACT: tl.constexpr,
    BLOCK_S: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    # out[long_rows[h], J] = act(sum of partial[long_ptr[h]:long_ptr[h + 1], J] (+ bias)):
    # the slots of one long row are added in their order, so the result is deterministic.
    h = tl.program_id(0)
    lo = tl.load(long_ptr + h)
    hi = tl.load(long_ptr + h + 1)
    offs_d = tl.program_id(1) * BLOCK_D + tl.arange(0, BLOCK_D)
    mask_d = offs_d < d
    acc = tl.zeros((BLOCK_S, BLOCK_D), dtype=tl.float32)
    for s0 in range(lo, hi, BLOCK_S):
        offs_s = s0 + tl.arange(0, BLOCK_S)
        m = (offs_s < hi)[:, None] & mask_d[None, :]
        acc = acc + tl.load(
            partial + offs_s.to(tl.int64)[:, None] * d + offs_d[None, :], mask=m, other=0.0
        )
    res = _epilogue(tl.sum(acc, axis=0), bias, offs_d, mask_d, HAS_BIAS, ACT)
    row = tl.load(long_rows + h).to(tl.int64)
    tl.store(out + row * stride_out + offs_d, res.to(out.dtype.element_ty), mask=mask_d)


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
            acc = acc + gv
    if SUM:
        tl.store(partial + pid * d + offs_d, tl.sum(acc, axis=0), mask=mask_d)
