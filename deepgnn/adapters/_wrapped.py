"""The adapter: a user's PyG, DGL or plain-PyTorch module seen as a deepgnn model."""

from __future__ import annotations

import difflib
import inspect
import warnings
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from deepgnn._checks import check_choice, check_int
from deepgnn.adapters._readers import Entry, find_reader, library_of, readable
from deepgnn.graph import Graph
from deepgnn.models import ACTIVATIONS, GNN, LayerWeight, available

__all__ = ["CALLS", "STATES", "Wrapped", "wrap"]

#: The ``call=`` conventions of :func:`wrap`: ``"pyg"`` calls ``model(x, edge_index)``
#: (``edge_weight=`` too on a weighted graph), ``"dgl"`` ``model(dgl_graph, x)``,
#: ``"graph"`` ``model(graph, x)`` with the :class:`~deepgnn.Graph` itself.
CALLS = ("pyg", "dgl", "graph")
#: The ``states=`` choices of :func:`wrap`: ``"input"`` (a layer's state is what the next
#: layer receives) or ``"output"`` (what the layer module returns).
STATES = ("input", "output")
# torch.nn activation modules -> deepgnn's activation names
_ACTIVATION_MODULES = {
    nn.Tanh: "tanh",
    nn.ReLU: "relu",
    nn.LeakyReLU: "leaky_relu",
    nn.ELU: "elu",
    nn.GELU: "gelu",
    nn.Sigmoid: "sigmoid",
}
_ARG_NAMES = ("x", "feat", "input")


def _unreadable(path: str, module: nn.Module) -> ValueError:
    cls = type(module)
    own = [n for n, p in module.named_parameters(recurse=False) if p.dim() >= 2]
    return ValueError(
        f"layer {path or '<model>'!r} ({cls.__module__}.{cls.__qualname__}) holds weight "
        f"matrices {own} that deepgnn cannot read: it has no reader for {cls.__name__}. "
        f"Register one: deepgnn.adapters.register_reader({cls.__name__}, lambda layer: "
        "[deepgnn.models.LayerWeight('weight', layer.weight, bias=layer.bias)]) (weights in "
        "torch's (out, in) orientation, or transposed=True), or name the layers to read: "
        "deepgnn.wrap(model, layers=[...])"
    )


