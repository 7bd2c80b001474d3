"""Mini-batch graph classification: :class:`GraphClassifier` and :func:`train_graph`."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deepgnn._checks import check_choice, resolve_device
from deepgnn._typing import Device
from deepgnn.models import GNN
from deepgnn.train._loop import InitSpec, Loop, Settings, TrainResult, apply_init, check_options

__all__ = ["GraphClassifier", "train_graph"]

log = logging.getLogger("deepgnn.train")


class GraphClassifier(nn.Module):
    r"""Graph-level model: atom encoder -> ``gnn`` -> pooling over each graph -> linear head.

    .. math:: \hat y_G = W \cdot \mathrm{pool}_{v \in G}\, \mathrm{gnn}(\hat A_B, \mathrm{enc}(X))_v + b

    The encoder is OGB's ``AtomEncoder`` (Hu et al., "Open Graph Benchmark", NeurIPS 2020)
    with ``gnn.in_dim`` dimensions; the graph layers see the block-diagonal :math:`\hat A` of
    the batch (bond features are not used by :math:`\hat A`-based layers).

    Args:
        gnn: a built model; its ``in_dim`` is the atom-embedding size, its ``out_dim`` the
            node-embedding size fed to the pooling.
        num_tasks: outputs per graph.
        pool: ``"mean"`` or ``"sum"``.
    """

    def __init__(self, gnn: GNN, num_tasks: int, *, pool: str = "mean") -> None:
        super().__init__()
        check_choice("pool", pool, ("mean", "sum"))
        from ogb.graphproppred.mol_encoder import AtomEncoder

        self.encoder = AtomEncoder(gnn.in_dim)
        self.gnn = gnn
        self.pool = pool
        self.head = nn.Linear(gnn.out_dim, num_tasks)

    def forward(self, batch: Any) -> Tensor:
        """Return one row of task logits per graph of a :class:`~deepgnn.data.GraphBatch`,
        shape ``(batch.num_graphs, num_tasks)``."""
        h = self.gnn(batch.graph, self.encoder(batch.x))
        out = torch.zeros(batch.num_graphs, h.shape[1], dtype=h.dtype, device=h.device)
        out.index_add_(0, batch.batch, h)
        if self.pool == "mean":
            counts = torch.bincount(batch.batch, minlength=batch.num_graphs).clamp(min=1)
            out = out / counts.unsqueeze(1).to(h.dtype)
        return self.head(out)


def _predict(
    model: GraphClassifier, dataset: Any, index: Tensor, batch_size: int, dev: torch.device
) -> Tensor:
    preds = []
    with torch.no_grad():
        for chunk in index.split(batch_size):
            preds.append(model(dataset.batch(chunk).to(dev)).cpu())
    return torch.cat(preds)


def _score(dataset: Any, pred: Tensor, index: Tensor) -> float:
    """The dataset's metric, or NaN where it is undefined (ROC-AUC of a part with one class)."""
    try:
        return dataset.evaluate(pred, index)
    except (RuntimeError, ValueError) as err:
        log.warning(
            "%s: metric undefined on %d graphs (%s); recording NaN", dataset.name, len(index), err
        )
        return math.nan


