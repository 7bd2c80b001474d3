"""Shared fixtures: Cora (shipped), a 5-node graph, a seeded generator, the real-data root, and a
way to damage copies of data files."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

import deepgnn

_SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def real_data_root() -> Path | None:
    """``$DEEPGNN_DATA`` or ``../shared/data`` beside the checkout, when present."""
    env = os.environ.get("DEEPGNN_DATA")
    if env and Path(env).is_dir():
        return Path(env)
    return _SHARED if _SHARED.is_dir() else None


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = real_data_root()
    if root is None:
        pytest.skip(
            "real data files absent: set DEEPGNN_DATA to a folder holding planetoid/, "
            "heterophilous/ and molecules/ (README, Datasets: where to get the files)"
        )
    return root


@pytest.fixture(scope="session")
def cora() -> deepgnn.data.Dataset:
    return deepgnn.data.load("cora")


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module's tests: small float64 steps run several times faster on
    one thread than on two cores shared with other processes."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def small_edges() -> torch.Tensor:
    """A 5-node graph: path 0-1-2-3 plus 1-4, with a duplicate and a reversed edge."""
    return torch.tensor([[0, 1, 2, 1, 1, 2], [1, 2, 3, 4, 4, 1]])


@pytest.fixture
def generator() -> torch.Generator:
    return torch.Generator().manual_seed(0)


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "random":
        path.write_bytes(np.random.default_rng(0).bytes(max(len(data), 64)))
    elif how == "empty":
        path.write_bytes(b"")
    else:
        raise ValueError(f"how={how!r}; use 'truncated', 'random' or 'empty'")


@pytest.fixture
def corrupt() -> Callable[[Path, str], None]:
    """``corrupt(path, how)`` damages a copy of a real file: ``"truncated"`` (cut in half),
    ``"random"`` (overwritten with as many random bytes) or ``"empty"``."""
    return _damage
