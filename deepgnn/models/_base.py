"""What every deepgnn model shares: hidden states and per-layer weights, exposed one way.

The analyzer, the init functions and the search see a model only through :class:`GNN`:
``model.hidden_states(graph, x)`` and ``model.layer_weights()``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deepgnn._checks import check_choice, check_fraction, check_int
from deepgnn.graph import SPMM_ACTIVATIONS, Graph

__all__ = ["GNN", "LayerWeight", "PairNorm", "ACTIVATIONS", "NORMS"]

ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "tanh": torch.tanh,
    "relu": F.relu,
    "leaky_relu": F.leaky_relu,
    "elu": F.elu,
    "gelu": F.gelu,
    "sigmoid": torch.sigmoid,
    "identity": lambda x: x,
}
NORMS = ("layer", "batch", "pair")
BACKENDS = ("torch", "dgl")


@dataclass(frozen=True)
class LayerWeight:
    """One layer's weight matrix as inits, analyzer and search see it.

    Attributes:
        name: parameter name in ``model.named_parameters()``.
        param: the stored parameter (its ``.grad`` is the gradient of this layer).
        transposed: ``True`` when ``param`` is stored ``(in, out)`` (DGL's ``GraphConv``).
        bias: the layer's bias, or ``None``.
        kind: ``"conv"`` for a graph convolution, ``"linear"`` for a projection.
    """

    name: str
    param: nn.Parameter
    transposed: bool = False
    bias: nn.Parameter | None = None
    kind: str = "conv"

    @property
    def weight(self) -> Tensor:
        """The weight in torch's ``(out, in)`` orientation (a view: in-place writes reach ``param``)."""
        return self.param.t() if self.transposed else self.param

    @property
    def fan_in(self) -> int:
        return self.weight.shape[1]

    @property
    def fan_out(self) -> int:
        return self.weight.shape[0]

    def grad(self) -> Tensor | None:
        """The gradient in ``(out, in)`` orientation, or ``None`` before a backward pass."""
        g = self.param.grad
        return None if g is None else (g.t() if self.transposed else g)


class PairNorm(nn.Module):
    r"""PairNorm: center the rows, then rescale to a constant mean row norm ``scale``.

    .. math:: \tilde x_i = x_i - \tfrac1N \textstyle\sum_j x_j, \qquad
        x_i' = s\, \tilde x_i / \sqrt{\tfrac1N \textstyle\sum_j \|\tilde x_j\|^2}

    Zhao & Akoglu, "PairNorm: Tackling Oversmoothing in GNNs", ICLR 2020 (PN, eq. 4).
    """

    def __init__(self, scale: float = 1.0, eps: float = 1e-6) -> None:
        super().__init__()
        self.scale, self.eps = scale, eps

    def forward(self, x: Tensor) -> Tensor:
        x = x - x.mean(dim=0, keepdim=True)
        return self.scale * x / (self.eps + x.pow(2).sum(dim=1).mean()).sqrt()


def make_norm(norm: str | None, width: int) -> nn.Module:
    if norm is None:
        return nn.Identity()
    if norm == "layer":
        return nn.LayerNorm(width)
    if norm == "batch":
        return nn.BatchNorm1d(width)
    return PairNorm()


class GNN(nn.Module):
    """Base class of deepgnn models: ``model(graph, x)`` returns logits (no softmax).

    Subclasses implement :meth:`_propagate`, which appends to ``states`` (when given)
    the input and the output of every weighted layer, and :meth:`layer_weights`.
    ``len(model.hidden_states(g, x)) == len(model.layer_weights()) + 1`` always:
    ``h_0 = x``, ``h_k`` is the output of the layer that owns weight ``k`` (after its
    norm, activation, dropout and residual), and the last state is the logits.
    """

    family: str = ""

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        depth: int,
        *,
        width: int = 64,
        activation: str = "tanh",
        dropout: float = 0.0,
        bias: bool = True,
        norm: str | None = None,
        backend: str = "torch",
    ) -> None:
        super().__init__()
        self.in_dim = check_int("in_dim", in_dim, minimum=1)
        self.out_dim = check_int("out_dim", out_dim, minimum=1)
        self.depth = check_int("depth", depth, minimum=1)
        self.width = check_int("width", width, minimum=1)
        check_choice("activation", activation, ACTIVATIONS)
        self.activation = activation
        self.act = ACTIVATIONS[activation]
        self.dropout = check_fraction("dropout", dropout)
        if not isinstance(bias, bool):
            raise TypeError(f"bias must be True or False, got {bias!r}")
        self.bias = bias
        if norm is not None:
            check_choice("norm", norm, NORMS)
        self.norm = norm
        check_choice("backend", backend, BACKENDS)
        self.backend = backend

    # -------------------------------------------------------------- public interface
    def forward(self, graph: Any, x: Tensor) -> Tensor:
        """Return the logits, shape ``(num_nodes, out_dim)``.

        Args:
            graph: a :class:`~deepgnn.Graph` (or a ``dgl.DGLGraph``, converted each call).
            x: node features, shape ``(num_nodes, in_dim)``.
        """
        graph = self._check_inputs(graph, x)
        return self._propagate(graph, x, None)

    def hidden_states(self, graph: Any, x: Tensor) -> list[Tensor]:
        """Return ``[h_0 = x, h_1, ..., h_K = logits]``, one state per weighted layer plus the input."""
        graph = self._check_inputs(graph, x)
        states: list[Tensor] = [x]
        self._propagate(graph, x, states)
        return states

    def layer_weights(self) -> list[LayerWeight]:
        """Return the weight matrix of every layer, input to output, in ``(out, in)`` view."""
        raise NotImplementedError

    def gates(self) -> dict[str, nn.Parameter]:
        """Return the per-layer residual gates (``alpha``, ``beta``) of gated families, else ``{}``."""
        return {}

    def reset_parameters(self) -> None:
        """Re-initialize every parameter the way the family's constructor does."""
        for module in self.modules():
            if module is not self and hasattr(module, "reset_parameters"):
                module.reset_parameters()

    def extra_repr(self) -> str:
        return (
            f"family={self.family!r}, depth={self.depth}, width={self.width}, "
            f"activation={self.activation!r}, norm={self.norm!r}, backend={self.backend!r}"
        )

    # ------------------------------------------------------------------- internals
    def _propagate(self, graph: Graph, x: Tensor, states: list[Tensor] | None) -> Tensor:
        raise NotImplementedError

    def _check_inputs(self, graph: Any, x: Tensor) -> Graph:
        if not isinstance(graph, Graph):
            if type(graph).__name__ == "DGLGraph":
                graph = Graph.from_dgl(graph)
            else:
                raise TypeError(
                    f"graph must be a deepgnn.Graph or dgl.DGLGraph, got {type(graph).__name__}; "
                    "build one with deepgnn.Graph(edge_index)"
                )
        if not isinstance(x, Tensor):
            raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
        if x.dim() != 2 or x.shape[0] != graph.num_nodes or x.shape[1] != self.in_dim:
            raise ValueError(
                f"x must have shape (num_nodes={graph.num_nodes}, in_dim={self.in_dim}), "
                f"got {tuple(x.shape)}"
            )
        if x.device != graph.device:
            raise ValueError(
                f"x is on {x.device} but the graph on {graph.device}; call graph.to({str(x.device)!r})"
            )
        return graph

    def _hidden_block(self, h: Tensor, norm: nn.Module) -> Tensor:
        """norm -> activation -> dropout, the post-conv step of every hidden layer."""
        return F.dropout(self.act(norm(h)), p=self.dropout, training=self.training)

    def _conv_block(self, conv: nn.Module, graph: Graph, h: Tensor, norm: nn.Module) -> Tensor:
        """conv -> norm -> activation -> dropout, a hidden layer of the GCN families.

        Without a norm the layer is ``act(Â h Wᵀ + b)`` exactly, and deepgnn's ``GCNConv``
        hands tanh / relu to ``graph.spmm``, which applies it in its kernel's epilogue: the
        same function in one autograd node, with no pass of its own over memory forward or
        backward (tanh took 13% of a depth-64 step on an H100 as separate ops).
        """
        if self.norm is None and self.backend == "torch" and self.activation in SPMM_ACTIVATIONS:
            h = conv(graph, h, activation=self.activation)
        else:
            h = self.act(norm(conv(graph, h)))
        if self.dropout and self.training:
            h = F.dropout(h, p=self.dropout)
        return h
