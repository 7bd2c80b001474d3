"""Sweep workers: processes that claim cells from the ledger, run them and record their rows.

Each worker pulls the next cell from the :class:`~deepgnn.sweep.ledger.Ledger`, runs it with
:func:`deepgnn.experiment.run_cell` (the same path ``deepgnn train`` takes), and records its
row with the bookkeeping columns (attempt, trial, worker, host, versions, wall time). With
``batch_cells`` (the default), a worker claims a cell and up to ``max_batch_cells - 1`` more that
share its graph and shape (:func:`deepgnn.experiment.batch_key`), trains them as one batched
model (:func:`deepgnn.experiment.run_cells`) and records each cell's row on its own
(``group_size`` says how many trained together). A cell that raises is recorded as failed with
its error text and retried up to ``max_retries`` times (a ``FileNotFoundError`` is not retried;
missing dataset files stop the run before any cell);
the sweep goes on (``run(retry_failed=True)`` gives the cells that failed for good another
round). A diverged run (NaN/inf loss) is a result (``status="diverged"``), not a failure. A
full disk is not a cell's failure: the worker stops, naming the file, and what was recorded
stays readable. Worker processes are ``spawn``ed, one per entry of ``devices``.
"""

from __future__ import annotations

import ast
import inspect
import logging
import os
import random
import signal as _signal
import socket
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

from deepgnn import data, experiment
from deepgnn._checks import check_int
from deepgnn._imports import portable
from deepgnn._io import NO_SPACE, stop_on_os_error
from deepgnn._progress import progress_bar
from deepgnn.sweep.config import SweepConfig, as_config, out_dir
from deepgnn.sweep.ledger import Claim, Ledger, SweepStatus, status
from deepgnn.sweep.tune import TuneUnit, run_unit, run_units

__all__ = ["run"]

log = logging.getLogger(__name__)

_GUARD = (
    "deepgnn.sweep.run(..., workers={workers}) is called at the top level of {where}, outside "
    'an `if __name__ == "__main__":` block; its worker processes are started with spawn, which '
    'runs that file again in each of them: put the call under `if __name__ == "__main__":`'
)


def _work(
    config: SweepConfig,
    *,
    storage: str | None,
    out: Path,
    device: str | None,
    progress: bool,
    position: int = 0,
    ledger: Ledger | None = None,
) -> int:
    """Pull cells until none are left; return how many this worker computed.

    Raises:
        OSError: a file could not be written (the journal, a curve): the message names it.
    """
    _register_loaders(config)
    with stop_on_os_error():
        ledger = ledger or Ledger(config, storage=storage, out=out, write=True)
        return _pull(ledger, out=out, device=device, progress=progress, position=position)


def _register_loaders(config: SweepConfig) -> None:
    """Register the sweep's own datasets (:attr:`SweepConfig.data_loaders`) in this process, as
    the process that loaded the config did: a spawned worker starts without them."""
    for name, entry in config.data_loaders.items():
        try:
            if data.loader_path(name) == entry["loader"]:
                continue
        except ValueError:
            pass  # not registered here yet
        data.register(name, entry["loader"], task=entry["task"])


def _check_portable(config: SweepConfig) -> None:
    """Worker processes import each own dataset's loader by its path: refuse, before any
    process starts, a loader they cannot import.

    Raises:
        ValueError: a lambda, a function defined inside another, or one of an interactive
            session, naming the dataset and the fixes.
    """
    for name, entry in config.data_loaders.items():
        if not portable(entry["loader"]):
            raise ValueError(
                f"dataset {name!r} is registered with loader {entry['loader']}, which the "
                "sweep's worker processes cannot import (a lambda, a function defined inside "
                "another, or one of an interactive session); define it at the top level of a "
                "module and register that, or name it in the sweep file as [data."
                f"{name}] loader = 'package.module:function', or run with workers=1"
            )


