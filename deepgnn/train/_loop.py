"""What both trainers share: settings from a protocol, the epoch loop's bookkeeping, the result."""

from __future__ import annotations

import dataclasses
import logging
import math
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import torch
from torch import Tensor

from deepgnn._checks import check_choice, check_device, check_int
from deepgnn._progress import progress_bar
from deepgnn.models import GNN
from deepgnn.train._precision import check_precision
from deepgnn.train.protocols import Protocol, available, get

__all__ = [
    "PROTOCOL",
    "SCHEDULES",
    "WEIGHT_DECAY_KINDS",
    "UNTRAINED_FRACTION",
    "FIT_FRACTION",
    "BUDGET_FRACTION",
    "BestWeights",
    "InitSpec",
    "Loop",
    "Settings",
    "TrainResult",
    "apply_init",
    "check_init",
    "check_options",
    "is_untrained",
    "is_fitted",
    "verdicts",
    "is_budget_limited",
    "majority_share",
    "epoch_bar",
    "resolve",
    "scheduler_for",
]

log = logging.getLogger("deepgnn.train")

#: The learning-rate ``schedule=`` choices of the trainers.
SCHEDULES = ("constant", "cosine", "plateau")
#: ``patience="protocol"`` (the default): the protocol's patience.
PROTOCOL = "protocol"
#: A run is *untrained* when its best training metric stays less than this fraction of the way
#: from chance to a perfect fit (see :func:`is_untrained`).
UNTRAINED_FRACTION = 0.2
#: A run *fitted* its training set when its best training metric got at least this fraction of
#: the way from chance to a perfect fit (see :func:`is_fitted`).
FIT_FRACTION = 0.8
#: A run is *budget-limited* when its best validation epoch falls in this last fraction of its
#: epoch budget (see :func:`is_budget_limited`).
BUDGET_FRACTION = 0.1
_FLOAT32_MAX = float(torch.finfo(torch.float32).max)
InitSpec = str | Callable[[GNN], Any] | None
#: The keys of a per-kind ``weight_decay`` mapping: the ``kind`` of a
#: :class:`~deepgnn.models.LayerWeight`.
WEIGHT_DECAY_KINDS = ("conv", "linear")
#: Where a resolved per-kind weight decay keeps the value of the parameters it does not name.
_REST = "rest"


def _untrained_advice(settings: Settings, epochs_run: int, best_epoch: int) -> str:
    """What to try after an untrained run, from what the run already did: a depth-aware
    protocol when it used another, else another initialization, tuning or more epochs.

    Example:
        >>> s = Settings("spoginit-paper", 1000, 5e-4, 0.0, None, (0.9, 0.9995), 0.0)
        >>> _untrained_advice(s, 1000, 990)  # doctest: +ELLIPSIS
        "It already used protocol 'spoginit-paper' (lr 0.0005, 1000 epochs): try ...
    """
    tries = []
    early = settings.patience is not None and epochs_run < settings.epochs
    stopped = f"patience=None (it stopped early at epoch {epochs_run} of {settings.epochs})"
    if not settings.protocol.startswith("spoginit-paper"):
        tries.append(
            f"a learning rate made for the depth (protocol='spoginit-paper', or tune lr; it "
            f"used {settings.protocol!r}, lr {settings.lr:g})"
        )
        return "Try " + ", or ".join(tries + [stopped] * early)
    if early:
        tries.append(stopped)
    if best_epoch >= 0.9 * settings.epochs:
        tries.append(f"more epochs (the best epoch, {best_epoch}, was near the end)")
    tries.append("another initialization (init='spoginit' or 'virgo')")
    tries.append("tuning lr (a [tune] table in a sweep)")
    return (
        f"It already used protocol {settings.protocol!r} (lr {settings.lr:g}, "
        f"{settings.epochs} epochs): try " + ", or ".join(tries)
    )


