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
import warnings
from collections.abc import Collection
from typing import Any

import pandas as pd
import torch
from torch import Tensor

from deepgnn._checks import check_choice, check_int
from deepgnn.graph import Graph, as_graph
from deepgnn.models import GNN
from deepgnn.objective import FORMS, check_operands, gev_tensor, objective, signal_terms

__all__ = [
    "FORMS",
    "MEASURES",
    "analyze",
    "dirichlet_energy",
    "effective_rank",
    "gev",
    "jacobian_spectrum",
    "mad",
    "numerical_rank",
    "objective",
    "singular_values",
]

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
    graph = as_graph(graph)
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


# ------------------------------------------------------------ over-smoothing and rank
#: The extra per-layer measures :func:`analyze` takes in ``measures=``: Dirichlet energies,
#: MAD (over edges and sampled pairs) and numerical / effective rank.
MEASURES = ("dirichlet", "mad", "rank")
MAD_PAIRS = 4096
_EXACT_SVD = 256
_LOWRANK_Q = 128


def _check_state(h: Tensor, graph: Graph | None, arg: str = "h") -> Tensor:
    if not isinstance(h, Tensor):
        raise TypeError(f"{arg} must be a torch.Tensor, got {type(h).__name__}")
    if not h.is_floating_point():
        raise ValueError(f"{arg} has dtype {h.dtype}; pass a floating tensor, e.g. {arg}.float()")
    if h.dim() == 1:
        h = h.unsqueeze(1)
    n = graph.num_nodes if graph is not None else None
    if h.dim() != 2 or (n is not None and h.shape[0] != n):
        raise ValueError(f"{arg} must have shape (num_nodes={n}, d), got {tuple(h.shape)}")
    return h.detach().double()


def _adjacency_product(h: Tensor, graph: Graph) -> Tensor:
    """:math:`A h` for the adjacency :math:`A` without self loops, from the SpMM with Â."""
    s = graph.degree.sqrt().unsqueeze(1)  # Â = D̃^-1/2 (A + I) D̃^-1/2, D̃ = D + I
    return s * graph.spmm(s * h) - h


def dirichlet_energy(h: Tensor, graph: Graph, *, normalized: bool = False) -> float:
    r"""Dirichlet energy of node embeddings ``h``, summed over edges and divided by ``N``.

    With the adjacency :math:`A` (weights :math:`a_{ij}`, no self loops), the degrees
    :math:`d_i` of :math:`A` and :math:`\tilde d_i = d_i + 1` of :math:`A + I`, as in the survey
    of Rusch, Bronstein, Mishra, "A Survey on Oversmoothing in Graph Neural Networks",
    2023 (arXiv 2303.10993), Def. 3.1 (sum over ordered neighbour pairs, each edge twice):

    .. math::
        E(X) = \frac{1}{N} \sum_{i} \sum_{j \in \mathcal N_i} a_{ij} \|x_i - x_j\|^2
             = \frac{2}{N} \operatorname{tr}(X^\top L X), \quad L = D - A,

    and with ``normalized=True`` the symmetric-normalized form of the graph with self loops,

    .. math::
        E_{\mathrm{sym}}(X) = \frac{1}{N} \sum_{i} \sum_{j \in \mathcal N_i \cup \{i\}}
            \tilde a_{ij} \Big\| \frac{x_i}{\sqrt{\tilde d_i}} - \frac{x_j}{\sqrt{\tilde d_j}}
            \Big\|^2 = \frac{2}{N} \operatorname{tr}(X^\top (I - \hat A) X).

    A unit eigenvector of :math:`L` (of :math:`I - \hat A`) with eigenvalue :math:`\lambda`
    has energy :math:`2\lambda/N`. Only the unnormalized energy satisfies the survey's
    axioms: it is zero exactly on signals constant over each connected component. The
    normalized one vanishes on :math:`\tilde D^{1/2}\mathbf 1`, not on constants, so a
    constant signal has positive normalized energy on an irregular graph (arXiv 2512.09890
    argues it does not satisfy the axioms). Computed in float64 for all columns at once with
    one SpMM (:math:`A X = \tilde D^{1/2} \hat A \tilde D^{1/2} X - X`).

    Args:
        h: node embeddings, shape ``(num_nodes, d)`` or ``(num_nodes,)``.
        graph: the graph.
        normalized: use :math:`I - \hat A` instead of :math:`D - A`.

    Returns:
        A float ``>= 0`` (up to float rounding), or NaN/inf when ``h`` holds them.

    Example:
        >>> import torch, deepgnn
        >>> ds = deepgnn.data.load("cora")
        >>> round(dirichlet_energy(torch.ones(ds.graph.num_nodes, 3), ds.graph), 12)
        0.0
    """
    graph = as_graph(graph)
    h = _check_state(h, graph)
    n = graph.num_nodes
    with torch.no_grad():
        if normalized:
            quad = (h * h).sum() - (h * graph.spmm(h)).sum()
        else:
            deg = (graph.degree - 1.0).unsqueeze(1)
            quad = (deg * h * h).sum() - (h * _adjacency_product(h, graph)).sum()
    return float(2.0 * quad / n)


