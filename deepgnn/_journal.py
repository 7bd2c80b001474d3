"""Journal files that stay readable: Optuna's ``JournalFileBackend`` with a checked tail.

Optuna's journal appends one JSON line per storage operation. A line cut short by a crash or
a full disk, or a tail of NUL bytes (what some file systems leave after a power loss), makes
every later read fail with a bare ``json`` or ``utf-32-be`` error naming neither the file nor
a fix, and the next append glues onto the cut line, corrupting it for good.
:class:`CheckedJournal` keeps Optuna's file format and its lock file and adds:

- **a bad last line is dropped**: opened for writing, the file is repaired under Optuna's lock
  (no writer is then in the middle of a line), after a copy of it is kept as
  ``<file>.bak-<time>``; opened read-only, the line is skipped and the file left as it is.
  Either way a warning names the file and what was dropped;
- **a bad line before the last** raises ``ValueError`` naming the file, the line and how to
  recover (the lines after it cannot be replayed without it);
- **a failed append** (``ENOSPC``, ...) is cut back to where it started, so the file holds
  whole lines only, and raises ``OSError`` naming the file;
- **read-only** backends refuse to append.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from optuna.storages.journal import JournalFileBackend, JournalFileSymlinkLock

__all__ = ["CheckedJournal", "check_tail"]

log = logging.getLogger(__name__)

_CHUNK = 8192
_PREVIEW = 60


def _entry(line: bytes) -> dict[str, Any] | None:
    """The journal entry a line holds, or ``None`` (not JSON, NUL bytes, not an operation)."""
    try:
        entry = json.loads(line)
    except ValueError:  # JSONDecodeError, and UnicodeDecodeError: json reads NULs as UTF-32
        return None
    return entry if isinstance(entry, dict) and "op_code" in entry else None


def _blank(line: bytes) -> bool:
    return not line.strip(b"\x00 \t\r\n")


def _data_end(f: IO[bytes], size: int) -> int:
    """The offset after the last byte that is not NUL."""
    hi = size
    while hi > 0:
        lo = max(0, hi - _CHUNK)
        f.seek(lo)
        kept = f.read(hi - lo).rstrip(b"\x00")
        if kept:
            return lo + len(kept)
        hi = lo
    return 0


def _line_start(f: IO[bytes], end: int) -> int:
    """The offset of the line that ends at ``end`` (its last byte may be its newline)."""
    hi = end - 1
    while hi > 0:
        lo = max(0, hi - _CHUNK)
        f.seek(lo)
        i = f.read(hi - lo).rfind(b"\n")
        if i >= 0:
            return lo + i + 1
        hi = lo
    return 0


def _line_number(path: str, offset: int) -> int:
    """The 1-based number of the line starting at ``offset``."""
    count = 0
    with open(path, "rb") as f:
        while offset > 0:
            chunk = f.read(min(offset, 1 << 20))
            if not chunk:
                break
            count += chunk.count(b"\n")
            offset -= len(chunk)
    return count + 1


def corrupt_line(path: str, number: int, line: bytes) -> ValueError:
    """The error for line ``number`` (1-based) that is not an entry and is followed by more."""
    if number == 1:
        return ValueError(
            f"{path} is not an Optuna journal: line 1 is not a journal entry "
            f"({line[:_PREVIEW]!r}); pass storage= the journal file, or a new path to start one"
        )
    keep = number - 1
    return ValueError(
        f"{path}: line {number} is not a journal entry ({line[:_PREVIEW]!r}), and the lines "
        f"after it cannot be replayed without it; restore the file from a backup "
        f"({Path(path).name}.bak-*), or keep its first {keep} lines (head -n {keep} {path} > "
        f"{path}.fixed && mv {path}.fixed {path}): what was recorded after line {keep} is then "
        "lost and runs again"
    )


def _what(tail: bytes, nuls: int) -> str:
    """Describe dropped bytes: a cut line, a line that is not an entry, NUL bytes."""
    if _blank(tail):
        return f"{len(tail) + nuls} NUL or blank bytes"
    kind = "a line cut short" if not tail.endswith(b"\n") else "a line that is not a journal entry"
    more = f" and {nuls} NUL bytes" if nuls else ""
    return f"{kind} ({len(tail)} bytes: {tail[:_PREVIEW]!r}){more}"


def check_tail(path: str, *, first: bool = False) -> tuple[int, str]:
    """Where the journal's last whole entry ends, and what follows it.

    Args:
        path: the journal file.
        first: also check that line 1 is an entry (the file is a journal at all).

    Returns:
        ``(keep, what)``: the bytes to keep and a description of the rest (``""`` when the
        file ends with a whole entry).

    Raises:
        ValueError: the file is not a journal, or the line before a bad last line is bad too
            (then the bad part is not a cut tail: :func:`corrupt_line`).
    """
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        end = _data_end(f, size)
        if end == 0:
            return 0, ("" if size == 0 else f"{size} NUL bytes")
        if first:
            f.seek(0)
            head = f.readline()
            if len(head) < end and _entry(head) is None:
                raise corrupt_line(path, 1, head)
        start = _line_start(f, end)
        f.seek(start)
        last = f.read(end - start)
        if last.endswith(b"\n") and _entry(last) is not None:
            return end, ("" if end == size else f"{size - end} NUL bytes")
        if start == 0:
            if not (last.startswith(b'{"op_code"') or _blank(last)):
                raise corrupt_line(path, 1, last)
            return 0, _what(last, size - end)
        before = _line_start(f, start)
        f.seek(before)
        previous = f.read(start - before)
    if _entry(previous) is None:
        raise corrupt_line(path, _line_number(path, before), previous)
    return start, _what(last, size - end)


class CheckedJournal(JournalFileBackend):
    """Optuna's ``JournalFileBackend`` that drops a bad last line and names bad files.

    Args:
        path: the journal file; opened read-only it must exist.
        read_only: never write: a bad last line is skipped (and the file left as is), and
            :meth:`append_logs` raises.

    Raises:
        ValueError: the file is not a journal, or a line before the last is not an entry.
        FileNotFoundError: ``read_only`` and the file does not exist.
    """

    def __init__(self, path: str, *, read_only: bool = False) -> None:
        if read_only and not os.path.isfile(path):
            raise FileNotFoundError(f"journal file {path!r} does not exist")
        self._journal = path
        self._read_only = read_only
        self._file_lock = JournalFileSymlinkLock(path)
        super().__init__(path, lock_obj=self._file_lock)
        self._offsets: dict[int, int] = {0: 0}  # entry number -> byte offset of its line
        self._warned = False
        _, what = check_tail(path, first=True)
        if what and read_only:
            time.sleep(0.05)  # a writer may be in the middle of the line: look again
            _, what = check_tail(path, first=True)
        if not what:
            return
        if read_only:
            self._warned = True
            log.warning(
                "%s: skipping %s at its end (a crash or a full disk cuts the last line); "
                "`deepgnn sweep run` repairs the file, keeping a backup",
                path,
                what,
            )
            return
        with self._locked():
            self._repair()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold Optuna's lock file of the journal."""
        try:
            self._file_lock.acquire()
        except OSError as err:
            raise OSError(err.errno, err.strerror, self._journal) from err
        try:
            yield
        finally:
            self._file_lock.release()

    def _repair(self) -> int:
        """Drop a bad tail, keeping a copy of the file first; return the file's size. Call
        under the lock: no writer is then in the middle of a line."""
        path = self._journal
        keep, what = check_tail(path)
        if not what:
            return keep
        stamp = time.strftime("%Y%m%d-%H%M%S")
        backup, n = f"{path}.bak-{stamp}", 1
        while os.path.exists(backup):
            backup, n = f"{path}.bak-{stamp}-{n}", n + 1
        shutil.copyfile(path, backup)
        os.truncate(path, keep)
        log.warning(
            "%s: dropped %s at its end, left by a crash or a full disk; the file as it was is "
            "kept as %s",
            path,
            what,
            backup,
        )
        return keep

    def read_logs(self, log_number_from: int) -> Generator[dict[str, Any], None, None]:
        """Yield the entries from number ``log_number_from`` on; a bad last line is skipped.

        Raises:
            ValueError: a line that is not an entry is followed by one that is.
        """
        number = log_number_from if log_number_from in self._offsets else 0
        pos = self._offsets[number]
        with open(self._journal, "rb") as f:
            size = os.fstat(f.fileno()).st_size  # lines written from now on: the next call
            f.seek(pos)
            bad: tuple[int, bytes] | None = None
            for line in f:
                if pos + len(line) > size or not line.endswith(b"\n"):
                    break  # still being written, or cut short (check_tail tells which)
                entry = _entry(line)
                if entry is None:
                    bad = bad or (pos, line)
                    pos += len(line)
                    continue
                if bad is not None:
                    raise corrupt_line(self._journal, _line_number(self._journal, bad[0]), bad[1])
                pos += len(line)
                number += 1
                self._offsets[number] = pos
                if number > log_number_from:
                    yield entry
        if bad is not None and not self._warned:
            self._warned = True
            log.warning(
                "%s: its last line is not a journal entry (%r) and is skipped",
                self._journal,
                bad[1][:_PREVIEW],
            )

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        """Append ``logs`` under Optuna's lock; a failed write is cut back to where it began.

        Raises:
            OSError: the write failed (``ENOSPC``, ...); its ``filename`` is the journal's.
        """
        if self._read_only:
            raise RuntimeError(f"{self._journal} was opened read-only")
        path = self._journal
        data = "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in logs).encode()
        with self._locked():
            size = self._repair()
            try:
                with open(path, "ab") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
            except OSError as err:
                try:
                    os.truncate(path, size)
                except OSError:
                    log.warning("%s: could not cut a failed write back", path)
                raise OSError(err.errno, err.strerror, path) from err
