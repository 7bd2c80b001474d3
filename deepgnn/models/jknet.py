"""Jumping Knowledge networks (Xu et al., ICML 2018): every layer's output reaches the classifier."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from deepgnn._checks import check_choice
from deepgnn.graph import Graph
from deepgnn.models._base import GNN, LayerWeight, conv_layer_weight, linear_layer_weight, make_norm
from deepgnn.models.gcn import make_gcn_conv

__all__ = ["JKNet", "JK_MODES"]

#: The layer aggregations: concatenation or element-wise max (Xu et al., ICML 2018).
JK_MODES = ("cat", "max")


class JKNet(GNN):
    r"""JKNet: ``depth`` GCN layers whose outputs are aggregated, then a linear classifier.

    .. math::
        h_l = \mathrm{drop}(\sigma(\mathrm{norm}(\hat A h_{l-1} W_l^\top + b_l))), \quad
        \mathrm{logits} = \mathrm{JK}(h_1, \dots, h_L)\, W_{\mathrm{out}}^\top + b_{\mathrm{out}}

    with :math:`h_0 = X` and JK the concatenation :math:`[h_1 \Vert \dots \Vert h_L]`
    (``mode="cat"``, width ``depth * width``) or the element-wise maximum (``"max"``, width
    ``width``). Xu, Li, Tian, Sonobe, Kawarabayashi, Jegelka, "Representation Learning on
    Graphs with Jumping Knowledge Networks", ICML 2018 (Sec. 5; its LSTM-attention
    aggregation is not implemented). As in PyG's ``BasicGNN(jk=...)``, every graph layer is
    ``width`` wide and the classifier is a ``torch.nn.Linear``.

    ``layer_weights()`` is ``[conv_1..conv_L, out_proj]`` and ``hidden_states``
    ``[x, h_1, ..., h_L, logits]``.

    Args:
        mode: ``"cat"`` (default) or ``"max"``.

    Example:
        >>> import torch, deepgnn
        >>> g = deepgnn.Graph(torch.tensor([[0, 1, 2], [1, 2, 3]]))
        >>> model = JKNet(5, 3, depth=4, width=8)
        >>> model.out_proj.in_features, JKNet(5, 3, depth=4, width=8, mode="max").out_proj.in_features
        (32, 8)
        >>> [w.kind for w in model.layer_weights()][-2:]
        ['conv', 'linear']
    """

    family = "jknet"
    family_options = {"mode": "cat"}
    mode: str

    def _check_options(self) -> None:
        if not isinstance(self.mode, str):
            raise TypeError(f"mode must be a string, one of {list(JK_MODES)}, got {self.mode!r}")
        check_choice("mode", self.mode, JK_MODES)
        if self.checkpoint is not None:
            raise ValueError(
                f"checkpoint={self.checkpoint!r} saves nothing on jknet: its classifier reads "
                "every layer's output, so all of them stay in memory; pass checkpoint=None"
            )

    def _init_layers(self) -> None:
        width, bias = self.width, self.bias
        dims = [self.in_dim] + [width] * self.depth
        self.convs = nn.ModuleList(
            make_gcn_conv(self.backend, dims[i], dims[i + 1], bias) for i in range(self.depth)
        )
        self.norms = nn.ModuleList(make_norm(self.norm, width) for _ in range(self.depth))
        jk_width = width * self.depth if self.mode == "cat" else width
        self.out_proj = nn.Linear(jk_width, self.out_dim, bias=bias)

    def _propagate(self, graph: Graph, x: Tensor, states: list[Tensor] | None) -> Tensor:
        # The classifier reads every layer's output, not only the last one's.
        layers = []
        h = x
        for i in range(self.depth):
            h = self._hidden(i, graph, h)
            layers.append(h)
        if states is not None:
            states.extend(layers)
        if self.mode == "cat":
            jk = torch.cat(layers, dim=1)
        else:
            jk = torch.stack(layers).amax(dim=0)
        out = self.out_proj(jk)
        if states is not None:
            states.append(out)
        return out

    def layer_weights(self) -> list[LayerWeight]:
        """Every graph convolution, then the classifier on the aggregated layers."""
        return [
            *(conv_layer_weight(conv, f"convs.{i}") for i, conv in enumerate(self.convs)),
            linear_layer_weight("out_proj", self.out_proj),
        ]
