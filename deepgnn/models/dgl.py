"""DGL layers behind deepgnn's layer API (``build(..., backend="dgl")``).

The families in :mod:`deepgnn.models` are written once; with ``backend="dgl"`` their
graph layers are ``dgl.nn.GraphConv`` / ``dgl.nn.GATConv`` / ``dgl.nn.GCN2Conv`` /
``dgl.nn.APPNPConv``. Both backends compute the same function with the same parameters
(parity tests pin this on Cora).
"""

from __future__ import annotations

import functools
import math
from typing import Any, cast

import torch
from torch import Tensor, nn

from deepgnn._dgl import import_dgl
from deepgnn.graph import Graph
from deepgnn.models._base import LayerWeight

__all__ = ["DGLGraphConv", "DGLGATConv", "DGLGCN2Conv", "DGLAPPNPConv"]


class DGLGraphConv(nn.Module):
    r"""``dgl.nn.GraphConv`` computing :math:`\hat A X W + b` on a :class:`~deepgnn.Graph`.

    DGL normalizes by unweighted degrees (``norm="both"``); to compute exactly
    :math:`\hat A` on weighted graphs too, the layer runs with ``norm="none"`` and passes
    :math:`\hat A`'s values as edge weights. ``GraphConv.weight`` is stored ``(in, out)``;
    :meth:`layer_weight` hands its transpose so that fan-based inits see ``(out, in)``.
    """

    def __init__(self, in_dim: int, out_dim: int, bias: bool = True) -> None:
        super().__init__()
        dgl = import_dgl()
        self.conv = dgl.nn.GraphConv(
            in_dim, out_dim, norm="none", weight=True, bias=bias, allow_zero_in_degree=True
        )

    def reset_parameters(self) -> None:
        """Re-draw the parameters with DGL's own initialization."""
        self.conv.reset_parameters()

    def forward(self, graph: Graph, x: Tensor) -> Tensor:
        """Return DGL's ``GraphConv`` of ``x`` (``(num_nodes, in_dim)``) with Â's edge weights."""
        g = graph.to_dgl()
        return self.conv(g, x, edge_weight=g.edata["w"].to(x.dtype))

    def layer_weight(self, prefix: str) -> LayerWeight:
        """This layer's weight as a :class:`~deepgnn.models.LayerWeight` named ``prefix``."""
        return LayerWeight(
            f"{prefix}.conv.weight", self.conv.weight, transposed=True, bias=self.conv.bias
        )


class DGLGATConv(nn.Module):
    """``dgl.nn.GATConv`` over the edges of :math:`A + I`; output ``(num_nodes, heads, out_dim)``."""

    def __init__(self, in_dim: int, out_dim: int, heads: int, bias: bool = True) -> None:
        super().__init__()
        dgl = import_dgl()
        self.conv = dgl.nn.GATConv(in_dim, out_dim, heads, allow_zero_in_degree=True, bias=bias)

    def reset_parameters(self) -> None:
        """Re-draw the parameters with DGL's own initialization."""
        self.conv.reset_parameters()

    def forward(self, graph: Graph, x: Tensor) -> Tensor:
        """Return DGL's ``GATConv`` of ``x`` (``(num_nodes, in_dim)``), heads concatenated."""
        return self.conv(graph.to_dgl(), x)

    def layer_weight(self, prefix: str) -> LayerWeight:
        """This layer's weight as a :class:`~deepgnn.models.LayerWeight` named ``prefix``."""
        return LayerWeight(f"{prefix}.conv.fc.weight", self.conv.fc.weight, bias=self.conv.bias)


def _raw_edge_weights(graph: Graph, g: Any, dtype: torch.dtype) -> Tensor:
    r"""The weights of :math:`A + I` on the edges of ``g = graph.to_dgl()``.

    ``GCN2Conv`` and ``APPNPConv`` normalize the edge weights they are given themselves
    (``EdgeWeightNorm("both")``: :math:`w_{ij} / \sqrt{d_i d_j}` with weighted degrees), so
    they get :math:`\hat A_{ij} \sqrt{d_i d_j}`, which they turn back into :math:`\hat A`
    on weighted graphs too; without weights they would normalize by unweighted degrees.
    """
    src, dst = g.edges()
    deg = graph.degree  # of A + I, float64
    w = g.edata["w"].to(torch.float64) * (deg[src] * deg[dst]).sqrt()
    return w.to(dtype)


@functools.cache
def _gcn2conv_class() -> type[nn.Module]:
    dgl = import_dgl()

    base: Any = dgl.nn.GCN2Conv  # DGL has no type information

    class GCN2Conv(base):
        # DGL draws weight1 from N(0, 1); the GCNII authors (and deepgnn's GCNIIConv) from
        # U(+-1/sqrt(width)). An override, so that every reset_parameters call draws the same.
        def reset_parameters(self) -> None:
            bound = 1.0 / math.sqrt(self._in_feats)
            nn.init.uniform_(self.weight1, -bound, bound)

    return GCN2Conv


class DGLGCN2Conv(nn.Module):
    r"""``dgl.nn.GCN2Conv`` (shared weight, no bias) computing GCNII's layer on :math:`\hat A`.

    ``weight1`` is stored ``(in, out)``; ``layer_weight`` hands its transpose.
    """

    def __init__(self, width: int, *, layer: int, alpha: float, lamda: float) -> None:
        super().__init__()
        self.conv = _gcn2conv_class()(
            width,
            layer,
            alpha=alpha,
            lambda_=lamda,
            project_initial_features=True,
            allow_zero_in_degree=True,
            bias=False,
        )

    def forward(self, graph: Graph, h: Tensor, h0: Tensor) -> Tensor:
        """GCNII's layer on the DGL graph of ``graph``, with Â's weights."""
        g = graph.to_dgl()
        return self.conv(g, h, h0, edge_weight=_raw_edge_weights(graph, g, h.dtype))

    def layer_weight(self, prefix: str) -> LayerWeight:
        """``weight1`` in ``(out, in)`` view."""
        weight1 = cast(Tensor, self.conv.weight1)  # nn.Module attribute lookup is untyped
        return LayerWeight(f"{prefix}.conv.weight1", weight1, transposed=True)


class DGLAPPNPConv(nn.Module):
    r"""``dgl.nn.APPNPConv``: ``k`` steps :math:`z \leftarrow (1-\alpha)\hat A z + \alpha z_0`."""

    def __init__(self, k: int, alpha: float) -> None:
        super().__init__()
        self.conv = import_dgl().nn.APPNPConv(k, alpha)

    def forward(self, graph: Graph, z: Tensor) -> Tensor:
        """APPNP's propagation steps on the DGL graph of ``graph``, with Â's weights."""
        g = graph.to_dgl()
        return self.conv(g, z, edge_weight=_raw_edge_weights(graph, g, z.dtype))
