r"""Time a full training step of deep GCNs: deepgnn's kernels beside torch.sparse, PyG and DGL.

A step is forward, cross-entropy on the training nodes, backward and an Adam update. Each
step is bracketed by device synchronizations, warm-up steps are discarded, and the median of
the rest is reported with the peak device memory of the timed steps. Every implementation of
one configuration runs in the same process, one after another, so ratios are side by side.

* GPU suite (``suite="gpu-arxiv"``): a seeded random graph of ogbn-arxiv size (169,343 nodes,
  1,166,243 undirected edges, 128 features, 40 classes; Hu et al., "Open Graph Benchmark",
  NeurIPS 2020), ``gcn`` and ``resgcn`` with tanh, widths 64 and 256, depths 2 to 64;
  implementations ``deepgnn`` (``Graph.spmm``: the Triton kernel), ``torch_sparse`` (the same
  model with plain ``torch.sparse.mm``, whose backward transposes :math:`\hat A`) and ``pyg``
  (the same architecture from ``torch_geometric.nn.GCNConv(cached=True)``, when importable).
* CPU suite (``suite="cpu-cora"``): Cora, depths 2, 16, 64, deepgnn against ``backend="dgl"``.

This module is the logic behind ``deepgnn bench`` and ``make bench``; it is not imported by
``import deepgnn``.
"""

from __future__ import annotations

import copy
import datetime
import functools
import gc
import itertools
import json
import logging
import math
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

import deepgnn
from deepgnn._checks import check_choice, check_int
from deepgnn._io import write_atomic
from deepgnn.graph import Graph
from deepgnn.models import ACTIVATIONS

__all__ = [
    "ARXIV_SIZE",
    "GPU_CASES",
    "GRAPHS",
    "QUICK_GPU_CASES",
    "MODES",
    "PRODUCTS_SIZE",
    "run",
    "arxiv_sized_graph",
    "benchmark_graph",
    "graph_record",
    "powerlaw_graph",
    "reorder",
    "time_step",
    "run_gpu",
    "run_cpu",
    "write_results",
    "markdown_report",
]

log = logging.getLogger(__name__)

ARXIV_SIZE = {"num_nodes": 169_343, "num_edges": 1_166_243, "num_features": 128, "num_classes": 40}
#: ogbn-products (Hu et al., NeurIPS 2020): 61,859,140 directed edges, i.e. 30,929,570 undirected.
PRODUCTS_SIZE = {
    "num_nodes": 2_449_029,
    "num_edges": 30_929_570,
    "num_features": 100,
    "num_classes": 47,
}
SIZES = {"arxiv": ARXIV_SIZE, "products": PRODUCTS_SIZE}
MODES = ("fp32", "tf32", "cuda_graph", "cuda_graph_tf32", "bf16")
ORDERS = ("shuffled", "degree", "rcm")
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
    deg = np.diff(graph._scipy.indptr) - 1
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


class _TorchSparseGraph(Graph):
    """A :class:`Graph` whose ``spmm`` is plain ``torch.sparse.mm`` (autograd's own backward)."""

    @classmethod
    def wrap(cls, graph: Graph) -> _TorchSparseGraph:
        out = copy.copy(graph)
        out.__class__ = cls
        return out

    def spmm(
        self, x: Tensor, *, bias: Tensor | None = None, activation: str = "identity"
    ) -> Tensor:
        out = torch.sparse.mm(self.adjacency(x.dtype), x)
        out = out if bias is None else out + bias
        return out if activation == "identity" else ACTIVATIONS[activation](out)