def _pull(ledger: Ledger, *, out: Path, device: str | None, progress: bool, position: int) -> int:
    config = ledger.config
    worker = f"{socket.gethostname()}:{os.getpid()}"
    rng = random.Random(f"{worker}:{time.time()}")
    versions = _versions()
    poll = min(config.heartbeat_interval, 2.0)
    bar = None
    if progress:
        desc = f"{config.name} worker {position} [{device or 'auto'}]"
        bar = progress_bar(
            total=len(ledger.units), position=position, desc=desc, unit="cell", leave=True
        )
    ran = 0
    group_of = _grouper() if config.batch_cells and config.max_batch_cells > 1 else None
    try:
        while True:
            if group_of is not None:
                claims = ledger.next_group(
                    rng, poll=poll, group_of=group_of, limit=config.max_batch_cells
                )
            else:
                claim = ledger.next_claim(rng, poll=poll)
                claims = [] if claim is None else [claim]
            if bar is not None and ledger.finished > bar.n:
                bar.update(ledger.finished - bar.n)
            if not claims:
                break
            ran += len(claims)
            if len(claims) == 1:
                _run_claim(
                    ledger, claims[0], out=out, device=device, versions=versions, worker=worker
                )
            else:
                _run_group(ledger, claims, out=out, device=device, versions=versions, worker=worker)
    finally:
        if bar is not None:
            bar.close()
        experiment.clear_cache()
    log.info("worker %s ran %d cells", worker, ran)
    return ran


def _run_claim(
    ledger: Ledger,
    claim: Claim,
    *,
    out: Path,
    device: str | None,
    versions: dict[str, str],
    worker: str,
) -> None:
    unit, config = claim.cell, ledger.config
    base = {**_base(ledger, claim, versions, worker), "group_size": 1}
    start = time.perf_counter()
    retry = True
    with ledger.running(claim):
        try:
            if isinstance(unit, TuneUnit):
                assert config.tune is not None
                row = run_unit(
                    unit,
                    config.tune,
                    ledger.tuning_study(unit),
                    device=device,
                    run_cell=experiment.run_cell,
                )
            else:
                spec = unit.spec()
                tuned = ledger.tuned(unit.tune_key) if unit.tune_key else {}
                if tuned:
                    spec = replace(spec, train={**spec.train, **tuned})
                row = experiment.run_cell(
                    spec,
                    device=device,
                    record=config.record,
                    measures=config.measures,
                    curves=out / "curves" / f"{unit.key}.csv.gz",
                    curve_every=config.curve_every,
                    models=_models_path(config, out, unit.key),
                ).row
                row.update({f"tuned_{k}": v for k, v in tuned.items()})
            error = None
        except Exception as err:
            if isinstance(err, OSError) and err.errno in NO_SPACE:
                raise  # every later cell would fail the same way: stop the worker
            error = f"{type(err).__name__}: {err}"[:4000]
            retry = not isinstance(err, FileNotFoundError)
            if not retry:
                # A file that is missing now is missing at the next try too: one line, no
                # retry (run(retry_failed=True) runs the cell again once it is there).
                log.warning("%s failed, not retried: %s", unit.key, error)
            else:
                log.warning("%s failed (attempt %d)", unit.key, claim.attempt, exc_info=True)
            row = {"status": "failed", "device": str(device or "auto")}
            _free_cuda()
    row = {**base, **row, "wall_seconds": time.perf_counter() - start, "error": error or ""}
    ledger.record(claim, row, error, retry=retry)


def _models_path(config: SweepConfig, out: Path, key: str) -> Path | None:
    """Where a cell saves its weights: ``<out>/models/<cell>.pt`` when ``record`` lists
    ``"models"``."""
    return out / "models" / f"{key}.pt" if "models" in config.record else None


def _models_size(config: SweepConfig) -> int:
    """Bytes the ``models`` files of every cell of ``config`` take: its initial and trained
    state (parameters and buffers at their dtype) per cell, without the few bytes of pickle
    framing and metadata. Models are built on the ``meta`` device (no memory, no data); each
    dataset is loaded once for its dimensions.

    Raises:
        Exception: what loading a dataset or building a model raises.
    """
    import json

    import torch

    sizes: dict[str, int] = {}
    loaded: dict[str, Any] = {}
    total = 0
    for cell in config.cells():
        spec = cell.spec()
        what = json.dumps([spec.dataset, spec.family, spec.depth, spec.model], default=str)
        if what not in sizes:
            if spec.dataset not in loaded:
                loaded[spec.dataset] = data.load(spec.dataset, root=spec.root)
            with torch.device("meta"):
                model = experiment.build_model(
                    loaded[spec.dataset], spec.family, spec.depth, seed=0, **spec.model
                )
            state = model.state_dict().values()
            sizes[what] = sum(t.numel() * t.element_size() for t in state)
        total += 2 * sizes[what]
    return total


