r"""``method="gradient"``: Adam on :math:`\log J` in the log-scales, by a double backward."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from deepgnn.search._problem import Problem, bar, check_patience, positive, show_best


@dataclass(frozen=True)
class Gradient:
    """Settings of ``method="gradient"``.

    Attributes:
        lr: Adam's step size in log-scale units.
        patience: stop after this many evaluations without a new best; ``None`` (the
            default) runs the whole budget.
    """

    budget: ClassVar[int] = 200  # n_trials=None
    lr: float = 0.1
    # The whole budget by default: the BSP ratio of two layers makes J jumpy in s, and long
    # stretches without a new best precede further descent (Cora, depth 64).
    patience: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "lr", positive("lr", self.lr))
        object.__setattr__(self, "patience", check_patience(self.patience))

    def run(
        self, problem: Problem, *, n_trials: int, timeout: float | None, progress: bool
    ) -> None:
        s = torch.zeros(problem.dim, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.Adam([s], lr=self.lr)
        progress_bar = bar(n_trials, "gradient", progress)
        stale = 0
        try:
            for step in range(n_trials):
                if problem.out_of_time(timeout):
                    break
                before = problem.best_value
                value, g = problem.evaluate(s, step, grad=True)
                show_best(progress_bar, problem)
                if not (math.isfinite(value) and g is not None and bool(torch.isfinite(g).all())):
                    # Back to the best point with half the step: the log-scales left the
                    # region where the float32 forward pass is finite.
                    with torch.no_grad():
                        s.copy_(problem.best_s)
                    for group in opt.param_groups:
                        group["lr"] *= 0.5
                    opt.state.clear()
                    stale += 1
                else:
                    stale = 0 if problem.best_value < before else stale + 1
                    # Adam on log J: the same minimizers, gradients of comparable size whether
                    # J is 1e20 or 0.1.
                    s.grad = g / value if value > 0 else g
                    opt.step()
                    with torch.no_grad():
                        s.copy_(problem.clamp(s))
                if self.patience is not None and stale >= self.patience:
                    break
        finally:
            progress_bar.close()
