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
``deepgnn.bench``'s graphs of ogbn-arxiv size, from which docs/scaling.md estimates GPU steps.
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
    for key in ("er-arxiv", "powerlaw2.1-arxiv"):
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
                        "halo_rows_max": int(table["halo_rows"].max()),
                        "halo_rows_mean": float(table["halo_rows"].mean()),
                        "send_rows_max": int(table["send_rows"].max()),
                        "send_rows_mean": float(table["send_rows"].mean()),
                    }
                )
                print(rows[-1], flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("results/distributed_cpu.json"))
    p.add_argument("--ranks", type=int, nargs="+", default=[2, 4])
    p.add_argument("--sizes", action="store_true", help="add the arxiv-sized graphs' halos")
    args = p.parse_args()
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