def _log_models_size(config: SweepConfig, folder: Path) -> None:
    """Say how much disk ``record = [..., "models"]`` will take, before a cell runs."""
    if "models" not in config.record:
        return
    try:
        size = _models_size(config)
    except Exception as err:  # an estimate: the cells report what really fails
        log.warning("could not estimate the size of the saved models: %s", err)
        return
    log.info(
        "record lists 'models': %d cells save their initial and trained weights to %s, "
        "about %.1f MB in all",
        len(config.cells()),
        folder / "models",
        size / 1e6,
    )


def _grouper() -> Callable[[Any], str | None]:
    """A unit's batch group, ``None`` where it cannot batch; computed once per unit.

    A cell's is its :func:`deepgnn.experiment.batch_key` (cells of other tuning groups batch
    together, each with its own tuned settings); a tuning unit's is its trials' batch key
    (the units of one dataset, family and depth tune in lockstep:
    :func:`deepgnn.sweep.tune.run_units`), kept apart from the cells'.
    """
    known: dict[str, str | None] = {}

    def group_of(unit: Any) -> str | None:
        if unit.key not in known:
            tunes = isinstance(unit, TuneUnit)
            key = experiment.batch_key((unit.cells[0] if tunes else unit).spec())
            known[unit.key] = None if key is None else f"{'tune' if tunes else 'cell'}|{key}"
        return known[unit.key]

    return group_of


def _base(ledger: Ledger, claim: Claim, versions: dict[str, str], worker: str) -> dict[str, Any]:
    """A claim's bookkeeping columns: settings, attempt, trial, worker, host, versions."""
    base = {**claim.cell.columns(), "attempt": claim.attempt, "trial": claim.trial.number}
    base.update(worker=worker, host=socket.gethostname())
    base.update({f"{k}_version": v for k, v in versions.items()})
    return base


def _run_group(
    ledger: Ledger,
    claims: list[Claim],
    *,
    out: Path,
    device: str | None,
    versions: dict[str, str],
    worker: str,
) -> None:
    """Run claimed cells of one batch group together (:func:`deepgnn.experiment.run_cells`)
    and record each cell's row (``wall_seconds``: the group's time) or error on its own;
    tuning units through :func:`_run_tuning_group`."""
    if isinstance(claims[0].cell, TuneUnit):
        _run_tuning_group(ledger, claims, device=device, versions=versions, worker=worker)
        return
    config = ledger.config
    specs, settings = [], []
    for claim in claims:
        spec = claim.cell.spec()
        tuned = ledger.tuned(claim.cell.tune_key) if claim.cell.tune_key else {}
        specs.append(replace(spec, train={**spec.train, **tuned}) if tuned else spec)
        settings.append(tuned)
    curves = [out / "curves" / f"{c.cell.key}.csv.gz" for c in claims]
    models = [_models_path(config, out, c.cell.key) for c in claims]
    start = time.perf_counter()
    with ExitStack() as held:
        for claim in claims:
            held.enter_context(ledger.running(claim))
        shared: dict[str, Any] = {
            "device": device,
            "record": config.record,
            "measures": config.measures,
            "curve_every": config.curve_every,
        }
        try:
            outcomes = experiment.run_cells(specs, curves=curves, models=models, **shared)
        except Exception as err:
            if isinstance(err, OSError) and err.errno in NO_SPACE:
                raise
            log.warning(
                "a group of %d cells failed; they run one by one", len(claims), exc_info=True
            )
            outcomes = []
            for spec, path, saved in zip(specs, curves, models):
                try:
                    outcomes.append(experiment.run_cell(spec, curves=path, models=saved, **shared))
                except Exception as failed:
                    outcomes.append(failed)
    wall = time.perf_counter() - start
    rows: list[dict[str, Any] | Exception] = []
    for outcome, tuned in zip(outcomes, settings):
        if isinstance(outcome, Exception):
            rows.append(outcome)
        else:
            rows.append({**outcome.row, **{f"tuned_{k}": v for k, v in tuned.items()}})
    _record_group(ledger, claims, rows, wall=wall, device=device, versions=versions, worker=worker)


