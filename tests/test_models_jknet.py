from __future__ import annotations

import pytest
import torch

import deepgnn
from deepgnn import models


def test_jknet_layer_states_are_gcn_layers_on_a_dense_adjacency(small_edges):
    g = deepgnn.Graph(small_edges)
    x = torch.randn(5, 3, generator=torch.Generator().manual_seed(0))
    model = models.build("jknet", 3, 2, 3, width=4, seed=0)
    a = torch.from_numpy(g.to_scipy().toarray()).float()
    states = model.hidden_states(g, x)
    h = x
    for conv, state in zip(model.convs, states[1:-1], strict=True):
        h = torch.tanh(a @ h @ conv.weight.t() + conv.bias)
        torch.testing.assert_close(state, h, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("mode", "jk_width"), [("cat", 3 * 4), ("max", 4)])
def test_jknet_classifier_reads_the_concatenation_or_the_maximum_of_every_layer(
    small_edges, mode, jk_width
):
    g = deepgnn.Graph(small_edges)
    x = torch.randn(5, 3, generator=torch.Generator().manual_seed(0))
    model = models.build("jknet", 3, 2, 3, width=4, seed=0, mode=mode)
    assert model.out_proj.weight.shape == (2, jk_width)
    assert model.layer_weights()[-1].fan_in == jk_width
    states = model.hidden_states(g, x)
    layers = states[1:-1]
    assert len(layers) == 3 and all(h.shape == (5, 4) for h in layers)
    if mode == "cat":
        jk = torch.cat(layers, dim=1)
    else:
        jk = torch.maximum(torch.maximum(layers[0], layers[1]), layers[2])
    torch.testing.assert_close(states[-1], model.out_proj(jk))
    torch.testing.assert_close(model(g, x), states[-1])


@pytest.mark.dgl
@pytest.mark.parametrize("mode", ["cat", "max"])
def test_jknet_dgl_backend_matches_torch(cora, mode):
    pytest.importorskip("dgl", reason="the dgl extra is not installed")
    kw = dict(width=16, seed=0, mode=mode)
    a = models.build("jknet", cora.num_features, cora.num_classes, 4, backend="torch", **kw)
    b = models.build("jknet", cora.num_features, cora.num_classes, 4, backend="dgl", **kw)
    with torch.no_grad():
        for wa, wb in zip(a.layer_weights(), b.layer_weights(), strict=True):
            wb.weight.copy_(wa.weight)
            wb.bias.copy_(wa.bias)
    torch.testing.assert_close(b(cora.graph, cora.x), a(cora.graph, cora.x), rtol=1e-5, atol=1e-6)


def test_jknet_rejects_an_unknown_mode_listing_the_modes():
    with pytest.raises(ValueError, match=r"mode='lstm' is not one of \['cat', 'max'\]"):
        models.build("jknet", 5, 3, 2, mode="lstm")
    with pytest.raises(TypeError, match=r"mode must be a string"):
        models.build("jknet", 5, 3, 2, mode=1)
