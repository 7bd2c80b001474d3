r"""Full-batch training with the graph's rows split across processes (``torch.distributed``).

Every process loads the whole :class:`~deepgnn.Graph`, all of them make the same
:func:`partition` of its rows, and each keeps its rows of :math:`\hat A` as a
:class:`DistributedGraph`, which a model takes in place of the graph. Each layer's
``graph.spmm`` then exchanges only the halo rows (the other ranks' rows its rows have a
nonzero in), forward and backward, through ``all_to_all_single`` (gloo on CPUs, nccl on GPUs).

============================  =========================================================
step                          call
============================  =========================================================
split the rows                ``part = partition(graph, world_size, method="metis")``
this rank's rows              ``g = DistributedGraph(graph, part, device=...)``;
                              ``x, y, m = g.local(ds.x), g.local(ds.y), g.local(mask)``
same start on every rank      ``check_model(model)``; ``broadcast_parameters_(model, g)``
loss over the global mask     ``share = cross_entropy(model(g, x), y, m, g)``;
                              ``share.backward()``
the single-device gradient    ``all_reduce_gradients_(model, g)``; ``optimizer.step()``
============================  =========================================================

``docs/scaling.md`` describes the design, the measured halo traffic and the expected step times.
"""

from __future__ import annotations

from deepgnn.distributed.graph import DistributedGraph, check_model
from deepgnn.distributed.partition import METHODS, Partition, partition
from deepgnn.distributed.training import (
    all_reduce_gradients_,
    broadcast_parameters_,
    cross_entropy,
)

__all__ = [
    "METHODS",
    "DistributedGraph",
    "Partition",
    "all_reduce_gradients_",
    "broadcast_parameters_",
    "check_model",
    "cross_entropy",
    "partition",
]
