"""The dataset types: :class:`Dataset` (one graph, node labels) and :class:`GraphDataset`
(many small graphs, graph labels) with its mini-batch :class:`GraphBatch`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from deepgnn._checks import check_device
from deepgnn._typing import Device
from deepgnn.data import _metrics
from deepgnn.graph import Graph

__all__ = ["Dataset", "GraphDataset", "GraphBatch"]


def _select(arg: str, index: Tensor, n: int) -> Tensor:
    """Return int64 row ids from a bool mask of length ``n`` or an integer index tensor."""
    if not isinstance(index, Tensor):
        raise TypeError(
            f"{arg} must be a bool mask or an int64 index tensor, got {type(index).__name__}"
        )
    index = index.detach().cpu()
    if index.dtype == torch.bool:
        if index.shape != (n,):
            raise ValueError(f"{arg} is a bool mask of shape {tuple(index.shape)}; expected ({n},)")
        index = index.nonzero().flatten()
    elif index.dtype in (torch.int32, torch.int64) and index.ndim == 1:
        index = index.long()
        if len(index) and not (0 <= int(index.min()) and int(index.max()) < n):
            raise ValueError(f"{arg} holds ids outside [0, {n})")
    else:
        raise ValueError(
            f"{arg} must be a bool mask ({n},) or a 1-d integer index, got {index.dtype} "
            f"{tuple(index.shape)}"
        )
    if len(index) == 0:
        raise ValueError(f"{arg} selects no row; nothing to evaluate")
    return index


@dataclass
class Dataset:
    """A node-classification dataset: one graph, features, labels and one or more splits.

    Attributes:
        name: registry name.
        graph: the :class:`~deepgnn.Graph`.
        x: node features, float32 ``(num_nodes, num_features)``.
        y: labels, int64 ``(num_nodes,)``; ``-1`` marks a node without label (in no split).
            Multi-label datasets (``ogbn-proteins``) hold float32 ``(num_nodes, num_tasks)``
            of 0/1 instead (:attr:`multilabel`; train them with a binary cross-entropy).
        train_masks, val_masks, test_masks: bool ``(num_splits, num_nodes)``; a mask of
            shape ``(num_nodes,)`` is taken as one split and stored as ``(1, num_nodes)``.
        num_classes: number of classes (number of tasks for a multi-label dataset).
        metric: ``"accuracy"`` or ``"rocauc"``.
        split_index: which split ``train_mask``/``val_mask``/``test_mask`` show.
        task: ``"node"``.
        evaluator: name of the ``ogb`` evaluator that scores this dataset, if any.
    """

    name: str
    graph: Graph
    x: Tensor
    y: Tensor
    train_masks: Tensor
    val_masks: Tensor
    test_masks: Tensor
    num_classes: int
    metric: str = "accuracy"
    split_index: int = 0
    task: str = "node"
    evaluator: str | None = None

    @classmethod
    def from_pyg(cls, data: Any, *, name: str = "pyg", num_classes: int | None = None) -> Dataset:
        """A node dataset from a PyG ``torch_geometric.data.Data`` with ``x``, ``y`` and masks.

        The graph is :meth:`Graph.from_pyg(data) <deepgnn.Graph.from_pyg>` (symmetrized, as
        :class:`~deepgnn.Graph` documents). ``x`` becomes float32; ``y`` int64 class ids
        (``-1``: unlabelled), or a 2-d float tensor of 0/1 tasks (multi-label); the masks
        ``train_mask``, ``val_mask``, ``test_mask`` are bool ``(num_nodes,)`` for one split or
        ``(num_nodes, num_splits)`` for several, PyG's layout (e.g. ``WikipediaNetwork``).
        torch_geometric is not imported: any object with these attributes works.

        Args:
            data: the graph with ``x``, ``y``, ``train_mask``, ``val_mask``, ``test_mask``
                (``edge_index`` and optional ``edge_weight`` make the graph).
            name: the dataset's name in tables and progress bars.
            num_classes: the number of classes; ``None`` takes ``y.max() + 1`` (the number of
                columns of a multi-label ``y``).

        Raises:
            ValueError: a missing or malformed attribute, naming it and the expected shape.

        Example:
            >>> from types import SimpleNamespace  # stands in for torch_geometric.data.Data
            >>> mask = torch.tensor([True, True, False, False])
            >>> data = SimpleNamespace(edge_index=torch.tensor([[0, 1, 2], [1, 2, 3]]), num_nodes=4,
            ...     x=torch.eye(4), y=torch.tensor([0, 1, 0, 1]), train_mask=mask,
            ...     val_mask=~mask, test_mask=~mask)
            >>> Dataset.from_pyg(data, name="toy")
            Dataset('toy', num_nodes=4, num_edges=3, num_features=4, num_classes=2, num_splits=1, metric='accuracy')
        """
        graph = Graph.from_pyg(data)
        n = graph.num_nodes
        fields = {}
        for key in ("x", "y", "train_mask", "val_mask", "test_mask"):
            value = getattr(data, key, None)
            if not isinstance(value, Tensor):
                raise ValueError(
                    f"data.{key} is {type(value).__name__}, but a node dataset needs it as a "
                    f"tensor with one row per node ({n}); set data.{key} (PyG's transforms "
                    "RandomNodeSplit / RandomLinkSplit make masks)"
                )
            if value.shape[0] != n:
                raise ValueError(
                    f"data.{key} has shape {tuple(value.shape)}, but the graph has {n} nodes; "
                    "pass one row per node"
                )
            fields[key] = value.detach().cpu()
        x = fields["x"]
        if x.dim() != 2 or not x.is_floating_point():
            raise ValueError(
                f"data.x must be float features (num_nodes, d), got {x.dtype} {tuple(x.shape)}"
            )
        y = fields["y"]
        if y.dim() == 2 and y.shape[1] == 1 and not y.is_floating_point():
            y = y[:, 0]
        if y.dim() == 1:
            if y.is_floating_point() or y.dtype == torch.bool:
                raise ValueError(
                    f"data.y must hold integer class ids, got {y.dtype}; pass y.long()"
                )
            y = y.long()
            classes = int(y.max()) + 1 if num_classes is None else num_classes
        elif y.dim() == 2:
            y = y.float()
            classes = y.shape[1] if num_classes is None else num_classes
        else:
            raise ValueError(
                f"data.y must be (num_nodes,) or (num_nodes, tasks), got {tuple(y.shape)}"
            )
        masks = []
        for key in ("train_mask", "val_mask", "test_mask"):
            m = fields[key]
            if m.dtype != torch.bool or m.dim() not in (1, 2):
                raise ValueError(
                    f"data.{key} must be a bool (num_nodes,) or (num_nodes, num_splits) mask, "
                    f"got {m.dtype} {tuple(m.shape)}"
                )
            masks.append(m.unsqueeze(0) if m.dim() == 1 else m.t().contiguous())
        splits = {m.shape[0] for m in masks}
        if len(splits) > 1:
            raise ValueError(
                f"the masks hold different numbers of splits {sorted(splits)}; pass masks with "
                "the same number of columns"
            )
        return cls(
            name=name,
            graph=graph,
            x=x.float(),
            y=y,
            train_masks=masks[0],
            val_masks=masks[1],
            test_masks=masks[2],
            num_classes=int(classes),
        )

    def __post_init__(self) -> None:
        """One split from 1-D masks; the three masks checked against each other and ``x``.

        Raises:
            TypeError: a mask is not a tensor.
            ValueError: a mask that is not bool, or masks whose shapes disagree with each
                other or with the number of rows of ``x``.
        """
        shapes = []
        for name in ("train_masks", "val_masks", "test_masks"):
            m = getattr(self, name)
            if not isinstance(m, Tensor):
                raise TypeError(f"{name} must be a bool tensor, got {type(m).__name__}")
            if m.dtype != torch.bool:
                raise ValueError(
                    f"{name} has dtype {m.dtype}; pass bool masks, e.g. {name}.bool() for 0/1 "
                    "values, or a mask built from node ids with torch.zeros(n, dtype=torch.bool)"
                )
            if m.ndim == 1:  # one split: (num_nodes,) as (1, num_nodes)
                m = m.unsqueeze(0)
                setattr(self, name, m)
            if m.ndim != 2:
                raise ValueError(
                    f"{name} has shape {tuple(m.shape)}; pass (num_nodes,) for one split or "
                    "(num_splits, num_nodes)"
                )
            shapes.append(tuple(m.shape))
        rows = self.x.shape[0] if isinstance(self.x, Tensor) and self.x.ndim else None
        if len(set(shapes)) != 1 or (rows is not None and shapes[0][1] != rows):
            raise ValueError(
                f"train_masks, val_masks and test_masks have shapes {shapes}, but x has {rows} "
                "rows; pass masks of shape (num_nodes,) or (num_splits, num_nodes), one entry "
                "per node, the same number of splits for all three"
            )

    @property
    def multilabel(self) -> bool:
        """Whether ``y`` holds several binary tasks per node, ``(num_nodes, num_tasks)``."""
        return self.y.ndim == 2

    @property
    def train_mask(self) -> Tensor:
        """Boolean mask of the training nodes of the current split, shape ``(num_nodes,)``."""
        return self.train_masks[self.split_index]

    @property
    def val_mask(self) -> Tensor:
        """Boolean mask of the validation nodes of the current split, shape ``(num_nodes,)``."""
        return self.val_masks[self.split_index]

    @property
    def test_mask(self) -> Tensor:
        """Boolean mask of the test nodes of the current split, shape ``(num_nodes,)``."""
        return self.test_masks[self.split_index]

    @property
    def num_nodes(self) -> int:
        """Number of nodes of the graph."""
        return self.graph.num_nodes

    @property
    def num_features(self) -> int:
        """Number of input features per node (columns of ``x``)."""
        return self.x.shape[1]

    @property
    def num_splits(self) -> int:
        """Number of train/validation/test splits the dataset has (see :meth:`split`)."""
        return self.train_masks.shape[0]

    def split(self, index: int) -> Dataset:
        """Return this dataset showing split ``index`` through ``train_mask``/``val_mask``/``test_mask``."""
        if (
            isinstance(index, bool)
            or not isinstance(index, int)
            or not 0 <= index < self.num_splits
        ):
            raise ValueError(
                f"split index={index!r} is out of range; {self.name} has splits 0..{self.num_splits - 1}"
            )
        return dataclasses.replace(self, split_index=index)

    def evaluate(self, scores: Tensor, mask: Tensor) -> float:
        r"""Score predictions on the nodes in ``mask`` with this dataset's :attr:`metric`.

        * ``"accuracy"``: fraction of nodes whose arg-max score is the label.
        * ``"rocauc"`` on 2 classes: area under the ROC curve of the positive-class score,
          :math:`s_1 - s_0` for two columns (the log-odds of class 1, ranked like
          :math:`\mathrm{softmax}(s)_1`), or the single column given.
        * ``"rocauc"`` on a multi-label dataset: ROC-AUC per task, averaged over the tasks
          that have both classes among the evaluated nodes (Hu et al., "Open Graph
          Benchmark", NeurIPS 2020, arXiv 2005.00687).

        Datasets read from OGB files (``evaluator`` set) are scored by ``ogb``'s
        ``Evaluator``; the others with scikit-learn's ``roc_auc_score`` or a direct count.

        Args:
            scores: logits or scores for every node, ``(num_nodes, num_classes)``
                (or ``(num_nodes,)`` positive-class scores for a 2-class dataset).
            mask: bool ``(num_nodes,)`` or int64 node ids: the nodes to score.

        Returns:
            The metric, a float in ``[0, 1]``.

        Raises:
            ValueError: shapes do not match, the mask is empty or selects an unlabelled node,
                or ROC-AUC is undefined because only one class is present.

        Example:
            >>> import torch, deepgnn
            >>> ds = deepgnn.data.load("cora")
            >>> ds.evaluate(torch.nn.functional.one_hot(ds.y, 7).float(), ds.test_mask)
            1.0
        """
        n = self.num_nodes
        idx = _select("mask", mask, n)
        if not isinstance(scores, Tensor):
            raise TypeError(f"scores must be a torch.Tensor, got {type(scores).__name__}")
        if scores.ndim == 0 or scores.shape[0] != n:
            raise ValueError(
                f"scores has shape {tuple(scores.shape)}, but {self.name} has {n} nodes; pass "
                "the model's output for every node and select nodes with mask"
            )
        # select on the scores' device: only the evaluated rows travel to the CPU
        s = _metrics.as_numpy("scores", scores.detach()[idx.to(scores.device)])
        y = self.y.detach().cpu()[idx].numpy()
        if not self.multilabel and (y < 0).any():
            raise ValueError("mask selects unlabelled nodes (y == -1); evaluate on a split mask")
        if self.multilabel:
            if s.shape != y.shape:
                raise ValueError(f"scores must be (num_nodes, {y.shape[1]}), got {tuple(s.shape)}")
            if self.evaluator is not None:
                return _metrics.ogb_evaluate("node", self.evaluator, y, s)
            return _metrics.rocauc(y, s)
        if self.metric == "rocauc":
            if s.ndim == 2 and s.shape[1] not in (1, 2):
                raise ValueError(
                    f"ROC-AUC needs 2-class logits or one score per node, got {s.shape[1]} columns"
                )
            if self.evaluator is not None:
                return _metrics.ogb_evaluate(
                    "node", self.evaluator, y[:, None], _metrics.binary_scores(s)[:, None]
                )
            return _metrics.rocauc(y[:, None], _metrics.binary_scores(s)[:, None])
        if s.ndim != 2 or s.shape[1] != self.num_classes:
            raise ValueError(
                f"scores must be (num_nodes, {self.num_classes}) for accuracy, got {tuple(s.shape)}"
            )
        if self.evaluator is not None:
            pred = s.argmax(axis=1)[:, None]
            return _metrics.ogb_evaluate("node", self.evaluator, y[:, None], pred)
        return _metrics.accuracy(y, s)

    def evaluate_stacked(self, scores: Tensor, masks: Tensor) -> Tensor:
        r"""Score ``k`` runs' predictions on ``r`` node sets each, on the scores' device, at once.

        Entry ``[i, m]`` is :meth:`evaluate` of ``scores[:, m]`` on the nodes of
        ``masks[i, m]``: the accuracy (a count over a count, the same float as
        :meth:`evaluate`, ties of the arg-max broken toward the first class as there), or the
        ROC-AUC of the positive-class score on a 2-class dataset (the Mann-Whitney statistic
        with mean ranks for ties, which is scikit-learn's area up to float rounding). One pass
        for every run and node set, and only the ``(r, k)`` result leaves the device: the
        per-epoch metrics of a batched group (:func:`deepgnn.train.train_node_batched`), where
        scoring each run on the CPU would cost more than its training step. A set whose
        metric is undefined (ROC-AUC of one class) gives NaN instead of raising. Multi-label
        datasets are not scored here (use :meth:`evaluate`).

        Args:
            scores: logits ``(num_nodes, k, num_classes)``.
            masks: bool ``(r, k, num_nodes)``: the nodes each run is scored on, per set.

        Returns:
            float64 ``(r, k)`` on the scores' device.

        Raises:
            ValueError: a multi-label dataset, or shapes that do not match.

        Example:
            >>> import torch, deepgnn
            >>> ds = deepgnn.data.load("cora")
            >>> right = torch.nn.functional.one_hot(ds.y, 7).float()
            >>> scores = torch.stack([right, torch.zeros_like(right)], dim=1)  # (N, 2, 7)
            >>> masks = torch.stack([ds.train_mask, ds.test_mask]).unsqueeze(1).expand(2, 2, -1)
            >>> ds.evaluate_stacked(scores, masks).tolist()
            [[1.0, 0.14285714285714285], [1.0, 0.13]]
        """
        if self.multilabel:
            raise ValueError(
                f"{self.name} is multi-label; score it run by run with Dataset.evaluate"
            )
        n = self.num_nodes
        if scores.dim() != 3 or scores.shape[0] != n:
            raise ValueError(
                f"scores must be (num_nodes={n}, k, num_classes), got {tuple(scores.shape)}"
            )
        k = scores.shape[1]
        if masks.dim() != 3 or masks.shape[1:] != (k, n) or masks.dtype != torch.bool:
            raise ValueError(
                f"masks must be bool (r, k={k}, num_nodes={n}), got {masks.dtype} "
                f"{tuple(masks.shape)}"
            )
        scores = scores.detach()
        y = self.y.to(scores.device)
        masks = masks.to(scores.device)
        if self.metric == "rocauc":
            c = scores.shape[2]
            if c not in (1, 2):
                raise ValueError(f"ROC-AUC needs 2-class logits or one score per node, got {c}")
            # in float64, as evaluate: float32 differences would tie scores that differ
            s64 = scores.to(torch.float64)
            s = s64[:, :, 1] - s64[:, :, 0] if c == 2 else s64[:, :, 0]
            r = masks.shape[0]
            rows = s.t().unsqueeze(0).expand(r, k, n).reshape(r * k, n)
            positive = (y == 1).unsqueeze(0).expand(r * k, n)
            return _metrics.rocauc_rows(rows, positive, masks.reshape(r * k, n)).view(r, k)
        correct = (scores.argmax(dim=2) == y.unsqueeze(1)).t()  # (k, N)
        hits = (masks & correct.unsqueeze(0)).sum(dim=2).to(torch.float64)
        return hits / masks.sum(dim=2).to(torch.float64)

    def normalize_features(self) -> Dataset:
        r"""Return the dataset with each feature row divided by its sum (zero rows stay zero).

        :math:`x_i \leftarrow x_i / \sum_j x_{ij}`, the preprocessing of Kipf & Welling
        (ICLR 2017) for the Planetoid bag-of-words features (PyG's ``NormalizeFeatures``).

        Example:
            >>> import deepgnn
            >>> ds = deepgnn.data.load("cora").normalize_features()
            >>> round(float(ds.x[0].sum()), 6)
            1.0
        """
        total = self.x.sum(dim=1, keepdim=True)
        x = self.x / torch.where(total == 0, torch.ones_like(total), total)
        return dataclasses.replace(self, x=x)

    def to(self, device: Device) -> Dataset:
        """Return the dataset with graph and tensors on ``device``."""
        device = check_device("device", device)
        return dataclasses.replace(
            self,
            graph=self.graph.to(device),
            x=self.x.to(device),
            y=self.y.to(device),
            train_masks=self.train_masks.to(device),
            val_masks=self.val_masks.to(device),
            test_masks=self.test_masks.to(device),
        )

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, num_nodes={self.num_nodes}, num_edges={self.graph.num_edges}, "
            f"num_features={self.num_features}, num_classes={self.num_classes}, "
            f"num_splits={self.num_splits}, metric={self.metric!r})"
        )


@dataclass
class GraphBatch:
    """Several small graphs joined into one block-diagonal graph (a mini-batch).

    Attributes:
        graph: the block-diagonal :class:`~deepgnn.Graph` (node ids offset per graph;
            atoms without bonds stay as isolated nodes).
        x: int64 atom features ``(N, 9)`` (OGB's encoding, for ``ogb``'s ``AtomEncoder``).
        edge_attr: int64 bond features ``(E, 3)``, aligned with ``edge_index``.
        edge_index: int64 ``(2, E)`` batch-level node ids of the bonds, both directions,
            in the order of ``edge_attr`` (``graph`` stores its own, deduplicated order).
        batch: int64 ``(N,)``: the graph (``0 … num_graphs-1``) of each node.
        y: float32 ``(num_graphs, num_tasks)``; NaN marks a missing label.
        num_graphs: number of graphs in the batch.
    """

    graph: Graph
    x: Tensor
    edge_attr: Tensor
    edge_index: Tensor
    batch: Tensor
    y: Tensor
    num_graphs: int

    def to(self, device: Device) -> GraphBatch:
        """Return the batch with graph and tensors on ``device``."""
        device = check_device("device", device)
        return dataclasses.replace(
            self,
            graph=self.graph.to(device),
            x=self.x.to(device),
            edge_attr=self.edge_attr.to(device),
            edge_index=self.edge_index.to(device),
            batch=self.batch.to(device),
            y=self.y.to(device),
        )


@dataclass
class GraphDataset:
    """A graph-classification dataset: many small graphs stored concatenated (OGB's layout).

    Graph ``i`` has nodes ``node_ptr[i]:node_ptr[i+1]`` of ``node_feat`` and edges
    ``edge_ptr[i]:edge_ptr[i+1]`` of ``edge_index``/``edge_feat``, whose node ids are local
    (``0 … num_nodes_i - 1``), as ``ogb.utils.smiles2graph`` writes them.

    Attributes:
        name: registry name.
        node_feat: int64 ``(total_nodes, 9)`` OGB atom features.
        edge_index: int64 ``(2, total_edges)`` local node ids, both directions of each bond.
        edge_feat: int64 ``(total_edges, 3)`` OGB bond features.
        node_ptr, edge_ptr: int64 ``(num_graphs + 1,)`` offsets.
        y: float32 ``(num_graphs, num_tasks)``; NaN marks a missing label.
        split_idx: ``"train"``/``"valid"``/``"test"`` → int64 graph indices.
        num_tasks: number of binary tasks.
        metric: ``"rocauc"``.
        task: ``"graph"``.
        num_failed: input molecules that could not be parsed (dropped).
        failed: their row numbers in the source file.
    """

    name: str
    node_feat: Tensor
    edge_index: Tensor
    edge_feat: Tensor
    node_ptr: Tensor
    edge_ptr: Tensor
    y: Tensor
    split_idx: dict[str, Tensor]
    num_tasks: int
    metric: str = "rocauc"
    task: str = "graph"
    num_failed: int = 0
    failed: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.node_ptr) - 1

    @property
    def num_graphs(self) -> int:
        """Number of graphs (molecules) in the dataset."""
        return len(self)

    def batch(self, index: Tensor) -> GraphBatch:
        """Join the graphs ``index`` into one block-diagonal :class:`GraphBatch`.

        Args:
            index: int64 graph ids ``(B,)`` (or a bool mask over the graphs).

        Example:
            >>> import torch
            >>> from deepgnn.data.molecules import from_smiles
            >>> ds = from_smiles(["CCO", "C"], [1, 0], name="toy")
            >>> b = ds.batch(torch.tensor([0, 1]))
            >>> b.graph.num_nodes, b.batch.tolist(), b.edge_index.shape[1]
            (4, [0, 0, 0, 1], 4)
        """
        idx = _select("index", index, len(self))
        starts, ends = self.node_ptr[idx], self.node_ptr[idx + 1]
        estarts, eends = self.edge_ptr[idx], self.edge_ptr[idx + 1]
        counts, ecounts = ends - starts, eends - estarts
        offsets = torch.cumsum(counts, 0) - counts  # first batch node id of each graph
        nodes = _ranges(starts, counts)
        edges = _ranges(estarts, ecounts)
        shift = torch.repeat_interleave(offsets, ecounts)
        edge_index = self.edge_index[:, edges] + shift
        num_nodes = int(counts.sum())
        return GraphBatch(
            graph=Graph(edge_index, num_nodes=num_nodes),
            x=self.node_feat[nodes],
            edge_attr=self.edge_feat[edges],
            edge_index=edge_index,
            batch=torch.repeat_interleave(torch.arange(len(idx)), counts),
            y=self.y[idx],
            num_graphs=len(idx),
        )

    def evaluate(self, y_pred: Tensor, index: Tensor) -> float:
        """ROC-AUC of ``y_pred`` against the labels of graphs ``index``, averaged over tasks.

        OGB's semantics (Hu et al., "Open Graph Benchmark", NeurIPS 2020, arXiv 2005.00687):
        per task, NaN labels are ignored and a task with one class present is skipped.
        ``ogbg-*`` names are scored by ``ogb.graphproppred.Evaluator`` itself.

        Args:
            y_pred: scores ``(len(index), num_tasks)`` (logits or probabilities).
            index: int64 graph ids, or a bool mask over the graphs.

        Raises:
            ValueError: shapes do not match or no task has both classes.
        """
        idx = _select("index", index, len(self))
        s = _metrics.as_numpy("y_pred", y_pred)
        s = s[:, None] if s.ndim == 1 else s
        y = self.y[idx].numpy().astype(np.float64)
        if s.shape != y.shape:
            raise ValueError(
                f"y_pred must be ({len(idx)}, {self.num_tasks}): one score per graph and task, "
                f"got {tuple(y_pred.shape)}"
            )
        if self.name.startswith("ogbg-"):
            return _metrics.ogb_evaluate("graph", self.name, y, s)
        return _metrics.rocauc(y, s)

    def __repr__(self) -> str:
        sizes = {k: len(v) for k, v in self.split_idx.items()}
        return (
            f"GraphDataset({self.name!r}, num_graphs={len(self)}, num_tasks={self.num_tasks}, "
            f"split={sizes}, num_failed={self.num_failed})"
        )


def _ranges(starts: Tensor, counts: Tensor) -> Tensor:
    """Concatenate ``arange(s, s + c)`` for every pair, without a Python loop."""
    total = int(counts.sum())
    offsets = torch.cumsum(counts, 0) - counts
    within = torch.arange(total) - torch.repeat_interleave(offsets, counts)
    return torch.repeat_interleave(starts, counts) + within
