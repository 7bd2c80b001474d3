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
import numbers
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from deepgnn._checks import check_choice, check_real
from deepgnn._draw import (
    BIAS,
    LAYERS,
    MODES,
    activation_gain,
    apply_,
    check_common,
    check_graph,
    check_model,
    check_spread,
    fill_,
    finish_,
    reset_gates_,
)
from deepgnn._graph_schemes import ginit_, ginit_variances, virgo_, virgo_variances
from deepgnn._io import jsonable, load_saved
from deepgnn.graph import Graph
from deepgnn.models import GNN

__all__ = [
    "available",
    "conventional_",
    "ginit_",
    "ginit_variances",
    "init_",
    "kaiming_",
    "lecun_",
    "load_scales_",
    "options",
    "resolve_options",
    "orthogonal_",
    "scale_",
    "spoginit_",
    "virgo_",
    "virgo_variances",
    "xavier_",
]

_DATA = ("real", "random")


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
    model = check_model(model)
    check_choice("bias", bias, (*BIAS, "uniform"))
    with torch.no_grad():
        for lw in model.layer_weights():
            bound = 1.0 / math.sqrt(lw.fan_in)
            fill_(lw.weight, partial(_uniform_, bound=bound, generator=generator))
            if lw.bias is not None and bias == "uniform":
                lw.bias.uniform_(-bound, bound, generator=generator)
            finish_(lw, "keep" if bias == "uniform" else bias)
        reset_gates_(model)
    return model


def _uniform_(t: Tensor, *, bound: float, generator: torch.Generator | None) -> Tensor:
    return t.uniform_(-bound, bound, generator=generator)