def is_untrained(best_train: float, chance: float) -> bool:
    r"""Whether a run's best training metric stayed near chance.

    .. math:: \text{untrained} \iff m_\text{train} < c + 0.2\,(1 - c)

    with :math:`m_\text{train}` the best training metric over the run and :math:`c` the
    chance level of the task (the share of the training split's most common class for
    accuracy, 0.5 for ROC-AUC). A model that never got a fifth of the way from chance to a
    perfect fit says nothing about its initialization. NaN (no finished epoch) is untrained.

    Example:
        >>> is_untrained(0.23, 1 / 7), is_untrained(0.95, 1 / 7), is_untrained(0.58, 0.5)
        (True, False, True)
    """
    if not math.isfinite(best_train):
        return True
    return best_train < chance + UNTRAINED_FRACTION * (1.0 - chance)


def is_fitted(best_train: float, chance: float) -> bool:
    r"""Whether a run fitted its training set: the bar a depth result must pass to count.

    .. math:: \text{fitted} \iff m_\text{train} \ge c + 0.8\,(1 - c)

    with :math:`m_\text{train}` the best training metric over the run and :math:`c` the
    task's chance level (see :func:`is_untrained`). The bar sits four fifths of the way from
    chance to a perfect fit: 0.829 training accuracy on Cora's public split (7 balanced
    classes), 0.833 on CiteSeer's, 0.9 training ROC-AUC. :func:`is_untrained`'s bar (a fifth of
    the way) only separates runs that never left chance; a run between the two learnt
    something without fitting, and its test metric mixes how well it generalizes with how far
    it got. Measured (deepgnn's studies under the SPoGInit authors' protocol, one H200): a
    Cora gated ResGCN-64 seed at training accuracy 0.43 (a third of the way) and test 0.27 is
    not fitted, while every seed of a 2-layer Kipf GCN on Cora reaches training accuracy 1.0,
    and the residual families reach 0.98-1.0 wherever they train at all. Some models do not
    fit a task at any depth: the tanh GCN reaches training ROC-AUC 0.72 on minesweeper even
    at depth 2 (0.44 of the way); no depth claim about it is made there. NaN (no finished
    epoch) is not fitted.

    Example:
        >>> is_fitted(0.43, 1 / 7), is_fitted(1.0, 1 / 7), is_fitted(0.72, 0.5)
        (False, True, False)
    """
    if not math.isfinite(best_train):
        return False
    return best_train >= chance + FIT_FRACTION * (1.0 - chance)


def is_budget_limited(best_epoch: int, epochs: int, budget: int | None = None) -> bool:
    r"""Whether a run was still improving when its epoch budget ran out.

    .. math:: \text{budget-limited} \iff e_\text{best} > (1 - 0.1)\, B
        \ \text{and the run used its whole budget } B

    with :math:`e_\text{best}` the epoch of best validation (1-based) and :math:`B` the epoch
    budget (``budget``; ``None``: ``epochs``, the epochs the run took, as for a run without
    early stopping). A run whose best validation came in the last tenth of its budget may
    have gone on improving: its result is a lower bound, "slow" and "stuck" cannot be told
    apart from its row alone (its curve can tell), and a claim must not rest on it. A run
    stopped early by its patience (``epochs < budget``) is not budget-limited.

    Example:
        >>> is_budget_limited(950, 1000), is_budget_limited(899, 1000), is_budget_limited(
        ...     95, 100, budget=200)
        (True, False, False)
    """
    budget = epochs if budget is None else budget
    if budget <= 0 or epochs < budget:
        return False
    return best_epoch > (1.0 - BUDGET_FRACTION) * budget


