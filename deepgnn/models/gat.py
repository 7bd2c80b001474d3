"""Graph attention (Veličković et al., ICLR 2018) and the deep multi-head GAT family."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deepgnn.graph import Graph
from deepgnn.models._base import GNN, LayerWeight

__all__ = ["GAT", "GATConv", "attend", "make_gat_conv"]


class GATConv(nn.Module):
    r"""Multi-head graph attention over the edges of :math:`A + I`.

    .. math::
        e_{ij} = \mathrm{LeakyReLU}_{0.2}(a_l^\top W x_j + a_r^\top W x_i), \quad
        \alpha_{ij} = \mathrm{softmax}_{j \in N(i) \cup \{i\}}(e_{ij}), \quad
        h_i = \textstyle\sum_j \alpha_{ij} W x_j + b

    per head. Veličković et al., "Graph Attention Networks", ICLR 2018, eqs. 3-5.
    Parameters and their initialization follow DGL's ``GATConv`` (Xavier-normal with the
    ReLU gain, zero bias), so the torch and DGL backends hold the same tensors.

    Shapes:
        x ``(num_nodes, in_dim)`` -> ``(num_nodes, heads, out_dim)``;
        ``fc.weight`` is ``(heads * out_dim, in_dim)``.
    """

    def __init__(self, in_dim: int, out_dim: int, heads: int, bias: bool = True) -> None:
        super().__init__()
        self.heads, self.out_dim = heads, out_dim
        self.fc = nn.Linear(in_dim, heads * out_dim, bias=False)
        self.attn_l = nn.Parameter(torch.empty(1, heads, out_dim))
        self.attn_r = nn.Parameter(torch.empty(1, heads, out_dim))
        self.bias = nn.Parameter(torch.empty(heads * out_dim)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw the weights Xavier-normal with the ReLU gain (as DGL's ``GATConv``)."""
        gain = nn.init.calculate_gain("relu")
        nn.init.xavier_normal_(self.fc.weight, gain=gain)
        nn.init.xavier_normal_(self.attn_l, gain=gain)
        nn.init.xavier_normal_(self.attn_r, gain=gain)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, graph: Graph, x: Tensor) -> Tensor:
        """Return the attention-weighted aggregation of ``x`` (``(num_nodes, in_dim)``) over
        each node's neighbours and itself, the heads concatenated."""
        # Gathers are index_select, not t[idx]: the backward of t[idx] is index_put_ with
        # accumulate=True, whose CPU kernel adds float gradients with parallel atomics in
        # thread order (torch.use_deterministic_algorithms lists it), so every backward
        # differed in the last bits; index_select's backward, index_add_, sums in index order
        # on the CPU. It is also faster: a training step on Cora (width 64, 2-core CPU) took
        # 17 -> 13 ms at depth 2, 67 -> 44 ms at depth 8, 260 -> 161 ms at depth 32. On CUDA
        # index_add_ uses atomics and stays nondeterministic.
        n = x.shape[0]
        h = self.fc(x).view(n, self.heads, self.out_dim)
        el = (h * self.attn_l).sum(-1)  # (n, heads), source side
        er = (h * self.attn_r).sum(-1)  # destination side
        out = attend(graph, h, el, er)
        if self.bias is not None:
            out = out + self.bias.view(1, self.heads, self.out_dim)
        return out

    def layer_weight(self, prefix: str) -> LayerWeight:
        """This layer's weight as a :class:`~deepgnn.models.LayerWeight` named ``prefix``."""
        return LayerWeight(f"{prefix}.fc.weight", self.fc.weight, bias=self.bias)


