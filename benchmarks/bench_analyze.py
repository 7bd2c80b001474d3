"""Cost of ``deepgnn.analyze`` against one full training step (forward, backward, Adam).

The budget: one ``analyze`` costs at most ~1.5x one training step. Both run on the same
model (GCN, Cora, width 64, Xavier), full batch, interleaved round by round; the script
reports medians over ``--repeats`` rounds after ``--warmup`` rounds and the median of the
per-round ratios, and writes them as JSON (atomically).

    python benchmarks/bench_analyze.py --depth 64 --out benchmarks/results/analyze_cpu.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch
import torch.nn.functional as F

import deepgnn
from deepgnn._io import write_atomic


def _interleaved_seconds(fns: dict, repeats: int, warmup: int, sync) -> dict[str, list[float]]:
    """Time each function once per round, round after round, so that all see the same load."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            sync()
            start = time.perf_counter()
            fn()
            sync()
            times[name].append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=64)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--out", default="benchmarks/results/analyze_cpu.json")
    args = parser.parse_args()

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    ds = deepgnn.data.load("cora").to(device)
    model = deepgnn.build(
        "gcn", ds.num_features, ds.num_classes, args.depth, width=args.width, seed=0
    ).to(device)
    deepgnn.init.xavier_(model)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def train_step() -> None:
        model.train()
        opt.zero_grad()
        loss = F.cross_entropy(model(ds.graph, ds.x)[ds.train_mask], ds.y[ds.train_mask])
        loss.backward()
        opt.step()

    def analyze() -> None:
        deepgnn.analyze(model, ds.graph, ds.x, ds.y, mask=ds.train_mask)

    def analyze_measures() -> None:
        deepgnn.analyze(
            model, ds.graph, ds.x, ds.y, mask=ds.train_mask, measures=deepgnn.signal.MEASURES
        )

    def gev_only() -> None:  # the part analyze adds to a forward + backward
        with torch.no_grad():
            for h in model.hidden_states(ds.graph, ds.x):
                deepgnn.signal.gev(h, ds.graph)

    fns = {
        "train_step": train_step,
        "analyze": analyze,
        "analyze_measures": analyze_measures,
        "gev_all_states": gev_only,
    }
    times = _interleaved_seconds(fns, args.repeats, args.warmup, sync)
    results = {
        name: {"median_s": statistics.median(ts), "min_s": min(ts)} for name, ts in times.items()
    }
    # per-round ratios: robust to load that changes between rounds on a shared machine
    ratio = statistics.median(a / t for a, t in zip(times["analyze"], times["train_step"]))
    report = {
        "benchmark": "analyze_vs_train_step",
        "dataset": "cora",
        "family": "gcn",
        "depth": args.depth,
        "width": args.width,
        "repeats": args.repeats,
        **results,
        "ratio_analyze_to_train_step": ratio,  # median over rounds
        "ratio_analyze_measures_to_train_step": statistics.median(
            a / t for a, t in zip(times["analyze_measures"], times["train_step"])
        ),
        "device": str(device) if device.type != "cuda" else torch.cuda.get_device_name(device),
        "threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }
    write_atomic(args.out, json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
