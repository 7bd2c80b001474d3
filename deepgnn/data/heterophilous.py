"""The heterophilous-graph benchmark of Platonov et al. (ICLR 2023), from its ``.npz`` files.

O. Platonov, D. Kuznedelev, M. Diskin, A. Babenko, L. Prokhorenkova, "A critical look at the
evaluation of GNNs under heterophily: Are we really making progress?", ICLR 2023. The files
are those of GitHub ``yandex-research/heterophilous-graphs`` (``data/<name>.npz``): plain
arrays, read with ``numpy.load(allow_pickle=False)``.

Each file holds ``node_features`` (float, N × F), ``node_labels`` (int, N), ``edges``
(int, E × 2, each undirected edge once) and ten fixed splits ``train_masks``/``val_masks``/
``test_masks`` (bool, 10 × N). As in the source repository's loader, the graph is made
bidirected, and 2-class datasets are scored by ROC-AUC, the others by accuracy. The
``*_directed`` files of that repository are not offered: :class:`~deepgnn.Graph` is
undirected, so they would give the same graphs as their undirected versions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from deepgnn.data._dataset import Dataset
from deepgnn.data._files import count_classes, find_in_root, integral, plain_arrays, reading
from deepgnn.graph import Graph

__all__ = ["NAMES", "load_heterophilous"]

#: Registry names (dashes, as in the paper) of the undirected files of the collection.
NAMES: tuple[str, ...] = (
    "roman-empire",
    "amazon-ratings",
    "minesweeper",
    "tolokers",
    "questions",
    "chameleon",
    "squirrel",
    "chameleon-filtered",
    "squirrel-filtered",
    "actor",
    "texas",
    "texas-4-classes",
    "cornell",
    "wisconsin",
)

_KEYS = ("node_features", "node_labels", "edges", "train_masks", "val_masks", "test_masks")
_SOURCE = "https://github.com/yandex-research/heterophilous-graphs/tree/main/data"


def find_file(root: Path, name: str) -> Path:
    """Return ``root/heterophilous/<file>.npz`` or ``root/<file>.npz`` (``file`` uses ``_``).

    Raises:
        FileNotFoundError: neither exists; the message names both places and the source.
    """
    file = name.replace("-", "_") + ".npz"
    fix = f"download {file} from {_SOURCE} into {root / 'heterophilous'}"
    return find_in_root(root, "heterophilous", file, dataset=name, fix=fix)


def load_heterophilous(root: str | Path, name: str) -> Dataset:
    """Load the Platonov et al. (ICLR 2023) dataset ``name`` with its ten splits.

    Args:
        root: folder holding ``heterophilous/<file>.npz`` or ``<file>.npz``.
        name: a name of :data:`NAMES` (``-`` or ``_`` both accepted).

    Returns:
        A :class:`~deepgnn.data.Dataset` with ``num_splits == 10``; ``metric`` is
        ``"rocauc"`` for 2-class datasets (``minesweeper``, ``tolokers``, ``questions``)
        and ``"accuracy"`` otherwise.

    Raises:
        FileNotFoundError: the file is absent (the message says where it was looked for).
        ValueError: the file is truncated or corrupt, lacks one of the arrays of the format,
            holds non-integral ids or labels, labels no node, or its arrays disagree in size
            (the message names the file and where to download it again).
    """
    name = name.replace("_", "-")
    path = find_file(Path(root), name)
    fix = f"re-download {path.name} from {_SOURCE}"
    with reading(path, fix=fix):
        with np.load(path, allow_pickle=False) as z:
            files = z.files
            arrays = plain_arrays(z, [k for k in _KEYS if k in files])
    missing = [k for k in _KEYS if k not in files]
    if missing:
        raise ValueError(
            f"{path} lacks {missing}; a file of the Platonov et al. benchmark holds "
            f"{list(_KEYS)}: {fix}"
        )
    edges = integral(arrays["edges"], "edges", path=path, fix=fix)
    labels = integral(arrays["node_labels"], "node_labels", path=path, fix=fix)
    with reading(path, fix=fix):
        x = arrays["node_features"].astype(np.float32)
        y = labels.reshape(-1)
        n = len(y)
        masks = [torch.from_numpy(arrays[k].astype(bool)) for k in _KEYS[3:]]
    if x.ndim != 2 or x.shape[0] != n or any(m.shape[-1] != n for m in masks):
        raise ValueError(
            f"{path}: node_features has shape {x.shape}, node_labels {n} entries and the masks "
            f"{[m.shape[-1] for m in masks]} columns; the file is corrupt: {fix}"
        )
    num_classes = count_classes(y, path=path, fix=fix)
    train, val, test = (m.reshape(-1, n) for m in masks)
    with reading(path, fix=fix):
        graph = Graph(torch.from_numpy(edges.T), num_nodes=n)
    return Dataset(
        name,
        graph,
        torch.from_numpy(x),
        torch.from_numpy(y),
        train,
        val,
        test,
        num_classes=num_classes,
        metric="rocauc" if num_classes == 2 else "accuracy",
    )