class _PyGNet(nn.Module):
    """``gcn`` / ``resgcn`` of :mod:`deepgnn.models` rebuilt from PyG's ``GCNConv``."""

    def __init__(self, family: str, in_dim: int, out_dim: int, depth: int, width: int) -> None:
        super().__init__()
        from torch_geometric.nn import GCNConv

        self.family = family
        if family == "gcn":
            dims = [in_dim] + [width] * (depth - 1) + [out_dim]
            self.convs = nn.ModuleList(
                GCNConv(dims[i], dims[i + 1], cached=True) for i in range(depth)
            )
        else:
            self.in_proj = nn.Linear(in_dim, width)
            self.convs = nn.ModuleList(GCNConv(width, width, cached=True) for _ in range(depth))
            self.out_proj = nn.Linear(width, out_dim)

    def forward(self, edge_index: Tensor, x: Tensor) -> Tensor:
        if self.family == "gcn":
            for i, conv in enumerate(self.convs):
                x = conv(x, edge_index)
                if i < len(self.convs) - 1:
                    x = torch.tanh(x)
            return x
        h = self.in_proj(x)
        for conv in self.convs:
            h = h + torch.tanh(conv(h, edge_index))
        return self.out_proj(h)


@functools.cache
def _side_stream(device: torch.device) -> torch.cuda.Stream:
    # One capture stream per device for the whole process: cuBLAS keeps a workspace for every
    # stream it has run on, so a new stream per configuration would pile up 32 MiB workspaces
    # and inflate the peak memory of every later configuration.
    return torch.cuda.Stream(device)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _host_us(fn: Callable[[], object], device: torch.device, n: int = 2000) -> float:
    """Wall microseconds per call of ``fn`` over ``n`` calls in a row, after 20 untimed ones.

    The device is synchronized before and after the ``n`` calls, not between them, so when
    each call's device work is tiny this is the host's cost of issuing it.
    """
    for _ in range(20):
        fn()
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    t = (time.perf_counter() - t0) / n * 1e6
    _sync(device)
    return t


def time_step(
    forward: Callable[[], Tensor],
    params: Sequence[nn.Parameter],
    y: Tensor,
    train_idx: Tensor,
    *,
    steps: int = 20,
    warmup: int = 5,
    mode: str = "fp32",
) -> dict[str, Any]:
    """Median time of a training step ``forward -> cross-entropy -> backward -> Adam``.

    Args:
        forward: returns the logits ``(num_nodes, num_classes)`` from fixed inputs.
        params: the parameters Adam updates.
        y: labels ``(num_nodes,)``; train_idx: the node ids the loss uses.
        steps: timed steps (the median is reported); warmup: untimed steps before them.
        mode: ``fp32`` (TF32 off), ``tf32`` (TF32 matmuls), ``cuda_graph`` (TF32 off, the whole
            step captured once as a CUDA graph and replayed), ``cuda_graph_tf32`` (both) or
            ``bf16`` (autocast to bfloat16).

    Returns:
        ``{"step_ms", "peak_mem_gb" (GiB, None on CPU), "loss", "times_ms"}``.
    """
    device = y.device
    cuda = device.type == "cuda"
    if mode not in MODES:
        raise ValueError(f"mode={mode!r} is not one of {list(MODES)}")
    if mode != "fp32" and not cuda:
        raise ValueError(f"mode={mode!r} needs a CUDA device; use mode='fp32' on the CPU")
    old_tf32 = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = mode in ("tf32", "cuda_graph_tf32")
    graphed = mode.startswith("cuda_graph")
    opt_kw: dict[str, Any] = {"fused": True} if cuda else {}
    if graphed:
        opt_kw["capturable"] = True
    opt = torch.optim.Adam(params, lr=1e-3, **opt_kw)
    ytr = y[train_idx]

    def step() -> Tensor:
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=mode == "bf16"):
            loss = F.cross_entropy(forward()[train_idx], ytr)
        loss.backward()
        opt.step()
        return loss.detach()

    try:
        if graphed:
            side = _side_stream(device)
            side.wait_stream(torch.cuda.current_stream(device))
            with torch.cuda.stream(side):
                for _ in range(max(warmup, 3)):
                    step()
            torch.cuda.current_stream(device).wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            opt.zero_grad(set_to_none=True)
            # Replays allocate nothing: the step's memory is what its capture allocated (freed
            # blocks go back to the graph's private pool and no longer count as allocated).
            _sync(device)
            torch.cuda.reset_peak_memory_stats(device)
            with torch.cuda.graph(graph):
                static_loss = step()

            def run_one() -> Tensor:
                graph.replay()
                return static_loss

            run_one()
        else:
            run_one = step
            for _ in range(warmup):
                step()
            _sync(device)
            if cuda:
                torch.cuda.reset_peak_memory_stats(device)
        times = []
        for _ in range(steps):
            _sync(device)
            t0 = time.perf_counter()
            loss = run_one()
            _sync(device)
            times.append((time.perf_counter() - t0) * 1e3)
        peak = torch.cuda.max_memory_allocated(device) / GIB if cuda else None
        return {
            "step_ms": statistics.median(times),
            "peak_mem_gb": peak,
            "loss": float(loss),
            "times_ms": times,
        }
    finally:
        torch.backends.cuda.matmul.allow_tf32 = old_tf32


