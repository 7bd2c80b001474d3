"""Type aliases shared across deepgnn."""

from __future__ import annotations

from typing import Literal

import torch

Tensor = torch.Tensor
Activation = Literal["tanh", "relu", "leaky_relu", "elu", "gelu", "sigmoid", "identity"]
Norm = Literal["layer", "batch", "pair", "node"]
Backend = Literal["torch", "dgl"]
Family = Literal["gcn", "resgcn", "gated_resgcn", "rezero", "gat", "gcnii", "jknet", "appnp"]
Device = str | torch.device
Precision = Literal["fp32", "tf32", "bf16"]
