"""The SpMM on the benchmark graphs: exactness, single-product timings by plan, training steps.

Run on a CUDA machine from the repository root:

    python benchmarks/bench_spmm.py --out results --check --spmm --steps

``--check`` compares ``Graph.spmm`` (forward with bias and tanh, backward) with torch.sparse in
float64 and float32 on every arxiv-sized benchmark graph and on a graph with isolated nodes
and one row holding most edges. ``--spmm`` times one product ``Â X`` per graph and width:
deepgnn's plan, the row-per-program kernel, the split kernel at several chunks, and
``torch.sparse.mm``, with the achieved bandwidth over the fewest bytes the product must move.
``--steps`` times full training steps (:func:`deepgnn.bench.run_gpu`) on ``--cases``
(``quick``, ``arxiv``, ``all`` or ``short``). Results go to ``OUT/bench_spmm.json``; step records to
``OUT/benchmarks_graphs.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch
from bench_gpu import bench_us, rel_err  # a sibling script: benchmarks/ is on sys.path

import deepgnn
from deepgnn import _spmm, bench

# do_bench windows of the single-product timings: 15 ms warm-up, 60 ms timed
WARMUP_MS, REP_MS = 15, 60

log = logging.getLogger("bench_spmm")
ARXIV_GRAPHS = [name for name, spec in bench.GRAPHS.items() if spec["size"] == "arxiv"]


def hub_graph(n: int = 50_000, seed: int = 0) -> deepgnn.Graph:
    """Node 0 joined to 60% of the nodes, a sparse random rest, and isolated nodes at the end."""
    rng = np.random.default_rng(seed)
    hub = rng.choice(np.arange(1, n - 1000), int(0.6 * n), replace=False)
    a, b = rng.integers(1, n - 1000, (2, n // 4))
    src = np.concatenate([np.zeros(hub.size, dtype=np.int64), a])
    dst = np.concatenate([hub, b])
    return deepgnn.Graph(np.stack([src, dst]), num_nodes=n)


def check(graph: deepgnn.Graph, name: str) -> list[dict]:
    dev = graph.device
    adj64 = graph.adjacency(torch.float64)
    adj32 = graph.adjacency(torch.float32)
    rows = []
    for d in (1, 64, 256):
        x = torch.randn(graph.num_nodes, d, device=dev, requires_grad=True)
        b = torch.randn(d, device=dev, requires_grad=True)
        w = torch.randn(graph.num_nodes, d, device=dev)
        out = graph.spmm(x, bias=b, activation="tanh")
        (out * w).sum().backward()
        x64 = x.detach().double().requires_grad_()
        b64 = b.detach().double().requires_grad_()
        ref = torch.tanh(torch.sparse.mm(adj64, x64) + b64)
        (ref * w.double()).sum().backward()
        plain = graph.spmm(x.detach())
        row = {
            "graph": name,
            "d": d,
            "path": graph.kernel_info()["path"],
            "fwd_tanh_vs_fp64": rel_err(out, ref),
            "bwd_x_vs_fp64": rel_err(x.grad, x64.grad),
            "bwd_bias_vs_fp64": rel_err(b.grad, b64.grad),
            "fwd_vs_torch_sparse_fp32": rel_err(plain, torch.sparse.mm(adj32, x.detach())),
            "finite": bool(torch.isfinite(out).all()),
        }
        errs = [v for k, v in row.items() if k.endswith(("fp64", "fp32"))]
        row["ok"] = row["finite"] and max(errs) < 1e-5
        rows.append(row)
        log.info("check %s", row)
    return rows


def spmm_times(graph: deepgnn.Graph, name: str, widths=(64, 256)) -> list[dict]:
    """One product per variant; bandwidth over col + val + crow + x once + out once."""
    dev = graph.device
    row_nnz = np.diff(graph._scipy.indptr)
    default = graph._kernel_plan()
    variants = {"plan": default, "row": _spmm.choose_plan(row_nnz, sms=1, chunk=1 << 40)}
    for chunk in (32, 128, 512):
        variants[f"split{chunk}"] = _spmm.choose_plan(row_nnz, sms=1, chunk=chunk)
    rows = []
    nnz = int(row_nnz.sum())
    for d in widths:
        x = torch.randn(graph.num_nodes, d, device=dev)
        floor_bytes = nnz * 8 + (graph.num_nodes + 1) * 4 + 2 * graph.num_nodes * d * 4
        sparse = graph.adjacency(torch.float32)
        t = bench_us(lambda x=x, sparse=sparse: torch.sparse.mm(sparse, x), REP_MS, WARMUP_MS)
        rows.append({"graph": name, "d": d, "variant": "torch.sparse.mm", "us": t})
        for vname, plan in variants.items():
            graph._plan, graph._csr_cache = plan, {}
            csr = graph._kernel_operand(torch.float32)
            if csr.path == "torch_sparse":
                continue
            t = bench_us(lambda x=x, csr=csr: _spmm._triton_spmm(csr, x, None), REP_MS, WARMUP_MS)
            rows.append(
                {
                    "graph": name,
                    "d": d,
                    "variant": vname,
                    "path": plan.path,
                    "chunk": plan.chunk,
                    "us": t,
                    "floor_bytes_per_s": floor_bytes / (t * 1e-6),
                }
            )
        graph._plan, graph._csr_cache = default, {}
        ts = next(r["us"] for r in rows if r["d"] == d and r["variant"] == "torch.sparse.mm")
        mine = [r for r in rows if r["d"] == d and r["graph"] == name and "chunk" in r]
        log.info(
            "spmm %s d=%d torch.sparse %.1f us | %s",
            name,
            d,
            ts,
            " ".join(f"{r['variant']}={r['us']:.1f}" for r in mine),
        )
    return rows


def copy_bandwidth() -> float:
    """Bytes read plus written per second by a 2 GiB device-to-device copy."""
    a = torch.empty(2**29, device="cuda")
    b = torch.empty_like(a)
    t = bench_us(lambda: b.copy_(a), 200, WARMUP_MS)
    return 2 * a.numel() * 4 / (t * 1e-6)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="results")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--spmm", action="store_true")
    ap.add_argument("--steps", action="store_true")
    ap.add_argument("--cases", default="quick", choices=["quick", "arxiv", "all", "short"])
    ap.add_argument("--step-count", type=int, default=10)
    ap.add_argument("--graphs", default=",".join(ARXIV_GRAPHS))
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stdout)
    logging.getLogger("deepgnn.bench").setLevel(logging.INFO)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    dev = torch.device("cuda")
    report: dict = {
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name(),
        "triton": __import__("triton").__version__,
    }
    path = out / "bench_spmm.json"

    def save() -> None:
        path.write_text(json.dumps(report, indent=1, default=float))

    if args.check or args.spmm:
        report["copy_bytes_per_s"] = copy_bandwidth()
        report["graphs"], report["kernel_info"] = {}, {}
        report["check"], report["spmm"] = [], []
        for name in args.graphs.split(","):
            t0 = time.perf_counter()
            graph, rec = bench.benchmark_graph(name)
            graph = graph.to(dev)
            rec["build_s"] = time.perf_counter() - t0
            report["graphs"][name] = rec
            report["kernel_info"][name] = graph.kernel_info()
            if args.check:
                report["check"] += check(graph, name)
            if args.spmm:
                report["spmm"] += spmm_times(graph, name)
            save()
        if args.check:
            hub = hub_graph().to(dev)
            report["kernel_info"]["hub"] = hub.kernel_info()
            report["check"] += check(hub, "hub")
            bad = [r for r in report["check"] if not r["ok"]]
            log.info("check: %d of %d ok", len(report["check"]) - len(bad), len(report["check"]))
            if bad:
                log.error("check FAILED: %s", bad)
        save()
    if args.steps:
        cases = {
            "quick": bench.QUICK_GPU_CASES,
            "arxiv": [c for c in bench.GPU_CASES if bench.GRAPHS[c[0]]["size"] == "arxiv"],
            "all": bench.GPU_CASES,
            # all, less resgcn on the power-law graphs other than exponent 2.1 in id order
            "short": [
                c
                for c in bench.GPU_CASES
                if c[1] == "gcn" or c[0] in ("er-arxiv", "powerlaw2.1-arxiv")
            ],
        }[args.cases]
        partial = out / "steps_partial.jsonl"
        records = bench.run_gpu(
            cases=cases,
            modes=("fp32",),
            steps=args.step_count,
            warmup=3,
            on_record=lambda r: partial.open("a").write(json.dumps(r) + "\n"),
        )
        (out / "benchmarks_graphs.json").write_text(json.dumps(records, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
