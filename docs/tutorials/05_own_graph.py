"""
Use your own graph, and DGL graphs
==================================

Everything in deepgnn runs on a :class:`~deepgnn.graph.Graph`, which holds the GCN-normalized
adjacency :math:`\\hat A = D^{-1/2}(A + I)D^{-1/2}`. This tutorial builds one from an
``edge_index``, a scipy matrix, a networkx graph and a DGL graph, checks that they agree, runs
a model on it, and trains on it through a :class:`~deepgnn.data.Dataset` of your own.
"""

# %%
# From an edge list
# -----------------
# ``edge_index`` has shape ``(2, num_edges)``. Directed input is symmetrized, repeated edges
# are kept once (largest weight), and every node gets one self loop of weight 1.
import networkx as nx
import numpy as np
import scipy.sparse as sp
import torch

import deepgnn
import deepgnn.train
from deepgnn import Graph

edge_index = torch.tensor([[0, 1, 2, 3, 0], [1, 2, 3, 4, 1]])  # a path 0-1-2-3-4, (0, 1) twice
g = Graph(edge_index)
print(g.num_nodes, "nodes,", g.num_edges, "undirected edges")
print(g.to_scipy().toarray().round(3))  # Â as a dense array

# %%
# From scipy, networkx and DGL
# ----------------------------
# Nonzero values of a scipy matrix become edge weights; networkx and DGL graphs may name an
# edge attribute to use as weight. The four graphs below hold the same :math:`\hat A`.
path = nx.path_graph(5)
graphs = {
    "edge_index": g,
    "scipy": Graph.from_scipy(sp.csr_array(nx.to_scipy_sparse_array(path))),
    "networkx": Graph.from_networkx(path),
}
try:
    import dgl  # the `dgl` extra: pip install 'deepgnn[dgl]'
except ImportError:
    print("DGL is not installed here; Graph.from_dgl(dgl_graph) needs the `dgl` extra")
else:
    src, dst = edge_index
    graphs["dgl"] = Graph.from_dgl(dgl.graph((src, dst), num_nodes=5))
    print("and back to DGL:", g.to_dgl())

x = torch.randn(5, 3, generator=torch.Generator().manual_seed(0))
for name, graph in graphs.items():
    print(f"{name:>10}: max |Â x - Â' x| = {float((graph.spmm(x) - g.spmm(x)).abs().max()):.1e}")

# %%
# Bad input fails with the fix
# ----------------------------
# Ids out of range, negative or float ids, wrong shapes and non-positive weights raise a
# ``ValueError`` that names the argument and what to do.
for bad in [
    dict(edge_index=torch.tensor([[0, 5]]).T, num_nodes=3),
    dict(edge_index=torch.tensor([[0, 1], [1, 2]]), edge_weight=torch.tensor([1.0, -1.0])),
]:
    try:
        Graph(bad.pop("edge_index"), **bad)
    except ValueError as err:
        print("ValueError:", err)

# %%
# Run a model and the analyzer on it
# ----------------------------------
# A random graph with 500 nodes (a seeded Erdős–Rényi graph from networkx) and random features:
# models, inits and the analyzer only need the graph and ``x``.
er = Graph.from_networkx(nx.gnp_random_graph(500, 0.02, seed=0))
feats = torch.randn(er.num_nodes, 16, generator=torch.Generator().manual_seed(0))
model = deepgnn.build("resgcn", 16, 4, depth=8, width=32, activation="relu", seed=0)
deepgnn.init.virgo_(model, er, feats)
print(model(er, feats).shape)
s = deepgnn.analyze(model, er, feats).attrs["summary"]
print(f"FSP {s['fsp']:.3g}  GEV {s['gev']:.3g}")

# %%
# Train on your own data: a Dataset
# ---------------------------------
# :func:`~deepgnn.train.train_node` takes a :class:`~deepgnn.data.Dataset`: the graph, features,
# labels and boolean split masks of shape ``(num_splits, num_nodes)``. Here the labels are a
# function of the features, so there is something to learn.
labels = feats[:, :4].argmax(dim=1)
rng = np.random.default_rng(0)
part = torch.from_numpy(rng.permutation(er.num_nodes))
masks = [torch.zeros(1, er.num_nodes, dtype=torch.bool) for _ in range(3)]
for mask, idx in zip(masks, (part[:300], part[300:400], part[400:])):
    mask[0, idx] = True
ds = deepgnn.data.Dataset("my-graph", er, feats, labels, *masks, num_classes=4)
print(ds)
small = deepgnn.build("gcn", 16, 4, depth=2, width=32, activation="relu")
r = deepgnn.train.train_node(small, ds, init="xavier", epochs=100, seed=0)
print(f"test {r.test:.3f}, best train {r.best_train:.2f}, chance {r.chance:.2f}")
