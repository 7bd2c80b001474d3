"""``train_node(..., cuda_graph=True)`` against the eager loop (skipped without CUDA)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import deepgnn
from deepgnn.train import train_node
from deepgnn.train._node import _EagerSteps, _GraphedSteps

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.parametrize(
    ("family", "depth", "build", "train", "rtol"),
    [
        ("gcn", 2, {"activation": "relu"}, {}, 2e-4),
        ("gcn", 8, {"activation": "tanh"}, {"schedule": "cosine"}, 2e-4),
        ("resgcn", 4, {"activation": "tanh", "norm": "batch"}, {"schedule": "plateau"}, 2e-4),
        # GAT's scatter sums use atomics, so even two eager runs differ in the last bits.
        ("gat", 2, {"activation": "relu"}, {}, 1e-2),
    ],
)
def test_cuda_graph_losses_equal_eager_on_cora(cora, family, depth, build, train, rtol):
    runs = []
    for cuda_graph in (False, True):
        model = deepgnn.build(
            family, cora.num_features, cora.num_classes, depth, width=32, seed=0, **build
        )
        runs.append(
            train_node(
                model,
                cora,
                epochs=50,
                patience=None,
                seed=0,
                device="cuda",
                cuda_graph=cuda_graph,
                **train,
            )
        )
    eager, graphed = (r.log for r in runs)
    assert len(eager) == len(graphed) == 50
    torch.testing.assert_close(
        torch.tensor(graphed["loss"].values),
        torch.tensor(eager["loss"].values),
        rtol=rtol,
        atol=1e-5,
    )
    torch.testing.assert_close(
        torch.tensor(graphed["lr"].values), torch.tensor(eager["lr"].values), rtol=1e-5, atol=0
    )
    assert (graphed["val"] - eager["val"]).abs().max() <= 0.01
    assert abs(runs[0].test - runs[1].test) <= 0.01


def test_cuda_graph_draws_new_dropout_masks_every_replay(cora):
    ds = cora.to("cuda")
    model = deepgnn.build("gcn", ds.num_features, ds.num_classes, 2, dropout=0.5, seed=0).cuda()
    # lr 0: the parameters stay put, so different losses can only come from the masks.
    opt = torch.optim.Adam(model.parameters(), lr=torch.tensor(0.0, device="cuda"), capturable=True)
    steps = _GraphedSteps(_EagerSteps(model, ds, F.cross_entropy, opt))
    losses = [steps.train() for _ in range(4)]
    assert len(set(losses)) == 4
    first = steps.logits().clone()
    torch.testing.assert_close(steps.logits(), first)  # eval mode: no dropout


def test_cuda_graph_training_with_dropout_reaches_published_accuracy(cora):
    ds = cora.normalize_features()
    accs = []
    for seed in range(3):
        model = deepgnn.build(
            "gcn", ds.num_features, ds.num_classes, 2, dropout=0.5, activation="relu", seed=seed
        )
        result = train_node(model, ds, epochs=200, patience=None, seed=seed, cuda_graph=True)
        accs.append(result.test)
    assert sum(accs) / len(accs) >= 0.79, accs


def test_cuda_graph_divergence_is_recorded(cora):
    def poison(model):
        with torch.no_grad():
            model.layer_weights()[0].weight.fill_(float("inf"))

    model = deepgnn.build("gcn", cora.num_features, cora.num_classes, 2, seed=0)
    result = train_node(model, cora, init=poison, epochs=10, seed=0, cuda_graph=True)
    assert result.diverged and result.epochs == 0 and math.isnan(result.test)


@pytest.mark.parametrize("family", ["gcn", "resgcn", "gcnii"])
@pytest.mark.parametrize("cuda_graph", [False, True], ids=["eager", "graphed"])
@pytest.mark.parametrize("own_rates", [False, True], ids=["shared", "per_member"])
def test_batched_members_equal_their_runs_alone_on_cuda(cora, family, cuda_graph, own_rates):
    # No dropout: nothing random in a step, so batched (eager or replayed) and alone differ
    # only by float rounding, with a cosine schedule shared by the members; with own_rates
    # each member its own lr and weight decay (MemberAdam, the schedule's factor a device
    # tensor the captured step reads). Eager in float64
    # (torch.sparse), to 1e-9; replayed in float32 (deepgnn's Triton SpMM, which the graphs
    # capture), to the tolerance of train_node's own graphed-against-eager test.
    import dataclasses

    from deepgnn.train import train_node_batched

    dtype = torch.float32 if cuda_graph else torch.float64
    ds = dataclasses.replace(cora, x=cora.x.to(dtype))
    seeds, inits = (0, 1, 2), ("xavier", "kaiming", "conventional")
    settings = {"epochs": 30, "patience": None, "schedule": "cosine", "device": "cuda"}
    rtol, atol = (2e-4, 1e-5) if cuda_graph else (1e-9, 1e-9)

    def model(seed):
        return deepgnn.build(family, ds.num_features, 7, 4, width=16, seed=seed).to(dtype)

    own = {"lr": [0.02, 0.005, 0.01], "weight_decay": [5e-4, 0.0, 1e-3]} if own_rates else {}
    alone = []
    for n, (s, i) in enumerate(zip(seeds, inits)):
        m = model(s)
        mine = {k: v[n] for k, v in own.items()}
        alone.append((m, train_node(m, ds, init=i, seed=s, **settings, **mine)))
    models = [model(s) for s in seeds]
    results = train_node_batched(
        models, ds, seeds=seeds, inits=inits, cuda_graph=cuda_graph, **settings, **own
    )
    for (solo, solo_result), member, result in zip(alone, models, results):
        torch.testing.assert_close(
            torch.tensor(result.log["loss"].values),
            torch.tensor(solo_result.log["loss"].values),
            rtol=rtol,
            atol=atol,
        )
        if not cuda_graph:
            for p, q in zip(solo.parameters(), member.parameters()):
                torch.testing.assert_close(q, p, rtol=rtol, atol=atol)
            assert result.best_epoch == solo_result.best_epoch


def test_batched_dropout_on_cuda_is_reproducible_and_independent_of_the_group(cora):
    from deepgnn.train import train_node_batched

    def run(seeds, cuda_graph):
        models = [
            deepgnn.build("resgcn", cora.num_features, 7, 4, width=16, seed=s, activation="relu")
            for s in seeds
        ]
        results = train_node_batched(
            models,
            cora,
            seeds=seeds,
            epochs=20,
            patience=None,
            dropout=0.5,
            device="cuda",
            cuda_graph=cuda_graph,
        )
        return [r.log["loss"].values for r in results]

    for cuda_graph in (False, True):
        pair = run((0, 1), cuda_graph)
        assert abs(pair[0] - run((0, 1), cuda_graph)[0]).max() < 1e-6  # same seed, same run
        alone = run((1,), cuda_graph)[0]
        # member 1's masks come from its own seed: the same run in a group of two or alone,
        # up to the float rounding of the wider products
        assert abs(pair[1] - alone).max() < 1e-4
