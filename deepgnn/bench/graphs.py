"""The benchmark graphs: Erdős–Rényi and Chung–Lu power-law graphs of ogbn-arxiv and
ogbn-products size, their node orders and the records that name them."""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from deepgnn._checks import check_choice, check_int
from deepgnn.graph import Graph

__all__ = [
    "ARXIV_SIZE",
    "GIB",
    "GRAPHS",
    "MODES",
    "ORDERS",
    "PRODUCTS_SIZE",
    "SIZES",
    "arxiv_sized_graph",
    "benchmark_graph",
    "graph_record",
    "powerlaw_graph",
    "reorder",
]

log = logging.getLogger("deepgnn.bench")


#: ogbn-arxiv (Hu et al., NeurIPS 2020): nodes, undirected edges, features, classes.
ARXIV_SIZE = {"num_nodes": 169_343, "num_edges": 1_166_243, "num_features": 128, "num_classes": 40}
#: ogbn-products (Hu et al., NeurIPS 2020): 61,859,140 directed edges, i.e. 30,929,570 undirected.
PRODUCTS_SIZE = {
    "num_nodes": 2_449_029,
    "num_edges": 30_929_570,
    "num_features": 100,
    "num_classes": 47,
}
#: The benchmark graph sizes by name.
SIZES = {"arxiv": ARXIV_SIZE, "products": PRODUCTS_SIZE}
#: Precision / execution modes a timed step can run in.
MODES = ("fp32", "tf32", "cuda_graph", "cuda_graph_tf32", "bf16")
#: Node orders of a generated graph: random, by degree, reverse Cuthill-McKee.
ORDERS = ("shuffled", "degree", "rcm")
#: Bytes in a GiB (memory columns of the benchmark records).
GIB = 2**30

#: The benchmark graphs by name: generator, power-law exponent, size and node order. The
#: Erdős–Rényi graph has Poisson degrees (largest about 35 at arxiv size); the Chung–Lu graphs
#: have hubs like real ones (ogbn-arxiv's largest degree is 13,161, ogbn-products' 17,481).
GRAPHS: dict[str, dict[str, Any]] = {
    "er-arxiv": {
        "generator": "erdos_renyi",
        "exponent": None,
        "size": "arxiv",
        "order": "shuffled",
    },
    "powerlaw2.1-arxiv": {
        "generator": "chung_lu",
        "exponent": 2.1,
        "size": "arxiv",
        "order": "shuffled",
    },
    "powerlaw2.5-arxiv": {
        "generator": "chung_lu",
        "exponent": 2.5,
        "size": "arxiv",
        "order": "shuffled",
    },
    "powerlaw2.1-arxiv-degree": {
        "generator": "chung_lu",
        "exponent": 2.1,
        "size": "arxiv",
        "order": "degree",
    },
    "powerlaw2.1-arxiv-rcm": {
        "generator": "chung_lu",
        "exponent": 2.1,
        "size": "arxiv",
        "order": "rcm",
    },
    "powerlaw2.1-products": {
        "generator": "chung_lu",
        "exponent": 2.1,
        "size": "products",
        "order": "shuffled",
    },
}


