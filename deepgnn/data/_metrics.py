"""Evaluation metrics shared by the dataset types (accuracy, ROC-AUC, OGB's evaluators)."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from torch import Tensor


def accuracy(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Fraction of rows whose arg-max score is the true class."""
    return float((scores.argmax(axis=1) == y_true).mean())


def binary_scores(scores: np.ndarray) -> np.ndarray:
    """Positive-class score of 2-class predictions: ``s[:, 1] - s[:, 0]`` for two columns.

    The logit difference is the log-odds of class 1 under softmax, a monotone function of the
    positive-class probability, so it gives the same ROC-AUC as ``softmax(s)[:, 1]``.
    """
    if scores.ndim == 2 and scores.shape[1] == 2:
        return scores[:, 1] - scores[:, 0]
    return scores.reshape(len(scores), -1)[:, 0]


def rocauc(y_true: np.ndarray, scores: np.ndarray) -> float:
    """ROC-AUC averaged over the tasks (columns) that have both a positive and a negative label.

    The semantics of ``ogb``'s evaluators: NaN labels are ignored per task; a task with a
    single class present is skipped. ``y_true`` and ``scores`` are ``(n, num_tasks)``.

    Raises:
        ValueError: no task has both classes among the evaluated rows.
    """
    from sklearn.metrics import roc_auc_score

    values = []
    for t in range(y_true.shape[1]):
        labelled = ~np.isnan(y_true[:, t].astype(np.float64))
        yt = y_true[labelled, t]
        if (yt == 1).any() and (yt == 0).any():
            values.append(roc_auc_score(yt, scores[labelled, t]))
    if not values:
        raise ValueError(
            "ROC-AUC is undefined: the evaluated rows hold a single class in every task; "
            "evaluate on a larger mask (e.g. the full validation or test set)"
        )
    return float(np.mean(values))


@functools.cache
def _ogb_evaluator(kind: str, name: str) -> Any:
    # ogb's subpackage __init__ also imports its DGL/PyG dataset classes when installed:
    # import late, and once.
    if kind == "node":
        from ogb.nodeproppred import Evaluator
    else:
        from ogb.graphproppred import Evaluator
    return Evaluator(name)


def ogb_evaluate(kind: str, name: str, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Score with ``ogb``'s ``Evaluator(name)`` (``kind`` is ``"node"`` or ``"graph"``)."""
    evaluator = _ogb_evaluator(kind, name)
    result = evaluator.eval({"y_true": y_true, "y_pred": y_pred})
    return float(result[evaluator.eval_metric])


def as_numpy(arg: str, value: Any) -> np.ndarray:
    if not isinstance(value, Tensor):
        raise TypeError(
            f"{arg} must be a torch.Tensor, got {type(value).__name__}; wrap it with torch.as_tensor"
        )
    value = value.detach().cpu()
    return (value.double() if value.is_floating_point() else value).numpy()
