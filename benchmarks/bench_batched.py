"""Cells per GPU-minute: a slice of a depth study, batched against the multi-worker runner.

Runs a fixed slice of ``sweeps/paper_planetoid.toml`` (Cora, the tanh GCN, every depth, its six
initializations, three seeds, the authors' 1000-epoch protocol) and of
``sweeps/paper_heterophilous.toml`` (minesweeper, the same, five initializations) twice on one
machine, in one session: as today's runner runs them (``batch_cells = false``, many worker
processes sharing the GPU through CUDA MPS) and batched (``batch_cells = true``: a worker trains
the cells that share a graph and shape as one stacked model, fewer workers). Each run is a
fresh sweep in a temporary folder, under a wall-clock budget; cells per GPU-minute are the
cells it recorded over its wall time (one GPU, used by nothing else). Before the slices, a check
on the device (batched against alone, float64, eager and CUDA-graphed) and a step timing
(milliseconds per epoch and member at several group sizes). Writes ``<out>/bench_batched.json``
and ``<out>/bench_batched.md`` (``--quick``: ``bench_batched_quick.*``).

    python benchmarks/bench_batched.py                 # on a GPU machine: the full slices
    python benchmarks/bench_batched.py --quick         # a few small cells, any device

Where one command may run at most 10 minutes, run the parts one after the other on the same
machine, then combine their files anywhere::

    python benchmarks/bench_batched.py --part checks        # bench_batched_checks.{json,md}
    python benchmarks/bench_batched.py --part cora          # bench_batched_cora.{json,md}
    python benchmarks/bench_batched.py --part minesweeper   # bench_batched_minesweeper.*
    python benchmarks/bench_batched.py --part tuning        # tuning trials per minute
    python benchmarks/bench_batched.py --combine results/bench_batched_{checks,cora,minesweeper}.json

The full run makes four sweep runs of at most ``--budget`` seconds each (default 220; the cells
a run recorded within it count, so a run cut short still measures its rate), after about three
minutes of checks and step timing: at most about 20 minutes of one GPU; a slice's part at most
about 9. The slices' cells have the keys of the studies' own cells (the
grouping is not part of a key). Today's runner runs them with the studies' worker counts (10 on
Cora, 14 on minesweeper); the batched runs with 6 workers on Cora (one per group: its 6
depths) and 3 on minesweeper (memory), all under MPS.

On a GPU machine without optuna, ``benchmarks/bench_batched.sh`` installs the wheels of
``.whl/`` first (as ``sweeps/run_gpu.sh`` does) and runs this script.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
#: The cells of sweeps/paper_planetoid.toml: the "minutes for a whole study" column.
STUDY_CELLS = 648

#: The slices: (study TOML, dataset, workers of today's runner there, as sweeps/run_gpu.sh and
#: the configs' own comments run them, batched workers). A batched minesweeper group of depth
#: 64 holds about 7 GB of activations (10,000 nodes x 15 members x 64 wide x 64 layers x 3
#: tensors, float32), its CUDA graph as much again: 3 workers, not one per group.
SLICES: dict[str, tuple[str, str | None, int, int]] = {
    "cora": ("paper_planetoid", "cora", 10, 6),
    "minesweeper": ("paper_heterophilous", "minesweeper", 14, 3),
    # the whole study (both datasets, the three families), batched: minutes for all of it
    "planetoid": ("paper_planetoid", None, 9, 10),
    # per-cell tuning (CiteSeer, tanh GCN: 30 tuning units of 20 trials, then 90 cells):
    # units tuned one per process against units of one depth tuned in lockstep, their trials
    # batched; measured in tuning trials per minute (the budget ends within the tuning)
    "tuning": ("tuned_citeseer_minesweeper", "citeseer", 14, 6),
}


def _read_toml(path: Path) -> dict[str, Any]:
    import tomllib

    with open(path, "rb") as f:
        return tomllib.load(f)


def slice_config(
    name: str,
    study: str,
    dataset: str | None,
    *,
    batch: bool,
    quick: bool,
    cuda_graph: bool,
    max_batch: int,
) -> dict[str, Any]:
    """The raw sweep config of a slice: the study's own settings, one dataset, the tanh GCN
    (``dataset=None``: the whole study)."""
    raw = _read_toml(ROOT / "sweeps" / f"{study}.toml")
    raw["name"] = name
    if dataset is not None:
        raw["data"]["name"] = [dataset]
        raw["model"]["family"] = ["gcn"]
        drop = ("resgcn", "gated_resgcn")
        raw["model"] = {k: v for k, v in raw["model"].items() if k not in drop}
        for table in raw["init"].values():
            if isinstance(table, dict):
                for family in drop:
                    table.pop(family, None)
    raw["train"]["cuda_graph"] = cuda_graph
    raw["batch_cells"] = batch
    raw["max_batch_cells"] = max_batch
    raw["heartbeat_interval"] = 10
    raw["grace_period"] = 60
    if quick:
        raw["model"]["depth"] = [2, 4]
        raw["seed"] = [0, 1]
        raw["init"]["name"] = ["xavier", "kaiming", "conventional"]
        raw["init"] = {"name": raw["init"]["name"]}
        raw["train"]["epochs"] = 20
        if "tune" in raw:
            raw["tune"].update(n_trials=6, epochs=20)
    return raw


def run_slice(raw: dict[str, Any], out: Path, workers: int, device: str, budget: float) -> dict:
    """Run the sweep ``raw`` in a process of its own for at most ``budget`` seconds."""
    spec = out / "config.json"
    out.mkdir(parents=True, exist_ok=True)
    spec.write_text(json.dumps(raw))
    cmd = [sys.executable, __file__, "--run-sweep", str(spec), "--workers", str(workers)]
    cmd += ["--device", device, "--out", str(out)]
    start = time.perf_counter()
    with open(out / "log.txt", "w") as logf:
        proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            proc.wait(timeout=budget)
            timed_out = False
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            timed_out = True
    wall = time.perf_counter() - start
    from deepgnn import sweep
    from deepgnn.sweep.ledger import Ledger

    config = sweep.SweepConfig.from_dict(raw)
    rows = (
        Ledger(config, out=out, missing_ok=True).rows() if (out / "sweep.journal").exists() else []
    )
    done = [r for r in rows if r.get("status") in ("ok", "diverged")]
    log_text = (out / "log.txt").read_text(errors="replace")
    groups = [int(r.get("group_size", 1)) for r in done]
    tuning = _tuning_counts(config, out) if config.tune is not None else {}
    if tuning:
        tuning["trials_per_minute"] = tuning["trials"] / (wall / 60.0) if wall > 0 else math.nan
    return {
        **tuning,
        "workers": workers,
        "batch_cells": raw["batch_cells"],
        "cuda_graph": raw["train"]["cuda_graph"],
        "cells": len(config.cells()),
        "done": len(done),
        "failed": sum(r.get("status") == "failed" for r in rows),
        "wall_seconds": wall,
        "timed_out": timed_out,
        "exit_code": proc.returncode,
        "cells_per_minute": len(done) / (wall / 60.0) if wall > 0 else math.nan,
        "mean_group_size": sum(groups) / len(groups) if groups else math.nan,
        "fell_back": log_text.count("could not train batched"),
        # where the time went, per depth: the slowest cell's initialization (a group's
        # searches) and training, which bound the slice's wall time
        "by_depth": _by_depth(done),
        "rows": {r["cell"]: r for r in done},
    }


def _tuning_counts(config: Any, out: Path) -> dict[str, Any]:
    """A tuned sweep's tuning so far: trials that count (complete or pruned), pruned ones,
    units finished, and the units' group sizes."""
    if not (out / "sweep.journal").exists():
        return {}
    import optuna
    from optuna.trial import TrialState

    from deepgnn.sweep.ledger import Ledger, storage_for
    from deepgnn.sweep.tune import TuneUnit

    storage = storage_for(config, None, out, read_only=True)
    prefix = f"{config.name}.tune."
    trials = pruned = 0
    for summary in optuna.get_all_study_summaries(storage):
        if summary.study_name.startswith(prefix):
            study = optuna.load_study(study_name=summary.study_name, storage=storage)
            states = [t.state for t in study.get_trials(deepcopy=False)]
            trials += sum(s in (TrialState.COMPLETE, TrialState.PRUNED) for s in states)
            pruned += sum(s == TrialState.PRUNED for s in states)
    ledger = Ledger(config, out=out, missing_ok=True)
    units = [
        min(s.complete, key=lambda t: t.number).user_attrs["row"]
        for key, s in ledger.states().items()
        if s.complete and isinstance(ledger.by_key[key], TuneUnit)
    ]
    sizes = [int(r.get("group_size", 1)) for r in units]
    return {
        "tuning_units": sum(isinstance(u, TuneUnit) for u in ledger.units),
        "tuning_units_done": len(units),
        "trials": trials,
        "trials_pruned": pruned,
        "mean_tuning_group": sum(sizes) / len(sizes) if sizes else math.nan,
    }


