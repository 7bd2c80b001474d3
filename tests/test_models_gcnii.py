from __future__ import annotations

import math

import pytest
import torch

import deepgnn
from deepgnn import models


def _dense(graph: deepgnn.Graph, dtype=torch.float32) -> torch.Tensor:
    return torch.from_numpy(graph.to_scipy().toarray()).to(dtype)


def test_gcnii_states_match_the_paper_formula_on_a_dense_adjacency(small_edges):
    g = deepgnn.Graph(small_edges)
    x = torch.randn(5, 3, generator=torch.Generator().manual_seed(0))
    alpha, lamda = 0.2, 0.7
    model = models.build(
        "gcnii", 3, 2, 4, width=6, activation="relu", seed=0, alpha=alpha, lamda=lamda
    )
    model.eval()
    a = _dense(g)
    h0 = torch.relu(model.in_proj(x))
    expected, h = [x, h0], h0
    for l, conv in enumerate(model.convs, start=1):
        beta = math.log(lamda / l + 1)
        support = (1 - alpha) * a @ h + alpha * h0
        h = torch.relu(support @ ((1 - beta) * torch.eye(6) + beta * conv.weight.t()))
        expected.append(h)
    expected.append(model.out_proj(h))
    states = model.hidden_states(g, x)
    assert len(states) == len(expected) == len(model.layer_weights()) + 1
    for state, ref in zip(states, expected, strict=True):
        torch.testing.assert_close(state, ref, rtol=1e-5, atol=1e-6)


def test_gcnii_without_identity_map_and_with_full_initial_residual_is_its_projections(cora):
    # lamda=0 gives beta_l = 0 and alpha=1 drops A h: every layer returns relu(h_0) = h_0, so
    # the model is the two-layer MLP out_proj(relu(in_proj(x))).
    model = models.build(
        "gcnii", cora.num_features, cora.num_classes, 8, activation="relu", alpha=1.0, lamda=0.0
    )
    model.eval()
    mlp = model.out_proj(torch.relu(model.in_proj(cora.x)))
    torch.testing.assert_close(model(cora.graph, cora.x), mlp)


def test_gcnii_without_identity_map_or_initial_residual_is_repeated_propagation(small_edges):
    # lamda=0, alpha=0, identity activation: h_L = Â^L h_0 (SGC's propagation).
    g = deepgnn.Graph(small_edges)
    x = torch.randn(5, 3, generator=torch.Generator().manual_seed(1))
    model = models.build(
        "gcnii", 3, 2, 5, width=4, activation="identity", alpha=0.0, lamda=0.0, seed=0
    )
    states = model.hidden_states(g, x)
    a = _dense(g)
    torch.testing.assert_close(states[-2], torch.linalg.matrix_power(a, 5) @ states[1])


def test_gcnii_initial_residual_reads_h0_before_dropout(cora):
    # The authors' model.py keeps h_0 = relu(fc0(drop(x))) undropped for the residual: with
    # alpha=1, lamda=0 every layer returns exactly h_0, even in training mode with dropout.
    kw = dict(alpha=1.0, lamda=0.0, dropout=0.5)
    model = models.build("gcnii", cora.num_features, cora.num_classes, 3, activation="relu", **kw)
    model.train()
    states = model.hidden_states(cora.graph, cora.x)
    for h in states[2:-1]:
        assert torch.equal(h, states[1])
    model.eval()  # the features were dropped: h_0 differs from eval mode's
    assert not torch.equal(model.hidden_states(cora.graph, cora.x)[1], states[1])


@pytest.mark.dgl
def test_gcnii_dgl_backend_matches_torch_on_a_weighted_graph(cora):
    pytest.importorskip("dgl", reason="the dgl extra is not installed")
    # a weighted graph: DGL's GCN2Conv renormalizes the weights it is given, so this pins
    # that it computes deepgnn's Â and not the unweighted-degree normalization
    w = torch.rand(cora.graph.edge_index.shape[1], generator=torch.Generator().manual_seed(0))
    g = deepgnn.Graph(cora.graph.edge_index, edge_weight=w + 0.1)
    kw = dict(width=16, activation="relu", seed=1)
    a = models.build("gcnii", cora.num_features, cora.num_classes, 8, backend="torch", **kw)
    b = models.build("gcnii", cora.num_features, cora.num_classes, 8, backend="dgl", **kw)
    with torch.no_grad():
        for wa, wb in zip(a.layer_weights(), b.layer_weights(), strict=True):
            assert wa.weight.shape == wb.weight.shape
            if wa.kind == "conv":  # the same draw, DGL's stored (in, out)
                torch.testing.assert_close(wb.weight, wa.weight.t())
            wb.weight.copy_(wa.weight)
            if wa.bias is not None:
                wb.bias.copy_(wa.bias)
    outs = []
    for m in (a, b):
        out = m(g, cora.x)
        torch.nn.functional.cross_entropy(out[cora.train_mask], cora.y[cora.train_mask]).backward()
        outs.append(out)
    torch.testing.assert_close(outs[1], outs[0], rtol=1e-5, atol=1e-5)
    for wa, wb in zip(a.layer_weights(), b.layer_weights()):
        scale = wa.grad().abs().max()
        torch.testing.assert_close(wb.grad() / scale, wa.grad() / scale, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"alpha": 1.5}, r"alpha=1.5; pass an initial-residual weight in \[0, 1\]"),
        ({"alpha": True}, r"alpha=True; pass an initial-residual weight"),
        ({"lamda": -0.1}, r"lamda=-0.1; pass a finite lamda >= 0"),
        ({"lamda": float("inf")}, r"lamda=inf; pass a finite lamda >= 0"),
        ({"lambda_": 0.5}, r"does not take \['lambda_'\].*did you mean 'lamda'"),
    ],
)
def test_gcnii_rejects_bad_options_naming_the_fix(options, match):
    with pytest.raises(ValueError, match=match):
        models.build("gcnii", 5, 3, 2, **options)


def test_gcnii_64_layers_train_on_cora_with_per_kind_weight_decay(cora):
    # The paper's Cora setting (ICML 2020, Sec. 6.1) at width 32, without dropout and for 30
    # epochs instead of up to 1500, to stay cheap (~4 s on a 2-core CPU): 0.805 test accuracy.
    ds = cora.normalize_features()
    # seeded: at 30 epochs the test accuracy spreads over 0.70-0.81 across model seeds
    model = models.build(
        "gcnii", ds.num_features, ds.num_classes, 64, width=32, activation="relu", seed=0
    )
    result = deepgnn.train.train_node(
        model,
        ds,
        epochs=30,
        lr=0.01,
        weight_decay={"conv": 0.01, "linear": 5e-4},
        patience=None,
        seed=0,
        device="cpu",
    )
    assert not result.untrained and result.test > 0.75, result.as_row()
