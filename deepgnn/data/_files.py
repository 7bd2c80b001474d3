"""Locating a dataset's file under a user's data root."""

from __future__ import annotations

from pathlib import Path


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
