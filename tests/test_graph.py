from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
import torch

from deepgnn import Graph


def dense_gcn_adjacency(edges: list[tuple[int, int]], n: int) -> torch.Tensor:
    """Â = D^-1/2 (A + I) D^-1/2 built densely, independent of Graph."""
    a = torch.zeros(n, n, dtype=torch.float64)
    for i, j in edges:
        if i != j:
            a[i, j] = a[j, i] = 1.0
    a += torch.eye(n, dtype=torch.float64)
    d = a.sum(1).rsqrt()
    return d[:, None] * a * d[None, :]


def test_spmm_equals_dense_adjacency_built_independently(small_edges):
    g = Graph(small_edges)
    dense = dense_gcn_adjacency(small_edges.t().tolist(), 5)
    x = torch.randn(5, 3, dtype=torch.float64)
    torch.testing.assert_close(g.spmm(x), dense @ x)
    torch.testing.assert_close(torch.from_numpy(g.to_scipy().toarray()), dense)
    assert g.num_edges == 4  # duplicate (1,4) and reversed (2,1) kept once


def test_spmm_on_cora_equals_dense_adjacency(cora):
    rows, cols = cora.graph.edge_index
    dense = dense_gcn_adjacency(list(zip(rows.tolist(), cols.tolist())), cora.num_nodes)
    x = torch.randn(cora.num_nodes, 4, dtype=torch.float64)
    torch.testing.assert_close(cora.graph.spmm(x), dense @ x)
    torch.testing.assert_close(
        cora.graph.spmm(x.float()), (dense @ x).float(), rtol=1e-5, atol=1e-6
    )


def test_spmm_backward_passes_gradcheck_and_gradgradcheck(small_edges):
    g = Graph(small_edges)
    x = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(g.spmm, (x,))
    assert torch.autograd.gradgradcheck(g.spmm, (x,))


def test_spmm_backward_matches_dense_adjacency_on_cora(cora):
    x = torch.randn(cora.num_nodes, 3, requires_grad=True)
    w = torch.randn(cora.num_nodes, 3)
    (cora.graph.spmm(x) * w).sum().backward()
    dense = torch.from_numpy(cora.graph.to_scipy().toarray()).float()
    torch.testing.assert_close(x.grad, dense.t() @ w, rtol=1e-5, atol=1e-5)


def test_spmm_accepts_vectors(small_edges):
    g = Graph(small_edges)
    v = torch.randn(5)
    torch.testing.assert_close(g.spmm(v), g.spmm(v[:, None])[:, 0])


def test_directed_input_is_symmetrized_and_self_loops_replaced():
    directed = Graph(torch.tensor([[0, 1, 2, 2], [1, 2, 2, 0]]))
    undirected = Graph(torch.tensor([[1, 0, 2, 1, 0, 2], [0, 1, 1, 2, 2, 0]]))
    np.testing.assert_allclose(directed.to_scipy().toarray(), undirected.to_scipy().toarray())
    assert directed.num_edges == 3
    assert directed.degree.tolist() == [3.0, 3.0, 3.0]


def test_constructors_agree_scipy_networkx_edge_index(small_edges):
    ref = Graph(small_edges).to_scipy().toarray()
    n = 5
    mat = sp.coo_array((np.ones(small_edges.shape[1]), small_edges.numpy()), shape=(n, n))
    np.testing.assert_allclose(Graph.from_scipy(mat).to_scipy().toarray(), ref)
    nxg = nx.Graph()
    nxg.add_nodes_from(range(n))
    nxg.add_edges_from(small_edges.t().tolist())
    np.testing.assert_allclose(Graph.from_networkx(nxg).to_scipy().toarray(), ref)


def test_dgl_roundtrip_gives_same_adjacency(small_edges):
    dgl = pytest.importorskip("dgl", reason="the dgl extra is not installed")
    ref = Graph(small_edges)
    g = Graph.from_dgl(dgl.graph((small_edges[0], small_edges[1]), num_nodes=5))
    np.testing.assert_allclose(g.to_scipy().toarray(), ref.to_scipy().toarray())
    back = Graph.from_dgl(ref.to_dgl())  # self loops dropped and re-added
    np.testing.assert_allclose(back.to_scipy().toarray(), ref.to_scipy().toarray())


def test_weighted_graph_normalizes_by_weighted_degree():
    g = Graph(torch.tensor([[0], [1]]), edge_weight=torch.tensor([3.0]))
    # A + I = [[1, 3], [3, 1]], degrees 4 -> Â = (A + I) / 4
    np.testing.assert_allclose(g.to_scipy().toarray(), [[0.25, 0.75], [0.75, 0.25]])


