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

__all__ = ["PRUNERS", "TuneSpace", "TuneUnit", "group_units", "run_unit", "unit_key"]

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
    """
    import optuna
    from optuna.trial import TrialState

    from deepgnn.experiment import reuse_searches

    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        log.warning("%s: trial %d of a worker that died is failed", unit.key, t.number)
        study.tell(t.number, state=TrialState.FAIL, skip_if_finished=True)
    base = unit.cells[0].spec()
    train = dict(base.train)
    if space.epochs is not None:
        train["epochs"] = space.epochs
    epochs = int(train.get("epochs") or 0)
    every = max(1, epochs // 50) if epochs else 5  # report a point of the curve every ~2%
    counted = (TrialState.COMPLETE, TrialState.PRUNED)
    with reuse_searches():  # every trial starts from one SPoGInit search, not one each
        failures = 0
        while len(study.get_trials(deepcopy=False, states=counted)) < space.n_trials:
            trial = study.ask()
            settings = space.suggest(trial)

            def report(row: dict[str, float], trial: Any = trial) -> None:
                epoch = int(row["epoch"])
                if epoch % every == 0 and math.isfinite(row["val"]):
                    trial.report(row["val"], epoch)
                    if trial.should_prune():
                        raise optuna.TrialPruned(f"pruned at epoch {epoch}")

            spec = replace(base, train={**train, **settings})
            try:
                result = run_cell(spec, device=device, on_epoch=report).result
            except optuna.TrialPruned:
                study.tell(trial, state=TrialState.PRUNED)
                continue
            except Exception as err:
                failures += 1
                log.warning("%s: trial %d failed: %s", unit.key, trial.number, err)
                study.tell(trial, state=TrialState.FAIL)
                if failures >= 3:
                    raise RuntimeError(
                        f"{unit.key}: {failures} tuning trials failed; the last: {err}"
                    ) from err
                continue
            value = result.val if math.isfinite(result.val) else float("-inf")
            trial.set_user_attr("untrained", bool(result.untrained))
            study.tell(trial, value)
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        raise RuntimeError(f"{unit.key}: no tuning trial completed (all pruned or failed)")
    best = max(complete, key=lambda t: t.value)
    row: dict[str, Any] = {f"tuned_{k}": v for k, v in best.params.items()}
    row.update(
        tune_best_val=best.value,
        tune_trials=len(study.get_trials(deepcopy=False, states=counted)),
        tune_pruned=len(study.get_trials(deepcopy=False, states=(TrialState.PRUNED,))),
        status="ok",
    )
    return row