def _by_depth(rows: list[dict]) -> dict[str, dict[str, float]]:
    """Per depth: the largest ``init_seconds`` and training ``seconds`` of its cells."""
    out: dict[str, dict[str, float]] = {}
    for r in rows:
        d = out.setdefault(str(int(r["depth"])), {"init_s_max": 0.0, "train_s_max": 0.0})
        for key, col in (("init_s_max", "init_seconds"), ("train_s_max", "seconds")):
            value = r.get(col)
            if value is not None and math.isfinite(float(value)):
                d[key] = max(d[key], float(value))
    return dict(sorted(out.items(), key=lambda kv: int(kv[0])))


def _run_sweep(args: argparse.Namespace) -> None:
    """The child process of :func:`run_slice`."""
    import logging

    from deepgnn import sweep

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    raw = json.loads(Path(args.run_sweep).read_text())
    config = sweep.SweepConfig.from_dict(raw)
    state = sweep.run(
        config, workers=args.workers, devices=[args.device], out=args.out, progress=False
    )
    print(state, flush=True)


def device_check(device: str) -> dict[str, Any]:
    """Batched against alone on ``device``, no dropout (nothing random in a step), 30 epochs:
    the largest loss (and weight) differences. Eager in float64, where only float rounding
    separates them; on CUDA also CUDA-graphed in float32, the slices' dtype (deepgnn's Triton
    SpMM), against float32 alone."""
    import deepgnn
    from deepgnn.train import train_node, train_node_batched

    cora = deepgnn.data.load("cora").to(device)
    seeds, inits = [0, 1, 2], ["xavier", "kaiming", "conventional"]
    out: dict[str, Any] = {}
    checks = [(torch.float64, False)] + (
        [(torch.float32, True)] if device.startswith("cuda") else []
    )
    for family in ("gcn", "resgcn"):
        for dtype, graph in checks:
            key = f"{family}_{'graph_float32' if graph else 'eager_float64'}"
            ds = dataclasses.replace(cora, x=cora.x.to(dtype))

            def build(seed: int, family: str = family, dtype: torch.dtype = dtype) -> Any:
                model = deepgnn.build(family, cora.num_features, 7, 4, width=16, seed=seed)
                return model.to(dtype)

            try:
                alone = []
                for s, ini in zip(seeds, inits):
                    m = build(s)
                    alone.append(
                        (
                            m,
                            train_node(
                                m, ds, init=ini, seed=s, epochs=30, patience=None, device=device
                            ),
                        )
                    )
                ms = [build(s) for s in seeds]
                rs = train_node_batched(
                    ms,
                    ds,
                    seeds=seeds,
                    inits=inits,
                    epochs=30,
                    patience=None,
                    device=device,
                    cuda_graph=graph,
                )
                loss = max(
                    float((r.log["loss"] - a.log["loss"]).abs().max())
                    for (_, a), r in zip(alone, rs)
                )
                weight = max(
                    float((p - q).detach().abs().max())
                    for (a, _), m in zip(alone, ms)
                    for p, q in zip(a.parameters(), m.parameters())
                )
                out[key] = {"loss": loss, "weights": weight}
            except Exception as err:  # recorded: the slices then run the batched cells eagerly
                out[key] = {"error": f"{type(err).__name__}: {err}"}
    return out


