r"""Initialization schemes for deepgnn models, in place like :mod:`torch.nn.init`.

Every function takes a :class:`~deepgnn.models.GNN`, re-draws the weight of every layer
that ``model.layer_weights()`` lists (graph convolutions and the projections of the
residual families) in torch's ``(out, in)`` orientation, so fan-in and fan-out mean
the same thing on both backends, and returns the model. Biases are set to zero unless
an option says otherwise: with random biases a deep model's output is its last bias and
the signal-propagation metrics stop measuring propagation (Wang et al., TMLR 2025).
The residual gates of ``gated_resgcn`` / ``rezero`` are reset as in the authors' code
(``gatResGCN``: :math:`\alpha_l=\beta_l=1`; ``RezeroGCN``: :math:`\alpha_l=0, \beta_l=1`).
GAT's attention vectors are not layer weights and are left as they are.

Example:
    >>> import deepgnn
    >>> from deepgnn import init
    >>> model = deepgnn.build("gcn", 16, 3, depth=4)
    >>> init.xavier_(model) is model
    True
    >>> init.available()[:3]
    ['conventional', 'ginit', 'kaiming']
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence

import torch
from torch import Tensor

from deepgnn._checks import check_choice
from deepgnn.graph import Graph
from deepgnn.models import GNN, LayerWeight

__all__ = [
    "available",
    "conventional_",
    "ginit_",
    "ginit_variances",
    "init_",
    "kaiming_",
    "lecun_",
    "options",
    "orthogonal_",
    "scale_",
    "spoginit_",
    "virgo_",
    "virgo_variances",
    "xavier_",
]

_DISTRIBUTIONS = ("uniform", "normal")
_BIAS = ("zeros", "keep")
_MODES = ("fan_in", "fan_out")


# --------------------------------------------------------------------------- helpers
def _check_model(model: object) -> GNN:
    if not isinstance(model, GNN):
        raise TypeError(
            f"model must be a deepgnn.models.GNN, got {type(model).__name__}; "
            "build one with deepgnn.build(...)"
        )
    return model


def _gain(nonlinearity: str, negative_slope: float | None = None) -> float:
    choices = ("linear", "identity", "sigmoid", "tanh", "relu", "leaky_relu", "selu")
    check_choice("nonlinearity", nonlinearity, choices)
    if nonlinearity == "identity":
        return 1.0
    return torch.nn.init.calculate_gain(nonlinearity, negative_slope)  # type: ignore[arg-type]


def _draw_(w: Tensor, std: float, distribution: str, generator: torch.Generator | None) -> None:
    """Fill ``w`` with mean-zero samples of standard deviation ``std``."""
    if distribution == "uniform":
        bound = math.sqrt(3.0) * std
        w.uniform_(-bound, bound, generator=generator)
    else:
        w.normal_(0.0, std, generator=generator)


def _finish_(lw: LayerWeight, bias: str) -> None:
    if lw.bias is not None and bias == "zeros":
        lw.bias.zero_()


def _reset_gates_(model: GNN) -> None:
    gates = model.gates()
    if gates:
        # Authors' code: gatResGCN starts alpha = beta = 1, RezeroGCN alpha = 0, beta = 1.
        gates["alpha"].fill_(0.0 if model.family == "rezero" else 1.0)
        gates["beta"].fill_(1.0)


def _apply_(
    model: GNN,
    stds: Sequence[float],
    distribution: str,
    bias: str,
    generator: torch.Generator | None,
) -> GNN:
    with torch.no_grad():
        for lw, std in zip(model.layer_weights(), stds):
            _draw_(lw.weight, std, distribution, generator)
            _finish_(lw, bias)
        _reset_gates_(model)
    return model


def _check_common(distribution: str, bias: str) -> None:
    check_choice("distribution", distribution, _DISTRIBUTIONS)
    check_choice("bias", bias, _BIAS)


# --------------------------------------------------------------------------- schemes
def conventional_(
    model: GNN, *, bias: str = "zeros", generator: torch.Generator | None = None
) -> GNN:
    r"""Draw every weight from :math:`U(\pm 1/\sqrt{\text{fan\_in}})`. In place; returns ``model``.

    .. math:: W_{ij} \sim U\!\left(-\tfrac{1}{\sqrt{n_\text{in}}}, \tfrac{1}{\sqrt{n_\text{in}}}\right),
        \qquad \operatorname{Var} W_{ij} = \frac{1}{3\, n_\text{in}}

    The "conventional" scheme of ``torch.nn.Linear`` and of Wang et al., "Exploring and
    Improving Initialization for Deep Graph Neural Networks: A Signal Propagation
    Perspective", TMLR 2025 (arXiv 2506.16790). Its variance is a third of what keeps a
    linear layer's output variance, so deep models collapse (FSP ~1e-17 at depth 64 on Cora).

    Args:
        model: any deepgnn model.
        bias: ``"zeros"`` (as in the authors' signal-propagation experiments), ``"uniform"``
            (the same law as the weights, as in ``torch.nn.Linear`` and the authors' layer
            code) or ``"keep"``.
        generator: random generator; ``None`` uses the global one.

    Example:
        >>> import deepgnn
        >>> m = conventional_(deepgnn.build("gcn", 100, 3, depth=2))
        >>> bool(m.layer_weights()[0].weight.abs().max() <= 0.1)
        True
    """
    model = _check_model(model)
    check_choice("bias", bias, (*_BIAS, "uniform"))
    with torch.no_grad():
        for lw in model.layer_weights():
            bound = 1.0 / math.sqrt(lw.fan_in)
            lw.weight.uniform_(-bound, bound, generator=generator)
            if lw.bias is not None and bias == "uniform":
                lw.bias.uniform_(-bound, bound, generator=generator)
            _finish_(lw, "keep" if bias == "uniform" else bias)
        _reset_gates_(model)
    return model


def xavier_(
    model: GNN,
    *,
    distribution: str = "uniform",
    gain: float = 1.0,
    bias: str = "zeros",
    generator: torch.Generator | None = None,
) -> GNN:
    r"""Glorot/Xavier initialization of every weight. In place; returns ``model``.

    .. math:: \operatorname{Var} W_{ij} = \frac{2\, g^2}{n_\text{in} + n_\text{out}}

    uniform on :math:`\pm g\sqrt{6/(n_\text{in}+n_\text{out})}` or normal. Glorot & Bengio,
    "Understanding the difficulty of training deep feedforward neural networks",
    AISTATS 2010, eq. 16.

    Args:
        model: any deepgnn model.
        distribution: ``"uniform"`` or ``"normal"``.
        gain: multiplies the standard deviation.
        bias: ``"zeros"`` or ``"keep"``.
        generator: random generator; ``None`` uses the global one.
    """
    model = _check_model(model)
    _check_common(distribution, bias)
    stds = [gain * math.sqrt(2.0 / (lw.fan_in + lw.fan_out)) for lw in model.layer_weights()]
    return _apply_(model, stds, distribution, bias, generator)


def kaiming_(
    model: GNN,
    *,
    mode: str = "fan_in",
    nonlinearity: str = "relu",
    negative_slope: float | None = None,
    distribution: str = "normal",
    bias: str = "zeros",
    generator: torch.Generator | None = None,
) -> GNN:
    r"""He/Kaiming initialization of every weight. In place; returns ``model``.

    .. math:: \operatorname{Var} W_{ij} = \frac{g^2}{n_\text{mode}}, \qquad g_\text{relu} = \sqrt2,
        \; g_\text{tanh} = 5/3

    He, Zhang, Ren, Sun, "Delving Deep into Rectifiers", ICCV 2015, eqs. 10 (fan_in) and
    14 (fan_out); gains as :func:`torch.nn.init.calculate_gain`.

    Args:
        model: any deepgnn model.
        mode: ``"fan_in"`` (keeps forward variance) or ``"fan_out"`` (backward).
        nonlinearity: ``relu``, ``leaky_relu``, ``tanh``, ``sigmoid``, ``selu``, ``linear``
            or ``identity``.
        negative_slope: slope of ``leaky_relu`` (default 0.01).
        distribution: ``"normal"`` (the paper's) or ``"uniform"``.
        bias: ``"zeros"`` or ``"keep"``.
        generator: random generator; ``None`` uses the global one.
    """
    model = _check_model(model)
    _check_common(distribution, bias)
    check_choice("mode", mode, _MODES)
    g = _gain(nonlinearity, negative_slope)
    stds = [
        g / math.sqrt(lw.fan_in if mode == "fan_in" else lw.fan_out) for lw in model.layer_weights()
    ]
    return _apply_(model, stds, distribution, bias, generator)


def lecun_(
    model: GNN,
    *,
    distribution: str = "normal",
    bias: str = "zeros",
    generator: torch.Generator | None = None,
) -> GNN:
    r"""LeCun initialization of every weight. In place; returns ``model``.

    .. math:: \operatorname{Var} W_{ij} = \frac{1}{n_\text{in}}

    LeCun, Bottou, Orr, Müller, "Efficient BackProp", Neural Networks: Tricks of the Trade,
    1998, Sec. 4.6.

    Args:
        model: any deepgnn model.
        distribution: ``"normal"`` or ``"uniform"``.
        bias: ``"zeros"`` or ``"keep"``.
        generator: random generator; ``None`` uses the global one.
    """
    # The SPoGInit authors' `Lecun` divides by weight.size(0), i.e. fan_out for (out, in)
    # weights; we follow LeCun et al. (1998) and use fan_in.
    model = _check_model(model)
    _check_common(distribution, bias)
    stds = [1.0 / math.sqrt(lw.fan_in) for lw in model.layer_weights()]
    return _apply_(model, stds, distribution, bias, generator)


def orthogonal_(
    model: GNN,
    *,
    gain: float = 1.0,
    bias: str = "zeros",
    generator: torch.Generator | None = None,
) -> GNN:
    r"""Draw every weight as ``gain`` times a random (semi-)orthogonal matrix. In place; returns ``model``.

    :math:`W W^\top = g^2 I` when :math:`n_\text{out} \le n_\text{in}`, else
    :math:`W^\top W = g^2 I`. Saxe, McClelland, Ganguli, "Exact solutions to the nonlinear
    dynamics of learning in deep linear neural networks", ICLR 2014.

    Args:
        model: any deepgnn model.
        gain: scale of the orthogonal matrix.
        bias: ``"zeros"`` or ``"keep"``.
        generator: random generator; ``None`` uses the global one.
    """
    model = _check_model(model)
    check_choice("bias", bias, _BIAS)
    with torch.no_grad():
        for lw in model.layer_weights():
            torch.nn.init.orthogonal_(lw.weight, gain=gain, generator=generator)
            _finish_(lw, bias)
        _reset_gates_(model)
    return model


# ------------------------------------------------------------------ graph-aware schemes
def _propagated_sq_norms(graph: Graph, v: Tensor, steps: int) -> list[float]:
    """``[‖v‖², ‖Âv‖², ..., ‖Â^steps v‖²]`` in float64."""
    out = [float(v.pow(2).sum())]
    for _ in range(steps):
        v = graph.spmm(v)
        out.append(float(v.pow(2).sum()))
    return out


def _check_graph(graph: object) -> Graph:
    if not isinstance(graph, Graph):
        raise TypeError(
            f"graph must be a deepgnn.Graph, got {type(graph).__name__}; "
            "build one with deepgnn.Graph(edge_index) or Graph.from_dgl(g)"
        )
    return graph


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
    model = _check_model(model)
    graph = _check_graph(graph)
    if not isinstance(x, Tensor) or x.dim() != 2 or x.shape[0] != graph.num_nodes:
        raise ValueError(
            f"x must be a tensor of shape (num_nodes={graph.num_nodes}, in_dim), "
            f"got {getattr(x, 'shape', type(x).__name__)}"
        )
    g2 = _gain(nonlinearity) ** 2
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
            fwd = g2 / lw.fan_in * fwd_sq[seen - 1] / fwd_sq[seen]
        if k == len(lws) - 1:
            ones_sq = bwd_sq[1] if is_conv[k] else bwd_sq[0]  # ‖Â1‖², or ‖1‖² = N
            bwd = graph.num_nodes / ((classes - 1) * ones_sq)
        elif is_conv[k]:
            bwd = g2 / lw.fan_out * bwd_sq[after] / bwd_sq[after + 1]
        else:
            bwd = g2 / lw.fan_out
        variances.append(2.0 / (1.0 / fwd + 1.0 / bwd))
    return variances


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
        ValueError: ``x`` has zero per-node means everywhere, or the model has one output.
    """
    variances = virgo_variances(model, graph, x, nonlinearity=nonlinearity)
    check_choice("bias", bias, _BIAS)
    return _apply_(model, [math.sqrt(v) for v in variances], "uniform", bias, generator)


def ginit_variances(model: GNN, graph: Graph, *, nonlinearity: str = "relu") -> list[float]:
    r"""Return the per-layer weight variances of :func:`ginit_`."""
    model = _check_model(model)
    graph = _check_graph(graph)
    g2 = _gain(nonlinearity) ** 2
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
    _check_common(distribution, bias)
    return _apply_(model, [math.sqrt(v) for v in variances], distribution, bias, generator)


# ---------------------------------------------------------------------- scaling, dispatch
def _as_scales(arg: str, scales: object, n: int) -> list[float]:
    if isinstance(scales, (int, float)) and not isinstance(scales, bool):
        return [float(scales)] * n
    if isinstance(scales, Tensor):
        scales = scales.detach().flatten().tolist()
    if not isinstance(scales, Sequence) or isinstance(scales, str):
        raise TypeError(f"{arg} must be a number or a sequence of {n} numbers, got {scales!r}")
    if len(scales) != n:
        raise ValueError(f"{arg} has {len(scales)} entries but the model has {n}; pass {n}")
    out = [float(s) for s in scales]
    if not all(math.isfinite(s) for s in out):
        raise ValueError(f"{arg} must be finite, got {out}")
    return out


def scale_(
    model: GNN,
    scales: float | Sequence[float] | Tensor,
    *,
    gates: Mapping[str, float | Sequence[float] | Tensor] | None = None,
) -> GNN:
    r"""Multiply each layer's weight by its own scale: :math:`W_l \leftarrow c_l W_l`. In place; returns ``model``.

    The search space of SPoGInit (Wang et al., TMLR 2025, arXiv 2506.16790): per-layer
    multiplicative scales of an initialization. Biases are not scaled.

    Args:
        model: any deepgnn model.
        scales: one number for all layers, or one per entry of ``model.layer_weights()``.
        gates: for ``gated_resgcn`` / ``rezero``, ``{"alpha": ..., "beta": ...}`` scales
            (a number or one per graph layer) multiplying the residual gates; a gate at 0
            stays 0.

    Example:
        >>> import deepgnn
        >>> m = deepgnn.build("gcn", 8, 2, depth=3)
        >>> w0 = m.layer_weights()[1].weight.clone()
        >>> bool((scale_(m, [1.0, 2.0, 1.0]).layer_weights()[1].weight == 2 * w0).all())
        True
    """
    model = _check_model(model)
    lws = model.layer_weights()
    factors = _as_scales("scales", scales, len(lws))
    model_gates = model.gates()
    if gates is not None:
        if not isinstance(gates, Mapping):
            raise TypeError(f"gates must be a dict such as {{'alpha': 0.5}}, got {gates!r}")
        if gates and not model_gates:
            raise ValueError(
                f"gates were given but family {model.family!r} has none; "
                "only gated_resgcn and rezero have alpha/beta"
            )
        unknown = sorted(set(gates) - set(model_gates))
        if unknown:
            raise ValueError(f"gates has unknown keys {unknown}; use 'alpha' and/or 'beta'")
    with torch.no_grad():
        for lw, c in zip(lws, factors):
            lw.weight.mul_(c)
        for name, value in (gates or {}).items():
            param = model_gates[name]
            param.mul_(
                torch.tensor(
                    _as_scales(f"gates[{name!r}]", value, param.numel()), dtype=param.dtype
                )
                .to(param.device)
                .view_as(param)
            )
    return model


def spoginit_(
    model: GNN,
    graph: Graph,
    x: Tensor | None = None,
    y: Tensor | None = None,
    *,
    mask: Tensor | None = None,
    base: str | None = "xavier",
    generator: torch.Generator | None = None,
    **search_options: object,
) -> GNN:
    r"""SPoGInit: draw a base init, then scale each layer to balance signal propagation. In place; returns ``model``.

    Minimizes :math:`J = w_1\,\mathrm{FSP} + w_2\,\mathrm{BSP} + w_3\,(\mathrm{GEV}(X) -
    \mathrm{GEV}(h_L))^2` over per-layer scales :math:`W_l \leftarrow c_l W_l` with
    :func:`deepgnn.search.search`, then applies the best scales with :func:`scale_`.
    Wang, Chen, Zhang, Sun, Ding, "Exploring and Improving Initialization for Deep Graph
    Neural Networks: A Signal Propagation Perspective", TMLR 2025 (arXiv 2506.16790).

    Args:
        model: any deepgnn model.
        graph: the graph the model propagates on.
        x: node features ``(num_nodes, in_dim)``; ``None`` searches on random
            :math:`X \sim N(0, 1)`, fresh for every evaluation.
        y: integer labels ``(num_nodes,)``; ``None`` uses random labels.
        mask: bool ``(num_nodes,)`` selecting the loss nodes (e.g. ``ds.train_mask``).
        base: the init drawn first (one of :func:`available`), ``None`` to scale the
            weights the model holds.
        generator: random generator of the base init.
        **search_options: keyword options of :func:`deepgnn.search.search`: its common ones
            (``method``, ``n_trials``, ``seed``, ``form``, ``weights``, ...) and the chosen
            method's settings (``patience``, ``lr``, ``storage``, ...; see
            :func:`deepgnn.search.method_options`). They are checked before the base init is
            drawn: an unknown one, or a setting the method does not take, raises, listing the
            accepted ones.

    Note:
        For the search's trace and scales, call :func:`deepgnn.search.search` and then
        :func:`scale_` with its ``scales`` and ``gates``: that is all this function does.

    Example:
        >>> import deepgnn
        >>> ds = deepgnn.data.load("cora")
        >>> m = deepgnn.build("gcn", ds.num_features, ds.num_classes, depth=6, width=16)
        >>> spoginit_(m, ds.graph, ds.x, ds.y, mask=ds.train_mask, n_trials=5,
        ...           progress=False) is m
        True
    """
    from deepgnn import search as _search

    model = _check_model(model)
    graph = _check_graph(graph)
    accepted = _search_options()
    unknown = sorted(set(search_options) - accepted)
    if unknown:
        raise ValueError(
            f"spoginit_ does not take {unknown}; its search options are {sorted(accepted)}"
        )
    _search.check_options(**search_options)
    if base is not None:
        check_choice("base", base, _SCHEMES)
        init_(model, base, graph=graph, x=x, generator=generator)
    result = _search.search(model, graph, x, y, mask=mask, **search_options)  # type: ignore[arg-type]
    return scale_(model, result.scales, gates=result.gates)


_SCHEMES: dict[str, Callable[..., GNN]] = {
    "conventional": conventional_,
    "xavier": xavier_,
    "kaiming": kaiming_,
    "lecun": lecun_,
    "orthogonal": orthogonal_,
    "virgo": virgo_,
    "ginit": ginit_,
    "spoginit": spoginit_,
}


def available() -> list[str]:
    """Return the names :func:`init_` accepts.

    Example:
        >>> available()
        ['conventional', 'ginit', 'kaiming', 'lecun', 'orthogonal', 'spoginit', 'virgo', 'xavier']
    """
    return sorted(_SCHEMES)


def _keyword_only(fn: Callable[..., object]) -> set[str]:
    return {p.name for p in inspect.signature(fn).parameters.values() if p.kind is p.KEYWORD_ONLY}


def _search_options() -> set[str]:
    """The options ``spoginit_`` forwards to :func:`deepgnn.search.search`: its common keywords
    and every method's settings (which of them a call may pass depends on its method)."""
    from deepgnn.search import METHODS, method_options, search

    settings = {name for method in METHODS for name in method_options(method)}
    return (_keyword_only(search) - {"mask"}) | settings


def options(scheme: str) -> set[str]:
    """Return every keyword option init scheme ``scheme`` accepts.

    ``spoginit``: its own, :func:`deepgnn.search.search`'s common keywords and the settings of
    every search method (:func:`deepgnn.search.method_options`); a call may pass the settings
    of its method only.

    Example:
        >>> sorted(options("xavier"))
        ['bias', 'distribution', 'gain', 'generator']
    """
    check_choice("scheme", scheme, _SCHEMES)
    return _accepted(scheme)


def _accepted(scheme: str) -> set[str]:
    names = _keyword_only(_SCHEMES[scheme])
    if scheme == "spoginit":
        names |= _search_options()
    return names


def init_(
    model: GNN,
    name: str,
    *,
    graph: Graph | None = None,
    x: Tensor | None = None,
    **options: object,
) -> GNN:
    """Initialize ``model`` with the scheme called ``name``. In place; returns ``model``.

    Args:
        model: any deepgnn model.
        name: one of :func:`available`.
        graph: needed by ``virgo`` and ``ginit``.
        x: node features, needed by ``virgo``.
        **options: the scheme's keyword options (checked: an unknown one raises, listing
            the accepted ones), e.g. ``distribution="normal"`` or ``generator=g``.

    Example:
        >>> import deepgnn
        >>> ds = deepgnn.data.load("cora")
        >>> m = deepgnn.build("gcn", ds.num_features, ds.num_classes, depth=4)
        >>> init_(m, "virgo", graph=ds.graph, x=ds.x) is m
        True
    """
    check_choice("name", name, _SCHEMES)
    fn = _SCHEMES[name]
    params = inspect.signature(fn).parameters
    accepted = _accepted(name)
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise ValueError(
            f"init {name!r} does not take {unknown}; its options are {sorted(accepted)}"
        )
    args: list[object] = [model]
    for needed, value in (("graph", graph), ("x", x)):
        if needed in params:
            if value is None and params[needed].default is inspect.Parameter.empty:
                raise ValueError(
                    f"init {name!r} needs {needed}=; pass init_(model, {name!r}, graph=..., x=...)"
                )
            args.append(value)
    return fn(*args, **options)
