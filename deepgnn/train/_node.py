"""Full-batch node classification: :func:`train_node` (eager, or replayed as CUDA graphs)."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from deepgnn._checks import resolve_device
from deepgnn._typing import Device, Precision
from deepgnn.data import Dataset
from deepgnn.distributed.graph import DistributedGraph
from deepgnn.models import GNN
from deepgnn.train._loop import (
    PROTOCOL,
    InitSpec,
    Loop,
    TrainResult,
    adam,
    apply_init,
    check_options,
    majority_share,
    param_groups,
    resolve,
)
from deepgnn.train._precision import (
    check_precision,
    forward_precision,
    full_precision,
    run_precision,
)
from deepgnn.train.protocols import Protocol

__all__ = ["train_node"]

log = logging.getLogger("deepgnn.train")


def train_node(
    model: GNN,
    dataset: Dataset,
    *,
    init: InitSpec = None,
    init_options: Mapping[str, Any] | None = None,
    protocol: str | Protocol | None = None,
    epochs: int | None = None,
    lr: float | None = None,
    weight_decay: float | Mapping[str, float] | None = None,
    patience: int | str | None = PROTOCOL,
    betas: tuple[float, float] | None = None,
    dropout: float | None = None,
    schedule: str = "constant",
    drop_edge: float = 0.0,
    split: int | None = None,
    device: Device | None = None,
    seed: int = 0,
    progress: bool = False,
    cuda_graph: bool = False,
    precision: Precision = "fp32",
    restore_best: bool = True,
    on_epoch: Callable[[dict[str, float]], Any] | None = None,
) -> TrainResult:
    r"""Train ``model`` full-batch on a node-classification ``dataset``; in place, returns the result.

    Minimizes the cross-entropy (binary per task on multi-label datasets) on the training
    nodes with Adam (weight decay on all parameters), evaluates train/validation/test every
    epoch in eval mode, and reports the test metric at the epoch of best validation; with
    ``restore_best`` (the default) the model ends with that epoch's weights. The
    optimizer settings come from ``protocol`` (:mod:`deepgnn.train.protocols`, resolved for the
    model's depth; default ``"kipf"``: lr 0.01, weight decay 5e-4, 200 epochs, patience 100),
    and every setting passed explicitly overrides the protocol's. A NaN/inf loss stops
    training and sets ``diverged``; it does not raise. A run whose best training metric stays
    near chance is flagged ``untrained`` and warns (:func:`~deepgnn.train.is_untrained`).

    Args:
        model: a built model whose ``in_dim``/``out_dim`` match the dataset.
        dataset: a node :class:`~deepgnn.data.Dataset`, or a PyG ``Data`` with ``x``, ``y``
            and masks (:meth:`Dataset.from_pyg <deepgnn.data.Dataset.from_pyg>`).
        init: ``None`` (keep the model's parameters), a name from
            :func:`deepgnn.init.available`, or a callable ``init(model)``.
        init_options: keyword options of the named scheme, e.g. ``{"nonlinearity": "tanh"}``
            for ``"kaiming"`` or ``{"n_trials": 50}`` for ``"spoginit"``.
        protocol: a preset name (:func:`deepgnn.train.protocols.available`: ``"kipf"``,
            ``"spoginit-paper"``, ``"spoginit-paper-residual"``) or a
            :class:`~deepgnn.train.protocols.Protocol`; ``None``: ``"kipf"``.
        epochs: maximum number of epochs (``None``: the protocol's).
        lr: Adam learning rate (``None``: the protocol's).
        weight_decay: Adam weight decay, L2 (``None``: the protocol's), or one per layer
            kind, ``{"conv": 0.01, "linear": 5e-4}`` (GCNII's setting: keys among
            ``"conv"`` and ``"linear"``, the :attr:`~deepgnn.models.LayerWeight.kind` of each
            entry of ``model.layer_weights()``, which covers its weight and bias); a kind not
            named, and parameters of no layer weight (norms, gates, attention vectors), take
            the protocol's.
        patience: stop after this many epochs without a better validation metric; ``None``
            never stops early; ``"protocol"`` (the default): the protocol's.
        betas: Adam's betas (``None``: the protocol's; ``"kipf"``: torch's (0.9, 0.999)).
        dropout: the model's dropout while training (``None``: the protocol's, or the model's
            own when the protocol sets none); the model's own value is restored afterwards.
        schedule: ``"constant"``, ``"cosine"`` (annealed over ``epochs``) or ``"plateau"``
            (halve the rate after 20 epochs without validation progress).
        drop_edge: DropEdge (Rong et al., ICLR 2020): the probability, in ``[0, 1)``, of
            dropping each undirected edge in a training step; every step draws a new sample
            (:meth:`deepgnn.Graph.drop_edges`, renormalized on the device) from a generator
            seeded by ``seed``. Evaluation uses the whole graph. 0 (the default): off.
        split: which of the dataset's splits to use (default: the dataset's current one).
        device: where to train; default CUDA when available, else CPU. A device this torch
            cannot use (``"cuda"`` on a CPU-only build) raises before anything runs.
        seed: an int >= 0; seeds the initialization and dropout; the global RNG state is
            restored after.
        progress: show a tqdm bar.
        cuda_graph: capture the training step (forward, loss, backward, Adam) and the
            evaluation forward once as CUDA graphs and replay them every epoch, which takes
            the host out of the step: deep models on small graphs are otherwise bound by the
            time Python and the launches take. Needs a CUDA device. The losses equal those of
            the eager loop up to float rounding (Adam runs with ``capturable=True`` and a tensor
            learning rate, so that schedules reach the captured step); dropout masks come from
            the same seeded generator but in another order. The update of an epoch whose loss
            is NaN/inf has already been applied when training stops.
        precision: the arithmetic of the training steps and the evaluation forward passes.
            ``"fp32"`` (the default, and how every committed deepgnn result was trained):
            float32 throughout. ``"tf32"`` (CUDA only): float32 tensors, matmuls and cuDNN on
            TF32 tensor cores, whose operands keep 11 significant bits (10 stored; float32
            keeps 24): relative rounding error up to 2^-11 per operand; the global TF32
            switches are set for the run and restored after it, by an exception too.
            ``"bf16"``: the forward passes run under ``torch.autocast`` with bfloat16 (8
            significant bits, 7 stored, and float32's range: relative rounding error up to
            2^-8 per operation, against 2^-24 for float32), on CPU and CUDA (``cuda_graph=True``
            included); parameters, gradients and Adam's state stay float32, the loss is
            computed on ``logits.float()`` and the metrics on float32 logits. Either mode
            trades accuracy for speed on GPUs whose float32 GEMMs bound the step (deep, wide
            models); ``benchmarks/bench_precision.py`` measures both. The initialization
            (SPoGInit's search included) runs in float32 whatever ``precision`` says.
        restore_best: after training, load the weights (parameters and buffers) of the epoch
            of best validation into ``model``, so that it scores the result's ``val`` and
            ``test``; they are copied (on the training device) whenever validation improves.
            ``False``: the model keeps its last epoch's weights. It changes the model after
            the run, not the result's numbers.
        on_epoch: called after every epoch with its log row (``epoch, loss, train, val, test,
            lr, seconds``); an exception it raises stops training and propagates (e.g. a
            tuner's ``optuna.TrialPruned``).

    Returns:
        A :class:`TrainResult`; ``model`` holds the best-validation epoch's parameters
        (``restore_best=True``) or the last epoch's.

    Example:
        >>> import deepgnn
        >>> ds = deepgnn.data.load("cora")
        >>> model = deepgnn.build("gcn", ds.num_features, ds.num_classes, 2, dropout=0.5)
        >>> result = train_node(model, ds, epochs=100, seed=0)
        >>> result.test > 0.75
        True
    """
    if not isinstance(model, GNN):
        raise TypeError(
            f"model must be built with deepgnn.build, got {type(model).__name__}; view a PyG, "
            "DGL or PyTorch model with deepgnn.wrap(model)"
        )
    if not isinstance(dataset, Dataset) and hasattr(dataset, "train_mask"):
        dataset = Dataset.from_pyg(dataset)  # a PyG Data with x, y and masks
    if not isinstance(dataset, Dataset):
        raise TypeError(
            f"dataset must be a node deepgnn.data.Dataset, got {type(dataset).__name__}; "
            "graph-classification datasets go to train_graph"
        )
    if isinstance(dataset.graph, DistributedGraph):
        raise TypeError(
            "dataset.graph is a DistributedGraph, but train_node trains on one device and "
            "evaluates on all nodes; on ranks, write the step with "
            "deepgnn.distributed.cross_entropy and all_reduce_gradients_ (docs/scaling.md), or "
            "pass the whole graph's Dataset"
        )
    check_options(
        seed=seed,
        device=device,
        init=init,
        init_options=init_options,
        on_epoch=on_epoch,
        drop_edge=drop_edge,
        restore_best=restore_best,
        precision=precision,
    )
    settings = resolve(
        model.depth,
        model.family,
        protocol,
        epochs=epochs,
        lr=lr,
        weight_decay=weight_decay,
        patience=patience,
        betas=betas,
        dropout=dropout,
        schedule=schedule,
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
    check_precision(precision, dev)
    if drop_edge and cuda_graph:
        raise ValueError(
            "drop_edge and cuda_graph=True do not go together: a captured step replays one "
            "graph; pass cuda_graph=False to resample the edges every epoch"
        )
    ds = dataset.to(dev)
    model.to(dev)
    masks = {"train": ds.train_mask, "val": ds.val_mask, "test": ds.test_mask}
    # Multi-label datasets (ogbn-proteins) hold 0/1 targets per task: binary cross-entropy.
    loss_fn = _multilabel_loss if ds.multilabel else F.cross_entropy

    chance = 0.5 if ds.multilabel or ds.metric == "rocauc" else majority_share(ds.y[ds.train_mask])
    own_dropout = model.dropout
    if settings.dropout is not None:
        model.dropout = settings.dropout
    try:
        with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
            torch.manual_seed(seed)
            apply_init(model, init, init_options, graph=ds.graph, x=ds.x)
            groups = param_groups(model, settings.weight_decay)
            # After the initialization: SPoGInit's search runs in float32 whatever precision says.
            with run_precision(precision):
                optimizer = adam(groups, settings, dev, capturable=cuda_graph)
                if cuda_graph:
                    steps: _EagerSteps = _GraphedSteps(
                        _EagerSteps(model, ds, loss_fn, optimizer, precision)
                    )
                else:
                    steps = _EagerSteps(model, ds, loss_fn, optimizer, precision)
                    if drop_edge:
                        steps.drop(float(drop_edge), seed)
                loop = Loop(
                    optimizer,
                    settings=settings,
                    schedule=schedule,
                    progress=progress,
                    desc=f"{model.family}-{model.depth} on {ds.name}",
                    on_epoch=on_epoch,
                    restore_best=restore_best,
                    module=model,
                )
                try:
                    diverged = False
                    for epoch in range(1, settings.epochs + 1):
                        loss = steps.train()
                        if not math.isfinite(loss):
                            diverged = True
                            log.warning(
                                "%s: loss is %s at epoch %d; stopping", ds.name, loss, epoch
                            )
                            break
                        logits = steps.logits()
                        scores = {k: ds.evaluate(logits, m) for k, m in masks.items()}
                        if loop.end_epoch(epoch, loss, scores):
                            break
                finally:
                    loop.close()
                loop.restore()
    finally:
        model.dropout = own_dropout
    return loop.result(
        ds.metric, diverged, chance=chance, name=f"{model.family}-{model.depth} on {ds.name}"
    )


class _EagerSteps:
    """An epoch of :func:`train_node`, op by op: a training step, then the evaluation logits
    (float32), each forward pass in the run's ``precision``."""

    def __init__(
        self,
        model: GNN,
        ds: Dataset,
        loss_fn: Callable[[Tensor, Tensor], Tensor],
        optimizer: torch.optim.Optimizer,
        precision: str = "fp32",
    ) -> None:
        self.model, self.ds, self.loss_fn, self.optimizer = model, ds, loss_fn, optimizer
        self.precision = precision
        self.drop_edge = 0.0
        self.edge_generator: torch.Generator | None = None

    def drop(self, p: float, seed: int) -> None:
        """Train every step on a new DropEdge sample of the graph (edges dropped with ``p``)."""
        self.drop_edge = p
        self.edge_generator = torch.Generator(device=self.ds.graph.device).manual_seed(seed)

    def train(self) -> float:
        """Forward and loss; when the loss is finite, backward and the Adam update. Returns the loss."""
        ds = self.ds
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        graph = ds.graph
        if self.drop_edge:
            graph = graph.drop_edges(self.drop_edge, generator=self.edge_generator)
        with forward_precision(self.precision, ds.x.device):
            logits = self.model(graph, ds.x)
        loss = self.loss_fn(full_precision(logits[ds.train_mask]), ds.y[ds.train_mask])
        value = loss.item()
        if math.isfinite(value):
            loss.backward()
            self.optimizer.step()
        return value

    def logits(self) -> Tensor:
        """The logits of every node in eval mode (no dropout, running norm statistics)."""
        self.model.eval()
        with torch.no_grad(), forward_precision(self.precision, self.ds.x.device):
            return full_precision(self.model(self.ds.graph, self.ds.x))


class _GraphedSteps(_EagerSteps):
    """The same two calls, each replaying a CUDA graph captured once.

    Capture needs warm-up steps on a side stream first (Triton compiles its kernels, cuBLAS
    makes its handles, Adam makes its state); they train the model, so its parameters and
    buffers, Adam's state and the RNG are put back before the step is captured, and the first
    replay is the eager loop's first step. The loss indexes the training nodes by id, since a
    boolean mask would make the host wait for the device in the middle of the capture.
    """

    def __init__(self, eager: _EagerSteps, warmup: int = 3) -> None:
        model, ds, loss_fn, optimizer = eager.model, eager.ds, eager.loss_fn, eager.optimizer
        precision = eager.precision
        super().__init__(model, ds, loss_fn, optimizer, precision)
        dev = ds.x.device
        # The graphs read these by address on every replay: keep them alive with the graphs.
        self.train_idx = train_idx = ds.train_mask.nonzero().flatten()
        self.y_train = y_train = ds.y[train_idx]

        def step() -> Tensor:
            with forward_precision(precision, dev):  # captured with the step
                logits = model(ds.graph, ds.x)
            loss = loss_fn(full_precision(logits[train_idx]), y_train)
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
            with forward_precision(precision, dev):
                self.static_logits = full_precision(model(ds.graph, ds.x))

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