def _run_tuning_group(
    ledger: Ledger,
    claims: list[Claim],
    *,
    device: str | None,
    versions: dict[str, str],
    worker: str,
) -> None:
    """Tune claimed units of one batch group in lockstep (:func:`deepgnn.sweep.tune.run_units`)
    and record each unit's row or error on its own; if the lockstep run itself raises, each
    unit tunes alone (:func:`deepgnn.sweep.tune.run_unit`), resuming its trials."""
    config = ledger.config
    assert config.tune is not None
    units = [c.cell for c in claims]
    start = time.perf_counter()
    with ExitStack() as held:
        for claim in claims:
            held.enter_context(ledger.running(claim))
        studies = [ledger.tuning_study(unit) for unit in units]
        outcomes: list[dict[str, Any] | Exception]
        try:
            outcomes = run_units(
                units, config.tune, studies, device=device, run_cells=experiment.run_cells
            )
            outcomes = [
                o if isinstance(o, Exception) else {**o, "group_size": len(units)} for o in outcomes
            ]
        except Exception as err:
            if isinstance(err, OSError) and err.errno in NO_SPACE:
                raise
            log.warning(
                "%d tuning units failed together; they tune one by one", len(units), exc_info=True
            )
            _free_cuda()
            outcomes = []
            for unit, study in zip(units, studies):
                try:
                    outcomes.append(
                        run_unit(
                            unit, config.tune, study, device=device, run_cell=experiment.run_cell
                        )
                    )
                except Exception as failed:
                    outcomes.append(failed)
    wall = time.perf_counter() - start
    _record_group(
        ledger, claims, outcomes, wall=wall, device=device, versions=versions, worker=worker
    )


def _record_group(
    ledger: Ledger,
    claims: list[Claim],
    outcomes: list[dict[str, Any] | Exception],
    *,
    wall: float,
    device: str | None,
    versions: dict[str, str],
    worker: str,
) -> None:
    """Record each claim of a group: its row, or its error (retried unless a missing file);
    ``wall_seconds`` is the group's time."""
    for claim, outcome in zip(claims, outcomes):
        retry = True
        if isinstance(outcome, Exception):
            if isinstance(outcome, OSError) and outcome.errno in NO_SPACE:
                raise outcome  # every later cell would fail the same way: stop the worker
            error: str | None = f"{type(outcome).__name__}: {outcome}"[:4000]
            # as _run_claim: a file missing now is missing at the next try too
            retry = not isinstance(outcome, FileNotFoundError)
            log.warning(
                "%s failed (attempt %d%s): %s",
                claim.cell.key,
                claim.attempt,
                "" if retry else ", not retried",
                outcome,
            )
            row: dict[str, Any] = {"status": "failed", "device": str(device or "auto")}
        else:
            error, row = None, outcome
        row = {**_base(ledger, claim, versions, worker), "group_size": 1, **row}
        row.update(wall_seconds=wall, error=error or "")
        ledger.record(claim, row, error, retry=retry)
    if any(isinstance(o, Exception) for o in outcomes):
        _free_cuda()


def _versions() -> dict[str, str]:
    import optuna
    import torch

    import deepgnn

    return {
        "torch": torch.__version__,
        "deepgnn": deepgnn.__version__,
        "optuna": optuna.__version__,
    }


