"""Deep and large, trained: depth 1,000 on the arxiv stand-in, and ogbn-products size.

Two studies, each a list of full-batch training runs (``deepgnn.train.train_node``) under one
documented protocol, every run a row of ``<out>/train_scale_<study>.csv`` (resumable: a run
already there is skipped, so a study split over several commands of at most 10 minutes goes on
where the last stopped) and the table ``<out>/train_scale_<study>.md``:

* ``--study depth``: ``revgcn`` (grouped reversible, 2 groups, a kept state every 8 group
  updates: in training mode with layer norm the default 16 drifts to 3.4e-4 at depth 128,
  docs/models.md) and ``resgcn`` with ``checkpoint=True`` at depths 64, 256 and 1,000 on
  ``arxiv-sbm``; 3 seeds at depth 64, 1 deeper (``--seeds``, ``--deep-seeds``).
* ``--study products``: ``gcn`` and ``resgcn`` (tanh, as ``deepgnn.bench`` times them) at
  depths 4, 16 and 64 on ``csbm-products`` (2,449,029 nodes), 1 seed; beside each, the median
  training step of the same model and of PyG's ``GCNConv`` rebuild of it
  (``deepgnn.bench.time_step``, one after the other in this process) where it fits in memory.

The protocol: Adam lr 1e-3 without weight decay, ``--epochs`` epochs (default 200), no early
stopping, test at the epoch of best validation, the models' default initialization (Xavier),
width 64; the depth study as RevGNN's deep setting (Li et al., ICML 2021: ReLU, layer norm,
dropout 0.1), the products study as the step benchmarks (tanh, no norm, no dropout). Each row
holds the training metric beside the test metric and the verdicts (``fitted``,
``budget_limited``: :func:`deepgnn.train.verdicts`), seconds per epoch (the median of the
training step with its evaluation forward), seconds to the best validation epoch, the whole
run's seconds and, on CUDA, the peak memory allocated during the run.

    python benchmarks/train_scale.py --study depth --device cuda --budget 540 --out results
    python benchmarks/train_scale.py --study products --device cuda --budget 540 --out results
    python benchmarks/train_scale.py --quick      # Cora, two small runs per study, any device
"""

from __future__ import annotations

import argparse
import functools
import math
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import deepgnn  # noqa: E402
from deepgnn import data, train  # noqa: E402
from deepgnn._checks import resolve_device  # noqa: E402
from deepgnn._io import write_atomic  # noqa: E402

#: The optimizer every run uses; ``epochs`` is an argument.
PROTOCOL = {"lr": 1e-3, "weight_decay": 0.0, "patience": None}
#: Per study: the model's options and the training dropout.
MODEL: dict[str, dict[str, Any]] = {
    "depth": {"width": 64, "activation": "relu", "norm": "layer", "dropout": 0.1},
    "products": {"width": 64, "activation": "tanh", "norm": None, "dropout": 0.0},
}
#: study -> (dataset, variants, depths); a variant is (name, family, build options).
STUDIES: dict[str, tuple[str, list[tuple[str, str, dict[str, Any]]], list[int]]] = {
    "depth": (
        "arxiv-sbm",
        [
            ("revgcn", "revgcn", {"reversible": 8}),
            ("resgcn+checkpoint", "resgcn", {"checkpoint": True}),
        ],
        [64, 256, 1000],
    ),
    "products": (
        "csbm-products",
        [("gcn", "gcn", {}), ("resgcn", "resgcn", {})],
        [4, 16, 64],
    ),
}
KEYS = ["variant", "depth", "seed", "epochs"]


def _peak_gib(dev: torch.device) -> float:
    return torch.cuda.max_memory_allocated(dev) / 2**30 if dev.type == "cuda" else math.nan


