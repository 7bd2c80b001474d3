"""deepgnn.distributed: partitions, the halo-exchanging SpMM and a training step over gloo ranks,
each against the same computation on the whole graph in one process (float64, 1e-6)."""

from __future__ import annotations

import copy
import functools
import importlib.util
import os
import sys
import tempfile

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

import deepgnn
from deepgnn import distributed as dgd

HAVE_METIS = importlib.util.find_spec("pymetis") is not None
METHODS = ["contiguous", "rcm"] + (["metis"] if HAVE_METIS else [])
TOL = 1e-6


@functools.cache
def _datasets() -> dict[str, deepgnn.data.Dataset]:
    # csbm smaller than its default (10,000 nodes) keeps 4 ranks on 2 cores quick; the same
    # generator, a graph with no locality in its ids.
    return {
        "cora": deepgnn.data.load("cora"),
        "csbm": deepgnn.data.csbm(num_nodes=3000, avg_degree=8, seed=0),
    }


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).detach().abs().max()) if a.numel() else 0.0


def _step(model, graph, x, y, mask):  # noqa: ANN001, ANN202
    """One loss and its gradients, on the whole graph (a Graph) or a rank's rows."""
    model.zero_grad()
    out = model(graph, x)
    if isinstance(graph, dgd.DistributedGraph):
        share = dgd.cross_entropy(out, y, mask, graph)
        share.backward()
        dgd.all_reduce_gradients_(model, graph)
        loss = graph.sum(share)
    else:
        loss = F.cross_entropy(out[mask], y[mask])
        loss.backward()
    return out.detach(), loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}


def _compare_step(name: str, model, g, dg, ds, res: dict) -> None:  # noqa: ANN001
    x, y, mask = ds.x.double(), ds.y, ds.train_mask
    ref_model = copy.deepcopy(model)
    out_ref, loss_ref, grads_ref = _step(ref_model, g, x, y, mask)
    out, loss, grads = _step(model, dg, dg.local(x), dg.local(y), dg.local(mask))
    res[f"{name}/forward"] = _max_diff(out, out_ref[dg.nodes])
    res[f"{name}/loss"] = abs(float(loss - loss_ref))
    res[f"{name}/grads"] = max(_max_diff(grads[k], grads_ref[k]) for k in grads_ref)
    res[f"{name}/grad_norm"] = float(sum(v.norm() ** 2 for v in grads_ref.values()) ** 0.5)


