"""Trainers: full-batch node classification and mini-batch graph classification.

Both take a built model, a dataset and an optional initialization (a name from
:func:`deepgnn.init.available` or a callable), so a depth x init study is a loop over
``train_node(...)``. Protocol: train on the training split, pick the epoch with the best
validation metric, report the test metric at that epoch (the protocol of OGB's examples).
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deepgnn._checks import check_choice, check_int, resolve_device
from deepgnn._typing import Device
from deepgnn.data import Dataset
from deepgnn.models import GNN

__all__ = [
    "SCHEDULES",
    "GraphClassifier",
    "TrainResult",
    "check_options",
    "options",
    "train_graph",
    "train_node",
]

log = logging.getLogger(__name__)

SCHEDULES = ("constant", "cosine", "plateau")
InitSpec = str | Callable[[GNN], Any] | None


@dataclass
class TrainResult:
    """What a training run produced.

    Attributes:
        metric: ``"accuracy"`` or ``"rocauc"``.
        test: test metric at the epoch of best validation (``nan`` if the run diverged first).
        val: best validation metric.
        train: training metric at that epoch.
        best_epoch: epoch of best validation (1-based; 0 = none).
        epochs: epochs run (early stopping may end before ``epochs``).
        diverged: the loss became NaN/inf; training stopped there.
        seconds: wall time of the training loop.
        log: one row per epoch: ``epoch, loss, train, val, test, lr, seconds``.
    """

    metric: str
    test: float
    val: float
    train: float
    best_epoch: int
    epochs: int
    diverged: bool
    seconds: float
    log: pd.DataFrame = field(repr=False)

    def as_row(self) -> dict[str, Any]:
        """The scalar fields as a dict (one row of a results table)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "log"}


def _apply_init(
    model: GNN, init: InitSpec, options: Mapping[str, Any] | None, **context: Any
) -> None:
    if options is not None and not isinstance(init, str):
        raise ValueError(
            f"init_options={dict(options)!r} need init to be a scheme name such as 'kaiming', "
            f"got init={init!r}; drop init_options or name the scheme"
        )
    if init is None:
        return
    if callable(init):
        init(model)
        return
    if not isinstance(init, str):
        raise TypeError(f"init must be an init name, a callable or None, got {type(init).__name__}")
    from deepgnn import init as inits

    inits.init_(model, init, **context, **dict(options or {}))


def _schedule(optimizer: torch.optim.Optimizer, schedule: str, epochs: int) -> Any:
    if schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    if schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="max", factor=0.5, patience=20
        )
    return None


def check_options(**settings: Any) -> None:
    """Raise the error :func:`train_node` / :func:`train_graph` would raise for these settings.

    Checks the values of the given keywords among ``epochs``, ``lr``, ``weight_decay``,
    ``patience``, ``schedule`` and ``batch_size``; other keywords are not looked at.

    Example:
        >>> check_options(lr=0.01, epochs=10)
        >>> check_options(lr=-1)
        Traceback (most recent call last):
        ValueError: lr=-1; pass a positive learning rate such as lr=0.01
    """
    if "epochs" in settings:
        check_int("epochs", settings["epochs"], minimum=1)
    if "lr" in settings:
        lr = settings["lr"]
        if not (isinstance(lr, (int, float)) and lr > 0 and math.isfinite(lr)):
            raise ValueError(f"lr={lr!r}; pass a positive learning rate such as lr=0.01")
    if "weight_decay" in settings:
        wd = settings["weight_decay"]
        if not (isinstance(wd, (int, float)) and wd >= 0):
            raise ValueError(f"weight_decay={wd!r}; pass a value >= 0 such as 5e-4")
    if settings.get("patience") is not None:
        check_int("patience", settings["patience"], minimum=1)
    if "schedule" in settings:
        check_choice("schedule", settings["schedule"], SCHEDULES)
    if "batch_size" in settings:
        check_int("batch_size", settings["batch_size"], minimum=1)


def options(task: str = "node") -> dict[str, Any]:
    """Return the keyword options of :func:`train_node` (``task="node"``) or :func:`train_graph`
    (``"graph"``) with their defaults.

    Example:
        >>> options("node")["lr"], options("graph")["lr"]
        (0.01, 0.001)
    """
    check_choice("task", task, ("node", "graph"))
    fn = train_node if task == "node" else train_graph
    params = inspect.signature(fn).parameters.values()
    return {p.name: p.default for p in params if p.kind is p.KEYWORD_ONLY}


