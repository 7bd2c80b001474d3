r"""The SPoGInit objective: signal-propagation terms as tensors, their residuals, and :math:`J`.

Wang, Chen, Zhang, Sun, Ding, "Exploring and Improving Initialization for Deep Graph Neural
Networks: A Signal Propagation Perspective", TMLR 2025 (arXiv 2506.16790), Sec. 5, minimize

.. math:: J = w_1\, \mathrm{FSP} + w_2\, \mathrm{BSP} + w_3\, (\mathrm{GEV}(X) - \mathrm{GEV}(h))^2

over per-layer weight scales, with FSP and :math:`h` read from the graph layers' hidden states
(``state="hidden"``, the authors' training code, ending at :math:`h_{L-1}`) or from those and
the logits (``state="logits"``, their Cora notebook, ending at :math:`h_L`): see
:data:`STATES`. This module computes it from one forward and one backward pass of a model, as
tensors that stay differentiable in the model's parameters on demand:

- :func:`signal_terms`: every measured quantity (norms of the states, gradient norms of the
  layer weights, GEVs, the FSP/BSP terms of each form and their log-ratios);
  :func:`stacked_signal_terms` the same for every member of a stacked model
  (:mod:`deepgnn.models.stacked`) from one pass;
- :func:`objective`: :math:`J` of a form from those terms (or from the floats of
  :func:`deepgnn.signal.analyze`'s summary);
- :func:`residuals`: the three residuals whose squares make :math:`J` (a Gauss-Newton step
  needs them);
- :func:`term_keys`: which of the terms a form and a state read;
- :func:`check_operands`: the operand checks every public entry point shares;
- :func:`check_weights`: the check of the objective's weights :math:`(w_1, w_2, w_3)`.

:mod:`deepgnn.signal` reports these terms as tables; :mod:`deepgnn.search` minimizes
:math:`J`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from deepgnn._checks import check_choice
from deepgnn.distributed.graph import DistributedGraph
from deepgnn.graph import Graph, as_graph
from deepgnn.models import GNN
from deepgnn.models.stacked import MemberLoss, Stack
from deepgnn.models.stacked import forward as stacked_forward

__all__ = [
    "FORMS",
    "STATES",
    "check_operands",
    "check_weights",
    "gev_members",
    "gev_tensor",
    "objective",
    "residuals",
    "signal_terms",
    "stacked_signal_terms",
    "term_keys",
]

#: The FSP/BSP term forms of :func:`objective`: ``divide_stable`` = (max/min of the
#: per-layer norms - 1)², ``divide_old`` = (first/last - 1)².
FORMS = ("divide_stable", "divide_old")
#: Which states the objective's FSP forms and its GEV term read (see :func:`signal_terms`):
#: ``"hidden"``, the graph layers' hidden states up to :math:`h_{L-1}`, as the authors'
#: training code (``print_all_x`` of their ``models/model.py``, read by ``generate_metrics``
#: of ``spoginit.py``); ``"logits"``, the same states and the logits :math:`h_L`, as their
#: Cora notebook (``print_all_x`` of ``MyGCN`` in ``SP_GCN_github.ipynb`` appends the logits).
STATES = ("hidden", "logits")


def gev_tensor(h: Tensor, graph: Graph) -> Tensor:
    r"""Graph embedding variation of ``h`` as a 0-dim tensor, differentiable in ``h``.

    .. math::
        \mathrm{GEV}(H) = \frac{1}{2d} \sum_{k=1}^{d}
            \frac{u_k^\top (I - \hat A)\, u_k}{u_k^\top u_k}

    over the columns :math:`u_k` of ``h`` (zero columns count as 0), with one sparse product
    for all columns. :func:`deepgnn.signal.gev` is the checked float version. Wang et al.,
    TMLR 2025 (arXiv 2506.16790).

    Args:
        h: node embeddings, shape ``(num_nodes, d)``, unchecked.
        graph: the graph whose :math:`\hat A` defines smoothness.

    Returns:
        A 0-dim tensor in the dtype of ``h`` (float32 below it).

    Example:
        >>> import deepgnn
        >>> ds = deepgnn.data.load("cora")
        >>> g = gev_tensor(ds.x, ds.graph)
        >>> g.dim(), 0.0 <= float(g) < 1.0
        (0, True)
    """
    return 0.5 * _gev_ratios(h, graph, 1).mean()


def gev_members(h: Tensor, graph: Graph) -> Tensor:
    """:func:`gev_tensor` of each member of a stacked state ``(N, k, d)``: a ``(k,)`` tensor,
    entry ``m`` that of the slice ``h[:, m]``, all from one sparse product.

    Example:
        >>> import deepgnn, torch
        >>> ds = deepgnn.data.load("cora")
        >>> h = torch.stack([ds.x[:, :50], ds.x[:, 50:100]], dim=1)
        >>> g = gev_members(h, ds.graph)
        >>> bool(torch.allclose(g[1], gev_tensor(ds.x[:, 50:100], ds.graph)))
        True
    """
    n, k, d = h.shape
    return 0.5 * _gev_ratios(h.reshape(n, k * d), graph, k).mean(dim=1)


def _gev_ratios(h: Tensor, graph: Graph, k: int) -> Tensor:
    """``u^T (I - Â) u / u^T u`` of every column ``u`` of ``h`` ``(N, k * d)``, as ``(k, d)``
    (0 for a zero column); member ``m`` owns columns ``m * d .. (m + 1) * d - 1``."""
    u = h if h.dtype in (torch.float32, torch.float64) else h.float()
    den = torch.linalg.vecdot(u, u, dim=0)
    # GEV is scale-invariant per column. When squares underflow (a collapsed state) or
    # overflow (an exploded one), divide each column of that member by its largest magnitude
    # and measure again; the scale is a constant for autograd, exact for a scale-invariant
    # function.
    tiny = 1e-30 if u.dtype == torch.float32 else 1e-290
    bad = ~torch.isfinite(den) | ((den > 0) & (den < tiny))
    zero = den == 0  # a zero column, or one whose squares all underflowed
    if bool((bad | zero).any()):
        scale = u.detach().abs().amax(dim=0)
        # a member with a bad column, or a zero one whose entries are not all 0
        flag = (bad | (zero & (scale > 0))).view(k, -1).any(dim=1)
        if bool(flag.any()):
            rescale = flag.repeat_interleave(u.shape[1] // k) & (scale > 0)
            u = u / torch.where(rescale, scale, torch.ones_like(scale))
            den = torch.linalg.vecdot(u, u, dim=0)
    num = torch.linalg.vecdot(u, u - graph.spmm(u), dim=0)  # u_k^T (I - Â) u_k, all k at once
    safe = torch.where(den > 0, den, torch.ones_like(den))
    return torch.where(den > 0, num / safe, torch.zeros_like(num)).view(k, -1)


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


def check_weights(weights: object) -> tuple[float, float, float]:
    """Return the objective's weights ``(w1, w2, w3)`` as floats, or raise naming ``weights``.

    They must be three finite numbers >= 0, not all 0: a NaN weight makes :math:`J` NaN on
    every evaluation, a negative one rewards the imbalance the search is meant to remove.

    Raises:
        TypeError: not a sequence (list, tuple, 1-d array or tensor) of three numbers.
        ValueError: a NaN, infinite or negative weight, or all three 0.

    Example:
        >>> check_weights([1, 10, 1])
        (1.0, 10.0, 1.0)
        >>> check_weights((1, -1, 1))
        Traceback (most recent call last):
        ...
        ValueError: weights=(1.0, -1.0, 1.0) must be three finite numbers >= 0, not all 0, such as weights=(1, 10, 1)
    """
    values = weights.tolist() if hasattr(weights, "tolist") else weights
    if (
        isinstance(values, (str, bytes))
        or not isinstance(values, Sequence)
        or len(values) != 3
        or not all(isinstance(w, numbers.Real) and not isinstance(w, bool) for w in values)
    ):
        raise TypeError(
            f"weights must be three numbers (w1, w2, w3) such as (1, 10, 1), got {weights!r}"
        )
    w1, w2, w3 = (float(v) for v in values)
    w = (w1, w2, w3)
    if not all(math.isfinite(v) and v >= 0 for v in w) or not any(w):
        raise ValueError(
            f"weights={w} must be three finite numbers >= 0, not all 0, such as weights=(1, 10, 1)"
        )
    return w


def _dtype_name(value: object) -> str:
    dtype = getattr(value, "dtype", None)
    shape = tuple(getattr(value, "shape", ()))
    return f"{dtype} {shape}" if dtype is not None else type(value).__name__


def check_operands(
    model: object, graph: object, x: object, y: object, mask: object
) -> tuple[GNN, Graph, Tensor]:
    """Check the operands of an analysis or a search; return them (a DGL graph converted).

    Args:
        model: must be a :class:`deepgnn.models.GNN`.
        graph: a :class:`~deepgnn.Graph`, or a ``dgl.DGLGraph`` or PyG ``Data`` (converted,
            :func:`~deepgnn.graph.as_graph`).
        x: node features, a tensor without NaN/inf (its shape and dtype are the model's
            business: :meth:`~deepgnn.models.GNN.forward` checks them).
        y: ``None`` or integer labels of shape ``(num_nodes,)``, in ``[-1, model.out_dim)``
            (``-1``: unlabelled), at least one of them labelled when ``mask`` is ``None``.
        mask: ``None`` or a bool ``(num_nodes,)`` selecting at least one labelled node.

    Returns:
        ``(model, graph, x)``.

    Raises:
        TypeError: an operand of the wrong type, or a
            :class:`~deepgnn.distributed.DistributedGraph` (a rank's rows).
        ValueError: features with NaN/inf, labels or mask of the wrong shape, dtype or range;
            the message says how to fix it.

    Example:
        >>> import deepgnn
        >>> ds = deepgnn.data.load("cora")
        >>> m = deepgnn.build("gcn", ds.num_features, ds.num_classes, depth=2)
        >>> check_operands(m, ds.graph, ds.x, ds.y, ds.train_mask)[0] is m
        True
    """
    if not isinstance(model, GNN):
        raise TypeError(
            f"model must be a deepgnn.models.GNN, got {type(model).__name__}; build one with "
            "deepgnn.build(...), or view your own PyG / DGL / PyTorch model with deepgnn.wrap(model)"
        )
    graph = as_graph(graph)
    if isinstance(graph, DistributedGraph):
        # Norms, gradients and GEV are sums over all nodes: on a rank's rows each rank would
        # report its own part (another FSP on every rank).
        raise TypeError(
            f"graph is a DistributedGraph (rank {graph.rank}'s rows), but the signal measures "
            "and the search sum over all nodes; run them on the whole Graph on one rank (every "
            "rank holds it), e.g. deepgnn.analyze(model, graph, x) before distributing"
        )
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.is_floating_point() or x.is_complex():
        bad = int((~torch.isfinite(x.detach())).sum())
        if bad:
            raise ValueError(
                f"x holds {bad} NaN/inf entries; pass finite features, e.g. torch.nan_to_num(x)"
            )
    n = graph.num_nodes
    if y is not None:
        if (
            not isinstance(y, Tensor)
            or y.is_floating_point()
            or y.is_complex()
            or y.dtype == torch.bool
            or y.shape != (n,)
        ):
            raise ValueError(
                f"y must be an integer tensor of shape ({n},), one label per node of the graph, "
                f"got {_dtype_name(y)}; pass class ids such as ds.y (float or bool labels: "
                "y.long())"
            )
        lo, hi = int(y.min()), int(y.max())
        if hi >= model.out_dim:
            raise ValueError(
                f"y holds label {hi} but the model has out_dim={model.out_dim}; "
                f"build it with out_dim={hi + 1}"
            )
        if lo < -1:
            raise ValueError(
                f"y holds label {lo}, but labels are class ids >= 0, or -1 for an unlabelled "
                "node; map the others to -1 or to a class"
            )
        if mask is None and hi < 0:
            raise ValueError(
                "y labels no node (every label is -1), so there is no loss; pass labels >= 0 "
                "or y=None for random labels"
            )
    if mask is not None:
        if not isinstance(mask, Tensor) or mask.dtype != torch.bool or mask.shape != (n,):
            raise ValueError(
                f"mask must be a bool tensor of shape ({n},), one entry per node of the graph, "
                f"got {_dtype_name(mask)}; pass e.g. ds.train_mask"
            )
        if not bool(mask.any()):
            raise ValueError("mask selects no node; pass a mask with at least one True")
        if y is not None and bool((y[mask] < 0).any()):
            raise ValueError("mask selects nodes with label -1 (unlabeled); drop them from mask")
    return model, graph, x


def signal_terms(
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
    r"""Every signal-propagation quantity of one forward and one backward pass, as tensors.

    The loss is :math:`\ell = \mathrm{NLL}(\mathrm{softmax}(h_K))` on the ``mask`` nodes for
    the states :math:`h_0 = X, \dots, h_K` of ``model.hidden_states``; the gradients are
    those of the layer weights :math:`W_l` of ``model.layer_weights()``. The search forms
    read the states of the graph layers :math:`S = (s_1, \dots, s_m)`: the outputs of the
    convolutions that are not the output layer (a GCN's :math:`h_1 \dots h_{L-1}`; a
    residual family's block outputs, without its input projection's), as the authors'
    ``print_all_x`` (``models/model.py``); with ``_logits`` in a key's name, :math:`S` ends
    with the logits :math:`h_K`, as their Cora notebook's ``print_all_x``
    (``SP_GCN_github.ipynb``). With :math:`n = \|s\|/\sqrt{d_s}` and
    :math:`g_l = \|\partial \ell / \partial W_l\|` over the convolutions
    (``find_parameters(model.convs)``); a family without graph convolutions (APPNP, whose
    propagation has no weights) has its linear layers read in their place:

    .. math::
        \mathrm{FSP}_\text{divide\_stable} = \Bigl(\frac{\max_S n}{\min_S n} - 1\Bigr)^2,
        \qquad \mathrm{FSP}_\text{divide\_old} = \Bigl(\frac{\|s_1\|}{\|s_m\|} - 1\Bigr)^2

    and the same for BSP with :math:`g_l` (``divide_old``: :math:`g_2 / g_{L-1}`), as
    ``forward_metric_*`` and ``bakcward_metric_*`` of the authors' ``spoginit.py``
    (Wang et al., TMLR 2025, arXiv 2506.16790, Sec. 5). Their GEV term reads the last
    entry of the same list (``generate_metrics``: ``output_diversity(forward_norm[-1])``):
    ``gev_gap_hidden`` for :math:`s_m` of the hidden states, ``gev_gap`` for the logits.
    Norms are taken in float64, so a float32 state with entries near 1e20 has a finite
    norm. The model runs in the mode it is in.

    Args:
        model: any deepgnn model.
        graph: the graph.
        x: node features, shape ``(num_nodes, in_dim)``.
        y: integer labels, shape ``(num_nodes,)``; ``None`` draws random ones from
            ``generator``.
        mask: bool ``(num_nodes,)`` selecting the loss nodes; ``None``: every labelled node.
        generator: the random labels' generator.
        create_graph: keep the graph of every term, so that they are differentiable in the
            model's parameters (BSP through a double backward).
        all_gev: GEV of every state; ``False`` measures only the input's, the last hidden
            state's and the logits'.

    Returns:
        A dict of tensors: ``loss``, ``norms`` :math:`\|h_l\|` and ``widths`` (per state),
        ``grad_norms`` (per layer weight; 0 for an unused one), ``gevs`` (per state, or
        input and logits without ``all_gev``), ``fsp`` :math:`\|h_K\|/\|X\|`, ``bsp``
        (first layer's gradient norm), ``gev`` (logits), ``gev_hidden`` (:math:`s_m`),
        ``gev_input``, ``gev_gap`` :math:`(\mathrm{GEV}(X) - \mathrm{GEV}(h_K))^2`,
        ``gev_gap_hidden`` :math:`(\mathrm{GEV}(X) - \mathrm{GEV}(s_m))^2`, ``fsp_<form>``
        and ``fsp_<form>_logits`` and ``bsp_<form>`` for each form of :data:`FORMS`, and
        their ratios' logarithms ``fsp_log_<form>``, ``fsp_log_<form>_logits``,
        ``bsp_log_<form>``. A term is NaN when the model is too shallow for it (no hidden
        state, fewer than two convolutions).

    Example:
        >>> import deepgnn
        >>> ds = deepgnn.data.load("cora")
        >>> m = deepgnn.build("gcn", ds.num_features, ds.num_classes, depth=4, seed=0)
        >>> terms = signal_terms(m, ds.graph, ds.x, ds.y, ds.train_mask)
        >>> len(terms["norms"]), len(terms["grad_norms"]), terms["gev_gap_hidden"].dim()
        (5, 4, 0)
    """
    states = model.hidden_states(graph, x)
    logits = states[-1]
    n, classes = logits.shape
    if y is None:
        y = torch.randint(0, classes, (n,), generator=generator, device="cpu").to(logits.device)
    if mask is None:
        mask = y >= 0
    logp = F.log_softmax(logits[mask], dim=1)
    loss = F.nll_loss(logp, y[mask].long())  # nll_loss takes int64 (or uint8) targets only

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
    if not create_graph:
        states = [s.detach() for s in states]
    norm_list = [_norm64(s) for s in states]
    widths = [s.shape[1] for s in states]
    hidden = _hidden_states([lw.kind for lw in lws], len(states))
    nan = zero.new_tensor(float("nan"))
    if all_gev:
        gevs = torch.stack([gev_tensor(s, graph) for s in states])
        gev_hidden = gevs[hidden[-1]] if hidden else nan
    else:
        gevs = torch.stack([gev_tensor(states[0], graph), gev_tensor(logits, graph)])
        gev_hidden = gev_tensor(states[hidden[-1]], graph) if hidden else nan
    kinds = [lw.kind for lw in lws]
    return _assemble(
        loss if create_graph else loss.detach(),
        norm_list,
        widths,
        grad_list,
        kinds,
        gevs,
        gev_hidden,
    )


def stacked_signal_terms(
    stack: Stack,
    graph: Graph,
    x: Tensor,
    y: Tensor,
    masks: Tensor,
    *,
    create_graph: bool = False,
) -> list[dict[str, Any]]:
    """:func:`signal_terms` (``all_gev=False``) of every member of a stacked model, from one
    forward and one backward pass of the stack.

    Member ``m``'s dict holds what ``signal_terms(model_m, graph, x, y, masks[m],
    all_gev=False)`` gives for its model alone (to float rounding): every operation of the
    stacked forward acts on one member's columns, and the gradient of the sum of the members'
    losses is each member's own gradient. The stack's members run without dropout (as models
    in eval mode).

    Args:
        stack: the members (:class:`deepgnn.models.stacked.Stack`).
        graph: the shared graph.
        x: the shared features ``(N, F)``.
        y: the labels ``(N,)``.
        masks: ``(k, N)`` bool, the loss nodes of each member.
        create_graph: as for :func:`signal_terms`: every term differentiable in the stacked
            parameters; a backward of a sum of members' terms gives each member's gradient in
            its own slice.

    Returns:
        One dict of terms per member, as :func:`signal_terms`.

    Example:
        >>> import deepgnn
        >>> from deepgnn.models.stacked import Stack
        >>> ds = deepgnn.data.load("cora")
        >>> models = [deepgnn.build("gcn", ds.num_features, ds.num_classes, 4, seed=s)
        ...           for s in (0, 1)]
        >>> masks = ds.train_mask.expand(2, -1)
        >>> both = stacked_signal_terms(Stack(models), ds.graph, ds.x, ds.y, masks)
        >>> alone = signal_terms(models[1], ds.graph, ds.x, ds.y, ds.train_mask, all_gev=False)
        >>> bool(torch.isclose(both[1]["fsp_divide_old"], alone["fsp_divide_old"], rtol=1e-4))
        True
    """
    states: list[Tensor] = []
    logits = stacked_forward(stack, graph, x, states=states)
    losses = MemberLoss(y, masks, logits.dtype)(logits)
    lws = stack.t.layer_weights()
    params = [stack.param_of[id(lw.param)] for lw in lws]
    grads = torch.autograd.grad(
        losses.sum(),
        params,
        create_graph=create_graph,
        retain_graph=create_graph,
        allow_unused=True,
    )
    k = stack.k
    zeros = logits.new_zeros(k, dtype=torch.float64)
    grad_norms = [
        torch.linalg.vector_norm(g.flatten(1), dim=1, dtype=torch.float64)
        if g is not None
        else zeros
        for g in grads
    ]
    if not create_graph:
        states = [s.detach() for s in states]
    # x is shared, (N, F): one norm for all; every other state is (N, k, d)
    norms = [
        _norm64(s).expand(k)
        if s.dim() == 2
        else torch.linalg.vector_norm(s, dim=(0, 2), dtype=torch.float64)
        for s in states
    ]
    widths = [s.shape[-1] for s in states]
    kinds = [lw.kind for lw in lws]
    hidden = _hidden_states(kinds, len(states))
    gev_in = gev_tensor(states[0], graph)
    gev_out = gev_members(logits, graph)
    gev_hidden = gev_members(states[hidden[-1]], graph) if hidden else None
    nan = zeros.new_tensor(float("nan"))
    return [
        _assemble(
            losses[m] if create_graph else losses[m].detach(),
            [v[m] for v in norms],
            widths,
            [v[m] for v in grad_norms],
            kinds,
            torch.stack([gev_in, gev_out[m]]),
            gev_hidden[m] if gev_hidden is not None else nan,
        )
        for m in range(k)
    ]


def _graph_kind(kinds: list[str]) -> str:
    """The kind of layer weight the terms read: the graph convolutions, or, in a family
    without any (APPNP, whose propagation has no weights), its linear layers."""
    return "conv" if "conv" in kinds else "linear"


def _hidden_states(kinds: list[str], count: int) -> list[int]:
    """The graph layers' hidden states among ``count`` states: state ``k`` is the output of
    layer weight ``k - 1``; the last (the logits) is not one."""
    kind = _graph_kind(kinds)
    return [k for k in range(1, count - 1) if kinds[k - 1] == kind]


def _assemble(
    loss: Tensor,
    norm_list: list[Tensor],
    widths: list[int],
    grad_list: list[Tensor],
    kinds: list[str],
    gevs: Tensor,
    gev_hidden: Tensor,
) -> dict[str, Any]:
    """:func:`signal_terms`'s dict from one model's measurements (0-dim tensors): the norms
    and widths of its states, its layer weights' gradient norms and kinds, the GEVs (the
    input's first, the logits' last) and the last hidden state's GEV."""
    norms = torch.stack(norm_list)
    grad_norms = torch.stack(grad_list)
    nan = norms.new_tensor(float("nan"))
    last = len(norm_list) - 1
    hidden = _hidden_states(kinds, len(norm_list))
    gev_in, gev_out = gevs[0], gevs[-1]

    # Built from the unstacked scalars, so that a search's backward visits only the graphs
    # of the entries a term uses (see _max_over_min).
    graph = _graph_kind(kinds)
    conv_grads = [grad_list[i] for i, kind in enumerate(kinds) if kind == graph]
    bsp_stable = _max_over_min(conv_grads, nan)
    bsp_old = conv_grads[1] / conv_grads[-2] if len(conv_grads) >= 2 else nan
    terms: dict[str, Any] = {
        "loss": loss,
        "norms": norms,
        "widths": widths,
        "grad_norms": grad_norms,
        "gevs": gevs,
        "fsp": norms[-1] / norms[0],
        "bsp": grad_norms[0],
        "gev": gev_out,
        "gev_hidden": gev_hidden,
        "gev_input": gev_in,
        "gev_gap": (gev_in - gev_out) ** 2,
        "gev_gap_hidden": (gev_in - gev_hidden) ** 2,
        "bsp_divide_stable": (bsp_stable - 1.0) ** 2,
        "bsp_divide_old": (bsp_old - 1.0) ** 2,
        # The ratios as logarithms: a term is (e^r - 1)^2 of its r (see residuals).
        "bsp_log_divide_stable": torch.log(bsp_stable),
        "bsp_log_divide_old": torch.log(bsp_old),
    }
    for suffix, idx in (("", hidden), ("_logits", [*hidden, last])):
        per_width = [norm_list[k] / math.sqrt(widths[k]) for k in idx]
        fsp_stable = _max_over_min(per_width, nan)
        fsp_old = norm_list[idx[0]] / norm_list[idx[-1]] if idx else nan
        terms[f"fsp_divide_stable{suffix}"] = (fsp_stable - 1.0) ** 2
        terms[f"fsp_divide_old{suffix}"] = (fsp_old - 1.0) ** 2
        terms[f"fsp_log_divide_stable{suffix}"] = torch.log(fsp_stable)
        terms[f"fsp_log_divide_old{suffix}"] = torch.log(fsp_old)
    return terms


