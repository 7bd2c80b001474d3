"""The benchmark harness: its synthetic graph, its implementations and its report."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from deepgnn import bench

SMALL = {"num_nodes": 600, "num_edges": 2400, "num_features": 12, "num_classes": 4}


def test_arxiv_sized_graph_has_exact_edge_count_and_is_seeded():
    g = bench.arxiv_sized_graph(num_nodes=500, num_edges=3000, seed=3)
    assert (g.num_nodes, g.num_edges) == (500, 3000)
    a = g.to_scipy()
    np.testing.assert_array_equal(a.diagonal() > 0, True)  # self loops come only from Â's +I
    assert a.nnz == 2 * 3000 + 500
    same = bench.arxiv_sized_graph(num_nodes=500, num_edges=3000, seed=3)
    np.testing.assert_array_equal(same.edge_index.numpy(), g.edge_index.numpy())
    other = bench.arxiv_sized_graph(num_nodes=500, num_edges=3000, seed=4)
    assert not np.array_equal(other.edge_index.numpy(), g.edge_index.numpy())


def test_arxiv_sized_graph_rejects_more_edges_than_pairs():
    with pytest.raises(ValueError, match="num_edges=11 exceeds the 10 node pairs"):
        bench.arxiv_sized_graph(num_nodes=5, num_edges=11)


def test_deepgnn_and_torch_sparse_train_the_same_model_identically():
    # Same model, same init, two SpMM implementations: the losses after the timed steps agree.
    records = bench.run_gpu(
        device="cpu",
        sizes=SMALL,
        families=("gcn", "resgcn"),
        widths=(8,),
        depths=(3,),
        impls=("deepgnn", "torch_sparse"),
        steps=3,
        warmup=1,
    )
    assert len(records) == 4
    by = {(r["model"], r["impl"]): r for r in records}
    for family in ("gcn", "resgcn"):
        a, b = by[family, "deepgnn"]["loss"], by[family, "torch_sparse"]["loss"]
        assert np.isfinite(a) and abs(a - b) < 1e-5 * abs(b)
    assert all(r["step_ms"] > 0 and r["suite"] == "cpu-arxiv" for r in records)


def test_write_results_merges_suites_and_reports_ratios(tmp_path):
    def rec(suite, impl, ms):
        return {
            "suite": suite,
            "model": "gcn",
            "impl": impl,
            "mode": "fp32",
            "width": 64,
            "depth": 64,
            "step_ms": ms,
            "peak_mem_gb": None,
            "device": "cpu",
            "torch": "x",
        }

    bench.write_results(
        [rec("cpu-cora", "deepgnn", 10.0), rec("cpu-cora", "dgl", 25.0)], tmp_path, command="first"
    )
    bench.write_results(
        [rec("gpu-arxiv", "deepgnn", 4.0), rec("gpu-arxiv", "torch_sparse", 12.0)],
        tmp_path,
        command="second",
    )
    merged = json.loads((tmp_path / "benchmarks.json").read_text())
    assert sorted(r["suite"] for r in merged) == ["cpu-cora", "cpu-cora", "gpu-arxiv", "gpu-arxiv"]
    md = (tmp_path / "benchmarks.md").read_text()
    assert "| gcn | 64 | 64 | 10.00 | 25.00 |" in md  # step times: deepgnn, dgl
    assert "| gcn | 64 | 64 | 2.50× |" in md  # dgl / deepgnn
    assert "| gcn | 64 | 64 | 4.00 | 12.00 |" in md
    assert "| gcn | 64 | 64 | 3.00× |" in md
    bench.write_results([rec("cpu-cora", "deepgnn", 5.0)], tmp_path, command="third")
    merged = json.loads((tmp_path / "benchmarks.json").read_text())
    assert [r["step_ms"] for r in merged if r["suite"] == "cpu-cora"] == [5.0]


def test_torch_sparse_baseline_applies_the_activation_as_its_own_op():
    g = bench.arxiv_sized_graph(num_nodes=60, num_edges=240, seed=2)
    baseline = bench._TorchSparseGraph.wrap(g)
    x, b = torch.randn(60, 5), torch.randn(5)
    for activation in ("identity", "tanh", "relu"):
        torch.testing.assert_close(
            baseline.spmm(x, bias=b, activation=activation),
            g.spmm(x, bias=b, activation=activation),
        )
