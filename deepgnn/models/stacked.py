r"""``k`` models of one architecture as one stacked model: the forward pass of batched training.

The members' hidden states sit side by side in one ``(N, k, w)`` tensor, so each layer is one
SpMM over the concatenated width :math:`k \cdot w` and one batched GEMM (``torch.baddbmm``)
with the stacked weights :math:`(k, w_\text{out}, w_\text{in})`. Every operation acts on one
member's columns only, so member ``m``'s slice ``[:, m]`` of every state is what its model
computes alone (to float rounding), and the gradient of a sum of the members' losses is each
member's own gradient. :func:`deepgnn.train.train_node_batched` trains such stacks;
:func:`deepgnn.search.search_many` evaluates the SPoGInit objective of its members in one
pass.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deepgnn.graph import SPMM_ACTIVATIONS, Graph
from deepgnn.models._base import ACTIVATIONS, GNN
from deepgnn.models.gat import attend

__all__ = [
    "STACKED_FAMILIES",
    "MemberLoss",
    "Stack",
    "architecture",
    "forward",
    "model_obstacle",
    "obstacle",
]

#: A dropout applied to a stacked state ``(N, k, d)`` (or the shared input ``(N, d)``).
Dropout = Callable[[Tensor], Tensor]
#: Records a state (the forward's ``states`` list) and returns it.
Keep = Callable[[Tensor], Tensor]


class Stack:
    """The members' parameters, each stacked on a new leading axis of length ``k``.

    ``p[name]`` is ``(k, *shape)`` for the parameter ``name`` of every member;
    ``param_of[id(q)]`` maps a parameter of ``models[0]`` to its stack. ``t`` is the template
    the forward reads the architecture from (depth, activation, options). The models must
    share one architecture (``deepgnn.train.train_node_batched`` checks it).
    """

    def __init__(self, models: list[GNN]) -> None:
        self.t = models[0]
        self.k = len(models)
        named = [dict(m.named_parameters()) for m in models]
        self.p: dict[str, nn.Parameter] = {}
        self.param_of: dict[int, nn.Parameter] = {}
        for name, q in named[0].items():
            stacked = nn.Parameter(torch.stack([n[name].detach() for n in named]))
            self.p[name] = stacked
            self.param_of[id(q)] = stacked
        self.names = list(self.p)

    def get(self, name: str) -> Tensor | None:
        """The stack of parameter ``name``, or ``None`` where the models have none (a bias
        off)."""
        return self.p.get(name)

    def member(self, m: int) -> dict[str, Tensor]:
        """A copy of member ``m``'s parameters now."""
        return {name: q.detach()[m].clone() for name, q in self.p.items()}

    def write_back(self, m: int, model: GNN, kept: dict[str, Tensor] | None) -> None:
        """Copy member ``m``'s parameters (``kept``, else the stack's now) into ``model``."""
        source = kept if kept is not None else {n: q.detach()[m] for n, q in self.p.items()}
        with torch.no_grad():
            for name, q in model.named_parameters():
                q.copy_(source[name])