def verdicts(table: pd.DataFrame) -> pd.DataFrame:
    """Return ``table`` (one row per run, e.g. a sweep's ``results.csv``) with its verdicts recomputed.

    From the columns every run records, as :class:`TrainResult` computes them:
    ``untrained`` (:func:`is_untrained`) and ``fitted`` (:func:`is_fitted`) from
    ``best_train`` and ``chance``; ``budget_limited`` (:func:`is_budget_limited`) from
    ``best_epoch``, ``epochs`` and the budget ``max_epochs`` where the table has it (else the
    run is taken to have used its whole budget); and ``counts``: the run enters a claim, being
    fitted and not budget-limited. A failed run (``status == "failed"``) or one without the
    columns gets ``None`` (unknown) and does not count. Rows recorded before a verdict existed
    get it from the same columns, so old and new rows are judged alike.

    Example:
        >>> t = pd.DataFrame({"best_train": [1.0, 0.43, 1.0, 0.2], "chance": 1 / 7,
        ...                   "best_epoch": [120, 990, 950, 10], "epochs": 1000})
        >>> verdicts(t)[["untrained", "fitted", "budget_limited", "counts"]].values.tolist()
        [[False, True, False, True], [False, False, True, False], [False, True, True, False], [True, False, False, False]]
    """
    df = table.copy()

    def numeric(column: str) -> pd.Series:
        if column not in df:
            return pd.Series(math.nan, index=df.index, dtype=float)
        return pd.to_numeric(df[column], errors="coerce")

    best, chance = numeric("best_train"), numeric("chance")
    best_epoch, epochs = numeric("best_epoch"), numeric("epochs")
    budget = numeric("max_epochs").fillna(epochs)
    failed = df["status"].eq("failed") if "status" in df else pd.Series(False, index=df.index)
    known = chance.notna() & ~failed
    untrained = pd.Series(None, index=df.index, dtype=object)
    fitted = pd.Series(None, index=df.index, dtype=object)
    limited = pd.Series(None, index=df.index, dtype=object)
    for i in df.index[known]:
        untrained[i] = is_untrained(float(best[i]), float(chance[i]))
        fitted[i] = is_fitted(float(best[i]), float(chance[i]))
    timed = best_epoch.notna() & epochs.notna() & ~failed
    for i in df.index[timed]:
        limited[i] = is_budget_limited(int(best_epoch[i]), int(epochs[i]), int(budget[i]))
    df["untrained"], df["fitted"], df["budget_limited"] = untrained, fitted, limited
    df["counts"] = fitted.eq(True) & limited.eq(False)
    return df


@dataclass
class TrainResult:
    """What a training run produced.

    Attributes:
        metric: ``"accuracy"`` or ``"rocauc"``.
        test: test metric at the epoch of best validation (``nan`` if the run diverged first).
        val: best validation metric.
        train: training metric at that epoch.
        best_epoch: epoch of best validation (1-based; 0 = none).
        epochs: epochs run (early stopping may end before ``epochs``).
        diverged: the loss became NaN/inf; training stopped there.
        seconds: wall time of the training loop.
        best_train: the best training metric over the run.
        chance: the training metric a constant prediction scores (the share of the training
            split's most common class for accuracy, 0.5 for ROC-AUC).
        untrained: ``best_train`` stayed near ``chance`` (:func:`is_untrained`): the model
            never fit its training set, and its test metric says nothing about its
            initialization.
        fitted: ``best_train`` reached the bar of :func:`is_fitted` (four fifths of the way from
            chance to 1): the model fit its training set; only such runs enter a depth claim.
        budget_limited: the best validation epoch fell in the last tenth of the epoch budget
            (:func:`is_budget_limited`): the run may still have been improving.
        protocol: the name of the protocol the settings came from.
        restore_best: the model was given back the weights of its best-validation epoch
            after training (``restore_best=True``); else it holds those of its last epoch.
        log: one row per epoch: ``epoch, loss, train, val, test, lr, seconds``.
    """

    metric: str
    test: float
    val: float
    train: float
    best_epoch: int
    epochs: int
    diverged: bool
    seconds: float
    best_train: float = math.nan
    chance: float = math.nan
    untrained: bool = False
    fitted: bool = False
    budget_limited: bool = False
    protocol: str = "kipf"
    restore_best: bool = False
    log: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    def as_row(self) -> dict[str, Any]:
        """The scalar fields as a dict (one row of a results table)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "log"}


@dataclass(frozen=True)
class Settings:
    """A run's resolved settings: the protocol's, with the caller's explicit values on top."""

    protocol: str
    epochs: int
    lr: float
    #: one value, or one per layer kind plus ``"rest"`` (:func:`param_groups`)
    weight_decay: float | dict[str, float]
    patience: int | None
    betas: tuple[float, float]
    dropout: float | None


