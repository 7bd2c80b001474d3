r"""Experiments: one cell of a study, and the signal-propagation depth table.

A **cell** is one experiment: dataset → model → initialization → (signal analysis) → training
→ one row. :func:`run_cell` is the only place that does it; the sweep runner
(:mod:`deepgnn.sweep`) and the ``deepgnn train`` command call it, so a cell gives the same row
wherever it runs. :func:`depth_table` builds, initializes and measures (no training) a model
for every depth × initialization × seed; :func:`format_depth_table` and
:func:`plot_depth_table` present it.
"""

from __future__ import annotations

import contextlib
import gzip
import inspect
import io
import itertools
import json
import logging
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import Tensor

from deepgnn import _plot, adapters, data, init, train
from deepgnn._checks import check_choice, check_int, resolve_device
from deepgnn._io import jsonable, load_saved, save_figure, write_atomic
from deepgnn._progress import progress_bar
from deepgnn.data import Dataset
from deepgnn.graph import Graph
from deepgnn.models import GNN, available, build
from deepgnn.search import search_many
from deepgnn.signal import MEASURES, analyze, jacobian_spectrum
from deepgnn.train import TrainResult, train_graph, train_node

__all__ = [
    "AFTER_TRAINING",
    "MANAGED",
    "RECORD",
    "SIGNAL_MEASURES",
    "SPLIT_SEED",
    "CellResult",
    "CellSpec",
    "batch_key",
    "build_model",
    "check_measures",
    "clear_cache",
    "curve_rows",
    "depth_table",
    "device_name",
    "format_depth_table",
    "load_cell_model",
    "plot_depth_table",
    "resolve_cell",
    "reuse_searches",
    "run_cell",
    "run_cells",
]

logger = logging.getLogger(__name__)

#: What a cell can record: ``final`` (the training result), ``signal_init`` /
#: ``signal_final`` (the :func:`~deepgnn.signal.analyze` summary before / after training, as
#: ``sp_init_*`` / ``sp_final_*`` columns; node datasets), ``curves`` (the per-epoch log) and
#: ``models`` (the initial and trained weights, a ``.pt`` file; node datasets;
#: :func:`deepgnn.experiment.load_cell_model`).
RECORD = ("final", "signal_init", "signal_final", "curves", "models")
#: What ``record`` may list that measures or keeps the weights a run ends with: there, the
#: trainer's ``restore_best`` changes what is recorded, and enters the cell's resolved settings.
AFTER_TRAINING = ("signal_final", "models")
#: Extra measures a cell's signal summary can take: :data:`deepgnn.signal.MEASURES` and
#: ``jacobian`` (:func:`~deepgnn.signal.jacobian_spectrum`).
SIGNAL_MEASURES = (*MEASURES, "jacobian")


def check_measures(measures: Sequence[str], record: Sequence[str]) -> None:
    """Check ``measures`` against :data:`SIGNAL_MEASURES`; they need a signal in ``record``.

    Raises:
        ValueError: an unknown measure, or measures without ``signal_init``/``signal_final``.
    """
    if isinstance(measures, str) or not isinstance(measures, Sequence):
        raise ValueError(f"measures={measures!r}; pass a list such as measures = ['dirichlet']")
    for m in measures:
        check_choice("measures", m, SIGNAL_MEASURES)
    if measures and not {"signal_init", "signal_final"} & set(record):
        raise ValueError(
            f"measures={list(measures)} are taken with the signal summary; add 'signal_init' "
            "(or 'signal_final') to record, or drop measures"
        )


#: ``train={"split": SPLIT_SEED}``: the cell of seed ``s`` uses split ``s`` (mod the dataset's
#: number of splits).
SPLIT_SEED = "seed"
#: Keywords of the trainers that :func:`run_cell` sets itself; a cell's train options never
#: hold them.
MANAGED = frozenset(
    {"model", "dataset", "init", "init_options", "device", "seed", "progress", "on_epoch"}
)


# ---------------------------------------------------------------------------- a cell
@dataclass(frozen=True)
class CellSpec:
    """One experiment: what :func:`run_cell` builds, initializes and trains.

    Attributes:
        dataset: a name from :func:`deepgnn.data.available`, read from ``root``.
        family: a model family (:func:`deepgnn.models.available`), or a factory
            ``"package.module:function"`` (:func:`deepgnn.adapters.from_factory`).
        depth: graph layers.
        init: an init scheme (:func:`deepgnn.init.available`), or ``None`` to keep
            :func:`~deepgnn.build`'s own initialization.
        seed: seeds the model, the initialization and the training.
        model: the other keyword options of :func:`~deepgnn.build` (``width``, ``activation``,
            ``dropout``, family options, ...).
        init_options: keyword options of the init scheme.
        train: keyword options of :func:`~deepgnn.train.train_node` (or
            :func:`~deepgnn.train.train_graph` for graph datasets); ``split`` may be
            :data:`SPLIT_SEED`. With a ``protocol``, a ``dropout`` in ``model`` still wins
            over the protocol's.
        root: the data folder (``None``: ``$DEEPGNN_DATA``).
        data_options: keyword options of :func:`deepgnn.data.load` for ``dataset`` (``csbm``'s
            arguments, a registered loader's keywords; :func:`deepgnn.data.options`).
    """

    dataset: str
    family: str
    depth: int
    init: str | None = None
    seed: int = 0
    model: Mapping[str, Any] = field(default_factory=dict)
    init_options: Mapping[str, Any] = field(default_factory=dict)
    train: Mapping[str, Any] = field(default_factory=dict)
    root: str | None = None
    data_options: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class CellResult:
    """What :func:`run_cell` produced.

    Attributes:
        row: the cell's row: ``split`` (when one was chosen), ``sp_init_*`` / ``sp_final_*``
            signal columns (when recorded), the :class:`~deepgnn.train.TrainResult` fields,
            ``status`` (``ok`` or ``diverged``) and ``device``.
        result: the training result (with its per-epoch ``log``).
        model: the trained model.
    """

    row: dict[str, Any]
    result: TrainResult
    model: GNN


_DATASETS: dict[tuple[str, str, str | None, str], Any] = {}


def _dataset(spec: CellSpec, device: Any) -> Any:
    """Load once per process, dataset options and device."""
    name, root = spec.dataset, spec.root
    options = json.dumps(dict(spec.data_options), sort_keys=True, default=str)
    cpu = _DATASETS.get((name, options, root, "cpu"))
    if cpu is None:
        cpu = data.load(name, root=root, **spec.data_options)
        _DATASETS[(name, options, root, "cpu")] = cpu
    key = (name, options, root, str(device))
    if key not in _DATASETS:
        to = getattr(cpu, "to", None)
        _DATASETS[key] = to(device) if to is not None and device.type != "cpu" else cpu
    return _DATASETS[key]


