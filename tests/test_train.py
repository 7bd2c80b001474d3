from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import deepgnn
from deepgnn.train import TrainResult, train_graph, train_node

ROOT = Path(__file__).resolve().parents[1]


def test_two_layer_gcn_reaches_published_cora_accuracy(cora):
    """Kipf & Welling (ICLR 2017) report 81.5% for a 2-layer GCN on this split."""
    ds = cora.normalize_features()
    accs = []
    for seed in range(5):
        model = deepgnn.build(
            "gcn",
            ds.num_features,
            ds.num_classes,
            2,
            width=64,
            dropout=0.5,
            activation="relu",
            seed=seed,
        )
        result = train_node(
            model, ds, epochs=200, lr=0.01, weight_decay=5e-4, patience=None, seed=seed
        )
        assert not result.diverged and result.epochs == 200
        accs.append(result.test)
    assert sum(accs) / len(accs) >= 0.80


def test_residual_gcn_reaches_published_minesweeper_rocauc(data_root):
    """Platonov et al. (ICLR 2023) report ROC-AUC ~0.90 for GCN with residual connections."""
    ds = deepgnn.data.load("minesweeper", root=data_root)
    assert ds.metric == "rocauc"
    model = deepgnn.build(
        "resgcn",
        ds.num_features,
        ds.num_classes,
        4,
        width=64,
        dropout=0.2,
        activation="relu",
        norm="layer",
        seed=0,
    )
    result = train_node(
        model, ds, epochs=300, lr=3e-3, weight_decay=0.0, patience=100, split=0, seed=0
    )
    assert result.test >= 0.85


def test_training_is_deterministic_for_a_seed(cora):
    runs = []
    for _ in range(2):
        model = deepgnn.build("gcn", cora.num_features, cora.num_classes, 3, dropout=0.5, seed=1)
        runs.append(train_node(model, cora, epochs=15, seed=7).log)
    assert runs[0].drop(columns="seconds").equals(runs[1].drop(columns="seconds"))


def test_best_validation_protocol_and_log(cora):
    model = deepgnn.build("gcn", cora.num_features, cora.num_classes, 2, seed=0)
    result = train_node(model, cora, epochs=30, patience=None, seed=0)
    log = result.log
    assert list(log.columns) == ["epoch", "loss", "train", "val", "test", "lr", "seconds"]
    best = log.loc[log["val"].idxmax()]
    assert result.best_epoch == int(best["epoch"])
    assert result.test == best["test"] and result.val == best["val"]
    assert log["loss"].iloc[-1] < log["loss"].iloc[0]


def test_early_stopping_ends_before_max_epochs(cora):
    model = deepgnn.build("gcn", cora.num_features, cora.num_classes, 2, seed=0)
    result = train_node(model, cora, epochs=500, patience=5, lr=0.05, seed=0)
    assert result.epochs < 500
    assert result.epochs - result.best_epoch == 5


def test_divergence_is_recorded_not_raised(cora):
    def poison(model):
        with torch.no_grad():
            model.layer_weights()[0].weight.fill_(float("inf"))

    model = deepgnn.build("gcn", cora.num_features, cora.num_classes, 2, seed=0)
    result = train_node(model, cora, init=poison, epochs=10, seed=0)
    assert isinstance(result, TrainResult)
    assert result.diverged and result.epochs == 0 and math.isnan(result.test)


def test_callable_init_is_applied_before_training(cora):
    seen = []
    model = deepgnn.build("gcn", cora.num_features, cora.num_classes, 2, seed=0)
    train_node(model, cora, init=lambda m: seen.append(m), epochs=1)
    assert seen == [model]


def test_cosine_schedule_anneals_the_learning_rate(cora):
    model = deepgnn.build("gcn", cora.num_features, cora.num_classes, 2, seed=0)
    result = train_node(model, cora, epochs=10, schedule="cosine", patience=None, seed=0)
    lrs = result.log["lr"].tolist()
    assert lrs[0] == 0.01 and all(a >= b for a, b in zip(lrs, lrs[1:])) and lrs[-1] < 1e-3


