"""Datasets: ``load(name, root=None, **options)``, ``available()``, and ``register()`` for
datasets of your own.

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

Your own: a file in :mod:`deepgnn.data.npz`'s layout (``load("my_graph.npz")``), or a loader
registered under a name (:func:`register`; :func:`options` lists its keyword options, as it
lists ``csbm``'s: ``load("csbm", homophily=0.3)``).
"""

from __future__ import annotations

import difflib
import inspect
import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepgnn._checks import check_choice
from deepgnn._imports import path_of, resolve_callable
from deepgnn.data import arxiv_sbm as _arxiv_sbm
from deepgnn.data import heterophilous as _het
from deepgnn.data import molecules as _mol
from deepgnn.data import ogb as _ogb
from deepgnn.data._dataset import Dataset, GraphBatch, GraphDataset
from deepgnn.data.npz import load_npz, save_npz
from deepgnn.data.synthetic import check_csbm, csbm

log = logging.getLogger(__name__)

__all__ = [
    "Dataset",
    "GraphDataset",
    "GraphBatch",
    "load",
    "available",
    "register",
    "unregister",
    "options",
    "check_options",
    "loader_path",
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


#: Sampled datasets whose generator's keywords are :func:`load`'s options.
_SAMPLED: dict[str, Callable[..., Dataset]] = {"csbm": csbm, "arxiv-sbm": _arxiv_sbm.arxiv_sbm}

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


# ---------------------------------------------------------------- datasets of one's own
@dataclass(frozen=True)
class _Registered:
    loader: Callable[..., Any]
    path: str  # "module:qualname": what identifies the data in a sweep's cells and rows
    portable: bool  # whether another process imports the loader by ``path``
    task: str


_REGISTERED: dict[str, _Registered] = {}
_OWN_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]*$")
_TASKS = ("node", "graph")
_FIX_NAME = (
    "register it first (deepgnn.data.register(name, loader)), or in a sweep file give its "
    "loader: [data.<name>] loader = 'package.module:function'"
)


def _key(name: object) -> object:
    return name.lower().replace("_", "-") if isinstance(name, str) else name


def _known(name: object, arg: str = "name") -> str:
    """The registry key of a built-in or registered ``name``; unknown names list the choices."""
    key = _key(name)
    if key in _LOADERS or key in _REGISTERED:
        return str(key)
    if not isinstance(key, str):
        raise TypeError(f"{arg} must be a dataset name (a str), got {type(name).__name__}")
    near = difflib.get_close_matches(key, available(), n=1)
    hint = f"did you mean {near[0]!r}? For a dataset of your own, " if near else ""
    raise ValueError(
        f"{arg}={name!r} is not one of {available()}; {hint}{_FIX_NAME}, or pass the path of "
        "an .npz file (deepgnn.data.npz)"
    )


