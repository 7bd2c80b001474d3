"""The benchmark harness: its synthetic graph, its implementations and its report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from deepgnn import Graph, bench

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
    assert all(r["step_ms"] > 0 and r["suite"] == "cpu-graphs" for r in records)
    assert all(r["graph"] == "er-arxiv" and r["generator"] == "erdos_renyi" for r in records)


def test_every_record_names_its_graph_and_the_report_has_a_table_per_graph(tmp_path):
    records = bench.run_gpu(
        device="cpu",
        sizes=SMALL,
        cases=[("er-arxiv", "gcn", 8, 2), ("powerlaw2.1-arxiv-rcm", "gcn", 8, 2)],
        impls=("deepgnn", "torch_sparse"),
        steps=2,
        warmup=1,
    )
    assert [r["graph"] for r in records] == ["er-arxiv"] * 2 + ["powerlaw2.1-arxiv-rcm"] * 2
    pl = records[-1]
    assert (pl["generator"], pl["exponent"], pl["order"]) == ("chung_lu", 2.1, "rcm")
    assert (pl["num_nodes"], pl["num_edges"]) == (SMALL["num_nodes"], SMALL["num_edges"])
    assert pl["max_degree"] > 3 * records[0]["max_degree"]
    assert pl["kernel_path"] == "torch_sparse"  # CPU tensors
    bench.write_results(records, tmp_path, command="test")
    md = (tmp_path / "benchmarks.md").read_text()
    assert md.count("### er-arxiv: Erdős–Rényi") == 1
    assert md.count("### powerlaw2.1-arxiv-rcm: Chung–Lu, exponent 2.1") == 1
    assert f"largest degree {pl['max_degree']:,}" in md
    assert md.count("Median step time (ms):") == 2


def test_powerlaw_graph_has_exact_size_a_heavy_tail_and_is_seeded():
    g = bench.powerlaw_graph(num_nodes=5000, num_edges=20000, exponent=2.1, seed=3)
    assert (g.num_nodes, g.num_edges) == (5000, 20000)
    deg = np.diff(g.to_scipy().indptr) - 1
    assert deg.max() > 30 * deg.mean()  # Erdős–Rényi at this size: largest ~ 2.5x the mean
    assert (deg == 0).any()  # isolated nodes, as in real graphs
    hubs = np.argsort(-deg)[:20]
    assert hubs.max() > 1000  # ids shuffled: the hubs are not the first ids
    thin = bench.powerlaw_graph(num_nodes=5000, num_edges=20000, exponent=2.5, seed=3)
    assert (np.diff(thin.to_scipy().indptr) - 1).max() < deg.max()
    same = bench.powerlaw_graph(num_nodes=5000, num_edges=20000, exponent=2.1, seed=3)
    np.testing.assert_array_equal(same.edge_index.numpy(), g.edge_index.numpy())
    other = bench.powerlaw_graph(num_nodes=5000, num_edges=20000, exponent=2.1, seed=4)
    assert not np.array_equal(other.edge_index.numpy(), g.edge_index.numpy())


def test_powerlaw_graph_drawn_in_small_chunks_keeps_its_size_and_tail():
    g = bench.powerlaw_graph(num_nodes=4000, num_edges=12000, exponent=2.1, chunk_edges=700)
    assert g.num_edges == 12000
    deg = np.diff(g.to_scipy().indptr) - 1
    assert deg.max() > 30 * deg.mean()


def test_powerlaw_graph_rejects_a_flat_exponent_and_too_many_edges():
    with pytest.raises(ValueError, match="exponent=1.0 must be a number above 1"):
        bench.powerlaw_graph(num_nodes=100, num_edges=100, exponent=1.0)
    with pytest.raises(ValueError, match="num_edges=2000 is more than a quarter"):
        bench.powerlaw_graph(num_nodes=50, num_edges=2000)


def shuffled_grid(side: int, seed: int = 0) -> Graph:
    ids = np.random.default_rng(seed).permutation(side * side).reshape(side, side)
    right = np.stack([ids[:, :-1].ravel(), ids[:, 1:].ravel()])
    down = np.stack([ids[:-1].ravel(), ids[1:].ravel()])
    return Graph(np.concatenate([right, down], axis=1), num_nodes=side * side)


@pytest.mark.parametrize("order", ["degree", "rcm"])
def test_reorder_is_a_relabelling(order):
    g = bench.powerlaw_graph(num_nodes=800, num_edges=3000, seed=1)
    if order == "rcm":
        g = shuffled_grid(25)
    r = bench.reorder(g, order)
    a, b = g.to_scipy().toarray(), r.to_scipy().toarray()
    # the same matrix up to a permutation: the same row sums and spectrum
    assert r.num_edges == g.num_edges
    np.testing.assert_allclose(np.sort(a.sum(1)), np.sort(b.sum(1)))
    np.testing.assert_allclose(
        np.sort(np.linalg.eigvalsh(a)), np.sort(np.linalg.eigvalsh(b)), atol=1e-10
    )
    if order == "degree":
        deg = np.diff(r.to_scipy().indptr)
        assert (np.diff(deg) <= 0).all()
    else:  # a 25 x 25 grid in random order has bandwidth ~ 600; in RCM order ~ 25
        bandwidth = lambda m: np.abs(m.tocoo().row - m.tocoo().col).max()  # noqa: E731
        assert bandwidth(r.to_scipy()) <= 50 < bandwidth(g.to_scipy())
    assert bench.reorder(g, "shuffled") is g
    with pytest.raises(ValueError, match="order='random' is not one of"):
        bench.reorder(g, "random")


def test_benchmark_graph_rejects_unknown_names():
    with pytest.raises(ValueError, match="graph='powerlaw-arxiv' is not one of"):
        bench.benchmark_graph("powerlaw-arxiv")


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


def _script(name: str):
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("study", ["depth", "products"])
def test_train_scale_writes_verdicts_and_resumes(tmp_path, study):
    pytest.importorskip("torch_geometric")
    scale = _script("train_scale")
    argv = ["--study", study, "--quick", "--device", "cpu", "--out", str(tmp_path)]
    scale.main(argv)
    df = pd.read_csv(tmp_path / f"train_scale_{study}.csv")
    assert len(df) == 4 and set(df["depth"]) == {2, 4} and (df["status"] == "ok").all()
    assert set(df["variant"]) == {v[0] for v in scale.STUDIES[study][1]}
    assert df["best_train"].between(0, 1).all() and df["fitted"].dtype == bool
    assert df["budget_limited"].all()  # 3 epochs: the best is always in the last tenth
    md = (tmp_path / f"train_scale_{study}.md").read_text()
    assert "| fit | budget |" in md and "--quick" in md
    if study == "products":  # the same model's step beside PyG's rebuild
        assert (df["deepgnn_step_s"] > 0).all() and (df["pyg_step_s"] > 0).all()
    scale.main(argv)  # every run is in the CSV already: nothing reruns
    assert len(pd.read_csv(tmp_path / f"train_scale_{study}.csv")) == 4


def test_bench_precision_quick_writes_ratios_against_fp32(tmp_path):
    module = _script("bench_precision")
    assert module.main(["--quick", "--out", str(tmp_path / "precision")]) == 0
    report = json.loads((tmp_path / "precision.json").read_text())
    rows = {(r["family"], r["precision"]): r for r in report["rows"]}
    assert set(rows) == {(f, p) for f in ("gcn", "resgcn") for p in ("fp32", "bf16")}
    for (family, _), r in rows.items():
        base = rows[family, "fp32"]
        assert r["step_ratio"] == pytest.approx(r["step_ms"] / base["step_ms"])
        assert r["peak_gib"] is None and r["peak_ratio"] is None  # no device memory on the CPU
        assert 0 <= r["test"] <= 1 and r["test_minus_fp32"] == pytest.approx(
            r["test"] - base["test"]
        )
    assert "| gcn | 4 | 16 | bf16 |" in (tmp_path / "precision.md").read_text()
