"""Training precision: step time, peak memory and accuracy of fp32, tf32 and bf16.

For each family and depth (default: tanh ``gcn`` and ``resgcn``, depth 64, width 256, on the
arxiv stand-in ``arxiv-sbm``) and each precision of ``train_node(precision=...)`` (``fp32``,
``tf32`` on CUDA only, ``bf16``): the median time of a training step (forward, cross-entropy,
backward, Adam) over ``--steps`` steps after ``--warmup`` untimed ones, computed as
``train_node`` computes it (the same autocast and TF32 switches), the device synchronized
around each step on CUDA, and the peak device memory of the timed steps (CUDA; none on the
CPU); then one training run of ``--epochs`` epochs with ``train_node(precision=...)`` (seed 0,
``--protocol``) and its best training, validation and test accuracy. Ratios are against
``fp32`` of the same family, depth and run. Writes ``OUT.json`` and ``OUT.md``.

    python benchmarks/bench_precision.py --device cuda --out results/precision_cuda
    python benchmarks/bench_precision.py --quick --out /tmp/precision  # Cora, tiny, CPU

SPoGInit's search and the signal analysis are not timed: they run in float32 whatever the
run's precision is.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import statistics
import sys
import time
from typing import Any

import torch
import torch.nn.functional as F

import deepgnn
from deepgnn._io import write_atomic
from deepgnn.train import PRECISIONS, train_node
from deepgnn.train._precision import forward_precision, full_precision, run_precision


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def time_steps(
    model: Any, ds: Any, precision: str, steps: int, warmup: int, dev: torch.device
) -> dict[str, Any]:
    """Median ms of ``steps`` training steps after ``warmup``, and the peak GiB (CUDA)."""
    train_idx = ds.train_mask.nonzero().flatten()
    y = ds.y[train_idx]
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()

    def step() -> torch.Tensor:
        opt.zero_grad(set_to_none=True)
        with forward_precision(precision, dev):
            logits = model(ds.graph, ds.x)
        loss = F.cross_entropy(full_precision(logits[train_idx]), y)
        loss.backward()
        opt.step()
        return loss.detach()

    with run_precision(precision):
        for _ in range(warmup):
            step()
        _sync(dev)
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats(dev)
        times = []
        for _ in range(steps):
            _sync(dev)
            t0 = time.perf_counter()
            loss = step()
            _sync(dev)
            times.append(1e3 * (time.perf_counter() - t0))
    peak = torch.cuda.max_memory_allocated(dev) / 2**30 if dev.type == "cuda" else None
    return {
        "step_ms": statistics.median(times),
        "times_ms": times,
        "peak_gib": peak,
        "loss": float(loss),
    }


def build(ds: Any, family: str, depth: int, width: int) -> Any:
    """The benchmark's model: tanh, seed 0, on the dataset's device."""
    model = deepgnn.build(
        family, ds.num_features, ds.num_classes, depth, width=width, activation="tanh", seed=0
    )
    return model.to(ds.x.device)


def rows_for(ds: Any, family: str, depth: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    """One row per precision for ``family`` at ``depth``, ratios against fp32."""
    dev = ds.x.device
    rows = []
    for precision in args.precisions:
        model = build(ds, family, depth, args.width)
        timing = time_steps(model, ds, precision, args.steps, args.warmup, dev)
        del model
        row: dict[str, Any] = {
            "family": family,
            "depth": depth,
            "width": args.width,
            "precision": precision,
            **timing,
        }
        if args.epochs:
            t0 = time.perf_counter()
            result = train_node(
                build(ds, family, depth, args.width),
                ds,
                epochs=args.epochs,
                protocol=args.protocol,
                patience=None,
                seed=0,
                device=dev,
                precision=precision,
            )
            row.update(
                best_train=result.best_train,
                val=result.val,
                test=result.test,
                best_epoch=result.best_epoch,
                diverged=result.diverged,
                untrained=result.untrained,
                train_seconds=time.perf_counter() - t0,
            )
        rows.append(row)
        if dev.type == "cuda":
            torch.cuda.empty_cache()
        accuracy = f", test {row['test']:.3f}" if args.epochs else ""
        print(
            f"{family}-{depth} {precision}: {row['step_ms']:.1f} ms/step{accuracy}", file=sys.stderr
        )
    base = next((r for r in rows if r["precision"] == "fp32"), None)
    for r in rows:
        for key, ratio in (("step_ms", "step_ratio"), ("peak_gib", "peak_ratio")):
            ok = base is not None and base[key] and r[key] is not None
            r[ratio] = r[key] / base[key] if ok else None
        if base is not None and "test" in r:
            r["test_minus_fp32"] = r["test"] - base["test"]
    return rows


def _fmt(value: Any, spec: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, spec)


def markdown(report: dict[str, Any]) -> str:
    env = report["environment"]
    lines = [
        "# Training precision: fp32, tf32, bf16",
        "",
        f"{report['dataset']}, tanh, seed 0; {env['device']}, torch {env['torch']}, "
        f"{env['date']}. Step: forward, cross-entropy, backward, Adam; median of "
        f"{report['steps']} after {report['warmup']} untimed. Accuracy: one run of "
        f"{report['epochs']} epochs (protocol {report['protocol']}), best validation epoch. "
        "Ratios against fp32 of the same row group.",
        "",
        "```",
        report["command"],
        "```",
        "",
        "| family | depth | width | precision | ms/step | x fp32 | peak GiB | x fp32 "
        "| best train | val | test | test - fp32 |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["rows"]:
        lines.append(
            f"| {r['family']} | {r['depth']} | {r['width']} | {r['precision']} "
            f"| {r['step_ms']:.1f} | {_fmt(r['step_ratio'], '.2f')} "
            f"| {_fmt(r['peak_gib'], '.2f')} | {_fmt(r['peak_ratio'], '.2f')} "
            f"| {_fmt(r.get('best_train'), '.3f')} | {_fmt(r.get('val'), '.3f')} "
            f"| {_fmt(r.get('test'), '.3f')} | {_fmt(r.get('test_minus_fp32'), '+.3f')} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dataset", default="arxiv-sbm")
    parser.add_argument("--families", nargs="+", default=["gcn", "resgcn"])
    parser.add_argument("--depths", type=int, nargs="+", default=[64])
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument(
        "--precisions",
        nargs="+",
        default=None,
        choices=PRECISIONS,
        help="default: all that run on the device (tf32 on CUDA only)",
    )
    parser.add_argument("--steps", type=int, default=20, help="timed steps")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    parser.add_argument("--epochs", type=int, default=100, help="accuracy run; 0: none")
    parser.add_argument("--protocol", default="spoginit-paper")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument(
        "--quick", action="store_true", help="Cora, depth 4, width 16, 3 steps, 5 epochs, on CPU"
    )
    parser.add_argument("--out", default="results/precision", help="writes OUT.json, OUT.md")
    args = parser.parse_args(argv)
    if args.quick:
        args.device, args.dataset, args.depths, args.width = "cpu", "cora", [4], 16
        args.steps, args.warmup, args.epochs = 3, 1, 5
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    if args.precisions is None:
        args.precisions = [p for p in PRECISIONS if p != "tf32" or dev.type == "cuda"]
    if "fp32" not in args.precisions:
        args.precisions.insert(0, "fp32")  # the base of the ratios
    ds = deepgnn.data.load(args.dataset).to(dev)
    t0 = time.perf_counter()
    rows = [r for f in args.families for d in args.depths for r in rows_for(ds, f, d, args)]
    cpu = f"CPU ({platform.machine()}, {torch.get_num_threads()} threads)"
    env = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "deepgnn": deepgnn.__version__,
        "date": time.strftime("%Y-%m-%d"),
        "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else cpu,
    }
    report = {
        "benchmark": "precision",
        "command": " ".join(
            shlex.quote(a)
            for a in ["python", "benchmarks/bench_precision.py", *(argv or sys.argv[1:])]
        ),
        "dataset": args.dataset,
        "steps": args.steps,
        "warmup": args.warmup,
        "epochs": args.epochs,
        "protocol": args.protocol,
        "seconds": time.perf_counter() - t0,
        "environment": env,
        "rows": rows,
    }
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    write_atomic(args.out + ".json", json.dumps(report, indent=1) + "\n")
    write_atomic(args.out + ".md", markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