def test_train_node_rejects_mismatched_model_and_bad_options(cora):
    model = deepgnn.build("gcn", 10, cora.num_classes, 2)
    with pytest.raises(ValueError, match="build the model with in_dim=1433, out_dim=7"):
        train_node(model, cora)
    model = deepgnn.build("gcn", cora.num_features, cora.num_classes, 2)
    with pytest.raises(ValueError, match="schedule='cosin' is not one of"):
        train_node(model, cora, schedule="cosin")
    with pytest.raises(ValueError, match="lr=-1"):
        train_node(model, cora, lr=-1)
    with pytest.raises(ValueError, match="cuda_graph=True needs a CUDA device"):
        train_node(model, cora, device="cpu", cuda_graph=True)
    with pytest.raises(TypeError, match="node datasets go to train_node"):
        train_graph(model, cora)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"seed": 1.5}, TypeError, r"seed must be an int >= 0, got float 1.5"),  # was seed 1
        ({"seed": -1}, ValueError, r"seed=-1 is too small"),  # was accepted
        ({"lr": True}, ValueError, r"lr=True; pass a positive finite learning rate"),
        ({"lr": float("nan")}, ValueError, r"lr=nan; pass a positive finite learning rate"),
        ({"lr": 1e308}, ValueError, r"lr=1e\+308; .*below float32's 3.4e38"),
        ({"weight_decay": float("inf")}, ValueError, r"weight_decay=inf; pass a finite value >= 0"),
        ({"weight_decay": 1e308}, ValueError, r"weight_decay=1e\+308; .*below float32"),
        (
            {"weight_decay": {"cov": 0.01}},
            ValueError,
            r"weight_decay has the key 'cov', which is not a layer kind; its keys are among "
            r"\['conv', 'linear'\]",
        ),
        (
            {"weight_decay": {"conv": -1}},
            ValueError,
            r"weight_decay\['conv'\]=-1; pass a finite value >= 0",
        ),
        ({"weight_decay": {}}, ValueError, r"weight_decay=\{\} names no layer kind"),
        ({"betas": (float("nan"), 0.9)}, ValueError, r"betas=\(nan, 0.9\); pass two numbers"),
        ({"dropout": float("nan")}, ValueError, r"dropout=nan is outside \[0, 1\)"),
        ({"epochs": 0}, ValueError, r"epochs=0 is too small"),
        ({"patience": 1.0}, TypeError, r"patience must be an int"),
        ({"device": "cuda:99"}, ValueError, r"device='cuda:99'"),
        ({"device": "gpu"}, ValueError, r"device='gpu' is not a device torch knows"),
        ({"device": 1.5}, TypeError, r"device must be a device name"),
        ({"init": "xavir"}, ValueError, r"init='xavir' is not one of .*did you mean 'xavier'"),
        ({"init": 3}, TypeError, r"init must be an init name, a callable or None"),
        (
            {"init": "xavier", "init_options": {"gian": 2.0}},
            ValueError,
            r"init_options has \['gian'\], which init 'xavier' does not take",
        ),
        ({"init": "xavier", "init_options": [1]}, TypeError, r"init_options must be a dict"),
        ({"on_epoch": "print"}, TypeError, r"on_epoch must be a callable"),
    ],
)
def test_train_node_refuses_bad_options_before_touching_the_model(cora, kwargs, error, match):
    model = deepgnn.build("gcn", cora.num_features, cora.num_classes, 2, width=8, seed=0)
    before = [p.clone() for p in model.parameters()]
    with pytest.raises(error, match=match):
        train_node(model, cora, epochs=kwargs.pop("epochs", 1), **kwargs)
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), before))


@pytest.mark.filterwarnings("ignore:.*ended untrained:RuntimeWarning")
def test_weight_decay_by_layer_kind_decays_only_that_kind(cora):
    # ReZero's alpha = 0 gives its convolutions a zero loss gradient at the first step, so
    # Adam's first update of a conv weight is lr * sign(weight_decay * w): lr per entry where
    # convolutions decay (up to Adam's eps on the smallest weights), nothing where they do not.
    for conv_decay, moved in ((0.0, 0.0), (0.01, 1e-3)):
        model = deepgnn.build("rezero", cora.num_features, cora.num_classes, 2, width=8, seed=0)
        before = [lw.weight.detach().clone() for lw in model.layer_weights()]
        wd = {"conv": conv_decay, "linear": 0.0}
        train_node(model, cora, epochs=1, lr=1e-3, weight_decay=wd, seed=0, device="cpu")
        kinds = [lw.kind for lw in model.layer_weights()]
        assert kinds.count("conv") == 2
        for lw, w0 in zip(model.layer_weights(), before, strict=True):
            if lw.kind == "conv":
                step = (lw.weight.detach() - w0).abs()
                torch.testing.assert_close(step, torch.full_like(w0, moved), rtol=1e-2, atol=0.0)


