"""Layer readers: which weight matrices of an outside layer module deepgnn sees, and how.

A reader maps a layer module to its :class:`~deepgnn.models.LayerWeight` entries, named
relative to the layer, in torch's ``(out, in)`` view (``transposed=True`` where the library
stores ``(in, out)``). The propagating matrix comes first (the one applied to aggregated
neighbour features, ``kind="conv"``); matrices applied to a node's own or initial features,
a residual projection or an MLP's later layers follow with ``kind="linear"``.

Built-in readers are keyed by library and class name, so that neither torch_geometric nor
dgl is imported to look a layer up; :func:`register_reader` adds readers for user classes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from torch import nn

from deepgnn.models import LayerWeight

__all__ = ["Reader", "find_reader", "library_of", "readable", "register_reader"]

#: A reader: ``reader(layer) -> [LayerWeight, ...]``, names relative to ``layer``.
Reader = Callable[[nn.Module], Sequence[LayerWeight]]


@dataclass(frozen=True)
class Entry:
    """A registered reader and, optionally, the output width of its layer (when it is not
    the ``fan_out`` of the layer's first entry, e.g. GAT's averaged heads)."""

    read: Reader
    out_width: Callable[[nn.Module], int] | None = None


_USER: dict[type, Entry] = {}


def library_of(cls: type) -> str | None:
    """``"pyg"``, ``"dgl"`` or ``None``: the library that defines ``cls``."""
    module = cls.__module__
    if module == "torch_geometric" or module.startswith("torch_geometric."):
        return "pyg"
    if module == "dgl" or module.startswith("dgl."):
        return "dgl"
    return None


def _linear(name: str, lin: Any, kind: str = "linear") -> LayerWeight:
    return LayerWeight(f"{name}.weight", lin.weight, bias=getattr(lin, "bias", None), kind=kind)


def _is_linear(module: nn.Module) -> bool:
    return isinstance(module, nn.Linear) or (
        type(module).__name__ == "Linear" and library_of(type(module)) == "pyg"
    )


# ----------------------------------------------------------------------- torch and PyG
def _read_linear(m: Any) -> list[LayerWeight]:
    return [LayerWeight("weight", m.weight, bias=m.bias, kind="linear")]


def _pyg_gcn(m: Any) -> list[LayerWeight]:
    return [LayerWeight("lin.weight", m.lin.weight, bias=m.bias)]


def _pyg_gat(m: Any) -> list[LayerWeight]:
    # `lin` for one input size, `lin_src` (the aggregated side) for a (src, dst) pair; the
    # attention vectors are not layer weights (as deepgnn's own GAT).
    name = "lin" if m.lin is not None else "lin_src"
    out = [LayerWeight(f"{name}.weight", getattr(m, name).weight, bias=m.bias)]
    if isinstance(getattr(m, "res", None), nn.Module):
        out.append(_linear("res", m.res))
    return out


def _pyg_gat_width(m: Any) -> int:
    return int(m.out_channels * (m.heads if m.concat else 1))


def _pyg_sage(m: Any) -> list[LayerWeight]:
    out = [_linear("lin_l", m.lin_l, kind="conv")]
    if getattr(m, "lin_r", None) is not None:
        out.append(_linear("lin_r", m.lin_r))
    if getattr(m, "project", False):
        out.append(_linear("lin", m.lin))
    return out


def _pyg_graph_conv(m: Any) -> list[LayerWeight]:
    return [_linear("lin_rel", m.lin_rel, kind="conv"), _linear("lin_root", m.lin_root)]


def _pyg_gcn2(m: Any) -> list[LayerWeight]:
    # x @ weight1: stored (in, out). weight2 (shared_weights=False) maps the initial residual.
    out = [LayerWeight("weight1", m.weight1, transposed=True)]
    if m.weight2 is not None:
        out.append(LayerWeight("weight2", m.weight2, transposed=True, kind="linear"))
    return out


def _mlp_linears(m: Any) -> list[tuple[str, Any]]:
    return [(f"nn.{name}", mod) for name, mod in m.nn.named_modules() if _is_linear(mod)]


def _pyg_gin(m: Any) -> list[LayerWeight]:
    # GIN's MLP: the first linear map reads the aggregated features, the others its output.
    lins = _mlp_linears(m)
    return [
        _linear(name, lin, kind="conv" if i == 0 else "linear")
        for i, (name, lin) in enumerate(lins)
    ]


def _pyg_gin_width(m: Any) -> int:
    lins = _mlp_linears(m)
    return int(lins[-1][1].weight.shape[0]) if lins else 0


def _pyg_deepgcn(m: Any) -> list[LayerWeight]:
    if m.conv is None:
        return []
    found = find_reader(m.conv)
    if found is None:
        cls = type(m.conv)
        raise ValueError(
            f"DeepGCNLayer holds a {cls.__name__}, which deepgnn has no reader for; register "
            f"one with deepgnn.adapters.register_reader({cls.__name__}, reader)"
        )
    return [
        LayerWeight(f"conv.{lw.name}", lw.param, lw.transposed, lw.bias, lw.kind)
        for lw in found.read(m.conv)
    ]


def _pyg_deepgcn_width(m: Any) -> int:
    found = find_reader(m.conv) if m.conv is not None else None
    if found is not None and found.out_width is not None:
        return found.out_width(m.conv)
    lws = _pyg_deepgcn(m)
    return lws[0].fan_out if lws else 0


# ------------------------------------------------------------------------------- DGL
def _dgl_graph_conv(m: Any) -> list[LayerWeight]:
    # DGL stores GraphConv.weight (in, out); weight=False leaves none.
    if m.weight is None:
        return []
    return [LayerWeight("weight", m.weight, transposed=True, bias=m.bias)]


def _dgl_gat(m: Any) -> list[LayerWeight]:
    name = "fc" if hasattr(m, "fc") else "fc_src"
    out = [LayerWeight(f"{name}.weight", getattr(m, name).weight, bias=m.bias)]
    if isinstance(getattr(m, "res_fc", None), nn.Linear):
        out.append(_linear("res_fc", m.res_fc))
    return out


def _dgl_gat_width(m: Any) -> int:
    return int(m._num_heads * m._out_feats)


def _dgl_sage(m: Any) -> list[LayerWeight]:
    out = [LayerWeight("fc_neigh.weight", m.fc_neigh.weight, bias=getattr(m, "bias", None))]
    if getattr(m, "fc_self", None) is not None:
        out.append(_linear("fc_self", m.fc_self))
    if getattr(m, "fc_pool", None) is not None:
        out.append(_linear("fc_pool", m.fc_pool))
    return out


_BUILTIN: dict[tuple[str | None, str], Entry] = {
    ("pyg", "Linear"): Entry(_read_linear),
    ("pyg", "GCNConv"): Entry(_pyg_gcn),
    ("pyg", "GATConv"): Entry(_pyg_gat, _pyg_gat_width),
    ("pyg", "SAGEConv"): Entry(_pyg_sage),
    ("pyg", "GraphConv"): Entry(_pyg_graph_conv),
    ("pyg", "GCN2Conv"): Entry(_pyg_gcn2),
    ("pyg", "GINConv"): Entry(_pyg_gin, _pyg_gin_width),
    ("pyg", "DeepGCNLayer"): Entry(_pyg_deepgcn, _pyg_deepgcn_width),
    ("dgl", "GraphConv"): Entry(_dgl_graph_conv),
    ("dgl", "GATConv"): Entry(_dgl_gat, _dgl_gat_width),
    ("dgl", "SAGEConv"): Entry(_dgl_sage),
}


def find_reader(module: nn.Module) -> Entry | None:
    """The reader of ``module``'s class or of its nearest base class that has one, or ``None``.

    ``torch.nn.Linear`` (and subclasses) reads as a projection, ``kind="linear"``.
    """
    for cls in type(module).__mro__:
        if cls in _USER:
            return _USER[cls]
        entry = _BUILTIN.get((library_of(cls), cls.__name__))
        if entry is not None:
            return entry
        if cls is nn.Linear:
            return Entry(_read_linear)
    return None


def register_reader(cls: type, reader: Reader) -> Reader:
    """Teach :func:`deepgnn.wrap` to read layers of class ``cls`` (and its subclasses).

    ``reader(layer)`` returns the layer's weight matrices as
    :class:`~deepgnn.models.LayerWeight` entries named relative to the layer, propagating
    matrix first: ``weight`` in torch's ``(out, in)`` orientation (``transposed=True`` when
    the layer stores ``(in, out)`` and computes ``x @ weight``), its ``bias``, and
    ``kind="conv"`` for a matrix applied to aggregated neighbour features, ``"linear"`` for
    one applied to a node's own features. A reader registered for a class replaces the
    built-in one.

    Args:
        cls: the layer class.
        reader: the function.

    Returns:
        ``reader``.

    Example:
        >>> import torch
        >>> from deepgnn.models import LayerWeight
        >>> class MyConv(torch.nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.w = torch.nn.Parameter(torch.randn(3, 4))
        >>> _ = register_reader(MyConv, lambda layer: [LayerWeight("w", layer.w)])
        >>> [lw.name for lw in find_reader(MyConv()).read(MyConv())]
        ['w']
    """
    if not isinstance(cls, type) or not issubclass(cls, nn.Module):
        raise TypeError(f"cls must be a torch.nn.Module subclass, got {cls!r}")
    if not callable(reader):
        raise TypeError(
            f"reader must be a function layer -> [LayerWeight, ...], got {type(reader).__name__}"
        )
    _USER[cls] = Entry(reader)
    return reader


def readable() -> list[str]:
    """The layer classes deepgnn reads, as ``library.Class`` (and user classes registered).

    Example:
        >>> "pyg.GCNConv" in readable() and "torch.nn.Linear" in readable()
        True
    """
    names = [f"{lib}.{name}" for lib, name in _BUILTIN]
    names += ["torch.nn.Linear"]
    names += [f"{c.__module__}.{c.__qualname__}" for c in _USER]
    return sorted(names)
