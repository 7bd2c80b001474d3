"""Seeded random malformed input at the public entry points: Graph, build, analyze, train_node.

Each case corrupts one or two arguments of a valid call with values drawn from a seeded
``random.Random``. A call may succeed (the value was valid after all); a call that fails must
raise one of the library's documented error types, with a message that names one of the
corrupted arguments. Anything else (a torch ``RuntimeError``, numpy's "inhomogeneous shape",
a ``KeyError``, an ``AssertionError``) is a bug at that entry point.
"""

from __future__ import annotations

import random
import time
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import deepgnn
from deepgnn.train import train_node

DOCUMENTED = (ValueError, TypeError, FileNotFoundError, ImportError)
SECONDS = 4.0  # per entry point; the whole file stays near 20 s

# Values that are wrong for almost any argument, and a few that are right for some.
ODD: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1,
    2,
    3,
    1.5,
    -0.5,
    float("nan"),
    float("inf"),
    -float("inf"),
    1e308,
    10**12,
    2**31,
    "",
    "abc",
    "1",
    "cuda",
    b"x",
    1 + 2j,
    [],
    [1, 2],
    [[0, 1], [1]],
    (0.9, 0.999),
    (1, 2, 3),
    {},
    {"a": 1},
    object(),
    np.int64(2),
    np.float32(0.5),
    np.array([1.0, float("nan")]),
]


def _odd(rng: random.Random) -> Any:
    return rng.choice(ODD)


def _tensor(rng: random.Random, shape: tuple[int, ...], *, low: int = -3, high: int = 12) -> Any:
    """A tensor of ``shape`` (or a shape off by one) in a random dtype, values in ``[low, high)``."""
    if rng.random() < 0.3:
        shape = tuple(max(0, s + rng.choice((-1, 1))) for s in shape) or (2,)
    if rng.random() < 0.15:
        shape = (*shape, 2)
    dtype = rng.choice(
        [torch.int64, torch.int32, torch.uint8, torch.float32, torch.float64, torch.bool]
        + [torch.complex64, torch.float16]
    )
    gen = torch.Generator().manual_seed(rng.randrange(2**31))
    t = (
        torch.randint(low, high, shape, generator=gen).to(dtype)
        if dtype != torch.bool
        else (torch.rand(shape, generator=gen) < 0.5)
    )
    if t.is_floating_point() and t.numel() and rng.random() < 0.3:
        value = torch.tensor(rng.choice([float("nan"), float("inf"), 0.5, 1e308]))
        t.view(-1)[0] = value.to(t.dtype)  # 1e308 is inf in float32 and float16
    return t


def _run(call: Callable[[], Any], corrupted: list[str], failures: list[str]) -> bool:
    """Run ``call``; record it in ``failures`` unless it succeeds or fails as documented."""
    try:
        call()
    except DOCUMENTED as err:
        if not any(name in str(err) for name in corrupted):
            failures.append(
                f"{type(err).__name__} does not name {corrupted}: {err}\n{traceback.format_exc()}"
            )
        return False
    except Exception as err:  # noqa: BLE001 - the point is to catch what should not happen
        failures.append(
            f"{type(err).__name__} for corrupted {corrupted}: {err}\n{traceback.format_exc()}"
        )
        return False
    return True


def _loop(case: Callable[[random.Random], tuple[Callable[[], Any], list[str]]], seed: int) -> None:
    rng = random.Random(seed)
    failures: list[str] = []
    passed = cases = 0
    deadline = time.perf_counter() + SECONDS
    while time.perf_counter() < deadline and cases < 1000:
        call, corrupted = case(rng)
        cases += 1
        passed += _run(call, corrupted, failures)
    assert not failures, f"{len(failures)} of {cases} cases:\n" + "\n".join(failures[:3])
    assert cases >= 20 and passed < cases  # the cases ran, and most of them were refused


# ----------------------------------------------------------------------------- Graph
def _graph_case(rng: random.Random) -> tuple[Callable[[], Any], list[str]]:
    n_edges = rng.randrange(0, 6)
    args: dict[str, Any] = {"edge_index": torch.randint(0, 5, (2, n_edges)), "num_nodes": 5}
    corrupted = rng.sample(["edge_index", "num_nodes", "edge_weight"], rng.choice((1, 2)))
    for name in corrupted:
        r = rng.random()
        if name == "edge_index":
            if r < 0.5:
                args[name] = _tensor(rng, (2, n_edges), high=rng.choice((5, 10**7, 2**40)))
            elif r < 0.7:
                args[name] = _tensor(rng, (2, n_edges)).numpy() if rng.random() < 0.5 else _odd(rng)
            else:
                lengths = [rng.randrange(0, 4) for _ in range(2)]
                args[name] = [[rng.randrange(-1, 6) for _ in range(k)] for k in lengths]
        elif name == "num_nodes":
            args[name] = _odd(rng) if r < 0.7 else rng.choice((0, -3, 2**31, 10**12, 5))
        else:
            args[name] = _tensor(rng, (n_edges,), low=-2, high=4) if r < 0.6 else _odd(rng)
    return lambda: deepgnn.Graph(**args), corrupted