def step_timing(device: str, depths: list[int], ks: list[int], epochs: int) -> list[dict]:
    """Milliseconds per epoch and member: tanh GCN-64 on Cora, the authors' protocol for the
    depth (dropout included), ``epochs`` epochs after one warm-up run; alone (k = 1) and
    batched, eager and CUDA-graphed (on CUDA)."""
    import deepgnn
    from deepgnn.train import train_node, train_node_batched

    ds = deepgnn.data.load("cora").to(device)
    graphs = [False, True] if device.startswith("cuda") else [False]
    rows = []
    for depth in depths:
        for graph in graphs:
            kw = {"protocol": "spoginit-paper", "epochs": epochs, "device": device}
            for k in ks:

                def models(depth: int = depth, k: int = k) -> list:
                    return [
                        deepgnn.build("gcn", ds.num_features, 7, depth, seed=s) for s in range(k)
                    ]

                try:
                    if k == 1:
                        train_node(models()[0], ds, seed=0, cuda_graph=graph, **{**kw, "epochs": 3})
                        _sync(device)
                        start = time.perf_counter()
                        train_node(models()[0], ds, seed=0, cuda_graph=graph, **kw)
                    else:
                        train_node_batched(
                            models(), ds, seeds=range(k), cuda_graph=graph, **{**kw, "epochs": 3}
                        )
                        _sync(device)
                        start = time.perf_counter()
                        train_node_batched(models(), ds, seeds=range(k), cuda_graph=graph, **kw)
                    _sync(device)
                    ms = (time.perf_counter() - start) * 1e3 / epochs
                    rows.append(
                        {
                            "depth": depth,
                            "k": k,
                            "cuda_graph": graph,
                            "ms_per_epoch": ms,
                            "ms_per_epoch_per_member": ms / k,
                        }
                    )
                except Exception as err:
                    rows.append(
                        {
                            "depth": depth,
                            "k": k,
                            "cuda_graph": graph,
                            "error": f"{type(err).__name__}: {err}",
                        }
                    )
                print(json.dumps(rows[-1]), flush=True)
    return rows


