"""Datasets: ``load(name, root=None)`` and ``available()``.

``cora`` ships inside the package and ``csbm`` is generated; every other dataset is read from
files under ``root`` (or the folder named by the ``DEEPGNN_DATA`` environment variable).
``cora`` is read from ``root`` when it holds ``ind.cora.*`` files, else from the shipped copy
(the same arrays).
Nothing is downloaded: a missing file raises ``FileNotFoundError`` saying which file, where it
was looked for and where to get it.

============================  =========================================================
family                        names (files under ``root``)
============================  =========================================================
Planetoid                     ``cora``, ``citeseer``, ``pubmed``
                              (``planetoid/ind.<name>.*`` or ``ind.<name>.*``)
Platonov et al., ICLR 2023    ``roman-empire``, ``amazon-ratings``, ``minesweeper``,
                              ``tolokers``, ``questions``, ``chameleon(-filtered)``,
                              ``squirrel(-filtered)``, ``actor``, ``texas``, ``cornell``,
                              ``wisconsin``, ... (``heterophilous/<name>.npz``, ``_`` for ``-``)
OGB (offline)                 ``ogbn-arxiv``, ``ogbn-products``, ``ogbn-proteins``,
                              ``arxiv-year`` (``ogbn_arxiv/`` or ``arxiv/``, OGB's layout)
molecules (extra ``chem``)    ``ogbg-molhiv``, ``ogbg-molbbbp``
                              (``molecules/hiv.csv``, ``molecules/bbbp.csv``)
synthetic                     ``csbm`` (:func:`csbm` with its defaults; call it for others),
                              ``csbm-arxiv`` (ogbn-arxiv's size, features, classes and
                              homophily), ``csbm-products`` (ogbn-products' size, features,
                              classes and homophily, power-law degrees with hubs),
                              ``arxiv-sbm`` (a stand-in for ogbn-arxiv: its real labels
                              and time split, a sampled graph and features calibrated to
                              its MLP and GCN accuracies; :mod:`deepgnn.data.arxiv_sbm`)
============================  =========================================================
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from deepgnn._checks import check_choice
from deepgnn.data import arxiv_sbm as _arxiv_sbm
from deepgnn.data import heterophilous as _het
from deepgnn.data import molecules as _mol
from deepgnn.data import ogb as _ogb
from deepgnn.data._dataset import Dataset, GraphBatch, GraphDataset
from deepgnn.data.npz import load_npz, save_npz
from deepgnn.data.synthetic import csbm

log = logging.getLogger(__name__)

__all__ = [
    "Dataset",
    "GraphDataset",
    "GraphBatch",
    "load",
    "available",
    "data_root",
    "require",
    "csbm",
    "task",
    "load_npz",
    "save_npz",
]


def data_root(root: str | Path | None = None) -> Path | None:
    """Return ``root``, else ``$DEEPGNN_DATA``, else ``None``.

    Raises:
        TypeError: ``root`` is not a path (a string or ``os.PathLike``).
    """
    if root is not None:
        if not isinstance(root, (str, os.PathLike)):
            raise TypeError(
                f"root must be a folder path (a str or pathlib.Path), got {type(root).__name__} "
                f"{root!r}; pass e.g. root='data' or set DEEPGNN_DATA=<folder>"
            )
        return Path(root)
    env = os.environ.get("DEEPGNN_DATA")
    return Path(env) if env else None


def _subdir(root: Path, sub: str) -> Path:
    """Accept both ``root`` itself and ``root/<sub>`` as the folder holding the files."""
    return root / sub if (root / sub).is_dir() else root


def _require_root(name: str, root: Path | None, what: str) -> Path:
    if root is None:
        raise FileNotFoundError(
            f"dataset {name!r} is read from local files ({what}); pass root=<folder> or set "
            "DEEPGNN_DATA=<folder>. Nothing is downloaded"
        )
    return root


_Loader = Callable[[Path | None], "Dataset | GraphDataset"]


def _planetoid(name: str) -> _Loader:
    def load_(root: Path | None) -> Dataset:
        from deepgnn.data.planetoid import load_embedded_cora, load_planetoid

        if name == "cora":
            if root is None:
                return load_embedded_cora()
            if not any(any(d.glob("ind.cora.*")) for d in (root / "planetoid", root)):
                # A data root for the other datasets need not hold Cora: the copy shipped
                # with the package equals the raw files (tests/test_data.py checks it).
                log.debug(
                    "cora: no ind.cora.* under %s; loading the copy shipped with deepgnn", root
                )
                return load_embedded_cora()
        root = _require_root(name, root, f"the raw Planetoid files ind.{name}.*")
        return load_planetoid(_subdir(root, "planetoid"), name)

    return load_


def _heterophilous(name: str) -> _Loader:
    def load_(root: Path | None) -> Dataset:
        file = name.replace("-", "_") + ".npz"
        return _het.load_heterophilous(_require_root(name, root, f"heterophilous/{file}"), name)

    return load_


def _ogb_node(name: str) -> _Loader:
    def load_(root: Path | None) -> Dataset:
        folder = "ogbn_arxiv" if name == "arxiv-year" else name.replace("-", "_")
        return _ogb.load_ogb_node(_require_root(name, root, f"OGB's layout in {folder}/"), name)

    return load_


def _molecules(name: str) -> _Loader:
    def load_(root: Path | None) -> GraphDataset:
        return _mol.load_moleculenet(name, _require_root(name, root, "a MoleculeNet CSV"))

    return load_


# Class-mean norm of csbm-arxiv: features alone separate the 40 classes weakly, so that
# propagation over the graph is what a model has to learn from.
CSBM_ARXIV_SNR = 0.5


def _csbm_arxiv() -> Dataset:
    # ogbn-arxiv's size (169,343 nodes, 1,166,243 undirected edges: mean degree 13.77),
    # 128 features and 40 classes, with its edge homophily (0.655, Zhu et al. 2020).
    ds = csbm(
        num_nodes=169_343,
        avg_degree=2 * 1_166_243 / 169_343,
        num_classes=40,
        homophily=0.655,
        snr=CSBM_ARXIV_SNR,
        num_features=128,
        seed=0,
    )
    ds.name = "csbm-arxiv"
    return ds


# ogbn-products: its largest degree, and the edge homophily Lim et al. (NeurIPS 2021) report.
PRODUCTS_MAX_DEGREE = 17_481
PRODUCTS_HOMOPHILY = 0.81


def _csbm_products() -> Dataset:
    # ogbn-products' size (2,449,029 nodes, 30,929,570 undirected edges: mean degree 25.26),
    # 100 features and 47 classes (balanced here), with Chung-Lu degrees of exponent 2.1 capped
    # at products' largest degree; features as weak as csbm-arxiv's.
    ds = csbm(
        num_nodes=2_449_029,
        avg_degree=2 * 30_929_570 / 2_449_029,
        num_classes=47,
        homophily=PRODUCTS_HOMOPHILY,
        snr=CSBM_ARXIV_SNR,
        num_features=100,
        seed=0,
        degree_exponent=2.1,
        max_degree=PRODUCTS_MAX_DEGREE,
    )
    ds.name = "csbm-products"
    return ds


_LOADERS: dict[str, _Loader] = {
    **{name: _planetoid(name) for name in ("cora", "citeseer", "pubmed")},
    **{name: _heterophilous(name) for name in _het.NAMES},
    **{name: _ogb_node(name) for name in _ogb.NAMES},
    **{name: _molecules(name) for name in _mol.NAMES},
    "csbm": lambda root: csbm(),
    "csbm-arxiv": lambda root: _csbm_arxiv(),
    "csbm-products": lambda root: _csbm_products(),
    "arxiv-sbm": lambda root: _arxiv_sbm.arxiv_sbm(),
}


def _planetoid_files(name: str) -> Callable[[Path | None], object]:
    def find(root: Path | None) -> object:
        from deepgnn.data.planetoid import find_files

        if name == "cora":  # without its files under root, the copy shipped with deepgnn
            return None
        root = _require_root(name, root, f"the raw Planetoid files ind.{name}.*")
        return find_files(_subdir(root, "planetoid"), name)

    return find


def _root_files(name: str, what: str, find: Callable[[Path, str], object]) -> Callable[..., object]:
    return lambda root: find(_require_root(name, root, what), name)


# What load(name) reads, found without reading it (cheap: a sweep checks it at its start).
_FINDERS: dict[str, Callable[[Path | None], object]] = {
    **{name: _planetoid_files(name) for name in ("cora", "citeseer", "pubmed")},
    **{
        name: _root_files(name, f"heterophilous/{name.replace('-', '_')}.npz", _het.find_file)
        for name in _het.NAMES
    },
    **{name: _root_files(name, "OGB's layout", _ogb.find_folder) for name in _ogb.NAMES},
    **{name: _root_files(name, "a MoleculeNet CSV", _mol.find_csv) for name in _mol.NAMES},
}


def _npz_path(name: object, root: str | Path | None) -> Path | None:
    """The file a name ending in ``.npz`` stands for (relative to ``root`` when given, else to
    the current folder), or ``None`` for a registry name."""
    if not isinstance(name, (str, os.PathLike)) or not os.fspath(name).endswith(".npz"):
        return None
    path = Path(name)
    if root is not None and not path.is_absolute():
        path = Path(data_root(root) or ".") / path
    return path


def require(name: str, root: str | Path | None = None) -> None:
    """Check that the files :func:`load` reads for ``name`` are there, without reading them.

    ``cora`` (shipped) and the generated datasets need none. A sweep calls it for each of
    its datasets before it runs a cell.

    Args:
        name: one of :func:`available` (any case, ``_`` for ``-``).
        root: as in :func:`load`.

    Raises:
        ValueError: unknown ``name``.
        FileNotFoundError: a file is missing; the message is :func:`load`'s (which file,
            where it was looked for, where to get it).

    Example:
        >>> require("cora")
        >>> require("texas", root="/nonexistent")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        FileNotFoundError: dataset 'texas': texas.npz not found (looked for ...
    """
    path = _npz_path(name, root)
    if path is not None:
        if not path.is_file():
            load_npz(path)  # raises FileNotFoundError naming the file and the layout
        return
    key = name.lower().replace("_", "-") if isinstance(name, str) else name
    check_choice("name", key, _LOADERS)
    find = _FINDERS.get(key)
    if find is not None:
        find(data_root(root))


def available() -> list[str]:
    """Return the dataset names that :func:`load` knows.

    Example:
        >>> [n for n in available() if n.startswith("ogbn")]
        ['ogbn-arxiv', 'ogbn-products', 'ogbn-proteins']
    """
    return sorted(_LOADERS)


def task(name: str) -> str:
    """Return the task of dataset ``name``: ``"graph"`` (graph classification) or ``"node"``.

    Known without loading the files: what a sweep needs to check its configuration and to
    resolve each cell's training settings before any data is read.

    A name ending in ``.npz`` (a file of your own, :mod:`deepgnn.data.npz`) is a node dataset.

    Example:
        >>> task("cora"), task("ogbg-molhiv"), task("my_graph.npz")
        ('node', 'graph', 'node')
    """
    if _npz_path(name, None) is not None:
        return "node"
    key = name.lower().replace("_", "-") if isinstance(name, str) else name
    check_choice("name", key, _LOADERS)
    return "graph" if key in _mol.NAMES else "node"


def load(name: str, root: str | Path | None = None) -> Dataset | GraphDataset:
    """Load dataset ``name`` from ``root`` (``cora`` and ``csbm`` need none).

    ``name`` is matched case-insensitively, with ``_`` read as ``-`` (so the file name
    ``chameleon_filtered`` works too). A name ending in ``.npz`` is a file of your own in the
    layout of :mod:`deepgnn.data.npz` (:func:`load_npz`), relative to ``root`` when given,
    else to the current folder. Node datasets come as :class:`Dataset`, the molecule
    datasets as :class:`GraphDataset`. ``load("csbm")`` is :func:`csbm` with its defaults
    (10,000 nodes, mean degree 10, 5 classes, homophily 0.7, snr 1, 64 features, seed 0).

    Args:
        name: one of :func:`available`.
        root: folder holding the files (see the module docstring for the layout of each
            family); default ``$DEEPGNN_DATA``.

    Raises:
        ValueError: unknown ``name`` (the message lists the registry), or a file that is
            truncated, corrupt or inconsistent (the message names it and where to download
            it again).
        FileNotFoundError: a file is missing (the message names it, where it was looked for
            and where to download it).

    Example:
        >>> ds = load("cora")
        >>> ds.num_nodes, ds.num_features, ds.num_classes
        (2708, 1433, 7)
        >>> int(ds.train_mask.sum()), int(ds.val_mask.sum()), int(ds.test_mask.sum())
        (140, 500, 1000)
    """
    path = _npz_path(name, root)
    if path is not None:
        return load_npz(path)
    key = name.lower().replace("_", "-") if isinstance(name, str) else name
    check_choice("name", key, _LOADERS)
    return _LOADERS[key](data_root(root))


def _load_nodes(name: str, root: str | Path | None = None, *, what: str) -> Dataset:
    """:func:`load` for ``what``, which takes a node dataset: a molecule dataset is refused."""
    ds = load(name, root)
    if not isinstance(ds, Dataset):
        nodes = [n for n in available() if n not in _mol.NAMES]
        raise ValueError(
            f"{name} is a graph-classification dataset, but {what} takes a node dataset: "
            f"one of {nodes}"
        )
    return ds
