r"""Time a full training step of deep GCNs: deepgnn's kernels beside torch.sparse, PyG and DGL.

A step is forward, cross-entropy on the training nodes, backward and an Adam update. Each
step is bracketed by device synchronizations, warm-up steps are discarded, and the median of
the rest is reported with the peak device memory of the timed steps. Every implementation of
one configuration runs in the same process, one after another, so ratios are side by side.

* GPU suite (``suite="gpu-arxiv"``): a seeded random graph of ogbn-arxiv size (169,343 nodes,
  1,166,243 undirected edges, 128 features, 40 classes; Hu et al., "Open Graph Benchmark",
  NeurIPS 2020), ``gcn`` and ``resgcn`` with tanh, widths 64 and 256, depths 2 to 64;
  implementations ``deepgnn`` (``Graph.spmm``: the Triton kernel), ``torch_sparse`` (the same
  model with plain ``torch.sparse.mm``, whose backward transposes :math:`\hat A`) and ``pyg``
  (the same architecture from ``torch_geometric.nn.GCNConv(cached=True)``, when importable).
* CPU suite (``suite="cpu-cora"``): Cora, depths 2, 16, 64, deepgnn against ``backend="dgl"``.
* :mod:`deepgnn.bench.memory`: activation memory and step time against depth for ``resgcn``,
  ``resgcn`` with ``checkpoint=True`` and ``revgcn`` (``benchmarks/bench_memory.py``).

This module is the logic behind ``deepgnn bench`` and ``make bench``; it is not imported by
``import deepgnn``.
"""

from deepgnn.bench._suite import (
    GPU_CASES,
    QUICK_GPU_CASES,
    run,
    run_cpu,
    run_gpu,
    time_step,
)
from deepgnn.bench._suite import PyGNet as _PyGNet
from deepgnn.bench._suite import TorchSparseGraph as _TorchSparseGraph
from deepgnn.bench._suite import host_us as _host_us
from deepgnn.bench.graphs import (
    ARXIV_SIZE,
    GRAPHS,
    MODES,
    PRODUCTS_SIZE,
    arxiv_sized_graph,
    benchmark_graph,
    graph_record,
    powerlaw_graph,
    reorder,
)
from deepgnn.bench.report import markdown_report, write_results

__all__ = [
    "ARXIV_SIZE",
    "GPU_CASES",
    "GRAPHS",
    "QUICK_GPU_CASES",
    "MODES",
    "PRODUCTS_SIZE",
    "run",
    "arxiv_sized_graph",
    "benchmark_graph",
    "graph_record",
    "powerlaw_graph",
    "reorder",
    "time_step",
    "run_gpu",
    "run_cpu",
    "write_results",
    "markdown_report",
]

# Used by the benchmark scripts and tests: the two baselines and the host-cost timer.
_BASELINES = (_TorchSparseGraph, _PyGNet, _host_us)
