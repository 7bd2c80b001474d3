"""The sweep's ledger: an Optuna study whose trials are claims of cells.

This module is the only one that talks to the sweep's Optuna storage. A journal file under the
output folder (one host, many processes) or any Optuna RDB URL (many hosts) holds a study with
a ``GridSampler`` over the cell index. Optuna alone does not run a grid exactly once (its
``GridSampler`` docs: concurrent workers may evaluate a grid point twice; a killed process
leaves its trial ``RUNNING`` forever), so the ledger adds, on top of the study:

- **claims**: a worker claims cell ``k`` by enqueueing a trial whose user attribute
  ``cell_key`` is ``k`` (written atomically with the trial) and asking for it; of all live
  claims of ``k`` (waiting, running or complete), the lowest trial number runs and the others
  are pruned as duplicates. The journal orders every write, so on journal storage two workers
  never both run a cell;
- **heartbeats**: a running claim refreshes its ``heartbeat`` attribute every
  ``heartbeat_interval`` seconds; a claim whose heartbeat is older than ``grace_period``, or
  whose worker process is gone (same host), is failed as *lost*, and its cell runs again;
- **retries**: a cell that raised is recorded as failed with its error text and runs again up
  to ``max_retries`` times (a missing file, ``FileNotFoundError``, is not retried); :meth:`Ledger.retry_failed` gives the cells that failed for good a
  fresh budget (their failed claims stay in the study as history);
- **one row per cell**: :meth:`Ledger.rows` keeps one row per cell key (the first completed
  claim), so even the rare RDB race (two claims committed within milliseconds) is recorded once.

Reading (:func:`status`, :func:`deepgnn.sweep.report`) opens the storage read-only: it loads
the study and never appends to the journal.
"""

from __future__ import annotations

import logging
import math
import os
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepgnn._io import optuna_storage
from deepgnn.sweep.config import Cell, SweepConfig, as_config, out_dir

__all__ = [
    "CellState",
    "Ledger",
    "SweepStatus",
    "cell_states",
    "finally_failed",
    "is_stale",
    "location",
    "open_study",
    "process_alive",
    "process_token",
    "status",
]

log = logging.getLogger(__name__)

# The study's user attribute that maps a cell to the last trial a retry of its failures covers.
_RETRIED = "retry_failed"


def location(config: SweepConfig, storage: str | None, out: Path) -> str:
    """Where a sweep's study lives: ``storage``, else ``config.storage``, else the journal
    file ``<out>/sweep.journal``."""
    url = storage if storage is not None else config.storage
    if url is not None and not isinstance(url, (str, os.PathLike)):
        raise TypeError(f"storage must be a string, got {type(url).__name__}")
    return os.fspath(url) if url is not None else str(out / "sweep.journal")


def storage_for(
    config: SweepConfig, storage: str | None, out: Path, *, read_only: bool = False
) -> Any:
    """The Optuna storage of a sweep (see :func:`location`); read-only it must exist
    (``FileNotFoundError`` otherwise)."""
    url = location(config, storage, out)
    if storage is None and config.storage is None and not read_only:
        out.mkdir(parents=True, exist_ok=True)
    return optuna_storage(url, read_only=read_only)


def _grid_sampler(n_cells: int) -> Any:
    import optuna

    class CellGridSampler(optuna.samplers.GridSampler):
        """``GridSampler`` over the cell index whose ``after_trial`` does not stop the study.

        ``GridSampler.after_trial`` calls ``study.stop()``, which raises outside
        ``study.optimize`` (the runner uses ask/tell), and reads a ``grid_id`` that enqueued
        trials do not have. The runner decides itself when the grid is done.
        """

        def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
            return None

    return CellGridSampler({"cell": list(range(n_cells))}, seed=0)


def open_study(
    config: SweepConfig | str | Path,
    *,
    storage: str | None = None,
    out: str | Path | None = None,
) -> Any:
    """Open (create if needed) the sweep's Optuna study.

    One trial is one claim of a cell: user attributes ``cell_key``, ``worker``, ``host``,
    ``pid``, ``heartbeat``, and, when finished, ``row`` (the recorded row) or ``error``.

    Args:
        config: a :class:`SweepConfig` or the path of its TOML file.
        storage: journal file path or Optuna RDB URL (default: ``config.storage``, else the
            journal file ``<out>/sweep.journal``).
        out: the output folder (default ``results/<name>``).

    Returns:
        An ``optuna.Study`` with a ``GridSampler`` over the cell index.
    """
    config = as_config(config)
    n_units = len(config.units())
    return _study(config.name, storage_for(config, storage, out_dir(config, out)), n_units)


