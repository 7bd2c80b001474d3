"""GCNII (Chen et al., ICML 2020): graph convolutions with initial residual and identity mapping."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deepgnn._checks import check_unit
from deepgnn.graph import Graph
from deepgnn.models._base import GNN, LayerWeight, conv_layer_weight, linear_layer_weight, make_norm

__all__ = ["GCNII", "GCNIIConv", "make_gcnii_conv"]


def gcnii_beta(lamda: float, layer: int) -> float:
    r"""The identity-mapping strength :math:`\beta_l = \log(\lambda / l + 1)` of layer ``layer`` (1-based)."""
    return math.log(lamda / layer + 1.0)


class GCNIIConv(nn.Module):
    r"""One GCNII layer before its activation:
    :math:`((1-\alpha)\hat A h + \alpha h_0)\,((1-\beta_l) I + \beta_l W^\top)`.

    Chen, Wei, Huang, Ding, Li, "Simple and Deep Graph Convolutional Networks", ICML 2020,
    eq. 5 (the authors' ``GraphConvolution`` without ``variant``). No bias, as there. The
    weight starts :math:`U(\pm 1/\sqrt{\text{width}})`, the authors' ``reset_parameters``.

    Shapes:
        h, h0 ``(num_nodes, width)`` -> ``(num_nodes, width)``; ``weight`` is ``(width, width)``.
    """

    def __init__(self, width: int, *, alpha: float, beta: float) -> None:
        super().__init__()
        self.alpha, self.beta = alpha, beta
        self.weight = nn.Parameter(torch.empty(width, width))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw the weight from U(±1/√width), as the GCNII authors' code."""
        bound = 1.0 / math.sqrt(self.weight.shape[0])
        nn.init.uniform_(self.weight, -bound, bound)

    def forward(self, graph: Graph, h: Tensor, h0: Tensor) -> Tensor:
        r"""Return :math:`((1-\alpha)\hat A h + \alpha h_0)((1-\beta_l) I + \beta_l W^\top)`."""
        # Two fused ops instead of six elementwise passes, as PyG's GCN2Conv (addmm): a
        # depth-64 training step on Cora took ~0.47 -> ~0.33 s (2-core CPU, 1 thread).
        support = torch.add(self.alpha * h0, graph.spmm(h), alpha=1.0 - self.alpha)
        return torch.addmm(support, support, self.weight.t(), beta=1.0 - self.beta, alpha=self.beta)

    def layer_weight(self, prefix: str) -> LayerWeight:
        """The layer's weight :math:`W`, as inits and the analyzer see it."""
        return LayerWeight(f"{prefix}.weight", self.weight)


def make_gcnii_conv(
    backend: str, width: int, *, layer: int, alpha: float, lamda: float
) -> nn.Module:
    """Return GCNII layer ``layer`` (1-based) of ``backend`` (``forward(graph, h, h0)``, ``layer_weight``)."""
    if backend == "dgl":
        from deepgnn.models.dgl import DGLGCN2Conv

        return DGLGCN2Conv(width, layer=layer, alpha=alpha, lamda=lamda)
    return GCNIIConv(width, alpha=alpha, beta=gcnii_beta(lamda, layer))


class GCNII(GNN):
    r"""GCNII: input projection, ``depth`` GCNII layers, output projection.

    .. math::
        h_0 = \sigma(X W_{\mathrm{in}}^\top + b_{\mathrm{in}}), \quad
        h_l = \sigma\big(\mathrm{norm}\big(((1-\alpha)\hat A h_{l-1} + \alpha h_0)
            ((1-\beta_l) I + \beta_l W_l^\top)\big)\big), \quad
        \mathrm{logits} = h_L W_{\mathrm{out}}^\top + b_{\mathrm{out}}

    with :math:`\beta_l = \log(\lambda / l + 1)`, :math:`l = 1, \dots, L`. Chen, Wei, Huang,
    Ding, Li, "Simple and Deep Graph Convolutional Networks", ICML 2020 (eq. 5; PyG's
    ``GCN2Conv`` and DGL's ``GCN2Conv`` compute the same layer). Dropout sits where the
    authors' ``model.py`` has it: on the features, on the input of every GCNII layer and of
    the output projection; :math:`h_0` enters every layer undropped. The paper's setting is
    ``activation="relu"``, ``width=64``, ``dropout=0.6`` (Cora, depth 64). ``bias`` applies
    to the two projections; the GCNII layers have none. ``norm``, off in the paper, goes
    before each layer's activation.

    ``layer_weights()`` is ``[in_proj, conv_1..conv_L, out_proj]`` and ``hidden_states``
    ``[x, h_0, h_1, ..., h_L, logits]`` (each state before the dropout that the next layer
    applies to its input; in eval mode, where the analyzer runs, there is none).

    ``backend="dgl"`` runs ``dgl.nn.GCN2Conv`` with the same initialization (DGL draws
    :math:`N(0, 1)`; the authors :math:`U(\pm 1/\sqrt{\text{width}})`), on :math:`\hat A`.

    Args:
        alpha: the initial-residual weight :math:`\alpha \in [0, 1]` (paper: 0.1).
        lamda: :math:`\lambda \ge 0` of :math:`\beta_l` (paper: 0.5 on Cora; the authors'
            spelling, as ``lambda`` is a Python keyword). ``lamda=0`` turns the weights off
            (:math:`\beta_l = 0`): APPNP's propagation of :math:`h_0`, with activations.

    Example:
        >>> import torch, deepgnn
        >>> g = deepgnn.Graph(torch.tensor([[0, 1, 2], [1, 2, 3]]))
        >>> model = GCNII(5, 3, depth=4, width=8, activation="relu")
        >>> [w.kind for w in model.layer_weights()]
        ['linear', 'conv', 'conv', 'conv', 'conv', 'linear']
        >>> len(model.hidden_states(g, torch.randn(4, 5)))
        7
    """

    family = "gcnii"
    family_options = {"alpha": 0.1, "lamda": 0.5}
    alpha: float
    lamda: float

    def _check_options(self) -> None:
        alpha, lamda = self.alpha, self.lamda
        alpha = check_unit("alpha", alpha, what="an initial-residual weight", example=0.1)
        if (
            isinstance(lamda, bool)
            or not isinstance(lamda, (int, float))
            or not 0 <= lamda < float("inf")
        ):
            raise ValueError(f"lamda={lamda!r}; pass a finite lamda >= 0 such as lamda=0.5")
        self.alpha, self.lamda = float(alpha), float(lamda)

    def _init_layers(self) -> None:
        width, bias = self.width, self.bias
        self.in_proj = nn.Linear(self.in_dim, width, bias=bias)
        self.convs = nn.ModuleList(
            make_gcnii_conv(self.backend, width, layer=l, alpha=self.alpha, lamda=self.lamda)
            for l in range(1, self.depth + 1)
        )
        self.norms = nn.ModuleList(make_norm(self.norm, width) for _ in range(self.depth))
        self.out_proj = nn.Linear(width, self.out_dim, bias=bias)

    def _propagate(self, graph: Graph, x: Tensor, states: list[Tensor] | None) -> Tensor:
        # Every layer reads h_0 as well as its input, which the base loop's hooks do not pass.
        def keep(h: Tensor) -> Tensor:
            if states is not None:
                states.append(h)
            return h

        def drop(h: Tensor) -> Tensor:
            return F.dropout(h, p=self.dropout, training=self.training)

        def layer(i: int, h: Tensor) -> Tensor:
            return self.act(self.norms[i](self.convs[i](graph, drop(h), h0)))

        h0 = keep(self.act(self.in_proj(drop(x))))
        h = self._run_layers(layer, h0, self.depth, states)
        return keep(self.out_proj(drop(h)))

    def layer_weights(self) -> list[LayerWeight]:
        """The input projection, every GCNII layer and the output projection."""
        return [
            linear_layer_weight("in_proj", self.in_proj),
            *(conv_layer_weight(conv, f"convs.{i}") for i, conv in enumerate(self.convs)),
            linear_layer_weight("out_proj", self.out_proj),
        ]
