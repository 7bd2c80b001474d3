"""The Triton SpMM on CUDA against float64 references (skipped without CUDA and Triton)."""

from __future__ import annotations

import pytest
import torch

from deepgnn import Graph, build
from deepgnn._spmm import _triton_column_sum, triton_enabled

CUDA = torch.device("cuda")
pytestmark = pytest.mark.skipif(
    not (torch.cuda.is_available() and triton_enabled(torch.empty(0, device="cuda"))),
    reason="needs a CUDA device and an importable triton",
)


def random_graph(n: int, m: int, seed: int) -> Graph:
    gen = torch.Generator().manual_seed(seed)
    return Graph(torch.randint(0, n, (2, m), generator=gen), num_nodes=n).to(CUDA)


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).norm() / b.double().norm())


@pytest.mark.parametrize("d", [1, 3, 40, 64, 100, 256])
def test_triton_forward_and_backward_match_float64_sparse(d):
    g = random_graph(3000, 20000, seed=d)
    assert triton_enabled(torch.empty(1, device=CUDA))
    adj = g.adjacency(torch.float64)
    x = torch.randn(g.num_nodes, d, device=CUDA, requires_grad=True)
    b = torch.randn(d, device=CUDA, requires_grad=True)
    w = torch.randn(g.num_nodes, d, device=CUDA)
    out = g.spmm(x, bias=b)
    (out * w).sum().backward()
    assert rel_err(out, torch.sparse.mm(adj, x.detach().double()) + b.detach().double()) < 1e-6
    assert rel_err(x.grad, torch.sparse.mm(adj, w.double())) < 1e-6
    assert rel_err(b.grad, w.double().sum(0)) < 1e-6


def test_triton_matches_torch_sparse_float32_on_hub_rows():
    # A star (one row with 5000 nonzeros) and isolated nodes exercise long and one-entry rows.
    n = 6000
    star = torch.stack([torch.zeros(5000, dtype=torch.long), torch.arange(1, 5001)])
    g = Graph(star, num_nodes=n).to(CUDA)
    x = torch.randn(n, 64, device=CUDA)
    ref = torch.sparse.mm(g.adjacency(torch.float32), x)
    torch.testing.assert_close(g.spmm(x), ref, rtol=1e-5, atol=1e-5)


def test_triton_bfloat16_is_close_to_float32():
    g = random_graph(2000, 15000, seed=1)
    x = torch.randn(g.num_nodes, 64, device=CUDA)
    out = g.spmm(x.bfloat16())
    assert out.dtype == torch.bfloat16
    assert rel_err(out, g.spmm(x)) < 1e-2


def test_column_sum_matches_float64_sum():
    for n, d in [(1, 5), (1000, 64), (169_343, 64), (50_000, 256)]:
        x = torch.randn(n, d, device=CUDA)
        assert rel_err(_triton_column_sum(x), x.double().sum(0)) < 1e-6


