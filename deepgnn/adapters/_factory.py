"""Model factories named ``"package.module:function"``: how sweeps build a user's architecture."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from deepgnn._checks import check_int
from deepgnn._imports import resolve_callable
from deepgnn.adapters._wrapped import wrap
from deepgnn.models import GNN

__all__ = ["FACTORY_ARGS", "factory_options", "from_factory", "is_factory", "resolve_factory"]

#: The arguments every factory takes (by these names, as keywords).
FACTORY_ARGS = ("in_dim", "out_dim", "depth")


def is_factory(name: object) -> bool:
    """Whether ``name`` names a factory (``"package.module:function"``), not a family.

    Example:
        >>> is_factory("mypkg.models:build_gat"), is_factory("gcn")
        (True, False)
    """
    return isinstance(name, str) and ":" in name


def resolve_factory(spec: str) -> Callable[..., Any]:
    """Import the function ``spec`` names, ``"package.module:function"``.

    The module is imported as Python imports it (installed, or on ``PYTHONPATH``); the
    current folder is searched too.

    Raises:
        ValueError: the spec is malformed, the module cannot be imported, the attribute is
            missing or not callable; the message says which and how to fix it.
    """
    return resolve_callable(spec, arg="factory", example='factory = "mymodels.pyg:build_gat"')


def factory_options(spec: str) -> set[str] | None:
    """The ``[model]`` keys factory ``spec`` takes besides ``in_dim``, ``out_dim``, ``depth``;
    ``None`` when it takes any (``**kwargs``).

    Raises:
        ValueError: the factory cannot be resolved, or does not take ``in_dim``, ``out_dim``
            and ``depth`` as keywords.
    """
    fn = resolve_factory(spec)
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return None
    kinds = inspect.Parameter
    if any(p.kind is kinds.VAR_KEYWORD for p in params.values()):
        return None
    keywords = {
        n for n, p in params.items() if p.kind in (kinds.POSITIONAL_OR_KEYWORD, kinds.KEYWORD_ONLY)
    }
    missing = [a for a in FACTORY_ARGS if a not in keywords]
    if missing:
        raise ValueError(
            f"factory={spec!r} does not take {missing}; a factory is called as "
            "fn(in_dim=..., out_dim=..., depth=..., **[model] keys)"
        )
    return keywords - set(FACTORY_ARGS)


def from_factory(
    spec: str, in_dim: int, out_dim: int, depth: int, *, seed: int | None = None, **options: Any
) -> GNN:
    """Build a model with factory ``spec`` and wrap it (:func:`deepgnn.wrap`).

    Calls ``fn(in_dim=in_dim, out_dim=out_dim, depth=depth, **options)``. A factory may return
    a deepgnn model (its own :func:`deepgnn.wrap` call, with ``layers=`` or ``family=``) or
    any ``torch.nn.Module``, which is wrapped with the defaults.

    Args:
        spec: ``"package.module:function"``.
        in_dim, out_dim, depth: the sizes the cell needs.
        seed: when given, the factory draws its parameters from this seed (the global RNG
            state is restored afterwards).
        **options: the factory's own keyword options (a sweep's ``[model]`` keys).

    Raises:
        ValueError: a bad spec, an option the factory does not take, a model whose sizes do
            not match; TypeError: the factory returned no module.
    """
    accepted = factory_options(spec)
    if accepted is not None:
        unknown = sorted(set(options) - accepted)
        if unknown:
            raise ValueError(
                f"factory={spec!r} does not take {unknown}; its options are {sorted(accepted)}"
            )
    fn = resolve_factory(spec)
    kwargs = {"in_dim": in_dim, "out_dim": out_dim, "depth": depth, **options}
    if seed is None:
        built = fn(**kwargs)
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(check_int("seed", seed, minimum=0))
            built = fn(**kwargs)
    if not isinstance(built, GNN):
        if not isinstance(built, nn.Module):
            raise TypeError(
                f"factory={spec!r} returned {type(built).__name__}; a factory returns a "
                "torch.nn.Module (or deepgnn.wrap(module, ...))"
            )
        built = wrap(built)
    if (built.in_dim, built.out_dim) != (in_dim, out_dim):
        raise ValueError(
            f"factory={spec!r} built a model {built.in_dim} -> {built.out_dim} for "
            f"in_dim={in_dim}, out_dim={out_dim}; build it from the in_dim and out_dim it is given"
        )
    return built
