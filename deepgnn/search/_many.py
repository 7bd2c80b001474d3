"""Several searches in lockstep, their model evaluations batched into one stacked pass.

Each member's method runs unchanged in a thread of its own against a :class:`MemberProblem`,
whose evaluations it hands to the :class:`Pool` and waits for. Once every running member has
handed one over, the pool evaluates them all in one forward and one backward pass of the
stacked members (:func:`deepgnn.objective.stacked_signal_terms`), plus at most three backward
passes for the gradients and Jacobians they asked for, and hands each its own numbers back.
Every operation of the stacked model acts on one member's columns, and the gradient of a sum
of members' terms is each member's own gradient, so a member's search is the search it would
run alone, to float rounding.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from deepgnn.graph import Graph
from deepgnn.models import GNN
from deepgnn.models.stacked import Stack, architecture, model_obstacle
from deepgnn.objective import objective, residuals, stacked_signal_terms
from deepgnn.search._problem import Problem, scale_gradient


def stack_obstacle(models: Sequence[GNN], x: Tensor | None, y: Tensor | None) -> str | None:
    """Why the searches of ``models`` cannot share their evaluations, or ``None``."""
    if x is None or y is None:
        return "random features or labels (data='random') differ between evaluations"
    first = models[0]
    for m in models:
        found = model_obstacle(m)
        if found is not None:
            return found
        if architecture(m) != architecture(first):
            return "the models differ in architecture"
        if next(m.parameters()).device != next(first.parameters()).device:
            return "the models are on different devices"
    return None


@dataclass
class _Request:
    kind: str
    s: Tensor
    result: tuple[Any, ...] | None = None
    error: BaseException | None = None
    done: bool = False


@dataclass
class Pool:
    """The members' pending evaluations, evaluated together once every running member has one.

    ``problems[m]`` is member ``m``'s :class:`MemberProblem`; ``masks`` ``(k, N)`` their loss
    nodes.
    """

    graph: Graph
    x: Tensor
    y: Tensor
    masks: Tensor
    problems: list[MemberProblem] = field(default_factory=list)
    rounds: int = 0

    def __post_init__(self) -> None:
        self.cond = threading.Condition()
        self.pending: dict[int, _Request] = {}
        self.live: set[int] = set()
        self.members: tuple[int, ...] = ()
        self.stack: Stack | None = None
        #: the first error of a round's stacked evaluation (e.g. out of memory), if any
        self.failure: Exception | None = None

    # ------------------------------------------------------------- member side
    def submit(self, m: int, kind: str, s: Tensor) -> tuple[Any, ...]:
        """Member ``m``'s evaluation at ``s``; blocks until the round that computes it is done.

        ``kind``: ``"value"`` (the objective), ``"grad"`` (and dJ/ds), ``"residuals"`` or
        ``"jacobian"`` (the residuals and dr/ds)."""
        request = _Request(kind, s.detach().to(torch.float64).cpu().clone())
        with self.cond:
            self.pending[m] = request
            self.cond.notify_all()
            while not request.done:
                self.cond.wait()
        if request.error is not None:
            raise request.error
        assert request.result is not None
        return request.result

    def finish(self, m: int) -> None:
        """Member ``m``'s search ended (or raised): the rounds go on without it."""
        with self.cond:
            self.live.discard(m)
            self.cond.notify_all()

    # --------------------------------------------------------------- the rounds
    def serve(self, run: Callable[[int], None]) -> None:
        """Run ``run(m)`` for every member in a thread of its own and evaluate their requests
        in rounds until every one has finished."""
        k = len(self.problems)
        self.live = set(range(k))

        def member(m: int) -> None:
            try:
                run(m)
            finally:
                self.finish(m)

        threads = [threading.Thread(target=member, args=(m,), daemon=True) for m in range(k)]
        for t in threads:
            t.start()
        while True:
            with self.cond:
                while self.live and not self.live <= set(self.pending):
                    self.cond.wait()
                if not self.live:
                    break
                batch = dict(self.pending)
                self.pending.clear()
            try:
                results = self._evaluate(batch)
                errors: dict[int, BaseException] = {}
            except Exception as err:  # every member of the round gets it; the pool failed
                results, errors = {}, dict.fromkeys(batch, err)
                if self.failure is None:
                    self.failure = err
            with self.cond:
                for m, request in batch.items():
                    request.result = results.get(m)
                    request.error = errors.get(m)
                    request.done = True
                self.cond.notify_all()
        for t in threads:
            t.join()

    def _evaluate(self, batch: dict[int, _Request]) -> dict[int, tuple[Any, ...]]:
        self.rounds += 1
        members = tuple(sorted(batch))
        if members != self.members or self.stack is None:
            # the models still hold their base weights: the stack starts from them
            self.stack = Stack([self.problems[m].model for m in members])
            self.members = members
            self.member_masks = self.masks[list(members)]
        stack = self.stack
        with torch.no_grad():
            for j, m in enumerate(members):
                self.problems[m].write(stack, j, batch[m].s)
        kinds = {m: batch[m].kind for m in members}
        create = any(kind in ("grad", "jacobian") for kind in kinds.values())
        with torch.enable_grad():
            terms = stacked_signal_terms(
                stack, self.graph, self.x, self.y, self.member_masks, create_graph=create
            )
            values = [self.problems[m].objective(terms[j]) for j, m in enumerate(members)]
            # Up to three backward passes: pass i sums, over the members, what each needs
            # differentiated i-th (log J for a gradient; r_i for a Jacobian), each member's
            # derivative landing in its own slice.
            targets: list[dict[int, Tensor]] = [{}, {}, {}]
            positive: dict[int, bool] = {}
            rs: dict[int, list[Tensor]] = {}
            for j, m in enumerate(members):
                p = self.problems[m]
                if kinds[m] == "grad":
                    v = values[j]
                    # as Problem.evaluate: differentiate log J when J > 0
                    positive[m] = v.requires_grad and bool(v.detach() > 0)
                    targets[0][j] = v.log() if positive[m] else v
                elif kinds[m] in ("residuals", "jacobian"):
                    rs[m] = residuals(terms[j], p.form, p.state)
                    if kinds[m] == "jacobian":
                        for i in range(3):
                            targets[i][j] = rs[m][i]
            passes = [t for t in targets if t]
            rows: list[dict[int, Tensor]] = []
            for i, target in enumerate(passes):
                rows.append(self._grads(stack, members, target, retain=i < len(passes) - 1))
        out: dict[int, tuple[Any, ...]] = {}
        for j, m in enumerate(members):
            value_t = values[j].detach()
            kind = kinds[m]
            if kind == "value":
                out[m] = (value_t, terms[j], None)
            elif kind == "grad":
                g = rows[0][j]
                if positive[m]:
                    g = g * float(value_t)
                out[m] = (value_t, terms[j], g)
            else:
                r = torch.stack([t.detach() for t in rs[m]]).cpu()
                jac = torch.stack([row[j] for row in rows[-3:]]) if kind == "jacobian" else None
                out[m] = (value_t, terms[j], r, jac)
        return out

    def _grads(
        self, stack: Stack, members: tuple[int, ...], targets: dict[int, Tensor], retain: bool
    ) -> dict[int, Tensor]:
        """d target_j / ds_j of every member ``j`` in ``targets`` (zeros where its target has
        no graph), from one backward pass of their sum."""
        live = [t for t in targets.values() if t.requires_grad]
        tensors = list(
            {id(q): q for m in members for q in self.problems[m].stacked(stack)}.values()
        )
        grads: dict[int, Tensor | None] = {}
        if live:
            total = torch.stack([t.to(torch.float64) for t in live]).sum()
            found = torch.autograd.grad(total, tensors, retain_graph=retain, allow_unused=True)
            grads = {id(q): g for q, g in zip(tensors, found)}
        out = {}
        for j, t in targets.items():
            p = self.problems[members[j]]
            if not t.requires_grad:
                out[j] = torch.zeros(p.dim, dtype=torch.float64)
                continue
            out[j] = p.grad_s(stack, j, grads)
        return out


