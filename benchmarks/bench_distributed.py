"""Halo traffic of a DistributedGraph: bytes each rank sends per layer, forward and backward.

Run from the repository root (CPU, gloo; ``pip install pymetis`` adds the METIS rows):

    python benchmarks/bench_distributed.py --out results/distributed_cpu.json

For Cora and a cSBM graph (10,000 nodes, mean degree 10: ``deepgnn.data.load("csbm")``), over
2 and 4 gloo ranks and every partition method, each rank counts the bytes its exchanges put on
the wire (``DistributedGraph.traffic()``) for

* one layer: ``graph.spmm`` of a ``(rows, 64)`` float32 tensor, forward and backward;
* one training step of a depth-4, width-64 ``gcn`` (forward, loss over the global training
  mask, backward, gradient all-reduce; the all-reduce's bytes are not halo traffic and are
  not counted).

``--sizes`` adds the partition statistics (halo rows per rank, no processes) of
``deepgnn.bench``'s graphs of ogbn-arxiv and ogbn-products size; ``--estimate RECORD`` turns
them into the expected H200 step times of docs/scaling.md (a model, stated there; no GPU).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import deepgnn
from deepgnn import distributed as dgd

WIDTH = 64
METHODS = [m for m in dgd.METHODS if m != "metis" or importlib.util.find_spec("pymetis")]


def _worker(rank: int, world_size: int, store: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world_size)
    rows = []
    for name in ("cora", "csbm"):
        ds = deepgnn.data.load(name)
        g = ds.graph
        for method in METHODS:
            t0 = time.perf_counter()
            part = dgd.partition(g, world_size, method=method)
            seconds = time.perf_counter() - t0
            dg = dgd.DistributedGraph(g, part)
            x = torch.randn(dg.num_nodes, WIDTH, requires_grad=True)
            dg.reset_traffic()
            dg.spmm(x).sum().backward()
            layer = dg.traffic()
            torch.manual_seed(0)
            model = deepgnn.build("gcn", ds.num_features, ds.num_classes, depth=4, width=WIDTH)
            dgd.broadcast_parameters_(model, dg)
            dg.reset_traffic()
            share = dgd.cross_entropy(
                model(dg, dg.local(ds.x)), dg.local(ds.y), dg.local(ds.train_mask), dg
            )
            share.backward()
            dgd.all_reduce_gradients_(model, dg)
            step = dg.traffic()
            rows.append(
                {
                    "graph": name,
                    "num_nodes": g.num_nodes,
                    "ranks": world_size,
                    "method": method,
                    "partition_s": round(seconds, 3),
                    "cut_edges": part.cut_edges,
                    "rank": rank,
                    "rows": dg.num_nodes,
                    "halo_rows": int(sum(dg.recv_counts)),
                    "send_rows": int(sum(dg.send_counts)),
                    "layer_fwd_bytes_sent": layer["forward_bytes_sent"],
                    "layer_bwd_bytes_sent": layer["backward_bytes_sent"],
                    "layer_fwd_bytes_received": layer["forward_bytes_received"],
                    "layer_bwd_bytes_received": layer["backward_bytes_received"],
                    "step_fwd_bytes_sent": step["forward_bytes_sent"],
                    "step_bwd_bytes_sent": step["backward_bytes_sent"],
                    "step_exchanges": step["forward_exchanges"] + step["backward_exchanges"],
                }
            )
    torch.save(rows, os.path.join(out_dir, f"rank{rank}.pt"))
    dist.destroy_process_group()


def measure(world_sizes: list[int]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for world_size in world_sizes:
        with tempfile.TemporaryDirectory() as tmp:
            store = os.path.join(tmp, "store")
            mp.spawn(_worker, args=(world_size, store, tmp), nprocs=world_size)
            for r in range(world_size):
                rows += torch.load(os.path.join(tmp, f"rank{r}.pt"))
    return rows


def sizes(world_sizes: list[int]) -> list[dict[str, Any]]:
    """Partition statistics of the arxiv-sized benchmark graphs (no processes, no traffic)."""
    from deepgnn.bench import benchmark_graph

    rows = []
    for key in ("er-arxiv", "powerlaw2.1-arxiv", "powerlaw2.1-products"):
        g, _ = benchmark_graph(key)
        for world_size in world_sizes:
            for method in METHODS:
                t0 = time.perf_counter()
                table = dgd.partition(g, world_size, method=method).table()
                seconds = time.perf_counter() - t0
                rows.append(
                    {
                        "graph": key,
                        "num_nodes": g.num_nodes,
                        "ranks": world_size,
                        "method": method,
                        "partition_s": round(seconds, 2),
                        "cut_edges": table.attrs["cut_edges"],
                        "rows_max": int(table["rows"].max()),
                        "nnz_max": int(table["nnz"].max()),
                        "nnz_total": int(table["nnz"].sum()),
                        "halo_rows_max": int(table["halo_rows"].max()),
                        "halo_rows_mean": float(table["halo_rows"].mean()),
                        "send_rows_max": int(table["send_rows"].max()),
                        "send_rows_mean": float(table["send_rows"].mean()),
                    }
                )
                print(rows[-1], flush=True)
    return rows


#: Single-H200 step times (ms) from results/benchmarks.md (fp32, fused, gcn width 64), with the
#: depth they were measured at.
H200_STEP_MS = {
    "er-arxiv": (30.34, 64),
    "powerlaw2.1-arxiv": (43.70, 64),
    "powerlaw2.1-products": (159.84, 16),
}
#: NVLink 4 on an H200: 900 GB/s per GPU both directions together, 450 GB/s each way; NCCL's
#: all-to-all is assumed to reach 70% of that for messages of megabytes, after a fixed cost
#: per call (launch and synchronization) of 25 us. Both are assumptions, not measurements.
LINK_BYTES_PER_S = 0.7 * 450e9
CALL_S = 25e-6
#: Host time of a depth-64 fused gcn step with nothing for the device to do (H100 host,
#: results/benchmarks.md): a floor that more GPUs do not lower. Scaled by depth for others.
HOST_MS_DEPTH64 = 24.9


def estimate(sizes_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Expected step time on k H200s from the one-GPU step and the measured halo (see docs)."""
    out = []
    for r in sizes_rows:
        step_ms, depth = H200_STEP_MS[r["graph"]]
        n = r["num_nodes"]
        nnz_total = r["nnz_total"]
        # Device work of the busiest rank: its share of rows (GEMMs, activations) or of
        # nonzeros (SpMM), whichever is larger.
        share = max(r["rows_max"] / n, r["nnz_max"] / nnz_total)
        compute_ms = step_ms * share
        fwd = CALL_S + r["send_rows_max"] * WIDTH * 4 / LINK_BYTES_PER_S
        bwd = CALL_S + r["halo_rows_max"] * WIDTH * 4 / LINK_BYTES_PER_S
        comm_ms = depth * (fwd + bwd) * 1e3
        host_ms = HOST_MS_DEPTH64 * depth / 64 + depth * 2 * CALL_S * 1e3
        total = max(compute_ms + comm_ms, host_ms)
        out.append(
            {
                **{key: r[key] for key in ("graph", "ranks", "method")},
                "depth": depth,
                "one_gpu_ms": step_ms,
                "compute_ms": round(compute_ms, 2),
                "halo_mb_per_layer": round(
                    (r["send_rows_max"] + r["halo_rows_max"]) * WIDTH * 4 / 1e6, 2
                ),
                "comm_ms": round(comm_ms, 2),
                "host_floor_ms": round(host_ms, 2),
                "step_ms": round(total, 2),
                "speedup": round(step_ms / total, 2),
            }
        )
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("results/distributed_cpu.json"))
    p.add_argument("--ranks", type=int, nargs="+", default=[2, 4])
    p.add_argument("--sizes", action="store_true", help="add the arxiv-sized graphs' halos")
    p.add_argument(
        "--estimate",
        type=Path,
        help="print the expected H200 step times from the 'sizes' of this record and exit",
    )
    args = p.parse_args()
    if args.estimate:
        rows = json.loads(args.estimate.read_text())["sizes"]
        for row in estimate(rows):
            print(json.dumps(row))
        return
    record: dict[str, Any] = {
        "what": "halo bytes per rank: one width-64 float32 layer and one depth-4 gcn step",
        "torch": torch.__version__,
        "deepgnn": deepgnn.__version__,
        "machine": platform.platform(),
        "backend": "gloo",
        "width": WIDTH,
        "methods": METHODS,
        "rows": measure(args.ranks),
    }
    if args.sizes:
        record["sizes"] = sizes([2, 4, 8])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1))
    os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