def search_timing(device: str, depths: list[int], seeds: int) -> list[dict]:
    """Seconds for the SPoGInit searches of one Cora tanh-GCN group of ``paper_planetoid``
    (its ``spoginit`` and ``spoginit@authors`` cells of ``seeds`` seeds, each with its cell's
    own options): one after the other (as run alone) and together
    (:func:`deepgnn.search.search_many`), with the evaluations each ran."""
    import deepgnn
    from deepgnn import experiment, sweep
    from deepgnn.search import search, search_many

    config = sweep.load_config(ROOT / "sweeps" / "paper_planetoid.toml")
    ds = deepgnn.data.load("cora").to(device)
    rows = []
    for depth in depths:
        specs = [
            c.spec()
            for c in config.cells()
            if c.spec().dataset == "cora"
            and c.spec().family == "gcn"
            and c.spec().depth == depth
            and c.spec().init == "spoginit"
            and c.spec().seed < seeds
        ]

        def models(specs: list = specs, depth: int = depth) -> list:
            out = []
            for spec in specs:
                m = deepgnn.build("gcn", ds.num_features, 7, depth, seed=spec.seed, **spec.model)
                deepgnn.init.xavier_(m, generator=torch.Generator().manual_seed(spec.seed))
                out.append(m.to(device))
            return out

        options = []
        for spec in specs:
            o = experiment.resolve_cell(spec)["init"]
            o = {k: v for k, v in o.items() if k not in ("base", "base_layers", "data")}
            o.setdefault("seed", spec.seed)
            options.append(o)
        try:
            search_many(models()[:2], ds.graph, ds.x, ds.y, options=options[:2])  # warm-up
            _sync(device)
            start = time.perf_counter()
            alone = [
                search(m, ds.graph, ds.x, ds.y, mask=ds.train_mask, progress=False, **o)
                for m, o in zip(models(), options)
            ]
            _sync(device)
            serial = time.perf_counter() - start
            start = time.perf_counter()
            together = search_many(
                models(), ds.graph, ds.x, ds.y, masks=[ds.train_mask] * len(specs), options=options
            )
            _sync(device)
            batched = time.perf_counter() - start
            rows.append(
                {
                    "depth": depth,
                    "searches": len(specs),
                    "evaluations": [r.evaluations for r in alone],
                    "alone_s": serial,
                    "together_s": batched,
                    "ratio": serial / batched,
                    "max_objective_rel_diff": max(
                        abs(a.objective - t.objective) / max(abs(a.objective), 1e-30)
                        for a, t in zip(alone, together)
                        if not isinstance(t, Exception)
                    ),
                    "failed": sum(isinstance(t, Exception) for t in together),
                }
            )
        except Exception as err:
            rows.append({"depth": depth, "error": f"{type(err).__name__}: {err}"})
        print(json.dumps(rows[-1], default=str), flush=True)
    return rows


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _mps_start() -> tuple[bool, bool]:
    """Start the CUDA MPS control daemon (before this process touches CUDA, so that it is a
    client too): ``(running, started here)``."""
    control = shutil.which("nvidia-cuda-mps-control")
    if control is None:
        return False, False
    started = subprocess.run([control, "-d"], capture_output=True).returncode == 0
    query = subprocess.run([control], input=b"get_server_list\n", capture_output=True)
    return query.returncode == 0, started


