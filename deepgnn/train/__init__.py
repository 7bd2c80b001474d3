"""Trainers: full-batch node classification and mini-batch graph classification.

Both take a built model, a dataset and an optional initialization (a name from
:func:`deepgnn.init.available` or a callable), so a depth x init study is a loop over
``train_node(...)``. Every run trains on the training split, picks the epoch with the best
validation metric and reports the test metric at that epoch (the protocol of OGB's examples);
its optimizer settings come from a named protocol (:mod:`deepgnn.train.protocols`) resolved for
the model's depth. Every result says whether the model trained at all
(:attr:`TrainResult.untrained`, :func:`is_untrained`). :func:`train_node_batched` trains many
runs of one architecture on one dataset together, each as ``train_node`` trains it alone.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

from deepgnn._checks import check_choice
from deepgnn._io import jsonable
from deepgnn.train import protocols
from deepgnn.train._batched import BATCHED_FAMILIES, batch_obstacle, train_node_batched
from deepgnn.train._graph import GraphClassifier, train_graph
from deepgnn.train._loop import (
    BUDGET_FRACTION,
    FIT_FRACTION,
    SCHEDULES,
    UNTRAINED_FRACTION,
    TrainResult,
    check_options,
    is_budget_limited,
    is_fitted,
    is_untrained,
    resolve,
    verdicts,
)
from deepgnn.train._node import train_node
from deepgnn.train._precision import PRECISIONS
from deepgnn.train.protocols import Protocol

__all__ = [
    "BATCHED_FAMILIES",
    "PRECISIONS",
    "SCHEDULES",
    "UNTRAINED_FRACTION",
    "BUDGET_FRACTION",
    "FIT_FRACTION",
    "GraphClassifier",
    "Protocol",
    "TrainResult",
    "batch_obstacle",
    "check_options",
    "is_budget_limited",
    "is_fitted",
    "is_untrained",
    "options",
    "protocols",
    "resolve_options",
    "train_graph",
    "train_node",
    "train_node_batched",
    "verdicts",
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


#: Keywords of the trainers that say where and how a run happens, not what it computes.
#: ``restore_best`` decides which weights the model keeps after the run, not the result's
#: numbers: :func:`deepgnn.experiment.resolve_cell` adds it where a cell measures those weights.
#: ``precision`` does change the numbers, but its default, ``"fp32"``, is how every run before
#: it computed: merged as a default it would change every sweep's cell keys, so
#: :func:`resolve_options` adds it only when it is given and not ``"fp32"``.
_NOT_SETTINGS = (
    "init",
    "init_options",
    "device",
    "seed",
    "progress",
    "on_epoch",
    "restore_best",
    "precision",
)


def resolve_options(
    task: str = "node", *, depth: int, family: str | None = None, **settings: Any
) -> dict[str, Any]:
    """Return every training setting a run takes, the protocol and the defaults applied.

    The keyword options of :func:`train_node` (``task="node"``) or :func:`train_graph`
    (``"graph"``) with their defaults, overridden by ``settings``; for node tasks the
    protocol (:mod:`deepgnn.train.protocols`, ``None``: ``"kipf"``) resolved for ``depth``
    and ``family`` fills ``epochs``, ``lr``, ``weight_decay``, ``patience``, ``betas`` and
    ``dropout`` where ``settings`` leaves them to it, as the trainer does. Values are plain
    JSON-able ones: a sweep hashes them into its cell keys, so that a change of a protocol's
    table makes new cells instead of passing old results off as current. ``init``,
    ``device``, ``seed`` and the like are not settings and are left out, and so are
    ``restore_best`` (it changes the weights the model ends with, not the result). A
    ``precision`` other than ``"fp32"`` is a setting; ``"fp32"``, the default and how every
    run before the option computed, is left out, so that the keys of cells trained before it
    existed stay.

    Raises:
        ValueError: an unknown task or option, or a bad value (as the trainer would raise).

    Example:
        >>> r = resolve_options("node", depth=32, family="gcn", protocol="spoginit-paper")
        >>> r["protocol"], r["lr"], r["dropout"], r["epochs"], r["patience"], r["betas"]
        ('spoginit-paper', 0.0005, 0.0, 1000, None, [0.9, 0.9995])
        >>> resolve_options("node", depth=32, family="resgcn", protocol="spoginit-paper")["lr"]
        0.005
        >>> "precision" in resolve_options("node", depth=2, precision="fp32")
        False
        >>> resolve_options("node", depth=2, precision="bf16")["precision"]
        'bf16'
    """
    defaults = options(task)
    unknown = sorted(set(settings) - set(defaults))
    if unknown:
        raise ValueError(
            f"train options {unknown} do not apply to {task} tasks; its options are "
            f"{sorted(set(defaults) - set(_NOT_SETTINGS))}"
        )
    merged = {k: settings.get(k, v) for k, v in defaults.items() if k not in _NOT_SETTINGS}
    precision = settings.get("precision", "fp32")
    if precision != "fp32":
        check_options(precision=precision)
        merged["precision"] = precision
    if task == "node":
        resolved = resolve(
            depth,
            family,
            merged["protocol"],
            epochs=merged["epochs"],
            lr=merged["lr"],
            weight_decay=merged["weight_decay"],
            patience=merged["patience"],
            betas=merged["betas"],
            dropout=merged["dropout"],
            schedule=merged["schedule"],
        )
        merged.update(dataclasses.asdict(resolved))
    return {k: jsonable(v) for k, v in sorted(merged.items())}
