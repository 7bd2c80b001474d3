"""Model families at any depth: ``build(name, in_dim, out_dim, depth, ...)``.

Every model is a :class:`GNN`: called ``model(graph, x)``, it returns logits, and it
exposes ``hidden_states(graph, x)`` and ``layer_weights()`` the same way for every family
and backend. A new family subclasses :class:`GNN` (its docstring lists the hooks) and
joins :func:`build` through :func:`register`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from deepgnn._checks import MAX_SEED, available_memory, check_choice, check_int
from deepgnn.models._base import ACTIVATIONS, GNN, NORMS, LayerWeight, NodeNorm, PairNorm
from deepgnn.models.appnp import APPNP
from deepgnn.models.gat import GAT
from deepgnn.models.gcn import GCN
from deepgnn.models.gcnii import GCNII
from deepgnn.models.jknet import JKNet
from deepgnn.models.resgcn import GatedResGCN, ResGCN, ReZeroGCN
from deepgnn.models.revgcn import RevGCN

__all__ = [
    "build",
    "available",
    "options",
    "register",
    "GNN",
    "LayerWeight",
    "PairNorm",
    "ACTIVATIONS",
    "NORMS",
    "NodeNorm",
]

_REGISTRY: dict[str, type[GNN]] = {}


def register(name: str) -> Callable[[type[GNN]], type[GNN]]:
    """Class decorator adding a :class:`GNN` subclass to the registry under ``name``.

    Example:
        >>> @register("my_gcn")
        ... class MyGCN(GCN):
        ...     family = "my_gcn"
        >>> "my_gcn" in available()
        True
        >>> _ = _REGISTRY.pop("my_gcn")
    """

    def deco(cls: type[GNN]) -> type[GNN]:
        if not (isinstance(cls, type) and issubclass(cls, GNN)):
            raise TypeError(
                f"register({name!r}) needs a subclass of deepgnn.models.GNN, got {cls!r}"
            )
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"a model family named {name!r} is already registered")
        _REGISTRY[name] = cls
        return cls

    return deco


for _cls in (GCN, ResGCN, GatedResGCN, ReZeroGCN, GAT, RevGCN, GCNII, JKNet, APPNP):
    register(_cls.family)(_cls)


def available() -> list[str]:
    """Return the registered family names.

    Example:
        >>> available()
        ['appnp', 'gat', 'gated_resgcn', 'gcn', 'gcnii', 'jknet', 'resgcn', 'revgcn', 'rezero']
    """
    return sorted(_REGISTRY)


def options(family: str) -> dict[str, object]:
    """Return the options family ``family`` takes beyond :func:`build`'s own, with defaults.

    They are the family's ``family_options`` table, which ``GNN.__init__`` checks.

    Example:
        >>> options("gat"), options("gcn")
        ({'heads': 4}, {})
    """
    return dict(_REGISTRY[_family(family)].family_options)


def _family(family: str) -> str:
    """``family`` as registered: names are matched case-insensitively (``"GCN"`` is ``gcn``)."""
    if isinstance(family, str) and family not in _REGISTRY and family.lower() in _REGISTRY:
        return family.lower()
    check_choice("family", family, _REGISTRY)
    return family


# Python's bytes per layer module beyond its parameters (measured: 1-8 kB for a layer of
# width 2 with its bias and norm, CPython 3.11); a bound, so the estimate stays an estimate.
_MODULE_BYTES = 8 * 1024


def _check_fits(family: str, in_dim: object, out_dim: object, depth: object, width: object) -> None:
    """Refuse a model whose parameters alone would not fit in this machine's memory, before
    allocating them (torch's allocator would fail deep inside a layer, or the machine swap)."""
    sizes = [v for v in (in_dim, out_dim, depth, width) if isinstance(v, int) and v > 0]
    if len(sizes) < 4 or any(isinstance(v, bool) for v in sizes) or family == "appnp":
        return  # the constructor names a bad argument; APPNP's depth is steps without weights
    n_in, n_out, layers, w = sizes
    # The weights every family has: in -> width, (depth - 1) x width -> width, width -> out.
    params = w * (n_in + n_out) + max(layers - 1, 0) * w * w
    need = params * torch.get_default_dtype().itemsize + layers * _MODULE_BYTES
    free = available_memory()
    if free is not None and need > free:
        raise ValueError(
            f"build({family!r}, depth={layers}, width={w}) needs about {_human_bytes(need)} "
            f"for its parameters and layer modules, but this machine has {_human_bytes(free)} "
            "of memory available; pass a smaller depth or width"
        )


def _human_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:.3g} {unit}"
        n /= 1000
    return f"{n:.3g} PB"