def test_isolated_nodes_keep_their_own_features():
    g = Graph(torch.tensor([[0], [1]]), num_nodes=3)
    x = torch.arange(3.0)[:, None]
    assert g.spmm(x)[2, 0].item() == 2.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"edge_index": torch.tensor([[0, 5], [1, 2]]), "num_nodes": 3},
            r"node 5, but num_nodes=3; pass num_nodes=6",
        ),
        ({"edge_index": torch.tensor([[0, -1], [1, 2]])}, "negative node id -1"),
        ({"edge_index": torch.tensor([[0.0, 1.0], [1.0, 2.0]])}, "edge_index has dtype float32"),
        (
            {"edge_index": torch.tensor([[0, 1], [1, 2], [2, 0]])},
            r"edge_index must have shape \(2, num_edges\)",
        ),
        ({"edge_index": torch.tensor([[0, 1, 2], [1, 2, 0]]).t()}, r"transpose an \(E, 2\) array"),
        ({"edge_index": torch.zeros(2, 0, dtype=torch.long)}, "num_nodes cannot be inferred"),
        ({"edge_index": torch.zeros(2, 0, dtype=torch.long), "num_nodes": 0}, "at least one node"),
        (
            {"edge_index": torch.tensor([[0], [1]]), "edge_weight": torch.tensor([float("nan")])},
            "edge_weight contains NaN or inf",
        ),
        (
            {"edge_index": torch.tensor([[0], [1]]), "edge_weight": torch.tensor([float("inf")])},
            "edge_weight contains NaN or inf",
        ),
        (
            {"edge_index": torch.tensor([[0], [1]]), "edge_weight": torch.tensor([-1.0])},
            "edge_weight must be positive",
        ),
        (
            {"edge_index": torch.tensor([[0], [1]]), "edge_weight": torch.ones(2)},
            r"edge_weight must have shape \(1,\)",
        ),
    ],
)
def test_bad_input_raises_value_error_naming_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Graph(**kwargs)


_E = torch.tensor([[0, 0], [1, 2]])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        # before: numpy's "inhomogeneous shape after 1 dimensions"
        ({"edge_index": [[0, 1], [1]]}, ValueError, r"edge_index is a ragged nested list"),
        ({"edge_index": _E, "edge_weight": [1.0, [2.0]]}, ValueError, r"edge_weight is a ragged"),
        # before: the imaginary part was dropped
        (
            {"edge_index": _E, "edge_weight": torch.tensor([1 + 2j, 1 + 0j])},
            TypeError,
            r"edge_weight has dtype complex64.*\.abs\(\) or \.real",
        ),
        ({"edge_index": _E, "edge_weight": torch.tensor([True, True])}, TypeError, r"dtype bool"),
        ({"edge_index": _E, "edge_weight": np.array(["1", "2"])}, TypeError, r"dtype <U1"),
        # before: deg = inf zeroed node 0's row of Â
        (
            {"edge_index": _E, "edge_weight": torch.tensor([1e308, 1e308], dtype=torch.float64)},
            ValueError,
            r"edge_weight sums past the float64 range at node 0.*edge_weight / edge_weight.max",
        ),
        # before: numpy's "Unable to allocate 7.28 TiB"
        (
            {"edge_index": torch.tensor([[0], [10**12]])},
            ValueError,
            r"node 1000000000000 with only 1 edges.*pass num_nodes=1000000000001 if",
        ),
        (
            {"edge_index": torch.tensor([[0], [10**12]]), "num_nodes": 10**12 + 1},
            ValueError,
            r"num_nodes=1000000000001 is more than the 2147483647 \(2\*\*31 - 1\) nodes",
        ),
        ({"edge_index": _E, "num_nodes": 2**31}, ValueError, r"int32 node ids"),
        ({"edge_index": _E, "num_nodes": 3.0}, TypeError, r"num_nodes must be an int, got float"),
    ],
)
def test_malformed_input_is_refused_naming_the_argument(kwargs, error, match):
    with pytest.raises(error, match=match):
        Graph(**kwargs)


def test_ids_above_the_inference_limit_need_num_nodes_only_for_sparse_edge_lists(monkeypatch):
    import deepgnn.graph

    with pytest.raises(ValueError, match="relabel the ids"):
        Graph(torch.tensor([[0], [deepgnn.graph.INFER_LIMIT]]))
    monkeypatch.setattr(deepgnn.graph, "INFER_LIMIT", 1000)  # the same rule at a size to build
    with pytest.raises(ValueError, match="relabel the ids"):
        Graph(torch.tensor([[0], [1000]]))
    assert Graph(torch.tensor([[0], [1000]]), num_nodes=1001).num_nodes == 1001
    assert Graph(torch.tensor([[0], [999]])).num_nodes == 1000  # below the limit: inferred
    assert Graph(torch.tensor([[0] * 10, list(range(1000, 1010))])).num_nodes == 1010  # 100 x 11
    g = Graph(_E, edge_weight=torch.tensor([1e300, 1e300], dtype=torch.float64))
    assert np.isfinite(g.to_scipy().data).all()  # large weights whose sum fits are fine


