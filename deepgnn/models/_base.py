"""What every deepgnn model shares: hidden states and per-layer weights, exposed one way.

The analyzer, the init functions and the search see a model only through :class:`GNN`:
``model.hidden_states(graph, x)`` and ``model.layer_weights()``.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deepgnn._checks import check_choice, check_fraction, check_int
from deepgnn.graph import SPMM_ACTIVATIONS, Graph, as_graph
from deepgnn.models._memory import check_checkpoint, run_segments, segment_length

__all__ = ["GNN", "LayerWeight", "NodeNorm", "PairNorm", "ACTIVATIONS", "NORMS", "make_norm"]

#: The ``activation=`` choices of :func:`~deepgnn.models.build`: name -> elementwise function.
ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "tanh": torch.tanh,
    "relu": F.relu,
    "leaky_relu": F.leaky_relu,
    "elu": F.elu,
    "gelu": F.gelu,
    "sigmoid": torch.sigmoid,
    "identity": lambda x: x,
}
#: The ``norm=`` choices of :func:`~deepgnn.models.build` besides ``None``: LayerNorm,
#: BatchNorm, :class:`PairNorm`, :class:`NodeNorm`.
NORMS = ("layer", "batch", "pair", "node")
BACKENDS = ("torch", "dgl")
_vml_ready = False


def _warm_vml() -> None:
    """Call torch's MKL-backed float functions once, serially, before a model runs them.

    oneMKL 2024.2 (the one torch 2.x wheels bundle) picks each VML function's kernel on its
    first call; when that first call runs on several intra-op threads at once, one thread can
    run a low-accuracy kernel on its whole chunk, errors ~1e-4, in that call only
    (pytorch/pytorch#188792). GAT's first attention ``exp`` of a process hit it in about 1 run
    in 8 (Cora, 2 threads, under load), so its losses differed between processes. A one-element
    call per function and dtype resolves the kernel first; it costs ~20 us, once.
    """
    global _vml_ready
    if _vml_ready:
        return
    for dtype in (torch.float32, torch.float64):
        one = torch.ones(1, dtype=dtype)
        for fn in (torch.exp, torch.log, torch.sqrt, torch.tanh, torch.sigmoid, torch.erf):
            fn(one)
    _vml_ready = True


@dataclass(frozen=True)
class LayerWeight:
    """One layer's weight matrix as inits, analyzer and search see it.

    Attributes:
        name: parameter name in ``model.named_parameters()``.
        param: the stored parameter (its ``.grad`` is the gradient of this layer).
        transposed: ``True`` when ``param`` is stored ``(in, out)`` (DGL's ``GraphConv``).
        bias: the layer's bias, or ``None``.
        kind: ``"conv"`` for a graph convolution, ``"linear"`` for a projection.
    """

    name: str
    param: Tensor
    transposed: bool = False
    bias: Tensor | None = None
    kind: str = "conv"

    @property
    def weight(self) -> Tensor:
        """The weight in torch's ``(out, in)`` orientation (a view: in-place writes reach ``param``)."""
        return self.param.t() if self.transposed else self.param

    @property
    def fan_in(self) -> int:
        """Input dimension of the layer (columns of ``weight``)."""
        return self.weight.shape[1]

    @property
    def fan_out(self) -> int:
        """Output dimension of the layer (rows of ``weight``)."""
        return self.weight.shape[0]

    def grad(self) -> Tensor | None:
        """The gradient in ``(out, in)`` orientation, or ``None`` before a backward pass."""
        g = self.param.grad
        return None if g is None else (g.t() if self.transposed else g)


class PairNorm(nn.Module):
    r"""PairNorm: center the rows, then rescale to a constant mean row norm ``scale``.

    .. math:: \tilde x_i = x_i - \tfrac1N \textstyle\sum_j x_j, \qquad
        x_i' = s\, \tilde x_i / \sqrt{\tfrac1N \textstyle\sum_j \|\tilde x_j\|^2}

    Zhao & Akoglu, "PairNorm: Tackling Oversmoothing in GNNs", ICLR 2020 (PN, eq. 4).
    """

    def __init__(self, scale: float = 1.0, eps: float = 1e-6) -> None:
        super().__init__()
        self.scale, self.eps = scale, eps

    def forward(self, x: Tensor) -> Tensor:
        """Return PairNorm of node features ``x``, shape ``(num_nodes, d)`` in and out."""
        x = x - x.mean(dim=0, keepdim=True)
        return self.scale * x / (self.eps + x.pow(2).sum(dim=1).mean()).sqrt()


class NodeNorm(nn.Module):
    r"""NodeNorm: divide each node's features by a root of their own standard deviation.

    .. math:: x_i' = x_i / \sigma_i^{1/p}, \qquad
        \sigma_i = \sqrt{\tfrac1d \textstyle\sum_k (x_{ik} - \mu_i)^2 + \epsilon},
        \quad \mu_i = \tfrac1d \textstyle\sum_k x_{ik}

    No centering and no affine: only the scale of each node's features is normalized
    (``p = 1``: unit standard deviation per node). Zhou, Huang, Zhou, Hua, Chen, Hu,
    "Understanding and Resolving Performance Degradation in Deep Graph Convolutional
    Networks", CIKM 2021 (eq. 9).

    Args:
        p: the root of the standard deviation, ``>= 1`` (the paper's ``p``; 1 by default).
        eps: added to the variance.
    """

    def __init__(self, p: float = 1.0, eps: float = 1e-5) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 1 <= p < float("inf"):
            raise ValueError(f"p={p!r}; pass a finite root p >= 1 such as p=1")
        self.p, self.eps = float(p), eps

    def forward(self, x: Tensor) -> Tensor:
        """Return NodeNorm of node features ``x``, shape ``(num_nodes, d)`` in and out."""
        std = (x.var(dim=1, unbiased=False, keepdim=True) + self.eps).sqrt()
        return x / std.pow(1.0 / self.p)


class _GraphLayer(Protocol):
    """What ``make_gcn_conv`` / ``make_gat_conv`` return besides being an ``nn.Module``."""

    def layer_weight(self, prefix: str) -> LayerWeight: ...


def conv_layer_weight(conv: nn.Module, prefix: str) -> LayerWeight:
    """``conv.layer_weight(prefix)`` for a graph layer held in an ``nn.ModuleList``."""
    # A ModuleList yields plain nn.Module: the layer's own API is not in its type.
    return cast(_GraphLayer, conv).layer_weight(prefix)


def linear_layer_weight(name: str, linear: nn.Linear) -> LayerWeight:
    """The :class:`LayerWeight` of projection ``linear`` held as attribute ``name``."""
    return LayerWeight(f"{name}.weight", linear.weight, bias=linear.bias, kind="linear")


def make_norm(norm: str | None, width: int) -> nn.Module:
    """Return the norm module ``norm`` (one of :data:`NORMS`, or ``None``: identity) of ``width``."""
    if norm is None:
        return nn.Identity()
    if norm == "layer":
        return nn.LayerNorm(width)
    if norm == "batch":
        return nn.BatchNorm1d(width)
    if norm == "node":
        return NodeNorm()
    return PairNorm()


class GNN(nn.Module):
    r"""Base class of deepgnn models: ``model(graph, x)`` returns logits (no softmax).

    ``GNN.__init__`` checks the common keywords (``width``, ``activation``, ``dropout``,
    ``bias``, ``norm``, ``backend``, ``checkpoint``) and the family's own options, then builds
    the layers;
    :meth:`_propagate` is the one depth loop of every family, after PyG's ``BasicGNN``:

    .. math::
        h^{(0)} = \mathrm{encode}(x) \text{ (or } x\text{)}, \quad
        h^{(i+1)} = \mathrm{combine}_i(h^{(i)}, \mathrm{hidden}_i(h^{(i)})), \quad
        \mathrm{logits} = \mathrm{output}(h^{(H)})

    for :math:`i = 0, \dots, H - 1`, :math:`H` = ``len(self.norms)`` (a norm follows each
    hidden layer, ``nn.Identity`` when ``norm=None``). A family
    declares its name, its options and its layers through these hooks:

    - ``family`` (registry name) and ``family_options``: the options beyond the common
      keywords, with defaults (``GAT``: ``{"heads": 4}``). Each is set as an attribute
      before :meth:`_check_options` (default: nothing to check) validates them.
    - :meth:`_init_layers`: create the parameters, in the order they are drawn. The
      default builds ``convs`` (``in_dim -> width -> ... -> out_dim``, one
      :meth:`_make_conv` each) and ``depth - 1`` ``norms``; most families only define
      :meth:`_make_conv`.
    - :meth:`_encode`: an input layer before the graph layers (``ResGCN``'s ``in_proj``),
      or ``None`` (the default) when there is none.
    - :meth:`_hidden`: hidden layer ``i``; the default is ``convs[i]`` then ``norms[i]``,
      activation and dropout (fused into the SpMM where it can be, :meth:`_conv_block`).
    - :meth:`_combine`: how layer ``i``'s output meets its input (default: replaces it;
      the residual families add it).
    - :meth:`_output`: the output layer (default ``convs[-1]``; ``GAT`` averages its heads,
      ``ResGCN`` applies ``out_proj``).
    - :meth:`layer_weights`: the default lists ``convs`` through their ``layer_weight``.

    A family whose layers read more than their own input overrides :meth:`_propagate`
    itself, keeping its contract (append one state per entry of :meth:`layer_weights`):
    ``GCNII`` (every layer reads :math:`h_0`), ``JKNet`` (the classifier reads every
    layer), ``APPNP`` (weightless propagation steps after its MLP).

    ``len(model.hidden_states(g, x)) == len(model.layer_weights()) + 1`` always:
    ``h_0 = x``, ``h_k`` is the output of the layer that owns weight ``k`` (after its
    norm, activation, dropout and residual), and the last state is the logits.

    Shapes:
        ``graph`` with ``num_nodes`` nodes, ``x`` ``(num_nodes, in_dim)`` ->
        logits ``(num_nodes, out_dim)``.

    Example:
        >>> import torch, deepgnn
        >>> from deepgnn.models.gcn import GCNConv
        >>> class PlainGCN(GNN):
        ...     family = "plain_gcn"
        ...     family_options = {"scale": 1.0}
        ...
        ...     def _make_conv(self, in_dim, out_dim, *, last):
        ...         return GCNConv(in_dim, out_dim, self.bias)
        >>> model = PlainGCN(5, 3, depth=3, width=8, scale=0.5)
        >>> g = deepgnn.Graph(torch.tensor([[0, 1, 2], [1, 2, 3]]))
        >>> len(model.hidden_states(g, torch.randn(4, 5))), len(model.layer_weights()), model.scale
        (4, 3, 0.5)
    """

    family: ClassVar[str] = ""
    family_options: ClassVar[Mapping[str, object]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # the keywords, the attributes GNN.__init__ sets and the methods: an option may not shadow one
        taken = set(inspect.signature(GNN.__init__).parameters) | set(dir(GNN))
        taken |= {"act", "convs", "norms", "training"}
        clash = sorted(set(cls.family_options) & taken)
        if clash:
            raise TypeError(
                f"{cls.__name__}.family_options names {clash}, which GNN already uses; "
                "rename the option"
            )

    def __init__(
        self,
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
        **options: object,
    ) -> None:
        super().__init__()
        _warm_vml()
        self._check_unknown_options(options)
        self.in_dim = check_int("in_dim", in_dim, minimum=1)
        self.out_dim = check_int("out_dim", out_dim, minimum=1)
        self.depth = check_int("depth", depth, minimum=1)
        self.width = check_int("width", width, minimum=1)
        check_choice("activation", activation, ACTIVATIONS)
        self.activation = activation
        self.act = ACTIVATIONS[activation]
        self.dropout = check_fraction("dropout", dropout)
        if not isinstance(bias, bool):
            raise TypeError(f"bias must be True or False, got {bias!r}")
        self.bias = bias
        if norm is not None:
            check_choice("norm", norm, NORMS)
        self.norm = norm
        check_choice("backend", backend, BACKENDS)
        self.backend = backend
        self.checkpoint = check_checkpoint(checkpoint)
        for name, default in self.family_options.items():
            setattr(self, name, options.get(name, default))
        self._check_options()
        self._init_layers()

    # -------------------------------------------------------------- public interface
    def forward(self, graph: Any, x: Tensor) -> Tensor:
        """Return the logits, shape ``(num_nodes, out_dim)``.

        Args:
            graph: a :class:`~deepgnn.Graph` (or a ``dgl.DGLGraph`` or PyG ``Data``, converted
                each call).
            x: node features, shape ``(num_nodes, in_dim)``, in the dtype of the model's
                parameters (float32 as built: pass ``x.float()``; features are not cast).
        """
        graph = self._check_inputs(graph, x)
        return self._propagate(graph, x, None)

    def hidden_states(self, graph: Any, x: Tensor) -> list[Tensor]:
        """Return ``[h_0 = x, h_1, ..., h_K = logits]``, one state per weighted layer plus the input."""
        graph = self._check_inputs(graph, x)
        states: list[Tensor] = [x]
        self._propagate(graph, x, states)
        return states

    def layer_weights(self) -> list[LayerWeight]:
        """Return the weight matrix of every layer, input to output, in ``(out, in)`` view."""
        return [conv_layer_weight(conv, f"convs.{i}") for i, conv in enumerate(self.convs)]

    def gates(self) -> dict[str, nn.Parameter]:
        """Return the per-layer residual gates (``alpha``, ``beta``) of gated families, else ``{}``."""
        return {}

    def reset_parameters(self) -> None:
        """Re-initialize every parameter the way the family's constructor does."""
        for module in self.modules():
            reset = getattr(module, "reset_parameters", None)
            if module is not self and reset is not None:
                reset()

    def extra_repr(self) -> str:
        """The family, depth, width and options shown in ``repr(model)``."""
        extras = "".join(f", {name}={getattr(self, name)!r}" for name in self.family_options)
        if self.checkpoint is not None:
            extras += f", checkpoint={self.checkpoint!r}"
        return (
            f"family={self.family!r}, depth={self.depth}, width={self.width}, "
            f"activation={self.activation!r}, norm={self.norm!r}, backend={self.backend!r}"
            f"{extras}"
        )

    # ------------------------------------------------------------------- internals
    def _propagate(self, graph: Graph, x: Tensor, states: list[Tensor] | None) -> Tensor:
        """The depth loop: encode, the hidden layers and their combine, output.

        Appends to ``states`` (when given) the output of every weighted layer. With
        ``checkpoint`` set, a forward that records a graph and keeps no states runs the hidden
        layers in recomputed segments (``hidden_states`` stores every state anyway).
        """

        def keep(h: Tensor) -> Tensor:
            if states is not None:
                states.append(h)
            return h

        def layer(i: int, h: Tensor) -> Tensor:
            return self._combine(i, h, self._hidden(i, graph, h))

        encoded = self._encode(x)
        h = x if encoded is None else keep(encoded)
        h = self._run_layers(layer, h, len(self.norms), states)
        return keep(self._output(graph, h))

    def _run_layers(
        self,
        layer: Callable[[int, Tensor], Tensor],
        h: Tensor,
        count: int,
        states: list[Tensor] | None,
    ) -> Tensor:
        """``h = layer(i, h)`` for ``i < count``, appending each output to ``states`` when
        given; with ``checkpoint`` set and no states kept, in recomputed segments."""
        length = segment_length(self.checkpoint, count) if torch.is_grad_enabled() else 0
        if states is None and length:
            return run_segments(layer, h, count, length, [self])
        for i in range(count):
            h = layer(i, h)
            if states is not None:
                states.append(h)
        return h

    # ---------------------------------------------------------------- family hooks
    def _check_options(self) -> None:
        """Validate the family options (already set as attributes); raise naming the fix."""

    def _init_layers(self) -> None:
        """Create the layers, in the order their parameters are drawn from the RNG.

        Default: ``convs``, ``depth`` graph layers ``in_dim -> width -> ... -> out_dim``
        from :meth:`_make_conv`, then ``norms``, one after each of the ``depth - 1``
        hidden layers.
        """
        dims = [self.in_dim] + [self.width] * (self.depth - 1) + [self.out_dim]
        last = self.depth - 1
        self.convs = nn.ModuleList(
            self._make_conv(dims[i], dims[i + 1], last=i == last) for i in range(self.depth)
        )
        self.norms = nn.ModuleList(make_norm(self.norm, self.width) for _ in range(last))

    def _make_conv(self, in_dim: int, out_dim: int, *, last: bool) -> nn.Module:
        """Return one graph layer (``forward(graph, x)``, ``layer_weight(prefix)``)."""
        raise NotImplementedError(
            f"{type(self).__name__} must define _make_conv(in_dim, out_dim, *, last) "
            "or override _init_layers"
        )

    def _encode(self, x: Tensor) -> Tensor | None:
        """Return the input layer's output, or ``None`` when the family has no input layer."""
        return None

    def _hidden(self, i: int, graph: Graph, h: Tensor) -> Tensor:
        """Return hidden layer ``i``'s output: ``convs[i]``, ``norms[i]``, activation, dropout."""
        return self._conv_block(self.convs[i], graph, h, self.norms[i])

    def _combine(self, i: int, h: Tensor, out: Tensor) -> Tensor:
        """Return the state after hidden layer ``i`` from its input ``h`` and output ``out``."""
        return out

    def _output(self, graph: Graph, h: Tensor) -> Tensor:
        """Return the logits from the last hidden state (default: the last graph layer)."""
        return self.convs[-1](graph, h)

    # ------------------------------------------------------------------- internals
    def _check_unknown_options(self, options: Mapping[str, object]) -> None:
        unknown = sorted(set(options) - set(self.family_options))
        if not unknown:
            return
        accepted = sorted(self.family_options)
        extra = f"its options are {accepted}" if accepted else "it takes no family options"
        params = inspect.signature(GNN.__init__).parameters.values()
        keywords = [p.name for p in params if p.kind is p.KEYWORD_ONLY] + accepted
        near = difflib.get_close_matches(unknown[0], keywords, n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        name = self.family or type(self).__name__
        raise ValueError(f"family {name!r} does not take {unknown}; {extra}{hint}")

    def _check_inputs(self, graph: Any, x: Tensor) -> Graph:
        graph = as_graph(graph)
        if not isinstance(x, Tensor):
            raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
        param = next(self.parameters(), None)
        dtype = x.dtype if param is None else param.dtype
        # Under autocast the layers cast their inputs themselves; elsewhere a mismatch would
        # end in torch's "expected m1 and m2 to have the same dtype" from inside a layer.
        if x.dtype != dtype and not (
            x.is_floating_point() and torch.is_autocast_enabled(x.device.type)
        ):
            fix = "x.float()" if dtype == torch.float32 else f"x.to({dtype})"
            raise ValueError(
                f"x has dtype {x.dtype}, but the model's parameters are {dtype}; pass {fix}"
                + (" (or model.double() to compute in float64)" if x.dtype == torch.float64 else "")
            )
        if x.dim() != 2 or x.shape[0] != graph.num_nodes or x.shape[1] != self.in_dim:
            raise ValueError(
                f"x must have shape (num_nodes={graph.num_nodes}, in_dim={self.in_dim}), one row "
                f"per node of the graph, got {tuple(x.shape)}"
            )
        if x.device != graph.device:
            raise ValueError(
                f"x is on {x.device} but the graph on {graph.device}; call graph.to({str(x.device)!r})"
            )
        graph.check_model(self)  # e.g. a norm over all nodes on a rank's rows
        return graph

    def _hidden_block(self, h: Tensor, norm: nn.Module) -> Tensor:
        """norm -> activation -> dropout, the post-conv step of every hidden layer."""
        return F.dropout(self.act(norm(h)), p=self.dropout, training=self.training)

    def _conv_block(self, conv: nn.Module, graph: Graph, h: Tensor, norm: nn.Module) -> Tensor:
        """conv -> norm -> activation -> dropout, a hidden layer of the GCN families.

        Without a norm the layer is ``act(Â h Wᵀ + b)`` exactly, and deepgnn's ``GCNConv``
        hands tanh / relu to ``graph.spmm``, which applies it in its kernel's epilogue: the
        same function in one autograd node, with no pass of its own over memory forward or
        backward (tanh took 13% of a depth-64 step on an H100 as separate ops).
        """
        if self.norm is None and self.backend == "torch" and self.activation in SPMM_ACTIVATIONS:
            h = conv(graph, h, activation=self.activation)
        else:
            h = self.act(norm(conv(graph, h)))
        if self.dropout and self.training:
            h = F.dropout(h, p=self.dropout)
        return h
