"""Sweep configs: the TOML schema, validated on load, and the grid of cells it describes.

A sweep file holds the keyword names of :func:`deepgnn.data.load` (``[data]``),
:func:`deepgnn.build` (``[model]``), :func:`deepgnn.init.init_` (``[init]``, options per scheme
in ``[init.<scheme>]``) and :func:`deepgnn.train.train_node` (``[train]``), verbatim; a list is
an axis of the grid, a scalar is fixed. Keys and values are checked against those functions
through their public ``options()`` (:func:`deepgnn.models.options`,
:func:`deepgnn.init.options`, :func:`deepgnn.train.options`), so a config fails on load, naming
the table, the key and the valid values, not one cell at a time at run time.
"""

from __future__ import annotations

import difflib
import hashlib
import inspect
import itertools
import json
import re
import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepgnn import adapters, data, experiment, init, models, search, train
from deepgnn._checks import check_choice, check_int
from deepgnn.sweep import _dry as dry
from deepgnn.sweep.tune import TuneSpace, group_units, unit_key

__all__ = ["RECORD", "Cell", "SweepConfig", "as_config", "load_config", "out_dir", "scheme_of"]

#: What a sweep's top-level ``record`` may list (:data:`deepgnn.experiment.RECORD`).
RECORD = experiment.RECORD
_TOP_KEYS = (
    "name",
    "description",
    "seed",
    "record",
    "measures",
    "curve_every",
    "max_retries",
    "heartbeat_interval",
    "grace_period",
    "storage",
    "batch_cells",
    "max_batch_cells",
    "data",
    "model",
    "init",
    "train",
    "tune",
)
# Keys set by the runner itself, never by the file.
_BUILD_MANAGED = {"name", "family", "in_dim", "out_dim", "depth", "seed"}
_TRAIN_MANAGED = experiment.MANAGED
# TOML has no null: the string "none" stands for None where the keyword accepts None.
_NONE = "none"
# [train] split = "seed": a cell of seed s uses split s (mod the dataset's number of splits).
_SPLIT_SEED = experiment.SPLIT_SEED
# Column names of the row that differ from the TOML key (a TrainResult field owns the name).
_RENAMED = {"epochs": "max_epochs"}
_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
# [data.<name>] option k is row column data_<k>: never clashes with a model or train column.
_DATA_PREFIX = "data_"
# Keys of a [data.<name>] table that are not the loader's options.
_DATA_OWN = ("loader", "task")


def _build_keys() -> dict[str, Any]:
    """:func:`deepgnn.build`'s common keyword options (the file may set them) and defaults."""
    params = inspect.signature(models.build).parameters.values()
    return {
        p.name: p.default
        for p in params
        if p.kind is p.KEYWORD_ONLY and p.name not in _BUILD_MANAGED
    }


def _family_options() -> dict[str, set[str]]:
    return {name: set(models.options(name)) for name in models.available()}


def _factory_takes(factory: str, key: str) -> bool:
    """Whether ``[model] factory`` ``factory`` takes ``[model]`` key ``key``."""
    takes = adapters.factory_options(factory)
    return takes is None or key in takes


def _train_keys() -> dict[str, Any]:
    """The options of train_node, then those only train_graph takes, with their defaults."""
    keys = {k: v for k, v in train.options("node").items() if k not in _TRAIN_MANAGED}
    for k, v in train.options("graph").items():
        if k not in _TRAIN_MANAGED:
            keys.setdefault(k, v)
    return keys


def _init_option_names(name: str) -> set[str]:
    """Keyword options of init scheme ``name`` a file may set (a cell owns the generator)."""
    return init.options(name) - {"generator"}


class _ConfigError(ValueError):
    pass


def _unknown_key(where: str, key: str, valid: Sequence[str]) -> _ConfigError:
    near = difflib.get_close_matches(key, list(valid), n=1)
    hint = f"; did you mean {near[0]!r}?" if near else ""
    return _ConfigError(f"{where} has unknown key {key!r}; valid keys are {sorted(valid)}{hint}")


def _as_axis(where: str, key: str, value: Any) -> list[Any]:
    """A list is an axis of the grid, a scalar a one-value axis."""
    if isinstance(value, dict):
        raise _ConfigError(f"{where} {key} is a table; pass a value or a list of values")
    values = list(value) if isinstance(value, list) else [value]
    if not values:
        raise _ConfigError(f"{where} {key} is an empty list; give at least one value")
    seen: list[Any] = []
    for v in values:
        if isinstance(v, (dict, list)):
            raise _ConfigError(f"{where} {key} holds {v!r}; grid values must be scalars")
        if v in seen:
            raise _ConfigError(f"{where} {key} lists {v!r} twice; give each value once")
        seen.append(v)
    return values


#: Options for which the string "none" is itself a choice (``search(layers="none")``: search
#: the gates only), not TOML's spelling of ``None``.
_NONE_IS_A_CHOICE = frozenset({"layers"})


