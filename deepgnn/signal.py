r"""Signal-propagation analysis: per-layer tables and GEV.

The metrics of Wang, Chen, Zhang, Sun, Ding, "Exploring and Improving Initialization for
Deep Graph Neural Networks: A Signal Propagation Perspective", TMLR 2025 (arXiv 2506.16790):

- FSP (forward): :math:`\|h_L\| / \|X\|` with :math:`h_L` the logits;
- BSP (backward): the gradient norm :math:`\|\partial \ell / \partial W_1\|` of the first layer;
- GEV (graph embedding variation): :func:`gev` of the logits, and of the input.

:func:`analyze` measures them with one forward and one backward pass (the tensors of
:func:`deepgnn.objective.signal_terms`); :func:`objective` (re-exported from
:mod:`deepgnn.objective`) combines them into the SPoGInit objective;
:func:`deepgnn.experiment.depth_table` sweeps depths × initializations × seeds.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import pandas as pd
import torch
from torch import Tensor

from deepgnn._checks import check_int
from deepgnn.graph import Graph
from deepgnn.models import GNN
from deepgnn.objective import FORMS, check_operands, gev_tensor, objective, signal_terms

__all__ = ["FORMS", "analyze", "gev", "objective"]

logger = logging.getLogger(__name__)


# ------------------------------------------------------------------------------- GEV
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
        return float(gev_tensor(h, graph))


# --------------------------------------------------------------------------- analyze
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
    norm), ``gev`` (of the logits :math:`h_L`), ``gev_hidden`` (of the last hidden state of a
    graph layer, :math:`h_{L-1}` for a GCN), ``gev_input``, ``gev_gap``
    :math:`=(\mathrm{GEV}(X)-\mathrm{GEV}(h_L))^2`, ``gev_gap_hidden`` (the same with
    ``gev_hidden``), the search forms' terms ``fsp_divide_stable``, ``bsp_divide_stable``,
    ``fsp_divide_old``, ``bsp_divide_old`` (over the hidden states) and
    ``fsp_divide_stable_logits``, ``fsp_divide_old_logits`` (over the hidden states and the
    logits; see :func:`deepgnn.objective.signal_terms`), ``objective`` (``divide_stable``,
    weights 1, 1, 1, ``state="hidden"``), ``objective_divide_old`` (the same with
    ``divide_old``), ``loss`` and ``diverged`` (True when any state, gradient or the loss is
    NaN/inf; the values are then reported as they are, no exception). See :func:`objective`.

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
    model, graph, x = check_operands(model, graph, x, y, mask)
    seed = check_int("seed", seed, minimum=0)
    generator = torch.Generator().manual_seed(seed)
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            terms = signal_terms(model, graph, x, y, mask, generator=generator)
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
        "gev_hidden",
        "gev_input",
        "gev_gap",
        "gev_gap_hidden",
        "fsp_divide_stable",
        "bsp_divide_stable",
        "fsp_divide_old",
        "bsp_divide_old",
        "fsp_divide_stable_logits",
        "fsp_divide_old_logits",
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
