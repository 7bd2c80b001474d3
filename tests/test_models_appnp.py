from __future__ import annotations

import pytest
import torch

import deepgnn
from deepgnn import models
from deepgnn.models.appnp import appnp_propagate


def _dense(graph: deepgnn.Graph) -> torch.Tensor:
    return torch.from_numpy(graph.to_scipy().toarray())


def test_appnp_with_teleport_one_is_its_mlp(cora):
    model = models.build(
        "appnp", cora.num_features, cora.num_classes, 10, activation="relu", alpha=1.0, seed=0
    )
    model.eval()
    mlp = model.lins[1](torch.relu(model.lins[0](cora.x)))
    torch.testing.assert_close(model(cora.graph, cora.x), mlp)


def test_appnp_propagation_is_the_truncated_personalized_pagerank_series(small_edges):
    g = deepgnn.Graph(small_edges)
    a = _dense(g)
    z0 = torch.randn(5, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    alpha, k = 0.1, 10
    series = sum(alpha * (1 - alpha) ** i * torch.linalg.matrix_power(a, i) for i in range(k))
    expected = (series + (1 - alpha) ** k * torch.linalg.matrix_power(a, k)) @ z0
    torch.testing.assert_close(appnp_propagate(g, z0, steps=k, alpha=alpha), expected)


def test_appnp_propagation_converges_to_personalized_pagerank(small_edges):
    # z_K -> alpha (I - (1 - alpha) Â)^-1 z_0; the error falls as (1 - alpha)^K.
    g = deepgnn.Graph(small_edges)
    a = _dense(g)
    z0 = torch.randn(5, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    ppr = 0.2 * torch.linalg.solve(torch.eye(5, dtype=torch.float64) - 0.8 * a, z0)
    torch.testing.assert_close(appnp_propagate(g, z0, steps=200, alpha=0.2), ppr)


def test_appnp_model_logits_are_the_propagated_mlp_output(small_edges):
    g = deepgnn.Graph(small_edges)
    x = torch.randn(5, 3, generator=torch.Generator().manual_seed(2))
    model = models.build("appnp", 3, 2, 4, width=6, seed=0, alpha=0.3, mlp_layers=3)
    states = model.hidden_states(g, x)
    assert [w.kind for w in model.layer_weights()] == ["linear"] * 3
    assert [s.shape[1] for s in states] == [3, 6, 6, 2]
    h = torch.tanh(model.lins[1](torch.tanh(model.lins[0](x))))
    torch.testing.assert_close(states[2], h)
    z0 = model.lins[2](h).double()
    a = _dense(g)
    z = z0
    for _ in range(4):
        z = 0.7 * a @ z + 0.3 * z0
    torch.testing.assert_close(states[-1], z.float(), rtol=1e-5, atol=1e-6)


def test_appnp_with_one_mlp_layer_has_two_states(small_edges):
    g = deepgnn.Graph(small_edges)
    model = models.build("appnp", 3, 2, 10, mlp_layers=1)
    states = model.hidden_states(g, torch.randn(5, 3))
    assert len(states) == 2 and len(model.layer_weights()) == 1


@pytest.mark.dgl
def test_appnp_dgl_propagation_matches_torch_on_a_weighted_graph(cora):
    pytest.importorskip("dgl", reason="the dgl extra is not installed")
    # APPNPConv renormalizes the weights it is given: this pins that it propagates with Â
    w = torch.rand(cora.graph.edge_index.shape[1], generator=torch.Generator().manual_seed(0))
    g = deepgnn.Graph(cora.graph.edge_index, edge_weight=w + 0.1)
    kw = dict(width=16, seed=0)
    a = models.build("appnp", cora.num_features, cora.num_classes, 10, backend="torch", **kw)
    b = models.build("appnp", cora.num_features, cora.num_classes, 10, backend="dgl", **kw)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    torch.testing.assert_close(b(g, cora.x), a(g, cora.x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"alpha": -0.1}, r"alpha=-0.1; pass a teleport probability in \[0, 1\]"),
        ({"mlp_layers": 0}, r"mlp_layers=0; pass a positive int such as mlp_layers=2"),
        ({"mlp_layers": 2.0}, r"mlp_layers=2.0; pass a positive int"),
        ({"k": 10}, r"does not take \['k'\]; its options are \['alpha', 'mlp_layers'\]"),
    ],
)
def test_appnp_rejects_bad_options_naming_the_fix(options, match):
    with pytest.raises(ValueError, match=match):
        models.build("appnp", 5, 3, 10, **options)


def test_appnp_trains_on_cora(cora):
    # K = 10, alpha = 0.1, a 2-layer MLP of 64, dropout 0.5, lr 0.01, weight decay 5e-4 (PyG's
    # benchmark/citation/appnp.py), 40 epochs.
    ds = cora.normalize_features()
    model = models.build(
        "appnp", ds.num_features, ds.num_classes, 10, activation="relu", dropout=0.5, seed=0
    )
    result = deepgnn.train.train_node(
        model, ds, epochs=40, lr=0.01, weight_decay=5e-4, patience=None, seed=0, device="cpu"
    )
    assert result.test > 0.78, result.as_row()