def register(
    name: str,
    loader: Callable[..., Dataset | GraphDataset] | str,
    *,
    task: str = "node",
    replace: bool = False,
) -> None:
    """Make ``load(name)`` call ``loader``: a dataset of your own, by name, in sweeps too.

    ``loader`` returns a :class:`Dataset` (``task="node"``) or a :class:`GraphDataset`
    (``task="graph"``). It is called with the keyword options :func:`load` is given
    (a sweep's ``[data.<name>]`` table), and with ``root=`` when it takes a ``root``
    parameter. ``loader`` may be the function itself or its import path
    ``"package.module:function"`` (imported now).

    A sweep's worker processes are started fresh (``spawn``): each registers the loader again
    by its import path, which :func:`loader_path` gives. So define the loader at the top level
    of a module (or of the script that runs the sweep), not as a lambda or inside a function;
    or name it in the sweep file, ``[data.<name>] loader = "package.module:function"``, which
    works from ``deepgnn sweep run`` too.

    Args:
        name: letters, digits, ``-``, ``_``, ``.``; matched as :func:`load` matches names
            (any case, ``_`` read as ``-``). Not a built-in name (:func:`available`).
        loader: a callable, or ``"package.module:function"``.
        task: ``"node"`` or ``"graph"`` (graph classification), known without loading.
        replace: replace a registration of ``name`` with another loader. Registering the
            same import path again (a notebook cell run twice) needs no ``replace``.

    Raises:
        ValueError: a malformed or built-in ``name``, an ``name`` registered with another
            loader, a loader path that does not import, or an unknown ``task``.
        TypeError: ``loader`` is neither callable nor a string.

    Example:
        >>> def small_csbm(*, homophily: float = 0.5):
        ...     return csbm(num_nodes=200, homophily=homophily, seed=0)
        >>> register("small-csbm", small_csbm)
        >>> ds = load("small-csbm", homophily=0.9)
        >>> ds.num_nodes, options("small-csbm"), task("small-csbm")
        (200, {'homophily': 0.5}, 'node')
        >>> unregister("small-csbm")
        >>> register("cora", small_csbm)
        Traceback (most recent call last):
        ValueError: name='cora' is a built-in dataset; register yours under another name, e.g. 'my-cora'
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__} {name!r}")
    key = str(_key(name))
    if key in _LOADERS:
        raise ValueError(
            f"name={name!r} is a built-in dataset; register yours under another name, "
            f"e.g. 'my-{key}'"
        )
    if not _OWN_NAME.match(key) or key.endswith(".npz"):
        raise ValueError(
            f"name={name!r}; pass letters, digits, '-', '_' or '.', starting with a letter or "
            "digit and not ending in .npz (a name ending in .npz is a file), e.g. 'my-graph'"
        )
    check_choice("task", task, _TASKS)
    if isinstance(loader, str):
        example = 'loader = "mygraphs.data:load_graph"'
        fn = resolve_callable(loader, arg="loader", example=example)
        path, portable = loader, True
    elif callable(loader):
        fn = loader
        path, portable = path_of(loader)
    else:
        raise TypeError(
            f"loader must be a function returning a deepgnn.data.Dataset, or its import path "
            f"'package.module:function'; got {type(loader).__name__}"
        )
    old = _REGISTERED.get(key)
    if old is not None and not replace:
        if old.path == path and old.task == task:
            if isinstance(loader, str):
                return  # the same loader by its path: keep the function already registered
        else:
            raise ValueError(
                f"dataset {key!r} is already registered with loader {old.path} "
                f"(task={old.task!r}); pass replace=True to register {path} "
                f"(task={task!r}) instead, or pick another name"
            )
    _REGISTERED[key] = _Registered(fn, path, portable, task)


def unregister(name: str) -> None:
    """Forget a dataset registered with :func:`register`.

    Raises:
        ValueError: ``name`` is not a registered dataset (built-ins cannot be removed).
    """
    key = _key(name)
    if key not in _REGISTERED:
        raise ValueError(
            f"name={name!r} is not a registered dataset; registered: {sorted(_REGISTERED)}"
        )
    del _REGISTERED[str(key)]


def loader_path(name: str) -> str | None:
    """Return the ``"module:function"`` path of the loader registered as ``name``, or ``None``
    for a built-in dataset and for a file.

    A sweep records it with every row (column ``loader``) and hashes it into the cells' keys:
    it is what identifies a dataset of your own.

    Raises:
        ValueError: unknown ``name``.
    """
    if _npz_path(name, None) is not None:
        return None
    entry = _REGISTERED.get(_known(name))
    return None if entry is None else entry.path


def _portable(name: str) -> bool:
    entry = _REGISTERED.get(_known(name))
    return entry is None or entry.portable


def _loader_params(fn: Callable[..., Any]) -> dict[str, inspect.Parameter] | None:
    """A loader's keyword parameters (``root`` aside); ``None`` when it takes ``**kwargs``."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return None
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {n: p for n, p in params.items() if p.kind in kinds and n != "root"}


