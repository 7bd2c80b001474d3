"""deepgnn: depth studies of graph neural networks.

Build GCN / ResGCN / GAT models at any depth, initialize them, measure signal
propagation, and run depth sweeps. ``import deepgnn`` loads no DGL, Optuna or matplotlib.
"""

from __future__ import annotations

from deepgnn import data, init, models, signal
from deepgnn.graph import Graph
from deepgnn.models import build
from deepgnn.signal import analyze, depth_table

__all__ = [
    "Graph",
    "analyze",
    "build",
    "data",
    "depth_table",
    "init",
    "models",
    "signal",
    "__version__",
]
__version__ = "0.1.0"
