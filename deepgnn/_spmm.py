"""Sparse-dense products with the GCN-normalized adjacency; speed lives here, not in models.

Two kernels sit behind one autograd function:

* on CUDA, when Triton is importable, a CSR kernel of our own (:func:`_triton_spmm`): one
  program per row *segment*, the segment's features accumulated in registers, the bias and
  the activation applied in the epilogue, every output element written exactly once (no
  zero-fill pass). A row with more nonzeros than the plan's ``chunk`` is cut into segments of
  at most ``chunk`` nonzeros that run as programs of their own and write partial sums; a
  second small kernel adds up each long row's partials in a fixed order (deterministic, no
  atomics) and applies the bias and the activation there. So a hub with 44,000 neighbours no
  longer serializes its row in one program while the rest of the GPU idles;
* everywhere else ``torch.sparse.mm`` on the CSR tensor, then the activation in place.

Which of the two a graph takes, and the chunk, is a :class:`Plan` chosen once per graph and
device from its degree statistics (:func:`choose_plan`), exposed as ``Graph.kernel_info()``.
Under Triton's interpreter (``TRITON_INTERPRET=1`` set before Triton is imported) the same
kernels run on CPU tensors, which is how CI tests them without a GPU.

Both compute :math:`\\sigma(\\hat A X + b)` for :math:`\\sigma` in :data:`ACTIVATIONS`. The
backward turns the incoming gradient into :math:`G' = G \\odot \\sigma'(Y)` from the saved
output :math:`Y` (one pass, which also sums :math:`G'`'s columns for the bias gradient), then
reuses the forward kernel for :math:`\\hat A G'` because :math:`\\hat A` is symmetric.
"""

from __future__ import annotations

import functools
import math
import os
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "ACTIVATIONS",
    "CSR",
    "Plan",
    "act_grad",
    "choose_plan",
    "plan_for",
    "sparse_dtype",
    "symmetric_spmm",
    "triton_enabled",
]

#: Activations the kernels apply in their epilogue, in the order of their kernel codes.
ACTIVATIONS = ("identity", "tanh", "relu")
_ACT_CODE = {name: code for code, name in enumerate(ACTIVATIONS)}


class Plan(NamedTuple):
    """How the SpMM of one graph runs on one device, chosen from its degree statistics.

    Attributes:
        path: ``"row"`` (the Triton kernel, one program per row: no row is longer than
            ``chunk``), ``"split"`` (the Triton kernel over row segments of at most ``chunk``
            nonzeros, long rows finished by a reduction kernel) or ``"torch_sparse"``.
        chunk: the most nonzeros one program takes (0 on the ``torch_sparse`` path).
        info: what :meth:`Graph.kernel_info` shows: the statistics and the reasons.
        seg_ptr: ``(segments + 1,)`` start of each segment in the nonzeros (``"split"`` only).
        seg_tgt: ``(segments,)`` the output row of a whole-row segment, or ``-1 - slot`` for a
            segment of a long row, whose partial sum goes to row ``slot`` of the scratch.
        long_rows: ``(long,)`` the rows that were cut; long_ptr: ``(long + 1,)`` their slots.
    """

    path: str
    chunk: int
    info: dict[str, Any]
    seg_ptr: np.ndarray | None = None
    seg_tgt: np.ndarray | None = None
    long_rows: np.ndarray | None = None
    long_ptr: np.ndarray | None = None

    @property
    def slots(self) -> int:
        """The number of partial sums the long rows' segments write (0 unless ``"split"``)."""
        return 0 if self.long_ptr is None else int(self.long_ptr[-1])


class CSR(NamedTuple):
    """The arrays of a symmetric sparse matrix on one device, as the kernels take them.

    Attributes:
        sparse: the matrix as a torch sparse CSR tensor (the ``torch.sparse.mm`` path), in
            the dtype that path multiplies in (:func:`sparse_dtype`).
        crow: row pointers, int32 when the nonzeros fit, shape ``(n + 1,)``.
        col: column ids, int32, shape ``(nnz,)``.
        val: float32 values, shape ``(nnz,)`` (the Triton kernel accumulates in float32).
        path: the plan's path (``"row"``, ``"split"`` or ``"torch_sparse"``).
        seg_ptr, seg_tgt, long_rows, long_ptr: the plan's arrays on the device (int32/int64),
            ``None`` unless ``path == "split"``.
        slots: the number of partial sums the long rows' segments write.
    """

    sparse: Tensor
    crow: Tensor
    col: Tensor
    val: Tensor
    path: str = "row"
    seg_ptr: Tensor | None = None
    seg_tgt: Tensor | None = None
    long_rows: Tensor | None = None
    long_ptr: Tensor | None = None
    slots: int = 0


