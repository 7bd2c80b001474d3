r"""Depth sweeps: a grid of cells from a TOML file, run by worker processes sharing an Optuna study.

A sweep is a grid over datasets x model families x depths x ... x initializations x seeds. Each
combination is a **cell**: build the model, apply the initialization, optionally record the
signal-propagation summary (:func:`deepgnn.signal.analyze`) at initialization and after
training, train it (:func:`deepgnn.train.train_node`, or :func:`~deepgnn.train.train_graph` for
graph datasets) and record one row.

The grid is an Optuna study (``GridSampler`` over the cell index) on a storage: a journal file
under the output folder by default (one host, many processes), or any Optuna RDB URL such as
``postgresql+psycopg2://user@host/db`` (many hosts). Each worker process pulls the next cell
until none are left. Optuna alone does not run a grid exactly once (its ``GridSampler`` docs:
concurrent workers may evaluate a grid point twice; a killed process leaves its trial
``RUNNING`` forever), so the runner adds, on top of the study:

- **claims**: a worker claims cell ``k`` by enqueueing a trial whose user attribute
  ``cell_key`` is ``k`` (written atomically with the trial) and asking for it; of all live
  claims of ``k`` (waiting, running or complete), the lowest trial number runs and the others
  are pruned as duplicates. The journal orders every write, so on journal storage two workers
  never both run a cell;
- **heartbeats**: a running claim refreshes its ``heartbeat`` attribute every
  ``heartbeat_interval`` seconds; a claim whose heartbeat is older than ``grace_period``, or
  whose worker process is gone (same host), is failed as *lost*, and its cell runs again;
- **retries**: a cell that raises is recorded as failed with its error text and runs again up
  to ``max_retries`` times; the sweep goes on. A diverged run (NaN/inf loss) is a result
  (``status="diverged"``), not a failure;
- **one row per cell**: :func:`report` keeps one row per cell key (the first completed claim),
  so even the rare RDB race (two claims committed within milliseconds) is recorded once.

Results and reports are written atomically (temporary file, then ``os.replace``).
"""

from __future__ import annotations

import difflib
import hashlib
import inspect
import itertools
import json
import logging
import math
import os
import random
import re
import signal as _signal
import socket
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepgnn._checks import check_choice, check_int

__all__ = [
    "RECORD",
    "Cell",
    "SweepConfig",
    "SweepStatus",
    "load_config",
    "open_study",
    "report",
    "run",
    "status",
]

log = logging.getLogger(__name__)

RECORD = ("final", "signal_init", "signal_final", "curves")
_TOP_KEYS = (
    "name",
    "description",
    "seed",
    "record",
    "max_retries",
    "heartbeat_interval",
    "grace_period",
    "storage",
    "data",
    "model",
    "init",
    "train",
)
# Keys set by the runner itself, never by the file.
_BUILD_MANAGED = {"name", "in_dim", "out_dim", "depth", "seed"}
_TRAIN_MANAGED = {"model", "dataset", "init", "init_options", "device", "seed", "progress"}
# TOML has no null: the string "none" stands for None where the keyword accepts None.
_NONE = "none"
# [train] split = "seed": a cell of seed s uses split s (mod the dataset's number of splits).
_SPLIT_SEED = "seed"
# Column names of the row that differ from the TOML key (a TrainResult field owns the name).
_RENAMED = {"epochs": "max_epochs"}
_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")


# ------------------------------------------------------------------------------- config
def _build_keys() -> dict[str, inspect.Parameter]:
    from deepgnn.models import build

    params = inspect.signature(build).parameters
    return {n: p for n, p in params.items() if p.kind is p.KEYWORD_ONLY and n not in _BUILD_MANAGED}


def _family_options() -> dict[str, set[str]]:
    from deepgnn import models

    return {name: set(models.options(name)) for name in models.available()}


def _train_keys() -> dict[str, inspect.Parameter]:
    from deepgnn.train import train_graph, train_node

    keys: dict[str, inspect.Parameter] = {}
    for fn in (train_node, train_graph):
        for n, p in inspect.signature(fn).parameters.items():
            if p.kind is p.KEYWORD_ONLY and n not in _TRAIN_MANAGED:
                keys.setdefault(n, p)
    return keys


def _init_names() -> list[str] | None:
    try:
        from deepgnn import init as inits
    except ImportError:
        return None
    return inits.available()


def _init_option_names(name: str) -> set[str] | None:
    """Keyword options of init scheme ``name`` (``None`` when they cannot be read)."""
    try:
        from deepgnn import init as inits
    except ImportError:
        return None
    if name not in inits.available():
        return None
    return inits.options(name) - {"generator"}


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


def _none(value: Any) -> Any:
    return None if value == _NONE else value


