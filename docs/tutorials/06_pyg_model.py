"""
Analyze and initialize your PyG model
=====================================

You have a GNN written with PyTorch Geometric. :func:`deepgnn.wrap` lets the analyzer, every
initialization, the SPoGInit search and the trainer work on it as they work on deepgnn's own
models: it reads each layer's weight matrix (a small registry knows PyG's ``GCNConv``,
``GATConv``, ``SAGEConv``, ``GraphConv``, ``GCN2Conv``, ``GINConv``, ``DeepGCNLayer`` and
``Linear``) and collects the hidden states with forward hooks. Your module stays yours: inits
and training change its own parameters in place. Needs the ``pyg`` extra
(``pip install 'deepgnn[pyg]'``).
"""

# %%
# A PyG model and a PyG ``Data``
# ------------------------------
# PyG's datasets download their files; here a ``Data`` is built from the Cora that ships with
# deepgnn. Every deepgnn function that takes a graph also takes a ``Data``
# (:meth:`Graph.from_pyg <deepgnn.graph.Graph.from_pyg>`), and
# :meth:`Dataset.from_pyg <deepgnn.data.Dataset.from_pyg>` reads ``x``, ``y`` and the masks.
import torch
from torch import nn
from torch_geometric.data import Data
from torch_geometric.nn import GCN2Conv
from torch_geometric.nn.models import GAT, GCN

import deepgnn
from deepgnn import init, search
from deepgnn.models import LayerWeight
from deepgnn.train import train_node

cora = deepgnn.data.load("cora")
data = Data(
    x=cora.x,
    edge_index=cora.graph.edge_index,
    y=cora.y,
    train_mask=cora.train_mask,
    val_mask=cora.val_mask,
    test_mask=cora.test_mask,
)
ds = deepgnn.data.Dataset.from_pyg(data, name="cora")
print(data)
print(ds)

# %%
# Wrap it
# -------
# ``wrap`` finds the layers of a PyG ``BasicGNN`` (``GCN``, ``GAT``, ``GraphSAGE``, ``GIN``)
# by itself; it calls the model as PyG does, ``model(x, edge_index)``. The hidden states are
# what each next layer receives, after the activation: the states of deepgnn's own ``gcn``.
torch.manual_seed(0)
pyg_gcn = GCN(ds.num_features, 64, num_layers=16, out_channels=ds.num_classes, act="tanh")
model = deepgnn.wrap(pyg_gcn)
print(model.layers[:3], "...", model.depth, "layers,", model.activation)
for lw in model.layer_weights()[:2]:
    print(f"{lw.name}: {tuple(lw.weight.shape)} ({lw.kind})")
print([tuple(h.shape) for h in model.hidden_states(data, ds.x)][:3], "...")

# %%
# The same numbers as deepgnn's own GCN
# -------------------------------------
# With the same weights, the wrapped PyG GCN and ``deepgnn.build("gcn", ...)`` give the same
# signal-propagation table (``tests/test_adapters.py`` checks it to 1e-6 in float64).
ours = deepgnn.build("gcn", ds.num_features, ds.num_classes, depth=16, width=64, seed=0)
with torch.no_grad():
    for conv, twin in zip(ours.convs, pyg_gcn.convs):
        twin.lin.weight.copy_(conv.weight)
        twin.bias.copy_(conv.bias)
a = deepgnn.analyze(ours, ds.graph, ds.x, ds.y, mask=ds.train_mask).attrs["summary"]
b = deepgnn.analyze(model, data, ds.x, ds.y, mask=ds.train_mask).attrs["summary"]
for key in ("fsp", "bsp", "gev"):
    print(f"{key}: deepgnn {a[key]:.6g}  PyG {b[key]:.6g}")

# %%
# Analyze and initialize
# ----------------------
# Xavier, then SPoGInit's search over per-layer scales. With Dirichlet energy and MAD per
# layer (``measures=``), the table shows where the signal shrinks or smooths out.
init.xavier_(model, generator=torch.Generator().manual_seed(0))
df = deepgnn.analyze(model, ds.graph, ds.x, ds.y, mask=ds.train_mask, measures=("dirichlet", "mad"))
print(df[["layer", "norm_ratio", "grad_norm", "gev", "dirichlet", "mad_edges"]].iloc[::4])
init.spoginit_(
    model, ds.graph, ds.x, ds.y, mask=ds.train_mask, base=None, n_trials=30, progress=False
)
after = deepgnn.analyze(model, ds.graph, ds.x, ds.y, mask=ds.train_mask).attrs["summary"]
print(f"FSP {df.attrs['summary']['fsp']:.3g} (Xavier) -> {after['fsp']:.3g} (SPoGInit)")
# train_node(model, ds, protocol="spoginit-paper") trains it: the README runs exactly this.

