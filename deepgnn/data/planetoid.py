"""Planetoid citation graphs (Cora, CiteSeer, PubMed) with the standard public split.

Raw files: ``ind.<name>.{x,y,tx,ty,allx,ally,graph,test.index}`` as published with
Yang, Cohen, Salakhutdinov, "Revisiting Semi-Supervised Learning with Graph
Embeddings", ICML 2016 (GitHub kimiyoung/planetoid). All but ``test.index`` are
Python 2 pickles, read with an allow-listed unpickler (``deepgnn.data._safe``).

Cora also ships inside the package as ``cora.npz`` (plain arrays, no pickle), built from
the raw files by ``python -m deepgnn.data.planetoid RAW_DIR cora deepgnn/data/cora.npz``.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from deepgnn.data._dataset import Dataset
from deepgnn.data._files import reading
from deepgnn.data._safe import load_pickle
from deepgnn.graph import Graph

__all__ = ["load_planetoid", "load_embedded_cora"]

_PARTS = ("x", "y", "tx", "ty", "allx", "ally", "graph")


def _masks(n: int, num_train: int, test_index: np.ndarray) -> tuple[np.ndarray, ...]:
    train = np.zeros(n, dtype=bool)
    val = np.zeros(n, dtype=bool)
    test = np.zeros(n, dtype=bool)
    train[:num_train] = True
    val[num_train : num_train + 500] = True
    test[test_index] = True
    return train, val, test


def _assemble(
    name: str,
    edges: np.ndarray,
    n: int,
    features: sp.csr_array,
    labels: np.ndarray,
    masks: tuple[np.ndarray, ...],
) -> Dataset:
    graph = Graph(torch.from_numpy(edges), num_nodes=n)
    x = torch.from_numpy(features.toarray().astype(np.float32))
    y = torch.from_numpy(labels.astype(np.int64))
    tr, va, te = (torch.from_numpy(m).unsqueeze(0) for m in masks)
    return Dataset(name, graph, x, y, tr, va, te, num_classes=int(labels.max()) + 1)


def find_files(root: str | Path, name: str) -> dict[str, Path]:
    """The raw files ``ind.<name>.*`` in ``root`` by part (``x``, ..., ``test.index``), without
    reading them.

    Raises:
        FileNotFoundError: a file is missing (the message names it, ``root`` and the source).
    """
    root = Path(root)
    paths = {p: root / f"ind.{name}.{p}" for p in (*_PARTS, "test.index")}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            f"Planetoid {name!r}: missing {', '.join(Path(m).name for m in missing)} in {root}; "
            f"download ind.{name}.* from {_SOURCE} into that folder and pass root=<that folder>"
        )
    return paths


def load_planetoid(root: str | Path, name: str) -> Dataset:
    """Load ``ind.<name>.*`` from ``root`` with the standard split of Kipf & Welling (ICLR 2017).

    Node order is the ``allx`` rows, then the test nodes; row ``i`` of ``tx``/``ty`` goes to
    node ``test.index[i]`` (file order). Nodes without a feature row (15 in CiteSeer) get
    zero features and label ``-1`` and belong to no split. Train is the first ``len(y)``
    nodes, validation the next 500, test the ``test.index`` nodes.

    Raises:
        FileNotFoundError: a raw file is missing (the message names it and ``root``).
        pickle.UnpicklingError: a file references anything but numpy/scipy/list/defaultdict.
        ValueError: a file is truncated, corrupt or disagrees with the others (the message
            names it and where to download it again).
    """
    root = Path(root)
    paths = find_files(root, name)
    raw = {}
    for p in _PARTS:
        with reading(paths[p], fix=_fix(name, p)):
            raw[p] = load_pickle(paths[p])
    with reading(paths["test.index"], fix=_fix(name, "test.index")), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "input contained no data": checked below
        test_index = np.loadtxt(paths["test.index"], dtype=np.int64, ndmin=1).reshape(-1)
    # Each pickle's type, read in its own file's name; then their sizes against each other.
    with reading(paths["graph"], fix=_fix(name, "graph")):
        adjacency = raw["graph"]
        if not isinstance(adjacency, Mapping):
            raise TypeError(f"it holds a {type(adjacency).__name__}, not a dict of neighbour lists")
        n = len(adjacency)
        src = [u for u, vs in adjacency.items() for _ in vs]
        dst = [v for vs in adjacency.values() for v in vs]
        edges = np.array([src, dst], dtype=np.int64).reshape(2, -1)
    with reading(paths["allx"], fix=_fix(name, "allx")):
        allx = sp.csr_array(raw["allx"])
    with reading(paths["tx"], fix=_fix(name, "tx")):
        tx = sp.csr_array(raw["tx"])
    arrays = {}
    for part in ("ally", "ty", "y"):
        with reading(paths[part], fix=_fix(name, part)):
            arrays[part] = np.asarray(raw[part])
            if arrays[part].ndim != 2 or arrays[part].dtype == object:
                raise TypeError(
                    f"it holds {arrays[part].dtype} of shape {arrays[part].shape}, not one-hot "
                    "label rows"
                )
    ally, ty = arrays["ally"], arrays["ty"]
    num_train = arrays["y"].shape[0]
    test_fix = _fix(name, "test.index")
    if len(test_index) != tx.shape[0] or len(test_index) != len(ty):
        raise ValueError(
            f"{paths['test.index']} lists {len(test_index)} test nodes but ind.{name}.tx has "
            f"{tx.shape[0]} rows and ind.{name}.ty {len(ty)}; the file is truncated or corrupt: "
            f"{test_fix}"
        )
    if len(test_index) and not (test_index.min() >= allx.shape[0] and test_index.max() < n):
        raise ValueError(
            f"{paths['test.index']} holds node ids outside [{allx.shape[0]}, {n}) (after the "
            f"{allx.shape[0]} allx rows, within the {n} nodes of ind.{name}.graph); {test_fix}"
        )
    with reading(root / f"ind.{name}.*", fix=f"re-download ind.{name}.* from {_SOURCE}"):
        num_features = allx.shape[1]
        rows = np.concatenate([np.arange(allx.shape[0]), test_index])
        features = sp.vstack([allx, tx]).tocoo()
        features = sp.csr_array(
            (features.data, (rows[features.row], features.col)), shape=(n, num_features)
        )
        onehot = np.zeros((n, ally.shape[1]), dtype=np.int64)
        onehot[rows] = np.concatenate([ally, ty])
        labels = np.where(onehot.sum(1) > 0, onehot.argmax(1), -1)
        masks = _masks(n, num_train, test_index)
    if int(labels.max()) < 0:
        raise ValueError(
            f"ind.{name}.ally and ind.{name}.ty in {root} label no node (every one-hot row is "
            f"zero); the files are truncated or corrupt: re-download them from {_SOURCE}"
        )
    with reading(root / f"ind.{name}.*", fix=f"re-download ind.{name}.* from {_SOURCE}"):
        return _assemble(name, edges, n, features, labels, masks)


_SOURCE = "https://github.com/kimiyoung/planetoid (data/)"


def _fix(name: str, part: str) -> str:
    return f"re-download ind.{name}.{part} from {_SOURCE}"


def export_npz(ds: Dataset, path: str | Path) -> None:
    """Write ``ds`` as plain arrays: edges once (i < j), feature nonzeros, labels, split ids."""
    rows, cols = ds.graph.edge_index.numpy()
    once = rows < cols
    fr, fc = np.nonzero(ds.x.numpy())
    itype = np.int16 if max(ds.num_nodes, ds.num_features) < 2**15 else np.int32
    np.savez_compressed(
        path,
        edges=np.stack([rows[once], cols[once]]).astype(itype),
        feature_rows=fr.astype(itype),
        feature_cols=fc.astype(itype),
        shape=np.array([ds.num_nodes, ds.num_features], dtype=np.int64),
        labels=ds.y.numpy().astype(np.int8),
        train_index=np.flatnonzero(ds.train_mask.numpy()).astype(itype),
        val_index=np.flatnonzero(ds.val_mask.numpy()).astype(itype),
        test_index=np.flatnonzero(ds.test_mask.numpy()).astype(itype),
    )


def load_embedded_cora() -> Dataset:
    """Load the Cora copy that ships inside the package (no pickle involved)."""
    with resources.files("deepgnn.data").joinpath("cora.npz").open("rb") as f:
        z = np.load(f, allow_pickle=False)
        n, num_features = (int(v) for v in z["shape"])
        features = sp.csr_array(
            (
                np.ones(len(z["feature_rows"]), dtype=np.float32),
                (z["feature_rows"].astype(np.int64), z["feature_cols"].astype(np.int64)),
            ),
            shape=(n, num_features),
        )
        masks = tuple(np.zeros(n, dtype=bool) for _ in range(3))
        for m, key in zip(masks, ("train_index", "val_index", "test_index")):
            m[z[key].astype(np.int64)] = True
        return _assemble(
            "cora", z["edges"].astype(np.int64), n, features, z["labels"].astype(np.int64), masks
        )


if __name__ == "__main__":  # python -m deepgnn.data.planetoid RAW_DIR NAME OUT.npz
    raw_dir, ds_name, out = sys.argv[1:4]
    export_npz(load_planetoid(raw_dir, ds_name), out)