def _worker(rank: int, world_size: int, store: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world_size)
    res: dict[str, float] = {}
    errors: dict[str, str] = {}
    try:
        for ds_name, ds in _datasets().items():
            g = ds.graph
            for method in METHODS:
                part = dgd.partition(g, world_size, method=method)
                dg = dgd.DistributedGraph(g, part)
                key = f"{ds_name}/{method}"
                res[f"{key}/halo_rows"] = float(sum(dg.recv_counts))
                # Â·X with bias and tanh, and its gradient in x and the bias.
                gen = torch.Generator().manual_seed(1)
                xw = torch.randn(g.num_nodes, 5, generator=gen, dtype=torch.float64)
                b = torch.randn(5, generator=gen, dtype=torch.float64)
                r = torch.randn(g.num_nodes, 5, generator=gen, dtype=torch.float64)
                plain = g.spmm(xw)
                res[f"{key}/spmm"] = _max_diff(dg.spmm(dg.local(xw)), plain[dg.nodes])
                full_x, full_b = xw.clone().requires_grad_(), b.clone().requires_grad_()
                ref = g.spmm(full_x, bias=full_b, activation="tanh")
                (ref * r).sum().backward()
                loc_x, loc_b = dg.local(xw).requires_grad_(), b.clone().requires_grad_()
                dg.reset_traffic()
                out = dg.spmm(loc_x, bias=loc_b, activation="tanh")
                (out * dg.local(r)).sum().backward()
                res[f"{key}/spmm_tanh"] = _max_diff(out, ref[dg.nodes])
                res[f"{key}/spmm_grad_x"] = _max_diff(loc_x.grad, full_x.grad[dg.nodes])
                res[f"{key}/spmm_grad_b"] = _max_diff(dg.sum(loc_b.grad), full_b.grad)
                t = dg.traffic()
                res[f"{key}/fwd_bytes"] = float(t["forward_bytes_sent"])
                res[f"{key}/bwd_bytes"] = float(t["backward_bytes_sent"])
                res[f"{key}/send_rows"] = float(sum(dg.send_counts))
                res[f"{key}/gather"] = _max_diff(dg.gather(dg.local(xw)), xw)
                # gcn on every partition, resgcn on the first and the last (a different
                # layer pattern: projections and residual sums around each product).
                families = ("gcn", "resgcn") if method in (METHODS[0], METHODS[-1]) else ("gcn",)
                for family in families:
                    torch.manual_seed(rank)  # different on every rank: the broadcast aligns them
                    model = deepgnn.build(
                        family, ds.num_features, ds.num_classes, depth=4, width=8
                    ).double()
                    dgd.broadcast_parameters_(model, dg)
                    _compare_step(f"{key}/{family}", model, g, dg, ds, res)
        # Bad input that needs a live group of world_size ranks.
        g = _datasets()["cora"].graph
        try:
            dgd.DistributedGraph(g, dgd.partition(g, world_size + 1))
        except ValueError as err:
            errors["world_size"] = str(err)
        mine = dgd.partition(g, world_size, method="contiguous" if rank else "rcm")
        try:
            dgd.DistributedGraph(g, mine)
        except ValueError as err:
            errors["different"] = str(err)
        # Graphs of the same size whose contiguous partitions agree: rings numbered two ways.
        n = 40
        order = np.arange(n) if rank == 0 else np.random.default_rng(1).permutation(n)
        ring = deepgnn.Graph(torch.from_numpy(np.stack([order, np.roll(order, 1)])))
        try:
            dgd.DistributedGraph(ring, dgd.partition(ring, world_size, method="contiguous"))
        except ValueError as err:
            errors["different_graphs"] = str(err)
        break_x = torch.zeros(g.num_nodes, 3, dtype=torch.float64)
        try:
            dgd.DistributedGraph(g, dgd.partition(g, world_size)).spmm(break_x)
        except ValueError as err:
            errors["whole_x"] = str(err)
        # Two Adam steps on csbm: the ranks' parameters stay equal to the single-device ones.
        ds = _datasets()["csbm"]
        g = ds.graph
        dg = dgd.DistributedGraph(g, dgd.partition(g, world_size, method="rcm"))
        torch.manual_seed(0)
        model = deepgnn.build("resgcn", ds.num_features, ds.num_classes, depth=3, width=8).double()
        ref_model = copy.deepcopy(model)
        opt = torch.optim.Adam(model.parameters(), lr=0.05)
        ref_opt = torch.optim.Adam(ref_model.parameters(), lr=0.05)
        x, y, mask = ds.x.double(), ds.y, ds.train_mask
        for _ in range(2):
            _step(model, dg, dg.local(x), dg.local(y), dg.local(mask))
            opt.step()
            _step(ref_model, g, x, y, mask)
            ref_opt.step()
        _, loss, _ = _step(model, dg, dg.local(x), dg.local(y), dg.local(mask))
        _, ref_loss, _ = _step(ref_model, g, x, y, mask)
        res["csbm/adam/loss_after_2_steps"] = abs(float(loss - ref_loss))
        res["csbm/adam/params"] = max(
            _max_diff(p, q) for p, q in zip(model.parameters(), ref_model.parameters())
        )
    finally:
        torch.save({"res": res, "errors": errors}, os.path.join(out_dir, f"rank{rank}.pt"))
        dist.destroy_process_group()


def _spawn(world_size: int) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        # A file store: no port to race other processes for.
        store = os.path.join(tmp, "store")
        mp.spawn(_worker, args=(world_size, store, tmp), nprocs=world_size)
        return [torch.load(os.path.join(tmp, f"rank{r}.pt")) for r in range(world_size)]


@pytest.fixture(scope="module", params=[2, 4], ids=["2_ranks", "4_ranks"])
def ranks(request: pytest.FixtureRequest) -> tuple[int, list[dict]]:
    return request.param, _spawn(request.param)


def _results(ranks: tuple[int, list[dict]], suffix: str) -> dict[str, float]:
    _, per_rank = ranks
    found = {
        f"rank{r}:{k}": v
        for r, d in enumerate(per_rank)
        for k, v in d["res"].items()
        if k.endswith(suffix)
    }
    assert found, f"no result ends with {suffix!r}"
    return found


