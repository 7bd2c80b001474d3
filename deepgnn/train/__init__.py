"""Trainers: full-batch node classification and mini-batch graph classification.

Both take a built model, a dataset and an optional initialization (a name from
:func:`deepgnn.init.available` or a callable), so a depth x init study is a loop over
``train_node(...)``. Every run trains on the training split, picks the epoch with the best
validation metric and reports the test metric at that epoch (the protocol of OGB's examples);
its optimizer settings come from a named protocol (:mod:`deepgnn.train.protocols`) resolved for
the model's depth. Every result says whether the model trained at all
(:attr:`TrainResult.untrained`, :func:`is_untrained`).
"""

from __future__ import annotations

import inspect
from typing import Any

from deepgnn._checks import check_choice
from deepgnn.train import protocols
from deepgnn.train._graph import GraphClassifier, train_graph
from deepgnn.train._loop import (
    SCHEDULES,
    UNTRAINED_FRACTION,
    TrainResult,
    check_options,
    is_untrained,
)
from deepgnn.train._node import train_node
from deepgnn.train.protocols import Protocol

__all__ = [
    "SCHEDULES",
    "UNTRAINED_FRACTION",
    "GraphClassifier",
    "Protocol",
    "TrainResult",
    "check_options",
    "is_untrained",
    "options",
    "protocols",
    "train_graph",
    "train_node",
]


def options(task: str = "node") -> dict[str, Any]:
    """Return the keyword options of :func:`train_node` (``task="node"``) or :func:`train_graph`
    (``"graph"``) with their defaults (``None`` / ``"protocol"``: the protocol's value).

    Example:
        >>> options("node")["protocol"], options("graph")["lr"]
        (None, 0.001)
    """
    check_choice("task", task, ("node", "graph"))
    fn = train_node if task == "node" else train_graph
    params = inspect.signature(fn).parameters.values()
    return {p.name: p.default for p in params if p.kind is p.KEYWORD_ONLY}
