"""Activation memory against depth: plain, checkpointed and reversible residual GCNs.

For each depth, four models of the same width train one step after another on one graph:
``resgcn`` storing every layer, ``resgcn`` with ``checkpoint=True`` (segments of
``sqrt(depth)`` layers recomputed in backward) and ``revgcn`` (grouped reversible blocks),
fully reversible (``reversible=True``) and with its default kept states (``reversible=16``). Each
record holds the bytes of the tensors autograd saved for backward during one forward
(:func:`saved_tensor_bytes`, any device), the median step time, the peak device memory of the
timed steps on CUDA, and the ratios against the plain ``resgcn`` of the same depth and run.
``benchmarks/bench_memory.py`` runs it and writes the JSON and a table.
"""

from __future__ import annotations

import functools
import gc
import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import torch
import torch.nn.functional as F
from torch import nn

import deepgnn
from deepgnn._checks import check_int
from deepgnn.bench._suite import environment, time_step

__all__ = ["VARIANTS", "saved_tensor_bytes", "run_memory"]

log = logging.getLogger("deepgnn.bench")

T = TypeVar("T")

#: The variants: name -> (family, build options).
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "resgcn": ("resgcn", {}),
    "resgcn_checkpoint": ("resgcn", {"checkpoint": True}),
    # Fully reversible: nothing kept but input and output (gradients drift with depth).
    "revgcn": ("revgcn", {"reversible": True}),
    # The default: the state kept every 16 group updates.
    "revgcn_kept16": ("revgcn", {"reversible": 16}),
}


def saved_tensor_bytes(
    fn: Callable[[], T], *, exclude: Sequence[nn.Parameter] = ()
) -> tuple[T, int]:
    """Run ``fn()`` and return its result with the bytes autograd saved for backward meanwhile.

    Counts each storage once (a tensor saved by two ops, or a view and its base, is one
    allocation) and leaves out the storages of ``exclude`` (the model's parameters: they are
    held whether or not autograd saves them) and sparse tensors (the graph). Tensors saved
    inside a ``torch.utils.checkpoint`` segment are not held, and its hooks take precedence,
    so they are not counted; the segment inputs it keeps are.

    Args:
        fn: a forward pass, e.g. ``lambda: model(graph, x)``.
        exclude: tensors whose storage is not counted.

    Returns:
        ``(fn(), bytes)``; keep the result alive until backward, or the count means nothing.
    """
    skip = {p.untyped_storage().data_ptr() for p in exclude}
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        if t.layout == torch.strided:
            storage = t.untyped_storage()
            ptr = storage.data_ptr()
            if ptr not in skip:
                seen[ptr] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return out, sum(seen.values())


def run_memory(
    dataset: deepgnn.data.Dataset,
    *,
    depths: Sequence[int] = (16, 64, 256, 1024),
    width: int = 64,
    variants: Sequence[str] = tuple(VARIANTS),
    steps: int = 3,
    warmup: int = 1,
    device: str = "cpu",
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Measure saved bytes, step time and (CUDA) peak memory per variant and depth.

    Args:
        dataset: the graph, features and labels (``train_mask`` nodes carry the loss).
        depths: model depths (blocks for ``revgcn``, residual layers for ``resgcn``).
        width: hidden width (``revgcn`` splits it into 2 groups).
        variants: names of :data:`VARIANTS`; ratios need ``"resgcn"`` among them.
        steps: timed training steps (forward, cross-entropy, backward, Adam) per model.
        warmup: untimed steps before them.
        device: where the models run.
        seed: the parameters' seed.

    Returns:
        One record per variant and depth: ``saved_mb``, ``step_ms``, ``peak_mem_gb`` (CUDA, else
        ``None``), ``saved_ratio`` / ``step_ratio`` / ``peak_ratio`` against ``resgcn`` at that
        depth, settings and the environment.
    """
    for name in variants:
        if name not in VARIANTS:
            raise ValueError(f"variants names {name!r}; choose from {sorted(VARIANTS)}")
    variants = [name for name in VARIANTS if name in variants]  # resgcn first: the ratios' base
    check_int("width", width, minimum=2)
    dev = torch.device(device)
    ds = dataset.to(dev)
    train_idx = ds.train_mask.nonzero().flatten()
    env = environment(dev)
    records: list[dict[str, Any]] = []
    for depth in depths:
        check_int("depth", depth, minimum=1)
        base: dict[str, Any] = {}
        for name in variants:
            family, options = VARIANTS[name]
            model = deepgnn.build(
                family,
                ds.num_features,
                ds.num_classes,
                depth,
                width=width,
                activation="relu",
                seed=seed,
                **options,
            ).to(dev)
            params = list(model.parameters())
            out, saved = saved_tensor_bytes(
                functools.partial(model, ds.graph, ds.x), exclude=params
            )
            F.cross_entropy(out[train_idx], ds.y[train_idx]).backward()
            del out
            model.zero_grad(set_to_none=True)
            timing = time_step(
                functools.partial(model, ds.graph, ds.x),
                params,
                ds.y,
                train_idx,
                steps=steps,
                warmup=warmup,
            )
            rec = {
                "benchmark": "memory_vs_depth",
                "variant": name,
                "family": family,
                "checkpoint": model.checkpoint,
                "depth": depth,
                "width": width,
                "layer_weights": len(model.layer_weights()),
                "num_nodes": ds.num_nodes,
                "num_edges": ds.graph.num_edges,
                "saved_mb": saved / 2**20,
                "step_ms": timing["step_ms"],
                "peak_mem_gb": timing["peak_mem_gb"],
                "steps": steps,
                "seed": seed,
                **env,
            }
            if name == "resgcn":
                base = rec
            for key, ratio in (
                ("saved_mb", "saved_ratio"),
                ("step_ms", "step_ratio"),
                ("peak_mem_gb", "peak_ratio"),
            ):
                rec[ratio] = rec[key] / base[key] if base and base.get(key) else None
            records.append(rec)
            log.info(
                "%s L=%d: saved %.1f MB, %.1f ms/step", name, depth, rec["saved_mb"], rec["step_ms"]
            )
            del model, params
            gc.collect()
            if dev.type == "cuda":
                torch.cuda.empty_cache()
    return records