def resolve(
    depth: int,
    family: str | None,
    protocol: str | Protocol | None,
    *,
    epochs: int | None,
    lr: float | None,
    weight_decay: float | Mapping[str, float] | None,
    patience: int | str | None,
    betas: tuple[float, float] | None,
    dropout: float | None,
    schedule: str,
) -> Settings:
    """The protocol for a model of ``depth`` graph layers and family ``family``, overridden by
    every setting the caller gave."""
    p = get("kipf" if protocol is None else protocol, depth, family=family)
    # The caller's values are checked at run time (check_options), whatever their static types.
    values: dict[str, Any] = {
        "epochs": p.epochs if epochs is None else epochs,
        "lr": p.lr if lr is None else lr,
        "weight_decay": p.weight_decay if weight_decay is None else weight_decay,
        "patience": p.patience if _is_protocol(patience) else patience,
        "betas": p.betas if betas is None else betas,
        "dropout": p.dropout if dropout is None else dropout,
    }
    check_options(schedule=schedule, **values)  # before tuple(betas), which may not iterate
    values["betas"] = tuple(values["betas"])
    wd = values["weight_decay"]
    if isinstance(wd, Mapping):
        # the kinds not named, and the parameters of no layer weight, keep the protocol's
        values["weight_decay"] = {
            **{k: float(p.weight_decay) for k in (*WEIGHT_DECAY_KINDS, _REST)},
            **{k: float(v) for k, v in wd.items()},
        }
    return Settings(protocol=p.name, **values)


def param_groups(model: GNN, weight_decay: float | dict[str, float]) -> list[dict[str, Any]]:
    """The model's parameters as optimizer groups, each with its weight decay.

    One group for one value; for a resolved per-kind mapping, one group per layer kind (each
    :class:`~deepgnn.models.LayerWeight`'s weight and bias) and one for the parameters of no
    layer weight (norms, gates, attention vectors), empty groups left out.
    """
    if not isinstance(weight_decay, dict):
        return [{"params": list(model.parameters()), "weight_decay": weight_decay}]
    owner: dict[int, str] = {}
    for lw in model.layer_weights():
        for param in (lw.param, lw.bias):
            if param is not None:
                owner.setdefault(id(param), lw.kind if lw.kind in WEIGHT_DECAY_KINDS else _REST)
    groups: dict[str, list[torch.nn.Parameter]] = {k: [] for k in (*WEIGHT_DECAY_KINDS, _REST)}
    for param in model.parameters():
        groups[owner.get(id(param), _REST)].append(param)
    return [
        {"params": params, "weight_decay": weight_decay[k]}
        for k, params in groups.items()
        if params
    ]


def adam(
    groups: list[dict[str, Any]], settings: Settings, device: torch.device, *, capturable: bool
) -> torch.optim.Adam:
    """Adam over ``groups`` at the settings' rate and betas; ``capturable`` for a step replayed
    as a CUDA graph, with the rate a device tensor so that schedules reach the captured update."""
    if capturable:
        lr = torch.tensor(float(settings.lr), device=device)
        return torch.optim.Adam(groups, lr=lr, capturable=True, betas=settings.betas)
    return torch.optim.Adam(groups, lr=settings.lr, betas=settings.betas)


def _is_protocol(value: object) -> bool:
    return isinstance(value, str) and value == PROTOCOL


