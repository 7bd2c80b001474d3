"""GPU benchmark driver: kernel checks, kernel tuning, profile, step-time sweep, extras.

Run on a CUDA machine from the repository root:

    python benchmarks/bench_gpu.py --out results --check --tune --sweep --extras

``--check`` compares the Triton SpMM (forward, backward, bias) with torch.sparse on the
arxiv-sized graph and on Cora; ``--tune`` times kernel configurations; ``--profile`` prints a
kernel breakdown of one depth-64 step; ``--sweep`` runs :func:`deepgnn.bench.run_gpu` and
writes ``benchmarks.json`` / ``benchmarks.md``; ``--extras`` times single SpMMs, an RCM
reordering, the ``analyze`` call (when present) and checks bf16 loss curves against fp32.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import deepgnn
from deepgnn import _spmm
from deepgnn.bench import ARXIV_SIZE, _host_us, arxiv_sized_graph, run_gpu, write_results

log = logging.getLogger("bench_gpu")


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double(), b.double()
    return float((a - b).norm() / b.norm().clamp_min(1e-300))


def check(graph: deepgnn.Graph, name: str, widths=(1, 40, 64, 128, 256)) -> list[dict]:
    """Triton forward/backward (with bias) against torch.sparse in float64 (same Â)."""
    dev = graph.device
    adj64 = graph.adjacency(torch.float64)
    out = []
    for d in widths:
        for dtype in (torch.float32, torch.bfloat16):
            x = torch.randn(graph.num_nodes, d, device=dev).to(dtype).requires_grad_()
            b = torch.randn(d, device=dev).requires_grad_()
            w = torch.randn(graph.num_nodes, d, device=dev)
            y = graph.spmm(x, bias=b)
            (y.float() * w).sum().backward()
            ref = torch.sparse.mm(adj64, x.detach().double()) + b.detach().double()
            ref_gx = torch.sparse.mm(adj64, w.double())
            ref_gb = w.double().sum(0)
            row = {
                "graph": name,
                "d": d,
                "dtype": str(dtype).split(".")[-1],
                "fwd": rel_err(y, ref),
                "bwd_x": rel_err(x.grad, ref_gx),
                "bwd_bias": rel_err(b.grad, ref_gb),
                "finite": bool(torch.isfinite(y).all()),
            }
            tol = 1e-5 if dtype == torch.float32 else 1e-2
            row["ok"] = row["finite"] and max(row["fwd"], row["bwd_x"], row["bwd_bias"]) < tol
            out.append(row)
            log.info("check %s", row)
    # against float32 torch.sparse (the spec's 1e-5 comparison), d=64
    x = torch.randn(graph.num_nodes, 64, device=dev)
    e = rel_err(graph.spmm(x), torch.sparse.mm(graph.adjacency(torch.float32), x))
    out.append(
        {"graph": name, "d": 64, "dtype": "float32-vs-torch.sparse-fp32", "fwd": e, "ok": e < 1e-5}
    )
    return out


def bench_us(fn, reps: int = 50, warmup: int = 25) -> float:
    """Median microseconds of ``fn`` (``triton.testing.do_bench``: ``warmup`` then ``reps`` ms)."""
    import triton.testing

    return 1e3 * triton.testing.do_bench(fn, warmup=warmup, rep=reps, return_mode="median")


def tune(graph: deepgnn.Graph) -> list[dict]:
    """Time the SpMM kernel over (BLOCK_K, BLOCK_D, num_warps) for the widths the models use."""
    import triton

    dev = graph.device
    csr = graph._kernel_operand(torch.float32)
    default = _spmm._spmm_config
    rows = []
    try:
        for d in (40, 64, 128, 256):
            x = torch.randn(graph.num_nodes, d, device=dev)
            b = torch.randn(d, device=dev)
            ts = bench_us(lambda x=x: torch.sparse.mm(csr.sparse, x))
            rows.append({"d": d, "impl": "torch.sparse.mm", "us": ts})
            dflt = default(d)
            width = max(triton.next_power_of_2(d), 16)
            for bd in (32, 64, 128, 256):
                if bd > width or (d == 40 and bd < 64):
                    continue
                for bk in (4, 8, 16):
                    for nw in (1, 2, 4):
                        _spmm._spmm_config = lambda _d, _split=False, c=(bk, bd, nw): c
                        t = bench_us(lambda x=x, b=b: _spmm._triton_spmm(csr, x, b))
                        rows.append(
                            {
                                "d": d,
                                "impl": "triton",
                                "block_k": bk,
                                "block_d": bd,
                                "num_warps": nw,
                                "us": t,
                                "default": (bk, bd, nw) == dflt,
                            }
                        )
            _spmm._spmm_config = default
            t = bench_us(lambda x=x, b=b: _spmm._triton_spmm(csr, x, b))
            rows.append({"d": d, "impl": "triton-default", "config": dflt, "us": t})
            xb = x.bfloat16()
            tb = bench_us(lambda xb=xb, b=b: _spmm._triton_spmm(csr, xb, b))
            rows.append({"d": d, "impl": "triton-default-bf16", "config": dflt, "us": tb})
            for pps in (1, 4, 16, 64):
                for be, nw in ((2048, 4), (4096, 4), (8192, 8)):
                    tc = bench_us(
                        lambda x=x, pps=pps, be=be, nw=nw: _spmm._triton_column_sum(
                            x, programs_per_sm=pps, block_elems=be, num_warps=nw
                        )
                    )
                    rows.append(
                        {
                            "d": d,
                            "impl": "column_sum",
                            "programs_per_sm": pps,
                            "block_elems": be,
                            "num_warps": nw,
                            "us": tc,
                        }
                    )
            rows.append({"d": d, "impl": "column_sum_torch", "us": bench_us(lambda x=x: x.sum(0))})
            bestc = min(
                (r for r in rows if r["d"] == d and r["impl"] == "column_sum"),
                key=lambda r: r["us"],
            )
            log.info("column sum d=%d best %s; torch %.1f us", d, bestc, rows[-1]["us"])
            best = min(
                (r for r in rows if r["d"] == d and r["impl"] == "triton"), key=lambda r: r["us"]
            )
            log.info(
                "tune d=%d torch.sparse %.1f us; best %s; default %s %.1f us; bf16 %.1f us",
                d,
                ts,
                best,
                dflt,
                t,
                tb,
            )
    finally:
        _spmm._spmm_config = default
    return rows


def overhead() -> dict:
    """Host time per call when the device work is tiny: what launches cost on the CPU side."""
    dev = torch.device("cuda")
    g = deepgnn.Graph(torch.tensor([[0], [1]]), num_nodes=2).to(dev)
    x = torch.randn(2, 64, device=dev)
    b = torch.randn(64, device=dev)
    csr = g._kernel_operand(torch.float32)

    res = {
        "triton_spmm_launch_us": _host_us(lambda: _spmm._triton_spmm(csr, x, b), dev),
        "graph_spmm_us": _host_us(lambda: g.spmm(x, bias=b), dev),
        "torch_sparse_mm_us": _host_us(lambda: torch.sparse.mm(csr.sparse, x), dev),
        "torch_add_us": _host_us(lambda: x + b, dev),
    }
    for impl in ("deepgnn", "torch_sparse"):
        from deepgnn.bench import _TorchSparseGraph

        gg = g if impl == "deepgnn" else _TorchSparseGraph.wrap(g)
        model = deepgnn.build("gcn", 64, 4, 64, width=64, seed=0).to(dev)
        opt = torch.optim.Adam(model.parameters(), fused=True)

        def step(model=model, gg=gg, opt=opt):
            opt.zero_grad(set_to_none=True)
            model(gg, x).sum().backward()
            opt.step()

        res[f"{impl}_depth64_step_host_us"] = _host_us(step, dev, n=30)
    log.info("overhead %s", res)
    return res


def extras(graph: deepgnn.Graph, out: Path) -> dict:
    """Single SpMM times, column sum, RCM reordering, analyze timing, bf16 loss curves."""
    import scipy.sparse.csgraph as csgraph

    dev = graph.device
    res: dict = {}
    csr = graph._kernel_operand(torch.float32)
    spmm = {}
    for d in (64, 256):
        x = torch.randn(graph.num_nodes, d, device=dev)
        spmm[f"d{d}"] = {
            "triton_us": bench_us(lambda x=x: _spmm._triton_spmm(csr, x, None)),
            "torch_sparse_us": bench_us(lambda x=x: torch.sparse.mm(csr.sparse, x)),
            "column_sum_triton_us": bench_us(lambda x=x: _spmm._triton_column_sum(x)),
            "column_sum_torch_us": bench_us(lambda x=x: x.sum(0)),
        }
    res["single_op_us"] = spmm
    # Reverse Cuthill-McKee on the random graph: does locality pay for the gather?
    t0 = time.perf_counter()
    perm = csgraph.reverse_cuthill_mckee(graph.to_scipy().tocsr(), symmetric_mode=True)
    rcm_s = time.perf_counter() - t0
    inv = np.empty_like(perm)
    inv[perm] = np.arange(len(perm))
    ei = graph.edge_index.cpu().numpy()
    g2 = deepgnn.Graph(inv[ei], num_nodes=graph.num_nodes).to(dev)
    csr2 = g2._kernel_operand(torch.float32)
    x = torch.randn(graph.num_nodes, 64, device=dev)
    a = graph.to_scipy()
    bw = lambda m: int(np.abs(m.tocoo().row - m.tocoo().col).max())  # noqa: E731
    res["rcm"] = {
        "reorder_s": rcm_s,
        "bandwidth_before": bw(a),
        "bandwidth_after": bw(g2.to_scipy()),
        "spmm_d64_us_before": bench_us(lambda: _spmm._triton_spmm(csr, x, None)),
        "spmm_d64_us_after": bench_us(lambda: _spmm._triton_spmm(csr2, x, None)),
    }
    log.info("rcm %s", res["rcm"])

    def median_ms(fn) -> float:
        """Median wall time of 5 calls of ``fn``, each between synchronizations, in ms."""
        ts = []
        for _ in range(5):
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            fn()
            torch.cuda.synchronize()
            ts.append((time.perf_counter() - t0) * 1e3)
        return statistics.median(ts)

    # analyze at depth 64, width 64, when the signal module exists
    analyze = getattr(getattr(deepgnn, "signal", None), "analyze", None)
    n, f, c = ARXIV_SIZE["num_nodes"], ARXIV_SIZE["num_features"], ARXIV_SIZE["num_classes"]
    gen = torch.Generator().manual_seed(0)
    xa = torch.randn(n, f, generator=gen).to(dev)
    ya = torch.randint(0, c, (n,), generator=gen).to(dev)
    if analyze is not None:
        model = deepgnn.build("gcn", f, c, 64, width=64, activation="tanh", seed=0).to(dev)
        analyze(model, graph, xa, ya)
        res["analyze_depth64_width64_ms"] = median_ms(lambda: analyze(model, graph, xa, ya))
    else:
        res["analyze_depth64_width64_ms"] = "deepgnn.signal.analyze not present in this build"
    terms = getattr(getattr(deepgnn, "signal", None), "_signal_terms", None)
    objective = getattr(getattr(deepgnn, "signal", None), "objective", None)
    if terms is not None and objective is not None:
        # One evaluation as a search makes it: one forward and backward pass, GEV of X and h_L.
        model = deepgnn.build("gcn", f, c, 64, width=64, activation="tanh", seed=0).to(dev)

        def evaluate(model=model) -> float:
            return float(objective(terms(model, graph, xa, ya, all_gev=False)))

        evaluate()
        res["spoginit_objective_depth64_width64_ms"] = median_ms(evaluate)
    else:
        res["spoginit_objective_depth64_width64_ms"] = "no SPoGInit objective in this build"
    res["bf16_vs_fp32"] = bf16_curves(graph, xa, ya)
    return res


def train_curve(
    model, graph, x, y, idx, *, steps: int, bf16: bool, lr: float = 0.01
) -> list[float]:
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(model(graph, x)[idx], y[idx])
        loss.backward()
        opt.step()
        losses.append(float(loss))
    return losses


def bf16_curves(graph, x, y) -> dict:
    """Loss curves of bf16 autocast against fp32 from the same init: Cora and the random graph."""
    dev = graph.device
    ds = deepgnn.data.load("cora").to(dev)
    cases = {
        "cora_gcn_depth8_width64": (
            ds.graph,
            ds.x,
            ds.y,
            ds.train_mask.nonzero().flatten(),
            ds.num_features,
            ds.num_classes,
            8,
            200,
        ),
        "arxiv_sized_gcn_depth8_width64": (
            graph,
            x,
            y,
            torch.arange(0, graph.num_nodes, 2, device=dev),
            x.shape[1],
            int(y.max()) + 1,
            8,
            100,
        ),
    }
    out = {}
    for name, (g, xx, yy, idx, fin, c, depth, steps) in cases.items():
        curves = {}
        for bf16 in (False, True):
            model = deepgnn.build("gcn", fin, c, depth, width=64, activation="tanh", seed=0).to(dev)
            curves["bf16" if bf16 else "fp32"] = train_curve(
                model, g, xx, yy, idx, steps=steps, bf16=bf16
            )
        a, b = np.array(curves["fp32"]), np.array(curves["bf16"])
        out[name] = {
            "steps": steps,
            "fp32_loss_first_last": [a[0], a[-1]],
            "bf16_loss_first_last": [b[0], b[-1]],
            "max_abs_diff": float(np.abs(a - b).max()),
            "max_rel_diff": float((np.abs(a - b) / a).max()),
            "fp32_every10": a[::10].round(4).tolist(),
            "bf16_every10": b[::10].round(4).tolist(),
        }
        log.info("bf16 %s %s", name, {k: v for k, v in out[name].items() if "every" not in k})
    return out


def profile(graph: deepgnn.Graph, family: str = "gcn", width: int = 64, depth: int = 64) -> str:
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as prof

    dev = graph.device
    n, f, c = ARXIV_SIZE["num_nodes"], ARXIV_SIZE["num_features"], ARXIV_SIZE["num_classes"]
    x = torch.randn(n, f, device=dev)
    y = torch.randint(0, c, (n,), device=dev)
    model = deepgnn.build(family, f, c, depth, width=width, activation="tanh", seed=0).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(graph, x), y).backward()
        opt.step()

    for _ in range(3):
        step()
    torch.cuda.synchronize()
    with prof(activities=[ProfilerActivity.CUDA]) as p:
        for _ in range(3):
            step()
        torch.cuda.synchronize()
    return p.key_averages().table(sort_by="cuda_time_total", row_limit=18, max_name_column_width=60)


def _append_jsonl(path: Path, rec: dict) -> None:
    with path.open("a") as fh:  # partial results survive a run cut off at its time limit
        fh.write(json.dumps(rec) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="results")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--tune", action="store_true")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--sweep", action="store_true")
    ap.add_argument("--extras", action="store_true")
    ap.add_argument("--depths", default="2,8,16,32,64")
    ap.add_argument("--widths", default="64,256")
    ap.add_argument("--families", default="gcn,resgcn")
    ap.add_argument("--impls", default="deepgnn,torch_sparse,pyg")
    ap.add_argument("--modes", default="fp32,tf32,cuda_graph,bf16")
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stdout)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    dev = torch.device("cuda")
    log.info(
        "torch %s cuda %s %s", torch.__version__, torch.version.cuda, torch.cuda.get_device_name()
    )
    graph = arxiv_sized_graph().to(dev)
    assert graph.num_edges == ARXIV_SIZE["num_edges"], graph
    report: dict = {}
    if args.check:
        rows = check(graph, "arxiv_sized") + check(deepgnn.data.load("cora").graph.to(dev), "cora")
        report["check"] = rows
        bad = [r for r in rows if not r["ok"]]
        log.info("check: %d of %d ok", len(rows) - len(bad), len(rows))
        if bad:
            log.error("check FAILED: %s", bad)
    if args.tune:
        report["overhead"] = overhead()
        report["tune"] = tune(graph)
    if args.profile:
        table = profile(graph)
        (out / "profile.txt").write_text(table)
        print(table)
    if args.extras:
        report["extras"] = extras(graph, out)
        (out / "benchmarks_extra.json").write_text(
            json.dumps(report["extras"], indent=1, default=float)
        )
    if report:
        (out / "gpu_report.json").write_text(json.dumps(report, indent=1, default=float))
    if args.sweep:
        ints = lambda s: [int(v) for v in s.split(",")]  # noqa: E731
        records = run_gpu(
            families=args.families.split(","),
            widths=ints(args.widths),
            depths=ints(args.depths),
            impls=args.impls.split(","),
            modes=args.modes.split(","),
            steps=args.steps,
            on_record=lambda rec: _append_jsonl(out / "sweep_partial.jsonl", rec),
        )
        cmd = "python benchmarks/bench_gpu.py " + " ".join(
            argv if argv is not None else sys.argv[1:]
        )
        write_results(records, out, command=cmd)
        print((out / "benchmarks.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
