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
    "MODES",
    "run",
    "arxiv_sized_graph",
    "time_step",
    "run_gpu",
    "run_cpu",
    "write_results",
    "markdown_report",
]

log = logging.getLogger(__name__)

ARXIV_SIZE = {"num_nodes": 169_343, "num_edges": 1_166_243, "num_features": 128, "num_classes": 40}
MODES = ("fp32", "tf32", "cuda_graph", "cuda_graph_tf32", "bf16")
GIB = 2**30


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


def run_gpu(
    *,
    families: Sequence[str] = ("gcn", "resgcn"),
    widths: Sequence[int] = (64, 256),
    depths: Sequence[int] = (2, 8, 16, 32, 64),
    impls: Sequence[str] = ("deepgnn", "torch_sparse", "pyg"),
    modes: Sequence[str] = ("fp32",),
    steps: int = 20,
    warmup: int = 5,
    seed: int = 0,
    device: str = "cuda",
    sizes: dict[str, int] | None = None,
    on_record: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Time every ``family x width x depth x impl`` on the arxiv-sized random graph.

    ``modes`` other than ``fp32`` apply to ``impl="deepgnn"`` only and need CUDA. ``pyg`` is
    skipped (with a log line) when ``torch_geometric`` is not importable. ``sizes`` overrides
    :data:`ARXIV_SIZE` (smaller graphs for a smoke run); ``on_record`` sees each record as soon
    as it is measured. Returns one record per run with ``suite, model, impl, mode, dtype,
    width, depth, step_ms, peak_mem_gb, device, torch, ...``.
    """
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' but torch sees no CUDA device; pass device='cpu'")
    unknown = sorted(set(impls) - {"deepgnn", "torch_sparse", "pyg"})
    if unknown:
        raise ValueError(f"impls {unknown} unknown; choose from deepgnn, torch_sparse, pyg")
    impls = list(impls)
    if "pyg" in impls:
        try:
            import torch_geometric  # noqa: F401
        except ImportError:
            log.warning("torch_geometric is not importable: skipping impl='pyg'")
            impls.remove("pyg")
    env = _environment(dev)
    sizes = {**ARXIV_SIZE, **(sizes or {})}
    n, f, c = sizes["num_nodes"], sizes["num_features"], sizes["num_classes"]
    graph = arxiv_sized_graph(num_nodes=n, num_edges=sizes["num_edges"], seed=seed).to(dev)
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
    for family, width, depth in itertools.product(families, widths, depths):
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

                res = time_step(
                    fwd,
                    list(model.parameters()),
                    y,
                    train_idx,
                    steps=steps,
                    warmup=warmup,
                    mode=mode,
                )
                if res["peak_mem_gb"] is not None:
                    res["peak_mem_gb"] -= leftover / GIB
                rec = {
                    "suite": "gpu-arxiv" if dev.type == "cuda" else "cpu-arxiv",
                    "model": family,
                    "impl": impl,
                    "mode": mode,
                    "dtype": "bfloat16" if mode == "bf16" else "float32",
                    "width": width,
                    "depth": depth,
                    "num_nodes": n,
                    "num_edges": sizes["num_edges"],
                    "steps": steps,
                    "seed": seed,
                    **{k: res[k] for k in ("step_ms", "peak_mem_gb", "loss")},
                    "mem_leftover_subtracted_gb": leftover / GIB,
                    **env,
                }
                log.info(
                    "%s %s %s width=%d depth=%d: %.2f ms",
                    family,
                    impl,
                    mode,
                    width,
                    depth,
                    rec["step_ms"],
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


def run(*, suite: str = "auto", steps: int = 20) -> list[dict[str, Any]]:
    """Run the CPU suite (when DGL is importable) and the GPU suite (when CUDA is available).

    Args:
        suite: ``"auto"`` (whatever this machine can run), ``"cpu"`` or ``"gpu"``.
        steps: timed steps per configuration (median reported).

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
            records += run_gpu(steps=steps, modes=MODES)
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


def markdown_report(
    records: Sequence[dict[str, Any]], extras: dict[str, Any] | None = None, *, notes: str = ""
) -> str:
    """Render the records as markdown: step times per impl and mode, then ratios and memory.

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
        impls = [
            i for i in ("deepgnn", "torch_sparse", "pyg", "dgl") if any(r["impl"] == i for r in rs)
        ]
        others = [i for i in impls if i != "deepgnn"]
        modes = sorted({r["mode"] for r in rs if r["impl"] == "deepgnn"}, key=MODES.index)
        bases = [m for m in ("fp32", "cuda_graph") if m in modes]
        index = {(r["model"], r["width"], r["depth"], r["impl"], r["mode"]): r for r in rs}
        cells = sorted({(r["model"], r["width"], r["depth"]) for r in rs})
        gpu = first["peak_mem_gb"] is not None

        def get(cell: tuple, impl: str, mode: str = "fp32", index=index) -> dict[str, Any] | None:
            return index.get((*cell, impl, mode))

        head = ["model", "width", "depth"] + [f"deepgnn {m}" for m in modes] + others
        lines += [
            "Median step time (ms):",
            "",
            "| " + " | ".join(head) + " |",
            "|---|---:|---:|" + "---:|" * (len(head) - 3),
        ]
        for cell in cells:
            row = [str(v) for v in cell]
            row += [_fmt((r := get(cell, "deepgnn", m)) and r["step_ms"], 2) for m in modes]
            row += [_fmt((r := get(cell, i)) and r["step_ms"], 2) for i in others]
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
                    ratio = r["step_ms"] / base["step_ms"] if r and base else None
                    row.append(_fmt(ratio, 2) + ("×" if ratio else ""))
            if gpu:
                row += [_fmt((r := get(cell, i)) and r["peak_mem_gb"], 2) for i in impls]
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
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
