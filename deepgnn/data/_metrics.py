"""Evaluation metrics shared by the dataset types (accuracy, ROC-AUC, OGB's evaluators)."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch
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


def rocauc_rows(scores: Tensor, positive: Tensor, valid: Tensor) -> Tensor:
    r"""ROC-AUC of every row of ``scores`` over its ``valid`` entries, on the scores' device.

    The Mann-Whitney form, ties given their mean rank (the area under the ROC curve with ties
    as diagonal steps, as scikit-learn's ``roc_auc_score``):

    .. math:: \mathrm{AUC} = \frac{\sum_{i \in P} r_i - |P|(|P| + 1)/2}{|P|\,|N|}

    with :math:`r_i` the 1-based rank of entry :math:`i` among the row's valid entries, and
    :math:`P` / :math:`N` its valid positive / negative entries. A row without both classes
    gives NaN. Two sorts per row and a few passes, however many rows: the metrics of many
    runs and splits in one call.

    Args:
        scores: ``(r, n)`` floating scores.
        positive: ``(r, n)`` bool, the positive entries.
        valid: ``(r, n)`` bool, the entries to score.

    Returns:
        ``(r,)`` float64.
    """
    r, n = scores.shape
    dev = scores.device
    s = scores.detach().to(torch.float64)
    by_score = torch.sort(s, dim=1, stable=True).indices
    # valid entries first, in score order: a stable sort of the validity flags
    v1 = valid.gather(1, by_score)
    by_valid = torch.sort((~v1).to(torch.uint8), dim=1, stable=True).indices
    order = by_score.gather(1, by_valid)
    s, v, pos = s.gather(1, order), valid.gather(1, order), positive.gather(1, order)
    new = v.clone()
    new[:, 1:] = (s[:, 1:] != s[:, :-1]) | (v[:, 1:] != v[:, :-1])
    new[:, 0] = True
    group = new.to(torch.long).cumsum(dim=1) - 1  # tie group of each entry, per row
    place = torch.arange(n, device=dev).expand(r, n)
    first = torch.full((r, n), n, dtype=torch.long, device=dev).scatter_reduce(
        1, group, place, "amin", include_self=True
    )
    last = torch.zeros_like(first).scatter_reduce(1, group, place, "amax", include_self=True)
    rank = ((first + last).to(torch.float64) / 2 + 1).gather(1, group)
    hit = pos & v
    n_pos = hit.sum(dim=1).to(torch.float64)
    n_neg = (v & ~pos).sum(dim=1).to(torch.float64)
    total = (rank * hit).sum(dim=1)
    auc = (total - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return auc.where((n_pos > 0) & (n_neg > 0), auc.new_tensor(float("nan")))
