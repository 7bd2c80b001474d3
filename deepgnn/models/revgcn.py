r"""Grouped reversible residual GCN: ``revgcn``, whose backward keeps no block activations."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from itertools import chain
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deepgnn._checks import check_int
from deepgnn.graph import Graph
from deepgnn.models._base import GNN, LayerWeight, conv_layer_weight, make_norm
from deepgnn.models._memory import frozen_running_stats
from deepgnn.models.gcn import make_gcn_conv

__all__ = ["RevGCN"]

_SEED_BOUND = 2**62


class RevGCN(GNN):
    r"""Grouped reversible GCN: input projection, ``depth`` reversible blocks, output projection.

    The width is split into :math:`C` = ``groups`` channel groups, :math:`h = (x_1, \dots,
    x_C)`. Block :math:`l` updates the groups one after another, each with its own graph
    layer :math:`f_{l,j}(u) = \mathrm{conv}(\mathrm{drop}(\sigma(\mathrm{norm}(u))))` of
    width :math:`d / C` (norm, activation, dropout, then a GCN convolution, as RevGNN's
    blocks):

    .. math::
        y_1 = x_1 + f_{l,1}\Bigl(\textstyle\sum_{j=2}^{C} x_j\Bigr), \qquad
        y_j = x_j + f_{l,j}(y_{j-1}) \quad (j = 2, \dots, C)

    and the logits are :math:`W_{\mathrm{out}}\, \mathrm{drop}(\sigma(\mathrm{norm}(h_L)))
    + b_{\mathrm{out}}` after :math:`h_0 = X W_{\mathrm{in}}^\top + b_{\mathrm{in}}`. Each
    update is inverted exactly by :math:`x_j = y_j - f_{l,j}(y_{j-1})` (for :math:`j = 1`:
    :math:`x_1 = y_1 - f_{l,1}(\sum_{j \ge 2} x_j)`, the other groups being unchanged), so
    the backward rebuilds every block's input from its output instead of storing it:
    training memory for activations does not grow with depth. Li, Müller, Ghanem, Koltun,
    "Training Graph Neural Networks with 1000 Layers", ICML 2021 (arXiv 2106.07476, Sec. 3,
    grouped reversible connections); PyG's ``GroupAddRev``.

    Args:
        groups: :math:`C \ge 2`, dividing ``width`` (default 2).
        reversible: an int ``k`` (default 16): ``model(graph, x)`` runs the blocks in one
            autograd function that stores its input, its output and the state entering every
            ``k``-th group update, and rebuilds the states between from the next kept one;
            ``True``: fully reversible, nothing kept but input and output (memory constant in
            depth, gradients drifting with it: see the note); ``False``: ordinary autograd,
            which stores every block's activations (and may be combined with
            ``checkpoint=``).

    Note:
        Reversibility holds in real arithmetic only. The forward rounds :math:`x_j + f` to
        the state's precision, so the rebuilt :math:`x_j` misses by up to half an ulp of the
        state (which grows with depth), and each earlier inverse update amplifies the miss
        (2e4-fold over the 256 updates of a depth-128, width-8 tanh model on Cora, mostly
        near the input, where the states are small and tanh nearly linear). With ``reversible=True`` in float32 (width 8, Cora, eval mode) the worst
        parameter's gradient is off from the stored backward's by 6.5e-6 (relative) at depth
        16, 5.2% at 64, 31% at 128 and 1160% at 1024. A kept state resets the error: with
        ``reversible=16`` it is 3.7e-6 at depth 128 and 7.9e-6 at depth 1024, and
        ``reversible=1`` is bit-exact. The cost is one saved ``(num_nodes, width)`` state per
        ``k`` updates (``depth * groups / k`` in all), against several per update for
        ``reversible=False``; time is unchanged, the kept state replacing a subtraction
        (``benchmarks/bench_revgrad.py``, ``results/revgrad_cpu.md``).

    Each group update owns one weight, so ``layer_weights()`` is ``[in_proj,
    conv_{1,1} .. conv_{1,C}, ..., conv_{L,C}, out_proj]`` and ``hidden_states()`` holds the
    full-width state after each update (``depth * groups + 3`` states). Deviations from the
    paper's code: dropout draws a fresh mask per group update (theirs shares one mask across
    all layers), from a seed drawn per update from torch's CPU generator and kept for the
    backward; the activation is the common ``activation`` keyword (they use ReLU) and the
    norm the common ``norm`` (they use ``"layer"`` or ``"batch"``; ``None`` here by default).
    Under ``create_graph=True`` (double backward) the reversible backward reruns the blocks
    from the saved input with ordinary autograd, so that call's memory is linear in depth.

    Example:
        >>> import torch, deepgnn
        >>> g = deepgnn.Graph(torch.tensor([[0, 1, 2], [1, 2, 3]]))
        >>> model = RevGCN(5, 3, depth=2, width=8, groups=2)
        >>> [w.fan_in for w in model.layer_weights()]
        [5, 4, 4, 4, 4, 8]
        >>> len(model.hidden_states(g, torch.randn(4, 5)))
        7
    """

    family = "revgcn"
    family_options = {"groups": 2, "reversible": 16}
    groups: int
    reversible: bool | int

    # ------------------------------------------------------------------ options, layers
    def _check_options(self) -> None:
        groups = check_int("groups", self.groups, minimum=2)
        if self.width % groups:
            raise ValueError(
                f"width={self.width} is not divisible by groups={groups}; pass a width that is "
                f"a multiple of groups (e.g. width={groups * -(-self.width // groups)}) or "
                f"groups dividing {self.width}"
            )
        self.groups = groups
        if not isinstance(self.reversible, bool):
            if not isinstance(self.reversible, numbers.Integral):
                raise TypeError(
                    f"reversible must be True, False or an int (group updates between kept "
                    f"states), got {type(self.reversible).__name__} {self.reversible!r}; pass "
                    f"e.g. reversible=16"
                )
            check_int("reversible", self.reversible, minimum=1)
            self.reversible = int(self.reversible)
        if self.reversible is not False and self.checkpoint is not None:
            raise ValueError(
                f"revgcn with reversible={self.reversible!r} stores no block activations, so "
                "checkpoint has nothing to save; leave checkpoint=None (reversible=k keeps "
                "the state every k group updates), or pass reversible=False to checkpoint the "
                "blocks instead"
            )

    def _init_layers(self) -> None:
        width, bias, d = self.width, self.bias, self.width // self.groups
        steps = self.depth * self.groups
        self.in_proj = nn.Linear(self.in_dim, width, bias=bias)
        self.convs = nn.ModuleList(make_gcn_conv(self.backend, d, d, bias) for _ in range(steps))
        self.norms = nn.ModuleList(make_norm(self.norm, d) for _ in range(steps))
        self.out_norm = make_norm(self.norm, width)
        self.out_proj = nn.Linear(width, self.out_dim, bias=bias)

    def layer_weights(self) -> list[LayerWeight]:
        """The input projection, the graph convolution of every group update, the output
        projection."""
        return [
            LayerWeight(
                "in_proj.weight", self.in_proj.weight, bias=self.in_proj.bias, kind="linear"
            ),
            *(conv_layer_weight(conv, f"convs.{i}") for i, conv in enumerate(self.convs)),
            LayerWeight(
                "out_proj.weight", self.out_proj.weight, bias=self.out_proj.bias, kind="linear"
            ),
        ]

    # ------------------------------------------------------------------- the hooks
    def _encode(self, x: Tensor) -> Tensor:
        return self.in_proj(x)

    def _hidden(self, i: int, graph: Graph, h: Tensor) -> Tensor:
        return self._branch(i, graph, self._branch_input(i, h), self._draw_seed())

    def _combine(self, i: int, h: Tensor, out: Tensor) -> Tensor:
        lo, hi = self._group(i)
        return torch.cat([h[:, :lo], h[:, lo:hi] + out, h[:, hi:]], dim=1)

    def _output(self, graph: Graph, h: Tensor) -> Tensor:
        h = F.dropout(self.act(self.out_norm(h)), p=self.dropout, training=self.training)
        return self.out_proj(h)

    def _propagate(self, graph: Graph, x: Tensor, states: list[Tensor] | None) -> Tensor:
        if states is not None or self.reversible is False or not torch.is_grad_enabled():
            return super()._propagate(graph, x, states)
        h = self._encode(x)
        seeds = [self._draw_seed() for _ in range(len(self.convs))]
        params = [p for k in range(len(self.convs)) for p in self._step_params(k)]
        h = _ReversibleSteps.apply(self, graph, seeds, h, *params)
        return self._output(graph, h)

    def reconstruct(self, graph: Graph, x: Tensor) -> list[Tensor]:
        r"""Return the states the reversible backward rebuilds, ``[h_0, ..., h_{depth * groups}]``.

        Runs the forward without gradients, then walks the group updates back from the last
        state exactly as the backward does (:math:`x_j = y_j - f_{l,j}(\cdot)`, the kept
        states of ``reversible=k`` restored where they fall). The true states are
        ``hidden_states(graph, x)[1:-1]``; the difference is the reconstruction error that
        the backward's gradients inherit. With dropout in training mode the masks come from
        torch's generator, so seed it alike before both calls.

        Args:
            graph: the graph, as for ``forward``.
            x: node features, shape ``(num_nodes, in_dim)``.

        Returns:
            ``depth * groups + 1`` tensors of shape ``(num_nodes, width)``: the state entering
            each group update, then the last state.
        """
        graph = self._check_inputs(graph, x)
        steps = len(self.convs)
        with torch.no_grad():
            seeds = [self._draw_seed() for _ in range(steps)]
            out, anchors = _run_steps(self, graph, seeds, self._encode(x), self._every())
            y = out.clone()
            rebuilt = [out]
            for i in reversed(range(steps)):
                f = self._branch(i, graph, self._branch_input(i, y), seeds[i])
                _undo(self, i, y, f, anchors)
                rebuilt.append(y.clone())
        return rebuilt[::-1]

    # -------------------------------------------------------------- one group update
    def _group(self, i: int) -> tuple[int, int]:
        """The columns ``[lo, hi)`` that update ``i`` writes."""
        d = self.width // self.groups
        j = i % self.groups
        return j * d, (j + 1) * d

    def _branch_input(self, i: int, h: Tensor) -> Tensor:
        """``f``'s input for update ``i``: the previous group, or (first group) the sum of the rest.

        It never reads the group that update ``i`` writes, which is what makes it invertible.
        """
        d = self.width // self.groups
        j = i % self.groups
        if j > 0:
            return h[:, (j - 1) * d : j * d]
        u = h[:, d : 2 * d]
        for k in range(2, self.groups):
            u = u + h[:, k * d : (k + 1) * d]
        return u

    def _branch(self, i: int, graph: Graph, u: Tensor, seed: int | None) -> Tensor:
        """``f_i(u) = conv_i(drop(act(norm_i(u))))``, the dropout mask drawn from ``seed``."""
        u = self.act(self.norms[i](u))
        if seed is not None:
            gen = torch.Generator(device=u.device).manual_seed(seed)
            keep = torch.empty_like(u).bernoulli_(1.0 - self.dropout, generator=gen)
            u = u * keep.div_(1.0 - self.dropout)
        return self.convs[i](graph, u)

    def _draw_seed(self) -> int | None:
        """A dropout seed for one update from torch's CPU generator, or ``None`` without dropout.

        Drawn from the global generator, so that ``torch.manual_seed`` fixes the masks and
        ``checkpoint=`` (which restores the RNG state for its recomputation) redraws the same.
        """
        if not (self.training and self.dropout):
            return None
        if torch.cuda.is_available() and torch.cuda.is_current_stream_capturing():
            raise RuntimeError(
                "revgcn draws its dropout seeds on the host, so a captured CUDA graph would "
                "replay the same masks every step; train with cuda_graph=False, or dropout=0"
            )
        return int(torch.randint(_SEED_BOUND, (), dtype=torch.int64))

    def _every(self) -> int:
        """Group updates between kept states, 0 when none is kept (``reversible=True``)."""
        return 0 if isinstance(self.reversible, bool) else self.reversible

    def _step_params(self, i: int) -> list[nn.Parameter]:
        params = chain(self.convs[i].parameters(), self.norms[i].parameters())
        return [p for p in params if p.requires_grad]


class _ReversibleSteps(torch.autograd.Function):
    """All group updates of a :class:`RevGCN` in one node, storing its input and output (and,
    with ``reversible=k``, the state entering every ``k``-th update).

    Backward walks the updates from the last: it recomputes update ``i``'s branch from the
    current state (its input does not involve the group being written), subtracts it to get
    the state before the update (or takes the kept state there), and backpropagates through
    that one branch. Memory: the saved states plus one branch's activations, whatever the depth.
    """

    # Under autocast the backward recomputes each branch in the forward's precision, so that
    # subtracting it undoes the forward's addition: forward records the autocast state of the
    # input's device type (CPU or CUDA; torch.amp.custom_fwd takes one fixed device type) and
    # backward runs under it.
    @staticmethod
    def forward(
        ctx: Any,
        model: RevGCN,
        graph: Graph,
        seeds: Sequence[int | None],
        h: Tensor,
        *params: Tensor,
    ) -> Tensor:
        ctx.model, ctx.graph, ctx.seeds = model, graph, seeds
        kind = h.device.type
        ctx.autocast = (
            kind,
            torch.is_autocast_enabled(kind),
            torch.get_autocast_dtype(kind),
            torch.is_autocast_cache_enabled(),
        )
        ctx.step_params = [model._step_params(i) for i in range(len(model.convs))]
        out, anchors = _run_steps(model, graph, seeds, h.detach(), model._every())
        ctx.anchor_steps = list(anchors)
        # The input only for a double backward (create_graph=True): one state, any depth.
        ctx.save_for_backward(h, out, *anchors.values())
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        kind, enabled, dtype, cache = ctx.autocast
        with torch.autocast(kind, dtype=dtype, enabled=enabled, cache_enabled=cache):
            return _ReversibleSteps._backward(ctx, grad)

    @staticmethod
    def _backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        model, graph, seeds = ctx.model, ctx.graph, ctx.seeds
        h, out, *kept = ctx.saved_tensors
        anchors = dict(zip(ctx.anchor_steps, kept))
        steps = range(len(model.convs))
        step_params = ctx.step_params
        if torch.is_grad_enabled():
            grads = _ordinary_backward(model, graph, seeds, step_params, h, grad)
            return (None, None, None, *grads)
        y = out.detach().clone()
        g = grad.detach().clone()
        param_grads: list[list[Tensor | None]] = [[] for _ in steps]
        for i in reversed(steps):
            lo, hi = model._group(i)
            with torch.enable_grad():
                u = model._branch_input(i, y).detach().requires_grad_(True)
                with frozen_running_stats([model.norms[i]]):
                    f = model._branch(i, graph, u, seeds[i])
                gu, *gp = torch.autograd.grad(
                    f, [u, *step_params[i]], g[:, lo:hi], allow_unused=True
                )
            param_grads[i] = [*gp]  # with allow_unused, None for a parameter f did not use
            with torch.no_grad():
                _undo(model, i, y, f, anchors)
                # dL/dx = dL/dy + (du/dx)^T dL/du; u reads the previous group, or every other one
                d = hi - lo
                if lo > 0:
                    g[:, lo - d : lo] += gu
                else:
                    for k in range(1, model.groups):
                        g[:, k * d : (k + 1) * d] += gu
        return (None, None, None, g, *(p for gp in param_grads for p in gp))


def _run_steps(
    model: RevGCN, graph: Graph, seeds: Sequence[int | None], h: Tensor, every: int
) -> tuple[Tensor, dict[int, Tensor]]:
    """Run every group update from ``h`` (not in place); return the last state and, with
    ``every > 0``, the state entering update ``i`` for each ``i`` in ``every, 2 every, ...``."""
    out = h.clone()
    anchors: dict[int, Tensor] = {}
    for i in range(len(model.convs)):
        if every and i and i % every == 0:
            anchors[i] = out.clone()
        lo, hi = model._group(i)
        out[:, lo:hi] += model._branch(i, graph, model._branch_input(i, out), seeds[i])
    return out, anchors


def _undo(model: RevGCN, i: int, y: Tensor, f: Tensor, anchors: dict[int, Tensor]) -> None:
    """Turn ``y``, the state after update ``i`` whose branch output is ``f``, into the state
    before it, in place: the kept state where there is one, else ``y_j - f``.

    The subtraction is exact in real arithmetic only: ``x + f`` was rounded to the state's
    precision, so ``(x + f) - f`` misses ``x`` by up to half an ulp of the (growing) state,
    and walking further back amplifies that miss (2e4-fold over the 256 updates of a
    depth-128, width-8 Cora model, most of it in the updates nearest the input). A kept
    state resets the error to zero.
    """
    if i in anchors:
        y.copy_(anchors[i])
    else:
        lo, hi = model._group(i)
        y[:, lo:hi] -= f


def _ordinary_backward(
    model: RevGCN,
    graph: Graph,
    seeds: Sequence[int | None],
    step_params: list[list[nn.Parameter]],
    h: Tensor,
    grad: Tensor,
) -> list[Tensor | None]:
    """The backward under ``create_graph=True``: rerun the updates from ``h``, differentiably."""
    params = [p for ps in step_params for p in ps]
    out = h
    for i in range(len(model.convs)):
        with frozen_running_stats([model.norms[i]]):
            f = model._branch(i, graph, model._branch_input(i, out), seeds[i])
        out = model._combine(i, out, f)
    inputs = [h, *params] if h.requires_grad else params
    grads = torch.autograd.grad(out, inputs, grad, create_graph=True, allow_unused=True)
    return list(grads) if h.requires_grad else [None, *grads]
