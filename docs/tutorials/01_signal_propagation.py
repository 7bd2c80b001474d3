"""
Measure signal propagation of a deep GCN
========================================

How does a signal travel through 32 tanh GCN layers under different initializations? This
tutorial reads the per-layer table of :func:`deepgnn.analyze`, the over-smoothing measures
(Dirichlet energy, MAD, effective rank) and the input-output Jacobian's extreme singular values,
and plots them against depth.
"""

# %%
# One model, three initializations
# --------------------------------
# A tanh GCN of depth 32 and width 32 on Cora. Biases are zeroed by every scheme, so the output
# measures propagation rather than the last bias.
import matplotlib.pyplot as plt
import torch

import deepgnn
from deepgnn import init, signal

ds = deepgnn.data.load("cora")
model = deepgnn.build("gcn", ds.num_features, ds.num_classes, depth=32, width=32, activation="tanh")

tables = {}
for name in ["conventional", "xavier", "virgo"]:
    init.init_(model, name, graph=ds.graph, x=ds.x, generator=torch.Generator().manual_seed(0))
    tables[name] = deepgnn.analyze(
        model, ds.graph, ds.x, ds.y, mask=ds.train_mask, measures=("dirichlet", "mad", "rank")
    )

# %%
# The per-layer table
# -------------------
# One row per state: the input (layer 0), every graph layer, the logits. ``norm_ratio`` is
# :math:`\|h_l\| / \|X\|`, ``grad_norm`` the gradient norm of layer ``l``'s weight under the
# training loss, ``gev`` the graph embedding variation of :math:`h_l`.
xavier = tables["xavier"]
cols = [
    "layer",
    "norm_ratio",
    "grad_norm",
    "gev",
    "dirichlet_normalized",
    "mad_edges",
    "effective_rank",
]
print(xavier[cols].iloc[[0, 1, 2, 4, 8, 16, 24, 32]].to_string(index=False, float_format="%.3g"))

# %%
# The summary in ``df.attrs``
# ---------------------------
# FSP (forward: :math:`\|h_L\|/\|X\|`), BSP (backward: the first layer's gradient norm), GEV of
# the logits, and the SPoGInit objective in the two forms the authors use.
for name, df in tables.items():
    s = df.attrs["summary"]
    print(
        f"{name:>12}: FSP {s['fsp']:.2e}  BSP {s['bsp']:.2e}  GEV {s['gev']:.2e}  "
        f"J(divide_old) {s['objective_divide_old']:.3g}  diverged {s['diverged']}"
    )

# %%
# Against depth
# -------------
# Conventional initialization (:math:`U(\pm 1/\sqrt{n_\text{in}})`) loses the signal
# geometrically (ten orders of magnitude by depth 32); Xavier loses less than two orders and
# Virgo less than one. The over-smoothing measures fall with depth under every scheme.
fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
for name, df in tables.items():
    axes[0].semilogy(df["layer"], df["norm_ratio"], label=name)
    axes[1].semilogy(df["layer"], df["dirichlet_normalized"], label=name)
    axes[2].plot(df["layer"], df["effective_rank"], label=name)
axes[0].set(xlabel="layer", ylabel=r"$\|h_l\| / \|X\|$")
axes[1].set(xlabel="layer", ylabel="Dirichlet energy (I - Â)")
axes[2].set(xlabel="layer", ylabel="effective rank")
axes[0].legend()
fig.tight_layout()

# %%
# The Jacobian's extreme singular values
# --------------------------------------
# :func:`deepgnn.signal.jacobian_spectrum` runs Lanczos on :math:`J^\top J` with
# Jacobian-vector products only (no dense Jacobian). The smallest values are upper bounds.
init.xavier_(model, generator=torch.Generator().manual_seed(0))
spec = signal.jacobian_spectrum(model, ds.graph, ds.x, k=2, steps=20)
print(spec)
