r"""SPoGInit: search per-layer weight scales that balance signal propagation.

The objective of Wang, Chen, Zhang, Sun, Ding, "Exploring and Improving Initialization for
Deep Graph Neural Networks: A Signal Propagation Perspective", TMLR 2025 (arXiv 2506.16790),

.. math:: J(s) = w_1\, \mathrm{FSP} + w_2\, \mathrm{BSP} + w_3\, (\mathrm{GEV}(X) - \mathrm{GEV}(h_L))^2

(see :func:`deepgnn.signal.objective` for the forms), is minimized over per-layer log-scales
:math:`s_l`, the weights being :math:`W_l = e^{s_l} W_l^0` for the model's weights
:math:`W_l^0` at call time. Five optimizers share one evaluation routine, so they are
compared at equal numbers of model evaluations (one evaluation = one forward and one
backward pass of the model):

- ``"gauss_newton"`` (default for ``form="divide_old"``): trust-region Gauss-Newton on the
  objective's three residuals (log FSP ratio, log BSP ratio, GEV gap), their Jacobian by
  autograd at the start and when the steps stop paying, Broyden's secant updates from plain
  evaluations in between;
- ``"tpe"`` / ``"cmaes"``: an Optuna study over the bounded log-scales (resumable from any
  Optuna storage);
- ``"gradient"`` (default for ``form="divide_stable"``): Adam on the log-scales. :math:`J`
  is differentiable in :math:`s`: FSP and GEV
  through the forward pass, BSP through a double backward, and
  :math:`\partial J/\partial s_l = \langle \partial J/\partial W_l, W_l\rangle`;
- ``"zeroth_order"`` / ``"zeroth_order_single"``: the authors' sign-descent procedures
  (``zeroincrease_initialization`` and ``zerosingle_initialization`` in their
  ``spoginit.py``), the baseline.

:func:`search` leaves the model as it found it; :func:`deepgnn.init.spoginit_` applies the
best scales.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import torch
from torch import Tensor

from deepgnn._checks import check_choice, check_int
from deepgnn.graph import Graph
from deepgnn.models._base import GNN
from deepgnn.signal import FORMS, _check_operands, _residuals, _signal_terms, objective

__all__ = ["METHODS", "SearchResult", "search"]

logger = logging.getLogger(__name__)

METHODS = ("gauss_newton", "gradient", "tpe", "cmaes", "zeroth_order", "zeroth_order_single")
#: The method ``search(method=None)`` takes for each objective form. Gauss-Newton fits
#: ``divide_old``, whose two ratios are smooth in the log-scales; on ``divide_stable`` it
#: stalls, most likely because the max/min ratios switch layers as the scales move. Cora,
#: Xavier, 3 seeds (results/search_cora.md): Gauss-Newton ends at mean J = 4.38 / 7.12 on a
#: gated ResGCN of depth 16 / 64 where Adam reaches 0.082 / 0.356 in 100 evaluations, and
#: 0.48 on a ResGCN-64 against Adam's 0.037.
DEFAULT_METHOD = {"divide_old": "gauss_newton", "divide_stable": "gradient"}
_LAYERS = ("conv", "all")
_PROBES = ("last", "mean")
_TRACE_COLUMNS = [
    "evaluation",
    "objective",
    "fsp_term",
    "bsp_term",
    "gev_term",
    "seconds",
    "candidate",
    "best",
]
# Budgets when n_trials is None: the authors' 100 steps of 4 evaluations for the
# zeroth-order method (3 for the single-direction one); 200 for the others, 100 for
# Gauss-Newton, which stops on its patience long before on the Cora cases.
_DEFAULT_TRIALS = {
    "gauss_newton": 100,
    "gradient": 200,
    "tpe": 200,
    "cmaes": 200,
    "zeroth_order": 400,
    "zeroth_order_single": 300,
}
_DEFAULT_LR = {"gradient": 0.1, "zeroth_order": 0.05, "zeroth_order_single": 0.05}
# The gradient method runs its whole budget by default: the BSP ratio of two layers makes J
# jumpy in s, and long stretches without a new best precede further descent (Cora, depth 64).
_DEFAULT_PATIENCE = {"zeroth_order": 10, "gauss_newton": 10}


@dataclass
class SearchResult:
    """What a SPoGInit search found.

    Attributes:
        method: the optimizer (one of :data:`METHODS`).
        scales: one multiplicative scale per entry of ``model.layer_weights()`` (1.0 for the
            layers not searched); ``deepgnn.init.scale_(model, scales, gates=gates)`` applies
            them to the weights the search started from.
        gates: ``{"alpha": [...], "beta": [...]}`` scales of the residual gates of
            ``gated_resgcn`` / ``rezero`` (empty for other families).
        objective: the best objective :math:`J` found (NaN when no evaluation was finite).
        terms: the unweighted terms at the best point: ``fsp_term``, ``bsp_term``,
            ``gev_term``.
        trace: one row per model evaluation: ``evaluation`` (0, 1, ...), ``objective``,
            ``fsp_term``, ``bsp_term``, ``gev_term``, ``seconds`` (wall time since the search
            began, continued across resumed runs), ``candidate`` (False for the
            zeroth-order method's finite-difference probes) and ``best`` (best candidate so
            far).
        evaluations: the number of model evaluations (forward + backward; the gradient
            method's double backward counts as part of its one evaluation).
        seconds: wall time of this call.
        study: the :class:`optuna.study.Study` for ``tpe`` / ``cmaes``, else ``None``.
        log_scales: the best point :math:`s` itself, one entry per searched weight, then
            per searched gate entry.
    """

    method: str
    scales: list[float]
    gates: dict[str, list[float]]
    objective: float
    terms: dict[str, float]
    trace: pd.DataFrame
    evaluations: int
    seconds: float
    study: Any = None
    log_scales: list[float] = field(default_factory=list)


# ------------------------------------------------------------------------- problem
class _Problem:
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
        search_gates: bool,
        form: str,
        weights: Sequence[float],
        seed: int,
        bounds: tuple[float, float],
    ) -> None:
        self.model, self.graph, self.x, self.y, self.mask = model, graph, x, y, mask
        self.form, self.weights, self.seed = form, tuple(float(w) for w in weights), seed
        self.lo, self.hi = math.log(bounds[0]), math.log(bounds[1])
        lws = model.layer_weights()
        self.layer_index = [i for i, lw in enumerate(lws) if layers == "all" or lw.kind == "conv"]
        if not self.layer_index:
            raise ValueError(
                f"family {model.family!r} has no convolution weights to search; pass layers='all'"
            )
        self.params = [lws[i].param for i in self.layer_index]
        self.names = [f"log_scale.{lws[i].name}" for i in self.layer_index]
        self.num_layers = len(lws)
        # Gates that start at 0 (ReZero's alpha) stay 0 under any scale: not searched.
        self.gate_params: dict[str, torch.nn.Parameter] = {}
        if search_gates:
            for name, p in model.gates().items():
                if bool((p.detach() != 0).any()):
                    self.gate_params[name] = p
                    self.names += [f"log_scale.{name}.{k}" for k in range(p.numel())]
        self.dim = len(self.names)
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
        parts = []
        for p, dw in zip(tensors, dws):
            dw = torch.zeros_like(p) if dw is None else dw
            prod = (dw.detach() * p.detach()).to(torch.float64)
            parts.append(prod.sum().reshape(1) if p.dim() > 1 else prod.flatten())
        return torch.cat(parts).cpu()

    def evaluate(
        self, s: Tensor, index: int, *, candidate: bool = True, grad: bool = False
    ) -> tuple[float, Tensor | None]:
        """Objective at ``s`` (one model evaluation, recorded); with ``grad``, also dJ/ds."""
        self.set_(s)
        x, y = self.data(index)
        with torch.enable_grad():
            terms = _signal_terms(
                self.model, self.graph, x, y, self.mask, create_graph=grad, all_gev=False
            )
            value_t = objective(terms, form=self.form, weights=self.weights)
            g = None
            if grad:
                # Differentiate log J: J reaches 1e20 on exploding models (ResGCN-64), and
                # its float32 weight gradients overflow; dJ/ds = J · dlog J/ds.
                positive = value_t.requires_grad and bool(value_t.detach() > 0)
                g = self._grad_s(value_t.log() if positive else value_t)
                if positive:
                    g = g * float(value_t.detach())
        return self._finish(s, value_t, terms, candidate), g

    def residuals(
        self, s: Tensor, index: int, *, jacobian: bool = False
    ) -> tuple[float, Tensor, Tensor | None]:
        """Objective, residuals (see ``signal._residuals``) and, with ``jacobian``, dr/ds.

        One model evaluation, recorded as a candidate. The Jacobian ``(3, dim)`` takes
        three backward passes through the graph of the first one (the BSP row through the
        double backward), all part of this one evaluation.
        """
        self.set_(s)
        x, y = self.data(index)
        with torch.enable_grad():
            terms = _signal_terms(
                self.model, self.graph, x, y, self.mask, create_graph=jacobian, all_gev=False
            )
            value_t = objective(terms, form=self.form, weights=self.weights)
            rs = _residuals(terms, self.form)
            jac = None
            if jacobian:
                jac = torch.stack([self._grad_s(r, retain_graph=k < 2) for k, r in enumerate(rs)])
        self._finish(s, value_t, terms, True)
        r = torch.stack([r.detach() for r in rs]).cpu()
        return float(value_t.detach()), r, jac

    def _finish(self, s: Tensor, value_t: Tensor, terms: dict[str, Any], candidate: bool) -> float:
        """Record one evaluation and keep the best candidate."""
        value = float(value_t.detach())
        row_terms = {
            "fsp_term": float(terms[f"fsp_{self.form}"].detach()),
            "bsp_term": float(terms[f"bsp_{self.form}"].detach()),
            "gev_term": float(terms["gev_gap"].detach()),
        }
        self.record(value, row_terms, candidate=candidate)
        if candidate and math.isfinite(value) and value < self.best_value:
            self.best_value = value
            self.best_s = s.detach().to(torch.float64).cpu().clone()
            self.best_terms = row_terms
        return value

    def elapsed(self) -> float:
        return self.offset + time.perf_counter() - self.t0

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
            return pd.DataFrame(columns=_TRACE_COLUMNS)
        cand = df["objective"].where(df["candidate"] & df["objective"].map(math.isfinite))
        df["best"] = cand.cummin().ffill()
        return df[_TRACE_COLUMNS].reset_index(drop=True)


# ------------------------------------------------------------------------ helpers
@contextlib.contextmanager
def _quiet_optuna() -> Iterator[None]:
    import optuna

    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(level)


def _storage(storage: object) -> Any:
    """An Optuna storage from a URL (``sqlite:///x.db``), a journal file path, or a storage."""
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    if storage is None or isinstance(storage, optuna.storages.BaseStorage):
        return storage
    if isinstance(storage, (str, os.PathLike)):
        text = os.fspath(storage)
        if "://" in text:
            return text
        return JournalStorage(JournalFileBackend(text))
    raise TypeError(
        f"storage must be an Optuna storage URL such as 'sqlite:///spog.db', a journal file "
        f"path such as 'spog.log', or an optuna storage, got {type(storage).__name__}"
    )


def _bar(total: int, method: str, progress: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=f"spoginit {method}", disable=not progress, leave=False)


def _out_of_time(problem: _Problem, timeout: float | None) -> bool:
    return timeout is not None and time.perf_counter() - problem.t0 >= timeout


# -------------------------------------------------------------------------- methods
def _run_optuna(
    problem: _Problem,
    method: str,
    *,
    n_trials: int,
    timeout: float | None,
    seed: int,
    storage: object,
    study_name: str,
    sigma0: float,
    progress: bool,
) -> Any:
    import optuna

    names = problem.names
    if method == "tpe":
        sampler: optuna.samplers.BaseSampler = optuna.samplers.TPESampler(seed=seed)
    else:
        # x0/sigma0 are deprecated since Optuna 4.9 (removal planned for 6.0); without them
        # CMA-ES starts at the centre of the box, not at the weights as given.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning, message=".*(x0|sigma0).*")
            sampler = optuna.samplers.CmaEsSampler(
                x0=dict.fromkeys(names, 0.0), sigma0=sigma0, seed=seed
            )
    study = optuna.create_study(
        storage=_storage(storage),
        study_name=study_name,
        sampler=sampler,
        direction="minimize",
        load_if_exists=True,
    )
    finished = (
        optuna.trial.TrialState.COMPLETE,
        optuna.trial.TrialState.PRUNED,
        optuna.trial.TrialState.FAIL,
    )
    done = [t for t in study.get_trials(deepcopy=False) if t.state in finished]
    if not study.get_trials(deepcopy=False):
        study.enqueue_trial(dict.fromkeys(names, 0.0))  # start from the weights as given
    problem.offset = max((t.user_attrs.get("seconds", 0.0) for t in done), default=0.0)
    remaining = n_trials - len(done)
    if remaining <= 0:
        return study

    bar = _bar(remaining, method, progress)

    def run_trial(trial: optuna.Trial) -> float:
        s = torch.tensor(
            [trial.suggest_float(n, problem.lo, problem.hi) for n in names], dtype=torch.float64
        )
        value, _ = problem.evaluate(s, trial.number)
        row = problem.rows[-1]
        for key in ("fsp_term", "bsp_term", "gev_term", "seconds"):
            trial.set_user_attr(key, row[key])
        trial.set_user_attr("evaluation_value", value)
        bar.update(1)
        if math.isfinite(problem.best_value):
            bar.set_postfix(best=f"{problem.best_value:.4g}")
        if not math.isfinite(value):
            raise optuna.TrialPruned(f"objective is {value}")
        return value

    try:
        study.optimize(run_trial, n_trials=remaining, timeout=timeout, gc_after_trial=False)
    finally:
        bar.close()
    return study


def _run_gradient(
    problem: _Problem,
    *,
    n_trials: int,
    timeout: float | None,
    lr: float,
    patience: int | None,
    progress: bool,
) -> None:
    s = torch.zeros(problem.dim, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([s], lr=lr)
    bar = _bar(n_trials, "gradient", progress)
    stale = 0
    try:
        for step in range(n_trials):
            if _out_of_time(problem, timeout):
                break
            before = problem.best_value
            value, g = problem.evaluate(s, step, grad=True)
            bar.update(1)
            if math.isfinite(problem.best_value):
                bar.set_postfix(best=f"{problem.best_value:.4g}")
            if not (math.isfinite(value) and g is not None and bool(torch.isfinite(g).all())):
                # Back to the best point with half the step: the log-scales left the region
                # where the float32 forward pass is finite.
                with torch.no_grad():
                    s.copy_(problem.best_s)
                for group in opt.param_groups:
                    group["lr"] *= 0.5
                opt.state.clear()
                stale += 1
            else:
                stale = 0 if problem.best_value < before else stale + 1
                # Adam on log J: the same minimizers, gradients of comparable size whether J
                # is 1e20 or 0.1.
                s.grad = g / value if value > 0 else g
                opt.step()
                with torch.no_grad():
                    s.copy_(problem.clamp(s))
            if patience is not None and stale >= patience:
                break
    finally:
        bar.close()


def _gauss_newton_step(jac: Tensor, r: Tensor, root_w: Tensor) -> Tensor:
    """Minimum-norm damped Gauss-Newton step: argmin ‖√w·(r + J d)‖² + λ‖d‖² over d.

    ``d = -Aᵀ (A Aᵀ + λ I)⁻¹ b`` with ``A = √w J``, ``b = √w r``: a 3×3 solve however many
    log-scales there are. ``λ = 1e-3 · max diag(A Aᵀ)`` keeps the step finite when a row (in
    practice the GEV one, whose residual no scale removes) is nearly dependent on the others.
    """
    a = root_w[:, None] * jac
    b = root_w * r
    m = a @ a.T
    lam = 1e-3 * float(m.diagonal().max())
    if not lam > 0:
        return torch.zeros_like(jac[0])
    return -a.T @ torch.linalg.solve(m + lam * torch.eye(3, dtype=m.dtype), b)


def _model_value(r: Tensor, weights: Tensor) -> float:
    """J from residuals: w1 (e^r0 - 1)² + w2 (e^r1 - 1)² + w3 r2²."""
    return float((weights * torch.stack([r[0].expm1(), r[1].expm1(), r[2]]) ** 2).sum())


def _run_gauss_newton(
    problem: _Problem,
    *,
    n_trials: int,
    timeout: float | None,
    patience: int | None,
    progress: bool,
) -> None:
    # Trust-region Gauss-Newton on the three residuals r(s) (two log-ratios and the GEV gap).
    # The Jacobian dr/ds costs 3 backward passes (2.1-3.2 plain evaluations on Cora, CPU), so
    # it is measured only at the start and after two rejected trials in a row; between those,
    # each trial is a plain evaluation and updates the Jacobian by Broyden's rank-one secant
    # rule. Measured on Cora (results/search_cora.md): after one Jacobian, three plain trials
    # bring a tanh GCN-256 (seed 1) from J = 149 to 0.109.
    w = torch.tensor(problem.weights, dtype=torch.float64)
    root_w = w.sqrt()
    bar = _bar(n_trials, "gauss_newton", progress)
    s = torch.zeros(problem.dim, dtype=torch.float64)
    radius, fails, stale, best = math.inf, 2, 0, math.inf
    value, r, jac = math.nan, torch.zeros(3, dtype=torch.float64), None
    draw = 0  # random data: one draw per Jacobian, shared by the trials that use it
    try:
        while problem.count < n_trials and not _out_of_time(problem, timeout):
            if fails >= 2:
                # Start, or the secant Jacobian no longer predicts: measure it at s.
                draw = problem.count
                value, r, jac = problem.residuals(s, draw, jacobian=True)
                fails = 0
                if not (math.isfinite(value) and torch.isfinite(jac).all()):
                    break  # nowhere to step from (e.g. ReZero at alpha = 0: J is NaN)
            else:
                assert jac is not None
                d = _gauss_newton_step(jac, r, root_w)
                norm = float(d.norm())
                if norm > radius:
                    d = d * (radius / norm)
                trial = problem.clamp(s + d)
                d = trial - s
                norm = float(d.norm())
                if norm == 0.0:
                    break  # at a stationary point of the model, or pinned on the bounds
                predicted = _model_value(r + jac @ d, w)
                new, r_new, _ = problem.residuals(trial, draw)
                finite = math.isfinite(new) and bool(torch.isfinite(r_new).all())
                if finite:
                    # Broyden: the Jacobian that maps this step onto the change it caused.
                    jac = jac + torch.outer(r_new - r - jac @ d, d) / (norm * norm)
                if finite and new < value:
                    gain = (value - new) / (value - predicted) if predicted < value else 0.0
                    if gain > 0.75:
                        radius = max(radius, 2 * norm)
                    elif gain < 0.25:
                        radius = norm
                    s, value, r, fails = trial, new, r_new, 0
                else:
                    radius, fails = norm / 2, fails + 1
            bar.update(1)
            if math.isfinite(problem.best_value):
                bar.set_postfix(best=f"{problem.best_value:.4g}")
            # Stalled: no relative improvement of 1e-4 for `patience` evaluations.
            if problem.best_value < best * (1 - 1e-4):
                best, stale = problem.best_value, 0
            else:
                stale += 1
            if patience is not None and stale >= patience:
                break
    finally:
        bar.close()


def _run_zeroth_order(
    problem: _Problem,
    method: str,
    *,
    n_trials: int,
    timeout: float | None,
    lr: float,
    decay: float,
    patience: int | None,
    probes: str,
    delta: float,
    seed: int,
    progress: bool,
) -> None:
    # The authors' procedure works on linear scales c (W = c W0), starting at 1; we clamp c
    # to the same bounds as the other methods (their code has none).
    single = method == "zeroth_order_single"
    n_dirs = 2 if single else 3
    per_step = 1 + n_dirs
    gen = torch.Generator().manual_seed(seed)
    c = torch.ones(problem.dim, dtype=torch.float64)
    lo, hi = math.exp(problem.lo), math.exp(problem.hi)
    best = math.inf
    stale = 0
    bar = _bar(n_trials, method, progress)
    try:
        step = 0
        while problem.count + per_step <= n_trials and not _out_of_time(problem, timeout):
            old, _ = problem.evaluate(c.log(), step)
            bar.update(1)
            if old < best:
                best, stale = old, 0
            else:
                stale += 1  # NaN counts as no improvement, as `old_metric < best_metric`
            if not single and patience is not None and stale >= patience:
                break
            grad = torch.zeros(problem.dim, dtype=torch.float64)
            for _ in range(n_dirs):
                if single:
                    z = torch.randn(1, generator=gen, dtype=torch.float64).expand(problem.dim)
                else:
                    z = torch.randn(problem.dim, generator=gen, dtype=torch.float64)
                probe = (c + delta * z).clamp_min(1e-12)
                new, _ = problem.evaluate(probe.log(), step, candidate=False)
                bar.update(1)
                # Authors' code re-zeroes init_grad inside the probe loop, so only the last
                # direction's estimate reaches the step ("last"); "mean" sums them. Their
                # division by 3 does not change the sign, the only thing the step uses.
                est = (new - old) / (delta * z)
                grad = grad + est if probes == "mean" else est
            c = (c - lr * torch.sign(grad)).clamp(lo, hi)
            # As published: zeroincrease decays when i % 20 == 0 (also after step 0),
            # zerosingle when (i + 1) % 20 == 0.
            if (step + 1 if single else step) % 20 == 0:
                lr *= decay
            step += 1
            if math.isfinite(problem.best_value):
                bar.set_postfix(best=f"{problem.best_value:.4g}")
    finally:
        bar.close()


# --------------------------------------------------------------------------- search
def _check_bounds(bounds: object) -> tuple[float, float]:
    if (
        not isinstance(bounds, Sequence)
        or len(bounds) != 2
        or not all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds)
    ):
        raise TypeError(
            f"bounds must be (low, high) scale factors such as (0.01, 10), got {bounds!r}"
        )
    lo, hi = float(bounds[0]), float(bounds[1])
    if not (0 < lo <= 1 <= hi < math.inf):
        raise ValueError(
            f"bounds={bounds!r} must satisfy 0 < low <= 1 <= high (1 = the weights as given); "
            "pass e.g. bounds=(0.01, 10)"
        )
    return lo, hi


def _positive(arg: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{arg} must be a float, got {type(value).__name__} {value!r}")
    if not 0 < float(value) < math.inf:
        raise ValueError(f"{arg}={value} must be a positive finite number")
    return float(value)


def search(
    model: GNN,
    graph: Graph,
    x: Tensor | None = None,
    y: Tensor | None = None,
    *,
    mask: Tensor | None = None,
    method: str | None = None,
    n_trials: int | None = None,
    timeout: float | None = None,
    form: str = "divide_old",
    weights: Sequence[float] = (1.0, 10.0, 1.0),
    bounds: tuple[float, float] = (0.01, 10.0),
    layers: str = "conv",
    search_gates: bool = True,
    seed: int = 0,
    storage: object = None,
    study_name: str = "spoginit",
    lr: float | None = None,
    patience: int | None = -1,
    decay: float = 0.7,
    probes: str = "last",
    delta: float = 1e-5,
    sigma0: float = 0.25,
    progress: bool = True,
) -> SearchResult:
    r"""Search per-layer weight scales minimizing the SPoGInit objective; the model is left unchanged.

    Minimizes over log-scales :math:`s \in [\log b_\text{lo}, \log b_\text{hi}]^d`, with
    :math:`W_l = e^{s_l} W_l^0` (and gates :math:`\alpha_l = e^{s}\alpha_l^0`,
    :math:`\beta_l = e^{s}\beta_l^0` for ``gated_resgcn`` / ``rezero``),

    .. math:: J(s) = w_1\,\mathrm{FSP}_\text{form} + w_2\,\mathrm{BSP}_\text{form}
        + w_3\,(\mathrm{GEV}(X) - \mathrm{GEV}(h_L))^2

    computed by :func:`deepgnn.signal.objective` on one forward and one backward pass
    (model in eval mode). Every candidate is the base weights times its scales, never a
    compounded product. Wang, Chen, Zhang, Sun, Ding, "Exploring and Improving
    Initialization for Deep Graph Neural Networks: A Signal Propagation Perspective",
    TMLR 2025 (arXiv 2506.16790), Sec. 5; the defaults ``form="divide_old"``,
    ``weights=(1, 10, 1)`` are the authors' GCN notebook's (their ResGCN notebook uses
    ``"divide_stable"``, ``(1, 1, 1)``).

    Methods (all start from :math:`s = 0`, the weights as given; ``method=None`` takes
    ``"gauss_newton"`` for ``form="divide_old"`` and ``"gradient"`` for ``"divide_stable"``,
    see :data:`DEFAULT_METHOD`):

    - ``"gauss_newton"``: writes :math:`J = w_1 (e^{r_0} - 1)^2 + w_2 (e^{r_1} - 1)^2
      + w_3 r_2^2` with :math:`r_0, r_1` the logarithms of the FSP and BSP ratios and
      :math:`r_2 = \mathrm{GEV}(X) - \mathrm{GEV}(h_L)`, and steps by the damped
      minimum-norm Gauss-Newton step :math:`d = -A^\top (A A^\top + \lambda I)^{-1} b`
      (:math:`A = \sqrt{w}\,\partial r/\partial s`, :math:`b = \sqrt{w}\, r`,
      :math:`\lambda = 10^{-3} \max \operatorname{diag} A A^\top`), cut to a trust radius
      that doubles after good steps and halves after rejected ones; a step is kept only
      when it lowers :math:`J`. The Jacobian (3 backward passes, the BSP row through a
      double backward; one evaluation) is measured at the start and after two rejected
      steps in a row; each step in between is a plain evaluation that updates it by
      Broyden's rule. Stops after ``patience`` evaluations without a relative improvement
      of 1e-4. With random data, each Jacobian evaluation draws fresh X / labels and the
      steps that use it share that draw.
    - ``"gradient"``: Adam on :math:`\log J(s)` with ``lr``, projected on the bounds;
      :math:`\partial J/\partial s_l = \langle \partial J / \partial W_l, W_l\rangle` by
      a double backward. Optionally stops after ``patience`` evaluations without a new
      best. A NaN/inf evaluation sends it back to the best point with half the learning rate.
    - ``"tpe"`` / ``"cmaes"``: an Optuna study (seeded ``TPESampler``, or
      ``CmaEsSampler`` started at :math:`s = 0` with step ``sigma0``); the first trial
      evaluates :math:`s = 0`; a NaN/inf objective prunes the trial. With ``storage`` the
      study persists; calling again with the same ``storage`` and ``study_name`` resumes
      it and runs until the study holds ``n_trials`` finished trials.
    - ``"zeroth_order"``: the authors' ``zeroincrease_initialization``: linear scales
      :math:`c = 1`, then per step one evaluation at :math:`c` and 3 random directions
      :math:`z \sim N(0, I)` evaluated at :math:`c + \delta z`; step
      :math:`c \leftarrow c - \text{lr}\,\operatorname{sign}(\hat g)`; lr ×``decay``
      every 20 steps; stop after ``patience`` steps without improvement; return the best
      step. As published, :math:`\hat g` is the last direction's estimate
      :math:`(J(c+\delta z) - J(c)) / (3\delta z)` (``probes="last"``);
      ``probes="mean"`` sums the three.
    - ``"zeroth_order_single"``: ``zerosingle_initialization``: the same with one shared
      direction for all layers, 2 probes a step, no patience.

    With ``x=None`` the features are fresh :math:`X \sim N(0, 1)` for every evaluation,
    with ``y=None`` fresh uniform random labels, drawn from a generator seeded by ``seed``
    and the evaluation's index, so a search is reproducible from its seed (the zeroth-order
    methods share one draw between a step's evaluation and its probes).

    Args:
        model: any deepgnn model; its weights at call time are the base :math:`W^0`.
        graph: the graph.
        x: node features ``(num_nodes, in_dim)``, or ``None`` for random ones.
        y: integer labels ``(num_nodes,)``, or ``None`` for random ones.
        mask: bool ``(num_nodes,)`` selecting the loss nodes (``None``: all labelled).
        method: one of :data:`METHODS`, or ``None`` for the form's default
            (:data:`DEFAULT_METHOD`).
        n_trials: budget in model evaluations (Optuna: total trials in the study);
            ``None``: 100 for ``gauss_newton``, 200 for ``gradient`` / ``tpe`` / ``cmaes``,
            the authors' 100 steps for the zeroth-order methods (400 and 300 evaluations).
        timeout: stop after this many seconds.
        form: ``"divide_old"`` or ``"divide_stable"`` (see :func:`deepgnn.signal.objective`).
        weights: ``(w1, w2, w3)``.
        bounds: ``(low, high)`` bounds of every scale factor, ``low <= 1 <= high``.
        layers: ``"conv"`` searches the graph convolutions only, as the authors
            (``find_parameters(model.convs)``); ``"all"`` adds the linear projections of the
            residual families.
        search_gates: also search the scales of ``alpha`` / ``beta`` (gated families);
            gates that start at 0 (ReZero's ``alpha``) are not searched. Note that a ReZero
            model at :math:`\alpha = 0` gives its convolutions zero gradients, so the BSP
            ratio and :math:`J` are NaN there: draw nonzero ``alpha`` first.
        seed: seeds the sampler, the directions and the random data.
        storage: for ``tpe`` / ``cmaes``: an Optuna storage URL (``"sqlite:///spog.db"``),
            a journal file path (``"spog.log"``, an Optuna ``JournalFileBackend``), or a
            storage object; ``None`` keeps the study in memory.
        study_name: the study's name in ``storage``.
        lr: step size (``None``: 0.1 for ``gradient``, the authors' 0.05 for zeroth order).
        patience: evaluations (``gauss_newton``: without a relative improvement of 1e-4;
            ``gradient``) or steps (zeroth order) without improvement before stopping;
            ``None`` never stops early; ``-1``: 10 for ``gauss_newton``, the authors' 10 for
            ``zeroth_order``, none for the others.
        decay: zeroth order: lr factor every 20 steps (the authors' 0.7).
        probes: zeroth order: ``"last"`` (as published) or ``"mean"``.
        delta: zeroth order: finite-difference step (the authors' 1e-5).
        sigma0: ``cmaes``: initial step in log-scale units.
        progress: show a tqdm bar with the best objective.

    Returns:
        A :class:`SearchResult`.

    Raises:
        ValueError: bad options, or a model without convolutions with ``layers="conv"``.
        ImportError: ``cmaes`` method without the ``cmaes`` package.

    Example:
        >>> import deepgnn
        >>> ds = deepgnn.data.load("cora")
        >>> m = deepgnn.build("gcn", ds.num_features, ds.num_classes, depth=6, width=16, seed=0)
        >>> res = search(m, ds.graph, ds.x, ds.y, mask=ds.train_mask, n_trials=5, progress=False)
        >>> res.evaluations, len(res.trace), bool(res.objective <= res.trace["objective"].iloc[0])
        (5, 5, True)
    """
    check_choice("form", form, FORMS)
    if method is None:
        method = DEFAULT_METHOD[form]
    check_choice("method", method, METHODS)
    check_choice("layers", layers, _LAYERS)
    check_choice("probes", probes, _PROBES)
    if len(weights) != 3:
        raise ValueError(f"weights must be (w1, w2, w3), got {tuple(weights)}")
    bounds = _check_bounds(bounds)
    seed = check_int("seed", seed, minimum=0)
    n = _DEFAULT_TRIALS[method] if n_trials is None else check_int("n_trials", n_trials, minimum=1)
    if timeout is not None:
        timeout = _positive("timeout", timeout)
    step = _positive("lr", lr) if lr is not None else _DEFAULT_LR.get(method, 0.0)
    if patience == -1:
        patience = _DEFAULT_PATIENCE.get(method)
    elif patience is not None:
        patience = check_int("patience", patience, minimum=1)
    decay = _positive("decay", decay)
    delta = _positive("delta", delta)
    sigma0 = _positive("sigma0", sigma0)
    if not isinstance(study_name, str) or not study_name:
        raise ValueError(f"study_name must be a non-empty string, got {study_name!r}")
    if storage is not None and method not in ("tpe", "cmaes"):
        raise ValueError(
            f"storage= is for the Optuna methods ('tpe', 'cmaes'), not method={method!r}"
        )
    if x is None:
        if not isinstance(graph, Graph):
            raise TypeError(f"graph must be a deepgnn.Graph, got {type(graph).__name__}")
        probe_x = torch.zeros(graph.num_nodes, getattr(model, "in_dim", 1), device=graph.device)
        model, graph, _ = _check_operands(model, graph, probe_x, y, mask)
    else:
        model, graph, x = _check_operands(model, graph, x, y, mask)
    if method == "cmaes":
        try:
            import cmaes  # noqa: F401
        except ImportError as err:
            raise ImportError("method='cmaes' needs the cmaes package: pip install cmaes") from err

    problem = _Problem(
        model,
        graph,
        x,
        y,
        mask,
        layers=layers,
        search_gates=search_gates,
        form=form,
        weights=weights,
        seed=seed,
        bounds=bounds,
    )
    was_training = model.training
    model.eval()
    study = None
    start = time.perf_counter()
    try:
        if method in ("tpe", "cmaes"):
            with _quiet_optuna():
                study = _run_optuna(
                    problem,
                    method,
                    n_trials=n,
                    timeout=timeout,
                    seed=seed,
                    storage=storage,
                    study_name=study_name,
                    sigma0=sigma0,
                    progress=progress,
                )
        elif method == "gauss_newton":
            _run_gauss_newton(
                problem, n_trials=n, timeout=timeout, patience=patience, progress=progress
            )
        elif method == "gradient":
            _run_gradient(
                problem, n_trials=n, timeout=timeout, lr=step, patience=patience, progress=progress
            )
        else:
            _run_zeroth_order(
                problem,
                method,
                n_trials=n,
                timeout=timeout,
                lr=step,
                decay=decay,
                patience=patience,
                probes=probes,
                delta=delta,
                seed=seed,
                progress=progress,
            )
    finally:
        problem.restore_()
        model.train(was_training)

    if study is not None:
        trace, best_s, best_value, best_terms = _from_study(study, problem)
    else:
        trace = problem.trace()
        best_s, best_value, best_terms = problem.best_s, problem.best_value, problem.best_terms
    if not math.isfinite(best_value):
        logger.warning("spoginit %s: no finite objective; returning the weights as given", method)
        best_value, best_terms = float("nan"), {}
    scales, gates = problem.scales(best_s)
    result = SearchResult(
        method=method,
        scales=scales,
        gates=gates,
        objective=best_value,
        terms=best_terms,
        trace=trace,
        evaluations=len(trace),
        seconds=time.perf_counter() - start,
        study=study,
        log_scales=[float(v) for v in best_s],
    )
    logger.info(
        "spoginit %s: best objective %.4g after %d evaluations (%.1f s)",
        method,
        best_value,
        result.evaluations,
        result.seconds,
    )
    return result


def _from_study(study: Any, problem: _Problem) -> tuple[pd.DataFrame, Tensor, float, dict]:
    import optuna

    rows = []
    for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        if "seconds" not in t.user_attrs:
            continue  # a trial cut short (killed run) never evaluated the model
        rows.append(
            {
                "evaluation": t.number,
                "objective": t.user_attrs.get("evaluation_value", float("nan")),
                **{k: t.user_attrs[k] for k in ("fsp_term", "bsp_term", "gev_term")},
                "seconds": t.user_attrs["seconds"],
                "candidate": True,
            }
        )
    trace = problem.trace(rows)
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not complete:
        return trace, torch.zeros(problem.dim, dtype=torch.float64), math.inf, {}
    best = study.best_trial
    s = torch.tensor([best.params[n] for n in problem.names], dtype=torch.float64)
    terms = {k: best.user_attrs[k] for k in ("fsp_term", "bsp_term", "gev_term")}
    return trace, s, float(best.value), terms