def _study(name: str, storage: Any, n_units: int, *, create: bool = True) -> Any:
    """Load the sweep's study; create it when missing and ``create`` (else ``None``).

    Loading first appends nothing to the storage (``create_study(load_if_exists=True)``
    writes a creation entry on every call).
    """
    import optuna

    try:
        return optuna.load_study(study_name=name, storage=storage, sampler=_grid_sampler(n_units))
    except KeyError:
        if not create:
            return None
    return optuna.create_study(
        study_name=name,
        storage=storage,
        sampler=_grid_sampler(n_units),
        direction="maximize",
        load_if_exists=True,
    )


def process_token(pid: int) -> str | None:
    """``pid:starttime`` on Linux (immune to pid reuse), else ``None``."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return f"{pid}:{fields[19]}"
    except (OSError, IndexError):
        return None


def process_alive(pid: int, token: str | None) -> bool:
    """Whether process ``pid`` runs and, given its :func:`process_token`, is the same process
    (not a zombie, not a new process that reuses the pid)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        # A SIGKILLed child stays a zombie until its parent reaps it.
        return fields[0] not in ("Z", "X") and (token is None or token == f"{pid}:{fields[19]}")
    except FileNotFoundError:
        return False
    except (OSError, IndexError):
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def last_beat(trial: Any) -> float:
    beat = trial.user_attrs.get("heartbeat")
    if beat is not None:
        return float(beat)
    start = trial.datetime_start
    return start.timestamp() if start is not None else time.time()


def is_stale(trial: Any, config: SweepConfig, host: str, now: float) -> bool:
    """A running claim whose worker is gone (same host) or whose heartbeat is too old."""
    attrs = trial.user_attrs
    if attrs.get("host") == host and "pid" in attrs:
        if not process_alive(int(attrs["pid"]), attrs.get("process")):
            return True
    return now - last_beat(trial) > config.grace_period


@dataclass
class CellState:
    """A cell's trials in the study, by what they mean for it.

    Attributes:
        complete: trials that recorded the cell.
        live: claims waiting or running with a fresh heartbeat.
        stale: running claims whose worker is gone or silent (:func:`is_stale`).
        errors: failed tries with an error, counted against ``max_retries``.
    """

    complete: list[Any] = field(default_factory=list)
    live: list[Any] = field(default_factory=list)  # waiting or running with a heartbeat
    stale: list[Any] = field(default_factory=list)
    errors: list[Any] = field(default_factory=list)  # failed with an error, counted
    lost: int = 0  # failed because the worker went away
    retried: list[Any] = field(default_factory=list)  # failed before a --retry-failed


def cell_states(
    trials: Sequence[Any],
    keys: set[str],
    config: SweepConfig,
    retried: Mapping[str, int] | None = None,
) -> dict[str, CellState]:
    """Every cell's claims, sorted by state. ``retried`` maps a cell to the last trial number
    a retry of its failures covered (:meth:`Ledger.retry_failed`): its errors up to there no
    longer count against ``max_retries``."""
    from optuna.trial import TrialState

    retried = retried or {}
    host, now = socket.gethostname(), time.time()
    states = {k: CellState() for k in keys}
    for t in trials:
        s = states.get(t.user_attrs.get("cell_key"))
        if s is None:
            continue
        if t.state == TrialState.COMPLETE:
            s.complete.append(t)
        elif t.state == TrialState.WAITING:
            s.live.append(t)
        elif t.state == TrialState.RUNNING:
            (s.stale if is_stale(t, config, host, now) else s.live).append(t)
        elif t.state == TrialState.FAIL:
            if "error" not in t.user_attrs:
                s.lost += 1
            elif t.number <= retried.get(t.user_attrs["cell_key"], -1):
                s.retried.append(t)
            else:
                s.errors.append(t)
    return states


def finally_failed(s: CellState, config: SweepConfig) -> bool:
    """Whether a cell has no result and failed more than ``config.max_retries`` times, or once
    with an error no retry can get past (a missing file: ``no_retry``)."""
    if s.complete:
        return False
    return len(s.errors) > config.max_retries or any(t.user_attrs.get("no_retry") for t in s.errors)


