"""Activation memory and step time against depth: resgcn plain, checkpointed, and revgcn.

Per depth, the three models (width 64, ReLU) train one after another on one cSBM graph
(:func:`deepgnn.data.csbm`): the bytes autograd saves during one forward
(``deepgnn.bench.memory.saved_tensor_bytes``), the median step time (forward, cross-entropy,
backward, Adam) and, on CUDA, the peak memory of the timed steps, each with its ratio to the
plain resgcn measured in the same run. Writes the JSON and a markdown table (both atomically).

    python benchmarks/bench_memory.py --threads 1 \\
        --out benchmarks/results/memory_depth_cpu.json --md results/memory_depth_cpu.md
    python benchmarks/bench_memory.py --device cuda --num-nodes 169343 --steps 5 \\
        --out benchmarks/results/memory_depth_cuda.json --md results/memory_depth_cuda.md
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time

import torch

import deepgnn
from deepgnn._io import write_atomic
from deepgnn.bench.memory import VARIANTS, run_memory


def _table(records: list[dict], command: str, seconds: float, load: list[float]) -> str:
    r0 = records[0]
    peak = r0["peak_mem_gb"] is not None
    lines = [
        "# Activation memory against depth",
        "",
        f"cSBM graph, {r0['num_nodes']:,} nodes, {r0['num_edges']:,} edges; width {r0['width']},"
        f" ReLU, float32; {r0['device']}, torch {r0['torch']}, {r0['date']}. "
        f"`saved` is what autograd holds for backward after one forward (distinct storages, "
        f"parameters left out); `x` columns are ratios to the plain `resgcn` of the same depth "
        f"in the same run. Step: forward, cross-entropy, backward, Adam; median of "
        f"{r0['steps']} timed steps. Whole run: {seconds:.0f} s; load average (1 min) "
        f"{load[0]:.1f} before and {load[1]:.1f} after, on {os.cpu_count()} cores.",
        "",
        "Saved bytes are what stays allocated from forward to backward, not the peak: during "
        "backward a checkpointed segment's activations (about sqrt(depth) layers) and one "
        "reversible group update's are live again; on CUDA the `peak` columns measure that.",
        "",
        "```",
        command,
        "```",
        "",
        "| depth | variant | layer weights | saved MB | saved x | step ms | step x"
        + (" | peak GB | peak x |" if peak else " |"),
        "|---|---|---|---|---|---|---" + ("|---|---|" if peak else "|"),
    ]
    for r in records:
        row = (
            f"| {r['depth']} | {r['variant']} | {r['layer_weights']} | {r['saved_mb']:.1f} | "
            f"{r['saved_ratio']:.3f} | {r['step_ms']:.1f} | {r['step_ratio']:.2f}"
        )
        if peak:
            row += f" | {r['peak_mem_gb']:.3f} | {r['peak_ratio']:.3f}"
        lines.append(row + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depths", type=int, nargs="+", default=[16, 64, 256, 1024])
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--num-nodes", type=int, default=5000)
    parser.add_argument("--avg-degree", type=float, default=10.0)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--out", default="benchmarks/results/memory_depth_cpu.json")
    parser.add_argument("--md", default=None, help="also write the markdown table here")
    args = parser.parse_args()

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    ds = deepgnn.data.csbm(num_nodes=args.num_nodes, avg_degree=args.avg_degree, seed=0)
    load = [os.getloadavg()[0]]
    t0 = time.perf_counter()
    records = run_memory(
        ds,
        depths=args.depths,
        width=args.width,
        variants=args.variants,
        steps=args.steps,
        warmup=args.warmup,
        device=args.device,
    )
    seconds = time.perf_counter() - t0
    load.append(os.getloadavg()[0])
    report = {
        "benchmark": "memory_vs_depth",
        "command": command,
        "dataset": "csbm",
        "seconds": seconds,
        "threads": torch.get_num_threads(),
        "load_average_1min": {"before": load[0], "after": load[1], "cores": os.cpu_count()},
        "records": records,
    }
    write_atomic(args.out, json.dumps(report, indent=2) + "\n")
    if args.md:
        write_atomic(args.md, _table(records, command, seconds, load))
    for r in records:
        print(
            f"L={r['depth']:5d} {r['variant']:18s} saved {r['saved_mb']:9.1f} MB "
            f"(x{r['saved_ratio']:.3f})  {r['step_ms']:9.1f} ms (x{r['step_ratio']:.2f})"
        )


if __name__ == "__main__":
    main()