def arxiv_sized_graph(
    *,
    num_nodes: int = ARXIV_SIZE["num_nodes"],
    num_edges: int = ARXIV_SIZE["num_edges"],
    seed: int = 0,
) -> Graph:
    """Return a uniformly random simple graph with exactly ``num_edges`` undirected edges.

    Edges are drawn uniformly among node pairs (Erdős–Rényi :math:`G(n, m)`), without self
    loops or repeats; the defaults give ogbn-arxiv's size (Hu et al., NeurIPS 2020).

    Example:
        >>> g = arxiv_sized_graph(num_nodes=100, num_edges=300, seed=1)
        >>> g.num_nodes, g.num_edges
        (100, 300)
    """
    check_int("num_nodes", num_nodes, minimum=2)
    check_int("num_edges", num_edges, minimum=0)
    if num_edges > num_nodes * (num_nodes - 1) // 2:
        raise ValueError(
            f"num_edges={num_edges} exceeds the {num_nodes * (num_nodes - 1) // 2} node pairs "
            f"of num_nodes={num_nodes}; pass fewer edges"
        )
    rng = np.random.default_rng(seed)
    keys = np.empty(0, dtype=np.int64)
    while keys.size < num_edges:
        draw = int((num_edges - keys.size) * 1.1) + 16
        a = rng.integers(0, num_nodes, draw)
        b = rng.integers(0, num_nodes, draw)
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        new = (lo * num_nodes + hi)[lo != hi]
        keys = np.concatenate([keys, np.setdiff1d(np.unique(new), keys)])
    keys = rng.permutation(keys)[:num_edges]
    return Graph(np.stack([keys // num_nodes, keys % num_nodes]), num_nodes=num_nodes)


def _sorted_unique(a: np.ndarray) -> np.ndarray:
    # np.unique of numpy 2.3 hashes int64 keys: 5 s for 4 M of them on a 2-core machine, a
    # sort and a comparison take 0.4 s.
    a = np.sort(a)
    return a[np.concatenate([[True], a[1:] != a[:-1]])] if a.size else a


def powerlaw_graph(
    *,
    num_nodes: int = ARXIV_SIZE["num_nodes"],
    num_edges: int = ARXIV_SIZE["num_edges"],
    exponent: float = 2.1,
    seed: int = 0,
    chunk_edges: int = 1 << 22,
) -> Graph:
    r"""Return a Chung–Lu random graph with power-law degrees and exactly ``num_edges`` edges.

    Node of rank :math:`r = 1, \dots, n` gets the weight :math:`w_r = r^{-1/(\gamma - 1)}`,
    whose degree distribution has the tail :math:`P(k) \propto k^{-\gamma}` (Chung & Lu,
    "Connected components in random graphs with given expected degree sequences", Annals of
    Combinatorics 2002). Both ends of an edge are drawn independently with probability
    :math:`\propto w` (so :math:`P(i \sim j) \propto w_i w_j`, the Chung–Lu model); self
    loops and repeats are dropped and draws go on until ``num_edges`` distinct edges are
    there, of which a random ``num_edges`` are kept. Ranks are mapped to node ids by a random
    permutation, so hubs sit anywhere in the id range, as in a real graph's arbitrary ids.
    Draws are made ``chunk_edges`` at a time (no dense or ``n``-by-``n`` intermediate): an
    ogbn-products-sized graph takes a few hundred MB. Some nodes end isolated (degree 0).
    At ogbn-arxiv size the largest degree is 43,786 for :math:`\gamma = 2.1` and 11,583
    for 2.5 (seed 0).

    Args:
        num_nodes, num_edges: the size (defaults: ogbn-arxiv's).
        exponent: :math:`\gamma > 1`; real graphs mostly lie between 2 and 3.
        seed: seeds the draw (same seed, same graph).
        chunk_edges: node pairs drawn per round.

    Raises:
        ValueError: an exponent of 1 or less, or more edges than the graph can hold.

    Example:
        >>> g = powerlaw_graph(num_nodes=1000, num_edges=3000, exponent=2.1, seed=1)
        >>> g.num_nodes, g.num_edges
        (1000, 3000)
    """
    check_int("num_nodes", num_nodes, minimum=2)
    check_int("num_edges", num_edges, minimum=0)
    check_int("chunk_edges", chunk_edges, minimum=1)
    if isinstance(exponent, bool) or not isinstance(exponent, (int, float)) or exponent <= 1:
        raise ValueError(
            f"exponent={exponent!r} must be a number above 1 (the degree tail k^-exponent); "
            "real graphs mostly have 2 to 3"
        )
    if num_edges > num_nodes * (num_nodes - 1) // 4:
        raise ValueError(
            f"num_edges={num_edges} is more than a quarter of the {num_nodes * (num_nodes - 1) // 2}"
            f" node pairs of num_nodes={num_nodes}, too dense for a power-law graph; pass fewer "
            "edges or more nodes"
        )
    rng = np.random.default_rng(seed)
    cdf = np.cumsum(np.arange(1, num_nodes + 1, dtype=np.float64) ** (-1.0 / (exponent - 1.0)))
    cdf /= cdf[-1]
    node = rng.permutation(num_nodes)  # rank -> node id

    def ends(k: int) -> np.ndarray:
        return node[np.minimum(np.searchsorted(cdf, rng.random(k), side="right"), num_nodes - 1)]

    keys = np.empty(0, dtype=np.int64)
    chunks: list[np.ndarray] = []
    pending = 0
    while keys.size < num_edges:
        draw = min(chunk_edges, int((num_edges - keys.size - pending) * 1.25) + 64)
        a, b = ends(draw), ends(draw)
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        chunks.append(_sorted_unique((lo * num_nodes + hi)[lo != hi]))
        pending += chunks[-1].size
        if keys.size + pending >= num_edges:  # merge only when the chunks could be enough
            keys = _sorted_unique(np.concatenate([keys, *chunks]))
            chunks, pending = [], 0
    keys = rng.choice(keys, num_edges, replace=False)
    return Graph(np.stack([keys // num_nodes, keys % num_nodes]), num_nodes=num_nodes)


def reorder(graph: Graph, order: str) -> Graph:
    """Return ``graph`` with its nodes renumbered: ``"degree"`` (largest first) or ``"rcm"``.

    ``"rcm"`` is reverse Cuthill–McKee (``scipy.sparse.csgraph.reverse_cuthill_mckee``), which
    gives neighbours nearby ids, so a row's gathers of ``x`` touch fewer cache lines.
    ``"degree"`` puts the hubs first, so their rows of ``x`` share cache lines. ``"shuffled"``
    returns ``graph`` itself. The new node ``i`` is the old node ``perm[i]``.

    Example:
        >>> g = powerlaw_graph(num_nodes=200, num_edges=600, seed=0)
        >>> r = reorder(g, "degree")
        >>> bool(r.degree[0] == g.degree.max()), r.num_edges == g.num_edges
        (True, True)
    """
    check_choice("order", order, ORDERS)
    if not isinstance(graph, Graph):
        raise TypeError(f"graph must be a deepgnn.Graph, got {type(graph).__name__}")
    if order == "shuffled":
        return graph
    if order == "degree":
        perm = np.argsort(-graph._degree.numpy(), kind="stable")
    else:
        from scipy.sparse.csgraph import reverse_cuthill_mckee

        perm = reverse_cuthill_mckee(graph.to_scipy().tocsr(), symmetric_mode=True)
    new_id = np.empty_like(perm)
    new_id[perm] = np.arange(perm.shape[0])
    ei = graph._edge_index.numpy()
    half = ei[0] < ei[1]  # one direction of each edge
    w = graph._edge_weight.numpy()[half]
    return Graph(
        new_id[ei[:, half]],
        num_nodes=graph.num_nodes,
        edge_weight=None if np.all(w == 1) else w,
    )


def graph_record(graph: Graph, name: str) -> dict[str, Any]:
    """What every benchmark record says about its graph: name, generator, exponent, size, order,
    largest and mean degree (neighbours, self loops excluded)."""
    spec = GRAPHS.get(name, {})
    deg = np.diff(graph._crow.cpu().numpy()) - 1  # the CSR's row pointers
    return {
        "graph": name,
        "generator": spec.get("generator"),
        "exponent": spec.get("exponent"),
        "order": spec.get("order"),
        "num_nodes": graph.num_nodes,
        "num_edges": graph.num_edges,
        "max_degree": int(deg.max()),
        "mean_degree": round(float(deg.mean()), 3),
        "isolated_nodes": int((deg == 0).sum()),
    }


def benchmark_graph(
    name: str, *, seed: int = 0, sizes: dict[str, int] | None = None
) -> tuple[Graph, dict[str, Any]]:
    """Build the benchmark graph ``name`` of :data:`GRAPHS`: ``(graph, its record fields)``.

    ``sizes`` overrides ``num_nodes`` / ``num_edges`` (small graphs for tests and smoke runs).

    Example:
        >>> g, rec = benchmark_graph("powerlaw2.5-arxiv", sizes={"num_nodes": 500, "num_edges": 2000})
        >>> rec["graph"], rec["exponent"], rec["num_edges"]
        ('powerlaw2.5-arxiv', 2.5, 2000)
    """
    check_choice("graph", name, GRAPHS)
    spec = GRAPHS[name]
    size = {**SIZES[spec["size"]], **(sizes or {})}
    n, m = size["num_nodes"], size["num_edges"]
    t0 = time.perf_counter()
    if spec["generator"] == "erdos_renyi":
        graph = arxiv_sized_graph(num_nodes=n, num_edges=m, seed=seed)
    else:
        graph = powerlaw_graph(num_nodes=n, num_edges=m, exponent=spec["exponent"], seed=seed)
    graph = reorder(graph, spec["order"])
    rec = graph_record(graph, name)
    log.info(
        "graph %s: %d nodes, %d edges, largest degree %d (%.1f s)",
        name,
        rec["num_nodes"],
        rec["num_edges"],
        rec["max_degree"],
        time.perf_counter() - t0,
    )
    return graph, rec