def train_graph(
    model: GNN,
    dataset: Any,
    *,
    init: InitSpec = None,
    init_options: Mapping[str, Any] | None = None,
    epochs: int = 50,
    batch_size: int = 32,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    patience: int | None = 20,
    betas: tuple[float, float] = (0.9, 0.999),
    schedule: str = "constant",
    pool: str = "mean",
    device: Device | None = None,
    seed: int = 0,
    progress: bool = False,
    restore_best: bool = True,
    on_epoch: Callable[[dict[str, float]], Any] | None = None,
) -> TrainResult:
    r"""Train ``model`` inside a :class:`GraphClassifier` on a graph-classification ``dataset``.

    Mini-batches of ``batch_size`` graphs are joined block-diagonally
    (``dataset.batch(index)``); the loss is binary cross-entropy with logits over the labelled
    targets; the metric is the dataset's (ROC-AUC for ``ogbg-molhiv``, through OGB's
    ``Evaluator``). Best-validation protocol and divergence handling as in :func:`train_node`.

    Args:
        model: a built model; ``in_dim`` = atom-embedding size, ``out_dim`` = node-embedding size.
        dataset: a :class:`~deepgnn.data.GraphDataset` (``split_idx`` with train/valid/test).
        init, init_options: as in :func:`train_node`; graph-dependent inits see the first
            training batch.
        epochs, lr, weight_decay, patience, betas, schedule, device, seed: as in
            :func:`train_node` (no protocol: the values are these defaults or the ones passed).
        progress, restore_best, on_epoch: as in :func:`train_node`.
        batch_size: graphs per mini-batch.
        pool: ``"mean"`` or ``"sum"`` pooling of node embeddings.

    Returns:
        A :class:`TrainResult` (``model`` is trained in place and, with ``restore_best``,
        holds its best-validation epoch's weights; the head and encoder are not kept).
    """
    if not isinstance(model, GNN):
        raise TypeError(f"model must be built with deepgnn.build, got {type(model).__name__}")
    if isinstance(weight_decay, Mapping):
        raise ValueError(
            f"weight_decay={dict(weight_decay)!r}: train_graph takes one weight decay for the "
            "model and its head; pass one number (a mapping by layer kind is train_node's)"
        )
    if getattr(dataset, "task", None) != "graph":
        raise TypeError(
            f"dataset must be a graph-classification deepgnn.data.GraphDataset, got "
            f"{type(dataset).__name__}; node datasets go to train_node"
        )
    check_options(
        epochs=epochs,
        lr=lr,
        weight_decay=weight_decay,
        patience=patience,
        schedule=schedule,
        batch_size=batch_size,
        betas=betas,
        seed=seed,
        device=device,
        init=init,
        init_options=init_options,
        on_epoch=on_epoch,
        restore_best=restore_best,
    )
    beta1, beta2 = betas  # a pair (check_options), maybe given as a list
    settings = Settings("", epochs, lr, weight_decay, patience, (beta1, beta2), None)
    dev = resolve_device(device)
    split = {k: v.cpu() for k, v in dataset.split_idx.items()}
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(seed)
        clf = GraphClassifier(model, dataset.num_tasks, pool=pool)
        first = dataset.batch(split["train"][:batch_size])
        apply_init(model, init, init_options, graph=first.graph, x=clf.encoder(first.x).detach())
        clf.to(dev)
        optimizer = torch.optim.Adam(
            clf.parameters(), lr=lr, weight_decay=weight_decay, betas=settings.betas
        )
        loop = Loop(
            optimizer,
            settings=settings,
            schedule=schedule,
            progress=progress,
            desc=f"{model.family}-{model.depth} on {dataset.name}",
            on_epoch=on_epoch,
            restore_best=restore_best,
            module=model,
        )
        diverged = False
        for epoch in range(1, epochs + 1):
            clf.train()
            order = split["train"][torch.randperm(len(split["train"]))]
            total, count = 0.0, 0
            for chunk in order.split(batch_size):
                batch = dataset.batch(chunk).to(dev)
                target = batch.y.to(torch.float32)
                labelled = ~torch.isnan(target)
                optimizer.zero_grad(set_to_none=True)
                loss = F.binary_cross_entropy_with_logits(clf(batch)[labelled], target[labelled])
                if not torch.isfinite(loss):
                    diverged = True
                    break
                loss.backward()
                optimizer.step()
                total += loss.item() * len(chunk)
                count += len(chunk)
            if diverged:
                log.warning("%s: loss became non-finite at epoch %d; stopping", dataset.name, epoch)
                break
            clf.eval()
            scores = {
                name: _score(
                    dataset, _predict(clf, dataset, split[key], 4 * batch_size, dev), split[key]
                )
                for name, key in (("train", "train"), ("val", "valid"), ("test", "test"))
            }
            if loop.end_epoch(epoch, total / max(count, 1), scores):
                break
        loop.restore()
    name = f"{model.family}-{model.depth} on {dataset.name}"
    return loop.result(dataset.metric, diverged, chance=0.5, name=name)
