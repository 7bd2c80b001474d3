"""Allow-listed unpickling for data files that come as pickles (Planetoid's raw files).

A pickle can run arbitrary code when loaded. :func:`load_pickle` accepts only the globals
named in ``allowed`` and refuses everything else with a clear error.
"""

from __future__ import annotations

import collections
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

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
