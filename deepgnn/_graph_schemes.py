r"""The graph-aware init schemes: Virgo and G-Init, whose variances depend on :math:`\hat A`.

Re-exported by :mod:`deepgnn.init` (``deepgnn.init.virgo_``, ``deepgnn.init.ginit_``), where
the other schemes and the dispatch :func:`deepgnn.init.init_` live.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from deepgnn._checks import check_choice
from deepgnn._draw import BIAS, activation_gain, apply_, check_common, check_graph, check_model
from deepgnn.graph import Graph
from deepgnn.models import GNN

__all__ = ["ginit_", "ginit_variances", "virgo_", "virgo_variances"]


def _propagated_sq_norms(graph: Graph, v: Tensor, steps: int) -> list[float]:
    """``[‖v‖², ‖Âv‖², ..., ‖Â^steps v‖²]`` in float64."""
    out = [float(v.pow(2).sum())]
    for _ in range(steps):
        v = graph.spmm(v)
        out.append(float(v.pow(2).sum()))
    return out


def virgo_variances(
    model: GNN, graph: Graph, x: Tensor, *, nonlinearity: str = "relu"
) -> list[float]:
    r"""Return the per-layer weight variances of the Virgo scheme (see :func:`virgo_`).

    Args:
        model: any deepgnn model.
        graph: the graph whose :math:`\hat A` the model propagates on.
        x: node features, shape ``(num_nodes, in_dim)``.
        nonlinearity: sets :math:`g^2` (2 for ``relu``, the authors' value).

    Returns:
        One variance per entry of ``model.layer_weights()``.
    """
    model = check_model(model)
    graph = check_graph(graph)
    if not isinstance(x, Tensor) or x.dim() != 2 or x.shape[0] != graph.num_nodes:
        raise ValueError(
            f"x must be a tensor of shape (num_nodes={graph.num_nodes}, in_dim), "
            f"got {getattr(x, 'shape', type(x).__name__)}"
        )
    bad = int((~torch.isfinite(x.detach())).sum()) if x.is_floating_point() else 0
    if bad:
        raise ValueError(
            f"x holds {bad} NaN/inf entries, so virgo's variances would be NaN; replace them "
            "(e.g. torch.nan_to_num(x)) or use an init that does not read x, such as xavier_"
        )
    g2 = activation_gain(nonlinearity) ** 2
    lws = model.layer_weights()
    is_conv = [lw.kind == "conv" for lw in lws]
    n_conv = sum(is_conv)
    classes = lws[-1].fan_out
    if classes < 2:
        raise ValueError(
            f"virgo's last-layer variance N/((C-1)·‖Â1‖²) needs C >= 2 outputs, got {classes}"
        )
    xbar = x.detach().to(device=graph.device, dtype=torch.float64).mean(dim=1)
    fwd_sq = _propagated_sq_norms(graph, xbar, n_conv)
    if fwd_sq[0] == 0.0:
        raise ValueError(
            "x has a zero per-node feature mean on every node, so virgo's forward ratio "
            "‖Âˡx̄‖²/‖Âˡ⁺¹x̄‖² is undefined; use kaiming_ or ginit_ instead"
        )
    ones = torch.ones(graph.num_nodes, dtype=torch.float64, device=graph.device)
    bwd_sq = _propagated_sq_norms(graph, ones, n_conv)

    variances = []
    seen = 0  # convolutions up to and including layer k
    for k, lw in enumerate(lws):
        seen += is_conv[k]
        after = n_conv - seen  # convolutions strictly after layer k
        if k == 0 or not is_conv[k]:
            fwd = g2 / lw.fan_in
        else:
            fwd = g2 / lw.fan_in * _ratio(fwd_sq[seen - 1], fwd_sq[seen])
        if k == len(lws) - 1:
            ones_sq = bwd_sq[1] if is_conv[k] else bwd_sq[0]  # ‖Â1‖², or ‖1‖² = N
            bwd = graph.num_nodes / ((classes - 1) * ones_sq)
        elif is_conv[k]:
            bwd = g2 / lw.fan_out * bwd_sq[after] / bwd_sq[after + 1]
        else:
            bwd = g2 / lw.fan_out
        ok = math.isfinite(fwd) and fwd > 0
        variances.append(2.0 / (1.0 / fwd + 1.0 / bwd) if ok else math.nan)
    if not all(math.isfinite(v) and v > 0 for v in variances):
        # ‖Âˡx̄‖² overflowed float64 (per-node means near 1e154) or vanished on the way
        norms = ", ".join(f"{v:.3g}" for v in fwd_sq[:4])
        raise ValueError(
            f"x's per-node means x̄ propagate to squared norms ‖Âˡx̄‖² = {norms}, ..., so "
            "virgo's ratios of them are not finite and positive; rescale x (e.g. "
            "x / x.abs().max()) or use kaiming_ or ginit_, which do not read x"
        )
    return variances


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else math.inf


def virgo_(
    model: GNN,
    graph: Graph,
    x: Tensor,
    *,
    nonlinearity: str = "relu",
    bias: str = "zeros",
    generator: torch.Generator | None = None,
) -> GNN:
    r"""Virgo: uniform weights whose variance balances forward and backward propagation. In place; returns ``model``.

    Layer :math:`l` gets :math:`U(\pm\sqrt{3\sigma_l^2})` with :math:`\sigma_l^2` the harmonic
    mean of a forward and a backward variance (:math:`P = \hat A`, :math:`\bar x` the per-node
    mean of the features, :math:`m` the layer's fan, :math:`C` the classes, :math:`L` the
    number of layers, :math:`g^2 = 2` for ReLU):

    .. math::
        \sigma_{f,0}^2 = \frac{g^2}{m_\text{in}}, \quad
        \sigma_{f,l}^2 = \frac{g^2}{m_\text{in}} \frac{\|P^{l}\bar x\|^2}{\|P^{l+1}\bar x\|^2},
        \quad
        \sigma_{b,L-1}^2 = \frac{N}{(C-1)\,\|P\mathbf 1\|^2}, \quad
        \sigma_{b,l}^2 = \frac{g^2}{m_\text{out}}
            \frac{\|P^{L-1-l}\mathbf 1\|^2}{\|P^{L-l}\mathbf 1\|^2}, \quad
        \sigma_l^2 = \frac{2}{1/\sigma_{f,l}^2 + 1/\sigma_{b,l}^2}

    Li, Song, Song, Wipf, "On the Initialization of Graph Neural Networks", ICML 2023
    (PMLR 202:19911-19931, arXiv 2312.02622), as computed by the authors' code
    (LspongebobJH/virgo_icml2023, ``utils.py``: ``gen_c2_for``, ``gen_c2_back``,
    harmonic ``gen_c2``). For ``gcn`` this is exactly their rule. For families with
    linear projections (``resgcn``, ``gated_resgcn``, ``rezero``) the powers of :math:`P`
    count only the convolutions, and a projection has no graph factor (ratio 1). For
    ``gat``, :math:`\hat A` stands in for the attention matrix (uniform attention at init).

    Args:
        model: any deepgnn model with at least 2 outputs.
        graph: the graph the model propagates on.
        x: node features, shape ``(num_nodes, in_dim)``.
        nonlinearity: sets :math:`g^2` (``"relu"``: 2, the authors' value).
        bias: ``"zeros"`` or ``"keep"``.
        generator: random generator; ``None`` uses the global one.

    Raises:
        ValueError: ``x`` holds NaN/inf, has zero per-node means everywhere or so large that
            their propagated norms overflow, or the model has one output.
    """
    variances = virgo_variances(model, graph, x, nonlinearity=nonlinearity)
    check_choice("bias", bias, BIAS)
    return apply_(model, [math.sqrt(v) for v in variances], "uniform", bias, generator)


def ginit_variances(model: GNN, graph: Graph, *, nonlinearity: str = "relu") -> list[float]:
    r"""Return the per-layer weight variances of :func:`ginit_`."""
    model = check_model(model)
    graph = check_graph(graph)
    g2 = activation_gain(nonlinearity) ** 2
    s = float((graph.to_scipy().data ** 2).sum()) / graph.num_nodes
    return [g2 / (lw.fan_in * (s if lw.kind == "conv" else 1.0)) for lw in model.layer_weights()]


def ginit_(
    model: GNN,
    graph: Graph,
    *,
    nonlinearity: str = "relu",
    distribution: str = "normal",
    bias: str = "zeros",
    generator: torch.Generator | None = None,
) -> GNN:
    r"""G-Init: Kaiming initialization generalized through the propagation matrix. In place; returns ``model``.

    A convolution :math:`H' = \hat A H W^\top` with i.i.d. zero-mean entries of :math:`H`
    multiplies the per-entry second moment by :math:`n_\text{in}\operatorname{Var}W \cdot
    s`, with :math:`s` the mean over nodes of :math:`\sum_j \hat A_{ij}^2`, i.e. the mean
    squared singular value of :math:`\hat A`. Keeping it constant through the activation
    (gain :math:`g`) gives

    .. math:: \operatorname{Var} W_{ij} = \frac{g^2}{n_\text{in}\, s}, \qquad
        s = \frac{\|\hat A\|_F^2}{N} = \frac1N \sum_k \sigma_k(\hat A)^2

    for graph convolutions and plain Kaiming (:math:`s = 1`) for linear projections.
    After Kelesis, Fotakis, Paliouras, "Reducing Oversmoothing through Informed Weight
    Initialization in Graph Neural Networks", arXiv 2410.23830, 2024 (G-Init, Kaiming
    generalized to GCNs). Note: the paper's own closed form could not be consulted when
    this was written; the rule above is the Kaiming fan-in argument carried through
    :math:`\hat A` under the independence assumption stated, which is the paper's stated idea.
    With no edges :math:`\hat A = I`, :math:`s = 1` and this is exactly Kaiming.

    Args:
        model: any deepgnn model.
        graph: the graph the model propagates on.
        nonlinearity: sets the gain :math:`g` (``"relu"``: :math:`\sqrt2`).
        distribution: ``"normal"`` or ``"uniform"``.
        bias: ``"zeros"`` or ``"keep"``.
        generator: random generator; ``None`` uses the global one.
    """
    variances = ginit_variances(model, graph, nonlinearity=nonlinearity)
    check_common(distribution, bias)
    return apply_(model, [math.sqrt(v) for v in variances], distribution, bias, generator)