def _mps_stop() -> None:
    control = shutil.which("nvidia-cuda-mps-control")
    if control is not None:
        subprocess.run([control], input=b"quit\n", capture_output=True)


def compare(a: dict, b: dict) -> dict[str, Any]:
    """How the cells both runs recorded compare (the same cells, trained batched or alone)."""
    common = sorted(set(a) & set(b))
    if not common:
        return {"cells": 0}
    dt = [abs(float(a[c]["test"]) - float(b[c]["test"])) for c in common]
    same_epoch = sum(int(a[c]["best_epoch"]) == int(b[c]["best_epoch"]) for c in common)
    return {
        "cells": len(common),
        "mean_abs_test_difference": sum(dt) / len(dt),
        "max_abs_test_difference": max(dt),
        "same_best_epoch": same_epoch,
    }


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# Batched cells: cells per minute on {report['device_name']}",
        "",
        f"`{report['command']}` on {report['date']}; torch {report['torch']}, "
        f"{report['machine']}. MPS running for the slices: {report['mps']}.",
        "",
        *([f"**{report['warning']}**", ""] if "warning" in report else []),
        "## Slices",
        "",
        "| slice | runner | workers | cells done / total | wall s | cells per minute | "
        f"mean group | fell back | ratio | minutes for {STUDY_CELLS} cells |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, runs in report["slices"].items():
        if "skipped" in runs:
            lines.append(f"| {name} | skipped: {runs['skipped']} | | | | | | | | |")
            continue
        base = runs["alone"]["cells_per_minute"] if "alone" in runs else math.nan
        for label, run in runs.items():
            if label == "comparison":
                continue
            ratio = run["cells_per_minute"] / base if base else math.nan
            note = " (budget hit)" if run["timed_out"] else ""
            lines.append(
                f"| {name} | {label} | {run['workers']} | {run['done']} / {run['cells']}{note} | "
                f"{run['wall_seconds']:.1f} | {run['cells_per_minute']:.2f} | "
                f"{run['mean_group_size']:.1f} | {run['fell_back']} | "
                + ("—" if math.isnan(ratio) else f"{ratio:.2f}x")
                + " | "
                f"{STUDY_CELLS / run['cells_per_minute']:.1f} |"
            )
    tuned = [
        (name, label, run)
        for name, runs in report["slices"].items()
        for label, run in runs.items()
        if isinstance(run, dict) and "trials" in run
    ]
    if tuned:
        lines += [
            "",
            "Tuning (trials that count: complete or pruned; the ratio against the units tuned "
            "one per process):",
            "",
            "| slice | runner | workers | trials (pruned) | units done / total | wall s | "
            "trials per minute | mean units together | ratio |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for name, label, run in tuned:
            runs = report["slices"][name]
            base = runs.get("alone", {}).get("trials_per_minute", math.nan)
            ratio = run["trials_per_minute"] / base if base else math.nan
            lines.append(
                f"| {name} | {label} | {run['workers']} | {run['trials']} ({run['trials_pruned']}) "
                f"| {run['tuning_units_done']} / {run['tuning_units']} | "
                f"{run['wall_seconds']:.1f} | {run['trials_per_minute']:.1f} | "
                f"{run['mean_tuning_group']:.1f} | "
                + ("—" if math.isnan(ratio) else f"{ratio:.2f}x")
                + " |"
            )
    lines += ["", "Batched against alone, cells both recorded:", ""]
    for name, runs in report["slices"].items():
        for label, cmp in runs.get("comparison", {}).items():
            lines.append(f"- {name}, {label}: {json.dumps(cmp)}")
    timed = [
        (name, label, run)
        for name, runs in report["slices"].items()
        for label, run in runs.items()
        if isinstance(run, dict) and run.get("by_depth")
    ]
    if timed:
        lines += [
            "",
            "Slowest cell per depth, seconds of initialization (a group's SPoGInit searches) / "
            "training:",
            "",
        ]
        for name, label, run in timed:
            parts = [
                f"{d}: {v['init_s_max']:.1f} / {v['train_s_max']:.1f}"
                for d, v in run["by_depth"].items()
            ]
            lines.append(f"- {name}, {label}: " + "; ".join(parts))
    lines += ["", "## Device check (batched against alone, no dropout, 30 epochs)", ""]
    for key, value in report["device_check"].items():
        lines.append(f"- {key}: {json.dumps(value)}")
    lines += ["", "## Step time (tanh GCN-64, Cora, ms per epoch and member)", ""]
    lines += [
        "| depth | k | CUDA graph | ms/epoch | ms/epoch/member |",
        "|---:|---:|---|---:|---:|",
    ]
    for r in report["steps"]:
        if "error" in r:
            lines.append(f"| {r['depth']} | {r['k']} | {r['cuda_graph']} | {r['error']} | |")
        else:
            lines.append(
                f"| {r['depth']} | {r['k']} | {r['cuda_graph']} | {r['ms_per_epoch']:.2f} | "
                f"{r['ms_per_epoch_per_member']:.3f} |"
            )
    lines += [
        "",
        "## SPoGInit searches of one group (Cora, tanh GCN-64, the cells' own options)",
        "",
        "| depth | searches | evaluations | one after another s | together s | ratio | "
        "objective rel. diff |",
        "|---:|---:|---|---:|---:|---:|---:|",
    ]
    for r in report.get("searches", []):
        if "error" in r:
            lines.append(f"| {r['depth']} | {r['error']} | | | | | |")
        else:
            lines.append(
                f"| {r['depth']} | {r['searches']} | {r['evaluations']} | {r['alone_s']:.1f} | "
                f"{r['together_s']:.1f} | {r['ratio']:.2f}x | {r['max_objective_rel_diff']:.1e} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few small cells (any device)")
    parser.add_argument(
        "--part",
        choices=["all", "checks", *SLICES],
        default="all",
        help="run one part (each fits a 10-minute command): the device check and step timing, "
        "or one slice; writes bench_batched_<part>.{json,md}; --combine merges the parts",
    )
    parser.add_argument(
        "--combine",
        nargs="+",
        default=None,
        metavar="JSON",
        help="merge the parts' JSON files into <out>/bench_batched.{json,md}, running nothing",
    )
    parser.add_argument(
        "--batched-workers",
        default=None,
        help="comma list of worker counts for the batched runs (default: 6 on Cora, 3 on "
        "minesweeper; quick 1)",
    )
    parser.add_argument(
        "--alone-workers",
        type=int,
        default=None,
        help="workers of today's runner (default: the study's, 10 / 14; quick 2)",
    )
    parser.add_argument(
        "--max-batch",
        default="32",
        help="comma list of max_batch_cells for the batched runs (each with each worker count)",
    )
    parser.add_argument(
        "--no-alone",
        action="store_true",
        help="skip today's runner (default for the whole-study slice 'planetoid', batched only)",
    )
    parser.add_argument(
        "--budget", type=float, default=None, help="seconds per sweep run (default 220)"
    )
    parser.add_argument("--no-steps", action="store_true", help="skip the step timing")
    parser.add_argument(
        "--no-searches", action="store_true", help="skip the SPoGInit search timing"
    )
    parser.add_argument(
        "--no-checks", action="store_true", help="skip the device check and the step timing"
    )
    parser.add_argument("--out", default=str(ROOT / "results"))
    parser.add_argument("--device", default=None)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--run-sweep", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_sweep:
        _run_sweep(args)
        return
    if args.combine:
        _write(combine([Path(f) for f in args.combine]), Path(args.out), "bench_batched")
        return
    if args.part == "checks":
        args.slices = ""
    elif args.part != "all":
        args.slices, args.no_checks = args.part, True
    warnings.simplefilter("ignore")
    # is_available() counts devices without creating a context: MPS starts before the first
    # CUDA call of this process, which then is one of its clients too
    device = args.device or ("cuda:0" if torch.cuda.is_available() else "cpu")
    cuda = device.startswith("cuda")
    mps, started = _mps_start() if cuda else (False, False)
    try:
        report = _measure(args, device, mps)
    finally:
        if started:
            _mps_stop()
    stem = "bench_batched_quick" if args.quick else "bench_batched"
    _write(report, Path(args.out), stem if args.part == "all" else f"{stem}_{args.part}")


def _write(report: dict[str, Any], out: Path, stem: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(report, indent=1, default=float) + "\n")
    (out / f"{stem}.md").write_text(markdown(report))
    print(markdown(report))


def combine(paths: list[Path]) -> dict[str, Any]:
    """One report from the parts' reports: the checks and step timing of the part that has
    them, every part's slices, and each part's machine, device and time (compare only parts
    from one machine and session)."""
    parts = [json.loads(p.read_text()) for p in paths]
    report = dict(parts[0])
    report["command"] = "; ".join(p["command"] for p in parts)
    report["date"] = ", ".join(p["date"] for p in parts)
    report["parts"] = [
        {k: p.get(k) for k in ("command", "date", "machine", "device_name", "torch", "mps")}
        for p in parts
    ]
    report["device_check"], report["steps"], report["slices"] = {}, [], {}
    report["searches"] = []
    for p in parts:
        report["device_check"].update(p.get("device_check", {}))
        report["steps"] += p.get("steps", [])
        report["searches"] += p.get("searches", [])
        report["slices"].update(p.get("slices", {}))
    machines = {(p["machine"], p["device_name"]) for p in parts}
    if len(machines) > 1:
        report["warning"] = f"the parts ran on different machines: {sorted(machines)}"
    return report


def _measure(args: argparse.Namespace, device: str, mps: bool) -> dict[str, Any]:
    """The device check, the step timing and the slices; a slice that fails says why."""
    cuda = device.startswith("cuda")
    quick = args.quick
    budget = args.budget or 220.0
    from deepgnn.experiment import device_name

    report: dict[str, Any] = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "torch": torch.__version__,
        "device": device,
        "device_name": device_name(device),
        "machine": f"{platform.node()} ({os.cpu_count()} CPUs)",
        "quick": quick,
        "mps": mps,
    }
    if args.no_checks:
        # a slice alone: the batched step is captured as the study's config asks (a failed
        # capture shows in the part "checks" and as cells that fell back to running alone)
        report["device_check"], graph_ok = {}, True
    else:
        print("device check ...", flush=True)
        report["device_check"] = device_check(device)
        print(json.dumps(report["device_check"]), flush=True)
        graph_ok = all("error" not in v for k, v in report["device_check"].items() if "graph" in k)
    if args.no_steps or args.no_checks:
        report["steps"] = []
    elif quick:
        report["steps"] = step_timing(device, [2, 8], [1, 4], 20)
    else:
        report["steps"] = step_timing(device, [2, 16, 64], [1, 6, 18, 32], 200)
    if args.no_checks or args.no_searches:
        report["searches"] = []
    else:
        report["searches"] = search_timing(device, [4, 8] if quick else [16, 64], 1 if quick else 3)
    report["slices"] = {}
    if not args.slices:
        return report
    try:
        import optuna  # noqa: F401  (the sweeps need it; the checks above do not)
    except ImportError as err:
        for name in args.slices.split(","):
            report["slices"][name] = {"skipped": f"{err}: install optuna (.whl/, see --help)"}
        return report
    for name in args.slices.split(","):
        try:
            study, dataset, workers, batched = SLICES[name]
            limits = [int(m) for m in str(args.max_batch).split(",")]
            alone_workers = args.alone_workers or (2 if quick else workers)
            default = "1" if quick else str(batched)
            batched_workers = [int(w) for w in (args.batched_workers or default).split(",")]
            graph = cuda and not quick
            runs: dict[str, Any] = {}
            try:
                import deepgnn

                deepgnn.data.load(dataset or "cora")
            except Exception as err:
                report["slices"][name] = {"skipped": f"{type(err).__name__}: {err}"}
                continue
            with tempfile.TemporaryDirectory(prefix=f"bench_{name}_") as tmp:
                if not (args.no_alone or dataset is None):
                    raw = slice_config(
                        f"bench_{name}_alone",
                        study,
                        dataset,
                        batch=False,
                        quick=quick,
                        cuda_graph=graph,
                        max_batch=limits[0],
                    )
                    print(f"{name}: alone, {alone_workers} workers ...", flush=True)
                    runs["alone"] = run_slice(
                        raw, Path(tmp) / "alone", alone_workers, device, budget
                    )
                for w in batched_workers:
                    for m in limits:
                        # a batched step that cannot be captured runs eagerly (device check)
                        label = f"batched x{w}" + (f" (<= {m})" if len(limits) > 1 else "")
                        raw = slice_config(
                            f"bench_{name}_batched{w}_{m}",
                            study,
                            dataset,
                            batch=True,
                            quick=quick,
                            cuda_graph=graph and graph_ok,
                            max_batch=m,
                        )
                        print(f"{name}: {label} ...", flush=True)
                        runs[label] = run_slice(raw, Path(tmp) / f"b{w}_{m}", w, device, budget)
                        runs[label]["max_batch_cells"] = m
            runs["comparison"] = {
                label: compare(runs["alone"]["rows"], run["rows"])
                for label, run in runs.items()
                if label.startswith("batched") and "alone" in runs
            }
            for run in runs.values():
                run.pop("rows", None)
            report["slices"][name] = runs
            print(json.dumps({k: v for k, v in runs.items()}, default=str), flush=True)
        except Exception as err:
            report["slices"][name] = {"skipped": f"failed: {type(err).__name__}: {err}"}
    return report


if __name__ == "__main__":
    main()
