"""OGB node-property datasets read offline from the standard OGB on-disk layout.

Hu, Fey, Zitnik, Dong, Ren, Liu, Catasta, Leskovec, "Open Graph Benchmark: Datasets for
Machine Learning on Graphs", NeurIPS 2020 (arXiv 2005.00687). ``ogb``'s own loaders download
missing files and read processed files with ``torch.load``, which torch >= 2.6 refuses
(``weights_only``); these readers never download and never unpickle beyond numpy arrays.

A dataset folder (``<root>/ogbn_arxiv``, as ``ogb`` leaves it, or ``<root>/arxiv``, as the
zip from snap.stanford.edu unpacks) is read from the first of:

1. ``raw/edge.csv.gz`` (+ ``node-feat``, ``node-label``, ``num-node-list``, ``node_year``,
   ``edge-feat``, ``.csv.gz``): the files of the official zip, read with pandas;
2. ``raw/data.npz`` + ``raw/node-label.npz``: OGB's binary layout (what
   ``ogb.io.DatasetSaver`` writes), read with ``numpy.load(allow_pickle=False)``;
3. ``processed/data_processed``: what ``ogb`` writes with ``torch.save``, read with
   ``torch.load(weights_only=True)`` allowing only numpy's array reconstruction.

The split is ``split/<name>/{train,valid,test}.csv.gz`` or ``split/<name>/split_dict.pt``
(allow-listed as above).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepgnn.data._dataset import Dataset
from deepgnn.data._files import count_classes, integral, plain_arrays, reading
from deepgnn.data._safe import load_torch_numpy
from deepgnn.graph import Graph

__all__ = ["NAMES", "load_ogb_node", "even_quantile_labels"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Meta:
    download: str  # folder in the official zip
    split: str
    metric: str


# From ogb/nodeproppred/master.csv (ogb 1.3.6).
_META = {
    "ogbn-arxiv": _Meta("arxiv", "time", "accuracy"),
    "ogbn-products": _Meta("products", "sales_ranking", "accuracy"),
    "ogbn-proteins": _Meta("proteins", "species", "rocauc"),
}
#: The OGB node datasets :func:`load_ogb_node` reads, and ``arxiv-year`` (Lim et al., 2021).
NAMES: tuple[str, ...] = (*_META, "arxiv-year")
_URL = "http://snap.stanford.edu/ogb/data/nodeproppred/{}.zip"


def _folder(root: Path, name: str) -> Path:
    meta = _META[name]
    candidates = [root / name.replace("-", "_"), root / meta.download, root]
    for path in candidates:
        if (path / "raw").is_dir() or (path / "processed" / "data_processed").is_file():
            return path
    url = _URL.format(meta.download)
    raise FileNotFoundError(
        f"dataset {name!r}: no OGB folder with raw/ found (looked in "
        f"{', '.join(str(c) for c in candidates[:2])}); deepgnn does not download: fetch {url} "
        f"on a machine with internet access and unzip it into {root} (it unpacks to "
        f"{root / meta.download}/raw, split, mapping)"
    )


def find_folder(root: str | Path, name: str) -> Path:
    """Return the OGB folder of ``name`` under ``root`` (``arxiv-year`` reads ogbn-arxiv's),
    without reading its files.

    Raises:
        FileNotFoundError: no folder with ``raw/`` or ``processed/`` is there; the message
            names where it looked and where to fetch the dataset.
    """
    return _folder(Path(root), "ogbn-arxiv" if name == "arxiv-year" else name)


def _fix(name: str) -> str:
    return f"re-download {_URL.format(_META[name].download)} and unzip it again"


def _csv(path: Path, dtype: Any, name: str) -> np.ndarray:
    import pandas as pd

    with reading(path, fix=_fix(name)):
        return pd.read_csv(path, header=None, dtype=dtype).to_numpy()


def _npz(path: Path, keys: tuple[str, ...], name: str) -> dict[str, np.ndarray]:
    """The arrays of ``path`` (``keys`` are required), read without unpickling."""
    with reading(path, fix=_fix(name)):
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in keys if k not in z.files]
            out = plain_arrays(z, z.files)
    if missing:
        raise ValueError(
            f"{path} lacks {missing} (it holds {sorted(out)}); the file is truncated or not "
            f"OGB's binary layout: {_fix(name)}"
        )
    return out


def _read_raw(folder: Path, name: str) -> dict[str, Any]:
    raw, processed = folder / "raw", folder / "processed" / "data_processed"
    if (raw / "edge.csv.gz").is_file():
        log.info("%s: reading the raw CSV files in %s", name, raw)
        out: dict[str, Any] = {"edge_index": _csv(raw / "edge.csv.gz", np.int64, name).T}
        out["num_nodes"] = int(_csv(raw / "num-node-list.csv.gz", np.int64, name).sum())
        for key, file, dtype in (
            ("node_feat", "node-feat.csv.gz", np.float32),
            ("edge_feat", "edge-feat.csv.gz", np.float32),
            ("node_year", "node_year.csv.gz", np.int64),
        ):
            if (raw / file).is_file():
                out[key] = _csv(raw / file, dtype, name)
        label = raw / "node-label.csv.gz"
        if not label.is_file():
            raise FileNotFoundError(f"dataset {name!r}: {label} is missing; unzip the full dataset")
        out["labels"] = _csv(label, np.float64, name)
        return out
    if (raw / "data.npz").is_file():
        log.info("%s: reading the binary files in %s", name, raw)
        out = dict(_npz(raw / "data.npz", ("edge_index", "num_nodes_list"), name))  # + an int
        out["num_nodes"] = int(out.pop("num_nodes_list").sum())
        label = raw / "node-label.npz"
        if not label.is_file():
            raise FileNotFoundError(f"dataset {name!r}: {label} is missing beside data.npz")
        out["labels"] = _npz(label, ("node_label",), name)["node_label"]
        return out
    if processed.is_file():
        log.info("%s: reading %s (allow-listed torch.load)", name, processed)
        fix = f"delete it (ogb rebuilds it from raw/) or {_fix(name)}"
        with reading(processed, fix=fix):
            loaded = load_torch_numpy(processed)
            out = {k: v for k, v in loaded["graph"].items() if v is not None}
            out["labels"] = loaded["labels"]
            for key in ("edge_index", "num_nodes"):
                out[key]  # noqa: B018 - a KeyError here is reported as a corrupt file
        return out
    raise FileNotFoundError(
        f"dataset {name!r}: {folder} holds neither raw/edge.csv.gz, raw/data.npz nor "
        f"processed/data_processed; unzip {_URL.format(_META[name].download)} there again"
    )


def _read_split(folder: Path, name: str) -> dict[str, np.ndarray]:
    split = folder / "split" / _META[name].split
    if (split / "split_dict.pt").is_file():
        with reading(split / "split_dict.pt", fix=_fix(name)):
            loaded = load_torch_numpy(split / "split_dict.pt")
            return {k: np.asarray(loaded[k], dtype=np.int64).reshape(-1) for k in _PARTS}
    files = [split / f"{k}.csv.gz" for k in _PARTS]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise FileNotFoundError(
            f"dataset {name!r}: split files missing: {', '.join(missing)} (or "
            f"{split / 'split_dict.pt'}); unzip {_URL.format(_META[name].download)} there again"
        )
    return {k: _csv(f, np.int64, name).reshape(-1) for k, f in zip(_PARTS, files)}


_PARTS = ("train", "valid", "test")


def _masks(split: dict[str, np.ndarray], n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    masks = []
    for k in _PARTS:
        m = torch.zeros(1, n, dtype=torch.bool)
        m[0, torch.tensor(split[k], dtype=torch.long)] = True
        masks.append(m)
    train, val, test = masks
    return train, val, test


def even_quantile_labels(values: np.ndarray, num_classes: int) -> np.ndarray:
    r"""Bucket ``values`` into ``num_classes`` classes of (about) equal size by quantiles.

    Class :math:`k < C-1` holds the values in :math:`[q_{k/C}, q_{(k+1)/C})` (with
    :math:`q_0 = -\infty`), class :math:`C-1` the values :math:`\ge q_{(C-1)/C}`; ties at a
    quantile go to the upper class. This is ``even_quantile_labels`` of Lim, Hohne, Li, Huang,
    Gupta, Bhalerao, Lim, "Large Scale Learning on Non-Homophilous Graphs: New Benchmarks and
    Strong Simple Methods", NeurIPS 2021 (arXiv 2110.14446), which defines ``arxiv-year``.

    Example:
        >>> even_quantile_labels(np.array([1, 2, 3, 4, 5, 6]), 3).tolist()
        [0, 0, 1, 1, 2, 2]
    """
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    label = np.full(len(values), -1, dtype=np.int64)
    lower = -np.inf
    for k in range(num_classes - 1):
        upper = np.nanquantile(values, (k + 1) / num_classes)
        label[(values >= lower) & (values < upper)] = k
        lower = upper
    label[values >= lower] = num_classes - 1
    return label


def _random_splits(
    n: int, num_splits: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    masks = torch.zeros(3, num_splits, n, dtype=torch.bool)
    for k in range(num_splits):
        perm = torch.from_numpy(rng.permutation(n))
        a, b = int(0.5 * n), int(0.5 * n) + int(0.25 * n)
        masks[0, k, perm[:a]] = True
        masks[1, k, perm[a:b]] = True
        masks[2, k, perm[b:]] = True
    return masks[0], masks[1], masks[2]


def load_ogb_node(root: str | Path, name: str) -> Dataset:
    """Load ``ogbn-arxiv``, ``ogbn-products``, ``ogbn-proteins`` or ``arxiv-year`` offline.

    * ``ogbn-arxiv`` / ``ogbn-products``: node features, 40 / 47 classes, OGB's split
      (by year / by sales rank), accuracy through ``ogb``'s ``Evaluator``.
    * ``ogbn-proteins``: 112 binary tasks per node (``y`` is float32 ``(N, 112)``,
      ``multilabel``), species split, ROC-AUC through ``ogb``'s ``Evaluator``. The graph has
      only edge features; node features are the mean of the 8 incident edge features, as in
      PyG's ``examples/ogbn_proteins_deepgcn.py``. Edge weights are not used.
    * ``arxiv-year`` (Lim et al., NeurIPS 2021, arXiv 2110.14446): the ogbn-arxiv graph and
      features, labels = publication year (``node_year``) in 5 quantile classes
      (:func:`even_quantile_labels`). LINKX's fixed split files are pickled object arrays and
      are not read; instead there are 5 random 50/25/25 splits (LINKX's proportions), seeded
      with 0, so they are the same on every machine. Accuracy.

    Every graph is made undirected (:class:`~deepgnn.Graph` symmetrizes ogbn-arxiv's
    citations, as Lim et al. and OGB's GCN baseline do).

    Args:
        root: folder holding ``ogbn_arxiv/`` (or ``arxiv/``) etc.
        name: one of :data:`NAMES`.

    Raises:
        FileNotFoundError: the dataset folder or one of its files is missing; the message
            names what was looked for, where, and the URL to fetch it from.
        pickle.UnpicklingError: a ``.pt`` file holds more than numpy arrays.
        ValueError: a file is truncated or corrupt, or the files disagree with each other
            (the message names the file or folder and the URL to fetch it from again).
    """
    root = Path(root)
    source = "ogbn-arxiv" if name == "arxiv-year" else name
    folder = _folder(root, source)
    data = _read_raw(folder, source)
    meta = _META[source]
    if "node_feat" not in data and "edge_feat" not in data:
        raise ValueError(
            f"dataset {name!r} in {folder} has neither node nor edge features; {_fix(source)}"
        )
    if name == "arxiv-year" and "node_year" not in data:
        raise FileNotFoundError(
            f"arxiv-year needs ogbn-arxiv's node_year (raw/node_year.csv.gz) in {folder}"
        )
    split = None if name == "arxiv-year" else _read_split(folder, source)
    # Each file parsed; what fails from here on is files that disagree with each other.
    with reading(folder, fix=_fix(source)):
        n = int(data["num_nodes"])
        edges = torch.from_numpy(np.ascontiguousarray(data["edge_index"], dtype=np.int64))
        graph = Graph(edges, num_nodes=n)
        if "node_feat" in data:
            x = torch.from_numpy(np.asarray(data["node_feat"], dtype=np.float32))
        else:
            ef = np.asarray(data["edge_feat"], dtype=np.float64)
            ends = np.asarray(data["edge_index"]).reshape(2, -1)
            deg = np.bincount(ends.reshape(-1), minlength=n)
            sums = np.stack(
                [
                    np.bincount(ends.reshape(-1), weights=np.tile(col, 2), minlength=n)
                    for col in ef.T
                ],
                axis=1,
            )
            x = torch.from_numpy((sums / np.maximum(deg, 1)[:, None]).astype(np.float32))
        if x.shape[0] != n:
            raise ValueError(f"{x.shape[0]} feature rows for {n} nodes")
        labels = np.asarray(data["labels"]).reshape(n, -1)
        if split is None:  # arxiv-year, which has no split of its own
            y = torch.from_numpy(even_quantile_labels(data["node_year"], 5))
            return Dataset("arxiv-year", graph, x, y, *_random_splits(n, 5, seed=0), num_classes=5)
        masks = _masks(split, n)
    # Class and task counts come from the files (the same as OGB's for the real datasets).
    if meta.metric == "rocauc":
        y = torch.from_numpy(labels.astype(np.float32))
        num_classes = labels.shape[1]
    else:
        flat = labels[:, 0].astype(np.float64)
        fix = _fix(source)
        ids = integral(np.where(np.isnan(flat), -1, flat), "node labels", path=folder, fix=fix)
        num_classes = count_classes(ids, path=folder, fix=fix)
        y = torch.from_numpy(ids)
    return Dataset(
        name,
        graph,
        x,
        y,
        *masks,
        num_classes=num_classes,
        metric=meta.metric,
        evaluator=name,
    )