def test_weight_decay_by_kind_covers_every_parameter_and_defaults_to_the_protocol(cora):
    # a kind left out, and the gates (no layer weight's), take the protocol's 5e-4: the same run
    def log(wd):
        model = deepgnn.build("gated_resgcn", cora.num_features, cora.num_classes, 3, seed=0)
        return train_node(model, cora, epochs=3, weight_decay=wd, seed=0, device="cpu").log

    one = log(5e-4)
    for wd in ({"conv": 5e-4, "linear": 5e-4}, {"conv": 5e-4}):
        assert log(wd)["loss"].tolist() == one["loss"].tolist()
    assert log({"conv": 0.5})["loss"].tolist() != one["loss"].tolist()


def test_train_graph_takes_one_weight_decay(cora):
    model = deepgnn.build("gcn", 4, 4, 2)
    with pytest.raises(ValueError, match=r"train_graph takes one weight decay.*train_node's"):
        train_graph(model, cora, weight_decay={"conv": 0.01})


def test_train_node_on_cuda_without_cuda_names_the_device_and_the_fix(cora, monkeypatch):
    # before: torch's "AssertionError: Torch not compiled with CUDA enabled" from .to()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    model = deepgnn.build("gcn", cora.num_features, cora.num_classes, 2, width=8, seed=0)
    with pytest.raises(
        ValueError,
        match=r"device='cuda', but this torch sees no CUDA device.*"
        r"pass device='cpu'",
    ):
        train_node(model, cora, epochs=1, device="cuda")


@pytest.mark.parametrize("family", deepgnn.models.available())
def test_same_seed_gives_the_same_log_on_the_cpu(cora, family):
    def run():
        model = deepgnn.build(family, cora.num_features, cora.num_classes, 3, width=16, seed=0)
        return train_node(model, cora, init="xavier", epochs=4, dropout=0.5, seed=3, device="cpu")

    a, b = run().log, run().log
    assert a["loss"].tolist() == b["loss"].tolist()  # bit for bit, not approximately
    assert a[["train", "val", "test"]].equals(b[["train", "val", "test"]])


_GAT_RUN = textwrap.dedent(
    """
    import deepgnn
    ds = deepgnn.data.load("cora")
    model = deepgnn.build("gat", ds.num_features, ds.num_classes, 3, width=16, seed=0)
    log = deepgnn.train.train_node(model, ds, epochs=4, dropout=0.5, seed=3, device="cpu").log
    print(" ".join(float(v).hex() for v in log["loss"]))
    """
)


def test_same_seed_gives_the_same_gat_losses_across_processes(cora):
    # Before: GAT's losses differed in ~1 process in 8 (by 3e-7 to 1e-4): its backward's
    # index_put_ atomics, then MKL's first-call kernel race on the attention exp (see
    # deepgnn/models/_base.py). Three processes at once load the CPU as that race needs.
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _GAT_RUN],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        outs.append(out.strip())
    assert len(set(outs)) == 1 and len(outs[0].split()) == 4, outs
    in_process = train_node(
        deepgnn.build("gat", cora.num_features, cora.num_classes, 3, width=16, seed=0),
        cora,
        epochs=4,
        dropout=0.5,
        seed=3,
        device="cpu",
    ).log["loss"]
    assert " ".join(float(v).hex() for v in in_process) == outs[0]


def test_molecule_subset_trains_end_to_end(data_root):
    pytest.importorskip("rdkit", reason="the chem extra (rdkit) is not installed")
    from deepgnn.data.molecules import load_moleculenet

    ds = load_moleculenet("ogbg-molhiv", data_root, limit=100, cache=False)
    model = deepgnn.build("gcn", 32, 32, 3, width=32, activation="relu", seed=0)
    result = train_graph(model, ds, epochs=3, batch_size=16, patience=None, seed=0)
    assert result.epochs == 3 and not result.diverged
    log = result.log
    assert list(log["epoch"]) == [1, 2, 3]
    assert log["loss"].iloc[-1] < log["loss"].iloc[0]
    # 100 HIV molecules hold ~3 actives: ROC-AUC is undefined on a part without one, and then
    # NaN on every epoch (no crash); a part with both classes has a value in [0, 1] every epoch.
    for part, column in (("train", "train"), ("valid", "val"), ("test", "test")):
        labels = ds.y[ds.split_idx[part]]
        both = bool((labels == 1).any() and (labels == 0).any())
        assert log[column].between(0, 1).all() if both else log[column].isna().all(), part
    assert result.best_train == log["train"].max() and result.chance == 0.5
    if log["val"].isna().all():  # no validation metric: no best epoch, nothing at it
        assert result.best_epoch == 0
        assert math.isnan(result.val) and math.isnan(result.test) and math.isnan(result.train)