def check_options(**settings: Any) -> None:
    """Raise the error :func:`~deepgnn.train.train_node` / ``train_graph`` would raise for these.

    Checks the values of the given keywords among ``epochs``, ``lr``, ``weight_decay``,
    ``patience``, ``schedule``, ``batch_size``, ``betas``, ``dropout``, ``drop_edge``,
    ``protocol``, ``precision`` (one of :data:`~deepgnn.train.PRECISIONS`; whether
    ``"tf32"`` runs on the device is checked by the trainer), ``restore_best`` (a bool), ``seed`` (an int >= 0), ``device`` (one this
    torch can use), ``init`` with ``init_options``, and ``on_epoch`` (a callable or
    ``None``); other keywords are not looked at.

    Example:
        >>> check_options(lr=0.01, epochs=10)
        >>> check_options(lr=-1)
        Traceback (most recent call last):
        ValueError: lr=-1; pass a positive finite learning rate (below float32's 3.4e38) such as lr=0.01
    """
    if settings.get("epochs") is not None:
        check_int("epochs", settings["epochs"], minimum=1)
    if settings.get("lr") is not None:
        lr = settings["lr"]
        # Adam casts both to the parameters' float32: 1e308 would overflow there
        if isinstance(lr, bool) or not (isinstance(lr, (int, float)) and 0 < lr < _FLOAT32_MAX):
            raise ValueError(
                f"lr={lr!r}; pass a positive finite learning rate (below float32's 3.4e38) "
                "such as lr=0.01"
            )
    if settings.get("weight_decay") is not None:
        _check_weight_decay(settings["weight_decay"])
    patience = settings.get("patience")
    if patience is not None and not _is_protocol(patience):
        check_int("patience", patience, minimum=1)
    if "schedule" in settings:
        check_choice("schedule", settings["schedule"], SCHEDULES)
    if settings.get("batch_size") is not None:
        check_int("batch_size", settings["batch_size"], minimum=1)
    betas = settings.get("betas")
    if betas is not None:
        if (
            not isinstance(betas, (tuple, list))
            or len(betas) != 2
            or not all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas)
        ):
            raise ValueError(f"betas={betas!r}; pass two numbers in [0, 1) such as (0.9, 0.999)")
    dropout = settings.get("dropout")
    if dropout is not None and not (
        isinstance(dropout, (int, float)) and not isinstance(dropout, bool) and 0 <= dropout < 1
    ):
        raise ValueError(f"dropout={dropout!r} is outside [0, 1); pass e.g. dropout=0.5")
    drop_edge = settings.get("drop_edge")
    if drop_edge is not None:
        if isinstance(drop_edge, bool) or not isinstance(drop_edge, (int, float)):
            raise TypeError(f"drop_edge must be a float in [0, 1), got {drop_edge!r}")
        if not 0.0 <= drop_edge < 1.0:
            raise ValueError(
                f"drop_edge={drop_edge!r}; pass a drop probability in [0, 1), e.g. 0.3"
            )
    if "precision" in settings:
        check_precision(settings["precision"])
    if settings.get("protocol") is not None and not isinstance(settings["protocol"], Protocol):
        check_choice("protocol", settings["protocol"], available())
    if "seed" in settings:
        check_int("seed", settings["seed"], minimum=0)
    if settings.get("device") is not None:
        check_device("device", settings["device"])
    if "init" in settings or "init_options" in settings:
        check_init(settings.get("init"), settings.get("init_options"))
    restore_best = settings.get("restore_best")
    if restore_best is not None and not isinstance(restore_best, bool):
        raise TypeError(
            f"restore_best must be True (give the model its best-validation epoch's weights) "
            f"or False (keep the last epoch's), got {restore_best!r}"
        )
    on_epoch = settings.get("on_epoch")
    if on_epoch is not None and not callable(on_epoch):
        raise TypeError(
            f"on_epoch must be a callable taking each epoch's log row, or None, got "
            f"{type(on_epoch).__name__} {on_epoch!r}"
        )


def _check_weight_decay(wd: object) -> None:
    if isinstance(wd, Mapping):
        example = "{'conv': 0.01, 'linear': 5e-4}"
        if not wd:
            raise ValueError(
                f"weight_decay={{}} names no layer kind; pass a mapping such as {example} or "
                "one number"
            )
        for kind, value in wd.items():
            if kind not in WEIGHT_DECAY_KINDS:
                raise ValueError(
                    f"weight_decay has the key {kind!r}, which is not a layer kind; its keys "
                    f"are among {list(WEIGHT_DECAY_KINDS)} (LayerWeight.kind), e.g. {example}"
                )
            if not _is_weight_decay(value):
                raise ValueError(
                    f"weight_decay[{kind!r}]={value!r}; pass a finite value >= 0 (below "
                    f"float32's 3.4e38) for each kind, e.g. {example}"
                )
        return
    if not _is_weight_decay(wd):
        raise ValueError(
            f"weight_decay={wd!r}; pass a finite value >= 0 (below float32's 3.4e38) such as "
            "5e-4, or one per layer kind such as {'conv': 0.01, 'linear': 5e-4}"
        )