def _linear(h: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """Each member's ``h_m W_mᵀ + b_m``: ``h`` ``(N, k, in)`` or ``(N, in)`` (shared),
    ``weight`` ``(k, out, in)``, ``bias`` ``(k, out)``; returns ``(N, k, out)``."""
    k, out, inn = weight.shape
    n = h.shape[0]
    if h.dim() == 2:  # one input for all: one GEMM against the members' weights side by side
        w = weight.permute(2, 0, 1).reshape(inn, k * out)
        y = h @ w if bias is None else torch.addmm(bias.reshape(k * out), h, w)
        return y.view(n, k, out)
    wt = weight.transpose(1, 2)
    hk = h.transpose(0, 1)  # (k, N, in), a strided view
    y = torch.bmm(hk, wt) if bias is None else torch.baddbmm(bias.unsqueeze(1), hk, wt)
    return y.transpose(0, 1).contiguous()


def _spmm(
    graph: Graph, h: Tensor, bias: Tensor | None = None, activation: str = "identity"
) -> Tensor:
    """``σ(Â h + b)`` over the members' concatenated columns; ``h`` ``(N, k, d)`` or ``(N, d)``."""
    n = h.shape[0]
    flat = h.reshape(n, -1)
    b = None if bias is None else bias.reshape(-1)
    out = graph.spmm(flat, bias=b, activation=activation)
    return out.view(h.shape) if h.dim() == 3 else out


def _act(name: str, h: Tensor) -> Tensor:
    return h if name == "identity" else ACTIVATIONS[name](h)


def _gcn_conv(
    graph: Graph, h: Tensor, weight: Tensor, bias: Tensor | None, activation: str
) -> Tensor:
    """Each member's :class:`~deepgnn.models.gcn.GCNConv` then ``activation``, as ``GCN``'s
    layer computes them (W on the narrower side of the product; tanh/relu in the SpMM)."""
    k, out, inn = weight.shape
    fused = activation if activation in SPMM_ACTIVATIONS else "identity"
    if out <= inn:
        y = _spmm(graph, _linear(h, weight, None), bias, fused)
        return _act(activation, y) if fused != activation else y
    y = _linear(_spmm(graph, h), weight, bias)
    return _act(activation, y)


def _gcn(s: Stack, graph: Graph, x: Tensor, drop: Dropout, keep: Keep) -> Tensor:
    t, act = s.t, s.t.activation
    h = x
    for i in range(t.depth - 1):
        h = keep(drop(_gcn_conv(graph, h, s.p[f"convs.{i}.weight"], s.get(f"convs.{i}.bias"), act)))
    last = t.depth - 1
    w, b = s.p[f"convs.{last}.weight"], s.get(f"convs.{last}.bias")
    return keep(_gcn_conv(graph, h, w, b, "identity"))


def _resgcn(s: Stack, graph: Graph, x: Tensor, drop: Dropout, keep: Keep) -> Tensor:
    t, act, k = s.t, s.t.activation, s.k
    h = keep(_linear(x, s.p["in_proj.weight"], s.get("in_proj.bias")))
    gated = "alpha" in s.p
    for i in range(t.depth):
        w, b = s.p[f"convs.{i}.weight"], s.get(f"convs.{i}.bias")
        out = drop(_gcn_conv(graph, h, w, b, act))
        if gated:
            beta, alpha = s.p["beta"][:, i].view(1, k, 1), s.p["alpha"][:, i].view(1, k, 1)
            h = keep(beta * h + alpha * out)
        else:
            h = keep(h + out)
    return keep(_linear(h, s.p["out_proj.weight"], s.get("out_proj.bias")))


def _gcnii(s: Stack, graph: Graph, x: Tensor, drop: Dropout, keep: Keep) -> Tensor:
    t = s.t
    act = t.activation
    alpha = float(t.alpha)  # type: ignore[arg-type]
    h0 = keep(_act(act, _linear(drop(x), s.p["in_proj.weight"], s.get("in_proj.bias"))))
    h = h0
    for i in range(t.depth):
        beta = float(t.convs[i].beta)  # type: ignore[arg-type]
        hd = drop(h)
        support = torch.add(alpha * h0, _spmm(graph, hd), alpha=1.0 - alpha)
        sk = support.transpose(0, 1)
        w = s.p[f"convs.{i}.weight"].transpose(1, 2)
        out = torch.baddbmm(sk, sk, w, beta=1.0 - beta, alpha=beta)
        h = keep(_act(act, out.transpose(0, 1).contiguous()))
    return keep(_linear(drop(h), s.p["out_proj.weight"], s.get("out_proj.bias")))


def _jknet(s: Stack, graph: Graph, x: Tensor, drop: Dropout, keep: Keep) -> Tensor:
    t, act = s.t, s.t.activation
    layers = []
    h = x
    for i in range(t.depth):
        h = drop(_gcn_conv(graph, h, s.p[f"convs.{i}.weight"], s.get(f"convs.{i}.bias"), act))
        layers.append(keep(h))
    jk = torch.cat(layers, dim=2) if t.mode == "cat" else torch.stack(layers).amax(dim=0)
    return keep(_linear(jk, s.p["out_proj.weight"], s.get("out_proj.bias")))


def _appnp(s: Stack, graph: Graph, x: Tensor, drop: Dropout, keep: Keep) -> Tensor:
    t, act = s.t, s.t.activation
    layers = int(t.mlp_layers)  # type: ignore[arg-type]
    alpha = float(t.alpha)  # type: ignore[arg-type]
    h = drop(x)
    for i in range(layers - 1):
        h = keep(drop(_act(act, _linear(h, s.p[f"lins.{i}.weight"], s.get(f"lins.{i}.bias")))))
    last = layers - 1
    z0 = _linear(h, s.p[f"lins.{last}.weight"], s.get(f"lins.{last}.bias"))
    z = z0
    for _ in range(t.depth):
        z = (1.0 - alpha) * _spmm(graph, z) + alpha * z0
    return keep(z)


def _gat_conv(s: Stack, graph: Graph, h: Tensor, i: int) -> Tensor:
    """Each member's :class:`~deepgnn.models.gat.GATConv` ``i``: the ``k`` members' heads are
    one layer of ``k * heads`` heads. Returns ``(N, k, heads, head_dim)``."""
    k = s.k
    heads = int(s.t.heads)  # type: ignore[arg-type]
    attn_l = s.p[f"convs.{i}.attn_l"]  # (k, 1, heads, head_dim)
    dim = attn_l.shape[-1]
    n = h.shape[0]
    hh = _linear(h, s.p[f"convs.{i}.fc.weight"], None).view(n, k * heads, dim)
    el = (hh * attn_l.reshape(1, k * heads, dim)).sum(-1)
    er = (hh * s.p[f"convs.{i}.attn_r"].reshape(1, k * heads, dim)).sum(-1)
    out = attend(graph, hh, el, er)  # GATConv's aggregation over the k * heads heads
    bias = s.get(f"convs.{i}.bias")
    if bias is not None:
        out = out + bias.view(1, k * heads, dim)
    return out.view(n, k, heads, dim)


def _gat(s: Stack, graph: Graph, x: Tensor, drop: Dropout, keep: Keep) -> Tensor:
    t, act = s.t, s.t.activation
    h = x
    n = x.shape[0]
    for i in range(t.depth - 1):
        h = keep(drop(_act(act, _gat_conv(s, graph, h, i).reshape(n, s.k, -1))))
    return keep(_gat_conv(s, graph, h, t.depth - 1).mean(dim=2))


_Forward = Callable[[Stack, Graph, Tensor, Dropout, Keep], Tensor]
_FORWARDS: dict[str, _Forward] = {
    "gcn": _gcn,
    "resgcn": _resgcn,
    "gated_resgcn": _resgcn,
    "rezero": _resgcn,
    "gcnii": _gcnii,
    "jknet": _jknet,
    "appnp": _appnp,
    "gat": _gat,
}


#: The families with a stacked form (every registered one but ``revgcn``, whose reversible
#: blocks rebuild their inputs in backward).
STACKED_FAMILIES = tuple(sorted(_FORWARDS))


def obstacle(
    family: str,
    *,
    norm: str | None = None,
    backend: str = "torch",
    checkpoint: int | bool | None = None,
) -> str | None:
    """Why models of ``family`` with these settings have no stacked form, or ``None``.

    Stacked forms exist for the families of :data:`STACKED_FAMILIES` on the torch backend,
    without norms (a norm would need its own per-member form) and without activation
    checkpointing.

    Example:
        >>> obstacle("gcn") is None, obstacle("gcn", norm="pair")
        (True, "norm='pair': batched models have no norms")
    """
    if family not in STACKED_FAMILIES:
        return (
            f"family {family!r} has no batched form (batched families: "
            f"{', '.join(STACKED_FAMILIES)})"
        )
    if backend != "torch":
        return f"backend={backend!r}: batched training runs deepgnn's own layers (backend='torch')"
    if norm is not None:
        return f"norm={norm!r}: batched models have no norms"
    if checkpoint is not None and checkpoint is not False:
        return f"checkpoint={checkpoint!r}: batched models store every activation"
    return None


def model_obstacle(model: GNN) -> str | None:
    """:func:`obstacle` for a built model; also ``None`` only for deepgnn's own model of its
    family (a wrapped PyG / DGL / PyTorch model may name a family whose defaults it takes)."""
    found = obstacle(
        model.family, norm=model.norm, backend=model.backend, checkpoint=model.checkpoint
    )
    if found is None and type(model).family != model.family:
        return (
            f"{type(model).__name__} is not deepgnn's own {model.family!r} model "
            "(deepgnn.adapters.wrap); batched forms exist for deepgnn's families only"
        )
    return found


def architecture(model: GNN) -> tuple[Any, ...]:
    """What models must share to stack: class, dimensions, depth, width, activation, bias,
    family options and the parameters' names, shapes and dtypes."""
    options = tuple((n, getattr(model, n)) for n in model.family_options)
    params = tuple((n, tuple(q.shape), q.dtype) for n, q in model.named_parameters())
    return (
        type(model),
        model.in_dim,
        model.out_dim,
        model.depth,
        model.width,
        model.activation,
        model.bias,
        options,
        params,
    )


def _identity(h: Tensor) -> Tensor:
    return h


def forward(
    stack: Stack,
    graph: Graph,
    x: Tensor,
    drop: Dropout | None = None,
    states: list[Tensor] | None = None,
) -> Tensor:
    """The members' logits ``(N, k, C)`` from the shared features ``x`` ``(N, F)``.

    Args:
        stack: the members' stacked parameters.
        graph: the shared graph.
        x: the shared node features.
        drop: the dropout applied where the family's model drops (``None``: none, as in
            eval mode).
        states: when given, receives the states of ``model.hidden_states`` in its order:
            ``x`` itself (shared, ``(N, F)``), then one ``(N, k, d)`` tensor per weighted layer,
            the logits last.

    Example:
        >>> import deepgnn
        >>> ds = deepgnn.data.load("cora")
        >>> models = [deepgnn.build("resgcn", ds.num_features, ds.num_classes, 4, seed=s)
        ...           for s in (0, 1)]
        >>> states = []
        >>> logits = forward(Stack(models), ds.graph, ds.x, states=states)
        >>> tuple(logits.shape), len(states) == len(models[1].hidden_states(ds.graph, ds.x))
        ((2708, 2, 7), True)
        >>> bool(torch.allclose(logits[:, 1], models[1](ds.graph, ds.x), atol=1e-5))
        True
    """
    if states is not None:
        states.append(x)

    def keep(h: Tensor) -> Tensor:
        if states is not None:
            states.append(h)
        return h

    return _FORWARDS[stack.t.family](stack, graph, x, drop or _identity, keep)


class MemberLoss:
    """Each member's mean cross-entropy on its own nodes, one ``(k,)`` tensor from the stacked
    logits, without a host sync (a fixed gather; CUDA graphs can capture it).

    Args:
        y: the labels ``(N,)``.
        masks: ``(k, N)`` bool, row ``m`` the nodes of member ``m``'s loss.
        dtype: the logits' dtype.
    """

    def __init__(self, y: Tensor, masks: Tensor, dtype: torch.dtype = torch.float32) -> None:
        k, n = masks.shape
        dev = masks.device
        counts = masks.sum(dim=1)
        width = int(counts.max())
        # Each member's nodes, padded to one length with its own first node (weighted 0):
        # row m, column j of the flattened (N * k, C) logits is node idx[m, j], member m.
        order = torch.argsort((~masks).to(torch.uint8), dim=1, stable=True)[:, :width]
        self.valid = torch.arange(width, device=dev).unsqueeze(0) < counts.unsqueeze(1)
        idx = torch.where(self.valid, order, order[:, :1])
        self.rows = (idx * k + torch.arange(k, device=dev).unsqueeze(1)).reshape(-1)
        self.targets = y.index_select(0, idx.reshape(-1)).long()
        self.counts = counts.to(dtype)
        self.k, self.width = k, width

    def __call__(self, logits: Tensor) -> Tensor:
        n, k, c = logits.shape
        picked = logits.reshape(n * k, c).index_select(0, self.rows)
        ce = F.cross_entropy(picked, self.targets, reduction="none").view(k, self.width)
        return torch.where(self.valid, ce, 0.0).sum(dim=1) / self.counts