def options(name: str) -> dict[str, Any]:
    """Return the keyword options ``load(name, **options)`` takes, with their defaults.

    ``csbm``: the arguments of :func:`csbm`; ``arxiv-sbm``: those of
    :func:`~deepgnn.data.arxiv_sbm.arxiv_sbm`. A registered dataset: its loader's keyword
    parameters but ``root`` (one without default maps to ``inspect.Parameter.empty``; a loader
    with ``**kwargs`` takes any). The other built-ins and ``.npz`` files take none.

    Example:
        >>> options("csbm")["homophily"], options("arxiv-sbm")["homophily"], options("cora")
        (0.7, 0.5, {})
    """
    if _npz_path(name, None) is not None:
        return {}
    key = _known(name)
    if key in _SAMPLED:
        return {n: p.default for n, p in inspect.signature(_SAMPLED[key]).parameters.items()}
    entry = _REGISTERED.get(key)
    if entry is None:
        return {}
    return {n: p.default for n, p in (_loader_params(entry.loader) or {}).items()}


def check_options(name: str, **opts: Any) -> None:
    """Check keyword options for ``load(name, **opts)`` without loading anything.

    An unknown option fails naming the dataset and listing its options; a missing one a
    registered loader requires fails naming it; ``csbm``'s and ``arxiv-sbm``'s values are
    checked as :func:`csbm` checks them. A sweep runs it on every ``[data.<name>]``
    combination when it loads.

    Raises:
        ValueError: as above.
        TypeError: a value of the wrong type (``csbm``, ``arxiv-sbm``).

    Example:
        >>> check_options("csbm", num_nodes=500, homophily=0.3)
        >>> check_options("csbm", homophilly=0.3)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ValueError: dataset 'csbm' has no option 'homophilly'; its options are [...]; did you mean 'homophily'?
    """
    key = None if _npz_path(name, None) is not None else _known(name)
    entry = _REGISTERED.get(key) if key is not None else None
    params = _loader_params(entry.loader) if entry is not None else None
    if entry is None or params is not None:
        valid = list(options(name))
        for opt in opts:
            if opt not in valid:
                if not valid:
                    raise ValueError(
                        f"dataset {name!r} takes no options, got {sorted(opts)}; drop them "
                        "(csbm and datasets you register with keyword parameters take some)"
                    )
                near = difflib.get_close_matches(opt, valid, n=1)
                hint = f"; did you mean {near[0]!r}?" if near else ""
                raise ValueError(
                    f"dataset {name!r} has no option {opt!r}; its options are {sorted(valid)}{hint}"
                )
    if entry is not None and params is not None:
        missing = [
            n for n, p in params.items() if p.default is inspect.Parameter.empty and n not in opts
        ]
        if missing:
            raise ValueError(
                f"dataset {name!r} needs option(s) {missing}: its loader {entry.path} has no "
                "default for them; pass them (in a sweep: [data.<name>] table)"
            )
    if key == "csbm":
        check_csbm(**opts)
    elif key == "arxiv-sbm":
        _arxiv_sbm.check_arxiv_sbm(**opts)