@pytest.mark.parametrize("check", ["spmm", "spmm_tanh", "spmm_grad_x", "spmm_grad_b", "gather"])
def test_distributed_spmm_and_gradient_match_the_whole_graph(ranks, check: str) -> None:
    worst = _results(ranks, f"/{check}")
    assert max(worst.values()) < TOL, worst
    assert len(worst) == ranks[0] * 2 * len(METHODS)


@pytest.mark.parametrize("family", ["gcn", "resgcn"])
@pytest.mark.parametrize("check", ["forward", "loss", "grads"])
def test_distributed_training_step_matches_one_device(ranks, family: str, check: str) -> None:
    worst = _results(ranks, f"/{family}/{check}")
    assert max(worst.values()) < TOL, worst
    # The gradients compared are not all zero: a step that moved nothing would agree trivially.
    norms = _results(ranks, f"/{family}/grad_norm")
    assert min(norms.values()) > 1e-3


def test_distributed_adam_steps_keep_parameters_equal_to_one_device(ranks) -> None:
    assert max(_results(ranks, "adam/params").values()) < TOL
    assert max(_results(ranks, "adam/loss_after_2_steps").values()) < TOL


def test_halo_traffic_is_the_partitions_halo(ranks) -> None:
    world_size, per_rank = ranks
    for d in per_rank:
        r = d["res"]
        for ds_name in ("cora", "csbm"):
            for method in METHODS:
                key = f"{ds_name}/{method}"
                # Width 5, float64: forward sends the rows others need, backward the halo's
                # gradient back to its owners.
                assert r[f"{key}/fwd_bytes"] == r[f"{key}/send_rows"] * 5 * 8
                assert r[f"{key}/bwd_bytes"] == r[f"{key}/halo_rows"] * 5 * 8
    total_send = sum(d["res"]["cora/contiguous/send_rows"] for d in per_rank)
    total_halo = sum(d["res"]["cora/contiguous/halo_rows"] for d in per_rank)
    assert total_send == total_halo > 0


def test_distributed_graph_refuses_a_partition_for_another_world_size(ranks) -> None:
    world_size, per_rank = ranks
    for d in per_rank:
        msg = d["errors"]["world_size"]
        assert f"partition has world_size={world_size + 1}" in msg
        assert f"partition(graph, {world_size}" in msg


def test_distributed_graph_refuses_ranks_with_different_partitions(ranks) -> None:
    for d in ranks[1]:
        assert "different partitions" in d["errors"]["different"]


def test_distributed_graph_refuses_ranks_with_different_graphs_of_one_size(ranks) -> None:
    for d in ranks[1]:
        assert "the ranks hold different graphs of 40 nodes" in d["errors"]["different_graphs"]


def test_distributed_spmm_refuses_a_whole_graph_tensor(ranks) -> None:
    for d in ranks[1]:
        assert "graph.local(x)" in d["errors"]["whole_x"]


# ------------------------------------------------------------------ in one process, no spawn
@pytest.fixture
def one_rank():  # noqa: ANN201
    """A gloo group of one process (this one), torn down after the test."""
    with tempfile.TemporaryDirectory() as tmp:
        dist.init_process_group(
            "gloo", init_method=f"file://{os.path.join(tmp, 'store')}", rank=0, world_size=1
        )
        try:
            yield
        finally:
            dist.destroy_process_group()


def test_partition_contiguous_ranges_balance_nonzeros(cora) -> None:
    part = dgd.partition(cora.graph, 4)
    a = part.assignment
    assert (np.diff(a) >= 0).all()  # contiguous ranges, in rank order
    nnz = part.table()["nnz"].to_numpy()
    row_nnz = np.diff(cora.graph.to_scipy().indptr)
    assert nnz.sum() == row_nnz.sum()
    assert nnz.max() - nnz.min() <= 2 * row_nnz.max()