def attend(graph: Graph, h: Tensor, el: Tensor, er: Tensor) -> Tensor:
    r"""The attention aggregation of :class:`GATConv`, bias left out:
    :math:`\sum_j \mathrm{softmax}_j(\mathrm{LeakyReLU}_{0.2}(el_j + er_i))\, h_j` over each
    node's neighbours and itself (Veličković et al., ICLR 2018, eqs. 3-4), per head.

    Args:
        graph: the graph (the edges of :math:`A + I`).
        h: transformed features ``(num_nodes, heads, dim)``.
        el, er: source- and destination-side scores ``(num_nodes, heads)``.

    Returns:
        ``(num_nodes, heads, dim)`` in ``h``'s dtype. Any number of heads: the batched trainer
        passes the heads of ``k`` models side by side.
    """
    dst, src = graph.coo()
    e = F.leaky_relu(el.index_select(0, src) + er.index_select(0, dst), 0.2)
    index = dst.unsqueeze(1).expand_as(e)
    # The softmax is shift-invariant, so its max is a constant for autograd (as DGL's
    # edge_softmax, whose backward uses only its output).
    with torch.no_grad():
        emax = e.new_full(el.shape, float("-inf")).scatter_reduce(0, index, e, "amax")
    a = (e - emax.index_select(0, dst)).exp()
    a = a / e.new_zeros(el.shape).index_add(0, dst, a).index_select(0, dst)
    # Under bf16 autocast h is bfloat16 (fc's output) but the scores float32 (h times the
    # float32 attention vectors): the sums run in the wider of the two, and the result comes
    # back in h's dtype, as a layer's output under autocast does. Without autocast both are
    # one dtype and nothing is cast.
    msg = a.unsqueeze(-1) * h.index_select(0, src)
    return msg.new_zeros(h.shape).index_add(0, dst, msg).to(h.dtype)


def make_gat_conv(backend: str, in_dim: int, out_dim: int, heads: int, bias: bool) -> nn.Module:
    """Return an attention layer of ``backend`` with the ``forward(graph, x)`` / ``layer_weight`` API."""
    if backend == "dgl":
        from deepgnn.models.dgl import DGLGATConv

        return DGLGATConv(in_dim, out_dim, heads, bias)
    return GATConv(in_dim, out_dim, heads, bias)


class GAT(GNN):
    r"""Deep multi-head GAT: hidden layers concatenate ``heads`` heads of ``width // heads``
    features; the last layer averages ``heads`` heads of ``out_dim`` logits.

    Veličković et al., "Graph Attention Networks", ICLR 2018 (eqs. 5-6). Each hidden
    layer is followed by norm, activation and dropout, as in :class:`~deepgnn.models.gcn.GCN`.

    Args:
        heads: attention heads per layer; must divide ``width``.

    Example:
        >>> import torch, deepgnn
        >>> g = deepgnn.Graph(torch.tensor([[0, 1, 2], [1, 2, 3]]))
        >>> GAT(5, 3, depth=3, width=8, heads=2)(g, torch.randn(4, 5)).shape
        torch.Size([4, 3])
    """

    family = "gat"
    family_options = {"heads": 4}
    heads: int

    def _check_options(self) -> None:
        heads = self.heads
        if isinstance(heads, bool) or not isinstance(heads, int) or heads < 1:
            raise ValueError(f"heads={heads!r}; pass a positive int such as heads=4")
        if self.width % heads:
            width = self.width
            raise ValueError(
                f"width={width} is not divisible by heads={heads}; pass a width that is a "
                f"multiple of heads, e.g. width={heads * max(1, round(width / heads))}"
            )

    def _make_conv(self, in_dim: int, out_dim: int, *, last: bool) -> nn.Module:
        # hidden layers concatenate heads of width // heads features; the last one averages
        # heads of out_dim logits
        head_dim = out_dim if last else out_dim // self.heads
        return make_gat_conv(self.backend, in_dim, head_dim, self.heads, self.bias)

    def _hidden(self, i: int, graph: Graph, h: Tensor) -> Tensor:
        return self._hidden_block(self.convs[i](graph, h).flatten(1), self.norms[i])

    def _output(self, graph: Graph, h: Tensor) -> Tensor:
        return self.convs[-1](graph, h).mean(dim=1)
