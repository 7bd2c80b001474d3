"""Datasets: ``load(name, root=None)`` and ``available()``.

``cora`` ships inside the package; the other datasets are read from files under ``root``
(or the folder named by the ``DEEPGNN_DATA`` environment variable). Nothing is downloaded.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from deepgnn._checks import check_choice
from deepgnn.data._dataset import Dataset

__all__ = ["Dataset", "load", "available", "data_root"]


def data_root(root: str | Path | None = None) -> Path | None:
    """Return ``root``, else ``$DEEPGNN_DATA``, else ``None``."""
    if root is not None:
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


def _planetoid(name: str) -> Callable[[Path | None], Dataset]:
    def load_(root: Path | None) -> Dataset:
        from deepgnn.data.planetoid import load_embedded_cora, load_planetoid

        if name == "cora" and root is None:
            return load_embedded_cora()
        root = _require_root(name, root, f"the raw Planetoid files ind.{name}.*")
        return load_planetoid(_subdir(root, "planetoid"), name)

    return load_


_LOADERS: dict[str, Callable[[Path | None], Dataset]] = {
    name: _planetoid(name) for name in ("cora", "citeseer", "pubmed")
}


def available() -> list[str]:
    """Return the dataset names that :func:`load` knows.

    Example:
        >>> "cora" in available()
        True
    """
    return sorted(_LOADERS)


def load(name: str, root: str | Path | None = None) -> Dataset:
    """Load dataset ``name`` from ``root`` (``cora`` needs none: it ships with deepgnn).

    Example:
        >>> ds = load("cora")
        >>> ds.num_nodes, ds.num_features, ds.num_classes
        (2708, 1433, 7)
        >>> int(ds.train_mask.sum()), int(ds.val_mask.sum()), int(ds.test_mask.sum())
        (140, 500, 1000)
    """
    check_choice("name", name, _LOADERS)
    return _LOADERS[name](data_root(root))