def build(
    family: str,
    in_dim: int,
    out_dim: int,
    depth: int,
    *,
    width: int = 64,
    activation: str = "tanh",
    dropout: float = 0.0,
    bias: bool = True,
    norm: str | None = None,
    backend: str = "torch",
    checkpoint: int | bool | None = None,
    seed: int | None = None,
    **options: object,
) -> GNN:
    """Build a model of ``family`` with ``depth`` graph layers.

    Args:
        family: one of :func:`available`, in any case (``gcn``, ``resgcn``,
            ``gated_resgcn``, ``rezero``, ``gat``, ``gcnii``, ``jknet``, ``appnp``,
            ``revgcn``: grouped reversible blocks, ``groups=``, ``reversible=``).
        in_dim: input feature dimension.
        out_dim: number of outputs (classes).
        depth: number of graph layers, >= 1 (``appnp``: propagation steps :math:`K`).
        width: hidden width.
        activation: ``tanh``, ``relu``, ``leaky_relu``, ``elu``, ``gelu``, ``sigmoid`` or ``identity``.
        dropout: dropout probability after each hidden activation (``gcnii``, ``appnp``: also
            on the input features, as their papers).
        bias: whether layers have biases.
        norm: ``None``, ``"layer"``, ``"batch"``, ``"pair"`` (PairNorm) or ``"node"``
            (NodeNorm) after each hidden conv.
        backend: ``"torch"`` (deepgnn's kernels) or ``"dgl"`` (DGL's ``GraphConv``,
            ``GATConv``, ``GCN2Conv``, ``APPNPConv``).
        checkpoint: activation memory against compute: ``None`` (default) stores every
            layer's activations for backward; an int ``k`` runs the hidden layers in segments
            of ``k`` that keep only their input and are recomputed in backward
            (``torch.utils.checkpoint``, non-reentrant: dropout masks and double backward
            are preserved); ``True``: segments of ``ceil(sqrt(layers))``. The values and
            gradients are the same. ``hidden_states()`` always stores every state.
        seed: when given (an int >= 0), the parameters are drawn from this seed (the global
            RNG state is restored afterwards).
        **options: family options, checked against the family (:func:`options`: ``heads=``
            for ``gat``; ``alpha=``, ``lamda=`` for ``gcnii``; ``mode=`` for ``jknet``;
            ``alpha=``, ``mlp_layers=`` for ``appnp``).

    Returns:
        The model, in training mode, on the CPU.

    Raises:
        ValueError: unknown family, option or invalid value (the message lists the choices),
            a seed torch cannot take (above ``2**64 - 1``), or a depth and width whose
            parameters alone would not fit in the memory available (estimated before
            allocating).
        TypeError: an argument of the wrong type (e.g. ``seed=1.5``).

    Example:
        >>> model = build("gcn", 1433, 7, depth=64, activation="tanh")
        >>> model.depth, len(model.layer_weights())
        (64, 64)
    """
    family = _family(family)
    if seed is not None:
        seed = check_int("seed", seed, minimum=0, maximum=MAX_SEED)
    cls = _REGISTRY[family]
    _check_fits(family, in_dim, out_dim, depth, width)

    def make() -> GNN:
        # the family's constructor checks ``options`` against its family_options table
        return cls(
            in_dim,
            out_dim,
            depth,
            width=width,
            activation=activation,
            dropout=dropout,
            bias=bias,
            norm=norm,
            backend=backend,
            checkpoint=checkpoint,
            **options,
        )

    if seed is None:
        return make()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return make()