def term_keys(form: str, state: str = "hidden") -> tuple[str, str, str]:
    """The keys of :func:`signal_terms` that hold the FSP, BSP and GEV terms of ``form`` at ``state``.

    ``state="hidden"`` reads ``fsp_<form>`` and ``gev_gap_hidden``; ``"logits"`` reads
    ``fsp_<form>_logits`` and ``gev_gap`` (the names of :func:`deepgnn.signal.analyze`'s
    summary, where ``gev`` is the logits' GEV). BSP does not depend on the state.

    Example:
        >>> term_keys("divide_old")
        ('fsp_divide_old', 'bsp_divide_old', 'gev_gap_hidden')
        >>> term_keys("divide_stable", "logits")
        ('fsp_divide_stable_logits', 'bsp_divide_stable', 'gev_gap')
    """
    check_choice("form", form, FORMS)
    check_choice("state", state, STATES)
    if state == "logits":
        return f"fsp_{form}_logits", f"bsp_{form}", "gev_gap"
    return f"fsp_{form}", f"bsp_{form}", "gev_gap_hidden"


def residuals(terms: dict[str, Any], form: str, state: str = "hidden") -> list[Tensor]:
    r"""The objective's three residuals :math:`r`, float64 scalars.

    :math:`r_0, r_1` are the logarithms of the FSP and BSP ratios of ``form`` and
    :math:`r_2 = \mathrm{GEV}(X) - \mathrm{GEV}(s)`, :math:`s` the last state the objective
    reads at ``state`` (:func:`term_keys`), so that

    .. math:: J = w_1 (e^{r_0} - 1)^2 + w_2 (e^{r_1} - 1)^2 + w_3 r_2^2

    The logarithms are near-linear in the log-scales (the FSP one of a bias-free ReLU GCN
    exactly: it is a sum of them), which is what a Gauss-Newton step needs. A list, not a
    stacked tensor: the backward of one entry of a stack sends zeros down the other two
    graphs (the double backward of BSP among them), which made a Jacobian cost 1.4x more
    (Cora, depth 64, CPU).

    Args:
        terms: the tensors of :func:`signal_terms`.
        form: ``"divide_stable"`` or ``"divide_old"``.
        state: ``"hidden"`` or ``"logits"`` (:data:`STATES`).

    Returns:
        ``[r0, r1, r2]``, differentiable when the terms are.

    Example:
        >>> import math, deepgnn
        >>> ds = deepgnn.data.load("cora")
        >>> m = deepgnn.build("gcn", ds.num_features, ds.num_classes, depth=4, seed=0)
        >>> terms = signal_terms(m, ds.graph, ds.x, ds.y, ds.train_mask)
        >>> r0, r1, r2 = (float(r) for r in residuals(terms, "divide_old"))
        >>> math.isclose(math.expm1(r0) ** 2, float(terms["fsp_divide_old"]), rel_tol=1e-9)
        True
    """
    fsp_key, _, _ = term_keys(form, state)
    gev = terms["gev_hidden"] if state == "hidden" else terms["gev"]
    gev_gap = (terms["gev_input"] - gev).to(torch.float64)
    fsp_log = terms[fsp_key.replace("fsp_", "fsp_log_", 1)].to(torch.float64)
    return [fsp_log, terms[f"bsp_log_{form}"], gev_gap]


