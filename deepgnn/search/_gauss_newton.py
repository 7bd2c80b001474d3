"""``method="gauss_newton"``: trust-region Gauss-Newton on the objective's three residuals."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from deepgnn.search._problem import Problem, bar, check_patience, show_best


def gauss_newton_step(jac: Tensor, r: Tensor, root_w: Tensor) -> Tensor:
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


@dataclass(frozen=True)
class GaussNewton:
    """Settings of ``method="gauss_newton"``.

    Attributes:
        patience: stop after this many evaluations without a relative improvement of 1e-4
            of the best objective; ``None`` never stops early.
    """

    budget: ClassVar[int] = 100  # n_trials=None; it stops on its patience long before on Cora
    patience: int | None = 10

    def __post_init__(self) -> None:
        object.__setattr__(self, "patience", check_patience(self.patience))

    def run(
        self, problem: Problem, *, n_trials: int, timeout: float | None, progress: bool
    ) -> None:
        # Trust-region Gauss-Newton on the three residuals r(s) (two log-ratios and the GEV
        # gap). The Jacobian dr/ds costs 3 backward passes (2.1-3.2 plain evaluations on Cora,
        # CPU), so it is measured only at the start and after two rejected trials in a row;
        # between those, each trial is a plain evaluation and updates the Jacobian by
        # Broyden's rank-one secant rule. Measured on Cora (results/search_cora.md): after one
        # Jacobian, three plain trials bring a tanh GCN-256 (seed 1) from J = 149 to 0.109.
        w = torch.tensor(problem.weights, dtype=torch.float64)
        root_w = w.sqrt()
        progress_bar = bar(n_trials, "gauss_newton", progress)
        s = torch.zeros(problem.dim, dtype=torch.float64)
        radius, fails, stale, best = math.inf, 2, 0, math.inf
        value, r, jac = math.nan, torch.zeros(3, dtype=torch.float64), None
        draw = 0  # random data: one draw per Jacobian, shared by the trials that use it
        try:
            while problem.count < n_trials and not problem.out_of_time(timeout):
                if fails >= 2:
                    # Start, or the secant Jacobian no longer predicts: measure it at s.
                    draw = problem.count
                    value, r, jac = problem.residuals(s, draw, jacobian=True)
                    fails = 0
                    if not (math.isfinite(value) and torch.isfinite(jac).all()):
                        break  # nowhere to step from (e.g. ReZero at alpha = 0: J is NaN)
                else:
                    assert jac is not None
                    d = gauss_newton_step(jac, r, root_w)
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
                show_best(progress_bar, problem)
                # Stalled: no relative improvement of 1e-4 for `patience` evaluations.
                if problem.best_value < best * (1 - 1e-4):
                    best, stale = problem.best_value, 0
                else:
                    stale += 1
                if self.patience is not None and stale >= self.patience:
                    break
        finally:
            progress_bar.close()
