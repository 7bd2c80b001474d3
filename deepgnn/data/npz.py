"""A node dataset of your own in one ``.npz`` file of plain arrays.

The layout (:data:`LAYOUT`), read without unpickling (``allow_pickle=False``):

============================  =========================================================
array                         shape and meaning
============================  =========================================================
``features``                  float ``(num_nodes, num_features)``
``labels``                    int ``(num_nodes,)``, class ids ``0..C-1``; ``-1``: no label
``edges``                     int ``(2, num_edges)`` or ``(num_edges, 2)``, node ids;
                              directed edges are made undirected (:class:`~deepgnn.Graph`)
``train_mask``, ``val_mask``,  bool ``(num_nodes,)`` for one split, or
``test_mask``                 ``(num_splits, num_nodes)``
``edge_weight`` (optional)    float ``(num_edges,)``, positive
============================  =========================================================

``deepgnn.data.load("my_graph.npz")`` reads it (a name ending in ``.npz`` is a path:
absolute, or relative to ``root`` when given, else to the current folder), and so does a
sweep's ``[data] name = "my_graph.npz"``. :func:`save_npz` writes a
:class:`~deepgnn.data.Dataset` in this layout.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from deepgnn._io import write_atomic
from deepgnn.data._dataset import Dataset
from deepgnn.data._files import count_classes, integral, plain_arrays, reading
from deepgnn.graph import Graph

__all__ = ["LAYOUT", "load_npz", "save_npz"]

#: The arrays of the layout; ``edge_weight`` is optional.
LAYOUT = ("features", "labels", "edges", "train_mask", "val_mask", "test_mask")
_FIX = (
    "write it with deepgnn.data.save_npz(dataset, path), or np.savez(path, features=..., "
    "labels=..., edges=..., train_mask=..., val_mask=..., test_mask=...)"
)


def load_npz(path: str | Path, *, name: str | None = None) -> Dataset:
    """Read a node dataset from an ``.npz`` file in the layout of this module.

    Args:
        path: the file.
        name: the dataset's name (default: the file name without ``.npz``).

    Returns:
        A :class:`~deepgnn.data.Dataset`; its ``num_classes`` is the largest label + 1.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: an array is missing, of the wrong shape or kind, or the file is not an
            ``.npz`` of plain arrays (the message names the file, the array and the layout).

    Example:
        >>> import tempfile, pathlib, deepgnn
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "mine.npz"
        >>> _ = save_npz(deepgnn.data.load("cora"), path)
        >>> ds = load_npz(path)
        >>> ds.name, ds.num_nodes, ds.num_classes, int(ds.train_mask.sum())
        ('mine', 2708, 7, 140)
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"dataset file {str(path)!r} does not exist; {_FIX}")
    with reading(path, fix=_FIX), np.load(path, allow_pickle=False) as z:
        files = set(z.files)
        missing = [k for k in LAYOUT if k not in files]
        arrays = plain_arrays(z, [k for k in (*LAYOUT, "edge_weight") if k in files])
    if missing:
        raise ValueError(f"{path} lacks {missing} (it holds {sorted(files)}); {_FIX}")
    x = arrays["features"]
    if x.ndim != 2 or x.dtype.kind not in "fiub":
        raise ValueError(
            f"{path}: features has dtype {x.dtype} and shape {x.shape}; pass numbers of shape "
            "(num_nodes, num_features)"
        )
    n = x.shape[0]
    labels = integral(arrays["labels"], "labels", path=path, fix=_FIX).reshape(-1)
    if labels.shape != (n,):
        raise ValueError(
            f"{path}: labels has {labels.size} entries for {n} nodes (rows of features)"
        )
    num_classes = count_classes(labels, path=path, fix=_FIX)
    edges = integral(arrays["edges"], "edges", path=path, fix=_FIX)
    if edges.ndim != 2 or 2 not in edges.shape:
        raise ValueError(
            f"{path}: edges has shape {edges.shape}; pass (2, num_edges) or (num_edges, 2)"
        )
    if edges.shape[0] != 2:
        edges = edges.T
    masks = {}
    for key in ("train_mask", "val_mask", "test_mask"):
        m = arrays[key]
        if m.dtype != bool:
            raise ValueError(f"{path}: {key} has dtype {m.dtype}; pass a bool mask")
        masks[key] = torch.from_numpy(np.ascontiguousarray(m))
    weight = arrays.get("edge_weight")
    try:
        graph = Graph(
            torch.from_numpy(np.ascontiguousarray(edges)),
            num_nodes=n,
            edge_weight=None if weight is None else torch.from_numpy(weight.astype(np.float64)),
        )
        return Dataset(
            name if name is not None else path.name.removesuffix(".npz"),
            graph,
            torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)),
            torch.from_numpy(labels),
            masks["train_mask"],
            masks["val_mask"],
            masks["test_mask"],
            num_classes=num_classes,
        )
    except (ValueError, TypeError) as err:
        raise ValueError(f"{path}: {err}") from None


def save_npz(dataset: Dataset, path: str | Path) -> Path:
    """Write ``dataset`` (a node :class:`~deepgnn.data.Dataset`) in this module's layout,
    atomically; :func:`load_npz` reads it back. Edges are written once each (``i < j``)."""
    if not isinstance(dataset, Dataset):
        raise TypeError(f"dataset must be a deepgnn.data.Dataset, got {type(dataset).__name__}")
    rows, cols = dataset.graph.edge_index.cpu().numpy()
    once = rows < cols
    arrays = {
        "features": dataset.x.detach().cpu().numpy(),
        "labels": dataset.y.cpu().numpy(),
        "edges": np.stack([rows[once], cols[once]]),
        "edge_weight": dataset.graph.edge_weight.cpu().numpy()[once],
        "train_mask": dataset.train_masks.cpu().numpy(),
        "val_mask": dataset.val_masks.cpu().numpy(),
        "test_mask": dataset.test_masks.cpu().numpy(),
    }
    return write_atomic(path, lambda f: np.savez_compressed(f, **arrays))
