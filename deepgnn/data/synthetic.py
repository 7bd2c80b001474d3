r"""Synthetic graphs: the contextual stochastic block model (cSBM).

A cSBM couples a stochastic block model (the graph) with a Gaussian mixture (the features)
through shared class labels (Deshpande, Sen, Montanari, Mossel, "Contextual Stochastic Block
Models", NeurIPS 2018, arXiv 1807.09596). Homophily, degree and feature signal are set
independently, which makes it the controlled dataset for depth and scaling studies. With
``degree_exponent=`` the graph is degree-corrected (Karrer & Newman, "Stochastic blockmodels and
community structure in networks", Phys. Rev. E 2011): Chung–Lu power-law degrees with hubs,
sampled in chunks up to ogbn-products size.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from deepgnn._checks import check_choice, check_int
from deepgnn.data._dataset import Dataset
from deepgnn.graph import Graph

__all__ = ["check_csbm", "csbm"]


def _check_float(arg: str, value: object, lo: float, hi: float, *, closed_hi: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{arg} must be a float, got {type(value).__name__} {value!r}")
    value = float(value)
    ok = lo <= value <= hi if closed_hi else lo <= value < hi
    if not (ok and math.isfinite(value)):
        bracket = "]" if closed_hi else ")"
        raise ValueError(f"{arg}={value} is outside [{lo}, {hi}{bracket}")
    return value


def _check_labels(labels: object, num_nodes: int | None, num_classes: int | None) -> np.ndarray:
    """``labels`` as an int64 array of classes ``0..C-1``, each present; clear errors."""
    what = type(labels).__name__
    if isinstance(labels, torch.Tensor):
        labels = labels.detach().cpu().numpy()
    try:
        y = np.asarray(labels)
    except (TypeError, ValueError):
        y = np.empty(0, dtype=object)
    if y.ndim != 1 or y.size < 2 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(
            f"labels must be a 1-D array of integer classes 0..C-1 with one entry per node "
            f"(at least 2), got {what} of shape {getattr(y, 'shape', '?')} and dtype "
            f"{getattr(y, 'dtype', '?')}; pass e.g. dataset.labels"
        )
    y = y.astype(np.int64)
    if y.min() < 0:
        raise ValueError(
            f"labels hold {int(y.min())}; every node needs a class 0..C-1 (unlabelled nodes "
            "cannot be placed in a block)"
        )
    counts = np.bincount(y)
    c = len(counts)
    if c < 2 or (counts == 0).any():
        missing = np.flatnonzero(counts == 0).tolist()[:5]
        raise ValueError(
            f"labels must use every class 0..{c - 1} and at least 2 classes; classes "
            f"{missing} have no node: renumber the classes consecutively"
        )
    if num_nodes is not None and num_nodes != len(y):
        raise ValueError(
            f"num_nodes={num_nodes} but labels has {len(y)} entries; omit num_nodes with labels"
        )
    if num_classes is not None and num_classes != c:
        raise ValueError(
            f"num_classes={num_classes} but labels hold {c} classes; omit num_classes with labels"
        )
    return y


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


def _sorted_unique(a: np.ndarray) -> np.ndarray:
    # np.unique hashes int64 keys in numpy 2.3, several times slower than a sort on 2 cores
    a = np.sort(a)
    return a[np.concatenate([[True], a[1:] != a[:-1]])] if a.size else a


def _powerlaw_degrees(n: int, d: float, exponent: float, cap: float) -> np.ndarray:
    r"""Expected degrees by rank, largest first: :math:`\min(s\,r^{-1/(\gamma-1)}, k_{max})`
    with :math:`s` chosen so that they sum to :math:`n\bar d`."""
    return _scaled(np.arange(1, n + 1, dtype=np.float64) ** (-1.0 / (exponent - 1.0)), d, cap)


def _scaled(base: np.ndarray, d: float, cap: float) -> np.ndarray:
    r""":math:`\min(s\,b_i, k_{max})` for weights ``base`` sorted largest first, with :math:`s`
    chosen so that they sum to :math:`n\bar d`."""
    n = len(base)
    suffix = np.cumsum(base[::-1])[::-1]  # suffix[k] = sum of base[k:]
    k = np.arange(n)
    scale = (n * d - k * cap) / suffix  # scale if the top k ranks are capped
    capped = int(np.argmax(scale * base <= cap))  # the fewest capped ranks that are consistent
    return np.minimum(scale[capped] * base, cap)


def _distinct_pairs(
    rng: np.random.Generator,
    n: int,
    count: int,
    draw: Callable[[int], tuple[np.ndarray, np.ndarray]],
    what: str,
    chunk: int,
) -> np.ndarray:
    """Return ``count`` distinct sorted keys ``i*n + j`` (``i < j``) of the pairs ``draw(k)``
    yields, ``chunk`` draws at a time; a random surplus is dropped at the end."""
    keys = np.empty(0, dtype=np.int64)
    chunks: list[np.ndarray] = []
    pending, rounds = 0, 0
    limit = 64 + 8 * (count // chunk + 1)
    while keys.size < count:
        rounds += 1
        if rounds > limit:
            raise ValueError(
                f"cannot place {count} distinct {what}-class edges; the hubs' pairs repeat too "
                "often: lower avg_degree or max_degree, raise degree_exponent or num_nodes"
            )
        u, v = draw(min(chunk, int((count - keys.size - pending) * 1.1) + 64))
        lo, hi = np.minimum(u, v), np.maximum(u, v)
        chunks.append(_sorted_unique((lo * n + hi)[lo != hi]))
        del u, v, lo, hi
        pending += chunks[-1].size
        if keys.size + pending >= count:  # merge only when the chunks could be enough
            keys = _sorted_unique(np.concatenate([keys, *chunks]))
            chunks, pending = [], 0
    surplus = keys.size - count
    if surplus:
        keys = np.delete(keys, rng.choice(keys.size, surplus, replace=False))
    return keys


def _dc_edges(
    rng: np.random.Generator,
    y: np.ndarray,
    order: np.ndarray,
    start: np.ndarray,
    size: np.ndarray,
    m: int,
    m_intra: int,
    d: float,
    exponent: float | None,
    cap: float,
    chunk: int,
    affinity: np.ndarray | None = None,
    relative: np.ndarray | None = None,
) -> np.ndarray:
    """Degree-corrected edges: ``m_intra`` distinct intra-class and ``m - m_intra`` distinct
    inter-class pairs, each pair drawn with probability proportional to ``w_i w_j`` (times
    ``affinity[c, c']`` for a pair of classes ``c != c'``, when given)."""
    n, c = len(y), len(size)
    w = np.empty(n)
    if relative is None:
        assert exponent is not None
        # rank -> random node: hubs fall in every class
        w[rng.permutation(n)] = _powerlaw_degrees(n, d, exponent, cap)
    else:
        by = np.argsort(-relative, kind="stable")
        w[by] = _scaled(relative[by], d, cap)
    cum = np.cumsum(w[order])  # cumulative weight in class-sorted order
    del w
    end = start + size
    before = np.concatenate([[0.0], cum[:-1]])[start]  # weight of the classes before c
    weight = cum[end - 1] - before
    yo = y[order]

    def pick(value: np.ndarray, lo: np.ndarray | int, hi: np.ndarray | int) -> np.ndarray:
        # searchsorted of sorted values walks cum in order: 5x faster than of random ones
        return np.clip(np.searchsorted(cum, np.sort(value), side="right"), lo, hi)

    p_class = weight**2 / (weight**2).sum()  # intra pairs of class c weigh W_c**2 in all

    def intra(k: int) -> tuple[np.ndarray, np.ndarray]:
        # class by class (the classes hold disjoint ranges of cum, so sorting keeps them
        # apart): both ends sorted, the second then shuffled within its class
        cls = np.repeat(np.arange(c), rng.multinomial(k, p_class))
        lo, hi, base, span = start[cls], end[cls] - 1, before[cls], weight[cls]
        u = pick(base + rng.random(k) * span, lo, hi)
        v = pick(base + rng.random(k) * span, lo, hi)
        v = v[np.argsort(cls + rng.random(k))]
        return order[u], order[v]

    def inter(k: int) -> tuple[np.ndarray, np.ndarray]:
        # both ends in proportion to w, pairs inside a class rejected
        u = pick(rng.random(k) * cum[-1], 0, n - 1)
        v = rng.permutation(pick(rng.random(k) * cum[-1], 0, n - 1))
        keep = yo[u] != yo[v]
        return order[u[keep]], order[v[keep]]

    if affinity is not None:
        # a pair of classes c < c' weighs W_c W_c' affinity[c, c']; each end within its class
        # in proportion to w, as for intra pairs
        first, second = np.triu_indices(c, 1)
        p_pair = weight[first] * weight[second] * affinity[first, second]
        p_pair = p_pair / p_pair.sum()

        def inter(k: int) -> tuple[np.ndarray, np.ndarray]:  # noqa: F811
            pair = np.repeat(np.arange(len(first)), rng.multinomial(k, p_pair))
            a, b = first[pair], second[pair]
            u = pick(before[a] + rng.random(k) * weight[a], start[a], end[a] - 1)
            by = np.argsort(b, kind="stable")  # the second ends class by class, as intra
            bs = b[by]
            vs = pick(before[bs] + rng.random(k) * weight[bs], start[bs], end[bs] - 1)
            v = np.empty_like(vs)
            v[by] = vs[np.argsort(bs + rng.random(k))]  # shuffled within each class
            return order[u], order[v]

    a = _distinct_pairs(rng, n, m_intra, intra, "intra", chunk)
    b = _distinct_pairs(rng, n, m - m_intra, inter, "inter", chunk)
    keys = np.concatenate([a, b])
    del a, b
    edges = np.empty((2, m), dtype=np.int64)
    np.floor_divide(keys, n, out=edges[0])
    np.remainder(keys, n, out=edges[1])
    return edges


def check_csbm(**options: Any) -> None:
    """Check keyword options of :func:`csbm` as it checks them, without sampling anything.

    What a sweep runs on its ``[data.csbm]`` table when it loads: a bad value fails there.

    Raises:
        ValueError: an unknown option (the message lists :func:`csbm`'s), or a value out of
            range (as :func:`csbm` raises it).
        TypeError: a value of the wrong type.

    Example:
        >>> check_csbm(num_nodes=500, homophily=0.2)
        >>> check_csbm(homophily=1.5)
        Traceback (most recent call last):
        ValueError: homophily=1.5 is outside [0.0, 1.0]
    """
    params = inspect.signature(csbm).parameters
    for key in options:
        check_choice("csbm option", key, params)
    _checked(**{**{k: p.default for k, p in params.items()}, **options})


def _checked(
    *,
    num_nodes: int | None,
    avg_degree: float,
    num_classes: int | None,
    homophily: float,
    snr: float,
    num_features: int,
    num_splits: int,
    train_fraction: float,
    val_fraction: float,
    seed: int,
    degree_exponent: float | None,
    max_degree: int | None,
    labels: Any = None,
    affinity_width: float | None = None,
    degree_weights: Any = None,
) -> tuple[
    int,
    int,
    int,
    float,
    float,
    float,
    float,
    float,
    float | None,
    float | None,
    np.ndarray | None,
    float | None,
    np.ndarray | None,
]:
    """:func:`csbm`'s arguments, checked: ``n, c, f, d, h, snr, tr, va, gamma, cap``, the given
    labels, the affinity width and the relative degree weights (``None`` where not given)."""
    given = None if labels is None else _check_labels(labels, num_nodes, num_classes)
    if given is not None:
        n, c = len(given), int(given.max()) + 1
    else:
        n = check_int("num_nodes", 10_000 if num_nodes is None else num_nodes, minimum=2)
        c = check_int("num_classes", 5 if num_classes is None else num_classes, minimum=2)
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
    gamma = cap = None
    if degree_exponent is not None:
        gamma = degree_exponent
        if isinstance(gamma, bool) or not isinstance(gamma, (int, float)):
            raise TypeError(
                f"degree_exponent must be a float, got {type(gamma).__name__} {gamma!r}; pass "
                "e.g. degree_exponent=2.1"
            )
        gamma = float(gamma)
        if not (gamma > 1.0 and math.isfinite(gamma)):
            raise ValueError(
                f"degree_exponent={gamma} must be a finite number above 1 (the degree tail "
                "k^-degree_exponent); real graphs mostly have 2 to 3, e.g. degree_exponent=2.1"
            )
    relative = None
    if degree_weights is not None:
        if gamma is not None:
            raise ValueError(
                "degree_weights sets the expected degrees; drop degree_exponent (or build the "
                "power law into the weights)"
            )
        if isinstance(degree_weights, torch.Tensor):
            degree_weights = degree_weights.detach().cpu().numpy()
        relative = np.asarray(degree_weights, dtype=np.float64)
        if relative.shape != (n,) or not (np.isfinite(relative).all() and relative.min() > 0):
            raise ValueError(
                f"degree_weights must hold one positive finite number per node ({n}), got "
                f"shape {relative.shape}; pass e.g. numpy.ones(num_nodes) + citations"
            )
    dc = gamma is not None or relative is not None  # degree-corrected
    if dc:  # the cap at which no pair's expected count exceeds 1
        cap = float(min(max(math.isqrt(int(n * d)), math.ceil(d)), n - 1))
    if max_degree is not None:
        if not dc:
            raise ValueError(
                f"max_degree={max_degree} caps degree-corrected degrees; pass degree_exponent= "
                "(e.g. 2.1) or degree_weights= with it, or drop max_degree"
            )
        cap = float(check_int("max_degree", max_degree, minimum=1))
        if not d <= cap <= n - 1:
            raise ValueError(
                f"max_degree={max_degree} must lie between avg_degree={d} and "
                f"num_nodes - 1 = {n - 1}; pass a max_degree in [{math.ceil(d)}, {n - 1}]"
            )
    tau = None
    if affinity_width is not None:
        if not dc:
            raise ValueError(
                f"affinity_width={affinity_width} shapes degree-corrected inter-class edges; "
                "pass degree_exponent= (e.g. 2.1) or degree_weights= with it, or drop "
                "affinity_width"
            )
        tau = _check_float("affinity_width", affinity_width, 0.0, math.inf, closed_hi=False)
        if tau == 0.0:
            raise ValueError("affinity_width=0 is not allowed; pass a width above 0, e.g. 1.0")
    if tr + va >= 1.0:
        raise ValueError(
            f"train_fraction + val_fraction = {tr + va} leaves no test nodes; keep the sum below 1"
        )

    return n, c, f, d, h, snr, tr, va, gamma, cap, given, tau, relative


def csbm(
    *,
    num_nodes: int | None = None,
    avg_degree: float = 10.0,
    num_classes: int | None = None,
    homophily: float = 0.7,
    snr: float = 1.0,
    num_features: int = 64,
    num_splits: int = 1,
    train_fraction: float = 0.5,
    val_fraction: float = 0.25,
    seed: int = 0,
    degree_exponent: float | None = None,
    max_degree: int | None = None,
    labels: np.ndarray | torch.Tensor | Sequence[int] | None = None,
    affinity_width: float | None = None,
    degree_weights: np.ndarray | torch.Tensor | Sequence[float] | None = None,
) -> Dataset:
    r"""Sample a contextual stochastic block model: graph, features, labels and splits.

    Labels are balanced (class sizes differ by at most one) and assigned at random, unless
    ``labels`` gives them (e.g. a real dataset's, with its class sizes). The
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

    **Degree-corrected** (``degree_exponent=`` :math:`\gamma`): the degrees follow a power law
    with hubs, as in real graphs (a degree-corrected SBM, Karrer & Newman, Phys. Rev. E 2011,
    with Chung–Lu weights, Chung & Lu, Annals of Combinatorics 2002). The node of rank
    :math:`r` (ranks given to the nodes at random, so hubs fall in every class) gets the
    expected degree :math:`w_r = \min(s\,r^{-1/(\gamma-1)}, k_{max})`, whose tail is
    :math:`P(k) \propto k^{-\gamma}`, with :math:`s` set so that the mean is :math:`\bar d`.
    Each intra-class pair is drawn with probability :math:`\propto w_i w_j` among the
    intra-class pairs, and each inter-class pair likewise among the inter-class pairs; repeats
    and self loops are dropped and draws go on (``2**22`` at a time, no dense or
    :math:`N \times N` intermediate) until there are exactly :math:`\mathrm{round}(hM)` and
    :math:`M - \mathrm{round}(hM)` distinct ones, of which a random surplus is dropped. So the
    edge count and homophily are exact as above, and the realized degrees of the hubs fall
    somewhat below :math:`k_{max}` (their mutual pairs repeat). Nodes of small weight may end
    isolated. At ogbn-products size (the
    ``csbm-products`` dataset: 2,449,029 nodes, 30,929,570 edges) it takes 52 s and 4.4 GiB
    on a 2-core CPU; its largest degree is 11,379 (seed 0).

    Args:
        num_nodes: :math:`N` (default 10,000; with ``labels``, their number).
        avg_degree: mean number of neighbours :math:`\bar d` (self loops not counted).
        num_classes: number of classes, at least 2 (default 5; with ``labels``, the largest
            label plus one).
        homophily: fraction :math:`h \in [0, 1]` of edges inside a class.
        snr: norm of each class mean, :math:`\ge 0` (0: features carry no class signal).
        num_features: :math:`F`.
        num_splits: number of random train/val/test splits.
        train_fraction, val_fraction: split sizes; the test set is the rest.
        seed: seeds every random choice; the same arguments give the same dataset.
        degree_exponent: :math:`\gamma > 1` of the power-law degree tail (real graphs mostly
            have 2 to 3); ``None`` (the default): the uniform cSBM above.
        max_degree: :math:`k_{max}`, the cap on the expected degree, at least ``avg_degree``
            and below ``num_nodes``; ``None``: :math:`\lfloor\sqrt{N \bar d}\rfloor` (the cap at
            which no pair's expected count exceeds 1). Only with ``degree_exponent`` or
            ``degree_weights``.
        labels: the class of every node (integers ``0..C-1``, each class present), in place
            of balanced random ones; ``num_nodes`` and ``num_classes``, if given, must agree.
        affinity_width: :math:`\tau > 0`: inter-class edges join *related* classes. The
            classes sit on a ring in random order, and a pair of classes :math:`c \ne c'` at
            ring distance :math:`\delta` weighs :math:`W_c W_{c'} e^{-(\delta - 1)/\tau}`
            (:math:`W_c`: the class's total expected degree), so most inter-class edges of a
            class go to the few classes next to it, as a paper cites neighbouring fields.
            Small :math:`\tau` concentrates them (a class and its ring neighbours become hard to
            tell apart from the graph), large :math:`\tau` spreads them as without it.
            ``None`` (default): a pair weighs :math:`W_c W_{c'}`. Only with
            ``degree_exponent``.
        degree_weights: each node's expected degree up to a common factor (positive; e.g.
            a citation graph's papers, whose citations accumulate with age), in place of
            ``degree_exponent``'s power law over a random order: scaled to the mean
            ``avg_degree`` and capped at ``max_degree`` as the power law is.

    Returns:
        A :class:`~deepgnn.data.Dataset` named ``"csbm"`` with metric ``"accuracy"``.

    Raises:
        ValueError: an argument is out of range, or the requested edges do not fit.

    Example:
        >>> ds = csbm(num_nodes=1000, avg_degree=8, homophily=0.9, seed=1)
        >>> ds.graph.num_edges, ds.num_classes
        (4000, 5)
        >>> hubs = csbm(num_nodes=5000, avg_degree=10, degree_exponent=2.1, seed=1)
        >>> deg = hubs.graph.degree - 1
        >>> hubs.graph.num_edges, bool(deg.max() > 15 * deg.mean())
        (25000, True)
    """
    n, c, f, d, h, snr, tr, va, gamma, cap, given, tau, relative = _checked(
        num_nodes=num_nodes,
        avg_degree=avg_degree,
        num_classes=num_classes,
        homophily=homophily,
        snr=snr,
        num_features=num_features,
        num_splits=num_splits,
        train_fraction=train_fraction,
        val_fraction=val_fraction,
        seed=seed,
        degree_exponent=degree_exponent,
        max_degree=max_degree,
        labels=labels,
        affinity_width=affinity_width,
        degree_weights=degree_weights,
    )
    dc = gamma is not None or relative is not None  # degree-corrected

    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % c) if given is None else given
    order = np.argsort(y, kind="stable")
    size = np.bincount(y, minlength=c)
    start = np.cumsum(size) - size

    m = round(n * d / 2)
    m_intra = round(h * m)
    if not dc:
        intra = _sample_pairs(rng, y, order, start, size, m_intra, True, np.empty(0, np.int64))
        inter = _sample_pairs(rng, y, order, start, size, m - m_intra, False, intra)
        keys = np.concatenate([intra, inter])
        edges = np.stack([keys // n, keys % n])
        del intra, inter, keys
    else:
        assert cap is not None
        pairs = int((size * (size - 1) // 2).sum())
        if m_intra > pairs or m - m_intra > n * (n - 1) // 2 - pairs:
            raise ValueError(
                f"cannot place {m_intra} intra- and {m - m_intra} inter-class edges; the graph "
                "is too dense for its classes: lower avg_degree or raise num_nodes"
            )
        affinity = None
        if tau is not None:
            ring = np.empty(c, dtype=np.int64)
            ring[rng.permutation(c)] = np.arange(c)  # each class's place on the ring
            gap = np.abs(ring[:, None] - ring[None, :])
            affinity = np.exp(-(np.minimum(gap, c - gap) - 1.0) / tau)
        edges = _dc_edges(
            rng, y, order, start, size, m, m_intra, d, gamma, cap, 1 << 22, affinity, relative
        )
    graph = Graph(torch.from_numpy(edges), num_nodes=n)
    del edges

    if f >= c:
        q, _ = np.linalg.qr(rng.standard_normal((f, c)))
        means = q.T
    else:
        means = rng.standard_normal((c, f))
        means /= np.linalg.norm(means, axis=1, keepdims=True)
    x = rng.standard_normal((n, f), dtype=np.float32)
    step = max(1, (1 << 24) // f)  # rows at a time: no (n, f) float64 intermediate
    for i in range(0, n, step):
        x[i : i + step] = x[i : i + step] + snr * means[y[i : i + step]]

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
        graph,
        torch.from_numpy(x),
        torch.from_numpy(y.astype(np.int64)),
        train,
        val,
        test,
        num_classes=c,
        metric="accuracy",
    )