def test_graph_to_a_device_torch_cannot_use_names_the_device(small_edges, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match=r"device='cuda', but this torch sees no CUDA device"):
        Graph(small_edges).to("cuda")
    with pytest.raises(ValueError, match=r"device='tpu' is not a device torch knows"):
        Graph(small_edges).to("tpu")


def test_non_tensor_edge_index_raises_type_error():
    with pytest.raises(TypeError, match="edge_index must be a torch.Tensor or numpy array"):
        Graph("0-1")


def test_spmm_rejects_wrong_shape_and_integer_input(small_edges):
    g = Graph(small_edges)
    with pytest.raises(ValueError, match=r"x must have shape \(num_nodes=5, d\)"):
        g.spmm(torch.ones(4, 2))
    with pytest.raises(ValueError, match="pass a floating tensor"):
        g.spmm(torch.ones(5, 2, dtype=torch.long))


def test_scipy_matrix_must_be_square():
    with pytest.raises(ValueError, match="matrix must be square"):
        Graph.from_scipy(sp.random(3, 4, density=0.5, format="csr"))


# ---------------------------------------------------------------------------- DropEdge
def test_drop_edges_equals_the_graph_of_the_kept_edges():
    ei = torch.tensor([[0, 1, 2, 3, 0, 4, 5], [1, 2, 3, 4, 2, 5, 0]])
    w = torch.tensor([1.0, 2.0, 0.5, 3.0, 1.5, 1.0, 4.0], dtype=torch.float64)
    g = Graph(ei, edge_weight=w, num_nodes=7)  # node 6 is isolated
    assert g.drop_edges(0.0) is g
    x = torch.randn(7, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    seen = set()
    for seed in range(12):
        h = g.drop_edges(0.5, generator=torch.Generator().manual_seed(seed))
        kept = h.edge_index
        # both directions of an edge are kept or dropped together, with their weights
        pairs = set(map(tuple, kept.t().tolist()))
        assert all((j, i) in pairs for i, j in pairs)
        ref = Graph(kept, edge_weight=h.edge_weight, num_nodes=7)
        torch.testing.assert_close(h.spmm(x), ref.spmm(x), rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(h.degree, ref.degree)
        assert abs(h.to_scipy() - ref.to_scipy()).max() < 1e-15
        assert h.num_edges == ref.num_edges and h.num_nodes == 7
        seen.add(h.num_edges)
        twice = h.drop_edges(0.5, generator=torch.Generator().manual_seed(seed))
        assert twice.num_edges <= h.num_edges
    assert len(seen) > 2  # the samples differ
    with pytest.raises(ValueError, match=r"p=1.0; pass a drop probability in \[0, 1\)"):
        g.drop_edges(1.0)
    with pytest.raises(ValueError, match="p=-0.1"):
        g.drop_edges(-0.1)


def test_drop_edges_takes_numpy_numbers_and_a_graph_without_edges_and_checks_the_generator():
    # before: IndexError on a graph with no edges, AttributeError for generator=5, and
    # np.float32(0.5) refused while np.float64(0.5) was accepted
    import numpy as np

    ring = Graph(torch.tensor([[0, 1, 2], [1, 2, 0]]))
    gen = torch.Generator().manual_seed(0)
    ref = ring.drop_edges(0.5, generator=torch.Generator().manual_seed(0))
    for p in (np.float32(0.5), np.float64(0.5), 0.5):
        h = ring.drop_edges(p, generator=torch.Generator().manual_seed(0))
        assert torch.equal(h.edge_index, ref.edge_index)
    assert ring.drop_edges(np.int64(0)) is ring
    lonely = Graph(torch.zeros(2, 0, dtype=torch.long), num_nodes=3)
    alone = lonely.drop_edges(0.5, generator=gen)
    assert alone.num_edges == 0 and torch.equal(alone.spmm(torch.eye(3)), torch.eye(3))
    with pytest.raises(TypeError, match=r"generator must be a torch.Generator, got int; pass "):
        ring.drop_edges(0.5, generator=5)
    for bad in ("0.5", True, np.bool_(True), None):
        with pytest.raises(TypeError, match=r"p must be a number, got"):
            ring.drop_edges(bad)
    with pytest.raises(ValueError, match=r"p=1.5; pass a drop probability"):
        lonely.drop_edges(1.5)


def test_drop_edges_keeps_each_edge_of_cora_with_probability_one_minus_p(cora):
    g = cora.graph
    counts = [
        g.drop_edges(0.3, generator=torch.Generator().manual_seed(s)).num_edges for s in range(5)
    ]
    mean, sd = 0.7 * g.num_edges, (0.3 * 0.7 * g.num_edges) ** 0.5  # binomial
    assert all(abs(c - mean) < 5 * sd for c in counts)
    assert len(set(counts)) > 1
