"""Allow-listed unpickling for data files that come as pickles.

A pickle can run arbitrary code when loaded. :func:`load_pickle` (Planetoid's raw files)
accepts only the globals named in ``allowed`` and refuses everything else with a clear error;
:func:`load_torch_numpy` (``torch.save`` files of OGB's layout) is ``torch.load`` with
``weights_only=True`` plus the numpy array reconstruction allow-listed, nothing more.
"""

from __future__ import annotations

import collections
import pickle
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

try:  # numpy >= 2 moved the reconstruction helper
    from numpy._core.multiarray import _reconstruct
except ImportError:  # pragma: no cover - numpy < 2
    from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]

# The six globals that Planetoid's files reference (numpy, scipy and Python 2 builtin names).
PLANETOID_GLOBALS: Mapping[tuple[str, str], Any] = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("scipy.sparse.csr", "csr_matrix"): sp.csr_matrix,
    ("collections", "defaultdict"): collections.defaultdict,
    ("__builtin__", "list"): list,
    ("builtins", "list"): list,
}


__all__ = ["load_pickle", "load_torch_numpy", "PLANETOID_GLOBALS"]


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: Any, path: Path, allowed: Mapping[tuple[str, str], Any]) -> None:
        super().__init__(file, encoding="latin1")
        self._path, self._allowed = path, allowed

    def find_class(self, module: str, name: str) -> Any:
        obj = self._allowed.get((module, name))
        if obj is None:
            allowed = sorted(f"{m}.{n}" for m, n in self._allowed)
            raise pickle.UnpicklingError(
                f"{self._path}: refusing to load {module}.{name}; this loader accepts only "
                f"{allowed}. The file is not a Planetoid data file or was tampered with"
            )
        return obj


def load_pickle(
    path: str | Path, allowed: Mapping[tuple[str, str], Any] = PLANETOID_GLOBALS
) -> Any:
    """Unpickle ``path`` allowing only the globals in ``allowed`` (Python 2 pickles: latin1).

    Raises:
        pickle.UnpicklingError: the file references a global outside ``allowed``.
    """
    path = Path(path)
    with path.open("rb") as f:
        return _RestrictedUnpickler(f, path, allowed).load()


def _numpy_safe_globals() -> list[Any]:
    """What a pickled numpy array references: ``_reconstruct``, ``ndarray``, ``dtype``, the
    dtype classes of numpy >= 1.25, and ``scalar`` (numpy scalars), under both module names
    (``numpy.core`` before numpy 2, ``numpy._core`` after)."""
    names: list[Any] = []
    scalar = getattr(_reconstruct, "__module__", "numpy._core.multiarray")
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        names.append((_reconstruct, f"{module}._reconstruct"))
        mod = __import__(scalar, fromlist=["scalar"])
        names.append((mod.scalar, f"{module}.scalar"))
    names += [np.ndarray, np.dtype]
    dtypes = getattr(np, "dtypes", None)
    if dtypes is not None:
        names += [
            getattr(dtypes, n)
            for n in dir(dtypes)
            if n.endswith("DType") and isinstance(getattr(dtypes, n), type)
        ]
    return names


def load_torch_numpy(path: str | Path) -> Any:
    """``torch.load`` a file of numpy arrays, dicts and lists without running arbitrary code.

    ``ogb`` writes its processed files and ``split_dict.pt`` with ``torch.save`` of numpy
    arrays, which ``torch.load(weights_only=True)`` (the default since torch 2.6) refuses.
    This allows exactly the numpy reconstruction functions on top of the weights-only
    unpickler; anything else in the file is rejected.

    Raises:
        pickle.UnpicklingError: the file references anything beyond tensors, containers and
            numpy arrays.
    """
    path = Path(path)
    with torch.serialization.safe_globals(_numpy_safe_globals()):
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as err:
            found = re.search(r"Unsupported global: GLOBAL (\S+)", str(err))
            what = found.group(1) if found else str(err).splitlines()[0]
            raise pickle.UnpicklingError(
                f"{path}: refusing to load {what}; this loader accepts only tensors, containers "
                "and numpy arrays. The file is not an OGB data file or was tampered with: "
                "recreate it from the raw files or remove it"
            ) from None
