"""Per-cell tuning: every initialization gets its own learning rate before the comparison.

A sweep with a ``[tune]`` table first tunes each group of cells that differ only in their seed
(one dataset x family x depth x init x other settings): an Optuna study with a seeded TPE
sampler searches the settings the table names (``lr`` and ``weight_decay`` log-uniform,
``dropout`` uniform, each between the table's bounds) on the validation metric, with a median
pruner on the learning curves, for ``n_trials`` trials. Every cell of the group then trains
with the best setting, which its row records (``tuned_lr``, ...). A comparison of
initializations at one shared learning rate measures which one suits that rate; this one
measures each at its best.

The tuning of a group is a unit of the sweep's ledger, claimed like a cell (one worker at a
time, heartbeats, retries), and its trials live in a study of their own in the sweep's storage
(``<sweep>.tune.<unit>``). A worker that takes over a unit whose previous owner died fails
that owner's unfinished trial and goes on, so a killed sweep resumes with every trial and
every cell recorded once.

Example TOML::

    [tune]
    n_trials = 20
    lr = [1e-5, 1e-1]
    dropout = [0.0, 0.7]
    weight_decay = [1e-6, 1e-2]
    epochs = 300          # epochs of a tuning trial (default: the cell's)
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from deepgnn._checks import check_choice, check_int, check_pair

__all__ = ["PRUNERS", "TuneSpace", "TuneUnit", "group_units", "run_unit", "run_units", "unit_key"]

log = logging.getLogger(__name__)

#: The ``[tune] pruner`` choices: Optuna's median pruner, or none.
PRUNERS = ("median", "none")
_RANGES = {"lr": "log", "weight_decay": "log", "dropout": "uniform"}
_KEYS = ("n_trials", "epochs", "seed", "pruner", *_RANGES)


@dataclass(frozen=True)
class TuneSpace:
    """A validated ``[tune]`` table.

    Attributes:
        ranges: ``{setting: (low, high)}`` for the tuned settings among ``lr``,
            ``weight_decay`` (log-uniform) and ``dropout`` (uniform).
        n_trials: trials per group (pruned trials count).
        epochs: epochs of a tuning trial (``None``: the cell's own).
        seed: seeds the TPE sampler.
        pruner: ``"median"`` (Optuna's ``MedianPruner`` on the validation curve) or ``"none"``.
    """

    ranges: dict[str, tuple[float, float]]
    n_trials: int = 20
    epochs: int | None = None
    seed: int = 0
    pruner: str = "median"

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> TuneSpace:
        """Validate a ``[tune]`` table; errors name the key and the fix."""
        for key in table:
            if key not in _KEYS:
                raise ValueError(f"[tune] has unknown key {key!r}; valid keys are {sorted(_KEYS)}")
        ranges = {}
        for key, kind in _RANGES.items():
            if key not in table:
                continue
            value = table[key]
            try:
                low, high = check_pair(f"[tune] {key}", value, example="[1e-4, 1e-1]")
            except TypeError as err:
                raise ValueError(str(err)) from None
            if not (low < high and math.isfinite(high)) or (kind == "log" and low <= 0):
                need = "0 < low < high" if kind == "log" else "low < high"
                raise ValueError(f"[tune] {key}={value!r} needs {need}")
            if key == "dropout" and not (0 <= low and high < 1):
                raise ValueError(f"[tune] dropout={value!r} must lie in [0, 1)")
            ranges[key] = (low, high)
        if not ranges:
            raise ValueError(
                "[tune] names no setting to tune; give bounds for lr, weight_decay and/or "
                "dropout, e.g. lr = [1e-5, 1e-1]"
            )
        epochs = table.get("epochs")
        pruner = table.get("pruner", "median")
        check_choice("[tune] pruner", pruner, PRUNERS)
        return cls(
            ranges=ranges,
            n_trials=check_int("[tune] n_trials", table.get("n_trials", 20), minimum=1),
            epochs=None if epochs is None else check_int("[tune] epochs", epochs, minimum=1),
            seed=check_int("[tune] seed", table.get("seed", 0), minimum=0),
            pruner=pruner,
        )

    def suggest(self, trial: Any) -> dict[str, float]:
        """One trial's settings."""
        return {
            k: trial.suggest_float(k, lo, hi, log=_RANGES[k] == "log")
            for k, (lo, hi) in self.ranges.items()
        }


@dataclass
class TuneUnit:
    """The tuning of one group of cells (the sweep's cells that differ only in their seed).

    Attributes:
        key: ``tune-<dataset>-<family>-d<depth>-<init>-<hash>``; the hash covers the group's
            settings and the tuning space.
        cells: the group's cells; trials train the first one's experiment (its seed and split).
    """

    key: str
    cells: list[Any] = field(default_factory=list)

    def columns(self) -> dict[str, Any]:
        """The group's settings as row columns (its first cell's, without the seed)."""
        cols = dict(self.cells[0].columns())
        cols.pop("seed", None)
        cols["cell"] = self.key
        return cols


def unit_key(cell: Any, space: TuneSpace) -> str:
    """The key of the tuning unit of ``cell``'s group (its settings but the seed, and the space)."""
    cols = cell.key_columns()
    cols.pop("cell", None)
    cols.pop("seed", None)
    settings = json.dumps({"cell": cols, "tune": space.__dict__}, sort_keys=True, default=str)
    digest = hashlib.sha1(settings.encode()).hexdigest()[:8]
    return re.sub(
        r"[^A-Za-z0-9_.=@-]",
        "_",
        f"tune-{cell.dataset}-{cell.family}-d{cell.depth}-{cell.init}-{digest}",
    )


def group_units(cells: Sequence[Any]) -> list[TuneUnit]:
    """One :class:`TuneUnit` per ``tune_key`` among ``cells``, in order of first appearance."""
    units: dict[str, TuneUnit] = {}
    for cell in cells:
        if cell.tune_key is not None:
            units.setdefault(cell.tune_key, TuneUnit(cell.tune_key)).cells.append(cell)
    return list(units.values())


class _Tuning:
    """One unit's tuning in progress: its study, the cell its trials train, its failures.

    A trial left ``RUNNING`` in the study belongs to a worker that died (whoever makes this
    holds the unit's claim): it is failed and not counted.
    """

    def __init__(self, unit: TuneUnit, space: TuneSpace, study: Any) -> None:
        from optuna.trial import TrialState

        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            log.warning("%s: trial %d of a worker that died is failed", unit.key, t.number)
            study.tell(t.number, state=TrialState.FAIL, skip_if_finished=True)
        self.unit, self.space, self.study = unit, space, study
        self.base = unit.cells[0].spec()
        self.train = dict(self.base.train)
        if space.epochs is not None:
            self.train["epochs"] = space.epochs
        epochs = int(self.train.get("epochs") or 0)
        self.every = max(1, epochs // 50) if epochs else 5  # a point of the curve every ~2%
        self.failures = 0

    def counted(self) -> int:
        """Trials that count towards ``n_trials``: complete or pruned."""
        from optuna.trial import TrialState

        states = (TrialState.COMPLETE, TrialState.PRUNED)
        return len(self.study.get_trials(deepcopy=False, states=states))

    def done(self) -> bool:
        return self.counted() >= self.space.n_trials

    def ask(self) -> tuple[Any, Any, Any]:
        """The next trial, its cell (the unit's with the trial's settings) and the callback
        that reports its validation curve to the pruner (raising ``optuna.TrialPruned``)."""
        import optuna

        trial = self.study.ask()
        spec = replace(self.base, train={**self.train, **self.space.suggest(trial)})
        every = self.every

        def report(row: dict[str, float]) -> None:
            epoch = int(row["epoch"])
            if epoch % every == 0 and math.isfinite(row["val"]):
                trial.report(row["val"], epoch)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"pruned at epoch {epoch}")

        return trial, spec, report

    def tell(self, trial: Any, outcome: Any) -> None:
        """Record a trial's outcome (a cell result, or the exception its run raised); raise
        ``RuntimeError`` at the third failed trial."""
        import optuna
        from optuna.trial import TrialState

        if isinstance(outcome, optuna.TrialPruned):
            self.study.tell(trial, state=TrialState.PRUNED)
            return
        if isinstance(outcome, Exception):
            self.failures += 1
            log.warning("%s: trial %d failed: %s", self.unit.key, trial.number, outcome)
            self.study.tell(trial, state=TrialState.FAIL)
            if self.failures >= 3:
                raise RuntimeError(
                    f"{self.unit.key}: {self.failures} tuning trials failed; the last: {outcome}"
                ) from outcome
            return
        result = outcome.result
        value = result.val if math.isfinite(result.val) else float("-inf")
        trial.set_user_attr("untrained", bool(result.untrained))
        self.study.tell(trial, value)

    def row(self) -> dict[str, Any]:
        """The unit's row: the best trial's settings, its validation metric and the counts."""
        from optuna.trial import TrialState

        study = self.study
        complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if not complete:
            raise RuntimeError(f"{self.unit.key}: no tuning trial completed (all pruned or failed)")
        best = max(complete, key=lambda t: t.value)
        row: dict[str, Any] = {f"tuned_{k}": v for k, v in best.params.items()}
        row.update(
            tune_best_val=best.value,
            tune_trials=self.counted(),
            tune_pruned=len(study.get_trials(deepcopy=False, states=(TrialState.PRUNED,))),
            status="ok",
        )
        return row


def run_unit(
    unit: TuneUnit,
    space: TuneSpace,
    study: Any,
    *,
    device: Any,
    run_cell: Any,
) -> dict[str, Any]:
    """Run the unit's remaining trials in ``study``; return the unit's row (the best setting).

    ``study`` is the unit's own Optuna study; whoever calls this holds the unit's claim, so a
    trial left ``RUNNING`` there belongs to a worker that died: it is failed and not counted.
    A SPoGInit unit searches once for all its trials (:func:`deepgnn.experiment.reuse_searches`).
    """
    from deepgnn.experiment import reuse_searches

    tuning = _Tuning(unit, space, study)
    with reuse_searches():  # every trial starts from one SPoGInit search, not one each
        while not tuning.done():
            trial, spec, report = tuning.ask()
            try:
                outcome = run_cell(spec, device=device, on_epoch=report)
            except Exception as err:
                outcome = err
            tuning.tell(trial, outcome)
    return tuning.row()


def run_units(
    units: Sequence[TuneUnit],
    space: TuneSpace,
    studies: Sequence[Any],
    *,
    device: Any,
    run_cells: Any,
) -> list[dict[str, Any] | Exception]:
    """Tune several units together: their ``i``-th trials train as one batch; one outcome each.

    Units whose cells share a :func:`deepgnn.experiment.batch_key` (the initializations of one
    dataset, family and depth) run in rounds: each unit still waiting for trials asks its
    study for the next one (``studies[j]`` is unit ``j``'s), and ``run_cells`` (see
    :func:`deepgnn.experiment.run_cells`) trains the round's trials together, each with its own
    learning rate, weight decay and dropout. Each unit's study sees its trials in the order it
    would alone (its TPE sampler and pruner see only its own finished trials), so a unit finds
    what :func:`run_unit` finds; a trial its pruner stops leaves the batch, and the others
    train on. A unit that fails (three failed trials, or no completed one) gets its exception
    as its outcome, and the others go on. A SPoGInit unit searches once, in its first round.

    Returns:
        Per unit, in order, its row (as from :func:`run_unit`) or the exception that ended it.
    """
    from deepgnn.experiment import reuse_searches

    runs = [_Tuning(unit, space, study) for unit, study in zip(units, studies)]
    outcomes: list[dict[str, Any] | Exception | None] = [None] * len(runs)
    with reuse_searches():
        while True:
            active = [j for j, run in enumerate(runs) if outcomes[j] is None and not run.done()]
            if not active:
                break
            asked = {j: runs[j].ask() for j in active}
            results = run_cells(
                [asked[j][1] for j in active],
                device=device,
                on_epoch=[asked[j][2] for j in active],
            )
            for j, result in zip(active, results):
                try:
                    runs[j].tell(asked[j][0], result)
                except Exception as err:
                    outcomes[j] = err
    for j, run in enumerate(runs):
        if outcomes[j] is None:
            try:
                outcomes[j] = run.row()
            except Exception as err:
                outcomes[j] = err
    return [o for o in outcomes if o is not None]