def _none(value: Any) -> Any:
    return None if value == _NONE else value


def scheme_of(name: str) -> str:
    """The init scheme of an ``[init] name`` entry: ``"spoginit@zeroth_order"`` is a variant of
    ``"spoginit"`` with its own option table ``[init."spoginit@zeroth_order"]``."""
    return name.partition("@")[0]


@dataclass
class Cell:
    """One combination of the grid: the sweep's unit of work.

    Attributes:
        key: deterministic id, ``<dataset>-<family>-d<depth>-<init>-s<seed>-<hash>``; the hash
            covers every setting (fixed ones too) and ``resolved``, so changing e.g.
            ``epochs``, or a library default that decides the cell's numbers, makes new cells.
        dataset, family, depth, init, seed: the main axes (``init="default"`` keeps ``build``'s
            own initialization; ``"<scheme>@<label>"`` is a variant of a scheme with its own
            options, e.g. ``"spoginit@zeroth_order"``).
        model: the other keyword arguments of :func:`deepgnn.build` (family options included
            only for the families that take them).
        train: keyword arguments of :func:`~deepgnn.train.train_node` / ``train_graph``.
        init_options: keyword options passed to :func:`deepgnn.init.init_`.
        root: the data folder (not part of the key: it differs between machines).
        resolved: :func:`deepgnn.experiment.resolve_cell` of the cell: the init options and
            training settings after the library's defaults (SPoGInit's objective, method and
            budget for the family; the protocol's values for the depth). Recorded in every
            row as ``init_resolved`` / ``train_resolved`` (JSON) and hashed into ``key``.
        loader: the import path of a registered dataset's loader
            (:func:`deepgnn.data.loader_path`; ``None`` for a built-in dataset or a file):
            column ``loader``, hashed into ``key``.
        data_options: keyword options of :func:`deepgnn.data.load` from ``[data.<dataset>]``
            (``csbm``'s arguments, a registered loader's keywords): columns ``data_<option>``,
            hashed into ``key``, so that other graphs make other cells.
    """

    key: str
    dataset: str
    family: str
    depth: int
    init: str
    seed: int
    model: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    init_options: dict[str, Any] = field(default_factory=dict)
    root: str | None = None
    tune_key: str | None = None
    resolved: dict[str, Any] = field(default_factory=dict)
    loader: str | None = None
    data_options: dict[str, Any] = field(default_factory=dict)

    def spec(self) -> experiment.CellSpec:
        """The experiment :func:`deepgnn.experiment.run_cell` runs for this cell (TOML's
        ``"none"`` read as ``None``)."""
        return experiment.CellSpec(
            dataset=self.dataset,
            family=self.family,
            depth=self.depth,
            init=None if self.init == "default" else scheme_of(self.init),
            seed=self.seed,
            model={k: _none(v) for k, v in self.model.items()},
            init_options=dict(self.init_options),
            train={k: _none(v) for k, v in self.train.items()},
            root=self.root,
            data_options={k: _none(v) for k, v in self.data_options.items()},
        )

    def columns(self) -> dict[str, Any]:
        """The settings as row columns (``epochs`` appears as ``max_epochs``)."""
        cols: dict[str, Any] = {"cell": self.key, "dataset": self.dataset}
        # Absent for built-in datasets without options, so that their cells keep their keys.
        if self.loader is not None:
            cols["loader"] = self.loader
        cols.update({f"{_DATA_PREFIX}{k}": v for k, v in self.data_options.items()})
        cols["family"] = self.family
        cols["depth"] = self.depth
        cols.update(self.model)
        cols["init"] = self.init
        if self.init_options:
            cols["init_options"] = json.dumps(self.init_options, sort_keys=True)
        cols.update({_RENAMED.get(k, k): v for k, v in self.train.items()})
        cols["seed"] = self.seed
        for part in ("init", "train"):
            if part in self.resolved:
                cols[f"{part}_resolved"] = json.dumps(self.resolved[part], sort_keys=True)
        return cols

    def key_columns(self) -> dict[str, Any]:
        """The columns hashed into the cell's key (and its tuning unit's): :meth:`columns`
        without a ``[train] precision = "fp32"``, which is how every cell computed before the
        option existed, so that writing it out keeps the keys made without it."""
        cols = self.columns()
        if cols.get("precision") == "fp32":
            del cols["precision"]
        return cols


