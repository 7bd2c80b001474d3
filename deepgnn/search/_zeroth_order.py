"""``method="zeroth_order"`` / ``"zeroth_order_single"``: the authors' sign descent, the baseline.

Their ``zeroincrease_initialization`` and ``zerosingle_initialization`` (``spoginit.py`` of
GitHub YChen-zzz/Code-for-SPoGInit), with the settings they publish.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from deepgnn._checks import check_choice
from deepgnn.search._problem import Problem, bar, check_patience, positive

_PROBES = ("last", "mean")


@dataclass(frozen=True)
class _SignDescent:
    """The settings both zeroth-order methods take, and their loop."""

    name: ClassVar[str]
    single: ClassVar[bool]
    lr: float = 0.05
    decay: float = 0.7
    probes: str = "last"
    delta: float = 1e-5

    def __post_init__(self) -> None:
        object.__setattr__(self, "lr", positive("lr", self.lr))
        object.__setattr__(self, "decay", positive("decay", self.decay))
        check_choice("probes", self.probes, _PROBES)
        object.__setattr__(self, "delta", positive("delta", self.delta))

    def _patience(self) -> int | None:
        return None

    def run(
        self, problem: Problem, *, n_trials: int, timeout: float | None, progress: bool
    ) -> None:
        # The authors' procedure works on linear scales c (W = c W0), starting at 1; we clamp
        # c to the same bounds as the other methods (their code has none).
        single, patience, lr = self.single, self._patience(), self.lr
        n_dirs = 2 if single else 3
        per_step = 1 + n_dirs
        gen = torch.Generator().manual_seed(problem.seed)
        c = torch.ones(problem.dim, dtype=torch.float64)
        lo, hi = math.exp(problem.lo), math.exp(problem.hi)
        best = math.inf
        stale = 0
        progress_bar = bar(n_trials, self.name, progress)
        try:
            step = 0
            while problem.count + per_step <= n_trials and not problem.out_of_time(timeout):
                old, _ = problem.evaluate(c.log(), step)
                progress_bar.update(1)
                if old < best:
                    best, stale = old, 0
                else:
                    stale += 1  # NaN counts as no improvement, as `old_metric < best_metric`
                if patience is not None and stale >= patience:
                    break
                grad = torch.zeros(problem.dim, dtype=torch.float64)
                for _ in range(n_dirs):
                    if single:
                        z = torch.randn(1, generator=gen, dtype=torch.float64).expand(problem.dim)
                    else:
                        z = torch.randn(problem.dim, generator=gen, dtype=torch.float64)
                    probe = (c + self.delta * z).clamp_min(1e-12)
                    new, _ = problem.evaluate(probe.log(), step, candidate=False)
                    progress_bar.update(1)
                    # Authors' code re-zeroes init_grad inside the probe loop, so only the last
                    # direction's estimate reaches the step ("last"); "mean" sums them. Their
                    # division by 3 does not change the sign, the only thing the step uses.
                    est = (new - old) / (self.delta * z)
                    grad = grad + est if self.probes == "mean" else est
                c = (c - lr * torch.sign(grad)).clamp(lo, hi)
                # As published: zeroincrease decays when i % 20 == 0 (also after step 0),
                # zerosingle when (i + 1) % 20 == 0.
                if (step + 1 if single else step) % 20 == 0:
                    lr *= self.decay
                step += 1
                if math.isfinite(problem.best_value):
                    progress_bar.set_postfix(best=f"{problem.best_value:.4g}")
        finally:
            progress_bar.close()


@dataclass(frozen=True)
class ZerothOrder(_SignDescent):
    """Settings of ``method="zeroth_order"`` (``zeroincrease_initialization``).

    Attributes:
        lr: the sign step on the linear scales (the authors' 0.05).
        decay: lr factor every 20 steps (the authors' 0.7).
        probes: ``"last"``: only the last of the 3 directions' estimates reaches the step,
            as published; ``"mean"`` sums the three.
        delta: the finite-difference step (the authors' 1e-5).
        patience: stop after this many steps without improvement (the authors' 10);
            ``None`` never stops early.
    """

    name: ClassVar[str] = "zeroth_order"
    single: ClassVar[bool] = False
    budget: ClassVar[int] = 400  # n_trials=None: the authors' 100 steps of 4 evaluations
    patience: int | None = 10

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "patience", check_patience(self.patience))

    def _patience(self) -> int | None:
        return self.patience


@dataclass(frozen=True)
class ZerothOrderSingle(_SignDescent):
    """Settings of ``method="zeroth_order_single"`` (``zerosingle_initialization``).

    One direction shared by all layers, 2 probes a step, no patience (the authors' code has
    none). Attributes ``lr``, ``decay``, ``probes``, ``delta`` as for :class:`ZerothOrder`.
    """

    name: ClassVar[str] = "zeroth_order_single"
    single: ClassVar[bool] = True
    budget: ClassVar[int] = 300  # n_trials=None: the authors' 100 steps of 3 evaluations
