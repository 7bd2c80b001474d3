"""Batched training (deepgnn.train.train_node_batched) against the same runs alone."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

import deepgnn
from deepgnn.train import BATCHED_FAMILIES, batch_obstacle, train_node, train_node_batched

pytestmark = pytest.mark.filterwarnings("ignore:.*ended untrained:RuntimeWarning")

#: Per-family options of the exactness runs (GAT's width 8 needs heads dividing it).
OPTIONS = {"gat": {"heads": 2}, "resgcn": {"activation": "relu"}, "jknet": {"mode": "cat"}}
SEEDS = (0, 1, 2)
INITS = ("xavier", "kaiming", "conventional")


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_thread):
    """Every test of this module on one torch thread (conftest's ``one_thread``)."""


@pytest.fixture(scope="module")
def cora64(cora):
    """Cora's graph, labels and split with its first 64 features, in float64: the runs below
    stay within seconds while every layer and mask of a run is still Cora's."""
    return dataclasses.replace(cora, x=cora.x[:, :64].double().contiguous())


def _model(ds, family, seed, depth=3, **extra):
    options = {**OPTIONS.get(family, {}), **extra}
    model = deepgnn.build(
        family, ds.num_features, ds.num_classes, depth, width=8, seed=seed, **options
    )
    return model.double()


def _alone(ds, family, settings, depth=3, seeds=SEEDS, inits=INITS, **extra):
    runs = []
    for seed, init in zip(seeds, inits):
        model = _model(ds, family, seed, depth, **extra)
        result = train_node(model, ds, init=init, seed=seed, device="cpu", **settings)
        runs.append((model, result))
    return runs


def _gap(alone, models, results):
    """Largest difference of per-epoch losses and of final parameters, over the members."""
    loss = weights = 0.0
    for (solo, solo_result), model, result in zip(alone, models, results):
        assert len(result.log) == len(solo_result.log)
        loss = max(loss, float((result.log["loss"] - solo_result.log["loss"]).abs().max()))
        for (name, p), (other, q) in zip(solo.named_parameters(), model.named_parameters()):
            assert name == other
            weights = max(weights, float((p - q).detach().abs().max()))
    return loss, weights


@pytest.mark.parametrize("family", BATCHED_FAMILIES)
def test_batched_family_matches_its_runs_alone_in_float64(cora64, family):
    # Three seeds and three inits, dropout 0.5 (GCNII and APPNP also drop the features): the
    # losses match only if each member draws its runs-alone masks, in its order.
    settings = {"epochs": 50, "lr": 0.01, "dropout": 0.5, "patience": None}
    alone = _alone(cora64, family, settings)
    models = [_model(cora64, family, s) for s in SEEDS]
    results = train_node_batched(models, cora64, seeds=SEEDS, inits=INITS, device="cpu", **settings)
    loss, weights = _gap(alone, models, results)
    assert loss < 1e-9 and weights < 1e-9, (loss, weights)
    for (_, solo), result in zip(alone, results):
        assert (result.best_epoch, result.epochs) == (solo.best_epoch, solo.epochs)
        assert result.val == pytest.approx(solo.val, abs=1e-12)
        assert result.test == pytest.approx(solo.test, abs=1e-12)
        assert (result.untrained, result.fitted, result.budget_limited) == (
            solo.untrained,
            solo.fitted,
            solo.budget_limited,
        )
        assert list(result.log.columns) == list(solo.log.columns)
        assert (
            result.log[["train", "val", "test"]] - solo.log[["train", "val", "test"]]
        ).abs().max().max() < 1e-12


def test_a_member_trains_the_same_whatever_its_group(cora64):
    # The member of seed 1 alone in a group, first of two, last of three: the same run.
    settings = {"epochs": 30, "lr": 0.01, "dropout": 0.5, "patience": None}
    logs, weights = [], []
    for seeds in ((1,), (1, 0), (2, 0, 1)):
        models = [_model(cora64, "resgcn", s) for s in seeds]
        results = train_node_batched(models, cora64, seeds=seeds, device="cpu", **settings)
        at = seeds.index(1)
        logs.append(results[at].log["loss"])
        weights.append(torch.cat([p.detach().flatten() for p in models[at].parameters()]))
    for log, w in zip(logs[1:], weights[1:]):
        assert float((log - logs[0]).abs().max()) < 1e-12
        assert float((w - weights[0]).abs().max()) < 1e-12


def test_a_diverging_member_stops_alone_and_the_others_train_on(cora64):
    # Member 1's parameters are inf: 0 * inf in its first product, NaN loss at epoch 1.
    def blow_up(model):
        with torch.no_grad():
            for p in model.parameters():
                p.fill_(math.inf)

    inits = ("xavier", blow_up, "kaiming")
    settings = {"epochs": 20, "lr": 0.01, "patience": None}
    alone = _alone(cora64, "gcn", settings, inits=inits)
    assert [r.diverged for _, r in alone] == [False, True, False]
    models = [_model(cora64, "gcn", s) for s in SEEDS]
    results = train_node_batched(models, cora64, seeds=SEEDS, inits=inits, device="cpu", **settings)
    assert [r.diverged for r in results] == [False, True, False]
    assert [r.epochs for r in results] == [20, 0, 20]
    assert math.isnan(results[1].test) and results[1].best_epoch == 0
    loss, weights = _gap([alone[0], alone[2]], [models[0], models[2]], [results[0], results[2]])
    assert loss < 1e-9 and weights < 1e-9
    # the diverged member keeps its parameters from before the step that gave NaN, as alone
    for p, q in zip(alone[1][0].parameters(), models[1].parameters()):
        assert torch.equal(p, q) and bool(torch.isinf(q).all())


def test_members_stop_early_on_their_own_patience_with_shared_schedule_and_weight_decay(cora64):
    settings = {
        "epochs": 60,
        "lr": 0.05,
        "patience": 5,
        "schedule": "cosine",
        "weight_decay": {"conv": 1e-3, "linear": 5e-4},
        "dropout": 0.3,
    }
    alone = _alone(cora64, "gcnii", settings, depth=2, alpha=0.2)
    models = [_model(cora64, "gcnii", s, depth=2, alpha=0.2) for s in SEEDS]
    results = train_node_batched(models, cora64, seeds=SEEDS, inits=INITS, device="cpu", **settings)
    stops = [r.epochs for r in results]
    assert stops == [r.epochs for _, r in alone] and len(set(stops)) > 1 and max(stops) < 60
    loss, weights = _gap(alone, models, results)
    assert loss < 1e-9 and weights < 1e-9
    for (_, solo), result in zip(alone, results):
        assert list(result.log["lr"]) == pytest.approx(list(solo.log["lr"]), rel=1e-12)


def test_members_on_their_own_splits_match_their_runs_alone():
    from deepgnn.data import csbm

    ds = csbm(num_nodes=300, avg_degree=6, num_classes=3, num_features=8, num_splits=3, seed=0)
    ds = dataclasses.replace(ds, x=ds.x.double())
    settings = {"epochs": 25, "lr": 0.02, "dropout": 0.5, "patience": None}
    splits = (0, 2, 1)
    alone = []
    for seed, split in zip(SEEDS, splits):
        model = _model(ds, "jknet", seed, mode="max")
        alone.append(
            (model, train_node(model, ds, split=split, seed=seed, device="cpu", **settings))
        )
    models = [_model(ds, "jknet", s, mode="max") for s in SEEDS]
    results = train_node_batched(models, ds, seeds=SEEDS, splits=splits, device="cpu", **settings)
    loss, weights = _gap(alone, models, results)
    assert loss < 1e-9 and weights < 1e-9
    assert [r.test for r in results] == pytest.approx([r.test for _, r in alone], abs=1e-12)
    assert len({r.test for r in results}) > 1  # three splits, three test sets


def test_evaluate_stacked_equals_evaluate_for_accuracy_and_rocauc(cora):
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(cora.num_nodes, 3, cora.num_classes, generator=g)
    scores[:, 2] = 0.0  # every class tied: the first wins, as in evaluate
    masks = torch.stack([cora.train_mask, cora.val_mask, cora.test_mask])
    masks = masks.unsqueeze(1).expand(3, 3, -1).clone()
    masks[1, 1] = cora.test_mask  # a run scored on another node set
    got = cora.evaluate_stacked(scores, masks)
    for i in range(3):
        for m in range(3):
            assert float(got[i, m]) == cora.evaluate(scores[:, m], masks[i, m])
    binary = dataclasses.replace(cora, y=(cora.y == 3).long(), num_classes=2, metric="rocauc")
    scores = torch.randn(cora.num_nodes, 3, 2, generator=g).round(decimals=1)  # with ties
    scores[:, 2] = 1.0  # constant scores: ROC-AUC 0.5
    got = binary.evaluate_stacked(scores, masks)
    for i in range(3):
        for m in range(3):
            assert float(got[i, m]) == pytest.approx(binary.evaluate(scores[:, m], masks[i, m]))
    assert got[:, 2].tolist() == [0.5, 0.5, 0.5]


def test_batched_settings_that_cannot_batch_name_the_reason(cora64):
    assert batch_obstacle("revgcn").startswith("family 'revgcn' has no batched form")
    assert "norm" in batch_obstacle("gcn", norm="pair")
    assert "plateau" in batch_obstacle("gcn", schedule="plateau")
    models = [_model(cora64, "gcn", s) for s in (0, 1)]
    with pytest.raises(ValueError, match="schedule='plateau'"):
        train_node_batched(models, cora64, seeds=[0, 1], schedule="plateau", device="cpu")
    normed = [_model(cora64, "gcn", s, norm="layer") for s in (0, 1)]
    with pytest.raises(ValueError, match="norm='layer': batched models have no norms"):
        train_node_batched(normed, cora64, seeds=[0, 1], device="cpu")
    wide = _model(cora64, "gcn", 1, depth=2)
    with pytest.raises(ValueError, match=r"models\[1\] .* differs from models\[0\]"):
        train_node_batched([models[0], wide], cora64, seeds=[0, 1], device="cpu")
    with pytest.raises(ValueError, match="seeds has 1 entries for 2 models"):
        train_node_batched(models, cora64, seeds=[0], device="cpu")
    with pytest.raises(ValueError, match="cuda_graph=True needs a CUDA device"):
        train_node_batched(models, cora64, seeds=[0, 1], cuda_graph=True, device="cpu")


@pytest.mark.parametrize("family", BATCHED_FAMILIES)
def test_masks_of_a_captured_step_are_drawn_into_buffers_the_forward_consumes(cora64, family):
    # What train_node_batched(cuda_graph=True) replays, minus the capture (CUDA only): one
    # eager step records the mask shapes, fill() draws them, the forward reads each in turn.
    from deepgnn.models.stacked import Stack
    from deepgnn.train._batched import _Steps

    def buffered(seeds):
        models = [_model(cora64, family, s) for s in seeds]
        stack = Stack(models)
        generators = [torch.Generator().manual_seed(s) for s in seeds]
        masks = cora64.train_mask.expand(len(seeds), -1)
        optimizer = torch.optim.Adam(list(stack.p.values()))
        steps = _Steps(stack, cora64, masks, optimizer, [0.5] * len(seeds), generators)
        steps.drop.training = steps.drop.recording = True
        expected = steps.step()  # eager masks; records their shapes
        steps.drop.recording = False
        for g, s in zip(generators, seeds):
            g.manual_seed(s)
        steps.drop.fill(cora64.x)
        assert len(steps.drop.buffers) == len(steps.drop.shapes) > 0
        losses = steps.step()
        assert steps.drop.position == len(steps.drop.shapes)  # every buffer read, in order
        assert bool(torch.isfinite(losses).all()) and losses.shape == expected.shape
        return [b.clone() for b in steps.drop.buffers]

    pair, alone = buffered((0, 1)), buffered((1,))
    for both, one in zip(pair, alone):  # member 1's masks do not depend on its group
        assert torch.equal(both[:, 1], one[:, 0]) and not torch.equal(both[:, 0], both[:, 1])
        assert set(both.unique().tolist()) == {0.0, 2.0}  # kept / (1 - p), or dropped


@pytest.mark.parametrize("restore_best", [True, False])
def test_each_member_ends_with_the_weights_of_its_run_alone(cora64, restore_best):
    # lr 0.05 overfits within 40 epochs: each member's best validation epoch is its own and
    # comes before the last, so its best and last weights differ.
    settings = {"epochs": 40, "lr": 0.05, "dropout": 0.5, "patience": None}
    settings["restore_best"] = restore_best
    alone = _alone(cora64, "resgcn", settings)
    models = [_model(cora64, "resgcn", s) for s in SEEDS]
    results = train_node_batched(models, cora64, seeds=SEEDS, inits=INITS, device="cpu", **settings)
    loss, weights = _gap(alone, models, results)
    assert loss < 1e-9 and weights < 1e-9, (loss, weights)
    assert [r.best_epoch for r in results] == [r.best_epoch for _, r in alone]
    assert all(r.best_epoch < r.epochs for r in results)
    assert all(r.restore_best is restore_best for r in results)
    for model, result in zip(models, results):
        model.eval()
        with torch.no_grad():
            logits = model(cora64.graph, cora64.x)
        row = result.log.iloc[result.best_epoch - 1] if restore_best else result.log.iloc[-1]
        assert cora64.evaluate(logits, cora64.val_mask) == pytest.approx(row["val"], abs=1e-12)
        assert cora64.evaluate(logits, cora64.test_mask) == pytest.approx(row["test"], abs=1e-12)


@pytest.mark.parametrize(("family", "schedule"), [("gcn", "constant"), ("resgcn", "cosine")])
def test_members_with_their_own_rate_decay_and_dropout_match_their_runs_alone(
    cora64, family, schedule
):
    # A tuner's trials: each member its own lr, weight decay and dropout (one at rate 0), so
    # the optimizer is MemberAdam; under cosine the schedule's factor scales every member.
    own = [
        {"lr": 0.02, "weight_decay": 5e-4, "dropout": 0.5},
        {"lr": 0.003, "weight_decay": 0.0, "dropout": 0.0},
        {"lr": 0.01, "weight_decay": 1e-2, "dropout": 0.2},
    ]
    shared = {"epochs": 40, "patience": None, "schedule": schedule}
    alone = []
    for seed, init, settings in zip(SEEDS, INITS, own):
        model = _model(cora64, family, seed)
        result = train_node(model, cora64, init=init, seed=seed, device="cpu", **shared, **settings)
        alone.append((model, result))
    models = [_model(cora64, family, s) for s in SEEDS]
    per_member = {name: [o[name] for o in own] for name in own[0]}
    results = train_node_batched(
        models, cora64, seeds=SEEDS, inits=INITS, device="cpu", **shared, **per_member
    )
    loss, weights = _gap(alone, models, results)
    assert loss < 1e-9 and weights < 1e-9, (loss, weights)
    for (_, solo), result in zip(alone, results):
        assert result.best_epoch == solo.best_epoch
        assert result.val == pytest.approx(solo.val, abs=1e-12)
        # the log's lr is each member's own, under the schedule
        assert result.log["lr"].to_numpy() == pytest.approx(solo.log["lr"].to_numpy(), rel=1e-12)


def test_a_member_whose_callback_says_stop_stops_there_and_the_others_go_on(cora64):
    # What a tuner's pruner does: member 1 stops after epoch 7; it ends as a 7-epoch run alone.
    settings = {"lr": 0.01, "dropout": 0.5, "patience": None}
    seen: list[list[int]] = [[], [], []]

    def hook(m):
        def on_epoch(row):
            seen[m].append(int(row["epoch"]))
            return m == 1 and row["epoch"] == 7

        return on_epoch

    models = [_model(cora64, "gcn", s) for s in SEEDS]
    results = train_node_batched(
        models,
        cora64,
        seeds=SEEDS,
        inits=INITS,
        device="cpu",
        epochs=30,
        on_epoch=[hook(0), hook(1), None],
        **settings,
    )
    assert seen[0] == list(range(1, 31)) and seen[1] == list(range(1, 8)) and seen[2] == []
    assert [r.epochs for r in results] == [30, 7, 30]
    solo = _model(cora64, "gcn", SEEDS[1])
    short = train_node(
        solo, cora64, init=INITS[1], seed=SEEDS[1], device="cpu", epochs=7, **settings
    )
    assert results[1].val == pytest.approx(short.val, abs=1e-12)
    for p, q in zip(solo.parameters(), models[1].parameters()):
        assert float((p - q).detach().abs().max()) < 1e-9


def test_per_member_settings_are_checked_by_name(cora64):
    models = [_model(cora64, "gcn", s) for s in (0, 1)]
    with pytest.raises(ValueError, match="lr has 3 entries for 2 models"):
        train_node_batched(models, cora64, seeds=[0, 1], lr=[0.1, 0.2, 0.3], epochs=2, device="cpu")
    with pytest.raises(ValueError, match="lr=-1"):
        train_node_batched(models, cora64, seeds=[0, 1], lr=[0.1, -1], epochs=2, device="cpu")
    with pytest.raises(TypeError, match="on_epoch must be a callable"):
        train_node_batched(models, cora64, seeds=[0, 1], on_epoch=[None, 3], epochs=2, device="cpu")
