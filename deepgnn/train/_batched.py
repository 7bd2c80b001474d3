r"""Batched training: ``k`` node-classification runs that share a graph and a shape, as one model.

Small-graph runs are launch-bound on a GPU: one run keeps a sliver of the card busy. ``k`` runs of
one family, depth and width on one dataset (different seeds and initializations) train together
here: the members' hidden states sit side by side in one ``(N, k, w)`` tensor, so each layer is
one SpMM over the concatenated width :math:`k \cdot w` and one batched GEMM (``torch.baddbmm``)
with the stacked weights :math:`(k, w_\text{out}, w_\text{in})`:

.. math::
    [H_1 \Vert \dots \Vert H_k] \mapsto
    \hat A\, [H_1 W_1^\top \Vert \dots \Vert H_k W_k^\top] + [b_1 \Vert \dots \Vert b_k]

Every operation acts on one member's columns only, and Adam is elementwise, so a member trains
as it would alone: its own initialization, dropout masks, Adam state, per-epoch metrics, best
epoch, early stopping, divergence and verdicts. The members' losses are summed for one backward
pass; the gradient of a sum is each member's own gradient. A member that stops (early stopping,
NaN/inf loss) leaves the sum and keeps the parameters it had when it stopped; with
``restore_best`` each member ends with the parameters of its own best-validation epoch.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from deepgnn._checks import per_model, resolve_device
from deepgnn._typing import Device, Precision
from deepgnn.data import Dataset
from deepgnn.models import GNN
from deepgnn.models.stacked import (
    STACKED_FAMILIES,
    MemberLoss,
    Stack,
    architecture,
    forward,
    model_obstacle,
    obstacle,
)
from deepgnn.train._loop import (
    PROTOCOL,
    InitSpec,
    Loop,
    TrainResult,
    adam,
    apply_init,
    check_options,
    epoch_bar,
    majority_share,
    param_groups,
    resolve,
    scheduler_for,
)
from deepgnn.train._precision import (
    check_precision,
    forward_precision,
    full_precision,
    run_precision,
)
from deepgnn.train.protocols import Protocol

__all__ = ["BATCHED_FAMILIES", "batch_obstacle", "train_node_batched"]

log = logging.getLogger("deepgnn.train")

#: The families :func:`train_node_batched` trains (every registered one but ``revgcn``, whose
#: reversible blocks rebuild their inputs in backward: such cells train one by one).
BATCHED_FAMILIES = STACKED_FAMILIES


def batch_obstacle(
    family: str,
    *,
    norm: str | None = None,
    backend: str = "torch",
    checkpoint: int | bool | None = None,
    schedule: str = "constant",
    drop_edge: float = 0.0,
    multilabel: bool = False,
) -> str | None:
    """Why runs with these settings cannot train batched, or ``None`` when they can.

    Batched training takes the families of :data:`BATCHED_FAMILIES` on the torch backend,
    without norms (a norm would need its own per-member form), without activation
    checkpointing, with a ``"constant"`` or ``"cosine"`` learning-rate schedule (``"plateau"``
    changes each member's rate on its own validation curve, and the members share one
    optimizer), without DropEdge (each member would sample its own graph) and on single-label
    datasets.

    Example:
        >>> batch_obstacle("gcn") is None, batch_obstacle("revgcn")
        (True, "family 'revgcn' has no batched form (batched families: appnp, gat, gated_resgcn, gcn, gcnii, jknet, resgcn, rezero)")
    """
    found = obstacle(family, norm=norm, backend=backend, checkpoint=checkpoint)
    if found is not None:
        return found
    if schedule == "plateau":
        return (
            "schedule='plateau' lowers each run's learning rate on its own validation curve, "
            "while batched runs share one optimizer"
        )
    if drop_edge:
        return f"drop_edge={drop_edge!r}: each run would sample its own graph every step"
    if multilabel:
        return "a multi-label dataset: batched training takes single-label datasets"
    return None


def train_node_batched(
    models: Sequence[GNN],
    dataset: Dataset,
    *,
    seeds: Sequence[int],
    inits: Sequence[InitSpec] | None = None,
    init_options: Sequence[Mapping[str, Any] | None] | None = None,
    splits: Sequence[int | None] | None = None,
    protocol: str | Protocol | None = None,
    epochs: int | None = None,
    lr: float | Sequence[float] | None = None,
    weight_decay: float | Mapping[str, float] | Sequence[float] | None = None,
    patience: int | str | None = PROTOCOL,
    betas: tuple[float, float] | None = None,
    dropout: float | Sequence[float] | None = None,
    schedule: str = "constant",
    device: Device | None = None,
    progress: bool = False,
    cuda_graph: bool = False,
    precision: Precision = "fp32",
    restore_best: bool = True,
    on_epoch: Sequence[Callable[[dict[str, float]], Any] | None] | None = None,
) -> list[TrainResult]:
    r"""Train ``models`` together, each as :func:`~deepgnn.train.train_node` trains it alone.

    ``models[i]`` trains with seed ``seeds[i]``, initialization ``inits[i]`` (with
    ``init_options[i]``) and split ``splits[i]`` of ``dataset``; ``lr``, ``weight_decay`` and
    ``dropout`` may be one value for all or one per member (a tuner's trials of several cells
    train together so); every other setting is shared and means what it means for
    :func:`~deepgnn.train.train_node`. The members must have one
    architecture (family, depth, width, activation, options, dtype; their own parameters). Each
    layer of the stacked model is one SpMM over the members' concatenated hidden states
    :math:`(N, k \cdot w)` and one batched GEMM, so ``k`` small runs cost little more time than
    one on a GPU (their steps are bound by kernel launches, not by arithmetic).

    What stays each member's own, and equal to its run alone:

    - initialization: drawn as ``train_node`` draws it (``torch.manual_seed(seed)``, then
      ``init``), before the parameters are stacked; SPoGInit searches the member alone;
    - dropout masks: each member draws from its own generator, seeded as ``train_node`` seeds
      the global one and advanced by the initialization as there. On the CPU a member's masks
      are the very masks of its run alone (``F.dropout`` draws ``bernoulli_(1 - p)`` of the
      layer's shape from the global generator; a member draws the same shapes in the same
      order from its own). On CUDA the masks of a run alone come from the fused dropout
      kernel's Philox offsets, which no other call reproduces: a member's masks there are other
      draws of the same distribution from its own CUDA generator, seeded by its seed, and do
      not depend on the other members;
    - its learning rate and weight decay: Adam is elementwise, so a rate and an L2 decay per
      member is a rate and a decay per row of the stacked parameters (with one value for all,
      ``torch.optim.Adam`` itself runs);
    - Adam state (elementwise, on the stacked parameters), per-epoch loss and metrics, the
      best-validation epoch, early stopping, divergence (a NaN/inf loss stops that member,
      before its update, as alone) and the verdicts. The metrics of every member are computed
      on the device in one pass (:meth:`~deepgnn.data.Dataset.evaluate_stacked`);
    - with ``restore_best``, the weights it ends with: those of its own best-validation epoch,
      copied (on the device, for the members that improved, one copy per parameter) whenever
      its validation improves.

    So on the CPU, batched and alone differ only by float rounding (summation order in the
    batched GEMM); ``tests/test_train_batched.py`` checks losses and final weights of every
    batched family against runs alone to 1e-9 in float64 over 50 epochs.

    Args:
        models: ``k >= 1`` built models of one architecture (:func:`batch_obstacle` says which
            can batch); each ends with its trained parameters, as with ``train_node``.
        dataset: a single-label node :class:`~deepgnn.data.Dataset`.
        seeds: one seed per model (an int >= 0), as ``train_node``'s ``seed``.
        inits: one initialization per model (``None``: keep each model's parameters).
        init_options: one options mapping (or ``None``) per model, for named inits.
        splits: one split index (or ``None``: the dataset's current split) per model.
        protocol, epochs, patience, betas, schedule: as for ``train_node``
            (``schedule="plateau"`` cannot batch).
        lr, weight_decay, dropout: as for ``train_node``, or a sequence of one value (or
            ``None``: the protocol's) per model. A per-kind ``weight_decay`` mapping is one
            value for all members.
        device: where to train; default CUDA when available, else CPU.
        progress: show one tqdm bar for the group.
        cuda_graph: capture the group's training step and evaluation forward once as CUDA
            graphs and replay them (needs CUDA). The dropout masks are drawn into fixed
            buffers before each replay. As with ``train_node(cuda_graph=True)``, the update of
            the epoch whose loss became NaN/inf has already been applied to that member.
        precision: as for ``train_node``: ``"fp32"`` (the default, and how every committed
            result was trained), ``"tf32"`` (CUDA only: TF32 tensor-core matmuls, operands of
            11 significant bits) or ``"bf16"`` (the stacked forward passes under bfloat16
            autocast, 8 significant bits; parameters, Adam's state, the losses and the metrics
            in float32). In bfloat16 a member's numbers depend on the layout: the batched GEMM
            and the stacked SpMM round differently from its run alone, so batched and alone
            agree to bfloat16's rounding, not to float32's. Each member's initialization
            (SPoGInit's search included) runs in float32.
        restore_best: as for ``train_node``: each member ends with the weights of its own
            best-validation epoch (``False``: those it had when it stopped or the run ended).
        on_epoch: one callable (or ``None``) per model, called with each of that member's
            epochs' log row (as ``train_node``'s ``on_epoch``); a true return value stops that
            member there, as early stopping would (a tuner's pruner: :func:`deepgnn.experiment.run_cells`
            turns a callback's exception into the cell's outcome this way).

    Returns:
        One :class:`~deepgnn.train.TrainResult` per model, in order. ``seconds`` is the
        group's training time until that member stopped.

    Raises:
        ValueError: the models differ in architecture, the lengths of ``seeds`` / ``inits`` /
            ``init_options`` / ``splits`` differ from ``len(models)``, the settings cannot
            batch (:func:`batch_obstacle`), or a bad option (as ``train_node`` raises).
        TypeError: a model not built by :func:`deepgnn.build`, or a dataset that is not a node
            dataset.

    Example:
        >>> import deepgnn
        >>> ds = deepgnn.data.load("cora")
        >>> models = [deepgnn.build("gcn", ds.num_features, ds.num_classes, 2, seed=s)
        ...           for s in (0, 1)]
        >>> results = train_node_batched(models, ds, seeds=[0, 1], epochs=100, device="cpu")
        >>> [r.test > 0.75 for r in results]
        [True, True]
    """
    models = list(models)
    k = len(models)
    if k == 0:
        raise ValueError("models is empty; pass one or more models built with deepgnn.build")
    for member in models:
        if not isinstance(member, GNN):
            raise TypeError(f"models must be built with deepgnn.build, got {type(member).__name__}")
    if len({id(m) for m in models}) != k:
        raise ValueError("models holds one model twice; build one model per member")
    if not isinstance(dataset, Dataset):
        raise TypeError(
            f"dataset must be a node deepgnn.data.Dataset, got {type(dataset).__name__}; "
            "graph-classification datasets go to train_graph"
        )
    if seeds is None:
        raise TypeError("seeds must be a sequence with one entry per model, got None")
    seeds = per_model("seeds", seeds, k)
    init_list: list[InitSpec] = per_model("inits", inits, k)
    option_list: list[Mapping[str, Any] | None] = per_model("init_options", init_options, k)
    split_list: list[int | None] = per_model("splits", splits, k)
    for seed, ini, opt in zip(seeds, init_list, option_list):
        check_options(seed=seed, device=device, init=ini, init_options=opt)
    check_options(restore_best=restore_best, precision=precision)
    callbacks = per_model("on_epoch", on_epoch, k)
    for hook in callbacks:
        check_options(on_epoch=hook)
    template = models[0]
    member_settings = [
        resolve(
            template.depth,
            template.family,
            protocol,
            epochs=epochs,
            lr=a,
            weight_decay=b,
            patience=patience,
            betas=betas,
            dropout=c,
            schedule=schedule,
        )
        for a, b, c in zip(
            _members("lr", lr, k),
            _members("weight_decay", weight_decay, k),
            _members("dropout", dropout, k),
        )
    ]
    settings = member_settings[0]
    found = model_obstacle(template) or batch_obstacle(
        template.family, schedule=schedule, multilabel=dataset.multilabel
    )
    if found is not None:
        raise ValueError(f"these runs cannot train batched: {found}; train them one by one")
    _check_samearchitecture(models)
    if template.in_dim != dataset.num_features or template.out_dim != dataset.num_classes:
        raise ValueError(
            f"models map {template.in_dim} -> {template.out_dim} but {dataset.name} has "
            f"{dataset.num_features} features and {dataset.num_classes} classes; build them "
            f"with in_dim={dataset.num_features}, out_dim={dataset.num_classes}"
        )
    views = [dataset if s is None else dataset.split(s) for s in split_list]
    dev = resolve_device(device)
    if not isinstance(cuda_graph, bool):
        raise TypeError(f"cuda_graph must be True or False, got {cuda_graph!r}")
    if cuda_graph and dev.type != "cuda":
        raise ValueError(
            f"cuda_graph=True needs a CUDA device, but training runs on {dev}; pass "
            "device='cuda' or cuda_graph=False"
        )
    check_precision(precision, dev)
    ds = dataset.to(dev)
    rates = [
        model.dropout if s.dropout is None else float(s.dropout)
        for model, s in zip(models, member_settings)
    ]
    generators = []
    for model, seed, ini, opt in zip(models, seeds, init_list, option_list):
        model.to(dev)
        generators.append(_init_member(model, seed, ini, opt, ds, dev))
    masks = torch.stack(
        [torch.stack([v.train_mask, v.val_mask, v.test_mask]) for v in views], dim=1
    ).to(dev)  # (3, k, N): train, val, test
    chances = [majority_share(ds.y[v.train_mask.to(dev)]) for v in views]
    if ds.metric == "rocauc":
        chances = [0.5] * k
    stack = Stack(models)
    lrs = [s.lr for s in member_settings]
    decays = [s.weight_decay for s in member_settings]
    shared = all(a == lrs[0] for a in lrs) and all(d == decays[0] for d in decays)
    if not shared and any(isinstance(d, dict) for d in decays):
        raise ValueError(
            f"weight_decay per member takes numbers; the members resolve to {decays} (a "
            "protocol's per-kind decay): pass one float per model, or one mapping for all"
        )
    groups = [
        {"params": [stack.param_of[id(q)] for q in g["params"]], "weight_decay": g["weight_decay"]}
        for g in param_groups(template, settings.weight_decay if shared else 0.0)
    ]
    name = f"{template.family}-{template.depth} on {ds.name}"
    # After the members' initialization: SPoGInit's search runs in float32 whatever
    # precision says.
    with run_precision(precision):
        steps: _Steps
        optimizer: torch.optim.Optimizer
        if shared:
            optimizer = adam(groups, settings, dev, capturable=cuda_graph)
        else:
            optimizer = MemberAdam(
                groups,
                lr=torch.tensor(lrs, dtype=ds.x.dtype, device=dev),
                weight_decay=torch.tensor(decays, dtype=ds.x.dtype, device=dev),
                betas=settings.betas,
            )
        if cuda_graph:
            steps = _GraphedSteps(stack, ds, masks[0], optimizer, rates, generators, precision)
        else:
            steps = _Steps(stack, ds, masks[0], optimizer, rates, generators, precision)
        scheduler = scheduler_for(optimizer, schedule, settings.epochs)
        loops = [
            Loop(
                optimizer,
                settings=own,
                schedule="constant",
                progress=False,
                desc=name,
                restore_best=restore_best,
                lr_scale=1.0 if shared else own.lr,
            )
            for own in member_settings
        ]
        # each member's parameters at its best-validation epoch, row m of every stack
        best = {n: q.detach().clone() for n, q in stack.p.items()} if restore_best else {}
        bar = epoch_bar(settings.epochs, progress, f"{name} x{k}")
        results: list[TrainResult | None] = [None] * k
        diverged = [False] * k
        kept: dict[int, dict[str, Tensor]] = {}  # a stopped member's parameters when it stopped

        def stop(m: int, *, nan: bool) -> None:
            diverged[m] = nan
            kept[m] = stack.member(m)
            steps.deactivate(m)
            results[m] = loops[m].result(ds.metric, nan, chance=chances[m], name=name)

        try:
            for epoch in range(1, settings.epochs + 1):
                losses = steps.train(lambda m: stop(m, nan=True))
                for m, loss in enumerate(losses):
                    if results[m] is None and not math.isfinite(loss):
                        log.warning("%s: loss is %s at epoch %d; stopping", ds.name, loss, epoch)
                        stop(m, nan=True)
                if all(r is not None for r in results):
                    break
                scores = ds.evaluate_stacked(steps.logits(), masks).tolist()  # (3, k)
                improved = []
                for m in range(k):
                    if results[m] is not None:
                        continue
                    row = {"train": scores[0][m], "val": scores[1][m], "test": scores[2][m]}
                    done = loops[m].end_epoch(epoch, losses[m], row)
                    hook = callbacks[m]
                    told = hook is not None and bool(hook(loops[m].rows[-1]))
                    if loops[m].improved:
                        improved.append(m)
                    if told:  # its caller stopped it (a pruned trial): no verdict warning
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore", RuntimeWarning)
                            stop(m, nan=False)
                    elif done:
                        stop(m, nan=False)
                if best and improved:
                    rows = torch.tensor(improved, device=dev)
                    with torch.no_grad():
                        for n, q in stack.p.items():
                            best[n].index_copy_(0, rows, q.detach().index_select(0, rows))
                if scheduler is not None:
                    scheduler.step()
                if bar is not None:
                    bar.update(1)
                if all(r is not None for r in results):
                    break
        finally:
            if bar is not None:
                bar.close()
    for m, model in enumerate(models):
        if results[m] is None:
            results[m] = loops[m].result(ds.metric, False, chance=chances[m], name=name)
        if best and loops[m].best[3] > 0:  # a member with a finished epoch: its best one
            kept[m] = {n: q[m] for n, q in best.items()}
        stack.write_back(m, model, kept.get(m))
        model.train(diverged[m])  # train_node leaves a diverged model in training mode
    return [r for r in results if r is not None]


def _describe(model: GNN) -> str:
    dtype = next((str(q.dtype) for q in model.parameters()), "no parameters")
    return f"{model.extra_repr()}, {model.in_dim} -> {model.out_dim}, {dtype}"


def _check_samearchitecture(models: list[GNN]) -> None:
    first = architecture(models[0])
    for i, model in enumerate(models[1:], start=1):
        if architecture(model) != first:
            raise ValueError(
                f"models[{i}] ({_describe(model)}) differs from models[0] "
                f"({_describe(models[0])}); batched models share their architecture "
                "(family, dimensions, depth, width, activation, bias, options, dtype)"
            )


def _members(arg: str, value: Any, k: int) -> list[Any]:
    """``value`` for each of ``k`` members: a sequence (not a string) is one entry per member,
    anything else (a number, a mapping, ``None``) the same for all."""
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return per_model(arg, value, k)
    return [value] * k


class MemberAdam(torch.optim.Optimizer):
    """Adam over stacked parameters (row ``m`` of each: member ``m``) with a learning rate and
    an L2 weight decay per member: on each row the update ``torch.optim.Adam`` makes for that
    member alone (decay added to the gradient; the same moments, bias corrections and ``eps``).

    ``lr`` and ``weight_decay`` are ``(k,)`` tensors on the parameters' device. A group's
    ``"lr"`` is the schedule's factor, a 0-dim tensor on that device (1 at the start; a
    scheduler such as cosine annealing scales it in place), so member ``m`` steps at ``lr[m]``
    times it. Every operation stays on the device (the step count and the factor are device
    tensors), so a step can be captured as a CUDA graph and the schedule still reaches it.
    """

    def __init__(
        self,
        groups: list[dict[str, Any]],
        *,
        lr: Tensor,
        weight_decay: Tensor,
        betas: tuple[float, float],
        eps: float = 1e-8,
    ) -> None:
        super().__init__(groups, {"lr": 1.0, "betas": betas, "eps": eps})
        for group in self.param_groups:  # the schedule's factor, where a captured step reads it
            group["lr"] = torch.ones((), dtype=torch.float64, device=lr.device)
        self.member_lr = lr
        self.member_decay = weight_decay

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:  # type: ignore[override]
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for q in group["params"]:
                if q.grad is None:
                    continue
                state = self.state[q]
                if not state:
                    state["step"] = torch.zeros((), dtype=torch.float64, device=q.device)
                    state["exp_avg"] = torch.zeros_like(q)
                    state["exp_avg_sq"] = torch.zeros_like(q)
                rows = (-1,) + (1,) * (q.dim() - 1)
                grad = q.grad + self.member_decay.view(rows) * q
                step = state["step"]
                step.add_(1)
                state["exp_avg"].lerp_(grad, 1 - beta1)
                state["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                # the bias corrections in float64, as Adam computes them on the host
                first = (group["lr"] / (1 - torch.pow(beta1, step))).to(q.dtype)
                root = (1 - torch.pow(beta2, step)).sqrt().to(q.dtype)
                size = self.member_lr.view(rows) * first
                denom = (state["exp_avg_sq"].sqrt() / root).add_(group["eps"])
                q.sub_(size * state["exp_avg"] / denom)


def _init_member(
    model: GNN,
    seed: int,
    init: InitSpec,
    options: Mapping[str, Any] | None,
    ds: Dataset,
    dev: torch.device,
) -> torch.Generator:
    """Initialize a member as ``train_node`` does; return its dropout generator, in the state
    the global one has after that initialization."""
    cuda = dev.type == "cuda"
    with torch.random.fork_rng(devices=[dev] if cuda else []):
        torch.manual_seed(seed)
        apply_init(model, init, options, graph=ds.graph, x=ds.x)
        generator = torch.Generator(device=dev)
        generator.set_state(torch.cuda.get_rng_state(dev) if cuda else torch.get_rng_state())
    return generator


class _Dropout:
    """Each member's dropout (at its own rate ``p[m]``), from its own generator, in the order of
    its forward pass.

    ``h`` is ``(N, k, d)`` (or ``(N, d)``, shared by every member: the input features). On the
    CPU member ``m`` draws ``bernoulli_(1 - p[m])`` of shape ``(N, d)`` from its generator, as
    ``F.dropout`` draws from the global one, so its masks are those of its run alone (a member
    at rate 0 draws nothing, and its mask is ones). On CUDA the masks come from buffers filled
    before the step (:meth:`fill`).
    """

    def __init__(self, p: list[float], generators: list[torch.Generator]) -> None:
        self.p = p
        self.keep = [1.0 - rate for rate in p]
        self.generators = generators
        self.active = [True] * len(generators)
        self.training = False
        self.buffers: list[Tensor] | None = None  # filled masks, in forward order (CUDA)
        self.block = torch.empty(0)  # the buffers' storage, one row per member
        self.position = 0
        self.recording = False
        self.shapes: list[tuple[int, int]] = []  # the masks one forward draws, when recording

    def __call__(self, h: Tensor) -> Tensor:
        if not (self.training and any(self.p)):
            return h
        n, d = h.shape[0], h.shape[-1]
        k = len(self.generators)
        if self.buffers is not None:
            noise = self.buffers[self.position]
            self.position += 1
        else:
            if self.recording:
                self.shapes.append((n, d))
            noise = h.new_empty(n, k, d)
            for m, g in enumerate(self.generators):
                if not self.active[m]:
                    noise[:, m].zero_()
                elif self.p[m]:
                    drawn = h.new_empty(n, d).bernoulli_(self.keep[m], generator=g)
                    noise[:, m].copy_(drawn.div_(self.keep[m]))
                else:
                    noise[:, m].fill_(1.0)
        return (h.unsqueeze(1) if h.dim() == 2 else h) * noise

    def fill(self, like: Tensor) -> None:
        """Draw every mask of one training step into :attr:`buffers` (shapes recorded by an
        eager step): member ``m`` draws them all in one call from its own generator, into its
        row of one ``(k, total)`` block; each buffer is an ``(N, k, d)`` view of the block, so a
        step costs ``k`` draws and one division, however many layers drop."""
        k = len(self.generators)
        if self.buffers is None:
            total = sum(n * d for n, d in self.shapes)
            self.block = like.new_ones(k, total)
            self.buffers, start = [], 0
            for n, d in self.shapes:
                view = self.block[:, start : start + n * d].view(k, n, d).transpose(0, 1)
                self.buffers.append(view)
                start += n * d
        self.position = 0
        if not self.shapes:
            return
        for m, g in enumerate(self.generators):
            if not self.active[m]:
                self.block[m].zero_()  # a stopped member: finite, and left out of the loss
            elif self.p[m]:
                self.block[m].bernoulli_(self.keep[m], generator=g).div_(self.keep[m])
            else:
                self.block[m].fill_(1.0)


# -------------------------------------------------------------------- the steps
class _Steps:
    """An epoch of the group, op by op: a training step over the active members, then the
    evaluation logits of all of them (float32), each forward pass in the run's ``precision``."""

    def __init__(
        self,
        stack: Stack,
        ds: Dataset,
        train_masks: Tensor,
        optimizer: torch.optim.Optimizer,
        p: list[float],
        generators: list[torch.Generator],
        precision: str = "fp32",
    ) -> None:
        self.stack, self.ds, self.optimizer = stack, ds, optimizer
        self.precision = precision
        self.drop = _Dropout(p, generators)
        k, n = train_masks.shape
        dev = train_masks.device
        self.k = k
        self.losses = MemberLoss(ds.y, train_masks, ds.x.dtype)
        self.alive = torch.ones(k, dtype=torch.bool, device=dev)

    def deactivate(self, m: int) -> None:
        """Member ``m`` stopped: it leaves the loss (and draws no more masks)."""
        self.drop.active[m] = False
        self.alive[m] = False

    def run_forward(self) -> Tensor:
        """The stacked forward pass in the run's precision; logits ``(N, k, C)``, float32
        where autocast left them narrower."""
        ds = self.ds
        with forward_precision(self.precision, ds.x.device):
            logits = forward(self.stack, ds.graph, ds.x, self.drop)
        return full_precision(logits)

    def step(self) -> Tensor:
        """Forward, the members' losses, backward of the active ones' sum and the Adam update
        (the captured step: no host sync)."""
        losses = self.losses(self.run_forward())
        torch.where(self.alive, losses, 0.0).sum().backward()
        self.optimizer.step()
        return losses.detach()

    def train(self, diverge: Callable[[int], None]) -> list[float]:
        """One training step; ``diverge(m)`` runs for a member whose loss is NaN/inf before
        the update, which then leaves it out. Returns the members' losses."""
        self.drop.training = True
        self.optimizer.zero_grad(set_to_none=True)
        losses = self.losses(self.run_forward())
        values = losses.detach().tolist()
        active = self.drop.active  # the host's copy of self.alive: no sync per member
        for m, v in enumerate(values):
            if active[m] and not math.isfinite(v):
                diverge(m)  # keeps its parameters before this update, as train_node
        if any(active):
            torch.where(self.alive, losses, 0.0).sum().backward()
            self.optimizer.step()
        return values

    def logits(self) -> Tensor:
        """Every member's logits in eval mode (no dropout), ``(N, k, C)``."""
        self.drop.training = False
        with torch.no_grad():
            return self.run_forward()


class _GraphedSteps(_Steps):
    """The same calls, each replaying a CUDA graph captured once (as ``train_node``'s).

    Warm-up steps on a side stream record the dropout shapes (and let cuBLAS, Triton and Adam
    make what they make on first use); the parameters and Adam's state are put back before the
    capture, so the first replay is the first step. Before every replay each member draws its
    masks of the step into fixed buffers from its own generator. A member's loss is checked
    after the replay, whose update has then already been applied.
    """

    def __init__(
        self,
        stack: Stack,
        ds: Dataset,
        train_masks: Tensor,
        optimizer: torch.optim.Optimizer,
        p: list[float],
        generators: list[torch.Generator],
        precision: str = "fp32",
        warmup: int = 3,
    ) -> None:
        super().__init__(stack, ds, train_masks, optimizer, p, generators, precision)
        dev = ds.x.device
        # The masks in the dtype of the hidden states they scale (bfloat16 under bf16 autocast,
        # as the eager step's h.new_empty draws them), so that dropout keeps that dtype.
        dtype = torch.bfloat16 if precision == "bf16" else ds.x.dtype
        self.mask_like = torch.empty(0, device=dev, dtype=dtype)
        saved = {name: q.detach().clone() for name, q in stack.p.items()}
        states = [g.get_state() for g in generators]
        side = torch.cuda.Stream(dev)
        side.wait_stream(torch.cuda.current_stream(dev))
        with torch.cuda.stream(side):
            for _ in range(warmup):
                self.drop.training, self.drop.recording = True, True
                self.drop.shapes = []
                self.optimizer.zero_grad(set_to_none=True)
                self.step()
                _Steps.logits(self)
        self.drop.recording = False
        torch.cuda.current_stream(dev).wait_stream(side)
        with torch.no_grad():
            for name, q in stack.p.items():
                q.copy_(saved[name])
            for state in optimizer.state.values():
                for value in state.values():
                    if isinstance(value, Tensor):
                        value.zero_()
        for g, s in zip(generators, states):
            g.set_state(s)
        self.drop.training = True
        self.drop.fill(self.mask_like)
        self.optimizer.zero_grad(set_to_none=True)
        self.train_graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.train_graph):
            self.drop.position = 0
            self.static_losses = self.step()
        self.drop.training = False
        self.eval_graph = torch.cuda.CUDAGraph()
        with torch.no_grad(), torch.cuda.graph(self.eval_graph):
            self.static_logits = self.run_forward()
        self.first = True

    def train(self, diverge: Callable[[int], None]) -> list[float]:
        self.drop.training = True
        if not self.first:  # the capture's masks are the first step's
            self.drop.fill(self.mask_like)
        self.first = False
        self.train_graph.replay()
        return self.static_losses.tolist()

    def logits(self) -> Tensor:
        self.eval_graph.replay()
        return self.static_logits
