"""What the init schemes share: argument checks and the in-place drawing of layer weights.

Internal to :mod:`deepgnn.init` and its scheme modules; the public names live there.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal, cast

import torch
from torch import Tensor

from deepgnn._checks import check_choice, check_real
from deepgnn.graph import Graph, as_graph
from deepgnn.models import GNN, LayerWeight

__all__ = [
    "BIAS",
    "DISTRIBUTIONS",
    "LAYERS",
    "MODES",
    "activation_gain",
    "apply_",
    "check_common",
    "check_graph",
    "check_model",
    "check_spread",
    "draw_",
    "fill_",
    "finish_",
    "reset_gates_",
]

DISTRIBUTIONS = ("uniform", "normal")
BIAS = ("zeros", "keep")
MODES = ("fan_in", "fan_out")
LAYERS = ("all", "conv")


def _type_error(arg: str, value: object, spelled: str, fix: str) -> TypeError:
    return TypeError(f"{arg} must be a {spelled}, got {type(value).__name__}; {fix}")


def check_model(model: object) -> GNN:
    if not isinstance(model, GNN):
        fix = "build one with deepgnn.build(...), or view your own model with deepgnn.wrap(model)"
        raise _type_error("model", model, "deepgnn.models.GNN", fix)
    return model


def activation_gain(nonlinearity: str, negative_slope: float | None = None) -> float:
    choices = ("linear", "identity", "sigmoid", "tanh", "relu", "leaky_relu", "selu")
    check_choice("nonlinearity", nonlinearity, choices)
    if negative_slope is not None:
        negative_slope = check_real("negative_slope", negative_slope, example="0.01")
    if nonlinearity == "identity":
        return 1.0
    # check_choice above narrowed the name to calculate_gain's own
    gain_name = cast(
        Literal["linear", "sigmoid", "tanh", "relu", "leaky_relu", "selu"], nonlinearity
    )
    return torch.nn.init.calculate_gain(gain_name, negative_slope)


def fill_(w: Tensor, sample: Callable[[Tensor], object]) -> None:
    """Run ``sample`` (an in-place drawing such as ``t.uniform_``) on ``w`` in its logical
    ``(out, in)`` order. DGL's ``GraphConv.weight`` is ``(in, out)``, and a layer hands its
    transpose: drawn in place, the view would get the same numbers in its storage's order,
    other weights than the torch backend's for the same generator."""
    if w.is_contiguous():
        sample(w)
        return
    dense = torch.empty(w.shape, dtype=w.dtype, device=w.device)
    sample(dense)
    w.copy_(dense)


def draw_(w: Tensor, std: float, distribution: str, generator: torch.Generator | None) -> None:
    """Fill ``w`` with mean-zero samples of standard deviation ``std`` (in ``(out, in)`` order:
    both backends draw the same weights from one generator)."""
    if distribution == "uniform":
        bound = math.sqrt(3.0) * std
        fill_(w, lambda t: t.uniform_(-bound, bound, generator=generator))
    else:
        fill_(w, lambda t: t.normal_(0.0, std, generator=generator))


def check_spread(model: GNN, arg: str, value: float, largest: float) -> None:
    """Raise naming ``arg`` when weights reaching ``largest`` overflow the model's dtype."""
    lws = model.layer_weights()
    if not lws:
        return
    finfo = torch.finfo(lws[0].weight.dtype)
    if not largest < finfo.max:
        raise ValueError(
            f"{arg}={value:g} draws weights up to {largest:g}, beyond the {finfo.max:.3g} of "
            f"{lws[0].weight.dtype}; pass a smaller {arg}"
        )


def finish_(lw: LayerWeight, bias: str) -> None:
    if lw.bias is not None and bias == "zeros":
        lw.bias.zero_()


def reset_gates_(model: GNN) -> None:
    gates = model.gates()
    if gates:
        # Authors' code: gatResGCN starts alpha = beta = 1, RezeroGCN alpha = 0, beta = 1.
        gates["alpha"].fill_(0.0 if model.family == "rezero" else 1.0)
        gates["beta"].fill_(1.0)


def apply_(
    model: GNN,
    stds: Sequence[float],
    distribution: str,
    bias: str,
    generator: torch.Generator | None,
    layers: str = "all",
) -> GNN:
    with torch.no_grad():
        for lw, std in zip(model.layer_weights(), stds):
            if layers == "all" or lw.kind == "conv":
                draw_(lw.weight, std, distribution, generator)
                finish_(lw, bias)
        reset_gates_(model)
    return model


def check_common(distribution: str, bias: str) -> None:
    check_choice("distribution", distribution, DISTRIBUTIONS)
    check_choice("bias", bias, BIAS)


def check_graph(graph: object) -> Graph:
    return as_graph(graph)
