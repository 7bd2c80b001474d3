"""Timing a full training step of each implementation, and the GPU and CPU suites."""

from __future__ import annotations

import datetime
import functools
import gc
import itertools
import logging
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

import deepgnn
from deepgnn._checks import check_choice, check_int
from deepgnn.bench.graphs import GIB, GRAPHS, MODES, SIZES, benchmark_graph
from deepgnn.graph import Graph
from deepgnn.models import ACTIVATIONS

__all__ = [
    "GPU_CASES",
    "PyGNet",
    "QUICK_GPU_CASES",
    "TorchSparseGraph",
    "environment",
    "host_us",
    "run",
    "run_cpu",
    "run_gpu",
    "time_step",
]

log = logging.getLogger("deepgnn.bench")


class TorchSparseGraph(Graph):
    """A :class:`Graph` whose ``spmm`` is plain ``torch.sparse.mm`` (autograd's own backward)."""

    @classmethod
    def wrap(cls, graph: Graph) -> TorchSparseGraph:
        out = cls.__new__(cls)  # a shallow copy of graph, as this class
        out.__dict__.update(graph.__dict__)
        return out

    def spmm(
        self, x: Tensor, *, bias: Tensor | None = None, activation: str = "identity"
    ) -> Tensor:
        out = torch.sparse.mm(self.adjacency(x.dtype), x)
        out = out if bias is None else out + bias
        return out if activation == "identity" else ACTIVATIONS[activation](out)


class PyGNet(nn.Module):
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


def host_us(fn: Callable[[], object], device: torch.device, n: int = 2000) -> float:
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


def environment(device: torch.device) -> dict[str, Any]:
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
    env = environment(dev)
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
    ts_graph = TorchSparseGraph.wrap(graph)
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
                    model: nn.Module = PyGNet(family, f, c, depth, width).to(dev)
                    fwd: Callable[[], Tensor] = functools.partial(model, edge_index, x)
                else:
                    model = deepgnn.build(
                        family, f, c, depth, width=width, activation="tanh", seed=seed
                    ).to(dev)
                    g = graph if impl == "deepgnn" else ts_graph
                    fwd = functools.partial(model, g, x)

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
    env = environment(dev)
    ds = deepgnn.data._load_nodes("cora", what="the CPU suite")
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
                        functools.partial(model, ds.graph, ds.x),
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