@dataclass(frozen=True)
class SweepConfig:
    """A validated sweep: what :func:`run`, :func:`status` and :func:`report` take.

    Built by :func:`load_config` (or :meth:`from_dict`). The tables hold the keyword names of
    :func:`deepgnn.data.load` (``[data]``), :func:`deepgnn.build` (``[model]``),
    :func:`deepgnn.init.init_` (``[init]``, with ``[init.<scheme>]`` option tables) and
    :func:`deepgnn.train.train_node` (``[train]``), verbatim; a list is an axis of the grid,
    a scalar is fixed.

    Attributes:
        name: sweep name: study name and default output folder ``results/<name>``.
        data, model, init, train: the tables, every value a list (one entry for a fixed value);
            ``model["family"]`` lists the families.
        init_options: ``{scheme: {option: value}}`` from the ``[init.<scheme>]`` tables; a
            value that is itself a table, ``[init.<scheme>.<family>]``, holds options for
            one model family that replace the scheme's own.
        seed: seeds (build, init and training of a cell all use its seed).
        record: what each cell records, a subset of :data:`RECORD`; ``"models"`` saves each
            cell's initial and trained weights to ``<out>/models/<cell>.pt``
            (:func:`deepgnn.experiment.load_cell_model`; node datasets), and ``sweep run`` logs
            an estimate of their size first.
        measures: extra measures of the recorded signal summaries, a subset of
            :data:`deepgnn.experiment.SIGNAL_MEASURES` (Dirichlet energy, MAD, ranks, the
            Jacobian's extreme singular values); they do not change a cell's key.
        curve_every: with ``"curves"`` in ``record``, each cell's per-epoch log keeps every
            ``curve_every``-th epoch (and the first, the best-validation and the last), written
            gzip-compressed to ``<out>/curves/<cell>.csv.gz`` (default 10: about 3 kB a cell of
            1000 epochs). It does not change a cell's key.
        max_retries: how often a cell that raised runs again.
        heartbeat_interval: seconds between a running cell's heartbeats.
        grace_period: a running cell whose heartbeat is older than this is lost.
        storage: default storage (journal file path or RDB URL); ``None`` = journal file
            ``<out>/sweep.journal``.
        description: free text.
        source: the TOML file it came from, if any.
        model_overrides: ``{family: {key: values}}`` from the ``[model.<family>]`` tables:
            settings that replace ``[model]``'s for that family (e.g. its activation).
        batch_cells: a worker trains cells that share a graph and shape (the same
            :func:`deepgnn.experiment.batch_key`: they differ in seed, initialization or split)
            as one batched model (:func:`deepgnn.train.train_node_batched`), each as it would
            train alone; ``false``: every cell alone. How cells run, not what they compute: it
            does not change a cell's key.
        max_batch_cells: the most cells a worker trains in one batch (default 32).
        data_options: ``{dataset: {option: values}}`` from the ``[data.<dataset>]`` tables:
            keyword options of :func:`deepgnn.data.load` (``csbm``'s arguments, a registered
            loader's keywords), each list an axis of that dataset's graphs.
        data_loaders: ``{dataset: {"loader": path, "task": task}}`` for every dataset of the
            sweep registered with :func:`deepgnn.data.register` or by ``[data.<dataset>]
            loader = "package.module:function"``; each worker process registers them again.
    """

    name: str
    data: dict[str, list[Any]]
    model: dict[str, list[Any]]
    init: dict[str, list[Any]]
    train: dict[str, list[Any]]
    init_options: dict[str, dict[str, Any]]
    seed: tuple[int, ...]
    record: tuple[str, ...] = ("final",)
    measures: tuple[str, ...] = ()
    curve_every: int = 10
    max_retries: int = 2
    heartbeat_interval: float = 30.0
    grace_period: float = 120.0
    storage: str | None = None
    description: str = ""
    source: str | None = None
    model_overrides: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    tune: TuneSpace | None = None
    batch_cells: bool = True
    max_batch_cells: int = 32
    data_options: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    data_loaders: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def from_dict(
        cls, raw: Mapping[str, Any], *, name: str | None = None, source: str | None = None
    ) -> SweepConfig:
        """Validate a parsed TOML document; errors name the key and the valid values."""
        where = source or "sweep config"
        try:
            return cls._from_dict(dict(raw), name=name, source=source)
        except ValueError as err:
            raise ValueError(f"{where}: {err}") from None
        except TypeError as err:
            raise TypeError(f"{where}: {err}") from None

    @classmethod
    def _from_dict(
        cls, raw: dict[str, Any], *, name: str | None, source: str | None
    ) -> SweepConfig:
        for key in raw:
            if key not in _TOP_KEYS:
                raise _unknown_key("the top level", key, _TOP_KEYS)
        name = raw.get("name", name)
        # "." and ".." match the pattern but would put results/<name> on results/ or its parent.
        if not isinstance(name, str) or not _NAME_RE.match(name) or not name.strip("."):
            raise _ConfigError(
                f"name={name!r}; pass a name of letters, digits, '_', '-' or '.' (not only dots) "
                'such as name = "depth_cora" (it names the study and the results folder)'
            )
        for table in ("data", "model", "init", "train"):
            if table in raw and not isinstance(raw[table], dict):
                raise _ConfigError(f"{table} must be a table [{table}], got {raw[table]!r}")
        data_table, data_options, data_loaders = cls._data(raw.get("data", {}))
        model, model_overrides = cls._model(raw.get("model", {}), where=source or "sweep config")
        dry.check_factories(data_table["name"], model["family"])
        init_table, init_options = cls._init(raw.get("init", {}), model, model_overrides)
        train_table = cls._train(raw.get("train", {}))
        # A dataset with [data.<name>] options is left to its cells: each graph has its splits.
        plain = [n for n in data_table["name"] if n not in data_options]
        dry.check_splits(plain, data_table["root"][0], train_table.get("split", []))
        if "tune" in raw and not isinstance(raw["tune"], dict):
            raise _ConfigError(f"tune must be a table [tune], got {raw['tune']!r}")
        tune = TuneSpace.from_table(raw["tune"]) if "tune" in raw else None
        dry.check_train_task(data_table["name"], list(train_table))
        if tune is not None:
            _check_tuned_keys(tune, train_table, model, model_overrides)
        seeds = _as_axis("the top level", "seed", raw.get("seed", 0))
        for s in seeds:
            check_int("seed", s, minimum=0)
        record = raw.get("record", ["final"])
        record = [record] if isinstance(record, str) else record
        if not isinstance(record, list):
            raise _ConfigError(f"record={record!r}; pass a list such as record = ['final']")
        for r in record:
            check_choice("record", r, RECORD)
        dry.check_record(data_table["name"], record)
        measures = raw.get("measures", [])
        measures = [measures] if isinstance(measures, str) else measures
        if not isinstance(measures, list):
            raise _ConfigError(
                f"measures={measures!r}; pass a list such as measures = ['dirichlet', 'mad']"
            )
        experiment.check_measures(measures, record)
        curve_every = check_int("curve_every", raw.get("curve_every", 10), minimum=1)
        max_retries = check_int("max_retries", raw.get("max_retries", 2), minimum=0)
        interval = _positive("heartbeat_interval", raw.get("heartbeat_interval", 30.0))
        grace = _positive("grace_period", raw.get("grace_period", max(4 * interval, 10.0)))
        if grace <= interval:
            raise _ConfigError(
                f"grace_period={grace} must exceed heartbeat_interval={interval}; "
                f"pass e.g. grace_period = {4 * interval:g}"
            )
        storage = raw.get("storage")
        if storage is not None and not isinstance(storage, str):
            raise _ConfigError(f"storage={storage!r}; pass a journal file path or an RDB URL")
        description = raw.get("description", "")
        if not isinstance(description, str):
            raise _ConfigError(f"description must be a string, got {description!r}")
        fields: dict[str, Any] = {"name": name, "data": data_table, "model": model}
        fields.update(data_options=data_options, data_loaders=data_loaders)
        fields.update(model_overrides=model_overrides, tune=tune, init=init_table)
        fields.update(train=train_table, init_options=init_options, seed=tuple(seeds))
        fields.update(record=tuple(dict.fromkeys(["final", *record])), max_retries=max_retries)
        fields.update(measures=tuple(dict.fromkeys(measures)), curve_every=curve_every)
        fields.update(heartbeat_interval=float(interval), grace_period=float(grace))
        fields.update(storage=storage, description=description, source=source)
        batch = raw.get("batch_cells", True)
        if not isinstance(batch, bool):
            raise _ConfigError(
                f"batch_cells={batch!r}; pass true (cells that share a graph and shape train as "
                "one batched model) or false (every cell alone)"
            )
        limit = check_int("max_batch_cells", raw.get("max_batch_cells", 32), minimum=1)
        fields.update(batch_cells=batch, max_batch_cells=limit)
        return cls(**fields)

    @staticmethod
    def _data(
        table: dict[str, Any],
    ) -> tuple[dict[str, list[Any]], dict[str, dict[str, list[Any]]], dict[str, dict[str, str]]]:
        subtables = {k: v for k, v in table.items() if isinstance(v, dict)}
        for key in table:
            if key not in ("name", "path", "root") and key not in subtables:
                raise _unknown_key("[data]", key, ("name", "path", "root"))
        if "name" not in table and "path" not in table:
            raise _ConfigError(
                '[data] needs name, e.g. name = ["cora"], or path = "my_graph.npz" (a file of '
                "your own, deepgnn.data.npz's layout)"
            )
        names = _as_axis("[data]", "name", table["name"]) if "name" in table else []
        paths = _as_axis("[data]", "path", table["path"]) if "path" in table else []
        for p in paths:
            if not isinstance(p, str) or not p.endswith(".npz"):
                raise _ConfigError(
                    f"[data] path={p!r}; pass the path of an .npz file in deepgnn.data.npz's "
                    'layout, e.g. path = "my_graph.npz"'
                )
        names = names + [p for p in paths if p not in names]
        for sub in subtables:
            if sub not in names:
                raise _ConfigError(
                    f"[data.{sub}] gives options for dataset {sub!r}, which [data] name does not "
                    f"list ({names}); add it to name or drop the table"
                )
        # [data.<name>] loader = "package.module:function": a dataset of one's own, registered
        # here and again in every worker process (SweepConfig.data_loaders).
        for sub, options in subtables.items():
            where = f"[data.{sub}]"
            if "loader" not in options:
                if "task" in options:
                    raise _ConfigError(
                        f"{where} task={options['task']!r} goes with loader = "
                        "'package.module:function'; add the loader or drop task"
                    )
                continue
            loader, task = options["loader"], options.get("task", "node")
            if not isinstance(loader, str):
                raise _ConfigError(
                    f"{where} loader={loader!r}; pass one import path such as "
                    'loader = "mygraphs.data:load_graph"'
                )
            try:
                data.register(sub, loader, task=task)
            except (ValueError, TypeError) as err:
                raise _ConfigError(f"{where} {err}") from None
        for n in names:
            if isinstance(n, str) and n.endswith(".npz"):
                continue  # a file of one's own, as in path
            try:
                data.task(n)
            except (ValueError, TypeError) as err:
                raise _ConfigError(f"[data] {err}") from None
        data_options: dict[str, dict[str, list[Any]]] = {}
        for sub, options in subtables.items():
            where = f"[data.{sub}]"
            axes = {k: _as_axis(where, k, v) for k, v in options.items() if k not in _DATA_OWN}
            if not axes:
                continue
            for combo in itertools.product(*axes.values()):
                try:
                    data.check_options(sub, **{k: _none(v) for k, v in zip(axes, combo)})
                except (ValueError, TypeError) as err:
                    raise _ConfigError(f"{where} {err}") from None
            data_options[sub] = axes
        loaders: dict[str, dict[str, str]] = {}
        for n in names:
            path = None if n.endswith(".npz") else data.loader_path(n)
            if path is not None:
                loaders[n] = {"loader": path, "task": data.task(n)}
        root = table.get("root")
        if root is not None and not isinstance(root, str):
            raise _ConfigError(f"[data] root={root!r}; pass a folder path as a string")
        return {"name": names, "root": [root]}, data_options, loaders

    @staticmethod
    def _model(
        table: dict[str, Any], *, where: str
    ) -> tuple[dict[str, list[Any]], dict[str, dict[str, list[Any]]]]:
        table = dict(table)
        key = "family"
        if "name" in table:
            if "family" in table:
                raise _ConfigError("[model] has both family and name; keep family")
            warnings.warn(
                f"{where}: [model] name is the old spelling of family; write family = [...] "
                "(name will stop working in the next release)",
                FutureWarning,
                stacklevel=4,
            )
            key = "name"
            table["family"] = table.pop("name")
        options = _family_options()
        # [model] factory = "package.module:function": the user's architectures, swept as
        # families of their own (their keys: the factory's keyword options).
        factories = (
            _as_axis("[model]", "factory", table.pop("factory", [])) if "factory" in table else []
        )
        for f in factories:
            try:
                takes = adapters.factory_options(f)
            except ValueError as err:
                raise _ConfigError(f"[model] {err}") from None
            options[f] = set(table) if takes is None else takes
        valid = ["family", "factory", "depth", *_build_keys()]
        valid += sorted(set().union(*options.values()) - {"family", "factory", "depth"})
        subtables = {k: table.pop(k) for k in list(table) if isinstance(table[k], dict)}
        for k in table:
            if k not in valid:
                raise _unknown_key("[model]", k, valid)
        if "family" not in table and not factories:
            raise _ConfigError('[model] needs family (or factory), e.g. family = ["gcn"]')
        if "depth" not in table:
            raise _ConfigError("[model] needs depth, e.g. depth = [2, 4]")
        model = {k: _as_axis("[model]", k, v) for k, v in table.items()}
        families = model.get("family", [])
        for n in families:
            check_choice(f"[model] {key}", n, models.available())
        families = model["family"] = [*families, *factories]
        overrides: dict[str, dict[str, list[Any]]] = {}
        for family, sub in subtables.items():
            if family not in families:
                raise _ConfigError(
                    f"[model.{family}] overrides settings of family {family!r}, which [model] "
                    f"{key} does not list ({families}); add it to {key} or drop the table"
                )
            family_valid = (
                sorted(options[family])
                if family in factories
                else [*_build_keys(), *sorted(options[family])]
            )
            for k in sub:
                if k not in family_valid:
                    raise _unknown_key(f"[model.{family}]", k, family_valid)
            overrides[family] = {k: _as_axis(f"[model.{family}]", k, v) for k, v in sub.items()}
            for w in overrides[family].get("width", []):
                check_int(f"[model.{family}] width", w, minimum=1)
        for d in model["depth"]:
            check_int("[model] depth", d, minimum=1)
        for w in model.get("width", []):
            check_int("[model] width", w, minimum=1)
        builtins = [f for f in families if f not in factories]
        for k in set(model) - {"family", "depth"}:
            if k in _build_keys() and (builtins or not factories):
                continue
            if not [f for f in families if k in options[f]]:
                holders = sorted(f for f, o in options.items() if k in o)
                if not holders:  # a build keyword, and only factories that do not take it
                    raise _ConfigError(
                        f"[model] {k} is taken by no factory of {factories}; add it to the "
                        f"factory's keyword arguments or drop {k}"
                    )
                raise _ConfigError(
                    f"[model] {k} is an option of {holders}, but {key} lists {families}; "
                    f"add one of {holders} to {key} or drop {k}"
                )
        # Dry-build every combination of the other keys: build's own checks name the key.
        for family in families:
            place = f"[model.{family}]" if family in overrides else "[model]"
            if family in factories:
                place += f" factory {family!r}:"
            try:
                axes = _axes_of(model, overrides, family)
                for _ in dry.tiny_models(family, axes, depth=min(model["depth"])):
                    pass
            except (ValueError, TypeError) as err:
                raise _ConfigError(f"{place} {err}") from None
        return model, overrides

    @staticmethod
    def _init(
        table: dict[str, Any],
        model: dict[str, list[Any]],
        overrides: dict[str, dict[str, list[Any]]],
    ) -> tuple[dict[str, list[Any]], dict[str, dict[str, Any]]]:
        families = model["family"]
        names = _as_axis("[init]", "name", table.get("name", "default"))
        for n in names:
            scheme, _, label = n.partition("@")
            check_choice("[init] name", scheme, ["default", *init.available()])
            if "@" in n and not (label and _NAME_RE.match(label)):
                raise _ConfigError(
                    f"[init] name={n!r}; a variant is <scheme>@<label> with a label of letters, "
                    'digits, "_", "-" or ".", e.g. "spoginit@zeroth_order"'
                )
        options: dict[str, dict[str, Any]] = {}
        for key, value in table.items():
            if key == "name":
                continue
            if not isinstance(value, dict):
                raise _ConfigError(
                    f"[init] has key {key!r}; [init] takes name = [...] and one option table "
                    '[init.<scheme>] per scheme, e.g. [init.xavier] distribution = "normal"'
                )
            if key not in names:
                raise _ConfigError(
                    f"[init.{key}] gives options for {key!r}, which [init] name does not list "
                    f"({names}); add it to name or drop the table"
                )
            accepted = _init_option_names(scheme_of(key))
            for opt, v in value.items():
                if isinstance(v, dict):
                    # [init.<scheme>.<family>]: options for one model family
                    where, given = f"[init.{key}.{opt}]", list(v)
                    check_choice(f"{where} (a model family)", opt, models.available())
                    if opt not in families:
                        raise _ConfigError(
                            f"{where} gives options for family {opt!r}, which [model] family "
                            f"does not list ({list(families)}); add it or drop the table"
                        )
                else:
                    where, given = f"[init.{key}]", [opt]
                for o in given:
                    if o not in accepted:
                        raise _unknown_key(where, o, sorted(accepted))
            options[key] = dict(value)
        own = {
            p.name
            for p in inspect.signature(init.spoginit_).parameters.values()
            if p.kind is p.KEYWORD_ONLY
        }
        for key in [n for n in names if scheme_of(n) == "spoginit"]:
            table_of = options.get(key, {})
            for family in families:
                merged = _scheme_options_for(table_of, family)
                where = f"[init.{key}" + (f".{family}]" if family in table_of else "]")
                try:
                    search.check_options(
                        family=family,
                        **{
                            k: v if k in _NONE_IS_A_CHOICE else _none(v)
                            for k, v in merged.items()
                            if k not in own
                        },
                    )
                except (ValueError, TypeError) as err:
                    raise _ConfigError(f"{where} (family {family!r}): {err}") from None
        for key in [n for n in names if scheme_of(n) not in ("default", "spoginit")]:
            table_of = options.get(key, {})
            for family in families:
                where = f"[init.{key}" + (f".{family}]" if family in table_of else "]")
                try:
                    dry.try_init(
                        scheme_of(key),
                        _scheme_options_for(table_of, family),
                        family,
                        _axes_of(model, overrides, family),
                        depth=min(model["depth"]),
                    )
                except (ValueError, TypeError) as err:
                    where = where if table_of else f"[init] name={key!r}"
                    raise _ConfigError(f"{where} (family {family!r}): {err}") from None
        return {"name": names}, options

    @staticmethod
    def _train(table: dict[str, Any]) -> dict[str, list[Any]]:
        valid = _train_keys()
        for key in table:
            if key not in valid:
                hint = " (seed is a top-level key)" if key == "seed" else ""
                raise _unknown_key(f"[train]{hint}", key, list(valid))
        axes = {k: _as_axis("[train]", k, v) for k, v in table.items()}
        for v in axes.get("split", []):
            if v == _SPLIT_SEED:
                continue
            if isinstance(v, str) and v != _NONE:
                raise _ConfigError(
                    f"[train] split={v!r}; pass a split index such as split = 0, a list of "
                    f'them, or split = "{_SPLIT_SEED}" (a cell of seed s uses split s)'
                )
            if _none(v) is not None:
                check_int("[train] split", v, minimum=0)
        checked = [k for k in axes if k != "split"]
        for combo in itertools.product(*(axes[k] for k in checked)):
            try:
                train.check_options(**{k: _none(v) for k, v in zip(checked, combo)})
            except (ValueError, TypeError) as err:
                raise _ConfigError(f"[train] {err}") from None
        for v in axes.get("pool", []):
            check_choice("[train] pool", v, ("mean", "sum"))
        return axes

    def cells(self) -> list[Cell]:
        """The grid, in a deterministic order (duplicates, e.g. a family option on a family
        that does not take it, appear once)."""
        family_axes = {
            f: _family_axes(self.model, self.model_overrides, f) for f in self.model["family"]
        }
        grid = [
            (family, dict(zip(family_axes[family], combo)))
            for family in self.model["family"]
            for combo in itertools.product(*family_axes[family].values())
        ]
        graphs = [
            (name, dict(zip(axes, combo)))
            for name in self.data["name"]
            for axes in [self.data_options.get(name, {})]
            for combo in itertools.product(*axes.values())
        ]
        cells: dict[str, Cell] = {}
        for (dataset, data_options), (family, model), depth, scheme, train_combo, seed in (
            (d, fm, dep, i, t, s)
            for d in graphs
            for fm in grid
            for dep in self.model["depth"]
            for i in self.init["name"]
            for t in itertools.product(*self.train.values())
            for s in self.seed
        ):
            train = dict(zip(self.train, train_combo))
            options = _scheme_options_for(self.init_options.get(scheme, {}), family)
            # key, dataset, family, depth, init, seed, model, train, init_options, root
            cell = Cell("", dataset, family, depth, scheme, seed, dict(model), train, options)
            cell.root = self.data["root"][0]
            cell.loader = self.data_loaders.get(dataset, {}).get("loader")
            cell.data_options = data_options
            cell.resolved = experiment.resolve_cell(cell.spec(), record=self.record)
            hashed: dict[str, Any] = cell.key_columns()
            # restore_best enters the key through `resolved`, where the record measures the
            # trained weights; `restore_best = false` in [train] keeps a key made before it.
            hashed.pop("restore_best", None)
            if self.tune is not None:  # a tuned cell is another experiment than an untuned one
                hashed["tune"] = self.tune.__dict__
            settings = json.dumps(hashed, sort_keys=True, default=str)
            digest = hashlib.sha1(settings.encode()).hexdigest()[:8]
            cell.key = re.sub(
                r"[^A-Za-z0-9_.=-]", "_", f"{dataset}-{family}-d{depth}-{scheme}-s{seed}-{digest}"
            )
            if self.tune is not None:
                cell.tune_key = unit_key(cell, self.tune)
            cells.setdefault(cell.key, cell)
        return list(cells.values())

    def units(self) -> list[Any]:
        """The ledger's units of work: with ``[tune]``, one :class:`~deepgnn.sweep.tune.TuneUnit`
        per group of cells that differ only in their seed (first), then the cells, whose
        ``tune_key`` names their group; without, the cells."""
        cells = self.cells()
        if self.tune is None:
            return list(cells)
        return [*group_units(cells), *cells]

    def axes(self) -> dict[str, list[Any]]:
        """Row column -> grid values, for every setting that takes more than one value."""
        named = {"dataset": self.data["name"], "family": self.model["family"]}
        for options in self.data_options.values():
            for k, v in options.items():
                col = f"{_DATA_PREFIX}{k}"
                named[col] = list(dict.fromkeys([*named.get(col, []), *v]))
        named.update({k: list(v) for k, v in self.model.items() if k != "family"})
        for sub in self.model_overrides.values():
            for k, v in sub.items():
                named[k] = list(dict.fromkeys([*named.get(k, []), *v]))
        named["init"] = self.init["name"]
        named.update({_RENAMED.get(k, k): v for k, v in self.train.items()})
        named["seed"] = list(self.seed)
        return {k: v for k, v in named.items() if len(v) > 1}


