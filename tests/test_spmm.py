"""``Graph.spmm`` with a fused bias and activation on the torch.sparse path (CPU)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from deepgnn import Graph, build
from deepgnn._spmm import triton_enabled


def dense_adjacency(g: Graph) -> torch.Tensor:
    return torch.from_numpy(g.to_scipy().toarray())


def test_spmm_with_bias_equals_dense_product_plus_bias(small_edges):
    g = Graph(small_edges)
    x = torch.randn(5, 3, dtype=torch.float64)
    b = torch.randn(3, dtype=torch.float64)
    torch.testing.assert_close(g.spmm(x, bias=b), dense_adjacency(g) @ x + b)


def test_spmm_bias_gradients_pass_gradcheck_and_gradgradcheck(small_edges):
    g = Graph(small_edges)
    x = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, requires_grad=True)

    def f(x, b):
        return g.spmm(x, bias=b)

    assert torch.autograd.gradcheck(f, (x, b))
    assert torch.autograd.gradgradcheck(f, (x, b))


def test_spmm_bias_gradient_is_column_sum_on_cora(cora):
    x = torch.randn(cora.num_nodes, 7, requires_grad=True)
    b = torch.zeros(7, requires_grad=True)
    w = torch.randn(cora.num_nodes, 7)
    (cora.graph.spmm(x, bias=b) * w).sum().backward()
    torch.testing.assert_close(b.grad, w.sum(0))
    torch.testing.assert_close(
        x.grad, dense_adjacency(cora.graph).float() @ w, rtol=1e-5, atol=1e-5
    )


def test_spmm_rejects_bias_of_wrong_shape_or_type(small_edges):
    g = Graph(small_edges)
    with pytest.raises(ValueError, match=r"bias must have shape \(3,\)"):
        g.spmm(torch.randn(5, 3), bias=torch.randn(4))
    with pytest.raises(TypeError, match="bias must be a torch.Tensor"):
        g.spmm(torch.randn(5, 3), bias=[0.0, 0.0, 0.0])


def test_cpu_tensors_take_the_torch_sparse_path():
    assert not triton_enabled(torch.randn(3, 2))


ACTS = {"identity": lambda t: t, "tanh": torch.tanh, "relu": torch.relu}


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_spmm_activation_equals_dense_formula_and_passes_gradgradcheck(small_edges, activation):
    g = Graph(small_edges)
    x = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, requires_grad=True)
    ref = ACTS[activation](dense_adjacency(g) @ x + b)
    torch.testing.assert_close(g.spmm(x, bias=b, activation=activation), ref)

    def f(x, b):
        return g.spmm(x, bias=b, activation=activation)

    assert torch.autograd.gradcheck(f, (x, b))
    assert torch.autograd.gradgradcheck(f, (x, b))


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_spmm_activation_gradients_equal_separate_ops_on_cora(cora, activation):
    x = torch.randn(cora.num_nodes, 16, requires_grad=True)
    b = torch.randn(16, requires_grad=True)
    w = torch.randn(cora.num_nodes, 16)
    fused = cora.graph.spmm(x, bias=b, activation=activation)
    (fused * w).sum().backward()
    grads = x.grad.clone(), b.grad.clone()
    x.grad = b.grad = None
    plain = ACTS[activation](cora.graph.spmm(x, bias=b))
    (plain * w).sum().backward()
    torch.testing.assert_close(fused, plain, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(grads[0], x.grad, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(grads[1], b.grad, rtol=1e-6, atol=1e-6)


def test_spmm_rejects_activations_it_cannot_fuse(small_edges):
    with pytest.raises(ValueError, match="activation='gelu' is not one of"):
        Graph(small_edges).spmm(torch.randn(5, 3), activation="gelu")


def unfused_logits(model, graph, x):
    """The model's function written with separate ops: graph.spmm, then torch's activation."""
    act = ACTS[model.activation]
    if model.family == "gcn":
        h = x
        for i, conv in enumerate(model.convs):
            h = conv(graph, h)
            h = act(h) if i < model.depth - 1 else h
        return h
    h = model.in_proj(x)
    for conv in model.convs:
        h = h + act(conv(graph, h))
    return model.out_proj(h)


@pytest.mark.parametrize("family", ["gcn", "resgcn"])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("in_dim", [1433, 8])  # 8 < width: the first conv multiplies by W last
def test_fused_model_equals_unfused_ops_on_cora(cora, family, activation, in_dim):
    x = cora.x[:, :in_dim]
    model = build(family, in_dim, cora.num_classes, 4, width=16, activation=activation, seed=0)
    for p in model.parameters():  # non-zero biases, so the bias gradients are exercised
        torch.nn.init.normal_(p, std=0.05) if p.dim() == 1 else None
    y, idx = cora.y, cora.train_mask
    fused = model(cora.graph, x)
    F.cross_entropy(fused[idx], y[idx]).backward()
    grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    plain = unfused_logits(model, cora.graph, x)
    F.cross_entropy(plain[idx], y[idx]).backward()
    torch.testing.assert_close(fused, plain, rtol=1e-6, atol=1e-6)
    for (name, p), g in zip(model.named_parameters(), grads):
        torch.testing.assert_close(g, p.grad, rtol=1e-6, atol=1e-6, msg=name)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_fused_model_double_backward_equals_unfused_ops(cora, activation):
    # The gradient search of SPoGInit differentiates a gradient norm: create_graph=True.
    model = build(
        "gcn", cora.num_features, cora.num_classes, 3, width=8, activation=activation, seed=0
    )
    w = model.convs[1].weight
    out = []
    for forward in (model, lambda g, x: unfused_logits(model, g, x)):
        loss = F.cross_entropy(forward(cora.graph, cora.x), cora.y)
        (gw,) = torch.autograd.grad(loss, w, create_graph=True)
        out.append(torch.autograd.grad(gw.pow(2).sum(), w)[0])
    assert out[0].abs().sum() > 0
    torch.testing.assert_close(out[0], out[1], rtol=1e-5, atol=1e-7)
