"""Residual GCN families: ``resgcn``, ``gated_resgcn`` and ``rezero``."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from deepgnn.graph import Graph
from deepgnn.models._base import GNN, LayerWeight, conv_layer_weight, linear_layer_weight, make_norm
from deepgnn.models.gcn import make_gcn_conv

__all__ = ["ResGCN", "GatedResGCN", "ReZeroGCN"]


class ResGCN(GNN):
    r"""Residual GCN: input projection, ``depth`` residual graph convolutions, output projection.

    .. math::
        h_0' = X W_{\mathrm{in}}^\top + b_{\mathrm{in}}, \quad
        h_l' = h_{l-1}' + \mathrm{drop}(\sigma(\mathrm{norm}(\hat A h_{l-1}' W_l^\top + b_l))),
        \quad \mathrm{logits} = h_L' W_{\mathrm{out}}^\top + b_{\mathrm{out}}

    ``MyResGCN`` of Wang et al., TMLR 2025 (arXiv 2506.16790); residual connections after
    He et al., "Deep Residual Learning for Image Recognition", CVPR 2016. The
    projections are ``torch.nn.Linear`` (their default init); the norm, when given, sits
    inside the residual branch. ``layer_weights()`` is ``[in_proj, conv_1..conv_L, out_proj]``.

    Example:
        >>> import torch, deepgnn
        >>> g = deepgnn.Graph(torch.tensor([[0, 1, 2], [1, 2, 3]]))
        >>> model = ResGCN(5, 3, depth=4, width=8, activation="relu")
        >>> [w.kind for w in model.layer_weights()]
        ['linear', 'conv', 'conv', 'conv', 'conv', 'linear']
    """

    family = "resgcn"

    def _init_layers(self) -> None:
        width, bias = self.width, self.bias
        self.in_proj = nn.Linear(self.in_dim, width, bias=bias)
        self.convs = nn.ModuleList(
            make_gcn_conv(self.backend, width, width, bias) for _ in range(self.depth)
        )
        self.norms = nn.ModuleList(make_norm(self.norm, width) for _ in range(self.depth))
        self.out_proj = nn.Linear(width, self.out_dim, bias=bias)

    def _encode(self, x: Tensor) -> Tensor:
        return self.in_proj(x)

    def _combine(self, i: int, h: Tensor, out: Tensor) -> Tensor:
        return h + out

    def _output(self, graph: Graph, h: Tensor) -> Tensor:
        return self.out_proj(h)

    def layer_weights(self) -> list[LayerWeight]:
        """The input projection, every graph convolution and the output projection."""
        return [
            linear_layer_weight("in_proj", self.in_proj),
            *(conv_layer_weight(conv, f"convs.{i}") for i, conv in enumerate(self.convs)),
            linear_layer_weight("out_proj", self.out_proj),
        ]


class GatedResGCN(ResGCN):
    r"""Gated residual GCN: :math:`h_l' = \beta_l h_{l-1}' + \alpha_l\, \mathrm{branch}_l(h_{l-1}')`.

    Learnable per-layer scalars, initialized :math:`\alpha_l = \beta_l = 1` as in
    ``gatResGCN`` of Wang et al., TMLR 2025 (arXiv 2506.16790).
    """

    family = "gated_resgcn"
    _alpha_init = 1.0

    def _init_layers(self) -> None:
        super()._init_layers()
        self.alpha = nn.Parameter(torch.full((self.depth,), self._alpha_init))
        self.beta = nn.Parameter(torch.ones(self.depth))

    def reset_parameters(self) -> None:
        """Re-draw every layer and reset the gates: α to its initial value, β to 1."""
        super().reset_parameters()
        with torch.no_grad():
            self.alpha.fill_(self._alpha_init)
            self.beta.fill_(1.0)

    def _combine(self, i: int, h: Tensor, out: Tensor) -> Tensor:
        return self.beta[i] * h + self.alpha[i] * out

    def gates(self) -> dict[str, nn.Parameter]:
        """The learnable gates ``{"alpha": α, "beta": β}``, one of each per layer."""
        return {"alpha": self.alpha, "beta": self.beta}


class ReZeroGCN(GatedResGCN):
    r"""ReZero GCN: the gated residual GCN with :math:`\alpha_l = 0` at initialization.

    Bachlechner et al., "ReZero is All You Need: Fast Convergence at Large Depth",
    UAI 2021; ``RezeroGCN`` of Wang et al., TMLR 2025. At initialization the model is
    the two projections only; the convolutions' gradients start at zero.
    """

    family = "rezero"
    _alpha_init = 0.0