def _scheme_options_for(options: dict[str, Any], family: str) -> dict[str, Any]:
    """An ``[init.<scheme>]`` table's options for ``family``: the scheme's own, then those of
    its ``[init.<scheme>.<family>]`` sub-table."""
    merged = {k: v for k, v in options.items() if not isinstance(v, dict)}
    merged.update(options.get(family, {}))
    return merged


def _family_axes(
    model: dict[str, list[Any]], overrides: dict[str, dict[str, list[Any]]], family: str
) -> dict[str, list[Any]]:
    """The ``[model]`` axes other than family and depth that apply to ``family``, with its
    ``[model.<family>]`` overrides."""
    if adapters.is_factory(family):
        axes = {
            k: v
            for k, v in model.items()
            if k not in ("family", "depth") and _factory_takes(family, k)
        }
        axes.update(overrides.get(family, {}))
        return axes
    options = _family_options()[family]
    build_keys = set(_build_keys())
    axes = {
        k: v
        for k, v in model.items()
        if k not in ("family", "depth") and (k in build_keys or k in options)
    }
    axes.update(overrides.get(family, {}))
    return axes


def _axes_of(
    model: dict[str, list[Any]], overrides: dict[str, dict[str, list[Any]]], family: str
) -> dict[str, list[Any]]:
    """``family``'s settings, TOML's ``"none"`` read as ``None``."""
    return {k: [_none(v) for v in vs] for k, vs in _family_axes(model, overrides, family).items()}