def test_molecule_classifier_learns_bbbp_subset(data_root):
    pytest.importorskip("rdkit", reason="the chem extra (rdkit) is not installed")
    from deepgnn.data.molecules import load_moleculenet

    ds = load_moleculenet("ogbg-molbbbp", data_root, limit=300, cache=False)
    model = deepgnn.build("gcn", 32, 32, 2, width=32, activation="relu", seed=0)
    result = train_graph(model, ds, epochs=10, batch_size=32, patience=None, seed=0, pool="sum")
    log = result.log
    assert log["train"].iloc[-1] > 0.7  # ROC-AUC on the training graphs
    assert list(log["epoch"]) == list(range(1, 11))
    assert log[["train", "val", "test"]].stack().between(0, 1).all() and len(log) == 10
    # The result is the row of the first epoch of best validation.
    best = log.loc[log["val"].idxmax()]
    assert result.best_epoch == int(best["epoch"])
    assert (result.val, result.test, result.train) == (best["val"], best["test"], best["train"])
    assert result.best_train == log["train"].max()


def test_init_options_reach_the_named_scheme(cora):
    model = deepgnn.build("gcn", cora.num_features, cora.num_classes, 3, width=64, seed=0)
    train_node(
        model, cora, init="kaiming", init_options={"nonlinearity": "tanh"}, epochs=1, lr=1e-6
    )
    w = model.layer_weights()[1].weight.detach()
    # Kaiming fan_in with tanh's gain 5/3 (relu's would give sqrt 2 / 8 = 0.177)
    assert float(w.std()) == pytest.approx(5 / 3 / 8, rel=0.05)
    with pytest.raises(ValueError, match="init_options=.* need init to be a scheme name"):
        train_node(model, cora, init=None, init_options={"nonlinearity": "tanh"}, epochs=1)


# ------------------------------------------------------------------ protocols, trainability
def test_untrained_warning_advises_what_the_run_did_not_try(cora):
    # before: it advised protocol='spoginit-paper' to a run that already used it
    model = deepgnn.build("gcn", cora.num_features, cora.num_classes, 32, width=8, seed=0)
    with pytest.warns(RuntimeWarning, match="ended untrained") as caught:
        result = train_node(model, cora, protocol="spoginit-paper", epochs=3, seed=0)
    text = str(caught[-1].message)
    assert result.untrained and result.protocol == "spoginit-paper"
    assert "protocol='spoginit-paper'" not in text
    assert "It already used protocol 'spoginit-paper' (lr 0.0005, 3 epochs): try " in text
    assert "another initialization (init='spoginit' or 'virgo')" in text and "tuning lr" in text


def test_deep_tanh_gcn_is_untrained_under_kipf_and_trains_under_the_authors_protocol(cora):
    # At lr 0.01 / dropout 0.5 a depth-32 tanh GCN never leaves chance on Cora; at the
    # authors' depth-32 setting (lr 5e-4, no dropout, betas (0.9, 0.9995)) it fits the
    # training set within a few dozen epochs (epoch 34 to 0.9 with seed 0, this CPU).
    def run(protocol, **kw):
        model = deepgnn.build(
            "gcn", cora.num_features, cora.num_classes, 32, dropout=0.5, activation="tanh", seed=0
        )
        return train_node(model, cora, init="xavier", protocol=protocol, seed=0, **kw)

    with pytest.warns(RuntimeWarning, match="ended untrained") as caught:
        kipf = run("kipf")
    assert "Try a learning rate made for the depth (protocol='spoginit-paper'" in str(
        caught[-1].message
    )
    assert kipf.untrained and kipf.protocol == "kipf"
    assert kipf.chance == pytest.approx(1 / 7) and kipf.best_train < 0.32
    paper = run("spoginit-paper", epochs=80)
    assert not paper.untrained and paper.protocol == "spoginit-paper"
    assert paper.best_train >= 0.9
    assert paper.log["lr"].iloc[0] == pytest.approx(5e-4)