# %%
# A GAT and a GCN2Conv stack
# --------------------------
# ``GATConv``'s matrix is read whole, ``(heads * out, in)``, as deepgnn's own GAT; the
# attention vectors are left as they are. A model of your own, like PyG's GCNII example, is
# read from its modules in the order they were registered: list them with ``layers=`` when
# the forward calls them in another order (``wrap`` checks it and says so).


class GCNII(nn.Module):
    """PyG's examples/gcn2_cora.py: Linear, ``depth`` GCN2Conv layers, Linear."""

    def __init__(self, in_dim, out_dim, depth, width=64, dropout=0.6):
        super().__init__()
        self.lin_in = nn.Linear(in_dim, width)
        self.convs = nn.ModuleList(
            GCN2Conv(width, alpha=0.1, theta=0.5, layer=i + 1) for i in range(depth)
        )
        self.lin_out = nn.Linear(width, out_dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, edge_index):
        x = x0 = self.lin_in(self.dropout(x)).relu()
        for conv in self.convs:
            x = conv(self.dropout(x), x0, edge_index).relu()
        return self.lin_out(self.dropout(x))


torch.manual_seed(0)
for name, net, settings in [
    (
        "GAT-2",
        GAT(ds.num_features, 32, num_layers=2, out_channels=7, heads=4, act="elu", dropout=0.6),
        {"epochs": 200, "lr": 0.01},
    ),
    ("GCN2Conv-8", GCNII(ds.num_features, 7, depth=8), {"epochs": 100, "lr": 0.01}),
]:
    wrapped = deepgnn.wrap(net)
    init.xavier_(wrapped, generator=torch.Generator().manual_seed(0))
    found = search.search(
        wrapped, ds.graph, ds.x, ds.y, mask=ds.train_mask, n_trials=8, progress=False
    )
    init.scale_(wrapped, found.scales)  # spoginit_ is these three steps
    r = train_node(wrapped, ds, weight_decay=5e-4, seed=0, **settings)
    print(
        f"{name}: layers {[lw.kind for lw in wrapped.layer_weights()][:3]}..., objective "
        f"{found.trace['objective'].iloc[0]:.3g} -> {found.objective:.3g}, test {r.test:.3f}"
    )

# %%
# A layer deepgnn does not know
# -----------------------------
# A module with weight matrices that no reader knows stops ``wrap`` with an error naming it
# and the fix: register a reader that returns its matrices as
# :class:`~deepgnn.models.LayerWeight` (torch's ``(out, in)`` orientation, or
# ``transposed=True``).


class MyConv(nn.Module):
    def __init__(self, a, b):
        super().__init__()
        self.w = nn.Parameter(torch.randn(a, b) / a**0.5)  # applied as x @ w: (in, out)

    def forward(self, x, edge_index):
        return x @ self.w


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.gcn = GCN(ds.num_features, 16, num_layers=2, act="tanh")
        self.head = MyConv(16, ds.num_classes)

    def forward(self, x, edge_index):
        return self.head(torch.tanh(self.gcn(x, edge_index)), edge_index)


try:
    deepgnn.wrap(Net())
except ValueError as err:
    print("ValueError:", err)
deepgnn.adapters.register_reader(MyConv, lambda layer: [LayerWeight("w", layer.w, transposed=True)])
print(deepgnn.wrap(Net()).layers)

# %%
# Sweeps over your architecture
# -----------------------------
# A sweep builds your model from a factory, a function
# ``fn(in_dim, out_dim, depth, **options)`` named ``"package.module:function"`` in its
# ``[model]`` table; the keys of ``[model]`` that the function takes are passed to it, and its
# model is wrapped. The config is checked on load (the factory imported, a tiny model built,
# wrapped and run once), and its cells are journaled and resumed like any other::
#
#     [model]
#     factory = "mymodels:gcnii"   # def gcnii(in_dim, out_dim, depth, width=64): ...
#     depth = [4, 16, 64]
#     width = 64