@pytest.mark.parametrize("method", METHODS)
def test_partition_table_counts_the_halo_from_the_adjacency(cora, method: str) -> None:
    part = dgd.partition(cora.graph, 3, method=method)
    adj = cora.graph.to_scipy().tocoo()
    a = part.assignment
    for r, row in part.table().iterrows():
        mine = a[adj.row] == r
        halo = set(adj.col[mine & (a[adj.col] != r)].tolist())
        sent = {(int(a[i]), int(j)) for i, j in zip(adj.row, adj.col) if a[j] == r and a[i] != r}
        assert row["halo_rows"] == len(halo)
        assert row["send_rows"] == len(sent)
        assert row["rows"] == (a == r).sum()
    cross = a[adj.row] != a[adj.col]
    assert part.cut_edges == cross.sum() // 2


def test_locality_partitions_cut_fewer_edges_than_contiguous_on_cora(cora) -> None:
    cut = {m: dgd.partition(cora.graph, 4, method=m).cut_edges for m in METHODS}
    assert cut["rcm"] < cut["contiguous"]
    if HAVE_METIS:
        assert cut["metis"] < cut["rcm"]


def test_partition_gives_every_rank_a_row_even_with_a_hub() -> None:
    star = deepgnn.Graph(torch.stack([torch.zeros(9, dtype=torch.long), torch.arange(1, 10)]))
    for method in ("contiguous", "rcm"):
        owned = np.bincount(dgd.partition(star, 5, method=method).assignment, minlength=5)
        assert (owned > 0).all(), (method, owned)


def test_partition_is_deterministic(cora) -> None:
    for method in METHODS:
        a = dgd.partition(cora.graph, 4, method=method, seed=3)
        b = dgd.partition(cora.graph, 4, method=method, seed=3)
        assert a.checksum() == b.checksum()
        assert np.array_equal(a.assignment, b.assignment)


def test_partition_bad_input_names_the_argument_and_fix(cora) -> None:
    g = cora.graph
    with pytest.raises(ValueError, match="world_size=0 is too small"):
        dgd.partition(g, 0)
    with pytest.raises(ValueError, match="world_size=3000 is more than the graph's 2708 nodes"):
        dgd.partition(g, 3000)
    with pytest.raises(ValueError, match="did you mean 'metis'"):
        dgd.partition(g, 2, method="metis_")
    with pytest.raises(TypeError, match="deepgnn.Graph"):
        dgd.partition(g.to_scipy(), 2)
    with pytest.raises(ValueError, match=r"no node to rank\(s\) \[1\]"):
        dgd.Partition.from_assignment(g, np.zeros(g.num_nodes, dtype=int), world_size=2)
    with pytest.raises(ValueError, match="shape \\(num_nodes=2708,\\)"):
        dgd.Partition.from_assignment(g, np.zeros(5, dtype=int))
    with pytest.raises(ValueError, match="outside \\[0, world_size=2\\)"):
        dgd.Partition.from_assignment(g, np.full(g.num_nodes, 2), world_size=2)
    with pytest.raises(ValueError, match="rank=4, but this partition has world_size=2"):
        dgd.partition(g, 2).nodes(4)


def test_partition_metis_without_pymetis_says_how_to_install(cora, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pymetis", None)  # import pymetis now raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'deepgnn\[metis\]'.*method='rcm'"):
        dgd.partition(cora.graph, 2, method="metis")


def test_distributed_graph_without_a_process_group_says_to_init_one(cora) -> None:
    assert not dist.is_initialized()
    with pytest.raises(RuntimeError, match="init_process_group"):
        dgd.DistributedGraph(cora.graph, dgd.partition(cora.graph, 1))


def test_one_rank_is_the_whole_graph_and_models_run_unchanged(cora, one_rank) -> None:
    g = cora.graph
    dg = dgd.DistributedGraph(g, dgd.partition(g, 1))
    assert dg.num_nodes == g.num_nodes and dg.halo_nodes.numel() == 0
    torch.manual_seed(0)
    model = deepgnn.build("gcn", cora.num_features, cora.num_classes, depth=2, width=8).double()
    x = cora.x.double()
    torch.testing.assert_close(model(dg, dg.local(x)), model(g, x)[dg.nodes], rtol=0, atol=TOL)


