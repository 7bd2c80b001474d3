"""Files and storages shared by the whole package: atomic writes and the one Optuna storage resolver.

Everything deepgnn writes (tables, plots, curves, caches, benchmark reports) goes through
:func:`write_atomic`: a temporary file in the target's folder, flushed and fsynced, then
``os.replace``d over the target, so a reader never sees half a file and a crash or a full disk
leaves the old file (or none) in place; the file gets the permissions any file this process
creates gets (``0666`` less the umask). Every Optuna storage (SPoGInit's study, a sweep's
ledger) is opened by :func:`optuna_storage`; journal files go through
:class:`deepgnn._journal.CheckedJournal`, which drops a line cut by a crash or a full disk.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import io
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, TypeVar

__all__ = [
    "NO_SPACE",
    "load_saved",
    "optuna_storage",
    "quiet_optuna",
    "save_figure",
    "stop_on_os_error",
    "stopped",
    "stops_on_os_error",
    "write_atomic",
]

# Errors no later write gets past: a full disk, a full quota, the file size limit (ulimit -f).
NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)

_F = TypeVar("_F", bound=Callable[..., Any])


def stopped(err: OSError) -> OSError:
    """A failed write as the sweep commands report it: the file, what happened and the fix,
    in one line (``disk full writing <file>; free space and rerun the same command``). A
    ``FileNotFoundError`` is returned as it is."""
    if isinstance(err, FileNotFoundError):
        return err
    file = err.filename or "the sweep's storage"
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        text = f"disk full writing {file}; free space and rerun the same command"
    elif err.errno == errno.EFBIG:
        text = (
            f"file size limit reached writing {file}; raise it (ulimit -f) or free space and "
            "rerun the same command"
        )
    else:
        text = f"{err.strerror or err} ({file}); fix the cause and rerun the same command"
    out = OSError(text)
    out.errno = err.errno
    return out


@contextlib.contextmanager
def stop_on_os_error() -> Iterator[None]:
    """Re-raise an ``OSError`` of the block as :func:`stopped` says it."""
    try:
        yield
    except OSError as err:
        new = stopped(err)
        if new is err:
            raise
        raise new from err


def stops_on_os_error(fn: _F) -> _F:
    """Decorate ``fn`` so that its ``OSError`` reads as :func:`stopped` says it."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with stop_on_os_error():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def load_saved(path: str | Path, *, missing: str, invalid: str, fix: str, format: int) -> Any:
    """Read a dict deepgnn saved with ``torch.save`` under a ``"format"`` header:
    ``torch.load(weights_only=True)`` on the CPU, so it runs no code.

    A missing file raises ``FileNotFoundError(missing)``; one torch cannot read that way
    raises ``ValueError`` of ``invalid`` with the reason, then ``fix``; one that is not a dict
    with ``"format": format`` raises ``ValueError`` of ``invalid``, the header it lacks, then
    ``fix``.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(missing)
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(f"{invalid} ({type(err).__name__}: {err}); {fix}") from None
    if not isinstance(saved, dict) or saved.get("format") != format:
        raise ValueError(f"{invalid} (no format {format} header); {fix}")
    return saved


def write_atomic(
    path: str | os.PathLike[str], data: str | bytes | Callable[[IO[bytes]], object]
) -> Path:
    """Write ``data`` to ``path`` atomically and durably; return the path.

    Args:
        path: the target file; its folder is created if needed.
        data: text (written as UTF-8), bytes, or a callable that writes into the binary file
            object it is given (e.g. ``lambda f: np.savez(f, **arrays)``).

    Raises:
        OSError: the write failed (e.g. ``ENOSPC``: the disk is full); its ``filename`` is
            ``path``, which is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # os.open with mode 0o666 lets the umask decide, as for any file this process creates
    # (tempfile.mkstemp would make it 0600, unreadable to a group sharing the results).
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    try:
        try:
            with os.fdopen(fd, "wb") as f:
                if callable(data):
                    data(f)
                else:
                    f.write(data.encode("utf-8") if isinstance(data, str) else data)
                f.flush()
                os.fsync(f.fileno())
        except OSError as err:
            if err.filename is not None or err.errno is None:
                raise
            raise OSError(err.errno, err.strerror, str(path)) from err
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def save_figure(
    fig: Any, path: str | os.PathLike[str], *, dpi: int = 120, tight: bool = True
) -> Path:
    """Save a matplotlib figure as PNG through :func:`write_atomic` (``tight``: tight bounding box)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight" if tight else None)
    return write_atomic(path, buf.getvalue())


def optuna_storage(storage: object, *, read_only: bool = False) -> Any:
    """An Optuna storage from a URL, a journal file path, or a storage object.

    - ``None`` and storage objects are returned as they are (``None``: in memory);
    - a string with ``://`` is an RDB URL (``sqlite:///spog.db``,
      ``postgresql+psycopg2://user@host/db``), opened as ``optuna.storages.RDBStorage``;
    - any other string or path is a journal file (a ``journal:`` prefix is allowed), whose
      folder must exist, opened as a :class:`~deepgnn._journal.CheckedJournal`: a last line
      cut by a crash or a full disk is dropped (the file repaired, a backup kept) with a
      warning.

    Args:
        storage: the storage.
        read_only: the caller only reads: a journal's bad last line is skipped instead of
            repaired, and the file (or an SQLite database) must exist.

    Raises:
        TypeError: ``storage`` is none of these.
        ValueError: the journal file's folder does not exist, the path is a folder, the file
            is not a journal or has a corrupt line; the URL names no database SQLAlchemy
            knows, an SQLite file in a missing folder, or a database that cannot be opened.
        FileNotFoundError: ``read_only`` and the journal file (SQLite database) does not exist.
        ImportError: the URL's database driver is not installed.
    """
    import optuna

    if storage is None or isinstance(storage, optuna.storages.BaseStorage):
        return storage
    if not isinstance(storage, (str, os.PathLike)):
        raise TypeError(
            f"storage must be an Optuna storage URL such as 'sqlite:///spog.db', a journal file "
            f"path such as 'spog.log', or an optuna storage, got {type(storage).__name__}"
        )
    text = os.fspath(storage)
    if "://" in text:
        return _rdb_storage(text, read_only=read_only)
    path = Path(text.removeprefix("journal:"))
    if path.is_dir():
        raise ValueError(
            f"storage={text!r} is a folder; pass a journal file in it, such as "
            f"{str(path / 'sweep.journal')!r}, or an RDB URL"
        )
    if read_only and not path.exists():
        raise FileNotFoundError(f"journal file {str(path)!r} does not exist")
    if not path.parent.is_dir():
        raise ValueError(
            f"storage={text!r}: folder {str(path.parent)!r} does not exist; create it or pass "
            "an RDB URL such as postgresql+psycopg2://user@host/db"
        )
    from optuna.storages.journal import JournalStorage

    from deepgnn._journal import CheckedJournal

    return JournalStorage(CheckedJournal(str(path), read_only=read_only))


def _rdb_storage(text: str, *, read_only: bool) -> Any:
    import optuna
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

    fix = (
        "pass an RDB URL such as 'sqlite:///sweep.db' or 'postgresql+psycopg2://user@host/db', "
        "or a journal file path"
    )
    try:
        url = make_url(text)
    except ArgumentError as err:
        raise ValueError(f"storage={text!r} is not a database URL ({err}); {fix}") from None
    database = url.database
    if url.get_backend_name() == "sqlite" and database and database != ":memory:":
        file = Path(database.removeprefix("file:").split("?")[0])
        if not file.parent.is_dir():
            raise ValueError(
                f"storage={text!r}: folder {str(file.parent)!r} of the SQLite file does not "
                "exist; create it, or pass a URL of a file in an existing folder"
            )
        if file.is_dir():
            raise ValueError(f"storage={text!r}: {str(file)!r} is a folder; name a file in it")
        if read_only and not file.exists():
            raise FileNotFoundError(f"SQLite database {str(file)!r} does not exist")
    try:
        return optuna.storages.RDBStorage(text)
    except ImportError as err:
        raise ImportError(
            f"storage={text!r} needs a database driver: {err}; for PostgreSQL "
            "pip install psycopg2-binary"
        ) from None
    except NoSuchModuleError:
        raise ValueError(
            f"storage={text!r}: SQLAlchemy knows no database {url.drivername!r}; {fix}"
        ) from None
    except SQLAlchemyError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(
            f"storage={text!r} cannot be opened ({first}); check the URL, that the server "
            "runs and that its user may connect"
        ) from None


@contextlib.contextmanager
def quiet_optuna() -> Iterator[None]:
    """Optuna's info logging off ("Using an existing study", trial lines), then back as it was."""
    import optuna

    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(max(level, optuna.logging.WARNING))
    try:
        yield
    finally:
        optuna.logging.set_verbosity(level)


def jsonable(value: Any) -> Any:
    """``value`` as JSON holds it: tuples as lists, mappings with text keys in sorted order,
    anything else JSON cannot hold as its text (what a cell key hashes must print the same
    on every machine)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    return str(value)
