"""Locating a dataset's file under a user's data root, and reading it with one kind of error."""

from __future__ import annotations

import contextlib
import gzip
import pickle
import struct
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from deepgnn.data._safe import RefusedPickle

# What numpy, pandas, pickle, zipfile, gzip and torch raise on a truncated, empty or
# overwritten file (BadZipFile, EOFError "Ran out of input", UnpicklingError "pickle data was
# truncated", pandas' EmptyDataError and ParserError, UnicodeDecodeError, torch's
# RuntimeError "PytorchStreamReader failed ...", KeyError for a missing array, IndexError
# and ValueError for arrays that disagree). Of the OSErrors, a missing file or one the user may
# not read passes through: that is not the file's fault.
_CORRUPT = (
    ValueError,
    KeyError,
    IndexError,
    TypeError,
    AttributeError,
    EOFError,
    RuntimeError,
    OverflowError,
    pickle.UnpicklingError,
    zipfile.BadZipFile,
    gzip.BadGzipFile,
    zlib.error,
    struct.error,
    OSError,  # torch.load seeking past the end of a cut file: "[Errno 22] Invalid argument"
)


def find_in_root(root: Path, sub: str, file: str, *, dataset: str, fix: str) -> Path:
    """Return ``root/<sub>/<file>`` or ``root/<file>``, whichever exists.

    Raises:
        FileNotFoundError: neither exists; the message names both places and ``fix``.
    """
    candidates = [root / sub / file, root / file]
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"dataset {dataset!r}: {file} not found (looked for {', '.join(map(str, candidates))}); "
        f"{fix}"
    )


def _reason(err: BaseException) -> str:
    """The first sentence of ``err``'s message, with its type."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    if len(text) > 100:
        text = text.split(". ")[0]
    if any(word in text for word in ("allow_pickle", "weights_only", "pickled")):
        # numpy's and torch's advice there is to unpickle the file, which deepgnn never does
        text = "not a file of plain arrays"
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


@contextlib.contextmanager
def reading(path: Path | str, *, fix: str) -> Iterator[None]:
    """Turn any error raised while parsing ``path`` into one ``ValueError`` naming it and ``fix``.

    A missing or unreadable file (``FileNotFoundError``, ``PermissionError``) and an
    allow-list refusal (:class:`~deepgnn.data._safe.RefusedPickle`, a
    ``pickle.UnpicklingError``) pass through unchanged. Not nested: a loader's own checks run outside it, with their own messages.

    Example:
        >>> with reading("ind.cora.x", fix="re-download it"):
        ...     raise EOFError("Ran out of input")
        Traceback (most recent call last):
        ...
        ValueError: ind.cora.x is truncated or corrupt (EOFError: Ran out of input); re-download it
    """
    try:
        yield
    except (RefusedPickle, FileNotFoundError, PermissionError, IsADirectoryError):
        raise
    except _CORRUPT as err:
        raise ValueError(f"{path} is truncated or corrupt ({_reason(err)}); {fix}") from None
    except MemoryError as err:
        # A corrupt header can ask for an array of any size (a pickled 4e9 x 4e9 array).
        raise ValueError(
            f"{path} asks for more memory than this machine has ({_reason(err)}); the file is "
            f"corrupt, or too large for this machine: {fix}"
        ) from None


def plain_arrays(z: Any, keys: Iterable[str]) -> dict[str, Any]:
    """The members ``keys`` of an open ``np.load`` archive ``z``, each a numpy array. Call it
    inside :func:`reading`, which names the file.

    A member that is not in numpy's format (a raw pickle, any other bytes) comes out of
    ``np.load`` as ``bytes``: it is named, instead of failing later on ``.dtype``.

    Raises:
        TypeError: a member is not a numpy array.
    """
    out = {}
    for k in keys:
        v = z[k]
        if not isinstance(v, np.ndarray):
            raise TypeError(f"member {k!r} holds {type(v).__name__}, not a numpy array")
        out[k] = v
    return out


def count_classes(labels: np.ndarray, *, path: Path | str, fix: str) -> int:
    """``max label + 1`` of integer class labels (``-1``: unlabelled), or raise naming ``path``.

    Raises:
        ValueError: no node has a label (all ``-1``, which would give ``num_classes=0``) or a
            label is below ``-1``.
    """
    if labels.size == 0 or int(labels.max()) < 0:
        raise ValueError(f"{path} labels no node (every label is -1 or there are none); {fix}")
    if int(labels.min()) < -1:
        raise ValueError(
            f"{path} holds label {int(labels.min())}, but labels are class ids >= 0 or -1 "
            f"(unlabelled); {fix}"
        )
    return int(labels.max()) + 1


def integral(array: np.ndarray, what: str, *, path: Path | str, fix: str) -> np.ndarray:
    """``array`` as int64, or raise naming ``path`` when it holds non-integral numbers.

    Float arrays are accepted when every entry is a whole number (``3.0``); ``astype`` would
    silently truncate ``3.7`` to node 3.
    """
    if array.dtype.kind in "iu":
        return array.astype(np.int64)
    if array.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(array) | (array != np.round(array))
        if not bad.any():
            return array.astype(np.int64)
        example = f" such as {float(array[bad].flat[0])}"
    else:
        example = ""
    raise ValueError(
        f"{path}: {what} has dtype {array.dtype} and values that are not whole numbers{example}, "
        f"but {what} must be integers; {fix}"
    )