def xavier_(
    model: GNN,
    *,
    distribution: str = "uniform",
    gain: float = 1.0,
    layers: str = "all",
    bias: str = "zeros",
    generator: torch.Generator | None = None,
) -> GNN:
    r"""Glorot/Xavier initialization of every weight (or of the convolutions'). In place; returns ``model``.

    .. math:: \operatorname{Var} W_{ij} = \frac{2\, g^2}{n_\text{in} + n_\text{out}}

    uniform on :math:`\pm g\sqrt{6/(n_\text{in}+n_\text{out})}` or normal. Glorot & Bengio,
    "Understanding the difficulty of training deep feedforward neural networks",
    AISTATS 2010, eq. 16. Like every scheme here it draws each weight in torch's
    ``(out, in)`` order, so one generator gives ``backend="dgl"`` models the same weights as
    ``backend="torch"`` ones.

    Args:
        model: any deepgnn model.
        distribution: ``"uniform"`` or ``"normal"``.
        gain: multiplies the standard deviation; a finite number > 0.
        layers: ``"all"`` re-draws every layer weight; ``"conv"`` only the graph
            convolutions' (``kind == "conv"``), leaving the residual families' input and
            output projections (weights and biases) as they are: the SPoGInit authors'
            "glorot" ResGCN / gatResGCN, whose ``reset_parameters`` gives the convolutions
            ``xavier_uniform_`` and zero biases and the projections ``nn.Linear``'s default
            (``models/model.py``, ``models/GCN_layer.py`` of GitHub YChen-zzz/Code-for-SPoGInit).
            The same for ``gcn`` and ``gat``, whose layers are all convolutions.
        bias: ``"zeros"`` or ``"keep"``, for the re-drawn layers.
        generator: random generator; ``None`` uses the global one.

    Example:
        >>> import deepgnn
        >>> m = deepgnn.build("resgcn", 8, 3, depth=2, width=4, seed=0)
        >>> w_in = m.layer_weights()[0].weight.clone()
        >>> bool((xavier_(m, layers="conv").layer_weights()[0].weight == w_in).all())
        True
    """
    model = check_model(model)
    check_common(distribution, bias)
    check_choice("layers", layers, LAYERS)
    gain = check_real("gain", gain, minimum=0.0, exclusive=True)
    stds = [gain * math.sqrt(2.0 / (lw.fan_in + lw.fan_out)) for lw in model.layer_weights()]
    check_spread(model, "gain", gain, math.sqrt(3.0) * max(stds, default=0.0))
    return apply_(model, stds, distribution, bias, generator, layers)


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
    model = check_model(model)
    check_common(distribution, bias)
    check_choice("mode", mode, MODES)
    g = activation_gain(nonlinearity, negative_slope)
    stds = [
        g / math.sqrt(lw.fan_in if mode == "fan_in" else lw.fan_out) for lw in model.layer_weights()
    ]
    return apply_(model, stds, distribution, bias, generator)


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
    model = check_model(model)
    check_common(distribution, bias)
    stds = [1.0 / math.sqrt(lw.fan_in) for lw in model.layer_weights()]
    return apply_(model, stds, distribution, bias, generator)


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
        gain: scale of the orthogonal matrix; a finite number > 0.
        bias: ``"zeros"`` or ``"keep"``.
        generator: random generator; ``None`` uses the global one.
    """
    model = check_model(model)
    check_choice("bias", bias, BIAS)
    gain = check_real("gain", gain, minimum=0.0, exclusive=True)
    check_spread(model, "gain", gain, gain)
    with torch.no_grad():
        for lw in model.layer_weights():
            torch.nn.init.orthogonal_(lw.weight, gain=gain, generator=generator)
            finish_(lw, bias)
        reset_gates_(model)
    return model


# ---------------------------------------------------------------------- scaling, dispatch
def _as_scales(arg: str, scales: object, n: int) -> list[float]:
    if isinstance(scales, numbers.Real) and not isinstance(scales, bool):
        return [check_real(arg, scales, example="0.5")] * n
    if isinstance(scales, Tensor):
        scales = scales.detach().flatten().tolist()
    if not isinstance(scales, Sequence) or isinstance(scales, str):
        raise TypeError(f"{arg} must be a number or a sequence of {n} numbers, got {scales!r}")
    if len(scales) != n:
        raise ValueError(f"{arg} has {len(scales)} entries but the model has {n}; pass {n}")
    if not all(isinstance(s, numbers.Real) and not isinstance(s, bool) for s in scales):
        raise TypeError(f"{arg} must be a number or a sequence of {n} numbers, got {scales!r}")
    out = [float(s) for s in scales]
    if not all(math.isfinite(s) for s in out):
        raise ValueError(f"{arg} must be finite, got {out}; pass finite scales")
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
        scales: one finite number for all layers, or one per entry of
            ``model.layer_weights()``.
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
    model = check_model(model)
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
    base_layers: str = "all",
    data: str = "real",
    generator: torch.Generator | None = None,
    **search_options: Any,
) -> GNN:
    r"""SPoGInit: draw a base init, then scale each layer to balance signal propagation. In place; returns ``model``.

    Minimizes :math:`J = w_1\,\mathrm{FSP} + w_2\,\mathrm{BSP} + w_3\,(\mathrm{GEV}(X) -
    \mathrm{GEV}(h))^2` over per-layer scales :math:`W_l \leftarrow c_l W_l` with
    :func:`deepgnn.search.search`, then applies the best scales with :func:`scale_`.
    Without ``form`` / ``weights`` / ``state`` the objective is the authors' for the model's
    family (:func:`deepgnn.search.objective_defaults`): ``gcn`` / ``gat``: ``divide_old``,
    weights (1, 10, 1), on the hidden states and the logits, searched by Gauss-Newton;
    ``resgcn`` / ``gated_resgcn`` / ``rezero``: ``divide_stable``, weights (1, 1, 1), on the
    hidden states, searched by Adam. Wang, Chen, Zhang, Sun, Ding, "Exploring and Improving
    Initialization for Deep Graph Neural Networks: A Signal Propagation Perspective",
    TMLR 2025 (arXiv 2506.16790).

    Args:
        model: any deepgnn model.
        graph: the graph the model propagates on.
        x: node features ``(num_nodes, in_dim)``; ``None`` searches on random
            :math:`X \sim N(0, 1)`, fresh for every evaluation.
        y: integer labels ``(num_nodes,)``; ``None`` uses random labels.
        mask: bool ``(num_nodes,)`` selecting the loss nodes (e.g. ``ds.train_mask``).
        base: the init drawn first (one of :func:`available`), ``None`` to scale the
            weights the model holds.
        base_layers: the layers the base re-draws, for a base that takes ``layers``
            (``xavier``): ``"all"``, or ``"conv"`` for the authors' residual "glorot"
            (projections left as built; see :func:`xavier_`).
        data: ``"real"`` searches on ``x`` and ``y``; ``"random"`` on fresh
            :math:`X \sim N(0, 1)` and uniform random labels for every evaluation (``x``
            still feeds a base that needs it, the loss stays on ``mask``), as the authors'
            ogbn-arxiv GCN search (``generate_data=True`` in ``Arxiv_run.py``).
        generator: random generator of the base init.
        **search_options: keyword options of :func:`deepgnn.search.search`: its common ones
            (``method``, ``n_trials``, ``seed``, ``form``, ``weights``, ``state``, ...) and
            the chosen method's settings (``patience``, ``lr``, ``storage``, ...; see
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
        >>> spoginit_(m, ds.graph, ds.x, ds.y, mask=ds.train_mask, data="random",
        ...           n_trials=5, progress=False) is m
        True
    """
    from deepgnn import search as _search

    model = check_model(model)
    graph = check_graph(graph)
    accepted = _search_options()
    unknown = sorted(set(search_options) - accepted)
    if unknown:
        raise ValueError(
            f"spoginit_ does not take {unknown}; its search options are {sorted(accepted)}"
        )
    check_choice("data", data, _DATA)
    check_choice("base_layers", base_layers, LAYERS)
    _search.check_options(family=model.family, **search_options)
    if base is not None:
        check_choice("base", base, _SCHEMES)
        base_options: dict[str, object] = {"generator": generator}
        if "layers" in _keyword_only(_SCHEMES[base]):
            base_options["layers"] = base_layers
        elif base_layers != "all":
            raise ValueError(
                f"base_layers={base_layers!r} needs a base that takes layers, such as "
                f"'xavier'; base={base!r} re-draws every layer: pass base_layers='all'"
            )
        init_(model, base, graph=graph, x=x, **base_options)
    elif base_layers != "all":
        warnings.warn(
            f"base_layers={base_layers!r} has no effect with base=None (no base is drawn); "
            "draw the base with xavier_(model, layers=...) or pass base='xavier'",
            stacklevel=2,
        )
    if data == "random":
        x, y = None, None
    result = _search.search(model, graph, x, y, mask=mask, **search_options)
    return scale_(model, result.scales, gates=result.gates)


def load_scales_(model: GNN, path: str | os.PathLike[str]) -> GNN:
    r"""Apply the SPoGInit scales a search saved to ``model``: :math:`W_l \leftarrow c_l W_l`. In place; returns ``model``.

    Reads a file written by ``deepgnn search ... --save scales.pt`` (or
    :meth:`deepgnn.search.SearchResult.save`) with ``torch.load(..., weights_only=True)``,
    checks that ``model`` has the architecture the scales were searched for (family, depth,
    width, dimensions, layer-weight shapes), and applies them with :func:`scale_`, as
    :func:`spoginit_` applies the scales it finds. The scales multiply the weights ``model``
    holds: give it the base initialization the search started from (the same build seed and
    base init, e.g. ``xavier_`` with the seed the file's ``info`` names) to get the searched
    model's weights back.

    Args:
        model: a model of the architecture the scales were searched for.
        path: the scales file.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file holds no scales, or scales for another architecture.

    Example:
        >>> import deepgnn, tempfile, pathlib, torch
        >>> from deepgnn.search import search
        >>> ds = deepgnn.data.load("cora")
        >>> m = xavier_(deepgnn.build("gcn", ds.num_features, ds.num_classes, depth=4,
        ...                           width=16), generator=torch.Generator().manual_seed(0))
        >>> result = search(m, ds.graph, ds.x, ds.y, mask=ds.train_mask, n_trials=3,
        ...                 progress=False)
        >>> path = result.save(pathlib.Path(tempfile.mkdtemp()) / "scales.pt", m)
        >>> again = xavier_(deepgnn.build("gcn", ds.num_features, ds.num_classes, depth=4,
        ...                               width=16), generator=torch.Generator().manual_seed(0))
        >>> w = scale_(m, result.scales).layer_weights()[1].weight
        >>> bool((load_scales_(again, path).layer_weights()[1].weight == w).all())
        True
    """
    from deepgnn.search import SCALES_FORMAT

    model = check_model(model)
    path = Path(path)
    saved = load_saved(
        path,
        missing=f"path={str(path)!r}: no scales file there; write one with `deepgnn search ... "
        "--save scales.pt` or SearchResult.save(path, model)",
        invalid=f"path={str(path)!r} is not a scales file",
        fix="pass one written by `deepgnn search ... --save`",
        format=SCALES_FORMAT,
    )
    searched = f"{saved['family']}-{saved['depth']} of width {saved['width']}"
    for key in ("family", "depth", "width", "in_dim", "out_dim"):
        if saved[key] != getattr(model, key):
            raise ValueError(
                f"path={str(path)!r} holds scales searched for a {searched}, "
                f"{saved['in_dim']} -> {saved['out_dim']}, but model has {key}="
                f"{getattr(model, key)!r} (the file: {saved[key]!r}); build the model with "
                f"{key}={saved[key]!r}, or search this model and save its own scales"
            )
    shapes = [list(lw.weight.shape) for lw in model.layer_weights()]
    if shapes != saved["shapes"]:
        raise ValueError(
            f"path={str(path)!r} holds scales for layer weights of shapes {saved['shapes']}, "
            f"but model's are {shapes}; build the model with the options the search's had "
            "(bias, family options), or search this model and save its own scales"
        )
    return scale_(model, saved["scales"], gates=saved["gates"] or None)


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
        ['bias', 'distribution', 'gain', 'generator', 'layers']
    """
    check_choice("scheme", scheme, _SCHEMES)
    return _accepted(scheme)


def resolve_options(scheme: str, *, family: str | None = None, **options: object) -> dict[str, Any]:
    """Return every option init scheme ``scheme`` runs with, its defaults applied.

    The scheme's keyword options with their defaults, overridden by ``options`` (``generator``
    left out: a draw's randomness is its seed, not a setting). For ``spoginit`` that is
    ``base``, ``base_layers``, ``data`` and everything :func:`deepgnn.search.resolve_options`
    resolves for ``family``: the objective, the method and its settings, the budget. Values are
    plain JSON-able ones: a sweep hashes them into its cell keys, so that a change of a library
    default makes a new cell instead of passing an old result off as current.

    Raises:
        ValueError: an unknown scheme or option (as :func:`init_`).

    Example:
        >>> resolve_options("xavier")
        {'bias': 'zeros', 'distribution': 'uniform', 'gain': 1.0, 'layers': 'all'}
        >>> r = resolve_options("spoginit", family="gcn", n_trials=100)
        >>> r["base"], r["form"], r["weights"], r["state"], r["method"], r["n_trials"]
        ('xavier', 'divide_old', [1.0, 10.0, 1.0], 'logits', 'gauss_newton', 100)
    """
    check_choice("scheme", scheme, _SCHEMES)
    accepted = _accepted(scheme)
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise ValueError(
            f"init scheme {scheme!r} does not take {unknown}; its options are {sorted(accepted)}"
        )
    params = inspect.signature(_SCHEMES[scheme]).parameters
    resolved: dict[str, Any] = {}
    for name, p in params.items():
        if p.kind is p.KEYWORD_ONLY and name not in ("generator", "mask"):
            resolved[name] = options.get(name, p.default)
    if scheme == "spoginit":
        from deepgnn import search as _search

        rest = {k: v for k, v in options.items() if k not in resolved}
        resolved.update(_search.resolve_options(family, **rest))
    return {k: jsonable(v) for k, v in sorted(resolved.items())}


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
