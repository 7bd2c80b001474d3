"""deepgnn: depth studies of graph neural networks.

Build GCN / ResGCN / GAT models at any depth, initialize them, measure signal
propagation, and run depth sweeps. ``import deepgnn`` loads no DGL, Optuna or matplotlib.
"""

from __future__ import annotations

from deepgnn import data, experiment, init, models, objective, search, signal
from deepgnn.experiment import depth_table
from deepgnn.graph import Graph
from deepgnn.models import build
from deepgnn.signal import analyze

__all__ = [
    "Graph",
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
    "__version__",
]
__version__ = "0.1.0"