def _is_weight_decay(value: object) -> bool:
    return (
        not isinstance(value, bool)
        and isinstance(value, (int, float))
        and 0 <= value < _FLOAT32_MAX
    )


def apply_init(
    model: GNN, init: InitSpec, options: Mapping[str, Any] | None, **context: Any
) -> None:
    check_init(init, options)
    if init is None:
        return
    if callable(init):
        init(model)
        return
    from deepgnn import init as inits

    inits.init_(model, init, **context, **dict(options or {}))


def check_init(init: object, options: object) -> None:
    """Raise naming ``init`` / ``init_options`` unless they are a scheme name and its options,
    a callable, or ``None`` (no options with the last two)."""
    if options is not None and not isinstance(init, str):
        raise ValueError(
            f"init_options={options!r} need init to be a scheme name such as 'kaiming', "
            f"got init={init!r}; drop init_options or name the scheme"
        )
    if init is None or callable(init):
        return
    if not isinstance(init, str):
        raise TypeError(f"init must be an init name, a callable or None, got {type(init).__name__}")
    from deepgnn import init as inits

    check_choice("init", init, inits.available())
    if options is None:
        return
    if not isinstance(options, Mapping):
        raise TypeError(
            f"init_options must be a dict of init {init!r}'s options such as "
            f"{{'generator': g}}, got {type(options).__name__} {options!r}"
        )
    accepted = inits.options(init)
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise ValueError(
            f"init_options has {unknown}, which init {init!r} does not take; its options are "
            f"{sorted(accepted)}"
        )


def scheduler_for(optimizer: torch.optim.Optimizer, schedule: str, epochs: int) -> Any:
    """The learning-rate scheduler of ``schedule`` (``None`` for ``"constant"``)."""
    if schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    if schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="max", factor=0.5, patience=20
        )
    return None


def epoch_bar(total: int, enabled: bool, desc: str) -> Any:
    """A progress bar over ``total`` epochs when ``enabled``, else ``None``."""
    if not enabled:
        return None
    return progress_bar(total=total, desc=desc, unit="epoch")


def majority_share(y: Tensor) -> float:
    """The share of the most common label in ``y`` (integer labels, ``-1`` = unlabelled)."""
    y = y[y >= 0]
    if y.numel() == 0:
        return math.nan
    return float(torch.bincount(y.detach().cpu()).max()) / y.numel()


class BestWeights:
    """A copy of ``module``'s state (parameters and buffers) at its best-validation epoch.

    :meth:`save` copies the state when validation improves, into tensors allocated once on
    the module's device (no host transfer on CUDA); :meth:`restore` loads it back in place.
    A run keeps one extra copy of its model, and pays one copy per improving epoch.
    """

    def __init__(self, module: torch.nn.Module) -> None:
        self.module = module
        self.state: dict[str, Tensor] | None = None

    def save(self) -> None:
        """Copy the module's state now."""
        with torch.no_grad():
            now = self.module.state_dict()
            if self.state is None:
                self.state = {k: v.detach().clone() for k, v in now.items()}
                return
            for k, v in now.items():
                self.state[k].copy_(v)

    def restore(self) -> bool:
        """Load the saved state into the module (in place); False when nothing was saved."""
        if self.state is None:
            return False
        with torch.no_grad():
            self.module.load_state_dict(self.state)
        return True