@dataclass
class Cell:
    """One combination of the grid: the sweep's unit of work.

    Attributes:
        key: deterministic id, ``<dataset>-<family>-d<depth>-<init>-s<seed>-<hash>``; the hash
            covers every setting (fixed ones too), so changing e.g. ``epochs`` makes new cells.
        dataset, family, depth, init, seed: the main axes (``init="default"`` keeps ``build``'s
            own initialization).
        model: the other keyword arguments of :func:`deepgnn.build` (family options included
            only for the families that take them).
        train: keyword arguments of :func:`~deepgnn.train.train_node` / ``train_graph``.
        init_options: keyword options passed to :func:`deepgnn.init.init_`.
        root: the data folder (not part of the key: it differs between machines).
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

    def columns(self) -> dict[str, Any]:
        """The settings as row columns (``epochs`` appears as ``max_epochs``)."""
        cols: dict[str, Any] = {"cell": self.key, "dataset": self.dataset, "family": self.family}
        cols["depth"] = self.depth
        cols.update(self.model)
        cols["init"] = self.init
        if self.init_options:
            cols["init_options"] = json.dumps(self.init_options, sort_keys=True)
        cols.update({_RENAMED.get(k, k): v for k, v in self.train.items()})
        cols["seed"] = self.seed
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
        data, model, init, train: the tables, every value a list (one entry for a fixed value).
        init_options: ``{scheme: {option: value}}`` from the ``[init.<scheme>]`` tables; a
            value that is itself a table, ``[init.<scheme>.<family>]``, holds options for
            one model family that replace the scheme's own.
        seed: seeds (build, init and training of a cell all use its seed).
        record: what each cell records, a subset of :data:`RECORD`.
        max_retries: how often a cell that raised runs again.
        heartbeat_interval: seconds between a running cell's heartbeats.
        grace_period: a running cell whose heartbeat is older than this is lost.
        storage: default storage (journal file path or RDB URL); ``None`` = journal file
            ``<out>/sweep.journal``.
        description: free text.
        source: the TOML file it came from, if any.
        model_overrides: ``{family: {key: values}}`` from the ``[model.<family>]`` tables:
            settings that replace ``[model]``'s for that family (e.g. its activation).
    """

    name: str
    data: dict[str, list[Any]]
    model: dict[str, list[Any]]
    init: dict[str, list[Any]]
    train: dict[str, list[Any]]
    init_options: dict[str, dict[str, Any]]
    seed: tuple[int, ...]
    record: tuple[str, ...] = ("final",)
    max_retries: int = 2
    heartbeat_interval: float = 30.0
    grace_period: float = 120.0
    storage: str | None = None
    description: str = ""
    source: str | None = None
    model_overrides: dict[str, dict[str, list[Any]]] = field(default_factory=dict)

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
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise _ConfigError(
                f"name={name!r}; pass a name of letters, digits, '_', '-' or '.' such as "
                'name = "depth_cora" (it names the study and the results folder)'
            )
        for table in ("data", "model", "init", "train"):
            if table in raw and not isinstance(raw[table], dict):
                raise _ConfigError(f"{table} must be a table [{table}], got {raw[table]!r}")
        data = cls._data(raw.get("data", {}))
        model, model_overrides = cls._model(raw.get("model", {}))
        init, init_options = cls._init(raw.get("init", {}), model["name"])
        train = cls._train(raw.get("train", {}))
        seeds = _as_axis("the top level", "seed", raw.get("seed", 0))
        for s in seeds:
            check_int("seed", s, minimum=0)
        record = raw.get("record", ["final"])
        record = [record] if isinstance(record, str) else record
        if not isinstance(record, list):
            raise _ConfigError(f"record={record!r}; pass a list such as record = ['final']")
        for r in record:
            check_choice("record", r, RECORD)
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
        config = cls(
            name=name,
            data=data,
            model=model,
            model_overrides=model_overrides,
            init=init,
            train=train,
            init_options=init_options,
            seed=tuple(seeds),
            record=tuple(dict.fromkeys(["final", *record])),
            max_retries=max_retries,
            heartbeat_interval=float(interval),
            grace_period=float(grace),
            storage=storage,
            description=description,
            source=source,
        )
        if ({"signal_init", "signal_final"} & set(config.record)) and _import_optional(
            "deepgnn.signal"
        ) is None:
            raise _ConfigError(
                "record asks for the signal summary, but deepgnn.signal is not available; "
                "drop 'signal_init'/'signal_final' from record"
            )
        return config

    @staticmethod
    def _data(table: dict[str, Any]) -> dict[str, list[Any]]:
        from deepgnn import data

        for key in table:
            if key not in ("name", "root"):
                raise _unknown_key("[data]", key, ("name", "root"))
        if "name" not in table:
            raise _ConfigError('[data] needs name, e.g. name = ["cora"]')
        names = _as_axis("[data]", "name", table["name"])
        for n in names:
            check_choice("[data] name", n, data.available())
        root = table.get("root")
        if root is not None and not isinstance(root, str):
            raise _ConfigError(f"[data] root={root!r}; pass a folder path as a string")
        return {"name": names, "root": [root]}

    @staticmethod
    def _model(
        table: dict[str, Any],
    ) -> tuple[dict[str, list[Any]], dict[str, dict[str, list[Any]]]]:
        from deepgnn import models

        options = _family_options()
        valid = ["name", "depth", *_build_keys(), *sorted(set().union(*options.values()))]
        table = dict(table)
        subtables = {k: table.pop(k) for k in list(table) if isinstance(table[k], dict)}
        for key in table:
            if key not in valid:
                raise _unknown_key("[model]", key, valid)
        for key in ("name", "depth"):
            if key not in table:
                raise _ConfigError(f'[model] needs {key}, e.g. name = ["gcn"], depth = [2, 4]')
        model = {k: _as_axis("[model]", k, v) for k, v in table.items()}
        for n in model["name"]:
            check_choice("[model] name", n, models.available())
        overrides: dict[str, dict[str, list[Any]]] = {}
        for family, sub in subtables.items():
            if family not in model["name"]:
                raise _ConfigError(
                    f"[model.{family}] overrides settings of family {family!r}, which [model] "
                    f"name does not list ({model['name']}); add it to name or drop the table"
                )
            family_valid = [*_build_keys(), *sorted(options[family])]
            for key in sub:
                if key not in family_valid:
                    raise _unknown_key(f"[model.{family}]", key, family_valid)
            overrides[family] = {k: _as_axis(f"[model.{family}]", k, v) for k, v in sub.items()}
            for w in overrides[family].get("width", []):
                check_int(f"[model.{family}] width", w, minimum=1)
        for d in model["depth"]:
            check_int("[model] depth", d, minimum=1)
        for w in model.get("width", []):
            check_int("[model] width", w, minimum=1)
        for key in set(model) - {"name", "depth", *_build_keys()}:
            takers = [f for f in model["name"] if key in options[f]]
            if not takers:
                holders = sorted(f for f, o in options.items() if key in o)
                raise _ConfigError(
                    f"[model] {key} is an option of {holders}, but name lists {model['name']}; "
                    f"add one of {holders} to name or drop {key}"
                )
        # Dry-build every combination of the other keys: build's own checks name the key.
        for family in model["name"]:
            merged = _family_axes(model, overrides, family)
            others = {k: v for k, v in merged.items() if k != "width"}
            keys = list(others)
            where = f"[model.{family}]" if family in overrides else "[model]"
            for combo in itertools.product(*others.values()):
                kw = {k: _none(v) for k, v in zip(keys, combo)}
                try:
                    models.build(family, 3, 2, 1, width=2, **kw)
                except (ValueError, TypeError) as err:
                    raise _ConfigError(f"{where} {err}") from None
        return model, overrides

    @staticmethod
    def _init(
        table: dict[str, Any], families: Sequence[str]
    ) -> tuple[dict[str, list[Any]], dict[str, dict[str, Any]]]:
        from deepgnn import models

        known = _init_names()
        names = _as_axis("[init]", "name", table.get("name", "default"))
        choices = ["default", *(known or [])]
        for n in names:
            if known is None and n != "default":
                raise _ConfigError(
                    f"[init] name={n!r} needs deepgnn.init, which is not available; "
                    'use name = "default" (build\'s own initialization)'
                )
            check_choice("[init] name", n, choices)
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
            accepted = _init_option_names(key)
            for opt, v in value.items():
                if isinstance(v, dict):
                    # [init.<scheme>.<family>]: options for one model family
                    where, given = f"[init.{key}.{opt}]", list(v)
                    check_choice(f"{where} (a model family)", opt, models.available())
                    if opt not in families:
                        raise _ConfigError(
                            f"{where} gives options for family {opt!r}, which [model] name does "
                            f"not list ({list(families)}); add it or drop the table"
                        )
                else:
                    where, given = f"[init.{key}]", [opt]
                if accepted is not None:
                    for o in given:
                        if o not in accepted:
                            raise _unknown_key(where, o, sorted(accepted))
            options[key] = dict(value)
        return {"name": names}, options

    @staticmethod
    def _train(table: dict[str, Any]) -> dict[str, list[Any]]:
        from deepgnn.train import _check_common

        valid = _train_keys()
        for key in table:
            if key not in valid:
                hint = " (seed is a top-level key)" if key == "seed" else ""
                raise _unknown_key(f"[train]{hint}", key, list(valid))
        train = {k: _as_axis("[train]", k, v) for k, v in table.items()}
        defaults = {k: p.default for k, p in valid.items()}
        for key in ("split", "batch_size"):
            for v in train.get(key, []):
                if key == "split" and v == _SPLIT_SEED:
                    continue
                if key == "split" and isinstance(v, str) and v != _NONE:
                    raise _ConfigError(
                        f"[train] split={v!r}; pass a split index such as split = 0, a list of "
                        f'them, or split = "{_SPLIT_SEED}" (a cell of seed s uses split s)'
                    )
                if _none(v) is not None:
                    check_int(f"[train] {key}", v, minimum=0 if key == "split" else 1)
        common = ("epochs", "lr", "weight_decay", "patience", "schedule")
        axes = [train.get(k, [defaults[k]]) for k in common]
        for combo in itertools.product(*axes):
            try:
                _check_common(*(_none(v) for v in combo))
            except (ValueError, TypeError) as err:
                raise _ConfigError(f"[train] {err}") from None
        for v in train.get("pool", []):
            check_choice("[train] pool", v, ("mean", "sum"))
        return train

    def cells(self) -> list[Cell]:
        """The grid, in a deterministic order (duplicates, e.g. a family option on a family
        that does not take it, appear once)."""
        family_axes = {
            f: _family_axes(self.model, self.model_overrides, f) for f in self.model["name"]
        }
        grid = [
            (family, dict(zip(family_axes[family], combo)))
            for family in self.model["name"]
            for combo in itertools.product(*family_axes[family].values())
        ]
        cells: dict[str, Cell] = {}
        for dataset, (family, model), depth, init, train_combo, seed in (
            (d, fm, dep, i, t, s)
            for d in self.data["name"]
            for fm in grid
            for dep in self.model["depth"]
            for i in self.init["name"]
            for t in itertools.product(*self.train.values())
            for s in self.seed
        ):
            cell = Cell(
                key="",
                dataset=dataset,
                family=family,
                depth=depth,
                init=init,
                seed=seed,
                model=dict(model),
                train=dict(zip(self.train, train_combo)),
                init_options=_scheme_options_for(self.init_options.get(init, {}), family),
                root=self.data["root"][0],
            )
            settings = json.dumps(cell.columns(), sort_keys=True, default=str)
            digest = hashlib.sha1(settings.encode()).hexdigest()[:8]
            cell.key = re.sub(
                r"[^A-Za-z0-9_.=-]", "_", f"{dataset}-{family}-d{depth}-{init}-s{seed}-{digest}"
            )
            cells.setdefault(cell.key, cell)
        return list(cells.values())

    def axes(self) -> dict[str, list[Any]]:
        """Row column -> grid values, for every setting that takes more than one value."""
        named = {"dataset": self.data["name"], "family": self.model["name"]}
        named.update({k: list(v) for k, v in self.model.items() if k != "name"})
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
    """The ``[model]`` axes other than name and depth that apply to ``family``, with its
    ``[model.<family>]`` overrides."""
    options = _family_options()[family]
    build_keys = set(_build_keys())
    axes = {
        k: v
        for k, v in model.items()
        if k not in ("name", "depth") and (k in build_keys or k in options)
    }
    axes.update(overrides.get(family, {}))
    return axes


