"""Reversible against stored gradients of ``revgcn``: the error, where it comes from, the fix.

One model per depth (width 8, eval mode, loss = mean of squared logits, ``seed=0``) is
differentiated with the stored backward (``reversible=False``, the reference) and with the
reversible one: ``reversible=True`` (no kept state) and ``reversible=k`` (the state kept every
``k`` group updates, ``--every``). Per variant: the worst parameter's relative gradient error
``max_p ||g_rev - g_stored|| / ||g_stored||``, the all-parameter one, the saved bytes and
the step time. Beside them: the same in float64 (rounding ~1e-16 instead of ~1e-7), the
stored float32 gradient against the stored float64 one (the model's own float32 error), the
reconstruction error of every rebuilt state (``||x_rec - x_true|| / ||x_true||``, from
``RevGCN.reconstruct``) and the amplification of a perturbation of the last state by the
inverse map (float64). At ``--ablation-depth``, the suspects one at a time: dropout (masks
replayed from seeds), norms, ReLU, more groups, float64 reconstruction of the float32
forward; ``reversible=1`` (every state kept) is bit-exact in each, so the drift is the
subtraction alone.

    python benchmarks/bench_revgrad.py --threads 1 --out results/revgrad_cpu
    python benchmarks/bench_revgrad.py --device cuda --dataset arxiv-sbm \\
        --depths 16 64 256 1024 --ablation-depth 256 --out results/revgrad_cuda
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import platform
import shlex
import sys
import time
from typing import Any
from unittest import mock

import torch

import deepgnn
from deepgnn._io import write_atomic
from deepgnn.bench.memory import saved_tensor_bytes
from deepgnn.models import revgcn as revgcn_module


def _build(ds: Any, depth: int, dtype: torch.dtype, dev: torch.device, **kw: Any) -> Any:
    train = kw.pop("train", False)
    kw.setdefault("width", 8)
    model = deepgnn.build("revgcn", ds.num_features, ds.num_classes, depth, seed=0, **kw)
    model = model.to(device=dev, dtype=dtype)
    return model.train(train)


def _grads(model: Any, ds: Any, repeats: int = 1) -> tuple[list[torch.Tensor], float, float]:
    """Gradients of mean(logits^2); MB autograd saves (parameters and features left out);
    the fastest of ``repeats`` forward + backward passes in milliseconds."""
    x = ds.x.to(next(model.parameters()).dtype)
    params = list(model.parameters())
    best = math.inf
    for _ in range(repeats):
        torch.manual_seed(0)  # the dropout masks, alike for every variant
        t0 = time.perf_counter()
        out, saved = saved_tensor_bytes(lambda: model(ds.graph, x), exclude=[*params, x])
        grads = torch.autograd.grad(out.square().mean(), params)
        if x.is_cuda:
            torch.cuda.synchronize()
        best = min(best, 1e3 * (time.perf_counter() - t0))
    return [g.detach() for g in grads], saved / 2**20, best


def _errors(g: list[torch.Tensor], ref: list[torch.Tensor], names: list[str]) -> dict[str, Any]:
    """Worst parameter's and all parameters' relative error; a parameter whose stored gradient
    is exactly 0 (a dead ReLU unit) counts 0 if its gradient is 0 too, else inf. ``worst_share``:
    the worst parameter's stored gradient norm over all parameters' (tiny: rounding noise)."""
    diff = [float((a.double() - b.double()).norm()) for a, b in zip(g, ref)]
    size = [float(b.double().norm()) for b in ref]
    per = [d / n if n else (0.0 if d == 0 else math.inf) for d, n in zip(diff, size)]
    worst = max(range(len(per)), key=per.__getitem__)
    flat = [torch.cat([t.double().flatten() for t in gs]) for gs in (g, ref)]
    total = float(flat[1].norm())
    return {
        "worst_rel": per[worst],
        "worst_param": names[worst],
        "worst_share": size[worst] / total,
        "all_rel": float((flat[0] - flat[1]).norm()) / total,
    }


class _Float64Undo:
    """The backward's undo with the walk carried in float64: the stored float32 output and
    every branch evaluation cast up, the state handed back in float32 (a counterfactual)."""

    def __init__(self, model: Any, graph: Any) -> None:
        self.model64, self.graph, self.y64 = copy.deepcopy(model).double(), graph, None

    def __call__(self, model: Any, i: int, y: torch.Tensor, f: Any, anchors: Any) -> None:
        if self.y64 is None:
            self.y64 = y.double()
        m = self.model64
        lo, hi = m._group(i)
        self.y64[:, lo:hi] -= m._branch(i, self.graph, m._branch_input(i, self.y64), None)
        y.copy_(self.y64)


def gradient_rows(ds: Any, depth: int, every: list[int], dev: torch.device) -> list[dict]:
    rows = []
    refs = {}
    for dtype in (torch.float32, torch.float64):
        ref_model = _build(ds, depth, dtype, dev, reversible=False)
        names = [n for n, _ in ref_model.named_parameters()]
        refs[dtype], mb, ms = _grads(ref_model, ds, 3)
        rows.append({"variant": "stored", "dtype": str(dtype)[6:], "saved_mb": mb, "ms": ms})
        variants = [True, *every] if dtype == torch.float32 else [True]
        for rev in variants:
            g, mb, ms = _grads(_build(ds, depth, dtype, dev, reversible=rev), ds, 3)
            row = {"variant": f"reversible={rev}", "dtype": str(dtype)[6:]}
            rows.append({**row, **_errors(g, refs[dtype], names), "saved_mb": mb, "ms": ms})
    own = {"variant": "stored float32 vs stored float64", "dtype": "float32"}
    rows.append({**own, **_errors(refs[torch.float32], refs[torch.float64], names)})
    return [{"depth": depth, **r} for r in rows]


def reconstruction_rows(ds: Any, depth: int, every: int, dev: torch.device) -> list[dict]:
    rows = []
    for dtype, rev in ((torch.float32, True), (torch.float64, True), (torch.float32, every)):
        model = _build(ds, depth, dtype, dev, reversible=rev)
        x = ds.x.to(dtype)
        with torch.no_grad():
            true = model.hidden_states(ds.graph, x)[1:-1]
        rebuilt = model.reconstruct(ds.graph, x)
        err = [float((r - t).norm() / t.norm()) for r, t in zip(rebuilt, true)]
        norms = [float(t.norm()) for t in true]
        rows.append(
            {"depth": depth, "variant": f"reversible={rev}", "dtype": str(dtype)[6:],
             "input_rel": err[0], "max_rel": max(err), "rel_error": err, "state_norm": norms}
        )  # fmt: skip
    # The inverse map's own amplification: a 1e-9 perturbation of the last state walked back
    # in float64, where rounding is ~1e-16 and cannot mask it.
    model = _build(ds, depth, torch.float64, dev, reversible=True)
    with torch.no_grad():
        last = model.hidden_states(ds.graph, ds.x.double())[-2]
        gen = torch.Generator(device=dev).manual_seed(1)
        delta = torch.randn(last.shape, generator=gen, device=dev, dtype=torch.float64)
        delta *= 1e-9 * last.norm() / delta.norm()
        walks = []
        for top in (last, last + delta):
            y, walk = top.clone(), [top.clone()]
            for i in reversed(range(len(model.convs))):
                lo, hi = model._group(i)
                y[:, lo:hi] -= model._branch(i, ds.graph, model._branch_input(i, y), None)
                walk.append(y.clone())
            walks.append(walk[::-1])
    amp = [float((b - a).norm() / delta.norm()) for a, b in zip(*walks)]
    rows.append({"depth": depth, "variant": "inverse amplification", "dtype": "float64",
                 "input_rel": amp[0], "max_rel": max(amp), "rel_error": amp})  # fmt: skip
    return rows


ABLATIONS: dict[str, dict[str, Any]] = {
    "eval, tanh, no norm (base)": {},
    "train, dropout 0.5": {"train": True, "dropout": 0.5},
    "train, norm=layer": {"train": True, "norm": "layer"},
    "train, norm=batch, dropout 0.2": {"train": True, "norm": "batch", "dropout": 0.2},
    "relu": {"activation": "relu"},
    "groups=4": {"groups": 4},
}


def ablation_rows(ds: Any, depth: int, every: int, dev: torch.device) -> list[dict]:
    rows = []
    for name, kw in ABLATIONS.items():
        ref_model = _build(ds, depth, torch.float32, dev, reversible=False, **kw)
        names = [n for n, _ in ref_model.named_parameters()]
        ref = _grads(ref_model, ds)[0]
        for rev in (True, 1, every):
            g = _grads(_build(ds, depth, torch.float32, dev, reversible=rev, **kw), ds)[0]
            rows.append({"case": name, "variant": f"reversible={rev}", **_errors(g, ref, names)})
    model = _build(ds, depth, torch.float32, dev, reversible=True)
    ref_model = _build(ds, depth, torch.float32, dev, reversible=False)
    names = [n for n, _ in ref_model.named_parameters()]
    with mock.patch.object(revgcn_module, "_undo", _Float64Undo(model, ds.graph)):
        g = _grads(model, ds)[0]
    row = {"case": "float64 reconstruction of the float32 forward", "variant": "reversible=True"}
    rows.append({**row, **_errors(g, _grads(ref_model, ds)[0], names)})
    return [{"depth": depth, **r} for r in rows]


def _markdown(report: dict[str, Any]) -> str:
    env = report["environment"]
    lines = [
        "# revgcn: reversible against stored gradients",
        "",
        f"{report['dataset']}, width 8, eval mode, loss = mean of squared logits, seed 0; "
        f"{env['device']}, torch {env['torch']}, {env['date']}; {report['seconds']:.0f} s.",
        "Errors are relative to the stored backward of the same dtype: worst parameter "
        "`max_p ||g_rev - g_stored|| / ||g_stored||` and all parameters together.",
        "",
        "```",
        report["command"],
        "```",
        "",
        "## Gradient error",
        "",
        "| depth | variant | dtype | worst rel | worst parameter | all rel | saved MB | fwd+bwd ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in report["gradients"]:
        err = (
            f"{r['worst_rel']:.2e} | {r['worst_param']} | {r['all_rel']:.2e}"
            if ("worst_rel" in r)
            else "- | - | -"
        )
        mem = f"{r['saved_mb']:.2f} | {r['ms']:.0f}" if "saved_mb" in r else "- | -"
        lines.append(f"| {r['depth']} | {r['variant']} | {r['dtype']} | {err} | {mem} |")
    lines += [
        "",
        "## Reconstruction error of the rebuilt states",
        "",
        "`||x_rec - x_true|| / ||x_true||` of the state entering update `i` (`n` = depth x "
        "groups updates; the walk goes from `n` down to 0), its largest value in each range of "
        "`i`; `inverse amplification`: `||walk(y + d) - walk(y)|| / ||d||` in float64 for a "
        "random `d` added to the last state.",
        "",
        "| depth | variant | dtype | (3n/4, n] | (n/2, 3n/4] | (n/4, n/2] | (n/8, n/4] "
        "| (0, n/8] | input (0) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["reconstruction"]:
        e = r["rel_error"]
        n = len(e) - 1
        cuts = [n, 3 * n // 4, n // 2, n // 4, n // 8, 0]
        picks = [max(e[lo + 1 : hi + 1], default=0.0) for hi, lo in zip(cuts, cuts[1:])]
        cells = " | ".join(f"{v:.1e}" for v in [*picks, e[0]])
        lines.append(f"| {r['depth']} | {r['variant']} | {r['dtype']} | {cells} |")
    if report["ablations"]:
        lines += [
            "",
            f"## Suspects, one at a time (depth {report['ablations'][0]['depth']}, float32)",
            "",
            "`reversible=1` keeps every state, so nothing is rebuilt: what it leaves is not "
            "reconstruction. A worst parameter with a tiny share of the gradient norm has an "
            "exact gradient of 0 (`in_proj.bias` under BatchNorm, which removes column shifts): "
            "its stored value is rounding noise, and so is its relative error.",
            "",
            "| case | variant | worst rel | worst parameter | its share of the gradient | all rel |",
            "|---|---|---|---|---|---|",
        ]
        for r in report["ablations"]:
            lines.append(
                f"| {r['case']} | {r['variant']} | {r['worst_rel']:.2e} | {r['worst_param']} "
                f"| {r['worst_share']:.1e} | {r['all_rel']:.2e} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="cora")
    parser.add_argument("--depths", type=int, nargs="+", default=[16, 64, 128])
    parser.add_argument("--every", type=int, nargs="+", default=[4, 16, 32, 64])
    parser.add_argument("--ablation-depth", type=int, default=128, help="0: no ablations")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--quick", action="store_true", help="depths 16 and 64, no ablations")
    parser.add_argument("--out", default="results/revgrad_cpu", help="writes OUT.json, OUT.md")
    args = parser.parse_args()
    if args.quick:
        args.depths, args.every, args.ablation_depth = [16, 64], [16], 0
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    default_every = deepgnn.models.options("revgcn")["reversible"]
    ds = deepgnn.data.load(args.dataset).to(dev)
    t0 = time.perf_counter()
    grads, recon, ablations = [], [], []
    for depth in args.depths:
        grads += gradient_rows(ds, depth, args.every, dev)
        recon += reconstruction_rows(ds, depth, default_every, dev)
        print(f"depth {depth}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    if args.ablation_depth:
        ablations = ablation_rows(ds, args.ablation_depth, default_every, dev)
    env = {"torch": torch.__version__, "python": platform.python_version(),
           "date": time.strftime("%Y-%m-%d"), "threads": torch.get_num_threads(),
           "device": torch.cuda.get_device_name(dev) if dev.type == "cuda"
           else f"CPU ({platform.machine()}, {torch.get_num_threads()} threads)"}  # fmt: skip
    report = {
        "benchmark": "revgrad",
        "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
        "dataset": args.dataset,
        "seconds": time.perf_counter() - t0,
        "environment": env,
        "load_average_1min": os.getloadavg()[0],
        "gradients": grads,
        "reconstruction": recon,
        "ablations": ablations,
    }
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    write_atomic(args.out + ".json", json.dumps(report, indent=1) + "\n")
    write_atomic(args.out + ".md", _markdown(report))
    for r in grads:
        if "worst_rel" in r:
            print(
                f"L={r['depth']:5d} {r['variant']:34s} {r['dtype']:8s} worst {r['worst_rel']:.2e}"
            )


if __name__ == "__main__":
    main()