def device_name(device: Any) -> str:
    """The hardware behind ``device``: the GPU's name (``NVIDIA H200``), else the CPU's."""
    import platform

    dev = torch.device(device)
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    return f"CPU {platform.machine()} ({torch.get_num_threads()} threads)"


def clear_cache() -> None:
    """Forget the datasets :func:`run_cell` keeps loaded (one copy per dataset, dataset
    options and device)."""
    _DATASETS.clear()


def build_model(dataset: Any, family: str, depth: int, *, seed: int, **options: Any) -> GNN:
    """Build ``family`` with the dimensions ``dataset`` needs, parameters drawn from ``seed``.

    Node datasets: ``in_dim`` = features, ``out_dim`` = classes. Graph datasets: the model
    maps atom embeddings of ``width`` to node embeddings of ``width`` (the encoder and head
    belong to :class:`~deepgnn.train.GraphClassifier`). A ``family`` spelled
    ``"package.module:function"`` is a factory (:func:`deepgnn.adapters.from_factory`): it is
    called with ``in_dim``, ``out_dim``, ``depth`` and ``options``, and its model wrapped.
    """
    if adapters.is_factory(family) and getattr(dataset, "task", "node") == "graph":
        raise ValueError(
            f"factory {family!r} builds node classifiers; {dataset.name} is a "
            "graph-classification dataset"
        )
    if getattr(dataset, "task", "node") == "graph":
        width = options.get("width", 64)
        in_dim, out_dim = width, width
    else:
        in_dim, out_dim = dataset.num_features, dataset.num_classes
    return _build(family, in_dim, out_dim, depth, seed, options)


def _build(
    family: str, in_dim: int, out_dim: int, depth: int, seed: int, options: Mapping[str, Any]
) -> GNN:
    """A family's model, or a factory's wrapped, of these dimensions."""
    if adapters.is_factory(family):
        return adapters.from_factory(family, in_dim, out_dim, depth, seed=seed, **options)
    return build(family, in_dim, out_dim, depth, seed=seed, **options)


def _signal_columns(
    prefix: str, model: GNN, ds: Dataset, seed: int, measures: Sequence[str] = ()
) -> dict[str, Any]:
    """The :func:`~deepgnn.signal.analyze` summary as ``sp_<prefix>_*`` columns; with
    ``"jacobian"`` in ``measures`` also the input-output Jacobian's extreme singular values
    (:func:`~deepgnn.signal.jacobian_spectrum`, k=1, 16 Lanczos steps: ``top`` converges in
    a few, ``bottom`` is an upper bound of the smallest) and their log10 ratio."""
    graph_measures = tuple(m for m in measures if m != "jacobian")
    df = analyze(
        model, ds.graph, ds.x, ds.y, mask=ds.train_mask, seed=seed, measures=graph_measures
    )
    summary = dict(df.attrs["summary"])
    if "jacobian" in measures:
        spec = jacobian_spectrum(model, ds.graph, ds.x, k=1, steps=16, seed=seed)
        top, bottom = float(spec["top"][0]), float(spec["bottom"][0])
        summary.update(jacobian_top=top, jacobian_bottom=bottom)
        ratio = top / bottom if bottom > 0 else math.inf
        summary["jacobian_spread"] = math.log10(ratio) if ratio > 0 else math.nan
    cols = {}
    for k, v in summary.items():
        if hasattr(v, "item"):
            v = v.item()
        if isinstance(v, (bool, int, float)):
            cols[f"sp_{prefix}_{k}"] = v
    return cols


def _init_options(spec: CellSpec, activation: str) -> dict[str, Any]:
    """The cell's init options; a scheme with a ``nonlinearity`` option left unset gets the
    model's activation (Kaiming's gain for a tanh model is 5/3); SPoGInit's search is seeded
    by the cell's seed and runs without a progress bar."""
    options = dict(spec.init_options)
    assert spec.init is not None
    if "nonlinearity" in init.options(spec.init) and "nonlinearity" not in options:
        options["nonlinearity"] = activation
    if spec.init == "spoginit":
        options.setdefault("seed", spec.seed)
        options.setdefault("progress", False)
    return options


def _train_options(spec: CellSpec) -> dict[str, Any]:
    """The cell's train options as the trainer gets them: with a protocol, a ``dropout`` in
    ``model`` wins over the protocol's."""
    train_kw = dict(spec.train)
    if "dropout" in spec.model and train_kw.get("protocol") is not None:
        train_kw.setdefault("dropout", spec.model["dropout"])
    return train_kw


def resolve_cell(
    spec: CellSpec, *, record: Sequence[str] = ("final",)
) -> dict[str, dict[str, Any]]:
    """Return what decides a cell's numbers beyond its own settings: the library's defaults, applied.

    ``{"init": ..., "train": ...}``: the init scheme's options as it runs them
    (:func:`deepgnn.init.resolve_options`; for SPoGInit the resolved objective, method,
    settings and budget for the cell's family, its search seed left out where it is the
    cell's own; ``{}`` for ``init=None``) and the training
    settings (:func:`deepgnn.train.resolve_options`: the protocol's learning rate, dropout,
    epochs, ... for the cell's depth and family). Computed without data or a model; a sweep
    records both with every row and hashes them into the cell's key, so a change of a
    library default (:func:`deepgnn.search.objective_defaults`, a protocol's table) makes new
    cells instead of passing old results off as current.

    The trainer's ``restore_best`` (default ``True``) decides only which weights the model
    ends with, so it is a setting only where ``record`` measures or keeps those weights
    (:data:`AFTER_TRAINING`: ``signal_final``, ``models``), and only when on:
    ``restore_best=False``, the behaviour before it existed, leaves the settings (and the key
    of a cell recorded then) as they were. Likewise a ``precision`` other than ``"fp32"`` is
    a setting (:func:`deepgnn.train.resolve_options`), and ``"fp32"``, how every cell
    computed before the option existed, is not.

    Example:
        >>> spec = CellSpec("cora", "gcn", 32, init="spoginit", seed=1,
        ...                 model={"activation": "tanh"}, train={"protocol": "spoginit-paper"})
        >>> r = resolve_cell(spec)
        >>> r["init"]["form"], r["init"]["method"], r["train"]["lr"], r["train"]["dropout"]
        ('divide_old', 'gauss_newton', 0.0005, 0.0)
    """
    train_kw = _train_options(spec)
    train_kw.pop("split", None)
    family = spec.family
    activation = spec.model.get("activation", _BUILD_DEFAULTS["activation"])
    if adapters.is_factory(family):
        # a factory's model says which family's defaults it takes and its activation
        # (deepgnn.wrap(..., family=, activation=)): a tiny one is built to ask
        probe = adapters.from_factory(family, 3, 2, spec.depth, **spec.model)
        family, activation = probe.family, probe.activation
    resolved_train = train.resolve_options(
        data.task(spec.dataset), depth=spec.depth, family=family, **train_kw
    )
    resolved_train.pop("split", None)  # which split a cell uses is its own setting
    if set(AFTER_TRAINING) & set(record) and train_kw.get("restore_best", True):
        resolved_train["restore_best"] = True
    if spec.init is None:
        return {"init": {}, "train": resolved_train}
    options = _init_options(spec, str(activation))
    options.pop("progress", None)
    resolved_init = init.resolve_options(spec.init, family=family, **options)
    if spec.init == "spoginit" and "seed" not in spec.init_options:
        del resolved_init["seed"]  # the cell's own seed, a column of its own
    return {"init": resolved_init, "train": resolved_train}