def test_fuzz_graph_raises_only_documented_errors_naming_the_argument():
    _loop(_graph_case, seed=0)


# ----------------------------------------------------------------------------- build
_BUILD = {
    "family": "gcn",
    "in_dim": 5,
    "out_dim": 3,
    "depth": 2,
    "width": 8,
    "activation": "tanh",
    "dropout": 0.0,
    "bias": True,
    "norm": None,
    "seed": 0,
}


def _build_case(rng: random.Random) -> tuple[Callable[[], Any], list[str]]:
    args = dict(_BUILD, family=rng.choice(deepgnn.models.available()))
    keys = [*_BUILD, "heads", "backend"]
    corrupted = rng.sample(keys, rng.choice((1, 2)))
    for name in corrupted:
        value = _odd(rng)
        if name in ("in_dim", "out_dim", "depth", "width", "heads") and isinstance(value, int):
            value = min(value, 8)  # a valid but huge size would build a huge model
        args[name] = value
    if "heads" in args and args["family"] != "gat" and "heads" not in corrupted:
        del args["heads"]
    family = args.pop("family")
    return lambda: deepgnn.build(family, **args), corrupted


def test_fuzz_build_raises_only_documented_errors_naming_the_argument():
    _loop(_build_case, seed=1)


# ---------------------------------------------------------------------------- analyze
_G = deepgnn.Graph(torch.tensor([[0, 1, 2, 3, 4, 1], [1, 2, 3, 4, 5, 4]]), num_nodes=6)
_N = 6


def _analyze_case(rng: random.Random) -> tuple[Callable[[], Any], list[str]]:
    family = rng.choice(deepgnn.models.available())
    model = deepgnn.build(family, 4, 3, 2, width=8, seed=0)
    gen = torch.Generator().manual_seed(rng.randrange(2**31))
    args: dict[str, Any] = {
        "model": model,
        "graph": _G,
        "x": torch.randn(_N, 4, generator=gen),
        "y": torch.randint(0, 3, (_N,), generator=gen),
        "mask": None,
        "seed": 0,
    }
    corrupted = rng.sample(list(args), rng.choice((1, 2)))
    for name in corrupted:
        r = rng.random()
        if name == "x":
            args[name] = _tensor(rng, (_N, 4)) if r < 0.7 else _odd(rng)
        elif name == "y":
            args[name] = _tensor(rng, (_N,), low=-3, high=5) if r < 0.7 else _odd(rng)
        elif name == "mask":
            args[name] = _tensor(rng, (_N,), low=0, high=2) if r < 0.7 else _odd(rng)
        elif name == "graph":
            args[name] = _odd(rng) if r < 0.7 else deepgnn.Graph(torch.tensor([[0], [1]]))
        else:
            args[name] = _odd(rng)

    def call() -> Any:
        return deepgnn.analyze(
            args["model"], args["graph"], args["x"], args["y"], mask=args["mask"], seed=args["seed"]
        )

    return call, corrupted


def test_fuzz_analyze_raises_only_documented_errors_naming_the_argument():
    _loop(_analyze_case, seed=2)


# ------------------------------------------------------------------------- train_node
_DS = deepgnn.data.csbm(num_nodes=40, avg_degree=3, num_classes=3, num_features=4, seed=0)
_TRAIN = {
    "epochs": 1,
    "lr": 0.01,
    "weight_decay": 5e-4,
    "patience": "protocol",
    "betas": (0.9, 0.999),
    "dropout": 0.0,
    "schedule": "constant",
    "split": 0,
    "device": "cpu",
    "seed": 0,
    "init": "xavier",
    "init_options": None,
    "protocol": "kipf",
    "cuda_graph": False,
    "on_epoch": None,
}


def _train_case(rng: random.Random) -> tuple[Callable[[], Any], list[str]]:
    model = deepgnn.build(rng.choice(deepgnn.models.available()), 4, 3, 2, width=8, seed=0)
    args = dict(_TRAIN)
    dataset: Any = _DS
    corrupted = rng.sample([*_TRAIN, "dataset"], rng.choice((1, 2)))
    for name in list(corrupted):
        value = _odd(rng)
        if name == "epochs" and isinstance(value, int):
            value = min(value, 2)
        if name == "init":
            value = rng.choice([value, "kaiming", "virgo", "xavir", "spoginit"])
            if isinstance(value, str) and value == "spoginit":
                args["init_options"] = {"n_trials": 1, "progress": False}
        if name == "init_options":
            # a bad option value is named by the option (gain=nan), not by init_options
            option = rng.choice(["gain", "nonlinearity"])
            corrupted.append(option)
            args["init"] = rng.choice(["xavier", "kaiming"])
            value = rng.choice([value, {option: value}])
        if name == "dataset":
            dataset = value
        else:
            args[name] = value
    if isinstance(args["init"], str) and args["init"] == "spoginit" and not args["init_options"]:
        args["init_options"] = {"n_trials": 1, "progress": False}
    return lambda: train_node(model, dataset, **args), corrupted


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # "the run ended untrained"
def test_fuzz_train_node_raises_only_documented_errors_naming_the_argument():
    _loop(_train_case, seed=3)