def _environment(device: torch.device) -> dict[str, Any]:
    env: dict[str, Any] = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "date": datetime.date.today().isoformat(),
    }
    if device.type == "cuda":
        env["device"] = torch.cuda.get_device_name(device)
        env["cuda"] = torch.version.cuda
        try:
            import triton

            env["triton"] = triton.__version__
        except ImportError:
            env["triton"] = None
    else:
        env["device"] = (
            f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
        )
    return env


def _release(device: torch.device) -> None:
    # A captured CUDA graph and its memory pool live in reference cycles: collect them now, or
    # the next configuration's peak memory would count them.
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


#: The GPU suite: ``(graph, family, width, depth)``. Depth 64 at widths 64 and 256 on every
#: arxiv-sized graph, and gcn of width 64 and depth 16 on the products-sized one (PyG's
#: messages there take 16 GB a layer). About 8 minutes on one H200 at 10 timed steps a case,
#: estimated from 36 of these runs at 6 timed steps (150 s there), the products graph's build
#: (42 s) and its steps (0.16, 0.89 and 2.57 s for deepgnn, torch.sparse and PyG).
GPU_CASES: tuple[tuple[str, str, int, int], ...] = (
    *(
        (graph, family, width, 64)
        for graph in ("er-arxiv", "powerlaw2.1-arxiv", "powerlaw2.5-arxiv", "powerlaw2.1-arxiv-rcm")
        for family in ("gcn", "resgcn")
        for width in (64, 256)
    ),
    ("powerlaw2.1-products", "gcn", 64, 16),
)
#: ``--quick``: the headline cases only (under a minute on one H200, estimated likewise).
QUICK_GPU_CASES: tuple[tuple[str, str, int, int], ...] = (
    ("er-arxiv", "gcn", 64, 64),
    ("powerlaw2.1-arxiv", "gcn", 64, 64),
)