def test_protocols_follow_the_authors_schedule_and_interpolate_between_depths():
    from deepgnn.train import protocols

    # script/arxiv_GCN.sh: layer_list (4 8 16 32 64), lr_list, dropout_list
    for depth, lr, dropout in zip(
        (4, 8, 16, 32, 64), (5e-3, 5e-3, 5e-4, 5e-4, 5e-5), (0.5, 0.5, 0.0, 0.0, 0.0)
    ):
        p = protocols.get("spoginit-paper", depth)
        assert (p.lr, p.dropout, p.weight_decay, p.epochs, p.patience) == (
            lr,
            dropout,
            0.0,
            1000,
            None,
        )
        assert p.betas == (0.9, 0.9995)
    assert protocols.get("spoginit-paper", 2).lr == 5e-3
    assert protocols.get("spoginit-paper", 256).lr == 5e-5
    mid = protocols.get("spoginit-paper", 24).lr  # between 16 and 32: both 5e-4
    assert mid == pytest.approx(5e-4)
    assert 5e-5 < protocols.get("spoginit-paper", 48).lr < 5e-4
    residual = protocols.get("spoginit-paper-residual", 64)
    assert (residual.lr, residual.dropout, residual.epochs) == (5e-3, 0.5, 1000)
    # script/arxiv_ResGCN_gatResGCN.sh: the residual families have their own protocol
    assert protocols.get("spoginit-paper", 64, family="resgcn") == residual
    with pytest.raises(ValueError, match="protocol='spoginit' is not one of"):
        protocols.get("spoginit", 4)


def test_explicit_settings_override_the_protocol_and_the_model_keeps_its_dropout(cora):
    model = deepgnn.build("gcn", cora.num_features, cora.num_classes, 2, dropout=0.3, seed=0)
    result = train_node(
        model, cora, protocol="spoginit-paper", epochs=3, lr=0.02, patience=None, seed=0
    )
    assert result.epochs == 3 and result.log["lr"].eq(0.02).all()
    assert model.dropout == 0.3  # the protocol's 0.5 only while training
    with pytest.raises(ValueError, match="betas="):
        train_node(model, cora, epochs=1, betas=(0.9, 1.5))
    with pytest.raises(ValueError, match="protocol='kipff' is not one of"):
        train_node(model, cora, protocol="kipff")


def test_chance_is_the_majority_share_of_the_training_labels(data_root):
    from deepgnn.train import is_untrained

    ds = deepgnn.data.load("actor", root=data_root).split(0)
    model = deepgnn.build("gcn", ds.num_features, ds.num_classes, 2, seed=0)
    result = train_node(model, ds, epochs=2, seed=0)
    y = ds.y[ds.train_mask]
    assert result.chance == pytest.approx(float(torch.bincount(y).max()) / len(y))
    assert result.best_train == pytest.approx(result.log["train"].max())
    assert result.untrained == is_untrained(result.best_train, result.chance)
    mines = deepgnn.data.load("minesweeper", root=data_root)
    model = deepgnn.build("gcn", mines.num_features, mines.num_classes, 2, seed=0)
    assert train_node(model, mines, epochs=1, seed=0).chance == 0.5  # ROC-AUC


def test_on_epoch_sees_every_epoch_and_can_stop_training(cora):
    seen = []

    def stop_at_three(row):
        seen.append(row["epoch"])
        if row["epoch"] == 3:
            raise KeyboardInterrupt

    model = deepgnn.build("gcn", cora.num_features, cora.num_classes, 2, seed=0)
    with pytest.raises(KeyboardInterrupt):
        train_node(model, cora, epochs=10, seed=0, on_epoch=stop_at_three)
    assert seen == [1, 2, 3]


def test_drop_edge_resamples_the_graph_each_step_and_trains(cora, monkeypatch):
    def run(p):
        model = deepgnn.build("gcn", cora.num_features, cora.num_classes, 2, dropout=0.5, seed=0)
        return train_node(model, cora, epochs=40, patience=None, drop_edge=p, seed=0)

    plain, b = run(0.0), run(0.3)
    seen = []
    original = deepgnn.Graph.drop_edges

    def spy(self, p, *, generator=None):
        out = original(self, p, generator=generator)
        seen.append(out.num_edges)
        return out

    monkeypatch.setattr(deepgnn.Graph, "drop_edges", spy)
    a = run(0.3)
    assert len(seen) == 40 and len(set(seen)) > 10  # a new sample every training step
    assert all(n < cora.graph.num_edges for n in seen)
    assert a.log["loss"].tolist() == b.log["loss"].tolist()  # seeded samples
    assert a.log["loss"].tolist() != plain.log["loss"].tolist()
    assert a.test > 0.75 and a.best_train > 0.9
    with pytest.raises(ValueError, match=r"drop_edge=1; pass a drop probability in \[0, 1\)"):
        run(1)