#: Resident programs per SM the chunk rule assumes: the kernel runs one warp per program, and a
#: Hopper or Ampere SM holds at most 32 blocks.
PROGRAMS_PER_SM = 32
#: Bounds of a segment's length in nonzeros: below 32, a program does too little to pay for its
#: launch slot; above 4096, one segment alone outlasts a typical row by 100x and more.
CHUNK_MIN, CHUNK_MAX = 32, 4096


def choose_plan(
    row_nnz: np.ndarray,
    *,
    sms: int,
    triton: bool = True,
    chunk: int | None = None,
) -> Plan:
    """Choose how the SpMM of a matrix with ``row_nnz[i]`` nonzeros in row ``i`` runs.

    The GPU runs about ``sms * PROGRAMS_PER_SM`` programs at once. If one program takes a
    whole row, the longest row's program runs long after the others have finished: on a
    power-law graph of ogbn-arxiv size (largest row 44,048 nonzeros, mean 14.8) that made the
    row-per-program kernel 2.3x slower than ``torch.sparse`` per training step (H200, width 64,
    depth 64; 485 ms a step). So rows longer than ``chunk`` are cut into segments of ``chunk``
    nonzeros (on ``deepgnn.bench``'s power-law 2.1 graph of that size, same machine: 43.7 ms a
    step, torch.sparse 204.5 ms; one product at width 64: 172.7 us
    against 3864 us with a program per row and 228.1 us for ``torch.sparse.mm``), with
    ``chunk`` a quarter of a fair share ``nnz / (sms * PROGRAMS_PER_SM)``, rounded down to a
    power of two and held within ``[CHUNK_MIN, CHUNK_MAX]``: no program then holds more than
    a quarter of the average work of a resident program. A matrix whose rows all
    fit keeps one program per row (``"row"``: no reduction kernel, nothing changes for
    uniform graphs).

    Args:
        row_nnz: nonzeros per row, shape ``(n,)``.
        sms: streaming multiprocessors of the device.
        triton: whether the Triton kernels can run there; if not, ``"torch_sparse"``.
        chunk: force this segment length (tests and tuning) instead of the rule.

    Returns:
        A :class:`Plan`; its ``info`` is what ``Graph.kernel_info()`` reports.
    """
    row_nnz = np.asarray(row_nnz, dtype=np.int64)
    n = row_nnz.shape[0]
    nnz = int(row_nnz.sum())
    longest = int(row_nnz.max()) if n else 0
    info: dict[str, Any] = {
        "rows": n,
        "nnz": nnz,
        "max_row_nnz": longest,
        "mean_row_nnz": round(nnz / n, 3) if n else 0.0,
        "empty_rows": int((row_nnz == 0).sum()),
    }
    if not triton:
        info.update(path="torch_sparse", chunk=0, reasons=["Triton kernels unavailable here"])
        return Plan("torch_sparse", 0, info)
    programs = sms * PROGRAMS_PER_SM
    reasons = []
    if chunk is None:
        share = nnz / programs / 4
        chunk = 2 ** int(math.floor(math.log2(share))) if share >= 1 else 1
        chunk = min(max(chunk, CHUNK_MIN), CHUNK_MAX)
        reasons.append(
            f"chunk {chunk}: a quarter of the fair share nnz / (sms * {PROGRAMS_PER_SM}) = "
            f"{nnz / programs:.1f} nonzeros per program, as a power of two in "
            f"[{CHUNK_MIN}, {CHUNK_MAX}]"
        )
    else:
        reasons.append(f"chunk {chunk}: given")
    info.update(chunk=chunk, resident_programs=programs)
    long = row_nnz > chunk
    if not long.any():
        reasons.append(f"every row has at most {chunk} nonzeros: one program per row")
        info.update(path="row", long_rows=0, segments=n, reasons=reasons)
        return Plan("row", chunk, info)
    pieces = np.where(long, -(-row_nnz // chunk), 1)
    crow = np.concatenate([[0], np.cumsum(row_nnz)])
    seg_row = np.repeat(np.arange(n), pieces)
    first = np.concatenate([[0], np.cumsum(pieces)[:-1]])
    k = np.arange(seg_row.shape[0]) - first[seg_row]
    seg_ptr = np.concatenate([crow[seg_row] + k * chunk, [nnz]])
    in_long = long[seg_row]
    slot = np.cumsum(in_long) - 1
    seg_tgt = np.where(in_long, -1 - slot, seg_row)
    long_rows = np.flatnonzero(long)
    long_ptr = np.concatenate([[0], np.cumsum(pieces[long])])
    reasons.append(
        f"{int(long.sum())} rows longer than {chunk} nonzeros (the longest {longest}) are cut "
        f"into {int(pieces[long].sum())} segments whose partial sums a second kernel adds up"
    )
    info.update(
        path="split",
        long_rows=int(long.sum()),
        segments=int(seg_row.shape[0]),
        long_row_nnz=int(row_nnz[long].sum()),
        reasons=reasons,
    )
    return Plan("split", chunk, info, seg_ptr, seg_tgt, long_rows, long_ptr)


def plan_for(row_nnz: np.ndarray, device: torch.device, *, chunk: int | None = None) -> Plan:
    """:func:`choose_plan` for ``device``: its SM count, and whether Triton can run there."""
    triton = _triton_importable() and (
        device.type == "cuda" or (device.type == "cpu" and _interpreting())
    )
    plan = choose_plan(row_nnz, sms=_sm_count(device), triton=triton, chunk=chunk)
    if not triton:
        why = "CPU tensors: torch.sparse.mm" if device.type == "cpu" else "triton not importable"
        plan.info["reasons"] = [why]
    return plan


@functools.cache
def _triton_importable() -> bool:
    try:
        import triton  # noqa: F401
        import triton.language  # noqa: F401
    except ImportError:
        return False
    return True


def _interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET") == "1"


def triton_enabled(x: Tensor) -> bool:
    """Whether ``symmetric_spmm`` may run the Triton kernels for ``x``.

    True on CUDA with Triton importable, and for float32 CPU tensors under Triton's
    interpreter (``TRITON_INTERPRET=1``, how the kernels are tested without a GPU). The graph's
    :class:`Plan` can still send its product to ``torch.sparse.mm``.
    """
    if x.is_cuda:
        return x.dtype in _TRITON_DTYPES and _triton_importable()
    # The interpreter computes with numpy, which has no bfloat16.
    cpu = x.device.type == "cpu" and x.dtype == torch.float32
    return cpu and _interpreting() and _triton_importable()


_TRITON_DTYPES = (torch.float32, torch.bfloat16, torch.float16)


@functools.cache
def _kernels() -> Any:  # built on first use so that `import deepgnn` needs no triton
    import triton

    from deepgnn import _triton_kernels as k

    return triton, k.csr_spmm, k.act_backward, k.reduce_long


# One warp gathers 8 neighbour rows at a time, 64 columns per program: timed best on an H100
# (torch 2.11, Triton 3.6, arxiv-sized random graph) over BLOCK_K in {4, 8, 16}, num_warps in
# {1, 2, 4} and BLOCK_D in {32, ..., width}, for widths 64, 128 and 256 (width 40: within 8%).
# Wider features are split into column blocks of 64 that run one after another, so the slice
# of x being gathered (N x 64 floats = 43 MB at arxiv size) stays in the 50 MB L2: at width 256
# this took the SpMM from 791 us (one block of 256) to 560 us; torch.sparse.mm takes 892 us.
@functools.cache
def _spmm_config(d: int, split: bool = False) -> tuple[int, int, int]:
    """``(BLOCK_K, BLOCK_D, num_warps)`` for feature width ``d`` on the row or split path."""
    import triton

    if split and d > 64:
        # Power-law graph of arxiv size, width 256 (H200, torch 2.11, Triton 3.6): 464 us with
        # 4 neighbour rows x 128 columns per program, against 566 us with 8 x 64 and 517 us for
        # torch.sparse.mm in the same run; on the Erdős–Rényi graph (row path) 8 x 64 stays best.
        return 4, min(triton.next_power_of_2(d), 128), 1
    return 8, min(max(triton.next_power_of_2(d), 16), 64), 1


def _triton_spmm(adj: CSR, x: Tensor, bias: Tensor | None, activation: str = "identity") -> Tensor:
    triton, kernel, _, reduce_long = _kernels()
    n, d = x.shape
    out = torch.empty_like(x)
    if n == 0 or d == 0:
        return out
    split = adj.path == "split"
    block_k, block_d, num_warps = _spmm_config(d, split)
    blocks = triton.cdiv(d, block_d)
    act = _ACT_CODE[activation]
    if split:
        assert adj.seg_ptr is not None and adj.seg_tgt is not None  # noqa: S101 -- our plan
        assert adj.long_rows is not None and adj.long_ptr is not None  # noqa: S101
        ptr, tgt, programs = adj.seg_ptr, adj.seg_tgt, adj.seg_tgt.numel()
        long: tuple[Tensor, Tensor] | None = (adj.long_rows, adj.long_ptr)
        # Partial sums of the long rows' segments: a few MB at most (slots x d float32).
        partial = torch.empty(adj.slots, d, device=x.device, dtype=torch.float32)
    else:
        ptr, tgt, programs, partial, long = adj.crow, adj.crow, n, out, None
    kernel[(programs, blocks)](
        ptr,
        tgt,
        adj.col,
        adj.val,
        x,
        bias if bias is not None else x,
        out,
        partial,
        d,
        x.stride(0),
        out.stride(0),
        SPLIT=split,
        HAS_BIAS=bias is not None,
        ACT=act,
        BLOCK_K=block_k,
        BLOCK_D=block_d,
        num_warps=num_warps,
    )
    if long is not None:  # the split path
        long_rows, long_ptr = long
        reduce_long[(long_rows.numel(), blocks)](
            long_rows,
            long_ptr,
            partial,
            bias if bias is not None else x,
            out,
            d,
            out.stride(0),
            HAS_BIAS=bias is not None,
            ACT=act,
            BLOCK_S=8,
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
    _, _, kernel, _ = _kernels()
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
    sums = _triton_act_backward(g, None, "identity", True, **geometry)[1]
    assert sums is not None  # noqa: S101 -- column_sum=True always returns them
    return sums


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
    if device.type != "cuda":  # Triton's interpreter on the CPU: a nominal count
        return 4
    return torch.cuda.get_device_properties(device).multi_processor_count


#: The dtypes ``torch.sparse.mm`` multiplies with a CSR matrix on the CPU (torch 2.13's MKL
#: kernels; bfloat16 and float16 raise "addmm_out_sparse_csr_impl_mkl not implemented").
_CPU_SPARSE_DTYPES = (torch.float32, torch.float64)


def sparse_dtype(device: torch.device, dtype: torch.dtype) -> torch.dtype:
    """The dtype the ``torch.sparse.mm`` path multiplies features of ``dtype`` in on ``device``:
    ``dtype`` itself, or float32 where the CPU sparse backend lacks ``dtype``.

    Example:
        >>> sparse_dtype(torch.device("cpu"), torch.bfloat16), sparse_dtype(
        ...     torch.device("cpu"), torch.float64)
        (torch.float32, torch.float64)
    """
    if device.type == "cpu" and dtype not in _CPU_SPARSE_DTYPES:
        return torch.float32
    return dtype


def _spmm(adj: CSR, x: Tensor, bias: Tensor | None, activation: str) -> Tensor:
    if adj.path != "torch_sparse" and triton_enabled(x):
        return _triton_spmm(adj, x, bias, activation)
    kind = x.device.type
    if torch.is_autocast_enabled(kind):
        # The product computes in the dtype it is given (graph.spmm returns x's dtype);
        # autocast would cast torch.sparse.addmm's operands to bfloat16.
        with torch.autocast(kind, enabled=False):
            return _spmm(adj, x, bias, activation)
    if adj.sparse.dtype != x.dtype:
        # bfloat16 features on the CPU (bf16 autocast: the layers' matmuls return bfloat16),
        # which the CPU sparse backend cannot multiply: multiply in float32, accumulating
        # there as the Triton kernel does on CUDA, and round once to x's dtype.
        wide = adj.sparse.dtype
        b = None if bias is None else bias.to(wide)
        return _spmm(adj, x.to(wide), b, activation).to(x.dtype)
    if bias is not None and bias.dtype != x.dtype:
        bias = bias.to(x.dtype)  # a float32 bias of bfloat16 features (autocast)
    if bias is None:
        out = torch.sparse.mm(adj.sparse, x)
    else:
        out = torch.sparse.addmm(bias.expand(x.shape[0], -1), adj.sparse, x)
    if activation == "tanh":
        out.tanh_()
    elif activation == "relu":
        out.relu_()
    return out


def act_grad(grad: Tensor, y: Tensor | None, activation: str) -> Tensor:
    """``grad * act'(y)`` with the ops autograd uses for ``tanh`` / ``relu`` (differentiable)."""
    if activation == "tanh":
        return torch.ops.aten.tanh_backward(grad, y)
    if activation == "relu":
        return torch.ops.aten.threshold_backward(grad, y, 0)
    return grad


class _SymmetricSpMM(torch.autograd.Function):
    """``act(Â @ x + bias)`` for a symmetric sparse ``Â`` whose backward reuses the forward kernel."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, adj: CSR, bias: Tensor | None, activation: str) -> Tensor:
        ctx.adj = adj
        ctx.activation = activation
        ctx.has_bias = bias is not None
        ctx.bias_dtype = None if bias is None else bias.dtype
        out = _spmm(adj, x, bias, activation)
        if activation != "identity":
            ctx.save_for_backward(out)  # act' is a function of the output: 1 - y^2, [y > 0]
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, None, Tensor | None, None]:
        grad = grad.contiguous()
        y = ctx.saved_tensors[0] if ctx.activation != "identity" else None
        need_x = ctx.needs_input_grad[0]
        need_b = ctx.has_bias and ctx.needs_input_grad[2]
        if torch.is_grad_enabled():
            # create_graph=True (SPoGInit's gradient search, analyze): differentiable torch
            # ops, and Â·G' through this Function again, so that double backward works.
            g = act_grad(grad, y, ctx.activation)
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
                g = act_grad(grad, y, ctx.activation)
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