class MemberProblem(Problem):
    """A member's :class:`Problem` whose evaluations go to the :class:`Pool`.

    The model keeps its base weights: a candidate's weights are written into the member's
    slice of the stack (:meth:`write`), never into the model.
    """

    def attach(self, pool: Pool, m: int) -> None:
        self.pool, self.m = pool, m
        names = {id(q): n for n, q in self.model.named_parameters()}
        #: the names of the searched weights, then gates, in the model (and the stack)
        self.searched = [names[id(p)] for p in [*self.params, *self.gate_params.values()]]

    def stacked(self, stack: Stack) -> list[Tensor]:
        """The stacked tensors of the member's searched weights, then gates."""
        return [stack.p[name] for name in self.searched]

    def write(self, stack: Stack, j: int, s: Tensor) -> None:
        """Write ``W = exp(s) W0`` (and the gates) into slice ``j`` of the stack."""
        stacked = self.stacked(stack)
        k = 0
        for q, base in zip(stacked, self.base):
            q[j].copy_(base * math.exp(float(s[k])))
            k += 1
        for q, (name, p) in zip(stacked[k:], self.gate_params.items()):
            n = p.numel()
            factor = s[k : k + n].exp().to(dtype=p.dtype, device=p.device).view_as(p)
            q[j].copy_(self.gate_base[name] * factor)
            k += n

    def grad_s(self, stack: Stack, j: int, grads: dict[int, Tensor | None]) -> Tensor:
        """``<dT/dW, W>`` per searched weight and elementwise per gate entry, for slice ``j``
        (as :meth:`Problem._grad_s` for the model alone)."""
        stacked = self.stacked(stack)
        slices = [None if (g := grads.get(id(q))) is None else g[j] for q in stacked]
        return scale_gradient([q[j] for q in stacked], slices)

    def objective(self, terms: dict[str, Any]) -> Tensor:
        value: Tensor = objective(terms, form=self.form, weights=self.weights, state=self.state)
        return value

    def evaluate(
        self, s: Tensor, index: int, *, candidate: bool = True, grad: bool = False
    ) -> tuple[float, Tensor | None]:
        value_t, terms, g = self.pool.submit(self.m, "grad" if grad else "value", s)
        return self._finish(s, value_t, terms, candidate), g

    def residuals(  # type: ignore[override]
        self, s: Tensor, index: int, *, jacobian: bool = False
    ) -> tuple[float, Tensor, Tensor | None]:
        value_t, terms, r, jac = self.pool.submit(
            self.m, "jacobian" if jacobian else "residuals", s
        )
        self._finish(s, value_t, terms, True)
        return float(value_t), r, jac
