"""APPNP (Klicpera et al., ICLR 2019): an MLP, then personalized-PageRank propagation."""

from __future__ import annotations

from typing import cast

import torch.nn.functional as F
from torch import Tensor, nn

from deepgnn._checks import check_unit
from deepgnn.graph import Graph
from deepgnn.models._base import GNN, LayerWeight, make_norm

__all__ = ["APPNP", "appnp_propagate"]


def appnp_propagate(graph: Graph, z0: Tensor, *, steps: int, alpha: float) -> Tensor:
    r"""Return :math:`z_K` of :math:`z_{k+1} = (1-\alpha)\hat A z_k + \alpha z_0`, ``K = steps``.

    Klicpera, Bojchevski, Günnemann, "Predict then Propagate: Graph Neural Networks meet
    Personalized PageRank", ICLR 2019, eq. 4. In closed form

    .. math:: z_K = \Big(\alpha \sum_{k=0}^{K-1} (1-\alpha)^k \hat A^k
        + (1-\alpha)^K \hat A^K\Big) z_0

    which tends to :math:`\alpha (I - (1-\alpha)\hat A)^{-1} z_0` (personalized PageRank).

    Shapes:
        z0 ``(num_nodes, d)`` -> ``(num_nodes, d)``.
    """
    z = z0
    for _ in range(steps):
        z = (1.0 - alpha) * graph.spmm(z) + alpha * z0
    return z


class APPNP(GNN):
    r"""APPNP: an MLP of ``mlp_layers`` linear layers predicts, ``depth`` propagation steps smooth.

    .. math::
        z_0 = \mathrm{MLP}(X), \quad
        z_{k+1} = (1-\alpha)\hat A z_k + \alpha z_0 \;(k < K), \quad \mathrm{logits} = z_K

    with ``depth`` :math:`= K`, the number of propagation steps (the paper's :math:`K = 10`).
    Klicpera, Bojchevski, Günnemann, "Predict then Propagate: Graph Neural Networks meet
    Personalized PageRank", ICLR 2019 (eqs. 3-4). The MLP is
    ``in_dim -> width -> ... -> out_dim``; each hidden layer is followed by norm, activation
    and dropout, and dropout also acts on the features, as in the paper (its dropout on
    :math:`\hat A` is not implemented). The paper's setting is ``mlp_layers=2``,
    ``width=64``, ``activation="relu"``, ``dropout=0.5``, ``alpha=0.1``.

    The propagation has no weights: it is part of the output layer. ``layer_weights()`` is
    the MLP's linear layers, and ``hidden_states`` is ``[x, h_1, ..., h_{M-1}, logits]``,
    ``M = mlp_layers``: the last state is the MLP's output after the ``depth`` steps.
    ``backend="dgl"`` propagates with ``dgl.nn.APPNPConv`` (the MLP is ``torch.nn.Linear``).

    Args:
        alpha: teleport probability :math:`\alpha \in [0, 1]` (paper: 0.1); ``alpha=1`` is
            the MLP alone.
        mlp_layers: linear layers of the MLP, ``>= 1`` (paper: 2).

    Example:
        >>> import torch, deepgnn
        >>> g = deepgnn.Graph(torch.tensor([[0, 1, 2], [1, 2, 3]]))
        >>> model = APPNP(5, 3, depth=10, width=8, activation="relu")
        >>> [w.kind for w in model.layer_weights()], len(model.hidden_states(g, torch.randn(4, 5)))
        (['linear', 'linear'], 3)
    """

    family = "appnp"
    family_options = {"alpha": 0.1, "mlp_layers": 2}
    alpha: float
    mlp_layers: int

    def _check_options(self) -> None:
        alpha, layers = self.alpha, self.mlp_layers
        if self.checkpoint is not None:
            raise ValueError(
                f"checkpoint={self.checkpoint!r} does not apply to appnp: its depth is "
                "propagation steps of out_dim columns, without weights; pass checkpoint=None"
            )
        alpha = check_unit("alpha", alpha, what="a teleport probability", example=0.1)
        if isinstance(layers, bool) or not isinstance(layers, int) or layers < 1:
            raise ValueError(f"mlp_layers={layers!r}; pass a positive int such as mlp_layers=2")
        self.alpha = float(alpha)

    def _init_layers(self) -> None:
        m = self.mlp_layers
        dims = [self.in_dim] + [self.width] * (m - 1) + [self.out_dim]
        self.lins = nn.ModuleList(nn.Linear(dims[i], dims[i + 1], bias=self.bias) for i in range(m))
        self.norms = nn.ModuleList(make_norm(self.norm, self.width) for _ in range(m - 1))
        if self.backend == "dgl":
            from deepgnn.models.dgl import DGLAPPNPConv

            self.prop: nn.Module | None = DGLAPPNPConv(self.depth, self.alpha)
        else:
            self.prop = None

    def _propagate(self, graph: Graph, x: Tensor, states: list[Tensor] | None) -> Tensor:
        # The depth loop runs over the propagation steps, which have no weights of their own,
        # so the base loop (one state per weighted layer) does not fit.
        h = F.dropout(x, p=self.dropout, training=self.training)
        for lin, norm in zip(self.lins, self.norms):
            h = self._hidden_block(lin(h), norm)
            if states is not None:
                states.append(h)
        z0 = self.lins[-1](h)
        if self.prop is not None:
            z = self.prop(graph, z0)
        else:
            z = appnp_propagate(graph, z0, steps=self.depth, alpha=self.alpha)
        if states is not None:
            states.append(z)
        return z

    def layer_weights(self) -> list[LayerWeight]:
        """The MLP's linear layers; the propagation steps have no weights."""
        lins = [cast(nn.Linear, lin) for lin in self.lins]  # a ModuleList yields nn.Module
        return [
            LayerWeight(f"lins.{i}.weight", lin.weight, bias=lin.bias, kind="linear")
            for i, lin in enumerate(lins)
        ]
