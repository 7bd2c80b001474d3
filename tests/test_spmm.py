"""``Graph.spmm`` with a fused bias and activation on the torch.sparse path (CPU)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from deepgnn import Graph, build
from deepgnn._spmm import choose_plan, triton_enabled


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


def test_plan_cuts_only_rows_longer_than_chunk_into_contiguous_segments():
    row_nnz = np.array([1, 0, 100, 5, 40, 32, 33])
    plan = choose_plan(row_nnz, sms=1, chunk=32)
    assert plan.path == "split"
    crow = np.concatenate([[0], np.cumsum(row_nnz)])
    lengths = np.diff(plan.seg_ptr)
    assert plan.seg_ptr[0] == 0 and plan.seg_ptr[-1] == crow[-1]
    assert (lengths <= 32).all() and (lengths >= 0).all()
    np.testing.assert_array_equal(plan.long_rows, [2, 4, 6])  # 100, 40 and 33 > 32
    # whole rows keep their own id; each long row's segments fill its slots in order
    whole = plan.seg_tgt >= 0
    np.testing.assert_array_equal(plan.seg_tgt[whole], [0, 1, 3, 5])
    np.testing.assert_array_equal(plan.seg_ptr[:-1][whole], crow[[0, 1, 3, 5]])
    slots = -1 - plan.seg_tgt[~whole]
    np.testing.assert_array_equal(slots, np.arange(slots.size))
    np.testing.assert_array_equal(plan.long_ptr, [0, 4, 6, 8])  # ceil(100/32), 2, 2
    for h, row in enumerate(plan.long_rows):
        segs = np.flatnonzero(~whole)[plan.long_ptr[h] : plan.long_ptr[h + 1]]
        assert plan.seg_ptr[segs[0]] == crow[row] and plan.seg_ptr[segs[-1] + 1] == crow[row + 1]
    assert plan.info["long_rows"] == 3 and plan.info["max_row_nnz"] == 100


def test_plan_chunk_follows_the_fair_share_rule_and_rows_that_fit_keep_one_program():
    uniform = choose_plan(np.full(169_343, 15), sms=132)
    # 2,540,145 nonzeros / (132 * 32) programs / 4 = 150.3 -> 128
    assert (uniform.path, uniform.chunk) == ("row", 128)
    assert uniform.seg_ptr is None and "one program per row" in uniform.info["reasons"][-1]
    hub = choose_plan(np.r_[np.full(169_342, 15), 44_000], sms=132)
    assert (hub.path, hub.chunk, hub.info["long_rows"]) == ("split", 128, 1)
    assert choose_plan(np.full(10, 2), sms=132).chunk == 32  # the floor
    assert choose_plan(np.full(10**6, 2000), sms=132).chunk == 4096  # the ceiling
    none = choose_plan(np.full(10, 2), sms=132, triton=False)
    assert none.path == "torch_sparse"


def test_kernel_info_reports_the_cpu_path_and_its_reason(small_edges):
    info = Graph(small_edges).kernel_info()
    if triton_enabled(torch.empty(0)):  # TRITON_INTERPRET=1 in this process
        pytest.skip("Triton's interpreter is on: the CPU runs the kernels")
    assert info["path"] == "torch_sparse" and info["reasons"] == ["CPU tensors: torch.sparse.mm"]
    assert info["device"] == "cpu" and info["max_row_nnz"] == int(
        np.diff(Graph(small_edges).to_scipy().indptr).max()
    )


@pytest.mark.parametrize("activation", ["identity", "tanh"])
def test_spmm_of_bfloat16_on_the_cpu_multiplies_in_float32_and_returns_bfloat16(cora, activation):
    # The CPU sparse backend has no bfloat16 kernel; bf16 autocast hands it bfloat16 features.
    x = torch.randn(cora.num_nodes, 8).bfloat16().requires_grad_(True)
    b = torch.randn(8, requires_grad=True)  # float32, as a layer's bias under autocast
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = cora.graph.spmm(x, bias=b, activation=activation)
    ref = ACTS[activation](dense_adjacency(cora.graph) @ x.double() + b.double())
    assert out.dtype == torch.bfloat16
    # one rounding to bfloat16 (8-bit mantissa) of the float32 product
    torch.testing.assert_close(out.double(), ref, rtol=2**-8, atol=1e-6)
    w = torch.randn(cora.num_nodes, 8)
    (out.float() * w).sum().backward()
    assert x.grad.dtype == torch.bfloat16 and b.grad.dtype == torch.float32
    g = (w * (1 - out.float() ** 2)) if activation == "tanh" else w
    torch.testing.assert_close(b.grad, g.sum(0), rtol=2e-2, atol=5e-2)
