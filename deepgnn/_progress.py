"""Progress bars: tqdm on a terminal; elsewhere (a log file, a pipe, CI) a plain line now and then.

tqdm redraws its bar with ``\\r``, which a file or a pipe keeps: a 1000-epoch run leaves one
line thousands of redraws long. Off a terminal, :func:`progress_bar` writes a whole line at
most every :data:`LINE_INTERVAL` seconds instead (and a last one on ``close`` when ``leave``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import IO, Any

__all__ = ["LINE_INTERVAL", "progress_bar"]

#: Seconds between two lines of a bar that is not on a terminal.
LINE_INTERVAL = 30.0


def _on_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def progress_bar(
    iterable: Iterable[Any] | None = None,
    *,
    total: int | None = None,
    desc: str = "",
    unit: str = "it",
    enabled: bool = True,
    leave: bool = False,
    position: int = 0,
    file: IO[str] | None = None,
    interval: float = LINE_INTERVAL,
) -> Any:
    """A tqdm bar on a terminal, plain periodic lines elsewhere, nothing when not ``enabled``.

    The object has tqdm's ``update``, ``set_postfix``, ``close``, ``n`` and iterates over
    ``iterable`` when given.

    Example:
        >>> import io
        >>> out = io.StringIO()
        >>> bar = progress_bar(total=3, desc="cells", file=out, interval=0.0, leave=True)
        >>> bar.update(2); bar.set_postfix(best="0.5"); bar.update(1); bar.close()
        >>> print(out.getvalue().strip())
        cells: 2/3 it
        cells: 3/3 it, best=0.5
        cells: 3/3 it, best=0.5
    """
    stream = sys.stderr if file is None else file
    if enabled and _on_terminal(stream):
        from tqdm.auto import tqdm

        return tqdm(
            iterable, total=total, desc=desc, unit=unit, leave=leave, position=position, file=file
        )
    return _Lines(iterable, total, desc, unit, leave, stream, interval, enabled)


class _Lines:
    """tqdm's interface, writing ``desc: n/total unit, postfix`` lines every ``interval`` s."""

    def __init__(
        self,
        iterable: Iterable[Any] | None,
        total: int | None,
        desc: str,
        unit: str,
        leave: bool,
        stream: IO[str],
        interval: float,
        enabled: bool,
    ) -> None:
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)  # type: ignore[arg-type]
        self.iterable, self.total, self.desc, self.unit = iterable, total, desc, unit
        self.leave, self.stream, self.interval, self.enabled = leave, stream, interval, enabled
        self.n = 0
        self.postfix = ""
        self.closed = False
        self._last = time.monotonic()

    def __iter__(self) -> Iterator[Any]:
        for item in self.iterable or ():
            yield item
            self.update(1)
        self.close()

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self._write()

    def set_postfix(self, **values: Any) -> None:
        self.postfix = ", ".join(f"{k}={v}" for k, v in values.items())

    def close(self) -> None:
        if not self.closed and self.leave:
            self._write()
        self.closed = True

    def _write(self) -> None:
        if not self.enabled:
            return
        of = f"/{self.total}" if self.total is not None else ""
        tail = f", {self.postfix}" if self.postfix else ""
        prefix = f"{self.desc}: " if self.desc else ""
        try:
            self.stream.write(f"{prefix}{self.n}{of} {self.unit}{tail}\n")
            self.stream.flush()
        except (OSError, ValueError):  # a closed pipe must not stop the work
            pass