def objective(
    terms: dict[str, Any],
    *,
    form: str = "divide_stable",
    weights: Sequence[float] = (1.0, 1.0, 1.0),
    state: str = "hidden",
) -> Any:
    r"""The SPoGInit objective from signal-propagation terms (a tensor in, a tensor out).

    .. math:: J = w_1\, \mathrm{FSP}_\text{form} + w_2\, \mathrm{BSP}_\text{form}
        + w_3\, (\mathrm{GEV}(X) - \mathrm{GEV}(s_m))^2

    over the graph layers' states :math:`s_1 \dots s_m` (:func:`signal_terms`), which end
    at the last hidden state :math:`h_{L-1}` (``state="hidden"``, the authors' training
    code: ``print_all_x`` of ``models/model.py``) or at the logits (``state="logits"``,
    their Cora notebook). ``divide_stable``: :math:`\mathrm{FSP} = (\max n / \min n - 1)^2`
    over :math:`n = \|s\|/\sqrt{d_s}`, and :math:`\mathrm{BSP} = (\max_l g_l / \min_l g_l -
    1)^2` over the convolutions' gradient norms. ``divide_old``: :math:`(\|s_1\|/\|s_m\| -
    1)^2` and :math:`(g_2 / g_{L-1} - 1)^2`. Wang et al., TMLR 2025 (arXiv 2506.16790),
    Sec. 5 and the authors' ``spoginit.py`` (``generate_metrics``); they weight BSP by
    :math:`w_2 = 10` for GCN (``SP_GCN_github.ipynb``, ``Arxiv_run.py``).

    Args:
        terms: the summary of :func:`deepgnn.signal.analyze` (``df.attrs["summary"]``) or the
            tensors of :func:`signal_terms`, holding the keys :func:`term_keys` names.
        form: ``"divide_stable"`` or ``"divide_old"``.
        weights: ``(w1, w2, w3)``, finite and >= 0, not all 0 (:func:`check_weights`).
        state: ``"hidden"`` or ``"logits"`` (:data:`STATES`).

    Returns:
        ``J``, of the type of the terms (float or tensor); NaN for models too shallow for
        the form (no hidden state, fewer than two convolutions).

    Example:
        >>> objective({"fsp_divide_stable": 0.5, "bsp_divide_stable": 1.0,
        ...            "gev_gap_hidden": 0.25}, weights=(1, 10, 4))
        11.5
    """
    fsp_key, bsp_key, gev_key = term_keys(form, state)
    w1, w2, w3 = check_weights(weights)
    return w1 * terms[fsp_key] + w2 * terms[bsp_key] + w3 * terms[gev_key]