def run_one(
    study: str,
    ds: data.Dataset,
    variant: tuple[str, str, dict[str, Any]],
    depth: int,
    seed: int,
    epochs: int,
    dev: torch.device,
) -> dict[str, Any]:
    """Train one model of ``study``; return its row (``status`` says if it failed)."""
    name, family, options = variant
    row: dict[str, Any] = {"variant": name, "family": family, "depth": depth, "seed": seed}
    row["epochs"] = epochs
    if dev.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(dev)
    try:
        model = deepgnn.build(
            family, ds.num_features, ds.num_classes, depth, seed=seed, **MODEL[study], **options
        )
        result = train.train_node(
            model, ds, epochs=epochs, device=dev, seed=seed, restore_best=False, **PROTOCOL
        )
    except torch.OutOfMemoryError as err:
        row.update(status="out of memory", error=str(err).splitlines()[0][:200])
        return row
    log = result.log
    row.update(
        status="diverged" if result.diverged else "ok",
        train=result.train,
        val=result.val,
        test=result.test,
        best_train=result.best_train,
        best_epoch=result.best_epoch,
        epochs_run=result.epochs,
        fitted=result.fitted,
        budget_limited=result.budget_limited,
        untrained=result.untrained,
        epoch_s=float(log["seconds"].median()) if len(log) else math.nan,
        to_best_s=float(log["seconds"][log["epoch"] <= result.best_epoch].sum()),
        total_s=result.seconds,
        peak_gib=_peak_gib(dev),
        parameters=sum(p.numel() for p in model.parameters()),
    )
    return row


def step_times(ds: data.Dataset, family: str, depth: int, dev: torch.device) -> dict[str, Any]:
    """The median training step (5 timed) and its peak memory: deepgnn's ``family`` at
    ``depth`` (tanh, width 64), then PyG's rebuild of it, each ``nan`` where it runs out of
    memory. ``ds`` is on ``dev``."""
    from deepgnn.bench import _PyGNet, time_step

    x, y = ds.x, ds.y
    idx = ds.train_mask.nonzero().flatten()
    width = MODEL["products"]["width"]
    row: dict[str, Any] = {}
    for impl in ("deepgnn", "pyg"):
        if dev.type == "cuda":
            torch.cuda.empty_cache()
        try:
            if impl == "deepgnn":
                model = deepgnn.build(
                    family, ds.num_features, ds.num_classes, depth, width=width, activation="tanh"
                ).to(dev)
                forward = functools.partial(model, ds.graph, x)
            else:
                model = _PyGNet(family, ds.num_features, ds.num_classes, depth, width).to(dev)
                forward = functools.partial(model, ds.graph.edge_index.to(dev), x)
            t = time_step(forward, list(model.parameters()), y, idx, steps=5)
            row.update({f"{impl}_step_s": t["step_ms"] / 1e3, f"{impl}_peak_gib": t["peak_mem_gb"]})
        except torch.OutOfMemoryError:
            row.update({f"{impl}_step_s": math.nan, f"{impl}_peak_gib": math.nan})
            row[f"{impl}_status"] = "out of memory"
        finally:
            model = forward = None  # type: ignore[assignment]
            if dev.type == "cuda":
                torch.cuda.empty_cache()
    return row


def _number(row: dict[str, Any], key: str, digits: int = 3) -> str:
    v = row.get(key)
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def _describe(study: str) -> str:
    m = MODEL[study]
    norm = f"{m['norm']} norm" if m["norm"] else "no norm"
    return f"{m['activation']}, {norm}, dropout {m['dropout']}, width {m['width']}"


