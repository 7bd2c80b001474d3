r"""Activation memory at depth: checkpointed segments of the depth loop.

``build(..., checkpoint=k)`` runs the hidden layers in segments of ``k`` under
``torch.utils.checkpoint`` (non-reentrant): a segment keeps only its input for backward and
recomputes its layers there, so the activations held between forward and backward fall from
one set per layer to one per segment plus one segment's worth during its recomputation
(``k = sqrt(H)`` for ``H`` layers: :math:`O(\sqrt H)` instead of :math:`O(H)`; Chen, Xu,
Zhang, Guestrin, "Training Deep Nets with Sublinear Memory Cost", arXiv 1604.06174, 2016).
"""

from __future__ import annotations

import contextlib
import math
import numbers
from collections.abc import Callable

from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint as _torch_checkpoint

__all__ = ["check_checkpoint", "segment_length", "frozen_running_stats", "run_segments"]


def check_checkpoint(value: object) -> int | bool | None:
    """Return ``value`` as a checkpoint setting (``None``, ``True`` or a segment length).

    ``None`` and ``False`` turn checkpointing off; ``True`` asks for segments of
    ``ceil(sqrt(layers))`` layers; an int ``k >= 1`` for segments of ``k`` layers.
    """
    if value is None or value is False:
        return None
    if value is True:
        return True
    if not isinstance(value, numbers.Integral):
        raise TypeError(
            f"checkpoint must be None, True or an int segment length, got "
            f"{type(value).__name__} {value!r}; pass e.g. checkpoint=8 or checkpoint=True"
        )
    if value < 1:
        raise ValueError(
            f"checkpoint={value} is not a segment length; pass an int >= 1 (layers per "
            "recomputed segment), True for sqrt(depth) layers, or None to store every layer"
        )
    return int(value)


def segment_length(setting: int | bool | None, layers: int) -> int:
    """Layers per checkpointed segment for ``layers`` hidden layers, 0 when off."""
    if setting is None or layers == 0:
        return 0
    if setting is True:
        return max(1, math.ceil(math.sqrt(layers)))
    return min(int(setting), layers)


def _batch_norms(module: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [
        m
        for m in module.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training and m.track_running_stats
    ]


class frozen_running_stats:  # noqa: N801 -- used like a function: with frozen_running_stats(...)
    """Run a recomputation without updating BatchNorm running statistics a second time.

    In training mode a recomputed ``BatchNorm`` computes the same output (it normalizes by the
    batch's statistics), but it would also fold the batch into ``running_mean`` /
    ``running_var`` once more. The recomputation updates fresh copies instead, which the
    autograd graph may keep; the module gets its own buffers back, untouched, afterwards.
    Re-enterable: a double backward recomputes a checkpointed segment more than once.
    """

    def __init__(self, modules: list[nn.Module]) -> None:
        self.modules = modules
        self.saved: list[tuple[nn.modules.batchnorm._BatchNorm, Tensor, Tensor, Tensor]] = []

    def __enter__(self) -> None:
        for m in self.modules:
            for bn in _batch_norms(m):
                mean, var, count = bn.running_mean, bn.running_var, bn.num_batches_tracked
                # _batch_norms keeps modules with track_running_stats, which hold all three
                assert mean is not None and var is not None and count is not None
                self.saved.append((bn, mean, var, count))
                bn.running_mean = mean.clone()
                bn.running_var = var.clone()
                bn.num_batches_tracked = count.clone()

    def __exit__(self, *exc: object) -> None:
        for bn, mean, var, count in self.saved:
            bn.running_mean, bn.running_var, bn.num_batches_tracked = mean, var, count
        self.saved = []


def run_segments(
    layer: Callable[[int, Tensor], Tensor],
    h: Tensor,
    layers: int,
    length: int,
    modules: list[nn.Module],
) -> Tensor:
    """Apply ``h = layer(i, h)`` for ``i < layers`` in checkpointed segments of ``length``.

    The RNG state (CPU, and the device's when it is initialized) is stashed per segment and
    restored for its recomputation, so dropout draws the same masks in backward as in forward.
    Non-reentrant checkpointing differentiates twice (``create_graph=True``) and through the
    SpMM's own autograd function.

    Args:
        layer: ``(i, h) -> h``, hidden layer ``i`` and its combine.
        h: the input of layer 0, ``(num_nodes, width)``.
        layers: the number of hidden layers.
        length: layers per segment, ``>= 1``.
        modules: the modules whose BatchNorms a recomputation must not update again.
    """

    def segment(h: Tensor, start: int, stop: int) -> Tensor:
        for i in range(start, stop):
            h = layer(i, h)
        return h

    def contexts() -> tuple[contextlib.AbstractContextManager, contextlib.AbstractContextManager]:
        return contextlib.nullcontext(), frozen_running_stats(modules)

    for start in range(0, layers, length):
        stop = min(start + length, layers)
        h = _torch_checkpoint(segment, h, start, stop, use_reentrant=False, context_fn=contexts)
    return h