def test_distributed_graph_bad_input_names_the_argument_and_fix(cora, one_rank) -> None:
    g = cora.graph
    with pytest.raises(ValueError, match="partition has world_size=2, but the process group has 1"):
        dgd.DistributedGraph(g, dgd.partition(g, 2))
    other = deepgnn.data.csbm(num_nodes=100, avg_degree=4).graph
    with pytest.raises(ValueError, match="partition was made for a graph with 100 nodes"):
        dgd.DistributedGraph(g, dgd.partition(other, 1))
    with pytest.raises(TypeError, match="make one with deepgnn.distributed.partition"):
        dgd.DistributedGraph(g, np.zeros(g.num_nodes))
    dg = dgd.DistributedGraph(g, dgd.partition(g, 1))
    with pytest.raises(TypeError, match="whole deepgnn.Graph"):
        dgd.DistributedGraph(dg, dgd.partition(g, 1))
    with pytest.raises(ValueError, match="bias must have shape \\(3,\\)"):
        dg.spmm(torch.zeros(g.num_nodes, 3), bias=torch.zeros(4))
    with pytest.raises(ValueError, match="activation='gelu' is not one of"):
        dg.spmm(torch.zeros(g.num_nodes, 3), activation="gelu")
    with pytest.raises(ValueError, match="global_num_nodes=2708"):
        dg.local(torch.zeros(5))
    with pytest.raises(TypeError, match="coo\\(\\).*gat"):
        dg.coo()
    y, logits = dg.local(cora.y), torch.zeros(g.num_nodes, cora.num_classes)
    with pytest.raises(ValueError, match="mask selects no node on any rank"):
        dgd.cross_entropy(logits, y, torch.zeros(g.num_nodes, dtype=torch.bool), dg)
    with pytest.raises(ValueError, match="pass a bool mask"):
        dgd.cross_entropy(logits, y, torch.ones(g.num_nodes), dg)
    with pytest.raises(ValueError, match="y must hold rank 0's rows"):
        dgd.cross_entropy(logits, y[:10], dg.local(cora.train_mask), dg)


def test_check_model_refuses_models_that_need_all_nodes(cora) -> None:
    build = deepgnn.build
    for norm in ("batch", "pair"):
        with pytest.raises(ValueError, match=f"norm='{norm}'.*norm=None, 'layer' or 'node'"):
            dgd.check_model(build("gcn", 4, 2, depth=2, norm=norm))
    with pytest.raises(ValueError, match="family 'gat' reads graph.coo"):
        dgd.check_model(build("gat", 4, 2, depth=2))
    for norm in (None, "layer", "node"):
        dgd.check_model(build("resgcn", 4, 2, depth=2, norm=norm))


def test_what_a_ranks_rows_cannot_compute_is_refused_naming_the_fix(cora, one_rank) -> None:
    # before: drop_edges raised AttributeError '_drop_cache', analyze gave each rank its own
    # FSP, train_node ended in NaN or a gloo error, and a norm='pair' model ran, off by 0.42
    import dataclasses

    g = cora.graph
    dg = dgd.DistributedGraph(g, dgd.partition(g, 1))
    with pytest.raises(TypeError, match="DropEdge on them would drop an edge on one rank"):
        dg.drop_edges(0.5)
    model = deepgnn.build("gcn", cora.num_features, cora.num_classes, depth=2, width=8)
    local = dataclasses.replace(cora, graph=dg)
    for kw in ({}, {"drop_edge": 0.3}):
        with pytest.raises(TypeError, match="DistributedGraph, but train_node trains on one"):
            deepgnn.train.train_node(model, local, epochs=1, **kw)
    with pytest.raises(TypeError, match="DistributedGraph .*run them on the whole Graph"):
        deepgnn.analyze(model, dg, dg.local(cora.x))
    for norm in ("pair", "batch"):
        paired = deepgnn.build("gcn", cora.num_features, cora.num_classes, depth=2, norm=norm)
        with pytest.raises(ValueError, match=f"norm='{norm}', whose statistics run over all"):
            paired(dg, dg.local(cora.x))
        assert paired(g, cora.x).shape == (g.num_nodes, cora.num_classes)  # the whole graph


def test_distributed_graph_has_no_double_backward(cora, one_rank) -> None:
    dg = dgd.DistributedGraph(cora.graph, dgd.partition(cora.graph, 1))
    x = torch.randn(cora.graph.num_nodes, 2, dtype=torch.float64, requires_grad=True)
    (gx,) = torch.autograd.grad(dg.spmm(x, activation="tanh").sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="once_differentiable|does not require grad"):
        gx.sum().backward()
