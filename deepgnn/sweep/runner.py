"""Sweep workers: processes that claim cells from the ledger, run them and record their rows.

Each worker pulls the next cell from the :class:`~deepgnn.sweep.ledger.Ledger`, runs it with
:func:`deepgnn.experiment.run_cell` (the same path ``deepgnn train`` takes), and records its
row with the bookkeeping columns (attempt, trial, worker, host, versions, wall time). A cell
that raises is recorded as failed with its error text and retried up to ``max_retries`` times;
the sweep goes on. A diverged run (NaN/inf loss) is a result (``status="diverged"``), not a
failure. Worker processes are ``spawn``ed, one per entry of ``devices``.
"""

from __future__ import annotations

import logging
import os
import random
import signal as _signal
import socket
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from deepgnn import experiment
from deepgnn._checks import check_int
from deepgnn.sweep.config import SweepConfig, as_config, out_dir
from deepgnn.sweep.ledger import Claim, Ledger, SweepStatus, open_study, status
from deepgnn.sweep.tune import TuneUnit, run_unit

__all__ = ["run"]

log = logging.getLogger(__name__)


def _work(
    config: SweepConfig,
    *,
    storage: str | None,
    out: Path,
    device: str | None,
    progress: bool,
    position: int = 0,
) -> int:
    """Pull cells until none are left; return how many this worker computed."""
    ledger = Ledger(config, storage=storage, out=out)
    worker = f"{socket.gethostname()}:{os.getpid()}"
    rng = random.Random(f"{worker}:{time.time()}")
    versions = _versions()
    poll = min(config.heartbeat_interval, 2.0)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        desc = f"{config.name} [{device or 'auto'}]"
        bar = tqdm(total=len(ledger.units), position=position, desc=desc, unit="cell")
    ran = 0
    try:
        while True:
            claim = ledger.next_claim(rng, poll=poll)
            if bar is not None and ledger.finished > bar.n:
                bar.update(ledger.finished - bar.n)
            if claim is None:
                break
            ran += 1
            _run_claim(ledger, claim, out=out, device=device, versions=versions, worker=worker)
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
    base = {**unit.columns(), "attempt": claim.attempt, "trial": claim.trial.number}
    base.update(worker=worker, host=socket.gethostname())
    base.update({f"{k}_version": v for k, v in versions.items()})
    start = time.perf_counter()
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
                    curves=out / "curves" / f"{unit.key}.csv",
                ).row
                row.update({f"tuned_{k}": v for k, v in tuned.items()})
            error = None
        except Exception as err:
            log.warning("%s failed (attempt %d)", unit.key, claim.attempt, exc_info=True)
            error = f"{type(err).__name__}: {err}"[:4000]
            row = {"status": "failed", "device": str(device or "auto")}
            _free_cuda()
    row = {**base, **row, "wall_seconds": time.perf_counter() - start, "error": error or ""}
    ledger.record(claim, row, error)


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
) -> None:
    """Entry point of a spawned worker process."""
    import optuna
    import torch

    logging.basicConfig(level=log_level, format="%(asctime)s %(name)s: %(message)s")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if threads is not None:
        torch.set_num_threads(threads)

    def _terminate(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    _signal.signal(_signal.SIGTERM, _terminate)
    _work(
        config, storage=storage, out=Path(out), device=device, progress=progress, position=position
    )


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
) -> SweepStatus:
    """Run (or resume) a sweep: ``workers`` processes pull cells until none are left.

    Worker ``i`` runs on ``devices[i % len(devices)]`` (default: CUDA when available, else
    CPU). With one worker and at most one device the cells run in this process; otherwise
    worker processes are started with the ``spawn`` method. Rerunning the same call after a
    crash, a ``SIGKILL`` or Ctrl-C finishes the sweep: finished cells are not run again, lost
    ones are. Several ``run`` calls (on several hosts, with an RDB ``storage``) may work on one
    sweep at the same time.

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

    Returns:
        The :class:`SweepStatus` after the workers stopped.

    Raises:
        ValueError: bad ``workers`` or ``devices``.
        RuntimeError: a worker process exited abnormally (rerun to finish the sweep).

    Example (from a shell: one worker per GPU, resumable)::

        deepgnn sweep run sweeps/depth_cora.toml --devices cuda:0,cuda:1
    """
    config = as_config(config)
    devs = _check_devices(devices)
    if workers is None:
        workers = len(devs) if devices is not None else 1
    check_int("workers", workers, minimum=1)
    folder = out_dir(config, out)
    folder.mkdir(parents=True, exist_ok=True)
    # Create the study once here, so that the workers only load it.
    open_study(config, storage=storage, out=folder)
    if workers == 1 and len(devs) == 1:
        _work(config, storage=storage, out=folder, device=devs[0], progress=progress)
        return status(config, storage=storage, out=folder)

    import multiprocessing

    import torch

    ctx = multiprocessing.get_context("spawn")
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
    final = status(config, storage=storage, out=folder)
    if bad:
        raise RuntimeError(
            f"worker processes {bad} exited abnormally ({final}); rerun the same command to "
            "finish the sweep"
        )
    return final
