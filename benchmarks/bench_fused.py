"""What the fused activation and CUDA-graph training save, and what bounds a deep GCN step.

Run on a CUDA machine from the repository root:

    python benchmarks/bench_fused.py --out results

* ``ab``: a depth-64 tanh ``gcn`` step (forward, loss, backward, Adam) on the arxiv-sized
  random graph, with the activation fused into the SpMM (the models' path) and as a separate
  op (the path before fusion, forced here by emptying the models' list of fusable
  activations), eager and as a CUDA graph, side by side in one process;
* ``host``: host time per call and per depth-64 step when the device has nothing to do (a
  2-node graph), fused, unfused and plain ``torch.sparse``;
* ``floor``: the single operations of one width-256 layer timed alone (GEMMs, SpMMs, the
  activation's backward pass), times 64, against the measured step;
* ``train``: ``train_node`` on Cora, depth-64 tanh GCN, eager against ``cuda_graph=True``;
* ``profile_w64`` / ``profile_w256``: the kernels of one depth-64 step, by device time.

``--smoke`` runs the same code on the CPU on a small graph (a check of the script only).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import logging
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
import torch.nn.functional as F

import deepgnn
import deepgnn.models._base as models_base
from deepgnn import _spmm
from deepgnn.bench import (
    ARXIV_SIZE,
    _host_us,
    _TorchSparseGraph,
    arxiv_sized_graph,
    time_step,
)

log = logging.getLogger("bench_fused")


@contextlib.contextmanager
def unfused() -> Iterator[None]:
    """Models apply the activation as its own op, as before the fusion (the same function)."""
    saved = models_base.SPMM_ACTIVATIONS
    models_base.SPMM_ACTIVATIONS = ("identity",)
    try:
        yield
    finally:
        models_base.SPMM_ACTIVATIONS = saved


def op_us(fn: Callable[[], object], dev: torch.device) -> float:
    """Median device time of ``fn`` in microseconds (L2 flushed on CUDA)."""
    if dev.type == "cuda":
        import triton.testing

        return 1e3 * triton.testing.do_bench(fn, warmup=25, rep=100, return_mode="median")
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e6)
    return statistics.median(times)


def release(dev: torch.device) -> None:
    gc.collect()
    if dev.type == "cuda":
        torch.cuda.empty_cache()


def ab(graph, x, y, idx, *, widths, modes, repeats, steps) -> list[dict]:
    dev = x.device
    rows = []
    for width in widths:
        for mode in modes:
            for rep in range(repeats if mode == "fp32" and width == 64 else 1):
                for variant in ("fused", "unfused"):
                    ctx = unfused() if variant == "unfused" else contextlib.nullcontext()
                    with ctx:
                        model = deepgnn.build(
                            "gcn", x.shape[1], int(y.max()) + 1, 64, width=width, seed=0
                        ).to(dev)
                        res = time_step(
                            lambda model=model: model(graph, x),
                            list(model.parameters()),
                            y,
                            idx,
                            steps=steps,
                            mode=mode,
                        )
                    row = {
                        "width": width,
                        "mode": mode,
                        "repeat": rep,
                        "variant": variant,
                        "step_ms": res["step_ms"],
                        "min_ms": min(res["times_ms"]),
                        "max_ms": max(res["times_ms"]),
                        "peak_mem_gb": res["peak_mem_gb"],
                        "loss": res["loss"],
                    }
                    log.info("ab %s", row)
                    rows.append(row)
                    del model
                    release(dev)
    return rows


def host(dev: torch.device) -> dict:
    """Host time when the device work is negligible: per call, and per depth-64 step."""
    g = deepgnn.Graph(torch.tensor([[0], [1]]), num_nodes=2).to(dev)
    x = torch.randn(2, 64, device=dev)
    b = torch.randn(64, device=dev)
    csr = g._kernel_operand(torch.float32)

    res = {
        "graph_spmm_us": _host_us(lambda: g.spmm(x, bias=b), dev),
        "graph_spmm_tanh_us": _host_us(lambda: g.spmm(x, bias=b, activation="tanh"), dev),
        "kernel_spmm_us": _host_us(lambda: _spmm._spmm(csr, x, b, "tanh"), dev),
        "torch_sparse_mm_us": _host_us(lambda: torch.sparse.mm(csr.sparse, x), dev),
        "torch_tanh_us": _host_us(lambda: torch.tanh(x), dev),
    }
    if dev.type == "cuda":
        res["triton_act_backward_us"] = _host_us(
            lambda: _spmm._triton_act_backward(x, x, "tanh", True), dev
        )
    for impl in ("fused", "unfused", "torch_sparse"):
        gg = _TorchSparseGraph.wrap(g) if impl == "torch_sparse" else g
        ctx = unfused() if impl == "unfused" else contextlib.nullcontext()
        with ctx:
            model = deepgnn.build("gcn", 64, 4, 64, width=64, seed=0).to(dev)
            opt = torch.optim.Adam(model.parameters(), fused=dev.type == "cuda")

            def step(model=model, gg=gg, opt=opt):
                opt.zero_grad(set_to_none=True)
                model(gg, x).sum().backward()
                opt.step()

            reps = [_host_us(step, dev, n=30) / 1e3 for _ in range(5)]
        res[f"{impl}_depth64_step_host_ms"] = statistics.median(reps)
        res[f"{impl}_depth64_step_host_ms_all"] = reps
    log.info("host %s", res)
    return res


def floor(graph, width: int, step_ms: dict[str, float]) -> dict:
    """Each operation of one hidden ``width -> width`` layer alone, and 64 times their sum."""
    dev = graph.device
    n = graph.num_nodes
    csr = graph._kernel_operand(torch.float32)
    h = torch.randn(n, width, device=dev)
    w = torch.randn(width, width, device=dev) / width**0.5
    gr = torch.randn(n, width, device=dev)
    yv = torch.tanh(torch.randn(n, width, device=dev))
    b = torch.randn(width, device=dev)
    old = torch.backends.cuda.matmul.allow_tf32
    ops = {}
    try:
        for tf32 in (False, True):
            torch.backends.cuda.matmul.allow_tf32 = tf32
            tag = "tf32" if tf32 else "fp32"
            ops[f"gemm_forward_{tag}"] = op_us(lambda: F.linear(h, w), dev)  # h W^T
            ops[f"gemm_grad_input_{tag}"] = op_us(lambda: gr @ w, dev)  # G' W
            ops[f"gemm_grad_weight_{tag}"] = op_us(lambda: gr.t() @ h, dev)  # G'^T h
    finally:
        torch.backends.cuda.matmul.allow_tf32 = old
    ops["spmm_bias_tanh"] = op_us(lambda: _spmm._spmm(csr, h, b, "tanh"), dev)
    ops["spmm_plain"] = op_us(lambda: _spmm._spmm(csr, gr, None, "identity"), dev)
    if dev.type == "cuda":
        ops["act_backward_colsum"] = op_us(
            lambda: _spmm._triton_act_backward(gr, yv, "tanh", True), dev
        )
    else:
        ops["act_backward_colsum"] = op_us(lambda: _spmm._act_grad(gr, yv, "tanh").sum(0), dev)
    ops["tanh_separate"] = op_us(lambda: torch.tanh(h), dev)
    ops["copy_bytes_per_us"] = None
    if dev.type == "cuda":
        big = torch.empty(256 * 2**20, dtype=torch.uint8, device=dev)
        dst = torch.empty_like(big)
        us = op_us(lambda: dst.copy_(big), dev)
        ops["copy_bytes_per_us"] = 2 * big.numel() / us  # read + write
    gemm = sum(ops[f"gemm_{k}_fp32"] for k in ("forward", "grad_input", "grad_weight"))
    gemm_tf32 = sum(ops[f"gemm_{k}_tf32"] for k in ("forward", "grad_input", "grad_weight"))
    spmm = ops["spmm_bias_tanh"] + ops["spmm_plain"]
    per_layer = gemm + spmm + ops["act_backward_colsum"]
    flops = 3 * 2 * n * width * width
    res = {
        "width": width,
        "ops_us": ops,
        "gemm_fp32_tflops": flops / gemm / 1e6,
        "gemm_tf32_tflops": flops / gemm_tf32 / 1e6,
        "per_layer_us": {
            "gemm_fp32": gemm,
            "gemm_tf32": gemm_tf32,
            "spmm": spmm,
            "act_backward": ops["act_backward_colsum"],
            "total_fp32": per_layer,
        },
        "depth64_floor_ms_fp32": 64 * per_layer / 1e3,
        "depth64_floor_ms_tf32": 64 * (per_layer - gemm + gemm_tf32) / 1e3,
        "depth64_gemm_ms_fp32": 64 * gemm / 1e3,
        "depth64_spmm_ms": 64 * spmm / 1e3,
        "measured_step_ms": step_ms,
    }
    log.info("floor %s", res)
    return res


def train(dev: torch.device, epochs: int) -> dict:
    """``train_node`` on Cora, tanh GCN of depth 64, eager against ``cuda_graph=True``."""
    from deepgnn.train import train_node

    ds = deepgnn.data.load("cora")
    res = {}
    logs = {}
    for cuda_graph in (False, True) if dev.type == "cuda" else (False,):
        model = deepgnn.build("gcn", ds.num_features, ds.num_classes, 64, width=64, seed=0)
        t0 = time.perf_counter()
        r = train_node(
            model, ds, epochs=epochs, patience=None, device=dev, seed=0, cuda_graph=cuda_graph
        )
        key = "cuda_graph" if cuda_graph else "eager"
        res[key] = {
            "seconds": time.perf_counter() - t0,
            "loop_seconds": r.seconds,
            "ms_per_epoch": 1e3 * r.seconds / r.epochs,
            "test": r.test,
            "best_epoch": r.best_epoch,
        }
        logs[key] = r.log["loss"].to_numpy()
    if len(logs) == 2:
        a, b = logs["eager"], logs["cuda_graph"]
        res["max_rel_loss_diff"] = float(abs(a - b).max() / abs(a).max())
    log.info("train %s", res)
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="results")
    ap.add_argument("--smoke", action="store_true", help="CPU, small graph: checks the script")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--parts", default="ab,host,floor,train,profile")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stdout)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    parts = args.parts.split(",")
    dev = torch.device("cpu" if args.smoke else "cuda")
    sizes = dict(ARXIV_SIZE)
    if args.smoke:
        sizes.update(num_nodes=2000, num_edges=10000)
    report: dict = {
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.machine(),
        "command": "python benchmarks/bench_fused.py " + " ".join(argv or sys.argv[1:]),
    }
    graph = arxiv_sized_graph(num_nodes=sizes["num_nodes"], num_edges=sizes["num_edges"]).to(dev)
    gen = torch.Generator().manual_seed(0)
    n, f, c = sizes["num_nodes"], sizes["num_features"], sizes["num_classes"]
    x = torch.randn(n, f, generator=gen).to(dev)
    y = torch.randint(0, c, (n,), generator=gen).to(dev)
    idx = torch.randperm(n, generator=gen)[: round(n * 90_941 / 169_343)].to(dev)

    def save() -> None:
        (out / "fused_report.json").write_text(json.dumps(report, indent=1, default=float))

    modes = ("fp32", "cuda_graph") if dev.type == "cuda" else ("fp32",)
    if "ab" in parts:
        report["ab"] = ab(
            graph, x, y, idx, widths=(64, 256), modes=modes, repeats=3, steps=args.steps
        )
        save()
    if "host" in parts:
        report["host"] = host(dev)
        save()
    if "floor" in parts:
        measured = {
            f"{r['variant']}_{r['mode']}": r["step_ms"]
            for r in report.get("ab", [])
            if r["width"] == 256 and r["repeat"] == 0
        }
        report["floor"] = floor(graph, 256, measured)
        report["floor_w64"] = floor(graph, 64, {})
        save()
    if "train" in parts:
        report["train"] = train(dev, epochs=20 if args.smoke else 200)
        save()
    if "profile" in parts and dev.type == "cuda":
        sys.path.insert(0, str(Path(__file__).parent))
        from bench_gpu import profile

        for width in (64, 256):
            table = profile(graph, width=width)
            (out / f"profile_w{width}.txt").write_text(table)
            print(table)
    save()
    print(json.dumps({k: v for k, v in report.items() if k != "ab"}, indent=1, default=float))
    for r in report.get("ab", []):
        print(
            f"ab w={r['width']} {r['mode']:10s} rep={r['repeat']} {r['variant']:8s} "
            f"{r['step_ms']:8.2f} ms (min {r['min_ms']:.2f}, max {r['max_ms']:.2f}) "
            f"peak {r['peak_mem_gb'] or 0:.2f} GiB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
