r"""Synthetic graphs: the contextual stochastic block model (cSBM).

A cSBM couples a stochastic block model (the graph) with a Gaussian mixture (the features)
through shared class labels (Deshpande, Sen, Montanari, Mossel, "Contextual Stochastic Block
Models", NeurIPS 2018, arXiv 1807.09596). Homophily, degree and feature signal are set
independently, which makes it the controlled dataset for depth and scaling studies.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from deepgnn._checks import check_int
from deepgnn.data._dataset import Dataset
from deepgnn.graph import Graph

__all__ = ["csbm"]


def _check_float(arg: str, value: object, lo: float, hi: float, *, closed_hi: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{arg} must be a float, got {type(value).__name__} {value!r}")
    value = float(value)
    ok = lo <= value <= hi if closed_hi else lo <= value < hi
    if not (ok and math.isfinite(value)):
        bracket = "]" if closed_hi else ")"
        raise ValueError(f"{arg}={value} is outside [{lo}, {hi}{bracket}")
    return value


def _sample_pairs(
    rng: np.random.Generator,
    y: np.ndarray,
    order: np.ndarray,
    start: np.ndarray,
    size: np.ndarray,
    count: int,
    same: bool,
    exclude: np.ndarray,
) -> np.ndarray:
    """Return ``count`` distinct undirected pairs ``i*n + j`` (``i < j``), intra- or
    inter-class, none in ``exclude``, drawn in vectorized batches."""
    n, c = len(y), len(size)
    keys = np.empty(0, dtype=np.int64)
    for _ in range(64):
        need = count - len(keys)
        if need <= 0:
            break
        m = int(need * 1.1) + 16
        u = rng.integers(0, n, m)
        if same:
            cls = y[u]
        else:
            cls = (y[u] + rng.integers(1, c, m)) % c
        v = order[start[cls] + (rng.random(m) * size[cls]).astype(np.int64)]
        lo, hi = np.minimum(u, v), np.maximum(u, v)
        new = (lo * n + hi)[lo != hi]
        # keep the first draw of each new pair, in draw order, so the sample is uniform
        new, first = np.unique(new, return_index=True)
        new = new[np.argsort(first)]
        new = new[~np.isin(new, keys) & ~np.isin(new, exclude)]
        keys = np.concatenate([keys, new[:need]])
    if len(keys) < count:
        raise ValueError(
            f"cannot place {count} distinct {'intra' if same else 'inter'}-class edges; the "
            "graph is too dense for its classes: lower avg_degree or raise num_nodes"
        )
    return keys


def csbm(
    *,
    num_nodes: int = 10_000,
    avg_degree: float = 10.0,
    num_classes: int = 5,
    homophily: float = 0.7,
    snr: float = 1.0,
    num_features: int = 64,
    num_splits: int = 1,
    train_fraction: float = 0.5,
    val_fraction: float = 0.25,
    seed: int = 0,
) -> Dataset:
    r"""Sample a contextual stochastic block model: graph, features, labels and splits.

    Labels are balanced (class sizes differ by at most one) and assigned at random. The
    graph has exactly :math:`M = \mathrm{round}(N\,\bar d / 2)` distinct undirected edges, so
    the mean degree is :math:`\bar d` (up to rounding); :math:`\mathrm{round}(hM)` of them join
    two nodes of one class and the rest join two classes, so the edge homophily (Zhu et al.,
    "Beyond Homophily in Graph Neural Networks", NeurIPS 2020) is :math:`h`. An edge's first
    end is uniform over the nodes and its second uniform over the same class (intra) or over a
    uniformly chosen other class (inter). Features are a Gaussian mixture:

    .. math::
        x_i = \mu_{y_i} + \varepsilon_i, \quad \varepsilon_i \sim \mathcal N(0, I_F),
        \quad \lVert \mu_c \rVert = \mathrm{snr}

    with the class means :math:`\mu_c` orthogonal when ``num_features >= num_classes`` (random
    directions otherwise), so ``snr`` is the distance from a class mean to the origin in units
    of the per-feature noise, as in the cSBM of Deshpande, Sen, Montanari, Mossel (NeurIPS
    2018, arXiv 1807.09596). Everything is vectorized numpy: ogbn-arxiv size (169,343 nodes,
    ``avg_degree=13.7``) samples in seconds.

    Args:
        num_nodes: :math:`N`.
        avg_degree: mean number of neighbours :math:`\bar d` (self loops not counted).
        num_classes: number of classes, at least 2.
        homophily: fraction :math:`h \in [0, 1]` of edges inside a class.
        snr: norm of each class mean, :math:`\ge 0` (0: features carry no class signal).
        num_features: :math:`F`.
        num_splits: number of random train/val/test splits.
        train_fraction, val_fraction: split sizes; the test set is the rest.
        seed: seeds every random choice; the same arguments give the same dataset.

    Returns:
        A :class:`~deepgnn.data.Dataset` named ``"csbm"`` with metric ``"accuracy"``.

    Raises:
        ValueError: an argument is out of range, or the requested edges do not fit.

    Example:
        >>> ds = csbm(num_nodes=1000, avg_degree=8, homophily=0.9, seed=1)
        >>> ds.graph.num_edges, ds.num_classes
        (4000, 5)
    """
    n = check_int("num_nodes", num_nodes, minimum=2)
    c = check_int("num_classes", num_classes, minimum=2)
    f = check_int("num_features", num_features, minimum=1)
    check_int("num_splits", num_splits, minimum=1)
    check_int("seed", seed, minimum=0)
    if c > n:
        raise ValueError(f"num_classes={c} exceeds num_nodes={n}; pass num_classes <= num_nodes")
    d = _check_float("avg_degree", avg_degree, 0.0, n - 1.0, closed_hi=True)
    h = _check_float("homophily", homophily, 0.0, 1.0, closed_hi=True)
    snr = _check_float("snr", snr, 0.0, math.inf, closed_hi=False)
    tr = _check_float("train_fraction", train_fraction, 0.0, 1.0, closed_hi=False)
    va = _check_float("val_fraction", val_fraction, 0.0, 1.0, closed_hi=False)
    if tr + va >= 1.0:
        raise ValueError(
            f"train_fraction + val_fraction = {tr + va} leaves no test nodes; keep the sum below 1"
        )

    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % c)
    order = np.argsort(y, kind="stable")
    size = np.bincount(y, minlength=c)
    start = np.cumsum(size) - size

    m = round(n * d / 2)
    m_intra = round(h * m)
    intra = _sample_pairs(rng, y, order, start, size, m_intra, True, np.empty(0, np.int64))
    inter = _sample_pairs(rng, y, order, start, size, m - m_intra, False, intra)
    keys = np.concatenate([intra, inter])
    edges = np.stack([keys // n, keys % n])

    if f >= c:
        q, _ = np.linalg.qr(rng.standard_normal((f, c)))
        means = q.T
    else:
        means = rng.standard_normal((c, f))
        means /= np.linalg.norm(means, axis=1, keepdims=True)
    x = (rng.standard_normal((n, f), dtype=np.float32) + snr * means[y]).astype(np.float32)

    num_train, num_val = int(tr * n), int(va * n)
    masks = np.zeros((3, num_splits, n), dtype=bool)
    for k in range(num_splits):
        perm = rng.permutation(n)
        masks[0, k, perm[:num_train]] = True
        masks[1, k, perm[num_train : num_train + num_val]] = True
        masks[2, k, perm[num_train + num_val :]] = True
    train, val, test = (torch.from_numpy(m_) for m_ in masks)
    return Dataset(
        "csbm",
        Graph(torch.from_numpy(edges), num_nodes=n),
        torch.from_numpy(x),
        torch.from_numpy(y.astype(np.int64)),
        train,
        val,
        test,
        num_classes=c,
        metric="accuracy",
    )
