"""The search's objective as a function of the log-scale vector, and what every method shares.

:class:`Problem` owns the base weights, evaluates :math:`J(s)` (one model evaluation: one
forward and one backward pass), records every evaluation in the trace and keeps the best
candidate; the optimizers in the sibling modules only propose points.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any, Literal, overload

import pandas as pd
import torch
from torch import Tensor

from deepgnn._checks import check_int, check_pair
from deepgnn._progress import progress_bar
from deepgnn.graph import Graph
from deepgnn.models import GNN
from deepgnn.objective import objective, residuals, signal_terms, term_keys

TRACE_COLUMNS = [
    "evaluation",
    "objective",
    "fsp_term",
    "bsp_term",
    "gev_term",
    "seconds",
    "candidate",
    "best",
]


class Problem:
    """The objective as a function of the log-scale vector; owns the base weights and the trace."""

    def __init__(
        self,
        model: GNN,
        graph: Graph,
        x: Tensor | None,
        y: Tensor | None,
        mask: Tensor | None,
        *,
        layers: str,
        gates: Sequence[str],
        form: str,
        weights: Sequence[float],
        state: str,
        seed: int,
        bounds: tuple[float, float],
    ) -> None:
        self.model, self.graph, self.x, self.y, self.mask = model, graph, x, y, mask
        self.form, self.weights, self.seed = form, tuple(float(w) for w in weights), seed
        self.state, self.keys = state, term_keys(form, state)
        self.lo, self.hi = math.log(bounds[0]), math.log(bounds[1])
        lws = model.layer_weights()
        if layers == "conv" and not any(lw.kind == "conv" for lw in lws):
            # APPNP: its propagation has no weights; the MLP's layers are all there is to scale.
            layers = "all"
        self.layer_index = [
            i
            for i, lw in enumerate(lws)
            if layers == "all" or (layers == "conv" and lw.kind == "conv")
        ]
        self.params = [lws[i].param for i in self.layer_index]
        self.names = [f"log_scale.{lws[i].name}" for i in self.layer_index]
        self.num_layers = len(lws)
        # Gates that start at 0 (ReZero's alpha) stay 0 under any scale: not searched.
        self.gate_params: dict[str, torch.nn.Parameter] = {}
        for name, p in model.gates().items():
            if name in gates and bool((p.detach() != 0).any()):
                self.gate_params[name] = p
                self.names += [f"log_scale.{name}.{k}" for k in range(p.numel())]
        self.dim = len(self.names)
        if self.dim == 0:
            raise ValueError(
                f"layers={layers!r} and search_gates={list(gates)!r} leave nothing to search "
                f"in family {model.family!r} (gates at 0 stay 0); pass layers='conv'"
            )
        self.base = [p.detach().clone() for p in self.params]
        self.gate_base = {k: p.detach().clone() for k, p in self.gate_params.items()}
        self.count = 0
        self.rows: list[dict[str, Any]] = []
        self.t0 = time.perf_counter()
        self.offset = 0.0
        self.best_value = math.inf
        self.best_s: Tensor = torch.zeros(self.dim, dtype=torch.float64)
        self.best_terms: dict[str, float] = {}
        if x is None:
            self.in_dim = model.in_dim
        self.device = graph.device

    # -------------------------------------------------------------- parameters
    def set_(self, s: Tensor) -> None:
        """Write ``W = exp(s) W0`` (and the gates) into the model; never compounds."""
        s = s.detach().to(torch.float64).cpu()
        with torch.no_grad():
            k = 0
            for p, base in zip(self.params, self.base):
                p.copy_(base * math.exp(float(s[k])))
                k += 1
            for name, p in self.gate_params.items():
                n = p.numel()
                factor = s[k : k + n].exp().to(dtype=p.dtype, device=p.device).view_as(p)
                p.copy_(self.gate_base[name] * factor)
                k += n

    def restore_(self) -> None:
        self.set_(torch.zeros(self.dim, dtype=torch.float64))

    def clamp(self, s: Tensor) -> Tensor:
        return s.clamp(self.lo, self.hi)

    def scales(self, s: Tensor) -> tuple[list[float], dict[str, list[float]]]:
        s = s.detach().to(torch.float64).cpu()
        scales = [1.0] * self.num_layers
        for j, i in enumerate(self.layer_index):
            scales[i] = math.exp(float(s[j]))
        gates: dict[str, list[float]] = {}
        k = len(self.layer_index)
        for name, p in self.model.gates().items():
            if name in self.gate_params:
                gates[name] = [math.exp(float(v)) for v in s[k : k + p.numel()]]
                k += p.numel()
            else:
                gates[name] = [1.0] * p.numel()
        return scales, gates

    # -------------------------------------------------------------------- data
    def data(self, index: int) -> tuple[Tensor, Tensor | None]:
        """Features and labels of evaluation ``index``: fixed, or fresh random ones from the seed."""
        if self.x is not None and self.y is not None:
            return self.x, self.y
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        n = self.graph.num_nodes
        x = self.x
        if x is None:
            x = torch.randn(n, self.in_dim, generator=gen).to(self.device)
        y = self.y
        if y is None:
            y = torch.randint(0, self.model.out_dim, (n,), generator=gen).to(self.device)
        return x, y

    # -------------------------------------------------------------- evaluation
    def _grad_s(self, target: Tensor, *, retain_graph: bool = False) -> Tensor:
        """d target / ds: ``<d target/dW, W>`` per weight, elementwise for the gates."""
        tensors = [*self.params, *self.gate_params.values()]
        if not target.requires_grad:
            return torch.zeros(self.dim, dtype=torch.float64)
        dws = torch.autograd.grad(target, tensors, retain_graph=retain_graph, allow_unused=True)
        return scale_gradient(tensors, dws)

    def _terms(self, s: Tensor, index: int, *, create_graph: bool) -> tuple[dict, Tensor]:
        """Set the weights to ``s`` and measure: the signal terms and the objective."""
        self.set_(s)
        x, y = self.data(index)
        terms = signal_terms(
            self.model, self.graph, x, y, self.mask, create_graph=create_graph, all_gev=False
        )
        return terms, objective(terms, form=self.form, weights=self.weights, state=self.state)

    def evaluate(
        self, s: Tensor, index: int, *, candidate: bool = True, grad: bool = False
    ) -> tuple[float, Tensor | None]:
        """Objective at ``s`` (one model evaluation, recorded); with ``grad``, also dJ/ds."""
        with torch.enable_grad():
            terms, value_t = self._terms(s, index, create_graph=grad)
            g = None
            if grad:
                # Differentiate log J: J reaches 1e20 on exploding models (ResGCN-64), and
                # its float32 weight gradients overflow; dJ/ds = J · dlog J/ds.
                positive = value_t.requires_grad and bool(value_t.detach() > 0)
                g = self._grad_s(value_t.log() if positive else value_t)
                if positive:
                    g = g * float(value_t.detach())
        return self._finish(s, value_t, terms, candidate), g

    @overload
    def residuals(
        self, s: Tensor, index: int, *, jacobian: Literal[True]
    ) -> tuple[float, Tensor, Tensor]: ...

    @overload
    def residuals(
        self, s: Tensor, index: int, *, jacobian: Literal[False] = False
    ) -> tuple[float, Tensor, None]: ...

    def residuals(
        self, s: Tensor, index: int, *, jacobian: bool = False
    ) -> tuple[float, Tensor, Tensor | None]:
        """Objective, residuals (see :func:`deepgnn.objective.residuals`) and, with ``jacobian``, dr/ds.

        One model evaluation, recorded as a candidate. The Jacobian ``(3, dim)`` takes
        three backward passes through the graph of the first one (the BSP row through the
        double backward), all part of this one evaluation.
        """
        with torch.enable_grad():
            terms, value_t = self._terms(s, index, create_graph=jacobian)
            rs = residuals(terms, self.form, self.state)
            jac = None
            if jacobian:
                jac = torch.stack([self._grad_s(r, retain_graph=k < 2) for k, r in enumerate(rs)])
        self._finish(s, value_t, terms, True)
        r = torch.stack([r.detach() for r in rs]).cpu()
        return float(value_t.detach()), r, jac

    def _finish(self, s: Tensor, value_t: Tensor, terms: dict[str, Any], candidate: bool) -> float:
        """Record one evaluation and keep the best candidate."""
        value = float(value_t.detach())
        fsp_key, bsp_key, gev_key = self.keys
        row_terms = {
            "fsp_term": float(terms[fsp_key].detach()),
            "bsp_term": float(terms[bsp_key].detach()),
            "gev_term": float(terms[gev_key].detach()),
        }
        self.record(value, row_terms, candidate=candidate)
        if candidate and math.isfinite(value) and value < self.best_value:
            self.best_value = value
            self.best_s = s.detach().to(torch.float64).cpu().clone()
            self.best_terms = row_terms
        return value

    def elapsed(self) -> float:
        return self.offset + time.perf_counter() - self.t0

    def out_of_time(self, timeout: float | None) -> bool:
        return timeout is not None and time.perf_counter() - self.t0 >= timeout

    def record(self, value: float, terms: dict[str, float], *, candidate: bool) -> dict[str, Any]:
        row = {
            "evaluation": self.count,
            "objective": value,
            **terms,
            "seconds": self.elapsed(),
            "candidate": candidate,
        }
        self.rows.append(row)
        self.count += 1
        return row

    def trace(self, rows: list[dict[str, Any]] | None = None) -> pd.DataFrame:
        df = pd.DataFrame(rows if rows is not None else self.rows)
        if df.empty:
            return pd.DataFrame(columns=TRACE_COLUMNS)
        cand = df["objective"].where(df["candidate"] & df["objective"].map(math.isfinite))
        df["best"] = cand.cummin().ffill()
        return df[TRACE_COLUMNS].reset_index(drop=True)


# ------------------------------------------------------------------------ helpers
def scale_gradient(weights: Sequence[Tensor], grads: Sequence[Tensor | None]) -> Tensor:
    """dT/ds from dT/dW: ``<dT/dW, W>`` per weight matrix, elementwise for a gate vector (a
    1-d tensor); a ``None`` gradient (unused) counts as zero. A float64 CPU vector."""
    parts = []
    for w, dw in zip(weights, grads):
        dw = torch.zeros_like(w) if dw is None else dw
        prod = (dw.detach() * w.detach()).to(torch.float64)
        parts.append(prod.sum().reshape(1) if w.dim() > 1 else prod.flatten())
    return torch.cat(parts).cpu()


def bar(total: int, method: str, progress: bool) -> Any:
    """The progress bar of a search (nothing without ``progress``; plain lines off a terminal)."""
    return progress_bar(total=total, desc=f"spoginit {method}", enabled=progress)


def show_best(bar: Any, problem: Problem) -> None:
    """One evaluation done: advance the bar and show the best objective so far."""
    bar.update(1)
    if math.isfinite(problem.best_value):
        bar.set_postfix(best=f"{problem.best_value:.4g}")


def positive(arg: str, value: object) -> float:
    """Return ``value`` as a float, or raise naming ``arg`` when it is not positive and finite."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{arg} must be a float, got {type(value).__name__} {value!r}")
    if not 0 < float(value) < math.inf:
        raise ValueError(f"{arg}={value} must be a positive finite number")
    return float(value)


def check_patience(patience: object) -> int | None:
    """``None`` (never stop early) or an int >= 1."""
    return None if patience is None else check_int("patience", patience, minimum=1)


def check_bounds(bounds: object) -> tuple[float, float]:
    """``(low, high)`` scale bounds as floats, ``0 < low <= 1 <= high < inf``."""
    lo, hi = check_pair("bounds", bounds, example="(low, high) scale factors (0.01, 10)")
    if not (0 < lo <= 1 <= hi < math.inf):
        raise ValueError(
            f"bounds={bounds!r} must satisfy 0 < low <= 1 <= high (1 = the weights as given); "
            "pass e.g. bounds=(0.01, 10)"
        )
    return lo, hi
