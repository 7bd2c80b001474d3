"""deepgnn: depth studies of graph neural networks.

Build GCN / ResGCN / GAT models at any depth, initialize them, measure signal
propagation, and run depth sweeps; :func:`wrap` brings in a PyG, DGL or PyTorch model.
``import deepgnn`` loads no torch_geometric, DGL, Optuna or matplotlib; ``deepgnn.sweep`` is
imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from deepgnn import adapters, data, experiment, init, models, objective, search, signal
from deepgnn.adapters import wrap
from deepgnn.experiment import depth_table
from deepgnn.graph import Graph
from deepgnn.models import build
from deepgnn.signal import analyze

__all__ = [
    "Graph",
    "adapters",
    "analyze",
    "build",
    "data",
    "depth_table",
    "experiment",
    "init",
    "models",
    "objective",
    "search",
    "signal",
    "sweep",
    "wrap",
    "__version__",
]
#: The version of this release; the one place it is written (packaging reads it).
__version__ = "0.1.0"

_LAZY = ("sweep",)


def __getattr__(name: str) -> Any:
    # deepgnn.sweep on first access (PEP 562): `import deepgnn; deepgnn.sweep.run(...)` works,
    # and `import deepgnn` stays as light as it was.
    if name in _LAZY:
        return importlib.import_module(f"deepgnn.{name}")
    raise AttributeError(f"module 'deepgnn' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
