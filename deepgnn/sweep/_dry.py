"""Checks of a sweep config that run the library on tiny inputs, so that a bad value fails on
load instead of in every cell at run time: a depth-1 model per combination of a family's
settings, each initialization scheme applied to it with the file's options, the record
against the datasets' task, and split indices against the datasets' number of splits."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import torch

from deepgnn import adapters, data, experiment, init, models, train
from deepgnn.graph import Graph

__all__ = [
    "check_factories",
    "check_record",
    "check_splits",
    "check_train_task",
    "tiny_models",
    "try_init",
]

_TINY_GRAPH = Graph(torch.tensor([[0, 1], [1, 2]]), num_nodes=3)


def tiny_models(
    family: str, axes: Mapping[str, Sequence[Any]], *, depth: int = 1
) -> Iterator[models.GNN]:
    """A depth-1 model on 3 features and 2 classes for every combination of ``axes`` (the
    family's settings, ``width`` among them: GAT needs it divisible by ``heads``).

    A factory (``"package.module:function"``) builds at ``depth`` (the sweep's smallest) and
    runs once on a 3-node graph, so that its layers are read and called as wrap needs.

    Raises:
        ValueError, TypeError: :func:`deepgnn.build`'s, the factory's or the adapter's,
            naming the setting or the layer.
    """
    for combo in itertools.product(*axes.values()):
        options = dict(zip(axes, combo))
        if not adapters.is_factory(family):
            yield models.build(family, 3, 2, 1, **options)
            continue
        net = adapters.from_factory(family, 3, 2, depth, **options)
        net.eval()
        with torch.no_grad():
            net.hidden_states(_TINY_GRAPH, torch.ones(3, 3, dtype=_dtype(net)))
        yield net


def _dtype(net: models.GNN) -> torch.dtype:
    param = next(net.parameters(), None)
    return torch.float32 if param is None else param.dtype


def check_factories(datasets: Sequence[str], families: Sequence[str]) -> None:
    """Factories build node classifiers.

    Raises:
        ValueError: a factory is swept over a graph-classification dataset.
    """
    factories = [f for f in families if adapters.is_factory(f)]
    graph_sets = [n for n in datasets if data.task(n) == "graph"]
    if factories and graph_sets:
        raise ValueError(
            f"[model] factory {factories} builds node classifiers, but {graph_sets} are "
            "graph-classification datasets; sweep those with deepgnn's families"
        )


def try_init(
    scheme: str,
    options: Mapping[str, Any],
    family: str,
    axes: Mapping[str, Sequence[Any]],
    *,
    depth: int = 1,
) -> None:
    """Initialize a tiny model of every combination of ``family``'s settings with ``scheme``
    and ``options`` as a cell does (a ``nonlinearity`` left unset is the model's activation).

    Raises:
        ValueError, TypeError: the scheme's own checks, e.g. ``nonlinearity='tanhh' is not one
            of [...]``.
    """
    accepted = init.options(scheme)
    for net in tiny_models(family, axes, depth=depth):
        kw = dict(options)
        if "nonlinearity" in accepted and "nonlinearity" not in kw:
            kw["nonlinearity"] = net.activation
        if "generator" in accepted:
            kw["generator"] = torch.Generator().manual_seed(0)
        init.init_(net, scheme, graph=_TINY_GRAPH, x=torch.ones(3, 3, dtype=_dtype(net)), **kw)


def check_record(datasets: Sequence[str], record: Sequence[str]) -> None:
    """Signal recording and saved models are for node datasets: the summary is measured on
    node embeddings, and a graph cell's encoder and head are not kept.

    Raises:
        ValueError: ``record`` asks for a signal summary of a graph-classification dataset.
    """
    signals = [r for r in record if r.startswith("signal_")]
    graph_sets = [n for n in datasets if data.task(n) == "graph"]
    if signals and graph_sets:
        raise ValueError(
            f"record lists {signals}, but {graph_sets} are graph-classification datasets, whose "
            "cells record no signal summary (it is measured on node embeddings); drop "
            f"{signals} from record or sweep those datasets on their own"
        )
    if "models" in record and graph_sets:
        raise ValueError(
            f"record lists 'models', but {graph_sets} are graph-classification datasets, whose "
            "cells save no models (their encoder and head are not kept); drop 'models' from "
            "record or sweep those datasets on their own"
        )


def check_train_task(datasets: Sequence[str], keys: Sequence[str]) -> None:
    """``[train]`` keys against each dataset's trainer: :func:`~deepgnn.train.train_node` for
    node classification, :func:`~deepgnn.train.train_graph` for graph classification (the
    molecule datasets, and those registered with ``task="graph"``).

    Raises:
        ValueError: a key the dataset's trainer does not take, naming the key, the dataset,
            its task and the keys it takes.
    """
    for name in datasets:
        task = data.task(name)
        accepted = set(train.options(task)) - experiment.MANAGED
        foreign = [k for k in keys if k not in accepted]
        if foreign:
            what = "graph classification" if task == "graph" else "node classification"
            raise ValueError(
                f"[train] {', '.join(foreign)} {'does' if len(foreign) == 1 else 'do'} not apply "
                f"to {name} ({what}, train_{task} takes {sorted(accepted)}); drop "
                f"{'it' if len(foreign) == 1 else 'them'}, or sweep {name} in a config of its own"
            )


def check_splits(datasets: Sequence[str], root: str | None, splits: Sequence[Any]) -> None:
    """Split indices against each node dataset's number of splits, known once it is loaded:
    only when an index is given, and a dataset that cannot be loaded here (a missing file) is
    left to fail in its cells, where the error is recorded.

    Raises:
        ValueError: an index is not below a dataset's number of splits.
    """
    given = [v for v in splits if isinstance(v, int) and not isinstance(v, bool)]
    if not given:
        return
    for name in datasets:
        if data.task(name) == "graph":
            continue
        try:
            n = data._load_nodes(name, root=root, what="a split index").num_splits
        except (OSError, ImportError, ValueError):
            continue
        if max(given) >= n:
            raise ValueError(
                f"[train] split={max(given)} is out of range: {name} has {n} split(s), "
                f'0..{n - 1}; pass split indices below {n}, or split = "seed" (a cell of seed '
                "s uses split s mod the number of splits)"
            )
