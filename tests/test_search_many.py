"""Stacked models (deepgnn.models.stacked), their signal terms and batched SPoGInit searches
(deepgnn.search.search_many), each against its model alone."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

import deepgnn
from deepgnn.models.stacked import STACKED_FAMILIES, Stack, forward
from deepgnn.objective import signal_terms, stacked_signal_terms
from deepgnn.search import search, search_many

OPTIONS = {"gat": {"heads": 2}, "resgcn": {"activation": "relu"}, "jknet": {"mode": "cat"}}


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_thread):
    """Every test of this module on one torch thread (conftest's ``one_thread``)."""


@pytest.fixture(scope="module")
def cora64(cora):
    """Cora with its first 64 features, in float64: exact comparisons within seconds."""
    return dataclasses.replace(cora, x=cora.x[:, :64].double().contiguous())


def _models(ds, family, seeds=(0, 1, 2), depth=4, width=8):
    return [
        deepgnn.build(
            family,
            ds.num_features,
            ds.num_classes,
            depth,
            width=width,
            seed=s,
            **OPTIONS.get(family, {}),
        ).double()
        for s in seeds
    ]


def _masks(ds, k):
    """A different set of loss nodes per member: its own random half of the training nodes."""
    gen = torch.Generator().manual_seed(5)
    return [ds.train_mask & (torch.rand(ds.num_nodes, generator=gen) < 0.5) for _ in range(k)]


@pytest.mark.parametrize("family", STACKED_FAMILIES)
def test_stacked_states_are_each_members_hidden_states(cora64, family):
    models = _models(cora64, family)
    states: list[torch.Tensor] = []
    logits = forward(Stack(models), cora64.graph, cora64.x, states=states)
    for m, model in enumerate(models):
        model.eval()
        alone = model.hidden_states(cora64.graph, cora64.x)
        assert len(states) == len(alone)
        assert torch.equal(states[0], alone[0])  # the shared input
        for mine, theirs in zip(states[1:], alone[1:]):
            assert mine[:, m].shape == theirs.shape
            assert torch.allclose(mine[:, m], theirs, rtol=1e-12, atol=1e-12)
        assert torch.allclose(logits[:, m], alone[-1], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("family", STACKED_FAMILIES)
@pytest.mark.parametrize("create_graph", [False, True])
def test_stacked_signal_terms_are_each_members_terms(cora64, family, create_graph):
    models = _models(cora64, family)
    masks = _masks(cora64, len(models))
    stack = Stack(models)
    both = stacked_signal_terms(
        stack, cora64.graph, cora64.x, cora64.y, torch.stack(masks), create_graph=create_graph
    )
    for m, model in enumerate(models):
        model.eval()
        alone = signal_terms(model, cora64.graph, cora64.x, cora64.y, masks[m], all_gev=False)
        assert set(both[m]) == set(alone)
        for key, value in alone.items():
            if key == "widths":
                assert both[m][key] == value
                continue
            mine = both[m][key]
            assert mine.shape == value.shape, key
            assert torch.allclose(mine, value, rtol=1e-10, atol=1e-12, equal_nan=True), key
    if create_graph:  # differentiable in the stack: member 1's BSP term reaches only its slice
        w = (
            stack.p["convs.1.weight"]
            if "convs.1.weight" in stack.p
            else next(iter(stack.p.values()))
        )
        (g,) = torch.autograd.grad(both[1]["loss"], [w], allow_unused=True)
        if g is not None:
            assert float(g[0].abs().max()) == 0.0 and float(g[2].abs().max()) == 0.0


#: (family, search options): every method, and the gated family's gates.
CASES = [
    ("gcn", {"method": "gauss_newton", "n_trials": 12}),
    ("gcn", {"method": "zeroth_order", "n_trials": 16, "patience": None}),
    ("resgcn", {"method": "gradient", "n_trials": 8}),
    ("gated_resgcn", {"method": "gradient", "n_trials": 6, "search_gates": True}),
    (
        "gated_resgcn",
        {
            "method": "zeroth_order_single",
            "n_trials": 9,
            "layers": "none",
            "search_gates": ["alpha"],
        },
    ),
    ("gcnii", {"method": "gradient", "n_trials": 5}),
    ("jknet", {"method": "gauss_newton", "n_trials": 6}),
    ("appnp", {"method": "gauss_newton", "n_trials": 6}),
    ("gcn", {"method": "tpe", "n_trials": 6}),
]


@pytest.mark.parametrize(("family", "options"), CASES, ids=[f"{f}-{o['method']}" for f, o in CASES])
def test_search_many_finds_what_each_search_finds_alone(cora64, family, options):
    if options["method"] == "tpe":
        pytest.importorskip("optuna")
    models = _models(cora64, family)
    masks = _masks(cora64, len(models))
    # each member its own seed; the last one a different method: the methods mix
    opts = [{**options, "seed": s} for s in range(len(models))]
    opts[-1] = {"method": "gradient", "n_trials": 7, "seed": 9}
    before = [{n: q.detach().clone() for n, q in m.named_parameters()} for m in models]
    many = search_many(models, cora64.graph, cora64.x, cora64.y, masks=masks, options=opts)
    for model, saved in zip(models, before):  # the models keep their weights
        assert all(torch.equal(q, saved[n]) for n, q in model.named_parameters())
    for model, mask, o, got in zip(models, masks, opts, many):
        assert not isinstance(got, Exception), got
        alone = search(model, cora64.graph, cora64.x, cora64.y, mask=mask, progress=False, **o)
        assert got.method == alone.method and got.evaluations == alone.evaluations
        assert got.log_scales == pytest.approx(alone.log_scales, rel=1e-9, abs=1e-9)
        assert got.scales == pytest.approx(alone.scales, rel=1e-9)
        assert got.gates.keys() == alone.gates.keys()
        for name, values in alone.gates.items():
            assert got.gates[name] == pytest.approx(values, rel=1e-9)
        assert math.isfinite(got.objective)
        assert got.objective == pytest.approx(alone.objective, rel=1e-9, nan_ok=True)
        assert list(got.trace["candidate"]) == list(alone.trace["candidate"])
        assert got.trace["objective"].to_numpy() == pytest.approx(
            alone.trace["objective"].to_numpy(), rel=1e-9, nan_ok=True
        )


def test_search_many_isolates_a_failing_search_and_falls_back_one_by_one(cora64):
    models = _models(cora64, "gcn")
    opts = [{"n_trials": 4}, {"method": "nope"}, {"n_trials": 3, "method": "gradient"}]
    got = search_many(models, cora64.graph, cora64.x, cora64.y, options=opts)
    assert isinstance(got[1], ValueError) and "nope" in str(got[1])
    assert [r.evaluations for r in (got[0], got[2])] == [4, 3]
    # different architectures cannot stack: searched one by one, the same results
    mixed = [*_models(cora64, "gcn", seeds=(0,)), *_models(cora64, "gcn", seeds=(1,), depth=5)]
    got = search_many(mixed, cora64.graph, cora64.x, cora64.y, options=[{"n_trials": 3}] * 2)
    alone = search(mixed[1], cora64.graph, cora64.x, cora64.y, n_trials=3, progress=False)
    assert got[1].log_scales == alone.log_scales
    with pytest.raises(ValueError, match="options has 1 entries for 2 models"):
        search_many(mixed, cora64.graph, cora64.x, cora64.y, options=[{}])


def test_search_many_raises_when_the_stacked_evaluation_fails(cora64, monkeypatch):
    # Out of memory for the stack is not one member's failure: the caller searches alone.
    from deepgnn.search import _many

    def out_of_memory(*args, **kw):
        raise RuntimeError("CUDA out of memory (simulated)")

    monkeypatch.setattr(_many, "stacked_signal_terms", out_of_memory)
    models = _models(cora64, "gcn", seeds=(0, 1))
    with pytest.raises(RuntimeError, match="out of memory"):
        search_many(models, cora64.graph, cora64.x, cora64.y, options=[{"n_trials": 3}] * 2)
