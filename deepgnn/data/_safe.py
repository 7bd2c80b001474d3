"""Allow-listed unpickling for data files that come as pickles.

A pickle can run arbitrary code when loaded. :func:`load_pickle` (Planetoid's raw files)
accepts only the globals named in ``allowed`` and refuses everything else with a clear error;
:func:`load_torch_numpy` reads the ``torch.save`` files of OGB's layout the same way,
allowing numpy's array reconstruction and nothing more.
"""

from __future__ import annotations

import codecs
import collections
import importlib
import io
import pickle
import re
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

try:  # numpy >= 2 moved the reconstruction helper
    from numpy._core.multiarray import _reconstruct
except ImportError:  # pragma: no cover - numpy < 2
    from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]  # numpy 1's name

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


__all__ = ["load_pickle", "load_torch_numpy", "PLANETOID_GLOBALS", "NUMPY_GLOBALS", "RefusedPickle"]


class RefusedPickle(pickle.UnpicklingError):
    """A file refused for what it references (a global outside the allow-list).

    A ``pickle.UnpicklingError``, as callers catch it; its own type only so that the loaders
    tell a refusal (a file that would run code: never retried, never reworded) from a file
    that is merely truncated (``pickle data was truncated``, also an ``UnpicklingError``).
    """


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(
        self,
        file: Any,
        path: Path,
        allowed: Mapping[tuple[str, str], Any],
        *,
        kind: str = "a Planetoid data file",
    ) -> None:
        super().__init__(file, encoding="latin1")
        self._path, self._allowed, self._kind = path, allowed, kind

    def persistent_load(self, pid: Any) -> Any:
        raise RefusedPickle(
            f"{self._path}: refusing a persistent reference ({type(pid).__name__}); "
            f"{self._kind} holds only arrays and containers"
        )

    def find_class(self, module: str, name: str) -> Any:
        obj = self._allowed.get((module, name))
        if obj is None:
            names = sorted(f"{m}.{n}" for m, n in self._allowed)
            allowed = (
                str(names)
                if len(names) <= 10
                else "numpy arrays, their dtypes and Python containers"
            )
            raise RefusedPickle(
                f"{self._path}: refusing to load {module}.{name}; this loader accepts only "
                f"{allowed}. The file is not {self._kind} or was tampered with"
            )
        return obj


def load_pickle(
    path: str | Path, allowed: Mapping[tuple[str, str], Any] = PLANETOID_GLOBALS
) -> Any:
    """Unpickle ``path`` allowing only the globals in ``allowed`` (Python 2 pickles: latin1).

    Raises:
        RefusedPickle: the file references a global outside ``allowed`` (a
            ``pickle.UnpicklingError``).
        pickle.UnpicklingError, EOFError: the file is truncated or not a pickle.
    """
    path = Path(path)
    with path.open("rb") as f:
        return _RestrictedUnpickler(f, path, allowed).load()


def _numpy_globals() -> dict[tuple[str, str], Any]:
    """What a pickled numpy array or scalar references: ``_reconstruct``, ``scalar``,
    ``ndarray``, ``dtype`` and the dtype classes of numpy >= 1.25, under both module names
    (``numpy.core`` before numpy 2, ``numpy._core`` after)."""
    multiarray = importlib.import_module(_reconstruct.__module__)
    # protocol-2 pickles write bytes as _codecs.encode(text, "latin1"); torch allows it too
    allowed: dict[tuple[str, str], Any] = {
        ("_codecs", "encode"): codecs.encode,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(module, "_reconstruct")] = _reconstruct
        allowed[(module, "scalar")] = multiarray.scalar
    dtypes = getattr(np, "dtypes", None)
    for name in dir(dtypes) if dtypes is not None else ():
        obj = getattr(dtypes, name)
        if name.endswith("DType") and isinstance(obj, type):
            allowed[("numpy.dtypes", name)] = obj
    return allowed


NUMPY_GLOBALS: Mapping[tuple[str, str], Any] = _numpy_globals()


def load_torch_numpy(path: str | Path) -> Any:
    """Load a ``torch.save`` file of numpy arrays, dicts and lists without running code.

    ``ogb`` writes ``processed/data_processed`` and ``split_dict.pt`` with ``torch.save`` of
    numpy arrays (the former with pickle protocol 4). ``torch.load(weights_only=True)``, the
    default since torch 2.6, refuses numpy globals and cannot parse protocol 4 at all, and
    ``weights_only=False`` would run whatever the file says. Files without tensors are
    therefore unpickled from the archive's ``data.pkl`` with :data:`NUMPY_GLOBALS` as the
    only allowed globals; files with tensors go through ``torch.load(weights_only=True)``
    with the same numpy globals added to its allow-list.

    Raises:
        RefusedPickle: the file references anything beyond containers, numpy arrays and
            (through torch's weights-only loader) tensors (a ``pickle.UnpicklingError``).
        RuntimeError, pickle.UnpicklingError, EOFError: the file is truncated or not a
            ``torch.save`` file.
    """
    path = Path(path)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            pkl = [n for n in names if n == "data.pkl" or n.endswith("/data.pkl")]
            has_storages = any("/data/" in n for n in names)
            if pkl and not has_storages:
                unpickler = _RestrictedUnpickler(
                    io.BytesIO(zf.read(pkl[0])), path, NUMPY_GLOBALS, kind="an OGB data file"
                )
                return unpickler.load()
    safe: list[Callable[..., Any] | tuple[Callable[..., Any], str]] = [
        (obj, f"{m}.{n}") for (m, n), obj in NUMPY_GLOBALS.items()
    ]
    with torch.serialization.safe_globals(safe):
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as err:
            found = re.search(r"Unsupported global: GLOBAL (\S+)", str(err))
            if found is None:
                # torch words a truncated or overwritten file as a failed weights-only load
                # too; the loaders report it as corrupt (deepgnn.data._files.reading)
                raise RuntimeError(
                    "not a torch.save file of arrays (torch's weights-only loader cannot parse it)"
                ) from None
            raise RefusedPickle(
                f"{path}: refusing to load {found.group(1)}; this loader accepts only tensors, containers "
                "and numpy arrays. The file is not an OGB data file or was tampered with: "
                "recreate it from the raw files or remove it"
            ) from None