def run_gpu(
    *,
    graphs: Sequence[str] = ("er-arxiv",),
    families: Sequence[str] = ("gcn", "resgcn"),
    widths: Sequence[int] = (64, 256),
    depths: Sequence[int] = (2, 8, 16, 32, 64),
    cases: Sequence[tuple[str, str, int, int]] | None = None,
    impls: Sequence[str] = ("deepgnn", "torch_sparse", "pyg"),
    modes: Sequence[str] = ("fp32",),
    steps: int = 20,
    warmup: int = 5,
    seed: int = 0,
    device: str = "cuda",
    sizes: dict[str, int] | None = None,
    on_record: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Time every ``graph x family x width x depth x impl`` (or the given ``cases``).

    ``graphs`` are names of :data:`GRAPHS`; ``cases`` (``(graph, family, width, depth)``
    tuples, e.g. :data:`GPU_CASES`) replace the product of the four lists. Each graph is built
    once, its cases run, and it is freed before the next. ``modes`` other than ``fp32`` apply
    to ``impl="deepgnn"`` only and need CUDA. ``pyg`` is skipped (with a log line) when
    ``torch_geometric`` is not importable; a case that runs out of GPU memory is recorded with
    ``step_ms=None`` and ``error``. ``sizes`` overrides every graph's ``num_nodes``,
    ``num_edges``, ``num_features``, ``num_classes`` (small graphs for a smoke run);
    ``on_record`` sees each record as soon as it is measured, and each is logged (one line a
    case). Returns one record per run with ``suite, graph, generator, exponent, num_nodes,
    num_edges, max_degree, kernel_path, model, impl, mode, width, depth, step_ms,
    peak_mem_gb, device, torch, ...``.
    """
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' but torch sees no CUDA device; pass device='cpu'")
    unknown = sorted(set(impls) - {"deepgnn", "torch_sparse", "pyg"})
    if unknown:
        raise ValueError(f"impls {unknown} unknown; choose from deepgnn, torch_sparse, pyg")
    if cases is None:
        cases = list(itertools.product(graphs, families, widths, depths))
    for case in cases:
        check_choice("graph", case[0], GRAPHS)
    impls = list(impls)
    if "pyg" in impls:
        try:
            import torch_geometric  # noqa: F401
        except ImportError:
            log.warning("torch_geometric is not importable: skipping impl='pyg'")
            impls.remove("pyg")
    env = _environment(dev)
    records: list[dict[str, Any]] = []
    total = sum(len(modes) if i == "deepgnn" else 1 for i in impls) * len(cases)
    for name in dict.fromkeys(c[0] for c in cases):
        size = {**SIZES[GRAPHS[name]["size"]], **(sizes or {})}
        graph, grec = benchmark_graph(name, seed=seed, sizes=sizes)
        graph = graph.to(dev)
        grec["kernel_path"] = graph.kernel_info()["path"]
        grec["kernel_chunk"] = graph.kernel_info()["chunk"]
        mine = [c[1:] for c in cases if c[0] == name]
        records += _run_graph(
            graph,
            grec,
            size,
            mine,
            impls,
            modes,
            steps,
            warmup,
            seed,
            env,
            on_record,
            total,
            len(records),
        )
        del graph
        _release(dev)
    return records


def _run_graph(
    graph: Graph,
    grec: dict[str, Any],
    size: dict[str, int],
    cases: Sequence[tuple[str, int, int]],
    impls: Sequence[str],
    modes: Sequence[str],
    steps: int,
    warmup: int,
    seed: int,
    env: dict[str, Any],
    on_record: Callable[[dict[str, Any]], None] | None,
    total: int,
    done: int,
) -> list[dict[str, Any]]:
    dev = graph.device
    n, f, c = graph.num_nodes, size["num_features"], size["num_classes"]
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, f, generator=gen).to(dev)
    y = torch.randint(0, c, (n,), generator=gen).to(dev)
    # ogbn-arxiv trains on 90,941 of its 169,343 nodes; a random subset of that share stands in.
    train_idx = torch.randperm(n, generator=gen)[: round(n * 90_941 / 169_343)].to(dev)
    ts_graph = _TorchSparseGraph.wrap(graph)
    if dev.type == "cuda":
        # Build what persists across configurations once, before the baseline: the graph's
        # operands for every dtype and impl, and cuBLAS's workspaces on both streams. Every
        # configuration's peak then counts them, and what is left over beyond is subtracted.
        for dtype in (torch.float32, torch.bfloat16):
            graph._kernel_operand(dtype)
        graph.adjacency(torch.float32)
        w = torch.randn(f, f, device=dev)
        tf32_before = torch.backends.cuda.matmul.allow_tf32
        for stream in (torch.cuda.current_stream(dev), _side_stream(dev)):
            with torch.cuda.stream(stream):
                for tf32 in (False, True):
                    torch.backends.cuda.matmul.allow_tf32 = tf32
                    (x @ w).sum()
                    with torch.autocast("cuda", dtype=torch.bfloat16):
                        (x @ w).sum()
            torch.cuda.synchronize(dev)
        torch.backends.cuda.matmul.allow_tf32 = tf32_before
        del w
    _release(dev)
    base_mem = torch.cuda.memory_allocated(dev) if dev.type == "cuda" else 0
    edge_index = graph.edge_index
    records = []
    for family, width, depth in cases:
        for impl in impls:
            for mode in modes if impl == "deepgnn" else ("fp32",):
                # Memory still held from earlier configurations (the graph's cached operands for
                # other dtypes, cuBLAS workspaces) is not this configuration's: subtract it.
                leftover = torch.cuda.memory_allocated(dev) - base_mem if dev.type == "cuda" else 0
                if impl == "pyg":
                    torch.manual_seed(seed)
                    model: nn.Module = _PyGNet(family, f, c, depth, width).to(dev)

                    def fwd(model: nn.Module = model) -> Tensor:
                        return model(edge_index, x)
                else:
                    model = deepgnn.build(
                        family, f, c, depth, width=width, activation="tanh", seed=seed
                    ).to(dev)
                    g = graph if impl == "deepgnn" else ts_graph

                    def fwd(model: nn.Module = model, g: Graph = g) -> Tensor:
                        return model(g, x)

                try:
                    res = time_step(
                        fwd,
                        list(model.parameters()),
                        y,
                        train_idx,
                        steps=steps,
                        warmup=warmup,
                        mode=mode,
                    )
                    error = None
                except torch.cuda.OutOfMemoryError:
                    res = {"step_ms": None, "peak_mem_gb": None, "loss": None}
                    error = "out of memory"
                if res["peak_mem_gb"] is not None:
                    res["peak_mem_gb"] -= leftover / GIB
                rec = {
                    "suite": "gpu-graphs" if dev.type == "cuda" else "cpu-graphs",
                    **grec,
                    "model": family,
                    "impl": impl,
                    "mode": mode,
                    "dtype": "bfloat16" if mode == "bf16" else "float32",
                    "width": width,
                    "depth": depth,
                    "num_features": f,
                    "num_classes": c,
                    "steps": steps,
                    "seed": seed,
                    **{k: res[k] for k in ("step_ms", "peak_mem_gb", "loss")},
                    "mem_leftover_subtracted_gb": leftover / GIB,
                    **({"error": error} if error else {}),
                    **env,
                }
                done += 1
                log.info(
                    "[%d/%d] %s %s width=%d depth=%d %s %s: %s",
                    done,
                    total,
                    grec["graph"],
                    family,
                    width,
                    depth,
                    impl,
                    mode,
                    error or f"{rec['step_ms']:.2f} ms",
                )
                records.append(rec)
                if on_record is not None:
                    on_record(rec)
                del model, fwd
                _release(dev)
    return records


def run_cpu(
    *,
    families: Sequence[str] = ("gcn", "resgcn"),
    depths: Sequence[int] = (2, 16, 64),
    width: int = 64,
    steps: int = 20,
    warmup: int = 3,
    rounds: int = 3,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Time deepgnn against ``backend="dgl"`` on Cora on the CPU (needs the ``dgl`` extra).

    The two backends alternate ``rounds`` times, ``steps`` timed steps each, and the median
    over all their steps is reported, so a busy machine slows both alike.
    """
    from deepgnn._dgl import import_dgl

    import_dgl()
    dev = torch.device("cpu")
    env = _environment(dev)
    ds = deepgnn.data.load("cora")
    train_idx = ds.train_mask.nonzero().flatten()
    records = []
    for family in families:
        for depth in depths:
            times: dict[str, list[float]] = {"deepgnn": [], "dgl": []}
            for _ in range(rounds):
                for impl in times:
                    model = deepgnn.build(
                        family,
                        ds.num_features,
                        ds.num_classes,
                        depth,
                        width=width,
                        activation="tanh",
                        backend="torch" if impl == "deepgnn" else "dgl",
                        seed=seed,
                    )
                    res = time_step(
                        lambda model=model: model(ds.graph, ds.x),
                        list(model.parameters()),
                        ds.y,
                        train_idx,
                        steps=steps,
                        warmup=warmup,
                    )
                    times[impl] += res["times_ms"]
            for impl, ts in times.items():
                records.append(
                    {
                        "suite": "cpu-cora",
                        "model": family,
                        "impl": impl,
                        "mode": "fp32",
                        "dtype": "float32",
                        "width": width,
                        "depth": depth,
                        "num_nodes": ds.num_nodes,
                        "num_edges": ds.graph.num_edges,
                        "steps": len(ts),
                        "seed": seed,
                        "step_ms": statistics.median(ts),
                        "peak_mem_gb": None,
                        "loss": None,
                        **env,
                    }
                )
                log.info("cora %s %s L=%d: %.2f ms", family, impl, depth, records[-1]["step_ms"])
    return records


def run(*, suite: str = "auto", steps: int = 20, quick: bool = False) -> list[dict[str, Any]]:
    """Run the CPU suite (when DGL is importable) and the GPU suite (when CUDA is available).

    Args:
        suite: ``"auto"`` (whatever this machine can run), ``"cpu"`` or ``"gpu"``.
        steps: timed steps per configuration (median reported; the GPU suite takes half as
            many, at least 5, and 3 warm-up steps, to stay within 10 minutes on one GPU).
        quick: the GPU suite's headline cases only (:data:`QUICK_GPU_CASES`).

    Raises:
        ValueError: ``suite="gpu"`` without CUDA, or an unknown suite.
        ImportError: ``suite="cpu"`` without the ``dgl`` extra.
    """
    check_choice("suite", suite, ("auto", "cpu", "gpu"))
    check_int("steps", steps, minimum=1)
    records: list[dict[str, Any]] = []
    if suite in ("auto", "cpu"):
        try:
            records += run_cpu(steps=steps)
        except ImportError as err:
            if suite == "cpu":
                raise
            log.warning("skipping the CPU suite: %s", err)
    if suite in ("auto", "gpu"):
        if torch.cuda.is_available():
            records += run_gpu(
                cases=QUICK_GPU_CASES if quick else GPU_CASES,
                modes=("fp32", "cuda_graph"),
                steps=max(5, steps // 2),
                warmup=3,
            )
        elif suite == "gpu":
            raise ValueError("suite='gpu' needs a CUDA device; use suite='cpu' on this machine")
        else:
            log.info("no CUDA device: skipping the GPU suite")
    return records


def write_results(
    records: Sequence[dict[str, Any]], out_dir: str | os.PathLike[str], *, command: str
) -> list[dict[str, Any]]:
    """Merge ``records`` into ``out_dir/benchmarks.json`` and rewrite ``benchmarks.md``.

    Records of a suite present in ``records`` replace that suite's old records; other suites
    are kept, so the CPU and the GPU suites can be run on different machines. The markdown
    also shows ``benchmarks_notes.md`` (commentary, kept by hand) and
    ``benchmarks_extra.json`` (single-kernel timings and checks) from ``out_dir`` when present.
    Both files are written atomically. Returns the merged records.
    """
    out = Path(out_dir)
    path = out / "benchmarks.json"
    old = json.loads(path.read_text()) if path.exists() else []
    suites = {r["suite"] for r in records}
    for r in records:
        r.setdefault("command", command)
    merged = [r for r in old if r["suite"] not in suites] + list(records)
    write_atomic(path, json.dumps(merged, indent=1) + "\n")
    extras_path = out / "benchmarks_extra.json"
    extras = json.loads(extras_path.read_text()) if extras_path.exists() else {}
    notes_path = out / "benchmarks_notes.md"
    notes = notes_path.read_text() if notes_path.exists() else ""
    write_atomic(out / "benchmarks.md", markdown_report(merged, extras, notes=notes))
    return merged


def _fmt(v: float | None, digits: int = 1) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def _graph_name(r: dict[str, Any]) -> str:
    # Records from before the benchmark graphs were named ran on Cora (CPU suite) or on the
    # Erdős–Rényi graph of arxiv size (GPU suite).
    return r.get("graph") or ("cora" if "cora" in r["suite"] else "er-arxiv")


def _describe_graph(r: dict[str, Any], name: str) -> str:
    gen = r.get("generator") or ("planetoid" if name == "cora" else "erdos_renyi")
    what = {"planetoid": "Cora (Planetoid)", "erdos_renyi": "Erdős–Rényi G(n, m)"}.get(
        gen, f"Chung–Lu, exponent {r.get('exponent')}"
    )
    parts = [what]
    parts += [f"{r[k]:,} {k[4:]}" for k in ("num_nodes", "num_edges") if r.get(k) is not None]
    if r.get("max_degree") is not None:
        parts.append(f"largest degree {r['max_degree']:,}")
    if r.get("order") not in (None, "shuffled"):
        parts.append(f"nodes in {r['order']} order")
    if r.get("kernel_path"):
        parts.append(f"deepgnn kernel path `{r['kernel_path']}` (chunk {r.get('kernel_chunk')})")
    return f"### {name}: " + ", ".join(parts)


def _graph_tables(rs: Sequence[dict[str, Any]], name: str) -> list[str]:
    first = rs[0]
    lines = [_describe_graph(first, name), ""]
    impls = [
        i for i in ("deepgnn", "torch_sparse", "pyg", "dgl") if any(r["impl"] == i for r in rs)
    ]
    others = [i for i in impls if i != "deepgnn"]
    modes = sorted({r["mode"] for r in rs if r["impl"] == "deepgnn"}, key=MODES.index)
    bases = [m for m in ("fp32", "cuda_graph") if m in modes]
    index = {(r["model"], r["width"], r["depth"], r["impl"], r["mode"]): r for r in rs}
    cells = sorted({(r["model"], r["width"], r["depth"]) for r in rs})
    gpu = any(r["peak_mem_gb"] is not None for r in rs) or first.get("suite", "").startswith("gpu")

    def get(cell: tuple, impl: str, mode: str = "fp32") -> dict[str, Any] | None:
        return index.get((*cell, impl, mode))

    def ms(r: dict[str, Any] | None) -> str:
        if r is not None and r.get("error"):
            return r["error"]
        return _fmt(r and r["step_ms"], 2)

    head = ["model", "width", "depth"] + [f"deepgnn {m}" for m in modes] + others
    lines += [
        "Median step time (ms):",
        "",
        "| " + " | ".join(head) + " |",
        "|---|---:|---:|" + "---:|" * (len(head) - 3),
    ]
    for cell in cells:
        row = [str(v) for v in cell]
        row += [ms(get(cell, "deepgnn", m)) for m in modes]
        row += [ms(get(cell, i)) for i in others]
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    head = ["model", "width", "depth"]
    head += [f"{i} / deepgnn {m}" for m in bases for i in others]
    if gpu:
        head += [f"{i} GiB" for i in impls]
    lines += [
        "Speed-up of deepgnn (other impl's time / deepgnn's time)"
        + (" and peak GPU memory (GiB):" if gpu else ":"),
        "",
        "| " + " | ".join(head) + " |",
        "|---|---:|---:|" + "---:|" * (len(head) - 3),
    ]
    for cell in cells:
        row = [str(v) for v in cell]
        for m in bases:
            base = get(cell, "deepgnn", m)
            for i in others:
                r = get(cell, i)
                ok = r and base and r["step_ms"] and base["step_ms"]
                ratio = r["step_ms"] / base["step_ms"] if ok else None
                row.append(_fmt(ratio, 2) + ("×" if ratio else ""))
        if gpu:
            row += [_fmt((r := get(cell, i)) and r["peak_mem_gb"], 2) for i in impls]
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    return lines


def markdown_report(
    records: Sequence[dict[str, Any]], extras: dict[str, Any] | None = None, *, notes: str = ""
) -> str:
    """Render the records as markdown: per suite and graph, step times, then ratios and memory.

    Ratios are ``other impl ms / deepgnn ms`` for the same model, width and depth, against
    deepgnn's eager ``fp32`` step and, where measured, its ``cuda_graph`` step.
    """
    lines = ["# deepgnn benchmarks", ""]
    if notes:
        lines += [notes.strip(), ""]
    for suite in sorted({r["suite"] for r in records}):
        rs = [r for r in records if r["suite"] == suite]
        first = rs[0]
        lines += [f"## {suite}", ""]
        keys = ("device", "torch", "cuda", "triton", "python", "date", "command")
        lines += [f"- {k}: `{first[k]}`" for k in keys if first.get(k)]
        lines.append("")
        names = list(dict.fromkeys(_graph_name(r) for r in rs))
        for name in names:
            lines += _graph_tables([r for r in rs if _graph_name(r) == name], name)
    if extras:
        lines += ["## Extra measurements (`benchmarks_extra.json`)", ""]
        for key, value in extras.items():
            if isinstance(value, dict):
                lines.append(f"- `{key}`:")
                lines += [f"  - `{k}`: `{json.dumps(v)}`" for k, v in value.items()]
            else:
                lines.append(f"- `{key}`: `{json.dumps(value)}`")
        lines.append("")
    return "\n".join(lines)
