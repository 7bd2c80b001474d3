"""``Graph.spmm`` with a fused bias on the torch.sparse path (CPU)."""

from __future__ import annotations

import pytest
import torch

from deepgnn import Graph
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