def _unit_rows(h: Tensor) -> Tensor:
    norm = h.norm(dim=1, keepdim=True)
    return torch.where(norm > 0, h / norm.clamp_min(torch.finfo(h.dtype).tiny), 0.0)


def mad(
    h: Tensor, graph: Graph | None = None, *, pairs: int = MAD_PAIRS, seed: int = 0
) -> tuple[float, float]:
    r"""Mean average cosine distance (MAD) of node embeddings ``h``: ``(value, standard_error)``.

    With :math:`D_{ij} = 1 - \cos(x_i, x_j)` (a zero row has cosine 0 with every row), after
    Chen, Lin, Li, Li, Zhou, Sun, "Measuring and Relieving the Over-smoothing Problem for
    Graph Neural Networks from the Topological View", AAAI 2020 (arXiv 1909.03211), Eq. 1–4:

    - with ``graph``, over edges (exact, standard error 0): the mean over nodes with at
      least one neighbour of their :math:`a_{ij}`-weighted mean distance to their neighbours,
      :math:`\frac{1}{|V'|}\sum_{i \in V'} \frac{\sum_j a_{ij} D_{ij}}{\sum_j a_{ij}}`, all
      columns at once with one SpMM (self loops excluded);
    - without ``graph``, over all pairs: the mean of :math:`D_{ij}` over ``pairs`` pairs
      :math:`i \ne j` drawn uniformly with ``seed``, and its standard error
      :math:`\mathrm{std}(D)/\sqrt{\text{pairs}}`.

    Deviation: Chen et al. average only the nonzero distances of each row; we average all, so
    that identical (over-smoothed) rows count and a constant signal has MAD exactly 0.

    Args:
        h: node embeddings, shape ``(num_nodes, d)`` or ``(num_nodes,)``.
        graph: the graph for the edge MAD; ``None`` estimates the all-pairs MAD.
        pairs: number of sampled pairs (an int >= 1) for the all-pairs estimate.
        seed: seeds the sampled pairs.

    Returns:
        ``(mad, stderr)``, floats; ``mad`` in ``[0, 2]``.

    Example:
        >>> import deepgnn
        >>> ds = deepgnn.data.load("cora")
        >>> value, err = mad(ds.x, ds.graph)
        >>> 0.5 < value < 1.0, err
        (True, 0.0)
    """
    graph = None if graph is None else as_graph(graph)
    h = _check_state(h, graph)
    pairs = check_int("pairs", pairs, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    u = _unit_rows(h)
    n = h.shape[0]
    with torch.no_grad():
        if graph is not None:
            deg = graph.degree - 1.0
            dist = deg - (u * _adjacency_product(u, graph)).sum(1)
            has = deg > 0
            if not bool(has.any()):
                return float("nan"), 0.0
            return float((dist[has] / deg[has]).mean()), 0.0
        if n < 2:
            raise ValueError(f"h has {n} row; the all-pairs MAD needs num_nodes >= 2")
        g = torch.Generator().manual_seed(seed)
        i = torch.randint(n, (pairs,), generator=g)
        j = (i + torch.randint(1, n, (pairs,), generator=g)) % n  # j != i, uniform
        d = 1.0 - (u[i] * u[j]).sum(1)
        err = float(d.std() / math.sqrt(pairs)) if pairs > 1 else float("nan")
        return float(d.mean()), err


def singular_values(h: Tensor) -> Tensor:
    r"""Singular values of ``h`` (float64, descending): exact, or leading ones above a size.

    Exact when :math:`\min(N, d) \le 256`: from ``torch.linalg.svdvals`` for float64 ``h``, from
    the eigenvalues of the float64 Gram matrix of the smaller side for lower precision (its
    rounding, :math:`\sim 10^{-8}\sigma_1`, lies below the float32 rank tolerance
    :math:`\sigma_1 \max(N, d)\,\varepsilon_{32}`). Above, the 128 leading values from
    ``torch.svd_lowrank`` (Halko, Martinsson, Tropp, SIAM Review 2011; ``q=128``, ``niter=2``,
    its global-RNG draw seeded and restored), so ranks computed from them are capped at 128.

    Args:
        h: a matrix, shape ``(num_nodes, d)`` or ``(num_nodes,)``.

    Returns:
        A float64 tensor of :math:`\min(N, d)` values, or 128 above the size.
    """
    dtype = h.dtype if isinstance(h, Tensor) else None
    h = _check_state(h, None)
    with torch.no_grad():
        if min(h.shape) <= _EXACT_SVD:
            if dtype == torch.float64:
                return torch.linalg.svdvals(h)
            gram = h.T @ h if h.shape[1] <= h.shape[0] else h @ h.T
            return torch.linalg.eigvalsh(gram).flip(0).clamp_min(0.0).sqrt()
        devices = [h.device] if h.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(0)  # svd_lowrank draws from the global RNG; restored on exit
            low = h if dtype == torch.float64 else h.float()  # in h's precision: rank tolerance
            _, s, _ = torch.svd_lowrank(low, q=_LOWRANK_Q, niter=2)
        return s.double()


def _ranks(s: Tensor, shape: tuple[int, int], dtype: torch.dtype) -> tuple[int, float]:
    if s.numel() == 0 or not bool(torch.isfinite(s).all()) or float(s[0]) == 0.0:
        return (0, float("nan")) if not bool(torch.isfinite(s).all()) else (0, 0.0)
    tol = float(s[0]) * max(shape) * torch.finfo(dtype).eps
    p = s / s.sum()
    p = p[p > 0]
    return int((s > tol).sum()), float(torch.exp(-(p * p.log()).sum()))


def numerical_rank(h: Tensor) -> int:
    r"""Number of singular values of ``h`` above :math:`\sigma_1 \max(N, d)\,\varepsilon`.

    :math:`\varepsilon` is the machine epsilon of ``h``'s dtype (numpy's ``matrix_rank``
    convention); singular values from :func:`singular_values`.

    Args:
        h: a matrix, shape ``(num_nodes, d)``.

    Returns:
        An int in ``[0, min(N, d)]`` (0 for a zero matrix).

    Example:
        >>> import torch
        >>> numerical_rank(torch.randn(50, 3, dtype=torch.float64) @ torch.randn(3, 8, dtype=torch.float64))
        3
    """
    s = singular_values(h)
    rows, cols = h.reshape(h.shape[0], -1).shape
    return _ranks(s, (rows, cols), h.dtype)[0]


def effective_rank(h: Tensor) -> float:
    r"""Effective rank of ``h``: the exponential of the entropy of its normalized singular values.

    .. math::
        \mathrm{erank}(H) = \exp\Big(-\sum_k p_k \log p_k\Big), \quad
        p_k = \sigma_k / \textstyle\sum_j \sigma_j,

    Roy, Vetterli, "The effective rank: a measure of effective dimensionality", EUSIPCO 2007.
    It lies in :math:`[1, \operatorname{rank} H]`; :math:`k` orthonormal columns give
    :math:`k`. Singular values from :func:`singular_values`; 0 for a zero matrix.

    Args:
        h: a matrix, shape ``(num_nodes, d)``.

    Returns:
        A float.

    Example:
        >>> import torch
        >>> q, _ = torch.linalg.qr(torch.randn(40, 5, dtype=torch.float64))
        >>> round(effective_rank(q), 9)
        5.0
    """
    s = singular_values(h)
    rows, cols = h.reshape(h.shape[0], -1).shape
    return _ranks(s, (rows, cols), h.dtype)[1]


def _measure_columns(h: Tensor, graph: Graph, measures: tuple[str, ...], seed: int) -> dict:
    """The ``measures`` columns of one state, with one SpMM for all graph products."""
    dtype = h.dtype
    h = _check_state(h, graph)
    n, d = h.shape
    out: dict[str, Any] = {}
    s = graph.degree.sqrt().unsqueeze(1)
    deg = graph.degree - 1.0
    u = _unit_rows(h)
    parts = ([s * h, h] if "dirichlet" in measures else []) + ([s * u] if "mad" in measures else [])
    if parts:
        prod = graph.spmm(torch.cat(parts, 1))
    if "dirichlet" in measures:
        ah = s * prod[:, :d] - h  # A h, self loops excluded
        quad = (deg.unsqueeze(1) * h * h).sum() - (h * ah).sum()
        out["dirichlet"] = float(2.0 * quad / n)
        out["dirichlet_normalized"] = float(
            2.0 * ((h * h).sum() - (h * prod[:, d : 2 * d]).sum()) / n
        )
    if "mad" in measures:
        au = s * prod[:, -d:] - u
        has = deg > 0
        dist = (deg - (u * au).sum(1))[has] / deg[has]
        out["mad_edges"] = float(dist.mean()) if bool(has.any()) else float("nan")
        out["mad_global"], out["mad_global_stderr"] = mad(h, seed=seed)
    if "rank" in measures:
        sv = singular_values(h if dtype == torch.float64 else h.to(dtype))
        out["numerical_rank"], out["effective_rank"] = _ranks(sv, (n, d), dtype)
    return out


# ------------------------------------------------------------------ dynamical isometry
def jacobian_spectrum(
    model: GNN,
    graph: Graph,
    x: Tensor,
    *,
    k: int = 1,
    steps: int | None = None,
    seed: int = 0,
) -> dict[str, Tensor]:
    r"""Largest and smallest singular values of the input→output Jacobian of ``model`` at ``x``.

    :math:`J = \partial\,\mathrm{vec}(f(X)) / \partial\,\mathrm{vec}(X)`, of shape
    :math:`(N C) \times (N d_{in})`, for :math:`f(X) = \mathrm{model}(\mathrm{graph}, X)` in
    eval mode. Dynamical isometry (Pennington, Schoenholz, Ganguli, NeurIPS 2017) asks for
    all singular values near 1. :math:`J` is never formed: ``steps`` iterations of Lanczos
    with full reorthogonalization (Golub, Van Loan, "Matrix Computations", §10.1) on
    :math:`J^\top J`, started from a seeded random vector, each applying
    :math:`J^\top J v` with one Jacobian-vector and one vector-Jacobian product
    (``torch.autograd.grad``, the Jacobian-vector product by the double-backward trick), then
    :math:`\sigma = \sqrt{\theta}` for the Ritz values :math:`\theta` of the tridiagonal matrix.

    ``top`` converges fast (the largest Ritz values are lower bounds of the largest
    eigenvalues). ``bottom`` are the smallest Ritz values: upper bounds of the smallest
    singular values of :math:`J` (counting the :math:`N d_{in} - N C` zeros when
    :math:`d_{in} > C`), which converge slowly for clustered small values and are exact only
    once ``steps`` reaches the dimension :math:`N d_{in}` (or the Krylov space is invariant).

    Args:
        model: any deepgnn model.
        graph: the graph, a :class:`~deepgnn.Graph`.
        x: node features, shape ``(num_nodes, in_dim)``; the Jacobian is taken at ``x``.
        k: how many largest and smallest values, an int in ``[1, N d_in]``.
        steps: Lanczos steps, an int in ``[k, N d_in]``; ``None`` takes
            :math:`\min(N d_{in}, \max(4k, 32))`.
        seed: seeds the starting vector.

    Returns:
        ``{"top": (k,) descending, "bottom": (k,) ascending, "steps": (1,) steps done}``, in
        the dtype of ``x`` (``steps`` int64). With fewer Ritz values than ``k`` (an early
        invariant subspace), ``top`` and ``bottom`` hold all of them.

    Example:
        >>> import torch, deepgnn
        >>> g = deepgnn.Graph(torch.tensor([[0, 1, 2], [1, 2, 3]]))
        >>> m = deepgnn.build("gcn", 3, 2, depth=2, width=4, seed=0).double()
        >>> x = torch.randn(4, 3, dtype=torch.float64)
        >>> s = jacobian_spectrum(m, g, x, k=2, steps=12)
        >>> exact = torch.linalg.svdvals(torch.autograd.functional.jacobian(
        ...     lambda z: m(g, z), x).reshape(8, 12))
        >>> bool(torch.allclose(s["top"], exact[:2]))
        True
    """
    model, graph, x = check_operands(model, graph, x, None, None)
    dim = x.numel()
    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"k must be an int, got {type(k).__name__}; pass e.g. k=1")
    if not 1 <= k <= dim:
        raise ValueError(f"k={k} must be in [1, {dim}] (num_nodes * in_dim); pass e.g. k=1")
    if steps is None:
        steps = min(dim, max(4 * k, 32))
    if isinstance(steps, bool) or not isinstance(steps, int):
        raise TypeError(f"steps must be an int or None, got {type(steps).__name__}")
    if not k <= steps <= dim:
        raise ValueError(
            f"steps={steps} must be in [k={k}, {dim}] (num_nodes * in_dim); pass steps=None "
            "for the default"
        )
    seed = check_int("seed", seed, minimum=0)
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            xin = x.detach().clone().requires_grad_(True)
            out = model(graph, xin)
            probe = torch.zeros_like(out, requires_grad=True)
            (jt_probe,) = torch.autograd.grad(out, xin, probe, create_graph=True)

            def gram(v: Tensor) -> Tensor:  # J^T J v
                (jv,) = torch.autograd.grad(jt_probe, probe, v.reshape(x.shape), retain_graph=True)
                (jtjv,) = torch.autograd.grad(out, xin, jv, retain_graph=True)
                return jtjv.reshape(-1)

            gen = torch.Generator(device=x.device).manual_seed(seed)
            q = torch.randn(dim, generator=gen, device=x.device, dtype=x.dtype)
            basis = x.new_empty(steps, dim)  # row i: the i-th Lanczos vector
            basis[0] = q / q.norm()
            alphas: list[Tensor] = []
            betas: list[Tensor] = []
            tiny = torch.finfo(x.dtype).eps
            for i in range(steps):
                w = gram(basis[i]).detach()
                alphas.append(basis[i] @ w)
                Q = basis[: i + 1]
                w = w - (w @ Q.T) @ Q  # full reorthogonalization, twice is enough
                w = w - (w @ Q.T) @ Q
                beta = w.norm()
                if i == steps - 1 or beta <= tiny * max(float(alphas[0].abs()), 1.0):
                    break
                betas.append(beta)
                basis[i + 1] = w / beta
    finally:
        model.train(was_training)
    m = len(alphas)
    t = torch.diag(torch.stack(alphas))
    if betas:
        off = torch.stack(betas)
        t = t + torch.diag(off, 1) + torch.diag(off, -1)
    theta = torch.linalg.eigvalsh(t).clamp_min(0.0).sqrt()  # ascending
    kk = min(k, m)
    return {
        "top": theta.flip(0)[:kk],
        "bottom": theta[:kk],
        "steps": torch.tensor([m]),
    }


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
    measures: Collection[str] = (),
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

    ``measures`` adds columns per state (and the logits' values to the summary, same keys),
    from one extra forward pass without gradients: ``"dirichlet"`` gives ``dirichlet`` and
    ``dirichlet_normalized`` (:func:`dirichlet_energy`); ``"mad"`` gives ``mad_edges``,
    ``mad_global`` and ``mad_global_stderr`` (:func:`mad`, 4096 pairs drawn from ``seed``);
    ``"rank"`` gives ``numerical_rank`` and ``effective_rank`` (:func:`numerical_rank`,
    :func:`effective_rank`). The default ``()`` leaves the table as it is.

    Wang, Chen, Zhang, Sun, Ding, "Exploring and Improving Initialization for Deep Graph
    Neural Networks: A Signal Propagation Perspective", TMLR 2025 (arXiv 2506.16790).

    Args:
        model: any deepgnn model (either backend).
        graph: the graph, a :class:`~deepgnn.Graph` (a ``dgl.DGLGraph`` is converted).
        x: node features, shape ``(num_nodes, in_dim)``.
        y: integer labels, shape ``(num_nodes,)``; ``None`` draws random labels.
        mask: bool ``(num_nodes,)`` selecting the loss nodes (e.g. ``ds.train_mask``).
        seed: seeds the random labels (and the pairs of ``mad_global``).
        measures: any of :data:`MEASURES`, ``("dirichlet", "mad", "rank")``.

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
        >>> df = analyze(m, ds.graph, ds.x, ds.y, mask=ds.train_mask, measures=("dirichlet", "rank"))
        >>> list(df.columns[-4:])
        ['dirichlet', 'dirichlet_normalized', 'numerical_rank', 'effective_rank']
    """
    model, graph, x = check_operands(model, graph, x, y, mask)
    seed = check_int("seed", seed, minimum=0)
    if not bool(x.detach().ne(0).any()):
        warnings.warn(
            "x is all zeros, so FSP = ||h_L|| / ||X|| is NaN and the gradients say nothing "
            "about the features; pass the real features, or random ones such as "
            "torch.randn(graph.num_nodes, model.in_dim)",
            RuntimeWarning,
            stacklevel=2,
        )
    if isinstance(measures, str) or not isinstance(measures, Collection):
        raise TypeError(
            f"measures must be a collection of names, got {measures!r}; pass e.g. "
            f"measures=({measures!r},)"
            if isinstance(measures, str)
            else f"measures must be a collection of names, got {type(measures).__name__}"
        )
    for name in measures:
        check_choice("measures", name, MEASURES)
    measures = tuple(name for name in MEASURES if name in measures)
    generator = torch.Generator().manual_seed(seed)
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            terms = signal_terms(model, graph, x, y, mask, generator=generator)
        extra = []
        if measures:
            with torch.no_grad():
                states = model.hidden_states(graph, x)
            extra = [_measure_columns(h, graph, measures, seed) for h in states]
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
                **(extra[l] if extra else {}),
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
    if extra:
        summary.update(extra[-1])
    summary["diverged"] = not (
        _finite(terms["norms"]) and _finite(terms["grad_norms"]) and _finite(terms["loss"])
    )
    if summary["diverged"]:
        logger.warning("analyze: the model produced NaN/inf (states, gradients or loss)")
    df.attrs["summary"] = summary
    return df
