r"""Signal-propagation analysis: per-layer tables, GEV, the SPoGInit objective, depth tables.

The metrics of Wang, Chen, Zhang, Sun, Ding, "Exploring and Improving Initialization for
Deep Graph Neural Networks: A Signal Propagation Perspective", TMLR 2025 (arXiv 2506.16790):

- FSP (forward): :math:`\|h_L\| / \|X\|` with :math:`h_L` the logits;
- BSP (backward): the gradient norm :math:`\|\partial \ell / \partial W_1\|` of the first layer;
- GEV (graph embedding variation): :func:`gev` of the logits, and of the input.

:func:`analyze` measures them with one forward and one backward pass; :func:`depth_table`
sweeps depths × initializations × seeds.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor

from deepgnn._checks import check_choice, check_int
from deepgnn.data._dataset import Dataset
from deepgnn.graph import Graph
from deepgnn.models._base import GNN

__all__ = [
    "FORMS",
    "analyze",
    "depth_table",
    "format_depth_table",
    "gev",
    "objective",
    "plot_depth_table",
    "write_atomic",
]

logger = logging.getLogger(__name__)

FORMS = ("divide_stable", "divide_old")


# ------------------------------------------------------------------------------- GEV
def _gev(h: Tensor, graph: Graph) -> Tensor:
    """GEV as a 0-dim tensor, differentiable in ``h`` (one SpMM for all columns)."""
    u = h if h.dtype in (torch.float32, torch.float64) else h.float()
    den = torch.linalg.vecdot(u, u, dim=0)
    # GEV is scale-invariant per column. When squares underflow (a collapsed state) or
    # overflow (an exploded one), divide each column by its largest magnitude and measure
    # again; the scale is a constant for autograd, exact for a scale-invariant function.
    tiny = 1e-30 if u.dtype == torch.float32 else 1e-290
    bad = ~torch.isfinite(den) | ((den > 0) & (den < tiny))
    zero = den == 0  # a zero column, or one whose squares all underflowed
    if bool(bad.any()) or (bool(zero.any()) and bool(u[:, zero].detach().abs().amax() > 0)):
        scale = u.detach().abs().amax(dim=0)
        u = u / torch.where(scale > 0, scale, torch.ones_like(scale))
        den = torch.linalg.vecdot(u, u, dim=0)
    num = torch.linalg.vecdot(u, u - graph.spmm(u), dim=0)  # u_k^T (I - Â) u_k, all k at once
    safe = torch.where(den > 0, den, torch.ones_like(den))
    ratio = torch.where(den > 0, num / safe, torch.zeros_like(num))
    return 0.5 * ratio.mean()


def gev(h: Tensor, graph: Graph) -> float:
    r"""Graph embedding variation of node embeddings ``h``.

    Half the mean Rayleigh quotient of the normalized Laplacian over the columns
    :math:`u_k` of :math:`H \in \mathbb{R}^{N \times d}`; zero columns count as 0:

    .. math::
        \mathrm{GEV}(H) = \frac{1}{2d} \sum_{k=1}^{d}
            \frac{u_k^\top (I - \hat A)\, u_k}{u_k^\top u_k}

    Over-smoothed embeddings give values near 0: an eigenvector of :math:`\hat A` with
    eigenvalue :math:`\lambda` gives :math:`(1-\lambda)/2`, and :math:`D^{1/2}\mathbf 1`
    (eigenvalue 1) gives 0. Computed in the dtype of ``h`` (float32 below it) with one sparse
    product for all columns; columns of tiny (collapsed) or huge states are first divided by
    their largest magnitude, so they are measured without underflow or overflow.
    Wang, Chen, Zhang, Sun, Ding, "Exploring and Improving Initialization for Deep Graph
    Neural Networks: A Signal Propagation Perspective", TMLR 2025 (arXiv 2506.16790).

    Args:
        h: node embeddings, shape ``(num_nodes, d)`` or ``(num_nodes,)``.
        graph: the graph whose :math:`\hat A` defines smoothness.

    Returns:
        A float in ``[0, 1)``, or NaN/inf when ``h`` holds them.

    Example:
        >>> import deepgnn
        >>> ds = deepgnn.data.load("cora")
        >>> 0.0 <= gev(ds.x, ds.graph) < 1.0
        True
    """
    if not isinstance(graph, Graph):
        raise TypeError(f"graph must be a deepgnn.Graph, got {type(graph).__name__}")
    if not isinstance(h, Tensor):
        raise TypeError(f"h must be a torch.Tensor, got {type(h).__name__}")
    if h.dim() == 1:
        h = h.unsqueeze(1)
    if h.dim() != 2 or h.shape[0] != graph.num_nodes:
        raise ValueError(
            f"h must have shape (num_nodes={graph.num_nodes}, d), got {tuple(h.shape)}"
        )
    with torch.no_grad():
        return float(_gev(h, graph))


# ------------------------------------------------------------------------ the terms
def _norm64(t: Tensor) -> Tensor:
    return torch.linalg.vector_norm(t, dtype=torch.float64)


def _max_over_min(values: list[Tensor], nan: Tensor) -> Tensor:
    """``max/min`` of scalar tensors; NaN when empty or any is NaN, inf when the minimum is 0.

    The two entries are picked on detached values and divided directly: the backward of a
    ``max`` over a stacked tensor sends zero gradients into every entry's graph, which a
    search's double backward then traverses in full.
    """
    if not values:
        return nan
    v = torch.stack([t.detach() for t in values])
    if bool(torch.isnan(v).any()):
        return nan
    return values[int(v.argmax())] / values[int(v.argmin())]


def _signal_terms(
    model: GNN,
    graph: Graph,
    x: Tensor,
    y: Tensor | None = None,
    mask: Tensor | None = None,
    *,
    generator: torch.Generator | None = None,
    create_graph: bool = False,
    all_gev: bool = True,
) -> dict[str, Any]:
    """One forward and one backward pass; every quantity as a tensor (graph kept on demand).

    With ``create_graph=True`` the returned terms are differentiable in the model's
    parameters (a gradient-based search can descend on them).
    """
    states = model.hidden_states(graph, x)
    logits = states[-1]
    n, classes = logits.shape
    if y is None:
        y = torch.randint(0, classes, (n,), generator=generator, device="cpu").to(logits.device)
    if mask is None:
        mask = y >= 0
    logp = F.log_softmax(logits[mask], dim=1)
    loss = F.nll_loss(logp, y[mask])

    lws = model.layer_weights()
    grads = torch.autograd.grad(
        loss,
        [lw.param for lw in lws],
        create_graph=create_graph,
        retain_graph=create_graph,
        allow_unused=True,
    )
    # Norms in float64: a float32 state with entries ~1e20 is finite, its float32 norm is inf.
    zero = logits.new_zeros((), dtype=torch.float64)
    grad_list = [_norm64(g) if g is not None else zero for g in grads]  # unused: gradient 0
    grad_norms = torch.stack(grad_list)
    if not create_graph:
        states = [s.detach() for s in states]
    norm_list = [_norm64(s) for s in states]
    norms = torch.stack(norm_list)
    widths = [s.shape[1] for s in states]
    if all_gev:
        gevs = torch.stack([_gev(s, graph) for s in states])
    else:
        gevs = torch.stack([_gev(states[0], graph), _gev(logits, graph)])

    # Search forms over the interior states h_1..h_{K-1} (no input, no logits) and over the
    # convolutions' gradients, as the authors' print_all_x and find_parameters(model.convs).
    # Built from the unstacked scalars, so that a search's backward visits only the graphs
    # of the entries a term uses (see _max_over_min).
    interior = [norm_list[k] / math.sqrt(widths[k]) for k in range(1, len(states) - 1)]
    conv_grads = [grad_list[i] for i, lw in enumerate(lws) if lw.kind == "conv"]
    gev_in, gev_out = gevs[0], gevs[-1]
    nan = norms.new_tensor(float("nan"))
    fsp_stable = _max_over_min(interior, nan)
    bsp_stable = _max_over_min(conv_grads, nan)
    fsp_old = norm_list[1] / norm_list[-2] if len(states) > 2 else nan
    bsp_old = conv_grads[1] / conv_grads[-2] if len(conv_grads) >= 2 else nan
    terms: dict[str, Any] = {
        "loss": loss if create_graph else loss.detach(),
        "norms": norms,
        "widths": widths,
        "grad_norms": grad_norms,
        "gevs": gevs,
        "fsp": norms[-1] / norms[0],
        "bsp": grad_norms[0],
        "gev": gev_out,
        "gev_input": gev_in,
        "gev_gap": (gev_in - gev_out) ** 2,
        "fsp_divide_stable": (fsp_stable - 1.0) ** 2,
        "bsp_divide_stable": (bsp_stable - 1.0) ** 2,
        "fsp_divide_old": (fsp_old - 1.0) ** 2,
        "bsp_divide_old": (bsp_old - 1.0) ** 2,
        # The same ratios as logarithms: a term is (e^r - 1)^2 of its r (see _residuals).
        "fsp_log_divide_stable": torch.log(fsp_stable),
        "bsp_log_divide_stable": torch.log(bsp_stable),
        "fsp_log_divide_old": torch.log(fsp_old),
        "bsp_log_divide_old": torch.log(bsp_old),
    }
    return terms


def _residuals(terms: dict[str, Any], form: str) -> list[Tensor]:
    r"""The objective's three residuals :math:`r`, float64 scalars.

    :math:`r_0, r_1` are the logarithms of the FSP and BSP ratios of ``form`` and
    :math:`r_2 = \mathrm{GEV}(X) - \mathrm{GEV}(h_L)`, so that
    :math:`J = w_1 (e^{r_0} - 1)^2 + w_2 (e^{r_1} - 1)^2 + w_3 r_2^2`. The logarithms are
    near-linear in the log-scales (the FSP one of a bias-free ReLU GCN exactly: it is a sum
    of them), which is what a Gauss-Newton step needs. A list, not a stacked tensor: the
    backward of one entry of a stack sends zeros down the other two graphs (the double
    backward of BSP among them), which made a Jacobian cost 1.4x more (Cora, depth 64, CPU).
    """
    gev_gap = (terms["gev_input"] - terms["gev"]).to(torch.float64)
    return [terms[f"fsp_log_{form}"].to(torch.float64), terms[f"bsp_log_{form}"], gev_gap]


def objective(
    terms: dict[str, Any],
    *,
    form: str = "divide_stable",
    weights: Sequence[float] = (1.0, 1.0, 1.0),
) -> Any:
    r"""The SPoGInit objective from signal-propagation terms (a tensor in, a tensor out).

    .. math:: J = w_1\, \mathrm{FSP}_\text{form} + w_2\, \mathrm{BSP}_\text{form}
        + w_3\, (\mathrm{GEV}(X) - \mathrm{GEV}(h_L))^2

    ``divide_stable``: :math:`\mathrm{FSP} = (\max_l n_l / \min_l n_l - 1)^2` over the
    interior states, :math:`n_l = \|h_l\|/\sqrt{d_l}`, and
    :math:`\mathrm{BSP} = (\max_l g_l / \min_l g_l - 1)^2` over the convolutions' gradient
    norms. ``divide_old``: :math:`(\|h_1\|/\|h_{K-1}\| - 1)^2` and
    :math:`(g_2 / g_{L-1} - 1)^2`. Wang et al., TMLR 2025 (arXiv 2506.16790), Sec. 5 and the
    authors' ``spoginit.py``; the authors weight BSP by :math:`w_2 = 10` for GCN.

    Args:
        terms: the summary of :func:`analyze` (``df.attrs["summary"]``) or the private
            tensor terms, holding ``fsp_<form>``, ``bsp_<form>`` and ``gev_gap``.
        form: ``"divide_stable"`` or ``"divide_old"``.
        weights: ``(w1, w2, w3)``.

    Returns:
        ``J``, of the type of the terms (float or tensor); NaN for models too shallow for
        the form (no interior state, fewer than two convolutions).

    Example:
        >>> objective({"fsp_divide_stable": 0.5, "bsp_divide_stable": 1.0, "gev_gap": 0.25},
        ...           weights=(1, 10, 4))
        11.5
    """
    check_choice("form", form, FORMS)
    if len(weights) != 3:
        raise ValueError(f"weights must be (w1, w2, w3), got {tuple(weights)}")
    w1, w2, w3 = (float(w) for w in weights)
    return w1 * terms[f"fsp_{form}"] + w2 * terms[f"bsp_{form}"] + w3 * terms["gev_gap"]


# --------------------------------------------------------------------------- analyze
def _check_operands(
    model: object, graph: object, x: object, y: object, mask: object
) -> tuple[GNN, Graph, Tensor]:
    if not isinstance(model, GNN):
        raise TypeError(f"model must be a deepgnn.models.GNN, got {type(model).__name__}")
    if not isinstance(graph, Graph):
        if type(graph).__name__ == "DGLGraph":
            graph = Graph.from_dgl(graph)
        else:
            raise TypeError(f"graph must be a deepgnn.Graph, got {type(graph).__name__}")
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    n = graph.num_nodes
    if y is not None:
        if not isinstance(y, Tensor) or y.shape != (n,) or y.is_floating_point():
            raise ValueError(
                f"y must be an integer tensor of shape ({n},), got "
                f"{getattr(y, 'dtype', type(y).__name__)} {tuple(getattr(y, 'shape', ()))}"
            )
        if int(y.max()) >= model.out_dim:
            raise ValueError(
                f"y holds label {int(y.max())} but the model has out_dim={model.out_dim}; "
                f"build it with out_dim={int(y.max()) + 1}"
            )
    if mask is not None:
        if not isinstance(mask, Tensor) or mask.dtype != torch.bool or mask.shape != (n,):
            raise ValueError(f"mask must be a bool tensor of shape ({n},)")
        if not bool(mask.any()):
            raise ValueError("mask selects no node; pass a mask with at least one True")
        if y is not None and bool((y[mask] < 0).any()):
            raise ValueError("mask selects nodes with label -1 (unlabeled); drop them from mask")
    return model, graph, x


def _finite(t: Tensor) -> bool:
    return bool(torch.isfinite(t).all())


def analyze(
    model: GNN,
    graph: Graph,
    x: Tensor,
    y: Tensor | None = None,
    *,
    mask: Tensor | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    r"""Per-layer signal-propagation table of ``model`` on ``(graph, x)``, from one forward and one backward pass.

    The loss is the NLL of the softmax of the logits on the ``mask`` nodes with labels ``y``
    (random labels drawn from ``seed`` when ``y`` is ``None``; all labelled nodes when
    ``mask`` is ``None``). The model runs in eval mode (no dropout, as in the authors'
    search) and is restored to its mode after; its ``.grad`` fields are not touched.

    Columns, one row per state :math:`h_0 = X, h_1, \dots, h_K = \text{logits}`:
    ``layer``, ``kind`` (``input``/``conv``/``linear``), ``width``, ``norm``
    :math:`\|h_l\|`, ``norm_per_sqrt_width``, ``norm_ratio`` :math:`\|h_l\|/\|X\|`,
    ``grad_norm`` :math:`\|\partial\ell/\partial W_l\|` (NaN for the input row), ``gev``
    :math:`\mathrm{GEV}(h_l)` (see :func:`gev`), ``finite``.

    ``df.attrs["summary"]``: ``fsp`` :math:`=\|h_L\|/\|X\|`, ``bsp`` (first layer's gradient
    norm), ``gev``, ``gev_input``, ``gev_gap`` :math:`=(\mathrm{GEV}(X)-\mathrm{GEV}(h_L))^2`,
    ``fsp_divide_stable``, ``bsp_divide_stable``, ``fsp_divide_old``, ``bsp_divide_old``,
    ``objective`` (``divide_stable``, weights 1, 1, 1), ``objective_divide_old``, ``loss``
    and ``diverged`` (True when any state, gradient or the loss is NaN/inf; the values are
    then reported as they are, no exception). See :func:`objective`.

    Wang, Chen, Zhang, Sun, Ding, "Exploring and Improving Initialization for Deep Graph
    Neural Networks: A Signal Propagation Perspective", TMLR 2025 (arXiv 2506.16790).

    Args:
        model: any deepgnn model (either backend).
        graph: the graph, a :class:`~deepgnn.Graph` (a ``dgl.DGLGraph`` is converted).
        x: node features, shape ``(num_nodes, in_dim)``.
        y: integer labels, shape ``(num_nodes,)``; ``None`` draws random labels.
        mask: bool ``(num_nodes,)`` selecting the loss nodes (e.g. ``ds.train_mask``).
        seed: seeds the random labels.

    Returns:
        A :class:`pandas.DataFrame` with ``attrs["summary"]``.

    Example:
        >>> import deepgnn
        >>> ds = deepgnn.data.load("cora")
        >>> m = deepgnn.build("gcn", ds.num_features, ds.num_classes, depth=4, seed=0)
        >>> df = analyze(m, ds.graph, ds.x, ds.y, mask=ds.train_mask)
        >>> len(df), list(df["kind"][:2])
        (5, ['input', 'conv'])
        >>> 0 < df.attrs["summary"]["fsp"] < 1
        True
    """
    model, graph, x = _check_operands(model, graph, x, y, mask)
    seed = check_int("seed", seed, minimum=0)
    generator = torch.Generator().manual_seed(seed)
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            terms = _signal_terms(model, graph, x, y, mask, generator=generator)
    finally:
        model.train(was_training)

    lws = model.layer_weights()
    norms = terms["norms"].double().cpu()
    grads = terms["grad_norms"].double().cpu()
    gevs = terms["gevs"].cpu()
    x_norm = float(norms[0])
    rows = []
    for l in range(len(norms)):
        g = float("nan") if l == 0 else float(grads[l - 1])
        n = float(norms[l])
        rows.append(
            {
                "layer": l,
                "kind": "input" if l == 0 else lws[l - 1].kind,
                "width": terms["widths"][l],
                "norm": n,
                "norm_per_sqrt_width": n / math.sqrt(terms["widths"][l]),
                "norm_ratio": n / x_norm if x_norm > 0 else float("nan"),
                "grad_norm": g,
                "gev": float(gevs[l]),
                "finite": math.isfinite(n) and (l == 0 or math.isfinite(g)),
            }
        )
    df = pd.DataFrame(rows)
    keys = (
        "fsp",
        "bsp",
        "gev",
        "gev_input",
        "gev_gap",
        "fsp_divide_stable",
        "bsp_divide_stable",
        "fsp_divide_old",
        "bsp_divide_old",
        "loss",
    )
    summary: dict[str, Any] = {k: float(terms[k]) for k in keys}
    summary["objective"] = objective(summary, form="divide_stable")
    summary["objective_divide_old"] = objective(summary, form="divide_old")
    summary["diverged"] = not (
        _finite(terms["norms"]) and _finite(terms["grad_norms"]) and _finite(terms["loss"])
    )
    if summary["diverged"]:
        logger.warning("analyze: the model produced NaN/inf (states, gradients or loss)")
    df.attrs["summary"] = summary
    return df


# ----------------------------------------------------------------------- depth table
def _resolve_data(
    data: Dataset | Graph, x: Tensor | None, y: Tensor | None, num_classes: int | None
) -> tuple[str, Graph, Tensor, Tensor | None, Tensor | None, int]:
    if isinstance(data, Dataset):
        return data.name, data.graph, data.x, data.y, data.train_mask, data.num_classes
    if isinstance(data, Graph):
        if x is None:
            raise ValueError(
                "depth_table on a Graph needs node features: pass x=<(num_nodes, d) tensor>, "
                "e.g. x=torch.randn(graph.num_nodes, 64)"
            )
        if num_classes is None:
            if y is None:
                raise ValueError("depth_table on a Graph needs num_classes= (or y=)")
            num_classes = int(y.max()) + 1
        return "graph", data, x, y, None, num_classes
    raise TypeError(
        f"dataset_or_graph must be a deepgnn.data.Dataset or deepgnn.Graph, got "
        f"{type(data).__name__}; load one with deepgnn.data.load('cora')"
    )


def _int_list(arg: str, values: object, minimum: int) -> list[int]:
    if isinstance(values, int) and not isinstance(values, bool):
        values = [values]
    if not isinstance(values, Sequence) or isinstance(values, str) or not values:
        raise ValueError(f"{arg} must be a non-empty list of ints, got {values!r}")
    return [check_int(arg, v, minimum=minimum) for v in values]


def depth_table(
    family: str,
    dataset_or_graph: Dataset | Graph,
    depths: Sequence[int],
    inits: Sequence[str],
    seeds: Sequence[int] = (0,),
    *,
    x: Tensor | None = None,
    y: Tensor | None = None,
    num_classes: int | None = None,
    device: str | torch.device | None = None,
    **model_kw: Any,
) -> pd.DataFrame:
    r"""Signal-propagation summary of ``family`` for every depth × init × seed, as a tidy table.

    For each cell the model is built with ``deepgnn.build(family, ..., depth, seed=seed,
    **model_kw)``, initialized with ``deepgnn.init.init_(model, init, generator=<seed>)``
    and measured with :func:`analyze` (loss on the dataset's training nodes; random
    labels from the seed on a bare graph without ``y``).

    Args:
        family: a model family (``deepgnn.models.available()``).
        dataset_or_graph: a :class:`~deepgnn.data.Dataset`, or a :class:`~deepgnn.Graph`
            with ``x=`` (and ``y=`` or ``num_classes=``).
        depths: model depths.
        inits: names from ``deepgnn.init.available()``.
        seeds: one row per seed.
        x, y, num_classes: features, labels, classes when ``dataset_or_graph`` is a Graph.
        device: where to run (default: CPU).
        **model_kw: options of :func:`deepgnn.build` (``width``, ``activation``, ``bias``, ...).

    Returns:
        One row per family × depth × init × seed with columns ``dataset``, ``family``,
        ``activation``, ``width``, ``depth``, ``init``, ``seed``, the summary of
        :func:`analyze` (``fsp``, ``bsp``, ``gev``, ``gev_input``, ``objective``, ...,
        ``diverged``), ``seconds``, ``torch``, ``device``.

    Example:
        >>> import deepgnn
        >>> df = depth_table("gcn", deepgnn.data.load("cora"), [2, 4], ["xavier"], [0], width=16)
        >>> list(df["depth"]), bool((df["fsp"] > 0).all())
        ([2, 4], True)
    """
    from deepgnn import init as _init
    from deepgnn.models import available, build

    check_choice("family", family, available())
    depths = _int_list("depths", depths, 1)
    seeds = _int_list("seeds", seeds, 0)
    if isinstance(inits, str):
        inits = [inits]
    for name in inits:
        check_choice("inits", name, _init.available())
    name, graph, feats, labels, mask, classes = _resolve_data(dataset_or_graph, x, y, num_classes)
    dev = torch.device(device) if device is not None else graph.device
    graph, feats = graph.to(dev), feats.to(dev)
    labels = labels.to(dev) if labels is not None else None
    mask = mask.to(dev) if mask is not None else None

    rows = []
    for depth in depths:
        for init_name in inits:
            for seed in seeds:
                start = time.perf_counter()
                model = build(family, feats.shape[1], classes, depth, seed=seed, **model_kw)
                model = model.to(dev)
                gen = torch.Generator(device=dev).manual_seed(seed)
                kw: dict[str, Any] = {"generator": gen}
                _init.init_(model, init_name, graph=graph, x=feats, **kw)
                summary = analyze(model, graph, feats, labels, mask=mask, seed=seed).attrs[
                    "summary"
                ]
                rows.append(
                    {
                        "dataset": name,
                        "family": family,
                        "activation": model.activation,
                        "width": model.width,
                        "depth": depth,
                        "init": init_name,
                        "seed": seed,
                        **summary,
                        "seconds": time.perf_counter() - start,
                        "torch": torch.__version__,
                        "device": str(dev),
                    }
                )
                logger.info(
                    "%s depth %d %s seed %d: fsp %.3e bsp %.3e gev %.3e",
                    family,
                    depth,
                    init_name,
                    seed,
                    summary["fsp"],
                    summary["bsp"],
                    summary["gev"],
                )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------- table and plot
_METRICS = {"fsp": "FSP = ‖h_L‖/‖X‖", "bsp": "BSP = ‖∂loss/∂W_1‖", "gev": "GEV(h_L)"}


def format_depth_table(df: pd.DataFrame, *, metrics: Sequence[str] = ("fsp", "bsp", "gev")) -> str:
    """Render a :func:`depth_table` as markdown: per family and metric, depth × init (mean over seeds).

    Diverged cells print as ``diverged``.

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"family": ["gcn"], "activation": ["tanh"], "depth": [2],
        ...                    "init": ["xavier"], "fsp": [0.5], "diverged": [False]})
        >>> print(format_depth_table(df, metrics=["fsp"]))
        **gcn (tanh): FSP = ‖h_L‖/‖X‖**
        <BLANKLINE>
        | depth | xavier |
        |---:|---:|
        | 2 | 5.00e-01 |
    """
    for m in metrics:
        check_choice("metrics", m, _METRICS)
    blocks = []
    for (family, act), part in df.groupby(["family", "activation"], sort=False):
        inits = list(dict.fromkeys(part["init"]))
        depths = sorted(set(part["depth"]))
        for m in metrics:
            lines = [
                f"**{family} ({act}): {_METRICS[m]}**",
                "",
                "| depth | " + " | ".join(inits) + " |",
                "|---:|" + "---:|" * len(inits),
            ]
            for d in depths:
                cells = []
                for i in inits:
                    cell = part[(part["depth"] == d) & (part["init"] == i)]
                    if cell.empty:
                        cells.append("")
                    elif bool(cell["diverged"].any()):
                        cells.append("diverged")
                    else:
                        cells.append(f"{cell[m].mean():.2e}")
                lines.append(f"| {d} | " + " | ".join(cells) + " |")
            blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _atomic_path(path: Path) -> tuple[int, str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    return tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")


def write_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (temporary file, then ``os.replace``)."""
    path = Path(path)
    fd, tmp = _atomic_path(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def plot_depth_table(
    df: pd.DataFrame, path: str | Path, *, metrics: Sequence[str] = ("fsp", "bsp", "gev")
) -> Path:
    """Plot FSP, BSP and GEV against depth (log scales), one line per family × init; save a PNG.

    Color = init, line style = family; NaN, inf and 0 (log scale) are left out of the lines.

    Written atomically. Needs matplotlib (imported here, Agg backend).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for m in metrics:
        check_choice("metrics", m, _METRICS)
    path = Path(path)
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 4), squeeze=False)
    groups = list(df.groupby(["family", "activation", "init"], sort=False))
    styles = {fam: s for fam, s in zip(dict.fromkeys(df["family"]), ["-", "--", ":", "-."] * 4)}
    colors = {name: f"C{i % 10}" for i, name in enumerate(dict.fromkeys(df["init"]))}
    for ax, m in zip(axes[0], metrics):
        for (family, act, init_name), part in groups:
            mean = part.groupby("depth")[m].mean()
            mean = mean[(mean > 0) & mean.map(math.isfinite)]  # log scale: drop 0, inf, NaN
            ax.plot(
                mean.index,
                mean.values,
                styles[family],
                color=colors[init_name],
                marker="o",
                ms=3,
                label=f"{family} ({act}) {init_name}",
            )
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("depth")
        ax.set_title(_METRICS[m])
        ax.grid(True, which="major", alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center right", fontsize=8)
    fig.tight_layout(rect=(0, 0, 0.84, 1))
    fd, tmp = _atomic_path(path)
    os.close(fd)
    try:
        fig.savefig(tmp, format="png", dpi=120)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        plt.close(fig)
    return path
