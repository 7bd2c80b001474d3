"""Functions named ``"package.module:function"``: how a sweep file names a user's code (a model
factory, a dataset loader) so that every worker process can import it."""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["import_module", "path_of", "portable", "resolve_callable"]

SPEC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def import_module(name: str) -> Any:
    """``importlib.import_module``, with the current folder searched last."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as err:
        # `deepgnn sweep run` is a console script, whose sys.path lacks the current folder
        # (python -m and python -c have it): a module beside the sweep file is found as a
        # script beside it would be.
        cwd = os.getcwd()
        if err.name != name.partition(".")[0] or cwd in sys.path or "" in sys.path:
            raise
        sys.path.append(cwd)
        return importlib.import_module(name)


def resolve_callable(spec: object, *, arg: str, example: str) -> Callable[..., Any]:
    """Import the function ``spec`` names, ``"package.module:function"``.

    Raises:
        ValueError: the spec is malformed, the module cannot be imported, the attribute is
            missing or not callable; the message names ``arg`` and the fix.
    """
    if not isinstance(spec, str) or not SPEC.match(spec):
        raise ValueError(
            f"{arg}={spec!r}; name a function as 'package.module:function', e.g. {example}"
        )
    module_name, _, attr = spec.partition(":")
    try:
        obj: Any = import_module(module_name)
    except ImportError as err:
        raise ValueError(
            f"{arg}={spec!r}: module {module_name!r} cannot be imported ({err}); install it "
            "or add its folder to PYTHONPATH"
        ) from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            names = sorted(n for n in dir(obj) if not n.startswith("_"))
            raise ValueError(
                f"{arg}={spec!r}: {module_name!r} has no {attr!r}; its public names are "
                f"{names[:20]}"
            )
        obj = getattr(obj, part)
    if not callable(obj):
        raise ValueError(f"{arg}={spec!r} is a {type(obj).__name__}, not a function")
    return obj


def path_of(fn: Callable[..., Any]) -> tuple[str, bool]:
    """``fn``'s ``"module:qualname"`` and whether another process can import it by that path.

    A function of the main script is ``"__main__:name"`` (in a spawned worker, the script
    re-imported as ``__mp_main__`` is ``sys.modules["__main__"]``); a lambda, a function
    defined inside another, or one of an interactive session has no importable path.
    """
    module = getattr(fn, "__module__", None) or "?"
    qualname = getattr(fn, "__qualname__", None) or type(fn).__name__
    if module == "__mp_main__":
        module = "__main__"
    path = f"{module}:{qualname}"
    if not portable(path):
        return path, False
    obj: Any = sys.modules.get(module)
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    return path, obj is fn


def portable(path: str) -> bool:
    """Whether a fresh (spawned) process can import the function ``path`` names: a well-formed
    ``"module:qualname"`` that is not of an interactive session's ``__main__``."""
    if not SPEC.match(path):
        return False  # a lambda or a function defined inside another: "<locals>" in the path
    main = getattr(sys.modules.get("__main__"), "__file__", None)
    return not (path.startswith("__main__:") and not main)
