"""The one dataset type that every node-level loader returns."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import Tensor

from deepgnn._typing import Device
from deepgnn.graph import Graph


@dataclass
class Dataset:
    """A node-classification dataset: one graph, features, labels and one or more splits.

    Attributes:
        name: registry name.
        graph: the :class:`~deepgnn.Graph`.
        x: node features, float32 ``(num_nodes, num_features)``.
        y: labels, int64 ``(num_nodes,)``; ``-1`` marks a node without label (in no split).
        train_masks, val_masks, test_masks: bool ``(num_splits, num_nodes)``.
        num_classes: number of classes.
        metric: ``"accuracy"`` or ``"rocauc"``.
        split_index: which split ``train_mask``/``val_mask``/``test_mask`` show.
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

    @property
    def train_mask(self) -> Tensor:
        return self.train_masks[self.split_index]

    @property
    def val_mask(self) -> Tensor:
        return self.val_masks[self.split_index]

    @property
    def test_mask(self) -> Tensor:
        return self.test_masks[self.split_index]

    @property
    def num_nodes(self) -> int:
        return self.graph.num_nodes

    @property
    def num_features(self) -> int:
        return self.x.shape[1]

    @property
    def num_splits(self) -> int:
        return self.train_masks.shape[0]

    def evaluate(self, logits: Tensor, mask: Tensor) -> float:
        """Return the dataset's metric (accuracy) of ``logits`` on the nodes in ``mask``."""
        return (logits[mask].argmax(1) == self.y[mask]).float().mean().item()

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

    def to(self, device: Device) -> Dataset:
        """Return the dataset with graph and tensors on ``device``."""
        device = torch.device(device)
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