def _check_tuned_keys(
    tune: TuneSpace,
    train_table: dict[str, list[Any]],
    model: dict[str, list[Any]],
    overrides: dict[str, dict[str, list[Any]]],
) -> None:
    """A setting ``[tune]`` searches is the tuning's to choose: a ``[train]`` (or, for
    ``dropout``, ``[model]``) value of it would be recorded in the row and never used."""
    for key in tune.ranges:
        tables = [("[train]", train_table), ("[model]", model)]
        tables += [(f"[model.{f}]", sub) for f, sub in overrides.items()]
        for where, table in tables:
            if key in table and (where == "[train]" or key == "dropout"):
                raise _ConfigError(
                    f"{where} {key}={_one_or_list(table[key])} and [tune] {key} both set {key}; "
                    f"each cell trains with the tuned {key}, so the {where} value would be "
                    f"recorded but never used: drop {key} from {where}, or drop it from [tune] "
                    "to sweep it instead"
                )


def _one_or_list(values: list[Any]) -> Any:
    return values[0] if len(values) == 1 else values


def _positive(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise _ConfigError(f"{key}={value!r}; pass a positive number of seconds")
    return float(value)


def _read_toml(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # Python 3.10
        import tomli as tomllib
    with open(path, "rb") as f:
        try:
            return tomllib.load(f)
        except tomllib.TOMLDecodeError as err:
            raise ValueError(f"{path}: not valid TOML: {err}") from None


def load_config(path: str | Path) -> SweepConfig:
    """Read and validate a sweep TOML file.

    Unknown keys and bad values raise ``ValueError`` naming the table, the key and the valid
    values. ``name`` defaults to the file name without ``.toml``.

    Args:
        path: the ``.toml`` file.

    Returns:
        A :class:`SweepConfig`.

    Example:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "tiny.toml"
        >>> _ = path.write_text('''
        ... seed = [0, 1, 2]
        ... [data]
        ... name = "cora"
        ... [model]
        ... family = ["gcn", "resgcn"]
        ... depth = [2, 4]
        ... activation = "tanh"
        ... ''')
        >>> config = load_config(path)
        >>> config.name, len(config.cells()), config.cells()[0].key  # doctest: +ELLIPSIS
        ('tiny', 12, 'cora-gcn-d2-default-s0-...')
        >>> _ = path.write_text('[data]\\nname = "cora"\\n[model]\\nfamily = "gcn"\\ndepth = 2\\nwidht = 8\\n')
        >>> load_config(path)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ValueError: ...tiny.toml: [model] has unknown key 'widht'; valid keys are [...]; did you mean 'width'?
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sweep config {str(path)!r} does not exist")
    return SweepConfig.from_dict(_read_toml(path), name=path.stem, source=str(path))


def as_config(config: SweepConfig | str | Path) -> SweepConfig:
    """``config`` itself, or the :class:`SweepConfig` loaded from that TOML path."""
    if isinstance(config, SweepConfig):
        return config
    if isinstance(config, (str, Path)):
        return load_config(config)
    raise TypeError(
        f"config must be a SweepConfig or the path of a sweep TOML file, got {type(config).__name__}"
    )


def out_dir(config: SweepConfig, out: str | Path | None) -> Path:
    """The sweep's output folder: ``out``, or ``results/<name>``.

    Raises:
        ValueError: it exists and is not a folder.
    """
    folder = Path(out) if out is not None else Path("results") / config.name
    if folder.exists() and not folder.is_dir():
        arg = f"out={str(folder)!r}" if out is not None else f"results folder {str(folder)!r}"
        raise ValueError(
            f"{arg} is a file; pass a folder (it holds the journal, the curves and the reports) "
            "that does not exist yet or is one"
        )
    return folder