_BUILD_DEFAULTS = {name: p.default for name, p in inspect.signature(build).parameters.items()}


@dataclass
class _Search:
    """A cell's SPoGInit search, deferred to run with those of its group (:func:`run_cells`):
    the model holds its base weights, on the device."""

    model: GNN
    ds: Dataset
    options: dict[str, Any]
    #: where its weights are kept once searched, while :func:`reuse_searches` is on
    key: str | None = None


#: SPoGInit-initialized weights by cell (all but its training settings), while
#: :func:`reuse_searches` is on.
_SEARCHED: dict[str, dict[str, Tensor]] | None = None


@contextlib.contextmanager
def reuse_searches() -> Iterator[None]:
    """Within this context a SPoGInit cell searches once: a cell that differs from one run
    before only in its training settings starts from the weights that search gave.

    The trials of a tuning unit (:mod:`deepgnn.sweep.tune`) are such cells: the same model,
    seed, split and initialization, each with other training settings. Outside the context
    every cell searches afresh. The weights are kept on the device they were searched on.
    """
    global _SEARCHED
    outer = _SEARCHED
    _SEARCHED = {} if outer is None else outer
    try:
        yield
    finally:
        _SEARCHED = outer


def _search_key(spec: CellSpec, ds: Dataset, dev: Any) -> str:
    split = getattr(ds, "split_index", None)
    fields = [spec.dataset, spec.family, spec.depth, spec.model, spec.init, spec.init_options]
    return json.dumps([*fields, spec.seed, split, str(dev)], sort_keys=True, default=str)


def _init_node_model(
    spec: CellSpec,
    model: GNN,
    options: dict[str, Any],
    cpu: Dataset,
    ds: Dataset,
    dev: Any,
    *,
    defer: bool = False,
) -> _Search | None:
    """Initialize a node-task model in place from the cell's seed.

    Random draws happen on the CPU, so every device starts from the same weights. SPoGInit
    draws its base on the CPU, then runs its search where the cell trains (the search is most
    of its cost), on the dataset's features and the split's training labels. With ``defer``,
    a search on the real data is returned instead of run (:func:`_run_searches` runs it).
    """
    assert spec.init is not None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(spec.seed)
        if spec.init != "spoginit":
            init.init_(model, spec.init, graph=cpu.graph, x=cpu.x, **options)
            return None
        base = options.pop("base", "xavier")
        layers = options.pop("base_layers", "all")
        if base is not None:
            base_options = {"layers": layers} if "layers" in init.options(base) else {}
            init.init_(model, base, **base_options)
    model.to(dev)
    key = _search_key(spec, ds, dev) if _SEARCHED is not None else None
    if _SEARCHED is not None and key in _SEARCHED:
        model.load_state_dict(_SEARCHED[key])
        return None
    if defer and options.get("data", "real") == "real":
        options.pop("data", None)
        return _Search(model, ds, options, key)
    init.spoginit_(model, ds.graph, ds.x, ds.y, mask=ds.train_mask, base=None, **options)
    _keep_search(key, model)
    return None


def _keep_search(key: str | None, model: GNN) -> None:
    """Keep a searched model's weights under ``key`` while :func:`reuse_searches` is on."""
    if _SEARCHED is not None and key is not None:
        _SEARCHED[key] = {k: v.detach().clone() for k, v in model.state_dict().items()}


def _run_searches(searches: dict[int, _Search]) -> dict[int, Exception]:
    """Run the deferred searches of a group together (:func:`deepgnn.search.search_many`:
    one stacked evaluation per round) and apply each one's scales; the members whose
    search raised, with their errors."""
    keys = list(searches)
    if not keys:
        return {}
    first = searches[keys[0]].ds
    models = [searches[i].model for i in keys]
    masks = [searches[i].ds.train_mask for i in keys]
    options = [searches[i].options for i in keys]
    try:
        results = search_many(models, first.graph, first.x, first.y, masks=masks, options=options)
    except Exception as err:  # e.g. out of memory for the stack: each searches alone
        logger.warning(
            "%d SPoGInit searches could not run together (%s: %s); they run one by one",
            len(keys),
            type(err).__name__,
            err,
        )
        results = [
            search_many([m], first.graph, first.x, first.y, masks=[mask], options=[o])[0]
            for m, mask, o in zip(models, masks, options)
        ]
    failed: dict[int, Exception] = {}
    for i, result in zip(keys, results):
        if isinstance(result, Exception):
            failed[i] = result
        else:
            init.scale_(searches[i].model, result.scales, gates=result.gates)
            _keep_search(searches[i].key, searches[i].model)
    return failed