@dataclass(frozen=True)
class SweepStatus:
    """Where a sweep stands, counted in cells.

    Attributes:
        total: cells in the grid.
        done: cells with a recorded result (``ok`` or ``diverged``).
        running: cells a live worker is computing.
        failed: cells that raised ``1 + max_retries`` times (recorded as failed).
        left: cells still to run (never started, lost, or failed with retries left).
        eta_seconds: estimated seconds to finish at the running workers' pace
            (:attr:`work_seconds` / workers running); ``None`` before any cell is done or
            while no worker runs.
        work_seconds: the estimated work left, in seconds of one worker: each unit left or
            running costs its depth times the seconds per layer of the finished units of its
            kind (tuning units apart from cells; a batched cell its share of its group's
            time), so the deepest units finishing first (they start first) do not inflate
            it; ``None`` before any cell is done.
        started: whether the storage holds the sweep's study at all (``False``: it never ran
            there, and every cell is left).
        where: the storage that was read (journal file or URL).
    """

    total: int
    done: int
    running: int
    failed: int
    left: int
    eta_seconds: float | None
    started: bool = True
    where: str = field(default="", compare=False)
    work_seconds: float | None = field(default=None, compare=False)

    @property
    def finished(self) -> bool:
        """No cell is left or running."""
        return self.left == 0 and self.running == 0

    def __str__(self) -> str:
        eta = ""
        if self.eta_seconds is not None and not self.finished:
            eta = f"; ETA {_hms(self.eta_seconds)}"
        elif self.work_seconds is not None and not self.finished:
            eta = f"; about {_hms(self.work_seconds)} of one worker's time left"
        counts = (
            f"{self.done}/{self.total} done, {self.running} running, {self.failed} failed, "
            f"{self.left} left{eta}"
        )
        if not self.started:
            return f"the sweep never ran (nothing recorded in {self.where}): {counts}"
        return counts