class _Loop:
    """Per-epoch bookkeeping shared by both trainers: schedule, best validation, log, progress."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        *,
        schedule: str,
        epochs: int,
        patience: int | None,
        progress: bool,
        desc: str,
    ) -> None:
        self.optimizer = optimizer
        self.schedule = schedule
        self.scheduler = _schedule(optimizer, schedule, epochs)
        self.patience = patience
        self.best = (-math.inf, math.nan, math.nan, 0)  # val, test, train, epoch
        self.rows: list[dict[str, float]] = []
        self.since_best = 0
        self.bar = _progress(epochs, progress, desc)
        self.start = time.perf_counter()

    def end_epoch(self, epoch: int, loss: float, scores: dict[str, float]) -> bool:
        """Record an epoch (``scores``: train/val/test); return True when early stopping says stop."""
        lr = float(self.optimizer.param_groups[0]["lr"])  # a tensor under cuda_graph=True
        row = dict(scores, epoch=epoch, loss=loss, lr=lr)
        row["seconds"] = time.perf_counter() - self.start
        if self.scheduler is not None:
            if self.schedule == "plateau":
                self.scheduler.step(row["val"])
            else:
                self.scheduler.step()
        self.rows.append(row)
        if row["val"] > self.best[0]:
            self.best = (row["val"], row["test"], row["train"], epoch)
            self.since_best = 0
        else:
            self.since_best += 1
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{loss:.3f}", val=f"{row['val']:.3f}")
        return self.patience is not None and self.since_best >= self.patience

    def result(self, metric: str, diverged: bool) -> TrainResult:
        if self.bar is not None:
            self.bar.close()
        val, test, train, epoch = self.best
        return TrainResult(
            metric=metric,
            test=test,
            val=val if epoch else math.nan,
            train=train,
            best_epoch=epoch,
            epochs=len(self.rows),
            diverged=diverged,
            seconds=time.perf_counter() - self.start,
            log=pd.DataFrame(
                self.rows, columns=["epoch", "loss", "train", "val", "test", "lr", "seconds"]
            ),
        )


def train_node(
    model: GNN,
    dataset: Dataset,
    *,
    init: InitSpec = None,
    init_options: Mapping[str, Any] | None = None,
    epochs: int = 200,
    lr: float = 0.01,
    weight_decay: float = 5e-4,
    patience: int | None = 100,
    schedule: str = "constant",
    split: int | None = None,
    device: Device | None = None,
    seed: int = 0,
    progress: bool = False,
    cuda_graph: bool = False,
) -> TrainResult:
    r"""Train ``model`` full-batch on a node-classification ``dataset``; in place, returns the result.

    Minimizes the cross-entropy (binary per task on multi-label datasets) on the training
    nodes with Adam (weight decay on all
    parameters), evaluates train/validation/test every epoch in eval mode, and reports the
    test metric at the epoch of best validation (Kipf & Welling, ICLR 2017 protocol).
    A NaN/inf loss stops training and sets ``diverged``; it does not raise.

    Args:
        model: a built model whose ``in_dim``/``out_dim`` match the dataset.
        dataset: a node :class:`~deepgnn.data.Dataset`.
        init: ``None`` (keep the model's parameters), a name from
            :func:`deepgnn.init.available`, or a callable ``init(model)``.
        init_options: keyword options of the named scheme, e.g. ``{"nonlinearity": "tanh"}``
            for ``"kaiming"`` or ``{"n_trials": 50}`` for ``"spoginit"``.
        epochs: maximum number of epochs.
        lr: Adam learning rate.
        weight_decay: Adam weight decay (L2).
        patience: stop after this many epochs without a better validation metric; ``None`` never.
        schedule: ``"constant"``, ``"cosine"`` (annealed over ``epochs``) or ``"plateau"``
            (halve the rate after 20 epochs without validation progress).
        split: which of the dataset's splits to use (default: the dataset's current one).
        device: where to train; default CUDA when available, else CPU.
        seed: seeds the initialization and dropout; the global RNG state is restored after.
        progress: show a tqdm bar.
        cuda_graph: capture the training step (forward, loss, backward, Adam) and the
            evaluation forward once as CUDA graphs and replay them every epoch, which takes
            the host out of the step: deep models on small graphs are otherwise bound by the
            time Python and the launches take. Needs a CUDA device. The losses equal those of
            the eager loop up to float rounding (Adam runs with ``capturable=True`` and a tensor
            learning rate, so that schedules reach the captured step); dropout masks come from
            the same seeded generator but in another order. The update of an epoch whose loss
            is NaN/inf has already been applied when training stops.

    Returns:
        A :class:`TrainResult`; ``model`` holds the last epoch's parameters.

    Example:
        >>> import deepgnn
        >>> ds = deepgnn.data.load("cora")
        >>> model = deepgnn.build("gcn", ds.num_features, ds.num_classes, 2, dropout=0.5)
        >>> result = train_node(model, ds, epochs=100, seed=0)
        >>> result.test > 0.75
        True
    """
    if not isinstance(model, GNN):
        raise TypeError(f"model must be built with deepgnn.build, got {type(model).__name__}")
    if not isinstance(dataset, Dataset):
        raise TypeError(
            f"dataset must be a node deepgnn.data.Dataset, got {type(dataset).__name__}; "
            "graph-classification datasets go to train_graph"
        )
    check_options(
        epochs=epochs, lr=lr, weight_decay=weight_decay, patience=patience, schedule=schedule
    )
    if model.in_dim != dataset.num_features or model.out_dim != dataset.num_classes:
        raise ValueError(
            f"model maps {model.in_dim} -> {model.out_dim} but {dataset.name} has "
            f"{dataset.num_features} features and {dataset.num_classes} classes; build the model "
            f"with in_dim={dataset.num_features}, out_dim={dataset.num_classes}"
        )
    if split is not None:
        dataset = dataset.split(split)
    dev = resolve_device(device)
    if not isinstance(cuda_graph, bool):
        raise TypeError(f"cuda_graph must be True or False, got {cuda_graph!r}")
    if cuda_graph and dev.type != "cuda":
        raise ValueError(
            f"cuda_graph=True needs a CUDA device, but training runs on {dev}; pass "
            "device='cuda' or cuda_graph=False"
        )
    ds = dataset.to(dev)
    model.to(dev)
    masks = {"train": ds.train_mask, "val": ds.val_mask, "test": ds.test_mask}
    # Multi-label datasets (ogbn-proteins) hold 0/1 targets per task: binary cross-entropy.
    loss_fn = _multilabel_loss if ds.multilabel else F.cross_entropy

    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(seed)
        _apply_init(model, init, init_options, graph=ds.graph, x=ds.x)
        if cuda_graph:
            # A tensor learning rate, so that schedules reach the captured update.
            optimizer = torch.optim.Adam(
                model.parameters(),
                lr=torch.tensor(float(lr), device=dev),
                weight_decay=weight_decay,
                capturable=True,
            )
            steps: _EagerSteps = _GraphedSteps(model, ds, loss_fn, optimizer)
        else:
            optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
            steps = _EagerSteps(model, ds, loss_fn, optimizer)
        loop = _Loop(
            optimizer,
            schedule=schedule,
            epochs=epochs,
            patience=patience,
            progress=progress,
            desc=f"{model.family}-{model.depth} on {ds.name}",
        )
        diverged = False
        for epoch in range(1, epochs + 1):
            loss = steps.train()
            if not math.isfinite(loss):
                diverged = True
                log.warning("%s: loss is %s at epoch %d; stopping", ds.name, loss, epoch)
                break
            logits = steps.logits()
            scores = {k: ds.evaluate(logits, m) for k, m in masks.items()}
            if loop.end_epoch(epoch, loss, scores):
                break
    return loop.result(ds.metric, diverged)


class _EagerSteps:
    """An epoch of :func:`train_node`, op by op: a training step, then the evaluation logits."""

    def __init__(
        self,
        model: GNN,
        ds: Dataset,
        loss_fn: Callable[[Tensor, Tensor], Tensor],
        optimizer: torch.optim.Optimizer,
    ) -> None:
        self.model, self.ds, self.loss_fn, self.optimizer = model, ds, loss_fn, optimizer

    def train(self) -> float:
        """Forward and loss; when the loss is finite, backward and the Adam update. Returns the loss."""
        ds = self.ds
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        logits = self.model(ds.graph, ds.x)
        loss = self.loss_fn(logits[ds.train_mask], ds.y[ds.train_mask])
        value = loss.item()
        if math.isfinite(value):
            loss.backward()
            self.optimizer.step()
        return value

    def logits(self) -> Tensor:
        """The logits of every node in eval mode (no dropout, running norm statistics)."""
        self.model.eval()
        with torch.no_grad():
            return self.model(self.ds.graph, self.ds.x)


class _GraphedSteps(_EagerSteps):
    """The same two calls, each replaying a CUDA graph captured once.

    Capture needs warm-up steps on a side stream first (Triton compiles its kernels, cuBLAS
    makes its handles, Adam makes its state); they train the model, so its parameters and
    buffers, Adam's state and the RNG are put back before the step is captured, and the first
    replay is the eager loop's first step. The loss indexes the training nodes by id, since a
    boolean mask would make the host wait for the device in the middle of the capture.
    """

    def __init__(
        self,
        model: GNN,
        ds: Dataset,
        loss_fn: Callable[[Tensor, Tensor], Tensor],
        optimizer: torch.optim.Optimizer,
        warmup: int = 3,
    ) -> None:
        super().__init__(model, ds, loss_fn, optimizer)
        dev = ds.x.device
        # The graphs read these by address on every replay: keep them alive with the graphs.
        self.train_idx = train_idx = ds.train_mask.nonzero().flatten()
        self.y_train = y_train = ds.y[train_idx]

        def step() -> Tensor:
            loss = loss_fn(model(ds.graph, ds.x)[train_idx], y_train)
            loss.backward()
            optimizer.step()
            return loss.detach()

        saved = {k: v.clone() for k, v in model.state_dict().items()}
        rng = torch.cuda.get_rng_state(dev)
        side = torch.cuda.Stream(dev)
        side.wait_stream(torch.cuda.current_stream(dev))
        with torch.cuda.stream(side):
            for _ in range(warmup):
                model.train()
                optimizer.zero_grad(set_to_none=True)
                step()
                _EagerSteps.logits(self)
        torch.cuda.current_stream(dev).wait_stream(side)
        with torch.no_grad():
            model.load_state_dict(saved)  # copies in place: the captured addresses stay
            for state in optimizer.state.values():
                for value in state.values():
                    if isinstance(value, Tensor):
                        value.zero_()
        torch.cuda.set_rng_state(rng, dev)
        model.train()
        optimizer.zero_grad(set_to_none=True)
        self.train_graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.train_graph):
            self.static_loss = step()
        self.eval_graph = torch.cuda.CUDAGraph()
        model.eval()
        with torch.no_grad(), torch.cuda.graph(self.eval_graph):
            self.static_logits = model(ds.graph, ds.x)

    def train(self) -> float:
        self.model.train()
        self.train_graph.replay()
        return self.static_loss.item()

    def logits(self) -> Tensor:
        self.model.eval()
        self.eval_graph.replay()
        return self.static_logits


def _multilabel_loss(logits: Tensor, target: Tensor) -> Tensor:
    return F.binary_cross_entropy_with_logits(logits, target.to(logits.dtype))


def _progress(total: int, enabled: bool, desc: str) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=False)


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
    schedule: str = "constant",
    pool: str = "mean",
    device: Device | None = None,
    seed: int = 0,
    progress: bool = False,
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
        epochs, lr, weight_decay, patience, schedule, device, seed, progress: as in
            :func:`train_node`.
        batch_size: graphs per mini-batch.
        pool: ``"mean"`` or ``"sum"`` pooling of node embeddings.

    Returns:
        A :class:`TrainResult` (``model`` is trained in place; the head and encoder are not kept).
    """
    if not isinstance(model, GNN):
        raise TypeError(f"model must be built with deepgnn.build, got {type(model).__name__}")
    if getattr(dataset, "task", None) != "graph":
        raise TypeError(
            f"dataset must be a graph-classification deepgnn.data.GraphDataset, got "
            f"{type(dataset).__name__}; node datasets go to train_node"
        )
    check_options(
        epochs=epochs, lr=lr, weight_decay=weight_decay, patience=patience, schedule=schedule
    )
    check_int("batch_size", batch_size, minimum=1)
    dev = resolve_device(device)
    split = {k: v.cpu() for k, v in dataset.split_idx.items()}
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(seed)
        clf = GraphClassifier(model, dataset.num_tasks, pool=pool)
        first = dataset.batch(split["train"][:batch_size])
        _apply_init(model, init, init_options, graph=first.graph, x=clf.encoder(first.x).detach())
        clf.to(dev)
        optimizer = torch.optim.Adam(clf.parameters(), lr=lr, weight_decay=weight_decay)
        loop = _Loop(
            optimizer,
            schedule=schedule,
            epochs=epochs,
            patience=patience,
            progress=progress,
            desc=f"{model.family}-{model.depth} on {dataset.name}",
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
    return loop.result(dataset.metric, diverged)
