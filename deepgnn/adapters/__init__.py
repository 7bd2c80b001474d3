"""Outside models: a PyG, DGL or plain-PyTorch GNN seen as a deepgnn model.

:func:`wrap` gives a user's module what the analyzer, the inits, the search and the trainer
read of deepgnn's own models (:class:`~deepgnn.models.GNN`): its layers' weight matrices,
read by a small registry of layer readers (:func:`readable`, :func:`register_reader`), and
its hidden states, collected by forward hooks. Sweeps build a user's architecture from a
factory named ``"package.module:function"`` (:func:`from_factory`).

torch_geometric and dgl are never imported here: layers are matched by library and class
name, and the model is called by the convention its library uses.

Example:
    >>> import deepgnn
    >>> from deepgnn import init
    >>> from torch_geometric.nn.models import GAT
    >>> ds = deepgnn.data.load("cora")
    >>> model = deepgnn.wrap(GAT(ds.num_features, 32, num_layers=3,
    ...                          out_channels=ds.num_classes, heads=4, act="elu"))
    >>> init.xavier_(model) is model
    True
    >>> df = deepgnn.analyze(model, ds.graph, ds.x, ds.y, mask=ds.train_mask)
    >>> list(df["kind"]), df.attrs["summary"]["fsp"] > 0
    (['input', 'conv', 'conv', 'conv'], True)
"""

from __future__ import annotations

from deepgnn.adapters._factory import (
    FACTORY_ARGS,
    factory_options,
    from_factory,
    is_factory,
    resolve_factory,
)
from deepgnn.adapters._readers import Reader, readable, register_reader
from deepgnn.adapters._wrapped import CALLS, STATES, Wrapped, wrap

__all__ = [
    "CALLS",
    "FACTORY_ARGS",
    "Reader",
    "STATES",
    "Wrapped",
    "factory_options",
    "from_factory",
    "is_factory",
    "readable",
    "register_reader",
    "resolve_factory",
    "wrap",
]
