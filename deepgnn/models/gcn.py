"""Graph convolution (Kipf & Welling, ICLR 2017) and the plain deep GCN family."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deepgnn.graph import Graph
from deepgnn.models._base import ACTIVATIONS, GNN, LayerWeight

__all__ = ["GCN", "GCNConv", "make_gcn_conv"]


class GCNConv(nn.Module):
    r"""One graph convolution :math:`\hat A X W^\top + b`.

    Kipf & Welling, "Semi-Supervised Classification with Graph Convolutional
    Networks", ICLR 2017, eq. 2. Weights start Xavier-uniform and biases at zero,
    as in PyG's ``GCNConv`` and DGL's ``GraphConv``.

    Shapes:
        x ``(num_nodes, in_dim)`` -> ``(num_nodes, out_dim)``; ``weight`` is ``(out_dim, in_dim)``.
    """

    def __init__(self, in_dim: int, out_dim: int, bias: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_dim, in_dim))
        self.bias = nn.Parameter(torch.empty(out_dim)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw the weight Xavier-uniform and zero the bias."""
        nn.init.xavier_uniform_(self.weight)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, graph: Graph, x: Tensor, activation: str = "identity") -> Tensor:
        """Return ``activation(Â x Wᵀ + b)``; ``activation`` is one of ``SPMM_ACTIVATIONS``."""
        out_dim, in_dim = self.weight.shape
        # Multiply by W on the narrower side of the product: fewer columns to propagate.
        if out_dim <= in_dim:
            return graph.spmm(F.linear(x, self.weight), bias=self.bias, activation=activation)
        out = F.linear(graph.spmm(x), self.weight, self.bias)
        return out if activation == "identity" else ACTIVATIONS[activation](out)

    def layer_weight(self, prefix: str) -> LayerWeight:
        """This layer's weight as a :class:`~deepgnn.models.LayerWeight` named ``prefix``."""
        return LayerWeight(f"{prefix}.weight", self.weight, bias=self.bias)


def make_gcn_conv(backend: str, in_dim: int, out_dim: int, bias: bool) -> nn.Module:
    """Return a graph convolution of ``backend`` with the ``forward(graph, x)`` / ``layer_weight`` API."""
    if backend == "dgl":
        from deepgnn.models.dgl import DGLGraphConv

        return DGLGraphConv(in_dim, out_dim, bias)
    return GCNConv(in_dim, out_dim, bias)


class GCN(GNN):
    r"""Deep GCN: ``depth`` graph convolutions, each hidden one followed by norm, activation, dropout.

    .. math:: h_l = \mathrm{drop}(\sigma(\mathrm{norm}(\hat A h_{l-1} W_l^\top + b_l))),
        \quad h_L = \hat A h_{L-1} W_L^\top + b_L

    Widths: ``in_dim -> width -> ... -> width -> out_dim`` (``depth=1``: ``in_dim -> out_dim``).
    This is ``MyGCN`` of Wang et al., "Exploring and Improving Initialization for Deep
    Graph Neural Networks: A Signal Propagation Perspective", TMLR 2025 (arXiv 2506.16790).

    Example:
        >>> import torch, deepgnn
        >>> g = deepgnn.Graph(torch.tensor([[0, 1, 2], [1, 2, 3]]))
        >>> model = GCN(5, 3, depth=4, width=8)
        >>> model(g, torch.randn(4, 5)).shape
        torch.Size([4, 3])
        >>> len(model.hidden_states(g, torch.randn(4, 5))), len(model.layer_weights())
        (5, 4)
    """

    family = "gcn"

    def _make_conv(self, in_dim: int, out_dim: int, *, last: bool) -> nn.Module:
        return make_gcn_conv(self.backend, in_dim, out_dim, self.bias)
