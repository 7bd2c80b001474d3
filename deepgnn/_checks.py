"""Argument checks shared by the public functions (errors name the argument and the fix)."""

from __future__ import annotations

import difflib
from collections.abc import Collection
from typing import Any


def check_choice(arg: str, value: object, choices: Collection[str]) -> None:
    """Raise ``ValueError`` when ``value`` is not one of ``choices``, suggesting the nearest."""
    if not isinstance(value, str) or value not in choices:
        near = difflib.get_close_matches(str(value), list(choices), n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        raise ValueError(f"{arg}={value!r} is not one of {sorted(choices)}{hint}")


def check_int(arg: str, value: object, *, minimum: int) -> int:
    """Return ``value`` as an int, or raise naming ``arg`` when it is not an int >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{arg} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{arg}={value} is too small; pass an int >= {minimum}")
    return value


def check_fraction(arg: str, value: object) -> float:
    """Return ``value`` as a float in ``[0, 1)``, or raise naming ``arg``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{arg} must be a float, got {type(value).__name__} {value!r}")
    if not 0.0 <= float(value) < 1.0:
        raise ValueError(f"{arg}={value} is outside [0, 1); pass e.g. {arg}=0.5")
    return float(value)


def check_pair(arg: str, value: object, *, example: str) -> tuple[float, float]:
    """Return ``value`` as two floats, or raise ``TypeError`` naming ``arg`` and an example."""
    if (
        isinstance(value, (str, bytes))
        or not hasattr(value, "__len__")
        or len(value) != 2  # type: ignore[arg-type]
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)  # type: ignore[union-attr]
    ):
        raise TypeError(f"{arg} must be two numbers such as {example}, got {value!r}")
    low, high = value  # type: ignore[misc]
    return float(low), float(high)


def resolve_device(device: Any = None) -> Any:
    """``torch.device(device)``; ``None``: CUDA when available, else the CPU."""
    import torch

    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)