def _free_cuda() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _worker_main(
    config: SweepConfig,
    storage: str | None,
    out: str,
    device: str | None,
    position: int,
    threads: int | None,
    progress: bool,
    log_level: int,
    errors: Any,
) -> None:
    """Entry point of a spawned worker process; its error goes to ``errors`` (a queue)."""
    import optuna
    import torch

    logging.basicConfig(level=log_level, format="%(asctime)s %(name)s: %(message)s")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if threads is not None:
        torch.set_num_threads(threads)

    def _terminate(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    _signal.signal(_signal.SIGTERM, _terminate)
    try:
        _work(
            config,
            storage=storage,
            out=Path(out),
            device=device,
            progress=progress,
            position=position,
        )
    except KeyboardInterrupt:
        raise
    except BaseException as err:
        errors.put(str(err) or type(err).__name__)
        if isinstance(err, OSError):  # a full disk: the message says it all
            raise SystemExit(1) from None
        raise


def _spawned_rerun() -> bool:
    """Whether this call comes from a spawned worker re-running the main script's top level."""
    frame = inspect.currentframe()
    while frame is not None:
        if frame.f_code.co_name == "<module>" and frame.f_globals.get("__name__") == "__mp_main__":
            return True
        frame = frame.f_back
    return False


def _unguarded_call() -> str | None:
    """``<file> (line <n>)`` when this call runs at the top level of the ``__main__`` script
    outside ``if __name__ == "__main__":``, which every spawned worker would run again."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    name = getattr(getattr(main, "__spec__", None), "name", "")
    # multiprocessing never re-runs a package's __main__ (python -m deepgnn).
    if not path or not str(path).endswith(".py") or name.endswith("__main__"):
        return None
    frame = inspect.currentframe()
    while frame is not None and not (
        frame.f_code.co_name == "<module>" and frame.f_globals.get("__name__") == "__main__"
    ):
        frame = frame.f_back
    # A launcher may run the user's script as __main__ from its own (runpy): look no further.
    if frame is None or os.path.realpath(frame.f_code.co_filename) != os.path.realpath(path):
        return None
    line = frame.f_lineno
    try:
        tree = ast.parse(Path(path).read_text(), str(path))
    except (OSError, SyntaxError, ValueError):
        return None
    for stmt in tree.body:
        if stmt.lineno <= line <= (stmt.end_lineno or stmt.lineno):
            test = ast.unparse(stmt.test) if isinstance(stmt, ast.If) else ""
            guarded = "__name__" in test and "__main__" in test
            return None if guarded else f"{path} (line {line})"
    return None


def _check_devices(devices: Sequence[str] | None) -> list[str | None]:
    if devices is None:
        return [None]
    if isinstance(devices, str):
        devices = [d for d in devices.split(",") if d]
    import torch

    checked: list[str | None] = []
    for d in devices:
        try:
            dev = torch.device(d)
        except (RuntimeError, TypeError):
            raise ValueError(
                f"devices contains {d!r}, which is not a device; pass e.g. devices=['cuda:0', "
                "'cuda:1'] or ['cpu']"
            ) from None
        if dev.type == "cuda":
            n = torch.cuda.device_count()
            if (dev.index or 0) >= n:
                raise ValueError(
                    f"devices contains {d!r}, but this machine has {n} CUDA device(s); "
                    f"pass devices among {[f'cuda:{i}' for i in range(n)] or ['cpu']}"
                )
        checked.append(str(dev))
    if not checked:
        raise ValueError("devices is empty; pass e.g. devices=['cuda:0'] or leave it None")
    return checked


def run(
    config: SweepConfig | str | Path,
    *,
    workers: int | None = None,
    devices: Sequence[str] | None = None,
    storage: str | None = None,
    out: str | Path | None = None,
    progress: bool = True,
    retry_failed: bool = False,
) -> SweepStatus:
    """Run (or resume) a sweep: ``workers`` processes pull cells until none are left.

    Worker ``i`` runs on ``devices[i % len(devices)]`` (default: CUDA when available, else
    CPU). With one worker and at most one device the cells run in this process; otherwise
    worker processes are started with the ``spawn`` method, which runs the calling script
    again in each of them: call ``run`` under ``if __name__ == "__main__":``. Rerunning the
    same call after a crash, a ``SIGKILL``, Ctrl-C or a full disk finishes the sweep: finished
    cells are not run again, lost ones are. Several ``run`` calls (on several hosts, with an
    RDB ``storage``) may work on one sweep at the same time.

    Args:
        config: a :class:`SweepConfig` or the path of its TOML file.
        workers: worker processes (default: ``len(devices)``, else 1).
        devices: devices such as ``["cuda:0", "cuda:1"]`` (or the string ``"cuda:0,cuda:1"``).
        storage: a journal file path or an Optuna RDB URL such as
            ``postgresql+psycopg2://user@host/db`` (default: ``config.storage``, else
            ``<out>/sweep.journal``).
        out: output folder for the journal, per-cell curves and reports
            (default ``results/<name>``).
        progress: show a tqdm bar per worker.
        retry_failed: run the cells that failed ``1 + max_retries`` times again, with a fresh
            retry budget (their failed claims stay in the study; the report keeps one row per
            cell).

    Returns:
        The :class:`SweepStatus` after the workers stopped; ``failed`` counts the cells that
        failed for good (``retry_failed=True`` runs them again).

    Raises:
        ValueError: bad ``workers``, ``devices``, ``storage`` or ``out``, or a dataset
            registered with a loader that worker processes cannot import (a lambda, a
            function defined inside another; :func:`deepgnn.data.register`).
        FileNotFoundError: a dataset's files are missing (checked before any cell runs, by
            :func:`deepgnn.data.require`; the message says where to put them).
        OSError: a file could not be written, e.g. the disk is full (the message names the
            file; what was recorded stays readable).
        RuntimeError: a worker process exited abnormally with cells left (the message has its
            error; rerun to finish the sweep; with every cell recorded it is logged, not
            raised), or the call would be run again by its own workers (no
            ``if __name__ == "__main__":`` guard).

    Example (from a shell: one worker per GPU, resumable)::

        deepgnn sweep run sweeps/depth_cora.toml --devices cuda:0,cuda:1
    """
    config = as_config(config)
    devs = _check_devices(devices)
    if workers is None:
        workers = len(devs) if devices is not None else 1
    check_int("workers", workers, minimum=1)
    spawn = workers > 1 or len(devs) > 1
    if spawn:
        unguarded = "a spawned worker's copy of the main script" if _spawned_rerun() else None
        unguarded = unguarded or _unguarded_call()
        if unguarded is not None:
            raise RuntimeError(_GUARD.format(workers=workers, where=unguarded))
    if spawn:
        _check_portable(config)
    folder = out_dir(config, out)
    for name in config.data["name"]:
        # Every cell of a dataset without its files would fail the same way, each try.
        data.require(name, config.data["root"][0])
    _log_models_size(config, folder)
    with stop_on_os_error():
        folder.mkdir(parents=True, exist_ok=True)
        # Create the study once here, so that the workers only load it.
        ledger = Ledger(config, storage=storage, out=folder, write=True)
        if retry_failed:
            ledger.retry_failed()
    if not spawn:
        _work(config, storage=storage, out=folder, device=devs[0], progress=progress, ledger=ledger)
        return status(config, storage=storage, out=folder)

    import multiprocessing

    import torch

    ctx = multiprocessing.get_context("spawn")
    errors = ctx.SimpleQueue()
    assigned = [devs[i % len(devs)] for i in range(workers)]
    n_cpu = sum(1 for d in assigned if d is None and not torch.cuda.is_available() or d == "cpu")
    threads = max(1, (os.cpu_count() or 1) // max(n_cpu, 1))
    procs = []
    for i, dev in enumerate(assigned):
        on_cpu = dev == "cpu" or (dev is None and not torch.cuda.is_available())
        args = (
            config,
            storage,
            str(folder),
            dev,
            i,
            threads if on_cpu else None,
            progress,
            logging.getLogger().getEffectiveLevel(),
            errors,
        )
        p = ctx.Process(target=_worker_main, args=args, name=f"deepgnn-sweep-{i}")
        p.start()
        procs.append(p)
    try:
        for p in procs:
            p.join()
    except KeyboardInterrupt:
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join()
        raise
    bad = [(p.name, p.exitcode) for p in procs if p.exitcode != 0]
    reports = []
    while not errors.empty():
        reports.append(errors.get())
    final = status(config, storage=storage, out=folder)
    if bad and final.finished:
        # What a worker tripped over after the last cell was recorded (a claim another worker
        # had just failed, a full disk at its last write) leaves nothing to rerun.
        log.warning(
            "worker processes %s stopped (%s), but every cell is recorded: %s",
            bad,
            "; ".join(dict.fromkeys(reports)) or "no error reported",
            final,
        )
        return final
    if bad and reports:
        raise RuntimeError(
            f"worker processes {bad} stopped: " + "; ".join(dict.fromkeys(reports)) + f" ({final})"
        )
    if bad:
        raise RuntimeError(
            f"worker processes {bad} exited abnormally ({final}); rerun the same command to "
            "finish the sweep"
        )
    return final