def _positive(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise _ConfigError(f"{key}={value!r}; pass a positive number of seconds")
    return float(value)


def _import_optional(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
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
        ... name = ["gcn", "resgcn"]
        ... depth = [2, 4]
        ... activation = "tanh"
        ... ''')
        >>> config = load_config(path)
        >>> config.name, len(config.cells()), config.cells()[0].key  # doctest: +ELLIPSIS
        ('tiny', 12, 'cora-gcn-d2-default-s0-...')
        >>> _ = path.write_text('[data]\\nname = "cora"\\n[model]\\nname = "gcn"\\ndepth = 2\\nwidht = 8\\n')
        >>> load_config(path)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ValueError: ...tiny.toml: [model] has unknown key 'widht'; valid keys are [...]; did you mean 'width'?
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sweep config {str(path)!r} does not exist")
    return SweepConfig.from_dict(_read_toml(path), name=path.stem, source=str(path))


def _config(config: SweepConfig | str | Path) -> SweepConfig:
    if isinstance(config, SweepConfig):
        return config
    if isinstance(config, (str, Path)):
        return load_config(config)
    raise TypeError(
        f"config must be a SweepConfig or the path of a sweep TOML file, got {type(config).__name__}"
    )


# ------------------------------------------------------------------------------ storage
def _out_dir(config: SweepConfig, out: str | Path | None) -> Path:
    return Path(out) if out is not None else Path("results") / config.name


def _storage(config: SweepConfig, storage: str | None, out: Path) -> Any:
    import optuna

    url = storage if storage is not None else config.storage
    if url is None:
        out.mkdir(parents=True, exist_ok=True)
        url = str(out / "sweep.journal")
    if not isinstance(url, str):
        raise TypeError(f"storage must be a string, got {type(url).__name__}")
    if "://" in url:
        try:
            return optuna.storages.RDBStorage(url)
        except ImportError as err:
            raise ImportError(
                f"storage={url!r} needs a database driver: {err}; for PostgreSQL "
                "pip install psycopg2-binary"
            ) from None
    path = Path(url.removeprefix("journal:"))
    if not path.parent.is_dir():
        raise ValueError(
            f"storage={url!r}: folder {str(path.parent)!r} does not exist; create it or pass "
            "an RDB URL such as postgresql+psycopg2://user@host/db"
        )
    backend = optuna.storages.journal.JournalFileBackend(str(path))
    return optuna.storages.journal.JournalStorage(backend)


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
    config = _config(config)
    return _open(config, _storage(config, storage, _out_dir(config, out)), len(config.cells()))


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


def _open(config: SweepConfig, storage: Any, n_cells: int) -> Any:
    import optuna

    sampler = _grid_sampler(n_cells)
    return optuna.create_study(
        study_name=config.name,
        storage=storage,
        sampler=sampler,
        direction="maximize",
        load_if_exists=True,
    )


# ------------------------------------------------------------------------- cell states
def _process_token(pid: int) -> str | None:
    """``pid:starttime`` on Linux (immune to pid reuse), else ``None``."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return f"{pid}:{fields[19]}"
    except (OSError, IndexError):
        return None


def _process_alive(pid: int, token: str | None) -> bool:
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


def _last_beat(trial: Any) -> float:
    beat = trial.user_attrs.get("heartbeat")
    if beat is not None:
        return float(beat)
    start = trial.datetime_start
    return start.timestamp() if start is not None else time.time()


def _is_stale(trial: Any, config: SweepConfig, host: str, now: float) -> bool:
    """A running claim whose worker is gone (same host) or whose heartbeat is too old."""
    attrs = trial.user_attrs
    if attrs.get("host") == host and "pid" in attrs:
        if not _process_alive(int(attrs["pid"]), attrs.get("process")):
            return True
    return now - _last_beat(trial) > config.grace_period


@dataclass
class _State:
    complete: list[Any] = field(default_factory=list)
    live: list[Any] = field(default_factory=list)  # waiting or running with a heartbeat
    stale: list[Any] = field(default_factory=list)
    errors: list[Any] = field(default_factory=list)  # failed with an error
    lost: int = 0  # failed because the worker went away


def _states(trials: Sequence[Any], keys: set[str], config: SweepConfig) -> dict[str, _State]:
    from optuna.trial import TrialState

    host, now = socket.gethostname(), time.time()
    states = {k: _State() for k in keys}
    for t in trials:
        s = states.get(t.user_attrs.get("cell_key"))
        if s is None:
            continue
        if t.state == TrialState.COMPLETE:
            s.complete.append(t)
        elif t.state == TrialState.WAITING:
            s.live.append(t)
        elif t.state == TrialState.RUNNING:
            (s.stale if _is_stale(t, config, host, now) else s.live).append(t)
        elif t.state == TrialState.FAIL:
            if "error" in t.user_attrs:
                s.errors.append(t)
            else:
                s.lost += 1
    return states


def _finally_failed(s: _State, config: SweepConfig) -> bool:
    return not s.complete and len(s.errors) > config.max_retries


@dataclass(frozen=True)
class SweepStatus:
    """Where a sweep stands, counted in cells.

    Attributes:
        total: cells in the grid.
        done: cells with a recorded result (``ok`` or ``diverged``).
        running: cells a live worker is computing.
        failed: cells that raised ``1 + max_retries`` times (recorded as failed).
        left: cells still to run (never started, lost, or failed with retries left).
        eta_seconds: estimated seconds to finish (mean cell time x (left + running) / workers
            running, at least one); ``None`` before any cell is done.
    """

    total: int
    done: int
    running: int
    failed: int
    left: int
    eta_seconds: float | None

    @property
    def finished(self) -> bool:
        """No cell is left or running."""
        return self.left == 0 and self.running == 0

    def __str__(self) -> str:
        eta = "" if self.eta_seconds is None or self.finished else f"; ETA {_hms(self.eta_seconds)}"
        return (
            f"{self.done}/{self.total} done, {self.running} running, {self.failed} failed, "
            f"{self.left} left{eta}"
        )


def _hms(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def _summarize(config: SweepConfig, trials: Sequence[Any], cells: Sequence[Cell]) -> SweepStatus:
    states = _states(trials, {c.key for c in cells}, config)
    done = sum(bool(s.complete) for s in states.values())
    failed = sum(_finally_failed(s, config) for s in states.values())
    running = sum(
        bool(s.live) and not s.complete and not _finally_failed(s, config) for s in states.values()
    )
    left = len(cells) - done - failed - running
    secs = [
        float(t.user_attrs["row"]["wall_seconds"])
        for s in states.values()
        for t in s.complete[:1]
        if "wall_seconds" in t.user_attrs.get("row", {})
    ]
    eta = None
    if secs:
        eta = sum(secs) / len(secs) * (left + running) / max(running, 1)
    return SweepStatus(len(cells), done, running, failed, left, eta)


def status(
    config: SweepConfig | str | Path,
    *,
    storage: str | None = None,
    out: str | Path | None = None,
) -> SweepStatus:
    """Count the sweep's cells that are done, running, failed and left, with an ETA.

    Reads the study (creating an empty one if the sweep never ran) and changes no trial. A
    claim whose worker is gone counts as left.

    Args:
        config: a :class:`SweepConfig` or the path of its TOML file.
        storage: as in :func:`run`.
        out: as in :func:`run`.

    Returns:
        A :class:`SweepStatus`; ``str()`` of it reads ``"3/12 done, 2 running, 0 failed, 7 left;
        ETA 1m05s"``.
    """
    config = _config(config)
    study = open_study(config, storage=storage, out=out)
    return _summarize(config, study.get_trials(deepcopy=False), config.cells())


# ------------------------------------------------------------------------------- a cell
_DATASETS: dict[tuple[str, str | None, str], Any] = {}


def _dataset(name: str, root: str | None, device: Any) -> Any:
    """Load once per process and device."""
    from deepgnn import data

    cpu = _DATASETS.get((name, root, "cpu"))
    if cpu is None:
        cpu = _DATASETS[(name, root, "cpu")] = data.load(name, root=root)
    key = (name, root, str(device))
    if key not in _DATASETS:
        to = getattr(cpu, "to", None)
        _DATASETS[key] = to(device) if to is not None and device.type != "cpu" else cpu
    return _DATASETS[key]


def _signal_columns(prefix: str, model: Any, ds: Any, seed: int) -> dict[str, Any]:
    from deepgnn.signal import analyze

    summary = analyze(model, ds.graph, ds.x, ds.y, mask=ds.train_mask, seed=seed).attrs["summary"]
    cols = {}
    for k, v in summary.items():
        if hasattr(v, "item"):
            v = v.item()
        if isinstance(v, (bool, int, float)):
            cols[f"sp_{prefix}_{k}"] = v
    return cols


def _init_options(cell: Cell, model: Any) -> dict[str, Any]:
    """The cell's ``[init.<scheme>]`` options; a scheme with a ``nonlinearity`` option that the
    config leaves unset gets the model's activation (Kaiming's gain for a tanh model is 5/3);
    SPoGInit's search is seeded by the cell's seed and runs without a progress bar."""
    options = dict(cell.init_options)
    accepted = _init_option_names(cell.init) or set()
    if "nonlinearity" in accepted and "nonlinearity" not in options:
        options["nonlinearity"] = model.activation
    if cell.init == "spoginit":
        options.setdefault("seed", cell.seed)
        options.setdefault("progress", False)
    return options


def _init_node_cell(
    cell: Cell,
    model: Any,
    init: str,
    options: dict[str, Any],
    cpu: Any,
    ds: Any,
    dev: Any,
) -> None:
    """Initialize a node-task cell's model in place from the cell's seed.

    Random draws happen on the CPU, so every device starts from the same weights. SPoGInit
    draws its base on the CPU, then runs its search where the cell trains (the search is most
    of its cost), on the dataset's features and the split's training labels.
    """
    import torch

    from deepgnn import init as inits

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cell.seed)
        if init != "spoginit":
            inits.init_(model, init, graph=cpu.graph, x=cpu.x, **options)
            return
        base = options.pop("base", "xavier")
        if base is not None:
            inits.init_(model, base)
    model.to(dev)
    inits.spoginit_(model, ds.graph, ds.x, ds.y, mask=ds.train_mask, base=None, **options)


def _run_cell(
    cell: Cell, *, device: str | None, record: Sequence[str], curves: Path | None
) -> dict[str, Any]:
    """Compute one cell and return its row (without the bookkeeping columns)."""
    import torch

    import deepgnn
    from deepgnn.train import _resolve_device, train_graph, train_node

    dev = _resolve_device(device)
    cpu = _dataset(cell.dataset, cell.root, torch.device("cpu"))
    graph_task = getattr(cpu, "task", "node") == "graph"
    width = cell.model.get("width", 64)
    in_dim, out_dim = (width, width) if graph_task else (cpu.num_features, cpu.num_classes)
    model_kw = {k: _none(v) for k, v in cell.model.items()}
    model = deepgnn.build(cell.family, in_dim, out_dim, cell.depth, seed=cell.seed, **model_kw)
    train_kw = {k: _none(v) for k, v in cell.train.items()}
    trainer = train_graph if graph_task else train_node
    accepted = set(inspect.signature(trainer).parameters)
    extra = sorted(set(train_kw) - accepted)
    if extra:
        raise ValueError(
            f"[train] {extra} do not apply to {cell.dataset} ({trainer.__name__}); its keys are "
            f"{sorted(accepted - _TRAIN_MANAGED)}"
        )
    init = None if cell.init == "default" else cell.init
    init_options = _init_options(cell, model)
    row: dict[str, Any] = {}
    if graph_task:
        if {"signal_init", "signal_final"} & set(record):
            raise ValueError(
                f"{cell.dataset} is a graph-classification dataset: signal recording applies to "
                "node datasets only; drop 'signal_init'/'signal_final' from record"
            )
        result = trainer(
            model,
            cpu,
            init=init,
            init_options=init_options if init is not None else None,
            device=dev,
            seed=cell.seed,
            **train_kw,
        )
    else:
        ds = _dataset(cell.dataset, cell.root, dev)
        split = train_kw.pop("split", None)
        if split == _SPLIT_SEED:
            split = cell.seed % cpu.num_splits
        if split is not None:
            cpu, ds = cpu.split(split), ds.split(split)
            row["split"] = split
        if init is not None:
            _init_node_cell(cell, model, init, init_options, cpu, ds, dev)
        model.to(dev)
        if "signal_init" in record:
            row.update(_signal_columns("init", model, ds, cell.seed))
        result = trainer(model, ds, device=dev, seed=cell.seed, **train_kw)
        if "signal_final" in record:
            row.update(_signal_columns("final", model, ds, cell.seed))
    if curves is not None and "curves" in record:
        _write_atomic(curves / f"{cell.key}.csv", result.log.to_csv(index=False))
    row.update(result.as_row())
    row["status"] = "diverged" if result.diverged else "ok"
    row["device"] = str(dev)
    return row


def _versions() -> dict[str, str]:
    import optuna
    import torch

    import deepgnn

    return {
        "torch": torch.__version__,
        "deepgnn": deepgnn.__version__,
        "optuna": optuna.__version__,
    }


def _write_atomic(path: Path, text: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode() if isinstance(text, str) else text
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# ------------------------------------------------------------------------------ workers
class _Heartbeat:
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

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _reap(study: Any, stale: Sequence[Any]) -> None:
    from optuna.trial import TrialState

    for t in stale:
        log.warning(
            "cell %s: worker %s is gone (last heartbeat %.0f s ago); the cell will run again",
            t.user_attrs.get("cell_key"),
            t.user_attrs.get("worker", "?"),
            time.time() - _last_beat(t),
        )
        study.tell(t.number, state=TrialState.FAIL, skip_if_finished=True)


def _claim(study: Any, trial: Any, key: str, config: SweepConfig) -> bool:
    """Whether ``trial`` is the lowest-numbered live claim of ``key`` (so it runs)."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    state = _states(trials, {key}, config)[key]
    if state.complete or _finally_failed(state, config):
        return False
    live = [t.number for t in state.live] + [trial.number]
    return min(live) == trial.number and trial.number in {
        t.number for t in trials if t.state == TrialState.RUNNING
    }


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
    from optuna.trial import TrialState

    cells = config.cells()
    by_key = {c.key: c for c in cells}
    index = {c.key: i for i, c in enumerate(cells)}
    study = _open(config, _storage(config, storage, out), len(cells))
    host, pid = socket.gethostname(), os.getpid()
    worker = f"{host}:{pid}"
    rng = random.Random(f"{worker}:{time.time()}")
    curves = out / "curves"
    versions = _versions()
    poll = min(config.heartbeat_interval, 2.0)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        desc = f"{config.name} [{device or 'auto'}]"
        bar = tqdm(total=len(cells), position=position, desc=desc, unit="cell")
    ran = 0
    try:
        while True:
            trials = study.get_trials(deepcopy=False)
            states = _states(trials, set(by_key), config)
            stale = [t for s in states.values() for t in s.stale]
            if stale:
                _reap(study, stale)
                continue
            finished = sum(bool(s.complete) or _finally_failed(s, config) for s in states.values())
            if bar is not None and finished > bar.n:
                bar.update(finished - bar.n)
            waiting = any(t.state == TrialState.WAITING for t in trials)
            todo = [
                k
                for k, s in states.items()
                if not s.complete and not s.live and not _finally_failed(s, config)
            ]
            if not todo and not waiting:
                if any(s.live for s in states.values()):
                    time.sleep(poll)  # another worker may die: its cell would come back
                    continue
                break
            if not waiting:
                key = rng.choice(todo)
                study.enqueue_trial({"cell": index[key]}, user_attrs={"cell_key": key})
            trial = study.ask()
            key = trial.user_attrs.get("cell_key")
            if key not in by_key:
                study.tell(trial, state=TrialState.PRUNED)
                continue
            trial.suggest_int("cell", 0, len(cells) - 1)
            for name, value in (("worker", worker), ("host", host), ("pid", pid)):
                trial.set_user_attr(name, value)
            trial.set_user_attr("process", _process_token(pid))
            trial.set_user_attr("heartbeat", time.time())
            if not _claim(study, trial, key, config):
                trial.set_user_attr("duplicate", True)
                study.tell(trial, state=TrialState.PRUNED)
                continue
            ran += 1
            _run_claim(study, trial, by_key[key], config, device, curves, versions, worker)
    finally:
        if bar is not None:
            bar.close()
        _DATASETS.clear()
    log.info("worker %s ran %d cells", worker, ran)
    return ran


def _run_claim(
    study: Any,
    trial: Any,
    cell: Cell,
    config: SweepConfig,
    device: str | None,
    curves: Path,
    versions: dict[str, str],
    worker: str,
) -> None:
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    attempt = 1 + sum(
        1
        for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
        if t.user_attrs.get("cell_key") == cell.key and "error" in t.user_attrs
    )
    base = {**cell.columns(), "attempt": attempt, "trial": trial.number, "worker": worker}
    base.update(host=socket.gethostname(), **{f"{k}_version": v for k, v in versions.items()})
    start = time.perf_counter()
    try:
        with _Heartbeat(trial, config.heartbeat_interval):
            try:
                row = _run_cell(cell, device=device, record=config.record, curves=curves)
                error = None
            except Exception as err:
                log.warning("cell %s failed (attempt %d)", cell.key, attempt, exc_info=True)
                error = f"{type(err).__name__}: {err}"[:4000]
                row = {"status": "failed", "device": str(device or "auto")}
                _free_cuda()
    except BaseException:
        # Interrupted (Ctrl-C, SIGTERM): free the cell for the next run at once.
        study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
        raise
    row = {**base, **row, "wall_seconds": time.perf_counter() - start, "error": error or ""}
    try:
        trial.set_user_attr("row", _jsonable(row))
        if error is not None:
            trial.set_user_attr("error", error)
            study.tell(trial, state=TrialState.FAIL)
            return
        if any(
            t.user_attrs.get("cell_key") == cell.key
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
            cell.key,
        )


def _free_cuda() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in row.items():
        if hasattr(v, "item"):
            v = v.item()
        out[k] = v if v is None or isinstance(v, (bool, int, float, str)) else str(v)
    return out


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
    config = _config(config)
    devs = _check_devices(devices)
    if workers is None:
        workers = len(devs) if devices is not None else 1
    check_int("workers", workers, minimum=1)
    out_dir = _out_dir(config, out)
    out_dir.mkdir(parents=True, exist_ok=True)
    cells = config.cells()
    # Create the study once here, so that the workers only load it.
    _open(config, _storage(config, storage, out_dir), len(cells))
    if workers == 1 and len(devs) == 1:
        _work(config, storage=storage, out=out_dir, device=devs[0], progress=progress)
        return status(config, storage=storage, out=out_dir)

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
            str(out_dir),
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
    final = status(config, storage=storage, out=out_dir)
    if bad:
        raise RuntimeError(
            f"worker processes {bad} exited abnormally ({final}); rerun the same command to "
            "finish the sweep"
        )
    return final


# ------------------------------------------------------------------------------- report
def _rows(config: SweepConfig, trials: Sequence[Any]) -> list[dict[str, Any]]:
    cells = config.cells()
    states = _states(trials, {c.key for c in cells}, config)
    rows = []
    for cell in cells:
        s = states[cell.key]
        if s.complete:
            rows.append(min(s.complete, key=lambda t: t.number).user_attrs["row"])
        elif _finally_failed(s, config):
            rows.append(max(s.errors, key=lambda t: t.number).user_attrs["row"])
    return rows


def _fmt(mean: float, std: float, n: int) -> str:
    if not math.isfinite(mean):
        return "—"
    return f"{mean:.4f}" if n < 2 or not math.isfinite(std) else f"{mean:.4f} ± {std:.4f}"


def _summary_md(config: SweepConfig, df: Any, n_cells: int) -> str:
    import pandas as pd

    metric = (
        str(df["metric"].dropna().iloc[0])
        if "metric" in df and df["metric"].notna().any()
        else "test"
    )
    lines = [f"# Sweep `{config.name}`", ""]
    if config.description:
        lines += [config.description, ""]
    counts = df["status"].value_counts().to_dict()
    lines.append(
        f"{len(df)} of {n_cells} cells recorded ("
        + ", ".join(f"{counts.get(k, 0)} {k}" for k in ("ok", "diverged", "failed"))
        + f"). Entries: test {metric} at the epoch of best validation, mean ± std over seeds; "
        "best per depth in **bold**."
    )
    lines.append("")
    axes = config.axes()
    group_cols = ["dataset", "family"] + [
        c for c in axes if c not in ("dataset", "family", "depth", "init", "seed") and c in df
    ]
    ok = df[df["status"] != "failed"]
    for group, part in df.groupby(group_cols, dropna=False, sort=False):
        group = group if isinstance(group, tuple) else (group,)
        title = ", ".join(f"{c}={v}" for c, v in zip(group_cols, group))
        lines += [f"## {title}", ""]
        inits = list(dict.fromkeys(part["init"]))
        lines.append("| depth | " + " | ".join(inits) + " |")
        lines.append("|---:|" + "---:|" * len(inits))
        okp = ok.loc[ok.index.intersection(part.index)]
        for depth in sorted(part["depth"].unique()):
            stats = {}
            for init in inits:
                sel = okp[(okp["depth"] == depth) & (okp["init"] == init)]
                vals = pd.to_numeric(sel["test"], errors="coerce").dropna()
                stats[init] = (
                    float(vals.mean()) if len(vals) else math.nan,
                    float(vals.std()) if len(vals) > 1 else math.nan,
                    len(vals),
                )
            finite = [m for m, _, _ in stats.values() if math.isfinite(m)]
            best = max(finite) if finite else None
            cells = []
            for init in inits:
                mean, std, n = stats[init]
                text = _fmt(mean, std, n)
                if best is not None and mean == best:
                    text = f"**{text}**"
                sub = part[(part["depth"] == depth) & (part["init"] == init)]
                notes = [
                    f"{int((sub['status'] == k).sum())} {k}"
                    for k in ("diverged", "failed")
                    if (sub["status"] == k).any()
                ]
                cells.append(text + (f" ({', '.join(notes)})" if notes else ""))
            lines.append(f"| {depth} | " + " | ".join(cells) + " |")
        lines.append("")
    versions = df.iloc[0]
    lines.append(
        f"torch {versions.get('torch_version', '?')}, deepgnn {versions.get('deepgnn_version', '?')}; "
        f"devices: {', '.join(sorted(map(str, df['device'].dropna().unique())))}."
    )
    return "\n".join(lines) + "\n"


def _save(fig: Any, path: Path) -> None:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, bbox_inches="tight")
    _write_atomic(path, buf.getvalue())


def _plots(config: SweepConfig, df: Any, out: Path) -> list[Path]:
    import pandas as pd
    from matplotlib.figure import Figure

    written = []
    ok = df[df["status"] != "failed"].copy()
    if ok.empty:
        return written
    extra = [c for c in config.axes() if c not in ("dataset", "family", "depth", "init", "seed")]
    # Settings that vary only between families (e.g. [model.gcn] activation) label the panel,
    # not the line.
    per_family = [c for c in extra if c in ok]
    extra = [c for c in per_family if ok.groupby(["dataset", "family"])[c].nunique().max() > 1]
    per_family = [c for c in per_family if c not in extra]
    ok["line"] = ok["init"].astype(str)
    for c in extra:
        ok["line"] += f", {c}=" + ok[c].astype(str)
    signals = sorted(c for c in ok if c.startswith("sp_") and _plottable(c))
    for dataset, part in ok.groupby("dataset", sort=False):
        families = list(dict.fromkeys(part["family"]))
        log_x = part["depth"].max() >= 8 * part["depth"].min()
        panels = [("test", f"test {part['metric'].iloc[0]}", False)]
        panels += [(c, c, c.split("_")[-1] in ("fsp", "bsp")) for c in signals]
        for name, columns in (("test", panels[:1]), ("signal", panels[1:])):
            if not columns:
                continue
            fig = Figure(figsize=(4.2 * len(families), 3.2 * len(columns)))
            axes = fig.subplots(len(columns), len(families), squeeze=False, sharey="row")
            depths = sorted(part["depth"].unique())
            for r, (col, label, log_y) in enumerate(columns):
                for c, family in enumerate(families):
                    ax = axes[r][c]
                    fam = part[part["family"] == family]
                    for line, sub in fam.groupby("line", sort=False):
                        vals = pd.to_numeric(sub[col], errors="coerce")
                        g = vals.groupby(sub["depth"]).agg(["mean", "std"]).sort_index()
                        ax.errorbar(
                            g.index,
                            g["mean"],
                            yerr=g["std"].fillna(0),
                            marker="o",
                            capsize=2,
                            label=line,
                        )
                    if log_x:
                        ax.set_xscale("log", base=2)
                    ax.set_xticks(depths, [str(d) for d in depths])
                    if log_y:
                        ax.set_yscale("log")
                    ax.set_xlabel("depth")
                    ax.set_ylabel(label)
                    fixed = ", ".join(f"{k}={fam[k].iloc[0]}" for k in per_family)
                    ax.set_title(f"{dataset}, {family}" + (f" ({fixed})" if fixed else ""))
                    ax.grid(alpha=0.3)
            axes[0][-1].legend(fontsize="small")
            path = out / f"{dataset}_{name}_vs_depth.png"
            _save(fig, path)
            written.append(path)
    return written


def _plottable(column: str) -> bool:
    return column.split("_", 2)[-1] in ("fsp", "bsp", "gev", "objective")


def report(
    config: SweepConfig | str | Path,
    *,
    storage: str | None = None,
    out: str | Path | None = None,
) -> Any:
    """Write ``results.csv``, ``summary.md`` and plots for the sweep's recorded cells.

    - ``results.csv``: one row per cell (a cell is one seed): its settings, the
      :class:`~deepgnn.train.TrainResult` fields, ``sp_init_*`` / ``sp_final_*`` signal
      summary columns when recorded, ``status`` (``ok``, ``diverged``, ``failed``), ``error``,
      ``attempt``, ``trial``, ``worker``, ``host``, ``device``, ``wall_seconds`` and the torch,
      deepgnn and Optuna versions. Cells not finished yet are left out.
    - ``summary.md``: test metric mean ± std over seeds per dataset x family (x any other
      axis) with depth rows and init columns, best per depth in bold.
    - ``<dataset>_test_vs_depth.png`` (one line per init, one panel per family) and, when
      signals were recorded, ``<dataset>_signal_vs_depth.png``.

    Args:
        config: a :class:`SweepConfig` or the path of its TOML file.
        storage: as in :func:`run`.
        out: as in :func:`run`; the files are written there.

    Returns:
        The results as a ``pandas.DataFrame`` (the rows of ``results.csv``).
    """
    import pandas as pd

    config = _config(config)
    out_dir = _out_dir(config, out)
    study = open_study(config, storage=storage, out=out_dir)
    rows = _rows(config, study.get_trials(deepcopy=False))
    df = pd.DataFrame(rows)
    n_cells = len(config.cells())
    if df.empty:
        log.warning("sweep %s has no recorded cell yet; nothing to report", config.name)
        return df
    _write_atomic(out_dir / "results.csv", df.to_csv(index=False))
    _write_atomic(out_dir / "summary.md", _summary_md(config, df, n_cells))
    _plots(config, df, out_dir)
    return df
