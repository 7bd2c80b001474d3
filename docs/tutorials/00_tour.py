"""
A 5-minute tour
===============

Build a deep GCN, initialize it, read how signals propagate through it, train it, and compare
initializations across depths: the library's main calls in one script.
"""

# %%
# Data and a model
# ----------------
# Cora ships with the package (no download). A :class:`~deepgnn.data.Dataset` holds the
# :class:`~deepgnn.graph.Graph` (the GCN-normalized adjacency :math:`\hat A`), the features,
# the labels and the standard split.
import torch

import deepgnn
from deepgnn import init
from deepgnn.train import train_node

# On a machine whose cores other processes use too, one torch thread is often faster than one
# per core (the installation page has the numbers): ``torch.set_num_threads(1)``.
ds = deepgnn.data.load("cora")
print(ds)

model = deepgnn.build("gcn", ds.num_features, ds.num_classes, depth=16, width=32, activation="tanh")
print(model)
print(
    len(model.layer_weights()),
    "layer weights, the first of shape",
    model.layer_weights()[0].weight.shape,
)

# %%
# Initialize in place, like ``torch.nn.init``
# -------------------------------------------
# Every scheme re-draws each layer weight and returns the model; ``init.available()`` lists them.
print(init.available())
init.xavier_(model, generator=torch.Generator().manual_seed(0))

# %%
# Signal propagation: one row per layer
# -------------------------------------
# :func:`deepgnn.analyze` runs one forward and one backward pass. FSP is the output's norm
# relative to the input's, BSP the first layer's gradient norm, GEV how much the output still
# varies over the graph (near 0: over-smoothed).
df = deepgnn.analyze(model, ds.graph, ds.x, ds.y, mask=ds.train_mask)
print(df[["layer", "width", "norm", "norm_ratio", "grad_norm", "gev"]].to_string(index=False))
s = df.attrs["summary"]
print(
    f"FSP {s['fsp']:.3g}  BSP {s['bsp']:.3g}  GEV {s['gev']:.3g}  (GEV of X: {s['gev_input']:.3g})"
)

# %%
# Across depths and initializations
# ---------------------------------
# :func:`deepgnn.depth_table` gives one row per depth x initialization x seed.
table = deepgnn.depth_table(
    "gcn",
    ds,
    depths=[2, 8, 32],
    inits=["conventional", "xavier", "virgo"],
    seeds=[0],
    width=32,
    activation="tanh",
)
print(table.pivot(index="depth", columns="init", values="fsp").to_string(float_format="%.2e"))

# %%
# Train
# -----
# :func:`deepgnn.train.train_node` trains full-batch with early stopping on validation and
# reports the test metric at the best validation epoch, next to the best training metric and
# whether the model trained at all.
shallow = deepgnn.build(
    "gcn", ds.num_features, ds.num_classes, 2, width=16, dropout=0.5, activation="relu"
)
result = train_node(shallow, ds.normalize_features(), init="xavier", epochs=60, seed=0)
print(
    f"test {result.test:.3f} at epoch {result.best_epoch}; best train {result.best_train:.2f}, "
    f"chance {result.chance:.2f}, untrained: {result.untrained}"
)