def _hms(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def summarize(
    config: SweepConfig,
    trials: Sequence[Any],
    cells: Sequence[Cell],
    retried: Mapping[str, int] | None = None,
    *,
    where: str = "",
) -> SweepStatus:
    states = cell_states(trials, {c.key for c in cells}, config, retried)
    done = sum(bool(s.complete) for s in states.values())
    failed = sum(finally_failed(s, config) for s in states.values())
    running = sum(
        bool(s.live) and not s.complete and not finally_failed(s, config) for s in states.values()
    )
    left = len(cells) - done - failed - running
    spent: dict[str, list[float]] = {}  # kind -> [seconds, layers] of the finished units
    for unit in cells:
        state = states.get(unit.key)
        row = state.complete[0].user_attrs.get("row", {}) if state and state.complete else {}
        if "wall_seconds" in row:
            share = float(row["wall_seconds"]) / max(int(row.get("group_size", 1) or 1), 1)
            kind, layers = _cost(unit)
            total = spent.setdefault(kind, [0.0, 0.0])
            total[0] += share
            total[1] += layers
    work = eta = None
    if spent:
        overall = sum(v[0] for v in spent.values()) / sum(v[1] for v in spent.values())
        work = 0.0
        for unit in cells:
            state = states.get(unit.key)
            if state is not None and (state.complete or finally_failed(state, config)):
                continue
            kind, layers = _cost(unit)
            rate = spent[kind][0] / spent[kind][1] if kind in spent else overall
            work += layers * rate
        eta = work / running if running else None
    return SweepStatus(len(cells), done, running, failed, left, eta, where=where, work_seconds=work)


def _lead(unit: Any) -> tuple[Any, bool]:
    """The cell that stands for ``unit`` (a tuning unit's first cell) and whether it tunes."""
    cells = getattr(unit, "cells", None)
    return (cells[0] if cells else unit), cells is not None


def _cost(unit: Any) -> tuple[str, float]:
    """A unit's kind (``"tune"`` or ``"cell"``) and its cost weight: its depth (its cells' for a
    tuning unit), at least 1."""
    cell, tunes = _lead(unit)
    return ("tune" if tunes else "cell"), float(max(getattr(cell, "depth", 1) or 1, 1))


class Heartbeat:
    """Refresh a trial's ``heartbeat`` user attribute from a daemon thread."""

    def __init__(self, trial: Any, interval: float) -> None:
        self._trial, self._interval = trial, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._trial.set_user_attr("heartbeat", time.time())
            except Exception as err:  # the claim was failed by another worker
                log.warning("heartbeat of trial %d stopped: %s", self._trial.number, err)
                return

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Claim:
    """A unit this worker holds (a :class:`Cell`, or a tuning unit): run it, then
    :meth:`Ledger.record` its row."""

    trial: Any
    cell: Any
    attempt: int


def cost_rank(unit: Any) -> tuple[int, int, int]:
    """How early a unit should start: tuning units first (their cells wait on them), then the
    deepest cells, those whose initialization runs a search (SPoGInit) first within a depth.

    Workers take the highest-ranked unit left (at random among equals), so the longest units
    start first and the last to finish are short ones: on a study's mix of depths the sweep
    ends sooner than in random order (longest-processing-time-first scheduling), most of all
    when batched groups of unequal cost share few workers.

    Example:
        >>> from deepgnn.sweep.config import Cell
        >>> deep, shallow = Cell("a", "cora", "gcn", 64, "xavier", 0), Cell("b", "cora", "gcn", 2, "spoginit", 0)
        >>> cost_rank(deep) > cost_rank(shallow)
        True
    """
    cell, tunes = _lead(unit)
    depth = getattr(cell, "depth", 0)
    init = str(getattr(cell, "init", "") or "")
    return (int(tunes), int(depth or 0), int(init.startswith("spoginit")))


class Ledger:
    """A sweep's study seen as cells: their states, claims, heartbeats and recorded rows.

    Args:
        config: the sweep.
        storage: journal file path or Optuna RDB URL (see :func:`open_study`).
        out: the output folder.
        write: open the storage for running cells (creating the study if needed); by default
            it is opened read-only, and the study must exist.
        missing_ok: read-only, a storage without the study gives a ledger whose
            :attr:`study` is ``None`` instead of an error.

    Attributes:
        study: the sweep's Optuna study (``None`` for a read-only ledger opened with
            ``missing_ok=True`` on a storage that does not hold it).

    Raises:
        ValueError: read-only, the storage does not hold the sweep's study (the message names
            where it looked).
    """

    def __init__(
        self,
        config: SweepConfig,
        *,
        storage: str | None = None,
        out: str | Path | None = None,
        write: bool = False,
        missing_ok: bool = False,
    ) -> None:
        self.config = config
        self.units = config.units()  # tuning units (if any), then the cells
        self.cells = [u for u in self.units if isinstance(u, Cell)]
        self.by_key = {u.key: u for u in self.units}
        self.index = {u.key: i for i, u in enumerate(self.units)}
        self.rank = {u.key: cost_rank(u) for u in self.units}
        folder = out_dir(config, out)
        self.where = location(config, storage, folder)
        try:
            self.storage = storage_for(config, storage, folder, read_only=not write)
        except FileNotFoundError:
            if write:
                raise
            self.storage = None  # read-only and no journal (SQLite file): it never ran here
        self.study = (
            None
            if self.storage is None
            else _study(config.name, self.storage, len(self.units), create=write)
        )
        if self.study is None and not missing_ok:
            raise ValueError(
                f"sweep {config.name!r} has no recorded cell: {self.where} "
                f"{'does not exist' if self.storage is None else 'holds no study of that name'}; "
                "run the sweep first (deepgnn sweep run), or pass the --out / --storage it ran "
                "with"
            )
        self.finished = 0  # units with a final row, as of the last next_claim

    def _opened(self) -> Any:
        """The study, for what needs one: only :meth:`status` reads a ledger without it."""
        if self.study is None:
            raise RuntimeError(
                f"sweep {self.config.name!r} has no study at {self.where}; run it first "
                "(deepgnn sweep run)"
            )
        return self.study

    def trials(self) -> list[Any]:
        """Every trial of the sweep's study (claims, results, failures)."""
        return self._opened().get_trials(deepcopy=False)

    def retried(self) -> dict[str, int]:
        """Cell -> the last trial number a retry of its failures covered."""
        return dict(self._opened().user_attrs.get(_RETRIED, {}))

    def states(self, trials: Sequence[Any] | None = None) -> dict[str, CellState]:
        """Every cell's :class:`CellState`."""
        trials = self.trials() if trials is None else trials
        return cell_states(trials, set(self.by_key), self.config, self.retried())

    def status(self) -> SweepStatus:
        """Counts of done, running, failed and left cells, and an ETA."""
        if self.study is None:
            n = len(self.units)
            return SweepStatus(n, 0, 0, 0, n, None, started=False, where=self.where)
        return summarize(self.config, self.trials(), self.units, self.retried(), where=self.where)

    def retry_failed(self) -> list[str]:
        """Give every cell that failed ``1 + max_retries`` times a fresh retry budget; return
        their keys. Their failed claims stay in the study (and ``attempt`` counts on)."""
        states = self.states()
        retried = self.retried()
        keys = [k for k, s in states.items() if finally_failed(s, self.config)]
        for k in keys:
            retried[k] = max(t.number for t in states[k].errors)
        if keys:
            self._opened().set_user_attr(_RETRIED, retried)
            log.info("%d failed cells get %d more tries", len(keys), 1 + self.config.max_retries)
        return keys

    def tuned(self, key: str) -> dict[str, Any]:
        """The best settings a finished tuning unit found (``{"lr": ..., ...}``)."""
        complete = self.states()[key].complete
        if not complete:
            raise RuntimeError(f"tuning unit {key} has not finished")
        row = min(complete, key=lambda t: t.number).user_attrs["row"]
        return {k.removeprefix("tuned_"): v for k, v in row.items() if k.startswith("tuned_")}

    def tuning_study(self, unit: Any) -> Any:
        """The Optuna study of a tuning unit's trials, in the sweep's storage (created if
        needed): a TPE sampler seeded by ``[tune] seed`` and, unless ``pruner = "none"``, a
        median pruner on the validation curve (no pruning in the first 4 trials or the first
        tenth of the epochs)."""
        import optuna

        space = self.config.tune
        assert space is not None
        epochs = int(unit.cells[0].spec().train.get("epochs") or space.epochs or 0)
        epochs = space.epochs or epochs
        pruner: optuna.pruners.BasePruner = (
            optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=epochs // 10)
            if space.pruner == "median"
            else optuna.pruners.NopPruner()
        )
        name = f"{self.config.name}.tune.{unit.key}"
        sampler = optuna.samplers.TPESampler(seed=space.seed)
        try:
            return optuna.load_study(
                study_name=name, storage=self.storage, sampler=sampler, pruner=pruner
            )
        except KeyError:
            pass
        return optuna.create_study(
            study_name=name,
            storage=self.storage,
            sampler=sampler,
            pruner=pruner,
            direction="maximize",
            load_if_exists=True,
        )

    # ------------------------------------------------------------------- claiming
    def next_claim(self, rng: random.Random, *, poll: float) -> Claim | None:
        """Claim a cell for this process; ``None`` when every cell is finished.

        Fails stale claims first (their cells run again), waits while only other live
        workers hold the remaining cells (one of them may die), and prunes a claim another
        worker holds a lower-numbered trial of.
        """
        from optuna.trial import TrialState

        study = self._opened()
        while True:
            trials = self.trials()
            states = self.states(trials)
            stale = [t for s in states.values() for t in s.stale]
            if stale:
                self._reap(stale)
                continue
            self.finished = sum(
                bool(s.complete) or finally_failed(s, self.config) for s in states.values()
            )
            waiting = any(t.state == TrialState.WAITING for t in trials)
            todo = [
                k
                for k, s in states.items()
                if not s.complete
                and not s.live
                and not finally_failed(s, self.config)
                and self._ready(k, states)
            ]
            if not todo and not waiting:
                if any(s.live for s in states.values()):
                    time.sleep(poll)  # another worker may die: its cell would come back
                    continue
                return None
            if not waiting:
                top = max(self.rank[k] for k in todo)
                key = rng.choice([k for k in todo if self.rank[k] == top])
                study.enqueue_trial({"cell": self.index[key]}, user_attrs={"cell_key": key})
            claim = self._take(study.ask())
            if claim is not None:
                return claim

    def _take(self, trial: Any) -> Claim | None:
        """Make an asked trial this process's claim of its cell; ``None`` (pruned) when it names
        no cell or another claim of the cell comes first."""
        from optuna.exceptions import UpdateFinishedTrialError
        from optuna.trial import TrialState

        host, pid, study = socket.gethostname(), os.getpid(), self._opened()
        try:
            key = trial.user_attrs.get("cell_key")
            if key not in self.by_key:
                study.tell(trial, state=TrialState.PRUNED)
                return None
            trial.suggest_int("cell", 0, len(self.units) - 1)
            for name, value in (("worker", f"{host}:{pid}"), ("host", host), ("pid", pid)):
                trial.set_user_attr(name, value)
            trial.set_user_attr("process", process_token(pid))
            trial.set_user_attr("heartbeat", time.time())
            if not self._owns(trial, key):
                trial.set_user_attr("duplicate", True)
                study.tell(trial, state=TrialState.PRUNED)
                return None
        except UpdateFinishedTrialError:
            # Another worker failed this claim before it was set up (it saw no heartbeat
            # yet, e.g. after a journal lock was force-released): claim again.
            return None
        return Claim(trial, self.by_key[key], self._attempt(key))

    def next_group(
        self,
        rng: random.Random,
        *,
        poll: float,
        group_of: Callable[[Any], str | None],
        limit: int,
    ) -> list[Claim]:
        """Claim a cell (:meth:`next_claim`), then up to ``limit - 1`` more of its group: cells
        left to run for which ``group_of`` gives the same key (never ``None``). Empty when every
        cell is finished.

        Each cell is claimed as :meth:`next_claim` claims one (its own trial, lowest live claim
        wins), so the journal records every cell once whatever the grouping, and a group that
        dies leaves only its unrecorded cells to run again. A claim that comes back for a cell
        of another group (a waiting trial another worker enqueued) is released at once: pruned,
        its cell left to run.
        """
        from optuna.trial import TrialState

        first = self.next_claim(rng, poll=poll)
        if first is None:
            return []
        claims = [first]
        group = group_of(first.cell)
        if group is None:
            return claims
        study = self._opened()
        while len(claims) < limit:
            states = self.states()
            held = {c.cell.key for c in claims}
            mates = [
                k
                for k, s in states.items()
                if k not in held
                and not s.complete
                and not s.live
                and not finally_failed(s, self.config)
                and self._ready(k, states)
                and group_of(self.by_key[k]) == group
            ]
            if not mates:
                break
            # The inits least represented so far first: where a group is larger than
            # ``limit``, its initializations (and their searches) spread over its batches.
            held_inits = Counter(getattr(c.cell, "init", None) for c in claims)
            count = {k: held_inits[getattr(self.by_key[k], "init", None)] for k in mates}
            fewest = min(count.values())
            key = rng.choice([k for k in mates if count[k] == fewest])
            study.enqueue_trial({"cell": self.index[key]}, user_attrs={"cell_key": key})
            claim = self._take(study.ask())
            if claim is None:
                continue
            if group_of(claim.cell) != group:
                claim.trial.set_user_attr("released", True)
                study.tell(claim.trial, state=TrialState.PRUNED)
                continue
            claims.append(claim)
        return claims

    def _ready(self, key: str, states: dict[str, CellState]) -> bool:
        """A cell of a tuned group runs once its group's tuning has finished."""
        tune_key = getattr(self.by_key[key], "tune_key", None)
        return tune_key is None or bool(states[tune_key].complete)

    def _reap(self, stale: Sequence[Any]) -> None:
        """Fail stale claims so that their cells run again. Several workers may find the same
        stale claim at once: the journal orders their writes, the first fails it, and the
        others' writes are refused (``UpdateFinishedTrialError``), which is what they wanted."""
        from optuna.exceptions import UpdateFinishedTrialError
        from optuna.trial import TrialState

        for t in stale:
            try:
                self._opened().tell(t.number, state=TrialState.FAIL, skip_if_finished=True)
            except UpdateFinishedTrialError:
                continue  # another worker reaped it (or its worker finished it) first
            log.warning(
                "cell %s: worker %s is gone (last heartbeat %.0f s ago); the cell will run again",
                t.user_attrs.get("cell_key"),
                t.user_attrs.get("worker", "?"),
                time.time() - last_beat(t),
            )

    def _owns(self, trial: Any, key: str) -> bool:
        """Whether ``trial`` is the lowest-numbered live claim of ``key`` (so it runs)."""
        from optuna.trial import TrialState

        trials = self.trials()
        state = cell_states(trials, {key}, self.config, self.retried())[key]
        if state.complete or finally_failed(state, self.config):
            return False
        live = [t.number for t in state.live] + [trial.number]
        return min(live) == trial.number and trial.number in {
            t.number for t in trials if t.state == TrialState.RUNNING
        }

    def _attempt(self, key: str) -> int:
        from optuna.trial import TrialState

        failed = self._opened().get_trials(deepcopy=False, states=(TrialState.FAIL,))
        return 1 + len(
            [t for t in failed if t.user_attrs.get("cell_key") == key and "error" in t.user_attrs]
        )

    @contextmanager
    def running(self, claim: Claim) -> Iterator[None]:
        """Heartbeats while the block runs; an interruption (Ctrl-C, SIGTERM) frees the cell
        for the next run at once."""
        from optuna.exceptions import UpdateFinishedTrialError
        from optuna.trial import TrialState

        try:
            with Heartbeat(claim.trial, self.config.heartbeat_interval):
                yield
        except BaseException:
            try:
                self._opened().tell(claim.trial, state=TrialState.FAIL, skip_if_finished=True)
            except UpdateFinishedTrialError:
                pass  # another worker failed it already: the cell is free
            except OSError as err:  # a full disk: the next run finds the claim's worker gone
                log.warning("cell %s: could not free its claim: %s", claim.cell.key, err)
            raise

    def record(
        self, claim: Claim, row: dict[str, Any], error: str | None, *, retry: bool = True
    ) -> None:
        """Store a claim's row: failed with ``error`` (``retry=False``: failed for good, e.g. a
        missing file), or complete (a duplicate is pruned)."""
        from optuna.exceptions import UpdateFinishedTrialError
        from optuna.trial import TrialState

        trial, key, study = claim.trial, claim.cell.key, self._opened()
        try:
            trial.set_user_attr("row", _jsonable(row))
            if error is not None:
                if not retry:
                    trial.set_user_attr("no_retry", True)
                trial.set_user_attr("error", error)
                study.tell(trial, state=TrialState.FAIL)
                return
            if any(
                t.user_attrs.get("cell_key") == key
                for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            ):
                trial.set_user_attr("duplicate", True)
                study.tell(trial, state=TrialState.PRUNED)
                return
            test = row.get("test")
            finite = isinstance(test, float) and math.isfinite(test)
            study.tell(trial, test if finite else float("-inf"))
        except UpdateFinishedTrialError:
            log.warning(
                "cell %s: another worker took it over after a missed heartbeat; result dropped",
                key,
            )

    # -------------------------------------------------------------------- reading
    def rows(self) -> list[dict[str, Any]]:
        """One row per finished cell, in grid order: the first completed claim's, or the last
        error of a cell that failed ``1 + max_retries`` times."""
        states = self.states()
        rows = []
        for cell in self.cells:
            s = states[cell.key]
            if s.complete:
                rows.append(min(s.complete, key=lambda t: t.number).user_attrs["row"])
            elif finally_failed(s, self.config):
                rows.append(max(s.errors, key=lambda t: t.number).user_attrs["row"])
        return rows


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in row.items():
        if hasattr(v, "item"):
            v = v.item()
        out[k] = v if v is None or isinstance(v, (bool, int, float, str)) else str(v)
    return out


def status(
    config: SweepConfig | str | Path,
    *,
    storage: str | None = None,
    out: str | Path | None = None,
) -> SweepStatus:
    """Count the sweep's cells that are done, running, failed and left, with the work left.

    :attr:`SweepStatus.work_seconds` estimates the work left in one worker's seconds;
    :attr:`SweepStatus.eta_seconds` the time to finish while workers run.

    Opens the storage read-only: nothing is written, not even to a journal file. A claim
    whose worker is gone counts as left. A sweep that never ran (no journal, or no study of
    its name in the storage) has every cell left and ``started=False``.

    Args:
        config: a :class:`SweepConfig` or the path of its TOML file.
        storage: as in :func:`deepgnn.sweep.run`.
        out: as in :func:`deepgnn.sweep.run`.

    Returns:
        A :class:`SweepStatus`; ``str()`` of it reads ``"3/12 done, 2 running, 0 failed, 7 left;
        ETA 1m05s"``.
    """
    return Ledger(as_config(config), storage=storage, out=out, missing_ok=True).status()
