"""DGL layers behind deepgnn's layer API (``build(..., backend="dgl")``).

The families in :mod:`deepgnn.models` are written once; with ``backend="dgl"`` their
graph layers are ``dgl.nn.GraphConv`` / ``dgl.nn.GATConv``. Both backends compute the
same function with the same parameters (a parity test pins this on Cora).
"""

from __future__ import annotations

from torch import Tensor, nn

from deepgnn._dgl import import_dgl
from deepgnn.graph import Graph
from deepgnn.models._base import LayerWeight

__all__ = ["DGLGraphConv", "DGLGATConv"]


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
