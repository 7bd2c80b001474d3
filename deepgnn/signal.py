r"""Signal-propagation analysis: per-layer tables, GEV, the SPoGInit objective, depth tables.

The metrics of Wang, Chen, Zhang, Sun, Ding, "Exploring and Improving Initialization for
Deep Graph Neural Networks: A Signal Propagation Perspective", TMLR 2025 (arXiv 2506.16790):

- FSP (forward): :math:`\|h_L\| / \|X\|` with :math:`h_L` the logits;
- BSP (backward): the gradient norm :math:`\|\partial \ell / \partial W_1\|` of the first layer;
- GEV (graph embedding variation): :func:`gev` of the logits, and of the input.

:func:`analyze` measures them with one forward and one backward pass;
:func:`deepgnn.experiment.depth_table` sweeps depths × initializations × seeds.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor

from deepgnn._checks import check_choice, check_int
from deepgnn.graph import Graph
from deepgnn.models._base import GNN

__all__ = ["FORMS", "analyze", "gev", "objective"]

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