def require(name: str, root: str | Path | None = None) -> None:
    """Check that the files :func:`load` reads for ``name`` are there, without reading them.

    ``cora`` (shipped), the generated and the registered datasets need none (a registered
    loader's files are its own business). A sweep calls it for each of its datasets before
    it runs a cell.

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
    find = _FINDERS.get(_known(name))
    if find is not None:
        find(data_root(root))


def available() -> list[str]:
    """Return the dataset names that :func:`load` knows: the built-ins and those registered
    with :func:`register`.

    Example:
        >>> [n for n in available() if n.startswith("ogbn")]
        ['ogbn-arxiv', 'ogbn-products', 'ogbn-proteins']
    """
    return sorted([*_LOADERS, *_REGISTERED])


def task(name: str) -> str:
    """Return the task of dataset ``name``: ``"graph"`` (graph classification) or ``"node"``.

    Known without loading the files: what a sweep needs to check its configuration and to
    resolve each cell's training settings before any data is read. A registered dataset has
    the task it was registered with.

    A name ending in ``.npz`` (a file of your own, :mod:`deepgnn.data.npz`) is a node dataset.

    Example:
        >>> task("cora"), task("ogbg-molhiv"), task("my_graph.npz")
        ('node', 'graph', 'node')
    """
    if _npz_path(name, None) is not None:
        return "node"
    key = _known(name)
    entry = _REGISTERED.get(key)
    if entry is not None:
        return entry.task
    return "graph" if key in _mol.NAMES else "node"


def load(name: str, root: str | Path | None = None, **opts: Any) -> Dataset | GraphDataset:
    """Load dataset ``name`` from ``root`` (``cora`` and ``csbm`` need none).

    ``name`` is matched case-insensitively, with ``_`` read as ``-`` (so the file name
    ``chameleon_filtered`` works too). A name ending in ``.npz`` is a file of your own in the
    layout of :mod:`deepgnn.data.npz` (:func:`load_npz`), relative to ``root`` when given,
    else to the current folder; a name given to :func:`register` calls its loader. Node
    datasets come as :class:`Dataset`, the molecule datasets as :class:`GraphDataset`.
    ``load("csbm")`` is :func:`csbm` with its defaults (10,000 nodes, mean degree 10,
    5 classes, homophily 0.7, snr 1, 64 features, seed 0); ``load("csbm", homophily=0.3)``
    passes its keyword options on (:func:`options` lists them; :func:`check_options` checks
    them first).

    Args:
        name: one of :func:`available`.
        root: folder holding the files (see the module docstring for the layout of each
            family); default ``$DEEPGNN_DATA``.
        **opts: keyword options of ``csbm`` or of a registered loader (:func:`options`).

    Raises:
        ValueError: unknown ``name`` (the message lists the registry) or option, or a file
            that is truncated, corrupt or inconsistent (the message names it and where to
            download it again).
        FileNotFoundError: a file is missing (the message names it, where it was looked for
            and where to download it).
        TypeError: a registered loader returned something else than its task's dataset.

    Example:
        >>> ds = load("cora")
        >>> ds.num_nodes, ds.num_features, ds.num_classes
        (2708, 1433, 7)
        >>> int(ds.train_mask.sum()), int(ds.val_mask.sum()), int(ds.test_mask.sum())
        (140, 500, 1000)
        >>> load("csbm", num_nodes=300, homophily=0.2).num_nodes
        300
    """
    path = _npz_path(name, root)
    if path is not None:
        check_options(str(name), **opts)
        return load_npz(path)
    key = _known(name)
    check_options(key, **opts)
    entry = _REGISTERED.get(key)
    if entry is None:
        return _SAMPLED[key](**opts) if key in _SAMPLED else _LOADERS[key](data_root(root))
    kwargs = dict(opts)
    if "root" in _all_params(entry.loader):
        kwargs["root"] = data_root(root)
    ds = entry.loader(**kwargs)
    want = GraphDataset if entry.task == "graph" else Dataset
    if not isinstance(ds, want):
        raise TypeError(
            f"the loader of dataset {key!r} ({entry.path}) returned a {type(ds).__name__}; a "
            f"loader registered with task={entry.task!r} returns a deepgnn.data.{want.__name__}"
            + (
                " (build one with deepgnn.data.Dataset(name, graph, x, y, train_masks, "
                "val_masks, test_masks, num_classes), Dataset.from_pyg(data) or load_npz(path))"
                if want is Dataset
                else ""
            )
        )
    return ds


def _all_params(fn: Callable[..., Any]) -> Mapping[str, inspect.Parameter]:
    try:
        return inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return {}


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
