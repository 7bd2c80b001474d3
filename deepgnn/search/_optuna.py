"""``method="tpe"`` / ``"cmaes"``: an Optuna study over the bounded log-scales, resumable."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, ClassVar

import pandas as pd
import torch
from torch import Tensor

from deepgnn._io import optuna_storage, quiet_optuna
from deepgnn.search._problem import Problem, bar, positive, show_best


@dataclass(frozen=True)
class _Study:
    """The settings both Optuna methods take, and the study they run."""

    name: ClassVar[str]
    budget: ClassVar[int] = 200  # n_trials=None: trials in the study
    storage: object = None
    study_name: str = "spoginit"

    def __post_init__(self) -> None:
        if not isinstance(self.study_name, str) or not self.study_name:
            raise ValueError(f"study_name must be a non-empty string, got {self.study_name!r}")

    def sampler(self, names: list[str], seed: int) -> Any:
        raise NotImplementedError

    def run(self, problem: Problem, *, n_trials: int, timeout: float | None, progress: bool) -> Any:
        """Run the study until it holds ``n_trials`` finished trials; return it."""
        import optuna

        with quiet_optuna():
            study = optuna.create_study(
                storage=optuna_storage(self.storage),
                study_name=self.study_name,
                sampler=self.sampler(problem.names, problem.seed),
                direction="minimize",
                load_if_exists=True,
            )
            _optimize(
                study, problem, self.name, n_trials=n_trials, timeout=timeout, progress=progress
            )
        return study


@dataclass(frozen=True)
class TPE(_Study):
    """Settings of ``method="tpe"`` (a seeded ``TPESampler``).

    Attributes:
        storage: an Optuna storage URL (``"sqlite:///spog.db"``), a journal file path
            (``"spog.log"``, an Optuna ``JournalFileBackend``), or a storage object; ``None``
            keeps the study in memory. The same call with the same ``storage`` and
            ``study_name`` resumes the study.
        study_name: the study's name in ``storage``.
    """

    name: ClassVar[str] = "tpe"

    def sampler(self, names: list[str], seed: int) -> Any:
        import optuna

        return optuna.samplers.TPESampler(seed=seed)


@dataclass(frozen=True)
class CmaEs(_Study):
    """Settings of ``method="cmaes"`` (a seeded ``CmaEsSampler`` started at the weights as given).

    Attributes:
        sigma0: the initial step, in log-scale units.
        storage: as for :class:`TPE`.
        study_name: as for :class:`TPE`.
    """

    name: ClassVar[str] = "cmaes"
    sigma0: float = 0.25

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "sigma0", positive("sigma0", self.sigma0))
        try:
            import cmaes  # noqa: F401
        except ImportError as err:
            raise ImportError("method='cmaes' needs the cmaes package: pip install cmaes") from err

    def sampler(self, names: list[str], seed: int) -> Any:
        import optuna

        # x0/sigma0 are deprecated since Optuna 4.9 (removal planned for 6.0); without them
        # CMA-ES starts at the centre of the box, not at the weights as given.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning, message=".*(x0|sigma0).*")
            return optuna.samplers.CmaEsSampler(
                x0=dict.fromkeys(names, 0.0), sigma0=self.sigma0, seed=seed
            )


def _optimize(
    study: Any,
    problem: Problem,
    method: str,
    *,
    n_trials: int,
    timeout: float | None,
    progress: bool,
) -> None:
    import optuna

    names = problem.names
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
        return

    progress_bar = bar(remaining, method, progress)

    def run_trial(trial: optuna.Trial) -> float:
        s = torch.tensor(
            [trial.suggest_float(n, problem.lo, problem.hi) for n in names], dtype=torch.float64
        )
        value, _ = problem.evaluate(s, trial.number)
        row = problem.rows[-1]
        for key in ("fsp_term", "bsp_term", "gev_term", "seconds"):
            trial.set_user_attr(key, row[key])
        trial.set_user_attr("evaluation_value", value)
        show_best(progress_bar, problem)
        if not math.isfinite(value):
            raise optuna.TrialPruned(f"objective is {value}")
        return value

    try:
        study.optimize(run_trial, n_trials=remaining, timeout=timeout, gc_after_trial=False)
    finally:
        progress_bar.close()


def from_study(study: Any, problem: Problem) -> tuple[pd.DataFrame, Tensor, float, dict]:
    """Trace, best log-scales, best objective and its terms of every trial in ``study``."""
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