def test_fitted_verdict_takes_a_kipf_gcn_and_refuses_a_seed_at_0_43(cora):
    from deepgnn.train import is_fitted, is_untrained

    model = deepgnn.build("gcn", cora.num_features, cora.num_classes, 2, seed=0)
    result = train_node(model, cora, protocol="kipf", seed=0)
    assert result.fitted and not result.untrained and result.best_train > 0.95
    assert result.fitted == is_fitted(result.best_train, result.chance)
    # the Cora gated ResGCN-64 seed of the committed study: trained a little, did not fit
    chance = result.chance
    assert chance == pytest.approx(1 / 7)
    assert not is_fitted(0.43, chance) and not is_untrained(0.43, chance)
    assert is_fitted(chance + 0.8 * (1 - chance), chance) and not is_fitted(math.nan, chance)
    assert not is_fitted(0.72, 0.5) and is_fitted(0.9, 0.5)  # ROC-AUC


def test_budget_limited_when_the_best_epoch_is_in_the_last_tenth_of_the_budget(cora):
    from deepgnn.train import is_budget_limited

    assert is_budget_limited(950, 1000) and not is_budget_limited(900, 1000)
    assert not is_budget_limited(95, 100, budget=200)  # stopped early by its patience
    model = deepgnn.build("gcn", cora.num_features, cora.num_classes, 2, seed=0)
    # still improving after 5 epochs: the best validation is the last epoch
    short = train_node(model, cora, lr=1e-3, epochs=5, patience=None, seed=0)
    assert short.best_epoch == 5 and short.budget_limited
    model = deepgnn.build("gcn", cora.num_features, cora.num_classes, 2, seed=0)
    early = train_node(model, cora, epochs=200, patience=10, seed=0)
    assert early.epochs < 200 and not early.budget_limited


def test_verdicts_of_a_table_match_the_runs_own(cora):
    import pandas as pd

    from deepgnn.train import verdicts

    rows = []
    for depth, epochs in ((2, 100), (2, 5), (16, 30)):
        model = deepgnn.build("gcn", cora.num_features, cora.num_classes, depth, seed=1)
        rows.append(train_node(model, cora, epochs=epochs, patience=None, seed=1).as_row())
    table = pd.DataFrame(rows)
    again = verdicts(table.drop(columns=["untrained", "fitted", "budget_limited"]))
    for col in ("untrained", "fitted", "budget_limited"):
        assert again[col].tolist() == table[col].tolist()
    assert again["counts"].tolist() == [bool(r["fitted"] and not r["budget_limited"]) for r in rows]


def _scores(model, ds):
    model.eval()
    with torch.no_grad():
        logits = model(ds.graph, ds.x)
    return ds.evaluate(logits, ds.val_mask), ds.evaluate(logits, ds.test_mask)


def test_restore_best_gives_the_model_its_best_validation_epochs_weights(cora):
    # lr 0.05 overfits Cora's 140 training nodes within 40 epochs: the best validation epoch
    # comes before the last, so the last epoch's weights score another validation metric.
    runs = {}
    for restore in (True, False):
        model = deepgnn.build("gcn", cora.num_features, cora.num_classes, 2, width=16, seed=0)
        result = train_node(
            model, cora, epochs=40, lr=0.05, patience=None, seed=0, restore_best=restore
        )
        runs[restore] = (model, result)
    (best_model, best), (last_model, last) = runs[True], runs[False]
    assert best.log.equals(last.log.assign(seconds=best.log["seconds"]))
    assert best.best_epoch < best.epochs == 40
    assert (best.restore_best, last.restore_best) == (True, False)
    assert best.as_row()["restore_best"] is True and last.as_row()["restore_best"] is False
    # evaluated again, the restored model scores exactly the recorded best val and test
    assert _scores(best_model, cora) == (best.val, best.test)
    final = best.log.iloc[-1]
    assert _scores(last_model, cora) == (final["val"], final["test"])
    assert _scores(last_model, cora)[0] != best.val


def test_restore_best_must_be_a_bool(cora):
    model = deepgnn.build("gcn", cora.num_features, cora.num_classes, 2, seed=0)
    with pytest.raises(TypeError, match="restore_best must be True"):
        train_node(model, cora, epochs=2, restore_best="yes")
