"""Files and storages shared by the whole package: atomic writes and the one Optuna storage resolver.

Everything deepgnn writes (tables, plots, curves, caches, benchmark reports) goes through
:func:`write_atomic`: a temporary file in the target's folder, flushed and fsynced, then
``os.replace``d over the target, so a reader never sees half a file and a crash or a full disk
leaves the old file (or none) in place. Every Optuna storage (SPoGInit's study, a sweep's
ledger) is opened by :func:`optuna_storage`.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

__all__ = ["optuna_storage", "save_figure", "write_atomic"]


def write_atomic(
    path: str | os.PathLike[str], data: str | bytes | Callable[[IO[bytes]], object]
) -> Path:
    """Write ``data`` to ``path`` atomically and durably; return the path.

    Args:
        path: the target file; its folder is created if needed.
        data: text (written as UTF-8), bytes, or a callable that writes into the binary file
            object it is given (e.g. ``lambda f: np.savez(f, **arrays)``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            if callable(data):
                data(f)
            else:
                f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_figure(
    fig: Any, path: str | os.PathLike[str], *, dpi: int = 120, tight: bool = True
) -> Path:
    """Save a matplotlib figure as PNG through :func:`write_atomic` (``tight``: tight bounding box)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight" if tight else None)
    return write_atomic(path, buf.getvalue())


def optuna_storage(storage: object) -> Any:
    """An Optuna storage from a URL, a journal file path, or a storage object.

    - ``None`` and storage objects are returned as they are (``None``: in memory);
    - a string with ``://`` is an RDB URL (``sqlite:///spog.db``,
      ``postgresql+psycopg2://user@host/db``), opened as ``optuna.storages.RDBStorage``;
    - any other string or path is a journal file (``JournalFileBackend``; a ``journal:``
      prefix is allowed), whose folder must exist.

    Raises:
        TypeError: ``storage`` is none of these.
        ValueError: the journal file's folder does not exist.
        ImportError: the URL's database driver is not installed.
    """
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    if storage is None or isinstance(storage, optuna.storages.BaseStorage):
        return storage
    if not isinstance(storage, (str, os.PathLike)):
        raise TypeError(
            f"storage must be an Optuna storage URL such as 'sqlite:///spog.db', a journal file "
            f"path such as 'spog.log', or an optuna storage, got {type(storage).__name__}"
        )
    text = os.fspath(storage)
    if "://" in text:
        try:
            return optuna.storages.RDBStorage(text)
        except ImportError as err:
            raise ImportError(
                f"storage={text!r} needs a database driver: {err}; for PostgreSQL "
                "pip install psycopg2-binary"
            ) from None
    path = Path(text.removeprefix("journal:"))
    if not path.parent.is_dir():
        raise ValueError(
            f"storage={text!r}: folder {str(path.parent)!r} does not exist; create it or pass "
            "an RDB URL such as postgresql+psycopg2://user@host/db"
        )
    return JournalStorage(JournalFileBackend(str(path)))
