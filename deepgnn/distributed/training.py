"""A training step over ranks: the loss over the global mask and the gradients' all-reduce."""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from deepgnn.distributed.graph import DistributedGraph, check_model

__all__ = ["all_reduce_gradients_", "broadcast_parameters_", "cross_entropy"]


def cross_entropy(logits: Tensor, y: Tensor, mask: Tensor, graph: DistributedGraph) -> Tensor:
    r"""Return this rank's share of the cross-entropy averaged over the *global* mask.

    .. math:: \ell_r = \frac{1}{|M|} \sum_{i \in M \cap V_r} -\log \mathrm{softmax}(z_i)_{y_i}

    where :math:`M` is the mask over the whole graph and :math:`V_r` this rank's rows, so
    :math:`\sum_r \ell_r` is the single-device ``F.cross_entropy(logits[mask], y[mask])``.
    Call ``.backward()`` on the share on every rank (also on ranks with no masked row: the
    backward's halo exchange is a collective), then :func:`all_reduce_gradients_`;
    ``graph.sum(share)`` gives the whole loss. Costs one ``all_reduce`` of the mask count.

    Args:
        logits: this rank's rows, ``(num_nodes, num_classes)``.
        y: this rank's labels, integer ``(num_nodes,)``.
        mask: this rank's rows of the mask, bool ``(num_nodes,)``.
        graph: the :class:`DistributedGraph` the model ran on.

    Raises:
        ValueError: shapes that are not this rank's rows, a non-bool mask, or an empty
            global mask.
    """
    if not isinstance(graph, DistributedGraph):
        raise TypeError(f"graph must be a DistributedGraph, got {type(graph).__name__}")
    n = graph.num_nodes
    for arg, t in (("logits", logits), ("y", y), ("mask", mask)):
        if not isinstance(t, Tensor) or t.dim() == 0 or t.shape[0] != n:
            shape = tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__
            raise ValueError(
                f"{arg} must hold rank {graph.rank}'s rows (first dimension num_nodes={n}), got "
                f"{shape}; cut whole-graph tensors with graph.local({arg})"
            )
    if mask.dtype != torch.bool:
        raise ValueError(f"mask has dtype {mask.dtype}; pass a bool mask, e.g. mask.bool()")
    total = int(graph.sum(mask.sum()).item())
    if total == 0:
        raise ValueError("mask selects no node on any rank; pass a mask with training nodes")
    return F.cross_entropy(logits[mask], y[mask], reduction="sum") / total


def all_reduce_gradients_(model: nn.Module, graph: DistributedGraph) -> nn.Module:
    """Sum every parameter's gradient over the ranks, in place; returns ``model``.

    After each rank's ``backward`` of its :func:`cross_entropy` share, a parameter's gradient
    on rank ``r`` holds the part of the whole loss's gradient that flows through rank ``r``'s
    rows; the sum is the single-device gradient, the same on every rank, so identical
    optimizers keep identical parameters. One ``all_reduce`` of the gradients flattened into
    one buffer. Every rank must hold gradients for the same parameters (it does when all ran
    the same model).

    Raises:
        ValueError: the model fails :func:`check_model`.
    """
    check_model(model)
    if not isinstance(graph, DistributedGraph):
        raise TypeError(f"graph must be a DistributedGraph, got {type(graph).__name__}")
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    if not grads or graph.world_size == 1:
        return model
    dev = graph._comm_device()
    flat = torch.cat([g.reshape(-1).to(dev) for g in grads])
    dist.all_reduce(flat, group=graph.group)
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()
    return model


def broadcast_parameters_(model: nn.Module, graph: DistributedGraph, *, src: int = 0) -> nn.Module:
    """Copy rank ``src``'s parameters and buffers to every rank, in place; returns ``model``.

    Call it once after initialization, so that every rank starts from the same model whatever
    its random state.
    """
    if not isinstance(graph, DistributedGraph):
        raise TypeError(f"graph must be a DistributedGraph, got {type(graph).__name__}")
    if not 0 <= src < graph.world_size:
        raise ValueError(f"src={src} is not a rank of world_size={graph.world_size}")
    dev = graph._comm_device()
    with torch.no_grad():
        for t in [*model.parameters(), *model.buffers()]:
            buf = t.detach().to(dev, copy=True)
            dist.broadcast(buf, group=graph.group, group_src=src)
            t.copy_(buf)
    return model