def run_cell(
    spec: CellSpec,
    *,
    device: Any = None,
    record: Sequence[str] = ("final",),
    measures: Sequence[str] = (),
    curves: str | Path | None = None,
    curve_every: int = 1,
    models: str | Path | None = None,
    progress: bool = False,
    on_epoch: Any = None,
) -> CellResult:
    """Run one cell: load the dataset, build the model, initialize, (analyze,) train; one row.

    Node datasets: the model is built from the cell's seed, initialized on the CPU from that
    seed (the same weights on any device; SPoGInit's search then runs on ``device``), measured
    by :func:`~deepgnn.signal.analyze` when ``record`` asks for it, and trained with
    :func:`~deepgnn.train.train_node` seeded by the cell's seed. Graph datasets go to
    :func:`~deepgnn.train.train_graph`, which initializes the model inside (graph-dependent
    inits see the atom encoder's embedding of the first training batch).

    Args:
        spec: the cell.
        device: where to train (default: CUDA when available, else CPU).
        record: a subset of :data:`RECORD`.
        measures: extra init/final signal measures with ``signal_init``/``signal_final``, a
            subset of :data:`SIGNAL_MEASURES` (``dirichlet``, ``mad``, ``rank`` of
            :func:`~deepgnn.signal.analyze`, ``jacobian``: the Jacobian's extreme singular
            values); they cost extra time.
        curves: with ``"curves"`` in ``record``, the CSV file the per-epoch log is written to
            (gzip-compressed when its name ends in ``.gz``).
        curve_every: keep every ``curve_every``-th epoch of the log in ``curves`` (and the
            first, the best-validation and the last epoch; :func:`curve_rows`).
        models: with ``"models"`` in ``record``, the ``.pt`` file the initial and trained
            weights are written to (``torch.save`` of ``{"init": state_dict, "trained":
            state_dict, "cell": ..., "result": ...}``; :func:`load_cell_model` reads it). The
            trained weights are those the model ends with: the best-validation epoch's under
            the trainer's default ``restore_best=True``.
        progress: show a tqdm bar over the epochs.
        on_epoch: passed to the trainer (called with every epoch's log row).

    Returns:
        A :class:`CellResult`. Its row holds, beside the training result, ``init_seconds``
        (node datasets with an ``init``: the wall time of the initialization, SPoGInit's
        search included; in :func:`run_cells` a searched cell's counts its group's searches).

    Raises:
        ValueError: train options that do not apply to the dataset's task, or signal
            recording (or ``models``) asked for a graph dataset.
    """
    for r in record:
        check_choice("record", r, RECORD)
    check_measures(measures, record)
    dev = resolve_device(device)
    cpu = _dataset(spec, torch.device("cpu"))
    graph_task = getattr(cpu, "task", "node") == "graph"
    model = build_model(cpu, spec.family, spec.depth, seed=spec.seed, **spec.model)
    # An explicit model dropout overrides the protocol's (train_node would set its own).
    train_kw = _train_options(spec)
    trainer = train_graph if graph_task else train_node
    accepted = set(inspect.signature(trainer).parameters)
    extra = sorted(set(train_kw) - accepted)
    if extra:
        raise ValueError(
            f"train options {extra} do not apply to {spec.dataset} ({trainer.__name__}); its "
            f"options are {sorted(accepted - MANAGED)}"
        )
    init_options = _init_options(spec, model.activation) if spec.init is not None else None
    row: dict[str, Any] = {}
    if graph_task:
        if {"signal_init", "signal_final", "models"} & set(record):
            raise ValueError(
                f"{spec.dataset} is a graph-classification dataset: signal recording and saved "
                "models apply to node datasets only; drop 'signal_init'/'signal_final'/'models' "
                "from record"
            )
        result = train_graph(
            model,
            cpu,
            init=spec.init,
            init_options=init_options,
            device=dev,
            seed=spec.seed,
            progress=progress,
            on_epoch=on_epoch,
            **train_kw,
        )
        initial = None
    else:
        ds = _prepare_node(spec, model, train_kw, cpu, dev, record, measures, row)
        initial = _cpu_state(model) if "models" in record else None
        result = train_node(
            model, ds, device=dev, seed=spec.seed, progress=progress, on_epoch=on_epoch, **train_kw
        )
        if "signal_final" in record:
            row.update(_signal_columns("final", model, ds, spec.seed, measures))
    saved = _Saved(models, initial, spec, cpu) if initial is not None else None
    return _finish(result, model, row, dev, record, curves, curve_every, saved)


def _prepare_node(
    spec: CellSpec,
    model: GNN,
    train_kw: dict[str, Any],
    cpu: Dataset,
    dev: torch.device,
    record: Sequence[str],
    measures: Sequence[str],
    row: dict[str, Any],
    searches: list[_Search] | None = None,
) -> Dataset:
    """Choose the cell's split (popped from ``train_kw``, recorded in ``row``), initialize
    ``model`` and move it to ``dev``, record the signal at init; return the dataset on ``dev``
    showing the split. Given ``searches``, a SPoGInit search is appended there instead of run
    (the signal at init is then the caller's to record, after the search)."""
    ds = _dataset(spec, dev)
    split = train_kw.pop("split", None)
    if split == SPLIT_SEED:
        split = spec.seed % cpu.num_splits
    if split is not None:
        cpu, ds = cpu.split(split), ds.split(split)
        row["split"] = split
    if spec.init is not None:
        start = time.perf_counter()
        pending = _init_node_model(
            spec,
            model,
            _init_options(spec, model.activation),
            cpu,
            ds,
            dev,
            defer=searches is not None,
        )
        row["init_seconds"] = time.perf_counter() - start
        if pending is not None:
            assert searches is not None
            searches.append(pending)
            return ds  # the signal at init is measured once the search has run
    model.to(dev)
    if "signal_init" in record:
        row.update(_signal_columns("init", model, ds, spec.seed, measures))
    return ds


