r"""Training protocols: named presets of a run's optimizer settings, resolved for a model's depth.

A depth study is only as good as its training protocol. At one setting for every depth (Adam,
lr 0.01, dropout 0.5, 200 epochs) no initialization trains a tanh GCN past depth 16 on Cora,
while with the learning rate falling with depth that the SPoGInit authors use, the same models
train (deepgnn's README, Findings). A protocol names such a setting so that a study says which
one it used, and :func:`get` resolves it for a depth.

Presets (:func:`available`):

- ``"kipf"``: deepgnn's defaults for shallow models, after Kipf & Welling, "Semi-Supervised
  Classification with Graph Convolutional Networks", ICLR 2017 (Sec. 5.1 there: Adam, lr 0.01,
  weight decay 5e-4, 200 epochs; their early stopping watches the validation loss over 10
  epochs, ours the validation metric over 100). The model keeps its own dropout.
- ``"spoginit-paper"``: the deep-GCN protocol of the SPoGInit authors' code
  (github.com/YChen-zzz/Code-for-SPoGInit, ``script/arxiv_GCN.sh`` and ``Arxiv_run.py``): lr
  5e-3, 5e-3, 5e-4, 5e-4, 5e-5 and dropout 0.5, 0.5, 0, 0, 0 at depths 4, 8, 16, 32, 64; no
  weight decay (``--wd 0``); Adam betas (0.9, 0.9995); 1000 epochs, no early stopping (their
  ``bad_counter`` break is commented out); the test metric at the best validation epoch.
  Between the listed depths the learning rate is interpolated geometrically in
  :math:`\log_2` depth, outside them it is held at the nearest end; the dropout is that of
  the deepest listed depth not above the model's (0.5 below 16, 0 from 16 on).
- ``"spoginit-paper-residual"``: the same code's ResGCN / gated ResGCN protocol
  (``script/arxiv_ResGCN_gatResGCN.sh``): lr 5e-3 (``Arxiv_run.py``'s default), dropout 0.5
  at every depth, no weight decay, betas (0.9, 0.9995), 1000 epochs, no early stopping. The
  authors' residual models use ReLU (``--activation ReLU``): build them so. Asked for
  ``"spoginit-paper"``, a residual family (``resgcn``, ``gated_resgcn``, ``rezero``) gets this
  one, as the authors ran theirs.

Example:
    >>> p = get("spoginit-paper", depth=32)
    >>> p.lr, p.dropout, p.epochs, p.patience, p.betas
    (0.0005, 0.0, 1000, None, (0.9, 0.9995))
    >>> round(get("spoginit-paper", depth=48).lr, 6)
    0.00013
    >>> get("kipf", depth=2).lr
    0.01
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

from deepgnn._checks import check_choice, check_int

__all__ = ["RESIDUAL_FAMILIES", "Protocol", "available", "get"]


@dataclass(frozen=True)
class Protocol:
    """A training run's settings, resolved for one depth.

    Attributes:
        name: the preset's name.
        lr: Adam learning rate.
        weight_decay: Adam weight decay (L2).
        epochs: epochs to run.
        patience: early stopping after this many epochs without a better validation metric;
            ``None``: none.
        betas: Adam's ``betas``.
        dropout: the model's dropout during training; ``None``: the model keeps its own.
    """

    name: str
    lr: float
    weight_decay: float
    epochs: int
    patience: int | None
    betas: tuple[float, float] = (0.9, 0.999)
    dropout: float | None = None


# Depth schedules: (depths, learning rates, dropouts); the authors' script/arxiv_GCN.sh.
_GCN_DEPTHS = (4, 8, 16, 32, 64)
_GCN_LR = (5e-3, 5e-3, 5e-4, 5e-4, 5e-5)
_GCN_DROPOUT = (0.5, 0.5, 0.0, 0.0, 0.0)
_PAPER_BETAS = (0.9, 0.9995)


def _interpolate_lr(depth: int) -> float:
    if depth <= _GCN_DEPTHS[0]:
        return _GCN_LR[0]
    if depth >= _GCN_DEPTHS[-1]:
        return _GCN_LR[-1]
    i = bisect.bisect_right(_GCN_DEPTHS, depth) - 1
    if _GCN_DEPTHS[i] == depth:
        return _GCN_LR[i]
    d0, d1 = math.log2(_GCN_DEPTHS[i]), math.log2(_GCN_DEPTHS[i + 1])
    t = (math.log2(depth) - d0) / (d1 - d0)
    return math.exp((1 - t) * math.log(_GCN_LR[i]) + t * math.log(_GCN_LR[i + 1]))


def _step_dropout(depth: int) -> float:
    i = bisect.bisect_right(_GCN_DEPTHS, depth) - 1
    return _GCN_DROPOUT[max(i, 0)]


#: Families trained with the authors' residual protocol when "spoginit-paper" is asked for.
RESIDUAL_FAMILIES = ("resgcn", "gated_resgcn", "rezero")


def get(name: str | Protocol, depth: int, *, family: str | None = None) -> Protocol:
    """Return the preset ``name`` resolved for a model of ``depth`` graph layers.

    Args:
        name: one of :func:`available`, or a :class:`Protocol` (returned as it is).
        depth: the model's depth (the number of graph layers).
        family: the model's family; ``"spoginit-paper"`` on a residual family resolves to
            ``"spoginit-paper-residual"``.

    Raises:
        ValueError: unknown name (the message lists the presets) or a depth < 1.
    """
    if isinstance(name, Protocol):
        return name
    check_choice("protocol", name, available())
    depth = check_int("depth", depth, minimum=1)
    if name == "kipf":
        return Protocol("kipf", lr=0.01, weight_decay=5e-4, epochs=200, patience=100)
    if name == "spoginit-paper" and family in RESIDUAL_FAMILIES:
        name = "spoginit-paper-residual"
    if name == "spoginit-paper":
        return Protocol(
            name,
            lr=_interpolate_lr(depth),
            weight_decay=0.0,
            epochs=1000,
            patience=None,
            betas=_PAPER_BETAS,
            dropout=_step_dropout(depth),
        )
    return Protocol(
        "spoginit-paper-residual",
        lr=5e-3,
        weight_decay=0.0,
        epochs=1000,
        patience=None,
        betas=_PAPER_BETAS,
        dropout=0.5,
    )


def available() -> list[str]:
    """Return the preset names.

    Example:
        >>> available()
        ['kipf', 'spoginit-paper', 'spoginit-paper-residual']
    """
    return ["kipf", "spoginit-paper", "spoginit-paper-residual"]