def test_double_backward_through_triton_matches_dense():
    g = random_graph(500, 3000, seed=2)
    dense = g.adjacency(torch.float64).to_dense().float()
    x = torch.randn(g.num_nodes, 8, device=CUDA, requires_grad=True)
    b = torch.randn(8, device=CUDA, requires_grad=True)
    (gx,) = torch.autograd.grad((g.spmm(x, bias=b) ** 2).sum(), x, create_graph=True)
    (ggx,) = torch.autograd.grad(gx.sum(), x)
    xd = x.detach().requires_grad_()
    (gxd,) = torch.autograd.grad(((dense @ xd + b.detach()) ** 2).sum(), xd, create_graph=True)
    (ggxd,) = torch.autograd.grad(gxd.sum(), xd)
    torch.testing.assert_close(gx, gxd, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(ggx, ggxd, rtol=1e-4, atol=1e-4)


def test_model_step_replays_under_cuda_graph_capture():
    g = random_graph(2000, 10000, seed=3)
    x = torch.randn(g.num_nodes, 16, device=CUDA)
    model = build("gcn", 16, 4, depth=4, width=32, seed=0).to(CUDA)
    eager = model(g, x)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        model(g, x)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        static = model(g, x)
    graph.replay()
    torch.testing.assert_close(static, eager)


ACTS = {"identity": lambda t: t, "tanh": torch.tanh, "relu": torch.relu}


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("d", [1, 40, 64, 256])
@pytest.mark.parametrize("with_bias", [True, False])
def test_fused_activation_forward_and_backward_match_float64(activation, d, with_bias):
    g = random_graph(3000, 20000, seed=d + 7)
    adj = g.adjacency(torch.float64)
    x = torch.randn(g.num_nodes, d, device=CUDA, requires_grad=True)
    b = torch.randn(d, device=CUDA, requires_grad=True) if with_bias else None
    w = torch.randn(g.num_nodes, d, device=CUDA)
    out = g.spmm(x, bias=b, activation=activation)
    (out * w).sum().backward()
    x64 = x.detach().double().requires_grad_()
    b64 = b.detach().double().requires_grad_() if with_bias else None
    ref = ACTS[activation](torch.sparse.mm(adj, x64) + (b64 if with_bias else 0.0))
    (ref * w.double()).sum().backward()
    assert torch.isfinite(out).all()
    assert rel_err(out, ref) < 1e-6
    assert rel_err(x.grad, x64.grad) < 1e-6
    if with_bias:
        assert rel_err(b.grad, b64.grad) < 1e-6


def test_fused_relu_keeps_nan_and_bfloat16_is_close():
    g = random_graph(2000, 15000, seed=5)
    x = torch.randn(g.num_nodes, 64, device=CUDA)
    x[7, 3] = float("nan")
    fused = g.spmm(x, activation="relu")
    torch.testing.assert_close(torch.isnan(fused), torch.isnan(torch.relu(g.spmm(x))))
    x = torch.randn(g.num_nodes, 64, device=CUDA)
    out = g.spmm(x.bfloat16(), activation="tanh")
    assert out.dtype == torch.bfloat16 and rel_err(out, torch.tanh(g.spmm(x))) < 1e-2


@pytest.mark.parametrize("family", ["gcn", "resgcn"])
def test_fused_model_equals_unfused_ops_on_cuda(cora, family):
    from test_spmm import unfused_logits

    graph, x, y = cora.graph.to(CUDA), cora.x.to(CUDA), cora.y.to(CUDA)
    model = build(family, cora.num_features, cora.num_classes, 8, width=64, seed=0).to(CUDA)
    for p in model.parameters():
        if p.dim() == 1:
            torch.nn.init.normal_(p, std=0.05)
    grads = []
    for forward in (model, lambda g, x: unfused_logits(model, g, x)):
        model.zero_grad()
        logits = forward(graph, x)
        torch.nn.functional.cross_entropy(logits, y).backward()
        grads.append((logits.detach(), [p.grad.clone() for p in model.parameters()]))
    (fused, gf), (plain, gp) = grads
    torch.testing.assert_close(fused, plain, rtol=1e-5, atol=1e-6)
    for a, b in zip(gf, gp):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_fused_double_backward_through_triton_matches_dense():
    g = random_graph(500, 3000, seed=4)
    dense = g.adjacency(torch.float64).to_dense().float()
    x = torch.randn(g.num_nodes, 8, device=CUDA, requires_grad=True)
    b = torch.randn(8, device=CUDA, requires_grad=True)
    (gx,) = torch.autograd.grad(
        (g.spmm(x, bias=b, activation="tanh") ** 2).sum(), x, create_graph=True
    )
    (ggx,) = torch.autograd.grad(gx.sum(), x)
    xd = x.detach().requires_grad_()
    (gxd,) = torch.autograd.grad(
        (torch.tanh(dense @ xd + b.detach()) ** 2).sum(), xd, create_graph=True
    )
    (ggxd,) = torch.autograd.grad(gxd.sum(), xd)
    torch.testing.assert_close(gx, gxd, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(ggx, ggxd, rtol=1e-4, atol=1e-5)


def hub_graph(n: int, hub_share: float, seed: int = 0) -> Graph:
    """Node 0 joined to ``hub_share`` of the nodes, a sparse random rest, 500 isolated nodes."""
    gen = torch.Generator().manual_seed(seed)
    hub = torch.randperm(n - 501, generator=gen)[: int(hub_share * n)] + 1
    rest = torch.randint(1, n - 500, (2, n // 4), generator=gen)
    edges = torch.cat([torch.stack([torch.zeros_like(hub), hub]), rest], dim=1)
    return Graph(edges, num_nodes=n).to(CUDA)


@pytest.mark.parametrize("d", [1, 64, 100, 256])
@pytest.mark.parametrize("activation", ["identity", "tanh", "relu"])
def test_split_kernel_matches_float64_with_a_hub_row_and_isolated_nodes(d, activation):
    g = hub_graph(40_000, 0.6, seed=d)
    info = g.kernel_info()
    assert info["path"] == "split" and info["max_row_nnz"] > 20_000, info
    adj = g.adjacency(torch.float64)
    x = torch.randn(g.num_nodes, d, device=CUDA, requires_grad=True)
    b = torch.randn(d, device=CUDA, requires_grad=True)
    w = torch.randn(g.num_nodes, d, device=CUDA)
    out = g.spmm(x, bias=b, activation=activation)
    (out * w).sum().backward()
    x64 = x.detach().double().requires_grad_()
    b64 = b.detach().double().requires_grad_()
    ref = ACTS[activation](torch.sparse.mm(adj, x64) + b64)
    (ref * w.double()).sum().backward()
    assert torch.isfinite(out).all()
    assert rel_err(out, ref) < 1e-6
    assert rel_err(x.grad, x64.grad) < 1e-6
    assert rel_err(b.grad, b64.grad) < 1e-6
    plain = g.spmm(x.detach())
    assert rel_err(plain, torch.sparse.mm(g.adjacency(torch.float32), x.detach())) < 1e-5
    torch.testing.assert_close(plain[-500:], x.detach()[-500:])  # isolated: Â's row is e_i


def test_split_kernel_is_deterministic_and_bfloat16_is_close():
    g = hub_graph(20_000, 0.7, seed=1)
    x = torch.randn(g.num_nodes, 64, device=CUDA)
    a, b = g.spmm(x), g.spmm(x)
    assert torch.equal(a, b)  # partial sums are added in a fixed order, no atomics
    out = g.spmm(x.bfloat16(), activation="tanh")
    assert out.dtype == torch.bfloat16 and rel_err(out, torch.tanh(a)) < 1e-2


def _best_ms(fn, reps: int = 5, calls: int = 10) -> float:
    best = float("inf")
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(calls):
            fn()
        end.record()
        torch.cuda.synchronize()
        best = min(best, start.elapsed_time(end) / calls)
    return best


@pytest.fixture(
    scope="module",
    params=[
        "er-arxiv",
        "powerlaw2.1-arxiv",
        "powerlaw2.5-arxiv",
        "powerlaw2.1-arxiv-degree",
        "powerlaw2.1-arxiv-rcm",
    ],
)
def bench_graph(request):
    from deepgnn.bench import benchmark_graph

    return benchmark_graph(request.param)[0].to(CUDA)


@pytest.mark.parametrize("d", [64, 256])
def test_spmm_is_no_slower_than_torch_sparse_on_the_benchmark_graphs(bench_graph, d):
    g = bench_graph
    x = torch.randn(g.num_nodes, d, device=CUDA)
    adj = g.adjacency(torch.float32)
    for _ in range(3):  # compile and warm up both
        g.spmm(x), torch.sparse.mm(adj, x)
    ours = _best_ms(lambda: g.spmm(x))
    theirs = _best_ms(lambda: torch.sparse.mm(adj, x))
    assert ours <= 1.15 * theirs, (g.kernel_info(), ours, theirs)