def _cpu_state(model: GNN) -> dict[str, Tensor]:
    """A copy of ``model``'s state on the CPU."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


@dataclass
class _Saved:
    """What a cell's models file needs besides the trained model: where it goes, the initial
    weights, the cell and its dataset (for the model's dimensions)."""

    path: str | Path | None
    initial: dict[str, Tensor]
    spec: CellSpec
    dataset: Any


#: The layout version of a models file (:func:`load_cell_model`).
_MODELS_FORMAT = 1


def _write_models(saved: _Saved, model: GNN, result: TrainResult, split: Any) -> None:
    """Write the cell's initial and trained weights with what rebuilds its model; atomically."""
    if saved.path is None:
        return
    spec = saved.spec
    cell = {
        "dataset": spec.dataset,
        "family": spec.family,
        "depth": spec.depth,
        "init": spec.init,
        "seed": spec.seed,
        "model": jsonable(dict(spec.model)),
        "in_dim": int(saved.dataset.num_features),
        "out_dim": int(saved.dataset.num_classes),
        "split": split,
    }
    payload = {
        "format": _MODELS_FORMAT,
        "init": saved.initial,
        "trained": _cpu_state(model),
        "cell": cell,
        "result": {
            "metric": result.metric,
            "test": float(result.test),
            "val": float(result.val),
            "best_epoch": int(result.best_epoch),
            "epochs": int(result.epochs),
            "restore_best": bool(result.restore_best),
        },
        "torch": str(torch.__version__),
    }
    buf = io.BytesIO()
    torch.save(payload, buf)
    write_atomic(saved.path, buf.getvalue())


def load_cell_model(path: str | Path, *, which: str = "trained") -> GNN:
    """Return the model a sweep cell saved (``record = [..., "models"]``), rebuilt with its weights.

    A cell's file, ``<out>/models/<cell>.pt``, holds its initial and trained weights and the
    settings that build its model (family, depth, dimensions, ``[model]`` options). The model
    is built as the cell built it and given the weights with ``load_state_dict`` (strict), on
    the CPU, in eval mode. The file is read with ``torch.load(..., weights_only=True)``, which
    unpickles tensors and plain containers only: a file from elsewhere cannot run code.

    Args:
        path: the cell's ``.pt`` file.
        which: ``"trained"`` (the weights the run ended with: its best-validation epoch's
            under the trainer's default ``restore_best=True``) or ``"init"`` (the weights
            training started from).

    Returns:
        The model. The file's other entries, ``cell`` (dataset, seed, split, ...) and
        ``result`` (the recorded ``test`` / ``val``, ``best_epoch``, ``restore_best``), are
        plain values: ``torch.load(path, weights_only=True)`` reads them.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: ``which`` is neither, or the file is not a cell's models file.

    Example:
        >>> import deepgnn, tempfile, pathlib
        >>> spec = CellSpec("cora", "gcn", 2, init="xavier", model={"width": 16},
        ...                 train={"epochs": 5})
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "cell.pt"
        >>> cell = run_cell(spec, device="cpu", record=["final", "models"], models=path)
        >>> model = load_cell_model(path)
        >>> ds = deepgnn.data.load("cora")
        >>> ds.evaluate(model(ds.graph, ds.x), ds.test_mask) == cell.row["test"]
        True
    """
    check_choice("which", which, ("trained", "init"))
    path = Path(path)
    payload = load_saved(
        path,
        missing=f"no models file {str(path)!r}; a sweep writes <out>/models/<cell>.pt for each "
        "cell when its record lists 'models'",
        invalid=f"{str(path)!r} is not a models file a sweep cell wrote",
        fix="pass <out>/models/<cell>.pt",
        format=_MODELS_FORMAT,
    )
    cell = payload["cell"]
    model = _build(
        cell["family"],
        cell["in_dim"],
        cell["out_dim"],
        cell["depth"],
        cell["seed"],
        dict(cell["model"]),
    )
    model.load_state_dict(payload[which])
    return model.eval()


def _finish(
    result: TrainResult,
    model: GNN,
    row: dict[str, Any],
    dev: torch.device,
    record: Sequence[str],
    curves: str | Path | None,
    curve_every: int,
    saved: _Saved | None = None,
) -> CellResult:
    """Write the cell's curve and models (when recorded) and complete its row."""
    if saved is not None and "models" in record:
        _write_models(saved, model, result, row.get("split"))
    if curves is not None and "curves" in record:
        every = check_int("curve_every", curve_every, minimum=1)
        rows = curve_rows(result.log, every, best_epoch=result.best_epoch)
        text = rows.to_csv(index=False, float_format="%.6g")
        if str(curves).endswith(".gz"):
            # mtime=0: the same curve gives the same bytes (no timestamp in the header)
            write_atomic(curves, gzip.compress(text.encode(), mtime=0))
        else:
            write_atomic(curves, text)
    row.update(result.as_row())
    row["status"] = "diverged" if result.diverged else "ok"
    row["device"] = str(dev)
    row["device_name"] = device_name(dev)
    return CellResult(row=row, result=result, model=model)


#: The training settings each member of a batched group has its own of (:func:`run_cells`).
_PER_MEMBER = ("lr", "weight_decay", "dropout")


def batch_key(spec: CellSpec) -> str | None:
    """Return what cells must share to train as one batch, or ``None`` if ``spec`` cannot.

    Cells with equal keys differ only in their seed, initialization (scheme and options),
    split, learning rate, weight decay (a number) and dropout, and :func:`run_cells` trains them
    together (:func:`deepgnn.train.train_node_batched`, each member with its own of these):
    same dataset, dataset options and data folder, family, depth, model options and the other
    training settings. ``None`` for graph datasets and for settings
    :func:`deepgnn.train.batch_obstacle` refuses (a family without batched form, norms,
    checkpointing, ``schedule="plateau"``, DropEdge).

    Example:
        >>> a = CellSpec("cora", "gcn", 8, init="xavier", seed=0, train={"epochs": 50})
        >>> b = CellSpec("cora", "gcn", 8, init="spoginit", seed=2, train={"epochs": 50, "lr": 0.1})
        >>> batch_key(a) == batch_key(b), batch_key(CellSpec("cora", "revgcn", 8))
        (True, None)
    """
    if data.task(spec.dataset) != "node":
        return None
    train_kw = _train_options(spec)
    train_kw.pop("split", None)
    for name in _PER_MEMBER:
        if not isinstance(train_kw.get(name), Mapping):  # a per-kind decay is shared
            train_kw.pop(name, None)
    model = dict(spec.model)
    obstacle = train.batch_obstacle(
        spec.family,
        norm=model.get("norm"),
        backend=model.get("backend", "torch"),
        checkpoint=model.get("checkpoint"),
        schedule=train_kw.get("schedule", "constant"),
        drop_edge=train_kw.get("drop_edge", 0.0),
    )
    if obstacle is not None:
        return None
    shared = {
        "dataset": spec.dataset,
        "data_options": dict(spec.data_options),
        "root": spec.root,
        "family": spec.family,
        "depth": spec.depth,
        "model": model,
        "train": train_kw,
    }
    return json.dumps(shared, sort_keys=True, default=str)


def run_cells(
    specs: Sequence[CellSpec],
    *,
    device: Any = None,
    record: Sequence[str] = ("final",),
    measures: Sequence[str] = (),
    curves: Sequence[str | Path | None] | None = None,
    curve_every: int = 1,
    models: Sequence[str | Path | None] | None = None,
    progress: bool = False,
    on_epoch: Sequence[Any] | None = None,
) -> list[CellResult | Exception]:
    """Run cells of one :func:`batch_key` as one batched training; one outcome per cell.

    Each cell is prepared as :func:`run_cell` prepares it (model built from its seed, its
    split, its initialization on the CPU from its seed, the signal at init); their SPoGInit
    searches run together (:func:`deepgnn.search.search_many`: each finds what it would
    alone, one stacked evaluation a round), then the cells train together
    (:func:`deepgnn.train.train_node_batched`: each as it would alone), then each gets its
    signal after training, its curve and its row, as from :func:`run_cell`. A row adds
    ``group_size``, the number of cells that trained together. A cell that raises (its
    initialization, its signal summary) is that cell's outcome, and the others go on; if the
    batched training itself raises (e.g. out of memory), the prepared cells train one by one.
    A dataset that cannot batch (multi-label) runs its cells one by one through
    :func:`run_cell`. Each cell trains with its own learning rate, weight decay and dropout
    (the settings a tuner varies between trials). Inside :func:`reuse_searches`, a cell whose
    search ran before starts from its weights, and the group's new searches are kept.

    Args:
        specs: cells whose :func:`batch_key` is one and the same (not ``None``).
        device, record, measures, curve_every, progress: as for :func:`run_cell`.
        curves: one curve file (or ``None``) per cell.
        models: one models file (or ``None``) per cell, as :func:`run_cell`'s ``models``.
        on_epoch: one callable (or ``None``) per cell, called with each of its epochs' log
            row, as :func:`run_cell`'s ``on_epoch``: an exception it raises (a pruner's
            ``optuna.TrialPruned``) ends that cell's training and is its outcome; the others
            train on.

    Returns:
        Per cell, in order, its :class:`CellResult` or the exception it raised.

    Raises:
        ValueError: cells of different (or no) batch keys, or ``curves`` / ``models`` of
            another length.
    """
    specs = list(specs)
    keys = {batch_key(s) for s in specs}
    if not specs or None in keys or len(keys) != 1:
        raise ValueError(
            "run_cells takes cells that share one batch_key (same dataset, family, depth, "
            "model and training settings; a batched family); run the others with run_cell"
        )
    paths = list(curves) if curves is not None else [None] * len(specs)
    model_paths = list(models) if models is not None else [None] * len(specs)
    hooks = list(on_epoch) if on_epoch is not None else [None] * len(specs)
    for arg, given in (("curves", paths), ("models", model_paths), ("on_epoch", hooks)):
        if len(given) != len(specs):
            raise ValueError(
                f"{arg} has {len(given)} entries for {len(specs)} cells; pass one per cell"
            )
    for r in record:
        check_choice("record", r, RECORD)
    check_measures(measures, record)
    dev = resolve_device(device)

    def alone(i: int) -> CellResult | Exception:
        try:
            return run_cell(
                specs[i],
                device=dev,
                record=record,
                measures=measures,
                curves=paths[i],
                curve_every=curve_every,
                models=model_paths[i],
                progress=progress,
                on_epoch=hooks[i],
            )
        except Exception as err:
            return err

    try:
        cpu = _dataset(specs[0], torch.device("cpu"))
    except Exception:
        return [alone(i) for i in range(len(specs))]  # each cell records its own error
    if len(specs) == 1 or getattr(cpu, "multilabel", False):
        return [alone(i) for i in range(len(specs))]
    outcomes: list[CellResult | Exception | None] = [None] * len(specs)
    members: list[tuple[int, GNN, Dataset, dict[str, Any]]] = []
    splits: list[int | None] = []
    saved: dict[int, _Saved] = {}
    own_kw = [_train_options(spec) for spec in specs]  # the same but for split and _PER_MEMBER
    for kw in own_kw:
        kw.pop("split", None)
    stopped: dict[int, Exception] = {}

    def stopper(i: int) -> Any:
        """Cell ``i``'s callback for the batched trainer: its exception stops the cell."""
        hook = hooks[i]
        if hook is None:
            return None

        def call(row: dict[str, float]) -> bool:
            try:
                hook(row)
            except Exception as err:
                stopped[i] = err
                return True
            return False

        return call

    prepared: list[tuple[int, GNN, Dataset, dict[str, Any]]] = []
    searches: dict[int, _Search] = {}
    for i, spec in enumerate(specs):
        try:
            model = build_model(cpu, spec.family, spec.depth, seed=spec.seed, **spec.model)
            row: dict[str, Any] = {}
            own = _train_options(spec)
            pending: list[_Search] = []
            ds = _prepare_node(spec, model, own, cpu, dev, record, measures, row, pending)
        except Exception as err:
            outcomes[i] = err
            continue
        if pending:
            searches[i] = pending[0]
        prepared.append((i, model, ds, row))
    # the group's SPoGInit searches together: one stacked evaluation per round
    start = time.perf_counter()
    failed = _run_searches(searches)
    searching = time.perf_counter() - start
    for i, model, ds, row in prepared:
        try:
            if i in failed:
                raise failed[i]
            if i in searches:  # its initialization took the group's searches
                row["init_seconds"] = row.get("init_seconds", 0.0) + searching
                model.to(dev)
                if "signal_init" in record:
                    row.update(_signal_columns("init", model, ds, specs[i].seed, measures))
            if "models" in record:
                saved[i] = _Saved(model_paths[i], _cpu_state(model), specs[i], cpu)
        except Exception as err:
            outcomes[i] = err
            continue
        members.append((i, model, ds, row))
        splits.append(ds.split_index if "split" in row else None)
    if members:
        whole = _dataset(specs[0], dev)
        results: list[TrainResult | Exception] = []
        shared = {k: v for k, v in own_kw[0].items() if k not in _PER_MEMBER}
        per_member: dict[str, Any] = {
            name: [own_kw[i].get(name) for i, _, _, _ in members]
            for name in _PER_MEMBER
            if any(name in own_kw[i] for i, _, _, _ in members)
        }
        try:
            results += train.train_node_batched(
                [model for _, model, _, _ in members],
                whole,
                seeds=[specs[i].seed for i, _, _, _ in members],
                splits=splits,
                device=dev,
                progress=progress,
                on_epoch=[stopper(i) for i, _, _, _ in members],
                **shared,
                **per_member,
            )
            together = len(members)
        except Exception as err:
            logger.warning(
                "%d %s cells could not train batched (%s: %s); they train one by one",
                len(members),
                specs[0].family,
                type(err).__name__,
                err,
            )
            results = []
            stopped.clear()
            for i, model, ds, _ in members:
                try:
                    results.append(
                        train_node(
                            model,
                            ds,
                            device=dev,
                            seed=specs[i].seed,
                            on_epoch=hooks[i],
                            **own_kw[i],
                        )
                    )
                except Exception as failed:
                    results.append(failed)
            together = 1
        for (i, model, ds, row), result in zip(members, results):
            if i in stopped:  # its callback's exception ended its training
                outcomes[i] = stopped[i]
                continue
            if isinstance(result, Exception):
                outcomes[i] = result
                continue
            try:
                if "signal_final" in record:
                    row.update(_signal_columns("final", model, ds, specs[i].seed, measures))
                row["group_size"] = together
                outcomes[i] = _finish(
                    result, model, row, dev, record, paths[i], curve_every, saved.get(i)
                )
            except Exception as err:
                outcomes[i] = err
    return [o if o is not None else RuntimeError("cell was not run") for o in outcomes]


def curve_rows(log: pd.DataFrame, every: int, *, best_epoch: int = 0) -> pd.DataFrame:
    """The rows of a per-epoch training ``log`` a curve keeps: every ``every``-th epoch, the
    first, the best-validation one (``best_epoch``) and the last.

    Enough to tell a run still improving at the end of its budget from one stuck since its
    start, at a tenth of the size for ``every=10``.

    Example:
        >>> log = pd.DataFrame({"epoch": range(1, 36), "loss": 0.0})
        >>> curve_rows(log, 10, best_epoch=17)["epoch"].tolist()
        [1, 10, 17, 20, 30, 35]
    """
    if log.empty or every == 1:
        return log
    epoch = log["epoch"]
    keep = (epoch % every == 0) | (epoch == epoch.iloc[0]) | (epoch == epoch.iloc[-1])
    keep |= epoch == best_epoch
    return log[keep].reset_index(drop=True)


# ----------------------------------------------------------------------- depth table
def _resolve_data(
    data: Dataset | Graph, x: Tensor | None, y: Tensor | None, num_classes: int | None
) -> tuple[str, Graph, Tensor, Tensor | None, Tensor | None, int]:
    if not isinstance(data, (Dataset, Graph)) and hasattr(data, "edge_index"):
        # a PyG Data: a dataset when it has its masks, else its graph
        data = Dataset.from_pyg(data) if hasattr(data, "train_mask") else Graph.from_pyg(data)
    if isinstance(data, Dataset):
        return data.name, data.graph, data.x, data.y, data.train_mask, data.num_classes
    if isinstance(data, Graph):
        if x is None:
            raise ValueError(
                "depth_table on a Graph needs node features: pass x=<(num_nodes, d) tensor>, "
                "e.g. x=torch.randn(graph.num_nodes, 64)"
            )
        if num_classes is None:
            if y is None:
                raise ValueError("depth_table on a Graph needs num_classes= (or y=)")
            num_classes = int(y.max()) + 1
        return "graph", data, x, y, None, num_classes
    raise TypeError(
        f"dataset_or_graph must be a deepgnn.data.Dataset or deepgnn.Graph, got "
        f"{type(data).__name__}; load one with deepgnn.data.load('cora')"
    )


def _int_list(arg: str, values: object, minimum: int) -> list[int]:
    if isinstance(values, int) and not isinstance(values, bool):
        values = [values]
    if not isinstance(values, Sequence) or isinstance(values, str) or not values:
        raise ValueError(f"{arg} must be a non-empty list of ints, got {values!r}")
    return [check_int(arg, v, minimum=minimum) for v in values]


def depth_table(
    family: str,
    dataset_or_graph: Dataset | Graph,
    depths: Sequence[int],
    inits: Sequence[str],
    seeds: Sequence[int] = (0,),
    *,
    x: Tensor | None = None,
    y: Tensor | None = None,
    num_classes: int | None = None,
    device: str | torch.device | None = None,
    progress: bool = False,
    **model_kw: Any,
) -> pd.DataFrame:
    r"""Signal-propagation summary of ``family`` for every depth × init × seed, as a tidy table.

    For each cell the model is built with ``deepgnn.build(family, ..., depth, seed=seed,
    **model_kw)``, initialized with ``deepgnn.init.init_(model, init, generator=<seed>)``
    and measured with :func:`analyze` (loss on the dataset's training nodes; random
    labels from the seed on a bare graph without ``y``).

    Args:
        family: a model family (``deepgnn.models.available()``).
        dataset_or_graph: a :class:`~deepgnn.data.Dataset`, or a :class:`~deepgnn.Graph`
            with ``x=`` (and ``y=`` or ``num_classes=``); a PyG ``Data`` is read as either
            (:meth:`~deepgnn.data.Dataset.from_pyg` when it has masks).
        depths: model depths.
        inits: names from ``deepgnn.init.available()``.
        seeds: one row per seed.
        x, y, num_classes: features, labels, classes when ``dataset_or_graph`` is a Graph.
        device: where to run (default: CPU).
        progress: show a tqdm bar over the cells (depth × init × seed).
        **model_kw: options of :func:`deepgnn.build` (``width``, ``activation``, ``bias``, ...).

    Returns:
        One row per family × depth × init × seed with columns ``dataset``, ``family``,
        ``activation``, ``width``, ``depth``, ``init``, ``seed``, the summary of
        :func:`analyze` (``fsp``, ``bsp``, ``gev``, ``gev_input``, ``objective``, ...,
        ``diverged``), ``seconds``, ``torch``, ``device``, ``device_name``.

    Example:
        >>> import deepgnn
        >>> df = depth_table("gcn", deepgnn.data.load("cora"), [2, 4], ["xavier"], [0], width=16)
        >>> list(df["depth"]), bool((df["fsp"] > 0).all())
        ([2, 4], True)
    """

    check_choice("family", family, available())
    depths = _int_list("depths", depths, 1)
    seeds = _int_list("seeds", seeds, 0)
    if isinstance(inits, str):
        inits = [inits]
    for name in inits:
        check_choice("inits", name, init.available())
    name, graph, feats, labels, mask, classes = _resolve_data(dataset_or_graph, x, y, num_classes)
    dev = torch.device(device) if device is not None else graph.device
    graph, feats = graph.to(dev), feats.to(dev)
    labels = labels.to(dev) if labels is not None else None
    mask = mask.to(dev) if mask is not None else None

    hardware = device_name(dev)
    cells: Any = list(itertools.product(depths, inits, seeds))
    if progress:
        cells = progress_bar(cells, desc=f"{name} {family}", unit="cell")
    rows = []
    for depth, init_name, seed in cells:
        start = time.perf_counter()
        model = build(family, feats.shape[1], classes, depth, seed=seed, **model_kw).to(dev)
        gen = torch.Generator(device=dev).manual_seed(seed)
        init.init_(model, init_name, graph=graph, x=feats, generator=gen)
        summary = analyze(model, graph, feats, labels, mask=mask, seed=seed).attrs["summary"]
        rows.append(
            {
                "dataset": name,
                "family": family,
                "activation": model.activation,
                "width": model.width,
                "depth": depth,
                "init": init_name,
                "seed": seed,
                **summary,
                "seconds": time.perf_counter() - start,
                "torch": torch.__version__,
                "device": str(dev),
                "device_name": hardware,
            }
        )
        logger.info(
            "%s depth %d %s seed %d: fsp %.3e bsp %.3e gev %.3e",
            family,
            depth,
            init_name,
            seed,
            summary["fsp"],
            summary["bsp"],
            summary["gev"],
        )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------- table and plot
_METRICS = {k: _plot.SIGNALS[k] for k in ("fsp", "bsp", "gev")}


def format_depth_table(df: pd.DataFrame, *, metrics: Sequence[str] = ("fsp", "bsp", "gev")) -> str:
    """Render a :func:`depth_table` as markdown: per family and metric, depth × init (mean over seeds).

    Diverged cells print as ``diverged``. With several seeds the title says how they are
    combined: the arithmetic mean, and ``diverged`` when any seed diverged.

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"family": ["gcn"], "activation": ["tanh"], "depth": [2],
        ...                    "init": ["xavier"], "fsp": [0.5], "diverged": [False]})
        >>> print(format_depth_table(df, metrics=["fsp"]))
        **gcn (tanh): FSP = ‖h_L‖/‖X‖**
        <BLANKLINE>
        | depth | xavier |
        |---:|---:|
        | 2 | 5.00e-01 |
    """
    for m in metrics:
        check_choice("metrics", m, _METRICS)
    blocks = []
    for (family, act), part in df.groupby(["family", "activation"], sort=False):
        inits = list(dict.fromkeys(part["init"]))
        depths = sorted(set(part["depth"]))
        n_seeds = part["seed"].nunique() if "seed" in part else 1
        how = f" (mean over {n_seeds} seeds; diverged if any seed diverged)" if n_seeds > 1 else ""
        for m in metrics:
            lines = [
                f"**{family} ({act}): {_METRICS[m]}**{how}",
                "",
                "| depth | " + " | ".join(inits) + " |",
                "|---:|" + "---:|" * len(inits),
            ]
            for d in depths:
                cells = []
                for i in inits:
                    cell = part[(part["depth"] == d) & (part["init"] == i)]
                    if cell.empty:
                        cells.append("")
                    elif bool(cell["diverged"].any()):
                        cells.append("diverged")
                    else:
                        cells.append(f"{cell[m].mean():.2e}")
                lines.append(f"| {d} | " + " | ".join(cells) + " |")
            blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def plot_depth_table(
    df: pd.DataFrame, path: str | Path, *, metrics: Sequence[str] = ("fsp", "bsp", "gev")
) -> Path:
    """Plot FSP, BSP and GEV against depth (log scales), one line per family × init; save a PNG.

    Color = init, line style = family; a point is the geometric mean over the seeds, its bar
    ×/÷ their geometric standard deviation. A depth whose value a log axis cannot show gets a
    marker on the axis edge instead of a gap: ▼ at the bottom when the float32 value underflowed
    to 0, ✕ at the top when it diverged (NaN/inf, or ``diverged``). The footer names the
    dataset, width, seeds, device and torch version. One legend, above the panels.

    Written atomically. Needs matplotlib (imported here; no pyplot state is touched).

    Returns:
        The file written: ``path``, with ``.png`` added when it has no suffix.

    Raises:
        ValueError: ``path`` ends in another suffix than ``.png`` (the file is a PNG).
    """
    from matplotlib.figure import Figure

    path = Path(path)
    if not path.suffix:
        path = path.with_name(path.name + ".png")
    elif path.suffix.lower() != ".png":
        raise ValueError(
            f"path={str(path)!r} ends in {path.suffix}, but plot_depth_table writes a PNG; "
            f"pass {str(path.with_suffix('.png'))!r}"
        )
    for m in metrics:
        check_choice("metrics", m, _METRICS)
    fig = Figure(figsize=(4.3 * len(metrics), 3.9), layout="constrained")
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    styles = {fam: s for fam, s in zip(dict.fromkeys(df["family"]), ["-", "--", ":", "-."] * 4)}
    colors = {name: f"C{i % 10}" for i, name in enumerate(dict.fromkeys(df["init"]))}
    groups = list(df.groupby(["family", "activation", "init"], sort=False))
    depths = sorted(set(df["depth"]))
    flags = df["diverged"] if "diverged" in df else None
    zero = bad = False
    for ax, m in zip(axes, metrics):
        for (family, _, init_name), part in groups:
            diverged = flags.loc[part.index] if flags is not None else None
            stats = _plot.summarize(part["depth"], part[m], diverged, log=True)
            _plot.draw_line(ax, stats, color=colors[init_name], ls=styles[family])
            zero, bad = zero or bool(stats["zero"].any()), bad or bool(stats["bad"].any())
        _plot.set_depth_axis(ax, depths, log=True)
        ax.set_yscale("log")
        ax.set_xlabel("depth L (graph layers)")
        ax.set_ylabel(_METRICS[m])
    handles = [
        _plot.line_handle(
            f"{family} ({act}), {init_name}", color=colors[init_name], ls=styles[family]
        )
        for (family, act, init_name), _ in groups
    ]
    handles += _plot.edge_handles(zero, bad)
    _plot.finish_figure(fig, handles, _depth_table_footer(df, zero or bad) + ".", ncol=4)
    return save_figure(fig, path)


def _depth_table_footer(df: pd.DataFrame, off_scale: bool) -> str:
    def values(column: str) -> str:
        if column not in df:
            return "?"
        return ", ".join(str(v) for v in dict.fromkeys(df[column].dropna()))

    seeds = df["seed"].nunique() if "seed" in df else 1
    device = values("device_name") if "device_name" in df else values("device")
    parts = [
        f"{values('dataset')}, width {values('width')}, at initialization (no training); "
        "loss: NLL on the training nodes",
        f"geometric mean over {seeds} seeds, bars ×/÷ their geometric std" if seeds > 1 else "",
        _plot.OFF_SCALE_NOTE if off_scale else "",
        f"{device}; torch {values('torch')}",
    ]
    return ". ".join(p for p in parts if p)