class Loop:
    """Per-epoch bookkeeping shared by both trainers: schedule, best validation, log, progress.

    Args:
        on_epoch: called with each epoch's log row; an exception it raises ends training and
            reaches the caller (a tuner's pruner raises ``optuna.TrialPruned`` there).
        restore_best: the run gives its model the best-validation epoch's weights after
            training; with ``module``, the loop keeps them (:class:`BestWeights`, saved in
            :meth:`end_epoch`) and :meth:`restore` loads them.
        module: the module whose weights ``restore_best`` keeps (``None``: the caller keeps
            them, reading :attr:`improved` after each epoch).
        lr_scale: the log's ``lr`` is the optimizer's first group's rate times this (batched
            training with a rate per member keeps only the schedule's factor in the group).
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        *,
        settings: Settings,
        schedule: str,
        progress: bool,
        desc: str,
        on_epoch: Callable[[dict[str, float]], Any] | None = None,
        restore_best: bool = False,
        module: torch.nn.Module | None = None,
        lr_scale: float = 1.0,
    ) -> None:
        self.optimizer = optimizer
        self.lr_scale = lr_scale
        self.restore_best = restore_best
        self.kept = BestWeights(module) if restore_best and module is not None else None
        #: whether the last epoch :meth:`end_epoch` recorded improved the best validation
        self.improved = False
        self.settings = settings
        self.schedule = schedule
        self.scheduler = scheduler_for(optimizer, schedule, settings.epochs)
        self.patience = settings.patience
        self.best = (-math.inf, math.nan, math.nan, 0)  # val, test, train, epoch
        self.best_train = -math.inf
        self.rows: list[dict[str, float]] = []
        self.since_best = 0
        self.bar = epoch_bar(settings.epochs, progress, desc)
        self.on_epoch = on_epoch
        self.start = time.perf_counter()

    def end_epoch(self, epoch: int, loss: float, scores: dict[str, float]) -> bool:
        """Record an epoch (``scores``: train/val/test); return True when early stopping says stop."""
        # a tensor under cuda_graph=True
        lr = float(self.optimizer.param_groups[0]["lr"]) * self.lr_scale
        row = dict(scores, epoch=epoch, loss=loss, lr=lr)
        row["seconds"] = time.perf_counter() - self.start
        if self.scheduler is not None:
            if self.schedule == "plateau":
                self.scheduler.step(row["val"])
            else:
                self.scheduler.step()
        self.rows.append(row)
        self.improved = row["val"] > self.best[0]
        if self.improved:
            self.best = (row["val"], row["test"], row["train"], epoch)
            self.since_best = 0
            if self.kept is not None:
                self.kept.save()
        else:
            self.since_best += 1
        if math.isfinite(row["train"]):
            self.best_train = max(self.best_train, row["train"])
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{loss:.3f}", val=f"{row['val']:.3f}")
        if self.on_epoch is not None:
            self.on_epoch(row)
        return self.patience is not None and self.since_best >= self.patience

    def restore(self) -> None:
        """With ``restore_best`` and a ``module``: load the best-validation epoch's weights
        into it (a run without a finished epoch keeps what it has)."""
        if self.kept is not None:
            self.kept.restore()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def result(self, metric: str, diverged: bool, *, chance: float, name: str) -> TrainResult:
        self.close()
        val, test, train, epoch = self.best
        best_train = self.best_train if math.isfinite(self.best_train) else math.nan
        untrained = is_untrained(best_train, chance)
        if untrained and not diverged:
            warnings.warn(
                f"{name}: the run ended untrained: best training {metric} {best_train:.3f} "
                f"against chance {chance:.3f} (less than {UNTRAINED_FRACTION:.0%} of the way to "
                "1); its test metric says nothing about the initialization. "
                + _untrained_advice(self.settings, len(self.rows), epoch),
                RuntimeWarning,
                stacklevel=3,
            )
        return TrainResult(
            metric=metric,
            test=test,
            val=val if epoch else math.nan,
            train=train,
            best_epoch=epoch,
            epochs=len(self.rows),
            diverged=diverged,
            seconds=time.perf_counter() - self.start,
            best_train=best_train,
            chance=chance,
            untrained=untrained,
            fitted=is_fitted(best_train, chance),
            budget_limited=is_budget_limited(epoch, len(self.rows), self.settings.epochs),
            protocol=self.settings.protocol,
            restore_best=self.restore_best,
            log=pd.DataFrame(
                self.rows, columns=["epoch", "loss", "train", "val", "test", "lr", "seconds"]
            ),
        )
