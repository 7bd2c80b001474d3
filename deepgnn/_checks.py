"""Argument checks shared by the public functions (errors name the argument and the fix)."""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Collection, Iterable, Sequence, Sized
from typing import Any


def check_choice(arg: str, value: object, choices: Collection[str]) -> None:
    """Raise ``ValueError`` when ``value`` is not one of ``choices``, suggesting the nearest."""
    if not isinstance(value, str) or value not in choices:
        near = difflib.get_close_matches(str(value), list(choices), n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        raise ValueError(f"{arg}={value!r} is not one of {sorted(choices)}{hint}")


def check_int(arg: str, value: object, *, minimum: int, maximum: int | None = None) -> int:
    """Return ``value`` as an int, or raise naming ``arg`` when it is not an int >= ``minimum``
    (and <= ``maximum`` when given).

    Python and numpy integers are ints; ``bool`` and floats (even ``1.0``) are not.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{arg} must be an int >= {minimum}, got {type(value).__name__} {value!r}; pass "
            f"e.g. {arg}={max(minimum, 0)}"
        )
    if value < minimum:
        raise ValueError(f"{arg}={value} is too small; pass an int >= {minimum}")
    if maximum is not None and int(value) > maximum:
        raise ValueError(f"{arg}={value} is too large; pass an int <= {maximum}")
    return int(value)


#: The largest seed ``torch.manual_seed`` takes (it seeds a 64-bit generator).
MAX_SEED = 2**64 - 1


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux ``MemAvailable``), else ``None``."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def check_real(
    arg: str,
    value: object,
    *,
    minimum: float | None = None,
    exclusive: bool = False,
    example: str = "1.0",
) -> float:
    """Return ``value`` as a finite float, or raise naming ``arg``.

    ``TypeError`` for anything but a real number (``bool`` included); ``ValueError`` for NaN,
    inf or a value below ``minimum`` (at ``minimum`` too when ``exclusive``).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{arg} must be a number such as {arg}={example}, got {type(value).__name__} {value!r}"
        )
    v = float(value)
    ok = math.isfinite(v) and (minimum is None or (v > minimum if exclusive else v >= minimum))
    if not ok:
        bound = "" if minimum is None else f" {'>' if exclusive else '>='} {minimum:g}"
        raise ValueError(
            f"{arg}={value!r} is not a finite number{bound}; pass e.g. {arg}={example}"
        )
    return v


def check_fraction(arg: str, value: object) -> float:
    """Return ``value`` as a float in ``[0, 1)``, or raise naming ``arg``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{arg} must be a float, got {type(value).__name__} {value!r}")
    if not 0.0 <= float(value) < 1.0:
        raise ValueError(f"{arg}={value} is outside [0, 1); pass e.g. {arg}=0.5")
    return float(value)


def check_unit(arg: str, value: object, *, what: str, example: float) -> float:
    """Return ``value`` as a float in ``[0, 1]``, or raise naming ``arg``, ``what`` it is and an example."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"{arg}={value!r}; pass {what} in [0, 1] such as {arg}={example}")
    return float(value)


def check_pair(arg: str, value: object, *, example: str) -> tuple[float, float]:
    """Return ``value`` as two floats, or raise ``TypeError`` naming ``arg`` and an example."""
    if (
        isinstance(value, (str, bytes))
        or not isinstance(value, Sized)
        or not isinstance(value, Iterable)
        or len(value) != 2
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    ):
        raise TypeError(f"{arg} must be two numbers such as {example}, got {value!r}")
    low, high = value
    return float(low), float(high)


def per_model(arg: str, values: object, k: int) -> list[Any]:
    """``values`` as a list of one entry per model (``None``: ``k`` times ``None``), or raise
    naming ``arg``: ``TypeError`` for a non-sequence, ``ValueError`` for another length."""
    if values is None:
        return [None] * k
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise TypeError(f"{arg} must be a sequence with one entry per model, got {values!r}")
    if len(values) != k:
        raise ValueError(f"{arg} has {len(values)} entries for {k} models; pass one per model")
    return list(values)


def check_device(arg: str, device: object) -> Any:
    """Return ``torch.device(device)``, or raise naming ``arg`` when torch here cannot use it.

    ``TypeError`` for anything but a device name, an index or a ``torch.device``;
    ``ValueError`` for a name torch does not know, and for a CUDA (or MPS) device that this
    torch build or machine does not have (torch itself would raise an ``AssertionError``
    from deep inside the first ``.to()``).
    """
    import torch

    if isinstance(device, bool) or not isinstance(device, (str, int, torch.device)):
        raise TypeError(
            f"{arg} must be a device name such as 'cpu' or 'cuda:0', a torch.device or None, "
            f"got {type(device).__name__} {device!r}"
        )
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError, TypeError):
        raise ValueError(
            f"{arg}={device!r} is not a device torch knows; pass 'cpu', 'cuda' or 'cuda:<index>'"
        ) from None
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(
                f"{arg}={device!r}, but this torch sees no CUDA device (torch.cuda.is_available() "
                f"is False); pass {arg}='cpu', or {arg}=None to use CUDA only where there is one"
            )
        if dev.index is not None and dev.index >= count:
            raise ValueError(
                f"{arg}={device!r}, but this machine has {count} CUDA device(s); pass "
                f"{arg}='cuda:<index>' with an index below {count}"
            )
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"{arg}={device!r}, but MPS is not available here; pass {arg}='cpu'")
    return dev


def resolve_device(device: Any = None, *, arg: str = "device") -> Any:
    """``torch.device(device)``, checked by :func:`check_device`; ``None``: CUDA when available, else the CPU."""
    import torch

    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return check_device(arg, device)
