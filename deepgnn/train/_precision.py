r"""The arithmetic a training run computes in: ``precision="fp32"``, ``"tf32"`` or ``"bf16"``.

- ``"fp32"`` (the default): float32 throughout, IEEE matmuls (24 significant bits, 23
  stored). Every committed result of deepgnn was trained this way.
- ``"tf32"``: float32 tensors, but CUDA matmuls (cuBLAS) and cuDNN run on TF32 tensor cores,
  which round the operands to 11 significant bits (10 stored), accumulating in float32. CUDA
  only; the global switches are set for the run and given back after it
  (:func:`run_precision`).
- ``"bf16"``: the forward passes of training and evaluation run under
  ``torch.autocast(dtype=torch.bfloat16)``: matmuls and the products with :math:`\hat A` take
  bfloat16 operands (8 significant bits, 7 stored; float32's range) and return bfloat16
  activations (:func:`forward_precision`). Parameters, gradients and Adam's state stay float32, the loss
  is computed on ``logits.float()`` and the metrics on float32 logits.

SPoGInit's search and the signal analysis at initialization run before the run's precision
applies, in float32 whatever ``precision`` says.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor

from deepgnn._checks import check_choice
from deepgnn._typing import Precision

__all__ = [
    "PRECISIONS",
    "Precision",
    "check_precision",
    "forward_precision",
    "full_precision",
    "run_precision",
]

#: The ``precision=`` choices of :func:`~deepgnn.train.train_node` and
#: :func:`~deepgnn.train.train_node_batched`.
PRECISIONS: tuple[Precision, ...] = ("fp32", "tf32", "bf16")


def check_precision(precision: object, device: torch.device | None = None) -> None:
    """Raise ``ValueError`` unless ``precision`` is one of :data:`PRECISIONS` and, when
    ``device`` is given, one that runs there (``"tf32"`` needs CUDA).

    Example:
        >>> check_precision("bf16", torch.device("cpu"))
        >>> check_precision("tf32", torch.device("cpu"))
        Traceback (most recent call last):
        ValueError: precision='tf32' is a CUDA tensor-core mode, but training runs on cpu; pass precision="bf16" or precision="fp32" on this device
    """
    check_choice("precision", precision, PRECISIONS)
    if precision == "tf32" and device is not None and device.type != "cuda":
        raise ValueError(
            f"precision='tf32' is a CUDA tensor-core mode, but training runs on {device}; pass "
            'precision="bf16" or precision="fp32" on this device'
        )


def _tf32_switches() -> list[tuple[Any, str, Any]]:
    """``(namespace, attribute, value)`` of each global switch that turns TF32 on.

    torch 2.9 added per-backend ``fp32_precision`` settings and warns that the older flags
    (``allow_tf32``, ``set_float32_matmul_precision``) will be deprecated; on a torch
    without them, the older flags.
    """
    matmul, cudnn = torch.backends.cuda.matmul, torch.backends.cudnn
    if hasattr(matmul, "fp32_precision") and hasattr(cudnn, "conv"):
        return [
            (matmul, "fp32_precision", "tf32"),
            (cudnn.conv, "fp32_precision", "tf32"),
            (cudnn.rnn, "fp32_precision", "tf32"),
        ]
    return [(matmul, "allow_tf32", True), (cudnn, "allow_tf32", True)]


@contextlib.contextmanager
def run_precision(precision: str) -> Iterator[None]:
    """Set the global switches ``precision`` needs for the duration of a run.

    For ``"tf32"``, TF32 matmuls (cuBLAS) and cuDNN convolutions; each switch gets back the
    value it had on entry when the block ends, by an exception too. Other precisions change
    nothing here (``"bf16"`` acts per forward pass: :func:`forward_precision`).

    Example:
        >>> before = torch.backends.cuda.matmul.fp32_precision
        >>> with run_precision("tf32"):
        ...     torch.backends.cuda.matmul.fp32_precision
        'tf32'
        >>> torch.backends.cuda.matmul.fp32_precision == before
        True
    """
    if precision != "tf32":
        yield
        return
    switches = _tf32_switches()
    saved = [(space, name, getattr(space, name)) for space, name, _ in switches]
    try:
        for space, name, value in switches:
            setattr(space, name, value)
        yield
    finally:
        for space, name, value in reversed(saved):
            setattr(space, name, value)


def forward_precision(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """The context a forward pass on ``device`` runs in: bfloat16 autocast for ``"bf16"``,
    else none.

    The autocast keeps no cache of cast weights (``cache_enabled=False``): torch's CUDA-graph
    notes ask for that when autocast runs inside a capture, as the captured steps do.

    Example:
        >>> with forward_precision("bf16", torch.device("cpu")):
        ...     (torch.ones(2, 3) @ torch.ones(3, 2)).dtype
        torch.bfloat16
    """
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16, cache_enabled=False)
    return contextlib.nullcontext()


def full_precision(logits: Tensor) -> Tensor:
    """``logits`` in float32 when autocast left them narrower (bfloat16, float16), else
    ``logits`` itself (float32 and float64 models keep their dtype).

    Example:
        >>> full_precision(torch.zeros(2, dtype=torch.bfloat16)).dtype, full_precision(
        ...     torch.zeros(2, dtype=torch.float64)).dtype
        (torch.float32, torch.float64)
    """
    if logits.is_floating_point() and logits.dtype.itemsize < 4:
        return logits.float()
    return logits
