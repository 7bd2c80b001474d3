r"""Depth sweeps: a grid of cells from a TOML file, run by worker processes sharing an Optuna study.

A sweep is a grid over datasets x model families x depths x ... x initializations x seeds. Each
combination is a **cell**, run by :func:`deepgnn.experiment.run_cell`: build the model, apply
the initialization, optionally record the signal-propagation summary
(:func:`deepgnn.signal.analyze`) at initialization and after training, train it
(:func:`deepgnn.train.train_node`, or :func:`~deepgnn.train.train_graph` for graph datasets)
and record one row.

- :mod:`deepgnn.sweep.config`: the TOML schema (:class:`SweepConfig`, :func:`load_config`),
  validated on load;
- :mod:`deepgnn.sweep.ledger`: the Optuna study the cells are claimed and recorded in, exactly
  once, across processes and hosts (:func:`status`, :func:`open_study`);
- :mod:`deepgnn.sweep.runner`: the worker processes (:func:`run`);
- :mod:`deepgnn.sweep.report`: ``results.csv``, ``summary.md`` and plots (:func:`report`), a
  cell's training curves (:func:`plot_curves`);
- :mod:`deepgnn.sweep.correlations`: which init-time measure predicts the test metric
  (``correlations.md``, written by :func:`report`);
- :mod:`deepgnn.sweep.latex`: ``summary.md``'s tables as booktabs LaTeX (:func:`write_latex`).

Results and reports are written atomically (temporary file, fsync, then ``os.replace``).
"""

from __future__ import annotations

from deepgnn.sweep.config import RECORD, Cell, SweepConfig, load_config
from deepgnn.sweep.latex import write_latex
from deepgnn.sweep.ledger import SweepStatus, open_study, status
from deepgnn.sweep.report import plot_curves, report
from deepgnn.sweep.runner import run

__all__ = [
    "RECORD",
    "Cell",
    "SweepConfig",
    "SweepStatus",
    "load_config",
    "open_study",
    "plot_curves",
    "report",
    "run",
    "status",
    "write_latex",
]