def _features(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Tensor | None:
    """The node features a layer was called with: its first tensor argument (the first of a
    ``(source, target)`` pair), else the keyword ``x`` / ``feat`` / ``input``."""
    for a in args:
        if isinstance(a, Tensor):
            return a
        if isinstance(a, (tuple, list)) and a and isinstance(a[0], Tensor):
            return a[0]
    for k in _ARG_NAMES:
        if isinstance(kwargs.get(k), Tensor):
            return kwargs[k]
    return None


def _first_tensor(out: Any) -> Tensor | None:
    if isinstance(out, Tensor):
        return out
    if isinstance(out, (tuple, list)) and out and isinstance(out[0], Tensor):
        return out[0]
    return None


class Wrapped(GNN):
    r"""A user's GNN module as a deepgnn model: made by :func:`wrap`, documented there.

    ``wrapped(graph, x)`` calls the module with its own convention and returns its logits;
    :meth:`hidden_states` records the state after every listed layer with forward hooks
    during one call; :meth:`layer_weights` reads each layer's matrices with its reader.
    The module is ``wrapped.module``: inits, the search and training change its own
    parameters in place.

    Attributes:
        module: the wrapped module.
        layers: the dotted names of the layer modules read, in order.
        call: how the module is called (one of :data:`CALLS`, or a function).
        states: where hidden states are read (one of :data:`STATES`).
    """

    def __init__(
        self,
        module: nn.Module,
        layers: Sequence[tuple[str, nn.Module, Any]],
        *,
        call: str | Callable[..., Tensor],
        states: str,
        family: str,
        activation: str,
        in_dim: int | None,
        out_dim: int | None,
    ) -> None:
        # GNN.__init__ builds a deepgnn family's layers; a wrapped model has its own, so the
        # common attributes are set here from what the layers say.
        nn.Module.__init__(self)
        self.module = module
        # (dotted name, module, its reader's Entry)
        self._layers: list[tuple[str, nn.Module, Entry]] = list(layers)
        self.layers = [path for path, _, _ in layers]
        self.call = call
        self.states = states
        # a class attribute of deepgnn's families; a wrapped model's is its own
        self.family = family  # type: ignore[misc]
        self.activation = activation
        self.act = ACTIVATIONS[activation]
        self.norm = None
        self.backend = call if isinstance(call, str) else "torch"
        self.checkpoint = None
        read = [self._read(i) for i in range(len(self._layers))]
        self._counts = [len(entries) for entries in read]
        first, last = read[0][0], read[-1][0]
        self.in_dim = check_int("in_dim", first.fan_in if in_dim is None else in_dim, minimum=1)
        width_of = self._layers[-1][2].out_width
        guess = width_of(self._layers[-1][1]) if width_of is not None else last.fan_out
        self.out_dim = check_int("out_dim", guess if out_dim is None else out_dim, minimum=1)
        convs = sum(1 for entries in read if any(lw.kind == "conv" for lw in entries))
        self.depth = convs or len(read)
        self.width = first.fan_out if len(read) > 1 else self.out_dim
        self.bias = any(lw.bias is not None for entries in read for lw in entries)
        self._own_dropout = [(m, m.p) for m in module.modules() if isinstance(m, nn.Dropout)]
        self._edge_cache: tuple[Any, ...] | None = None

    # --------------------------------------------------------------------- dropout
    @property
    def dropout(self) -> float:
        """The ``p`` of the module's ``torch.nn.Dropout`` layers (the largest if they differ).

        Setting it sets every one of them (``train_node(dropout=...)`` and the protocols do);
        setting back the value read before restores each layer's own ``p``.
        """
        ps = [m.p for m in self.module.modules() if isinstance(m, nn.Dropout)]
        return float(max(ps)) if ps else 0.0

    @dropout.setter
    def dropout(self, value: float) -> None:
        mods = [m for m in self.module.modules() if isinstance(m, nn.Dropout)]
        own = [p for _, p in self._own_dropout]
        if own and value == max(own) and all(m in mods for m, _ in self._own_dropout):
            for m, p in self._own_dropout:
                m.p = p
            return
        if not mods:
            if value:
                warnings.warn(
                    f"dropout={value} has no effect: the wrapped {type(self.module).__name__} has "
                    "no torch.nn.Dropout module (its own functional dropout, if any, applies)",
                    stacklevel=2,
                )
            return
        for m in mods:
            m.p = float(value)

    # ------------------------------------------------------------------- interface
    def forward(self, graph: Any, x: Tensor) -> Tensor:
        """Return the module's logits, shape ``(num_nodes, out_dim)``, called by its convention."""
        graph = self._check_inputs(graph, x)
        return self._logits(self._run(graph, x), graph)

    def hidden_states(self, graph: Any, x: Tensor) -> list[Tensor]:
        """Return ``[x, h_1, ..., logits]``: one state per entry of :meth:`layer_weights` plus
        the input; a layer with several matrices repeats its state for each."""
        graph = self._check_inputs(graph, x)
        calls: list[int] = []
        seen: dict[int, Tensor] = {}
        handles = []

        def recorder(i: int, where: str) -> Callable[..., None]:
            def pre(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
                calls.append(i)
                if self.states == "input" and i > 0:
                    seen.setdefault(i - 1, self._state(i, _features(args, kwargs), graph, "input"))

            def post(
                module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any
            ) -> None:
                seen.setdefault(i, self._state(i, _first_tensor(out), graph, "output"))

            return pre if where == "pre" else post

        try:
            for i, (_, module, _) in enumerate(self._layers):
                handles.append(
                    module.register_forward_pre_hook(recorder(i, "pre"), with_kwargs=True)
                )
                if self.states == "output":
                    handles.append(
                        module.register_forward_hook(recorder(i, "post"), with_kwargs=True)
                    )
            out = self._run(graph, x)
        finally:
            for h in handles:
                h.remove()
        if calls != list(range(len(self._layers))):
            order = [self.layers[i] for i in calls]
            missing = [name for i, name in enumerate(self.layers) if i not in calls]
            raise ValueError(
                f"the forward pass called the layers {order}"
                + (f" and never {missing}" if missing else "")
                + f", but wrap lists {self.layers}: deepgnn reads one state per layer, so list "
                "each layer the forward calls, once, in the order it calls them "
                "(deepgnn.wrap(model, layers=[...]))"
            )
        logits = self._logits(out, graph)
        states = [x]
        last = len(self._layers) - 1
        for i, count in enumerate(self._counts):
            states += [logits if i == last else seen[i]] * count
        return states

    def layer_weights(self) -> list[LayerWeight]:
        """Return every layer's weight matrices, input to output, in ``(out, in)`` view; within
        a layer, matrices of kind ``linear`` before its propagating (``conv``) one."""
        out: list[LayerWeight] = []
        for i, count in enumerate(self._counts):
            entries = self._read(i)
            if len(entries) != count:
                raise ValueError(
                    f"layer {self.layers[i]!r} now has {len(entries)} weight matrices, but had "
                    f"{count} when it was wrapped; wrap the model again"
                )
            out += [lw for lw in entries if lw.kind != "conv"] + [
                lw for lw in entries if lw.kind == "conv"
            ]
        return out

    def extra_repr(self) -> str:
        """The layers read, the call convention and the states, shown in ``repr(model)``."""
        call = self.call if isinstance(self.call, str) else getattr(self.call, "__name__", "fn")
        return (
            f"family={self.family!r}, depth={self.depth}, layers={len(self.layers)}, "
            f"call={call!r}, states={self.states!r}, activation={self.activation!r}"
        )

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_edge_cache"] = None  # holds a weak reference, which does not pickle
        return state

    # ------------------------------------------------------------------- internals
    def _read(self, i: int) -> list[LayerWeight]:
        path, module, entry = self._layers[i]
        try:
            found = list(entry.read(module))
        except (AttributeError, TypeError) as err:
            raise ValueError(
                f"the reader of layer {path!r} ({type(module).__name__}) failed: {err}; "
                "register a reader for this class with deepgnn.adapters.register_reader"
            ) from None
        if not found:
            raise ValueError(
                f"layer {path!r} ({type(module).__name__}) has no weight matrix to read; drop "
                "it from layers"
            )
        own = {id(p) for p in module.parameters()}
        prefix = f"module.{path}." if path else "module."
        out = []
        for lw in found:
            if not isinstance(lw, LayerWeight):
                raise TypeError(
                    f"the reader of layer {path!r} returned {type(lw).__name__}; a reader "
                    "returns deepgnn.models.LayerWeight entries"
                )
            if isinstance(lw.param, nn.parameter.UninitializedParameter):
                raise ValueError(
                    f"layer {path!r} ({type(module).__name__}) has uninitialized (lazy) weights, "
                    "e.g. PyG's in_channels=-1: run one forward pass before wrapping, or give "
                    "the layer its input size"
                )
            if id(lw.param) not in own or lw.param.dim() != 2:
                raise ValueError(
                    f"the reader of layer {path!r} returned {lw.name!r}, which is not a "
                    "2-d parameter of that layer; a reader returns the layer's own weight "
                    "matrices"
                )
            name = prefix + lw.name
            out.append(LayerWeight(name, lw.param, lw.transposed, lw.bias, lw.kind))
        return out

    def _edges(self, graph: Graph, dtype: torch.dtype) -> tuple[Tensor, Tensor | None]:
        cache = self._edge_cache
        if cache is None or cache[0]() is not graph or cache[1] != graph.device:
            w = graph.edge_weight
            weighted = bool(w.numel()) and not bool((w == 1).all())
            cache = (weakref.ref(graph), graph.device, graph.edge_index, w if weighted else None)
            self._edge_cache = cache
        w = cache[3]
        return cache[2], None if w is None else w.to(dtype)

    def _run(self, graph: Graph, x: Tensor) -> Any:
        call = self.call
        if callable(call):
            return call(self.module, graph, x)
        if call == "pyg":
            edge_index, weight = self._edges(graph, x.dtype)
            if weight is None:
                return self.module(x, edge_index)
            if "edge_weight" not in inspect.signature(self.module.forward).parameters:
                raise ValueError(
                    f"the graph has edge weights but {type(self.module).__name__}.forward takes "
                    "no edge_weight; build the Graph without weights, or pass call=lambda m, g, "
                    "x: m(x, g.edge_index, ...) to hand them over your way"
                )
            return self.module(x, edge_index, edge_weight=weight)
        if call == "dgl":
            return self.module(graph.to_dgl(), x)
        return self.module(graph, x)

    def _logits(self, out: Any, graph: Graph) -> Tensor:
        if not isinstance(out, Tensor):
            raise TypeError(
                f"{type(self.module).__name__} returned {type(out).__name__}, but deepgnn needs "
                "its logits, one tensor (num_nodes, out_dim); pass call=lambda m, g, x: ... "
                "that returns them"
            )
        if out.dim() != 2 or out.shape[0] != graph.num_nodes or out.shape[1] != self.out_dim:
            raise ValueError(
                f"{type(self.module).__name__} returned shape {tuple(out.shape)}, but deepgnn "
                f"expected logits ({graph.num_nodes}, out_dim={self.out_dim}); pass "
                "deepgnn.wrap(model, out_dim=...) with the number of outputs"
            )
        return out

    def _state(self, i: int, h: Tensor | None, graph: Graph, where: str) -> Tensor:
        name = self.layers[i]
        if h is None or h.shape[0] != graph.num_nodes:
            got = "no tensor" if h is None else f"shape {tuple(h.shape)}"
            other = "output" if where == "input" else "input"
            raise ValueError(
                f"the {where} of layer {name!r} is {got}, not node features ({graph.num_nodes}, "
                f"d); pass deepgnn.wrap(model, states={other!r}) or list other layers"
            )
        return h.flatten(1) if h.dim() > 2 else h


def _named(model: nn.Module) -> dict[str, nn.Module]:
    return dict(model.named_modules())


def _find_layers(model: nn.Module) -> list[tuple[str, nn.Module, Entry]]:
    """The outermost modules deepgnn has a reader for, in registration order; a module with
    weight matrices and no reader on the way is an error naming it."""
    entry = find_reader(model)
    if entry is not None:
        return [("", model, entry)]
    found: list[tuple[str, nn.Module, Entry]] = []

    def visit(module: nn.Module, path: str) -> None:
        for name, child in module.named_children():
            p = f"{path}.{name}" if path else name
            e = find_reader(child)
            if e is not None:
                found.append((p, child, e))
                continue
            if any(q.dim() >= 2 for q in child.parameters(recurse=False)):
                raise _unreadable(p, child)
            visit(child, p)

    if any(q.dim() >= 2 for q in model.parameters(recurse=False)):
        raise _unreadable("", model)
    visit(model, "")
    return found


def _listed_layers(
    model: nn.Module, layers: Sequence[str | nn.Module]
) -> list[tuple[str, nn.Module, Entry]]:
    named = _named(model)
    path_of = {id(m): p for p, m in named.items()}
    out: list[tuple[str, nn.Module, Entry]] = []
    for item in layers:
        if isinstance(item, str):
            if item not in named:
                near = difflib.get_close_matches(item, list(named), n=1)
                hint = f"; did you mean {near[0]!r}?" if near else ""
                raise ValueError(
                    f"layers names {item!r}, which is not a module of {type(model).__name__} "
                    f"(its names: model.named_modules()){hint}"
                )
            path, module = item, named[item]
        elif isinstance(item, nn.Module):
            if id(item) not in path_of:
                raise ValueError(
                    f"layers holds a {type(item).__name__} that is not a module of "
                    f"{type(model).__name__}; pass the model's own layer modules or their names"
                )
            path, module = path_of[id(item)], item
        else:
            raise TypeError(
                f"layers must hold module names or modules, got {type(item).__name__} {item!r}"
            )
        entry = find_reader(module)
        if entry is None:
            raise _unreadable(path, module)
        if any(module is m for _, m, _ in out):
            raise ValueError(f"layers lists {path!r} twice; list each layer once")
        out.append((path, module, entry))
    return out


def _detect_call(model: nn.Module) -> str:
    libraries = {library_of(type(m)) for m in model.modules()} - {None}
    if len(libraries) == 1:
        return str(libraries.pop())
    what = "layers of both PyG and DGL" if libraries else "no PyG or DGL layer"
    raise TypeError(
        f"cannot tell how to call {type(model).__name__} ({what}); pass call='pyg' "
        "(model(x, edge_index)), 'dgl' (model(dgl_graph, x)), 'graph' (model(graph, x), a "
        "deepgnn.Graph) or a function call(model, graph, x) -> logits"
    )


def _detect_activation(model: nn.Module) -> str:
    names = {
        _ACTIVATION_MODULES[type(m)] for m in model.modules() if type(m) in _ACTIVATION_MODULES
    }
    return names.pop() if len(names) == 1 else "identity"


def wrap(
    model: nn.Module,
    *,
    layers: Sequence[str | nn.Module] | None = None,
    call: str | Callable[..., Tensor] | None = None,
    states: str = "input",
    family: str | None = None,
    activation: str | None = None,
    in_dim: int | None = None,
    out_dim: int | None = None,
) -> Wrapped:
    r"""View a PyG, DGL or plain-PyTorch GNN as a deepgnn model, for the analyzer, every init,
    the search and training.

    The view gives what deepgnn reads of its own models (:class:`~deepgnn.models.GNN`):

    - ``layer_weights()``: each layer's weight matrices, read by the layer's reader
      (:func:`~deepgnn.adapters.readable`: PyG's ``GCNConv``, ``GATConv``, ``SAGEConv``,
      ``GraphConv``, ``GCN2Conv``, ``GINConv``, ``DeepGCNLayer``, ``Linear``; DGL's
      ``GraphConv``, ``GATConv``, ``SAGEConv``; ``torch.nn.Linear``;
      :func:`~deepgnn.adapters.register_reader` adds others), in torch's ``(out, in)``
      view. A layer with several matrices (``SAGEConv``'s root weight, ``GINConv``'s MLP, a
      residual projection) lists those of kind ``"linear"`` first and its propagating
      ``"conv"`` matrix last, each with the layer's state.
    - ``hidden_states(graph, x)``: ``x``, then the state after each layer, collected by
      forward hooks during one call: with ``states="input"`` what the next layer receives
      (after the activation, norm and dropout the model applies between layers, so the
      states of deepgnn's own families), with ``"output"`` what the layer returns; the last
      state is the model's output, the logits.

    Inits, the search and training write the module's own parameters in place. The layers
    must run once each per forward, in the order listed (checked on every
    ``hidden_states``).

    Args:
        model: the module; it maps node features ``(num_nodes, in_dim)`` to logits
            ``(num_nodes, out_dim)``.
        layers: the layer modules (or their names in ``model.named_modules()``), input to
            output. ``None`` finds them: the outermost modules with a reader, in the order
            they were registered (a PyG ``BasicGNN``'s ``convs`` and ``lin``, a stack of
            ``DeepGCNLayer`` between ``Linear`` projections); a module on the way that holds
            weight matrices but has no reader is an error that names it.
        call: how to call the model: ``"pyg"`` ``model(x, edge_index)`` (with
            ``edge_weight=`` on a weighted graph), ``"dgl"`` ``model(dgl_graph, x)``,
            ``"graph"`` ``model(graph, x)``, or a function ``call(model, graph, x) -> logits``
            (``graph`` a :class:`~deepgnn.Graph`; ``graph.edge_index`` holds both directions
            of every edge, no self loops). ``None``: ``"pyg"`` or ``"dgl"`` by the library of
            the model's layers.
        states: ``"input"`` or ``"output"``, see above.
        family: a deepgnn family (:func:`deepgnn.models.available`) whose defaults the model
            takes: the SPoGInit objective (:func:`deepgnn.search.objective_defaults`) and
            the residual protocol (``"resgcn"`` for a residual stack); ``None``: the plain
            GCN's, and ``model.family`` reads ``"wrapped"``.
        activation: the model's nonlinearity (one of :data:`deepgnn.models.ACTIVATIONS`),
            for the inits whose gain depends on it in sweeps; ``None`` takes the one
            ``torch.nn`` activation module class the model holds (PyG's ``act="tanh"``), else
            ``"identity"``.
        in_dim, out_dim: the input and output sizes; ``None`` reads them from the first and
            the last layer.

    Returns:
        A :class:`~deepgnn.adapters.Wrapped` (a :class:`~deepgnn.models.GNN`) holding ``model``.

    Raises:
        ValueError: a layer deepgnn cannot read (naming it and how to register a reader),
            lazy weights, a name that is not a module, a layer listed twice, no layer found.
        TypeError: a call convention that cannot be told from the model.

    Example:
        >>> import deepgnn
        >>> from torch_geometric.nn.models import GCN
        >>> ds = deepgnn.data.load("cora")
        >>> model = deepgnn.wrap(GCN(ds.num_features, 16, num_layers=4,
        ...                          out_channels=ds.num_classes, act="tanh"))
        >>> model.layers, model.depth, model.activation
        (['convs.0', 'convs.1', 'convs.2', 'convs.3'], 4, 'tanh')
        >>> len(model.hidden_states(ds.graph, ds.x)), len(model.layer_weights())
        (5, 4)
    """
    if isinstance(model, GNN):
        raise TypeError(
            f"model is a deepgnn {type(model).__name__} already; use it as it is, without wrap"
        )
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    check_choice("states", states, STATES)
    if family is not None:
        check_choice("family", family, available())
    if activation is not None:
        check_choice("activation", activation, ACTIVATIONS)
    if call is None:
        call = _detect_call(model)
    elif isinstance(call, str):
        check_choice("call", call, CALLS)
    elif not callable(call):
        raise TypeError(f"call must be one of {list(CALLS)} or a function, got {call!r}")
    if layers is None:
        found = _find_layers(model)
    elif isinstance(layers, (str, nn.Module)) or not isinstance(layers, Sequence):
        raise TypeError(
            f"layers must be a list of modules or names, got {type(layers).__name__}; pass e.g. "
            "layers=['convs.0', 'convs.1']"
        )
    else:
        found = _listed_layers(model, layers)
    if not found:
        raise ValueError(
            f"found no layer in {type(model).__name__}: none of its modules is one deepgnn reads "
            f"({', '.join(readable())}); pass layers=[...] or register a reader with "
            "deepgnn.adapters.register_reader"
        )
    wrapped = Wrapped(
        model,
        found,
        call=call,
        states=states,
        family=family or "wrapped",
        activation=activation or _detect_activation(model),
        in_dim=in_dim,
        out_dim=out_dim,
    )
    if layers is not None:
        covered = {id(lw.param) for lw in wrapped.layer_weights()}
        inside = {id(p) for _, m, _ in found for p in m.parameters()}
        left = [
            n for n, p in model.named_parameters() if p.dim() >= 2 and id(p) not in covered | inside
        ]
        if left:
            warnings.warn(
                f"parameters {left[:5]}{' ...' if len(left) > 5 else ''} belong to no listed "
                "layer: inits, the search and the analyzer do not see them; add their modules to "
                "layers= if they are layers",
                stacklevel=2,
            )
    return wrapped