def table(df: pd.DataFrame, study: str, dataset: str, command: str, env: str) -> str:
    """The study's markdown table: one line per run, training metric beside test."""
    lines = [
        f"# Trained at scale: {study}",
        "",
        f"`{dataset}`; {env}. Protocol: {_describe(study)}, Adam lr 1e-3 without weight decay, "
        "no early stopping, test at the best validation epoch, the default (Xavier) "
        "initialization. `fit`: the run fitted its training set; `budget`: its "
        "best validation fell in the last tenth of the epochs (it may still have been "
        "improving). Seconds per epoch include the evaluation forward."
        + (
            " `step`: the median training step of the same model, timed alone, beside PyG's "
            "GCNConv rebuild of it (`deepgnn.bench.time_step`)."
            if study == "products"
            else ""
        ),
        "",
        f"    {command}",
        "",
    ]
    steps = "pyg_step_s" in df.columns
    head = "| model | depth | seed | epochs | train | test | fit | budget | s/epoch | to best (s) "
    head += "| peak GiB | status |"
    head += " step (s) | GiB | PyG step (s) | PyG GiB |" if steps else ""
    lines += [head, "|" + "---|" * (head.count("|") - 1)]
    for r in df.sort_values(["variant", "depth", "seed"]).to_dict("records"):
        f = functools.partial(_number, r)

        cells = [
            r["variant"],
            str(r["depth"]),
            str(r["seed"]),
            str(r.get("epochs_run", "—")),
            f("train"),
            f("test"),
            "yes" if r.get("fitted") is True else "no",
            "yes" if r.get("budget_limited") is True else "no",
            f("epoch_s", 3),
            f("to_best_s", 1),
            f("peak_gib", 2),
            str(r["status"]),
        ]
        if steps:
            cells += [f("deepgnn_step_s", 3), f("deepgnn_peak_gib", 2)]
            cells += [f("pyg_step_s", 3), f("pyg_peak_gib", 2)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--study", choices=sorted(STUDIES), default="depth")
    p.add_argument("--dataset", default=None, help="default: the study's")
    p.add_argument("--depths", type=int, nargs="+", default=None, help="default: the study's")
    p.add_argument("--variants", nargs="+", default=None, help="default: all of the study's")
    p.add_argument("--seeds", type=int, default=3, help="seeds at depths <= 64")
    p.add_argument("--deep-seeds", type=int, default=1, help="seeds at depths > 64")
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--device", default=None)
    p.add_argument("--out", default=None, help="default: results/ (--quick: a temp folder)")
    p.add_argument("--budget", type=float, default=math.inf, help="start no run after this many s")
    p.add_argument("--no-steps", action="store_true", help="products: skip the step timing")
    p.add_argument("--quick", action="store_true", help="Cora, depths 2 and 4, 3 epochs, temp out")
    a = p.parse_args(argv)
    start = time.perf_counter()
    dataset, variants, depths = STUDIES[a.study]
    if a.variants:
        unknown = sorted(set(a.variants) - {v[0] for v in variants})
        if unknown:
            p.error(f"--variants {unknown} are not the study's {[v[0] for v in variants]}")
        variants = [v for v in variants if v[0] in a.variants]
    dataset, depths = a.dataset or dataset, a.depths or depths
    if a.quick:
        dataset, depths, a.epochs, a.seeds, a.deep_seeds = "cora", [2, 4], 3, 1, 1
        a.out = a.out or tempfile.mkdtemp(prefix="train_scale_")
    dev = torch.device(resolve_device(a.device))
    out = Path(a.out or ROOT / "results")
    out.mkdir(parents=True, exist_ok=True)
    csv = out / f"train_scale_{a.study}.csv"
    df = pd.read_csv(csv) if csv.exists() else pd.DataFrame(columns=KEYS)
    done = {tuple(r) for r in df[KEYS].astype(str).to_numpy()}
    t0 = time.perf_counter()
    # On the device once: every run (and its Â caches) shares it, instead of a copy per run.
    ds = data.load(dataset).to(dev)
    print(f"{dataset}: {ds.num_nodes:,} nodes, loaded in {time.perf_counter() - t0:.0f} s")
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.processor() or "CPU"
    env = f"{name}, torch {torch.__version__}, float32"
    timed = a.study == "products" and not a.no_steps
    if timed:
        try:
            import torch_geometric  # noqa: F401
        except ImportError:
            p.error(
                "the products study times PyG's rebuild: install torch_geometric or pass --no-steps"
            )
    rows = df.to_dict("records")
    for depth in depths:
        for variant in variants:
            for seed in range(a.seeds if depth <= 64 else a.deep_seeds):
                if (variant[0], str(depth), str(seed), str(a.epochs)) in done:
                    continue
                if time.perf_counter() - start > a.budget:
                    print("budget spent; rerun the same command to go on")
                    break
                row = run_one(a.study, ds, variant, depth, seed, a.epochs, dev)
                if timed and seed == 0:
                    row.update(step_times(ds, variant[1], depth, dev))
                row.update(device=name, torch=torch.__version__)
                rows.append(row)
                print(
                    {
                        k: row.get(k)
                        for k in (
                            "variant",
                            "depth",
                            "seed",
                            "status",
                            "train",
                            "test",
                            "epoch_s",
                            "peak_gib",
                        )
                    },
                    flush=True,
                )
                df = pd.DataFrame(rows)
                write_atomic(csv, df.to_csv(index=False))
                args = sys.argv[1:] if argv is None else argv
                command = "python benchmarks/train_scale.py " + " ".join(args)
                write_atomic(csv.with_suffix(".md"), table(df, a.study, dataset, command, env))
    print(f"wrote {csv} and {csv.with_suffix('.md')}")


if __name__ == "__main__":
    main()
