from __future__ import annotations

from pathlib import Path

import pytest
import torch

import deepgnn
from deepgnn.data import csbm


@pytest.mark.parametrize("homophily", [0.0, 0.3, 0.9])
def test_csbm_realizes_requested_degree_and_homophily(homophily):
    ds = csbm(num_nodes=3000, avg_degree=12.0, num_classes=4, homophily=homophily, seed=3)
    rows, cols = ds.graph.edge_index
    assert 2 * ds.graph.num_edges / ds.num_nodes == pytest.approx(12.0, abs=1e-3)
    realized = (ds.y[rows] == ds.y[cols]).float().mean().item()
    assert realized == pytest.approx(homophily, abs=1e-3)
    assert torch.bincount(ds.y).tolist() == [750] * 4
    degree = ds.graph.degree - 1  # degree of A+I minus the self loop
    assert degree.float().mean().item() == pytest.approx(12.0, abs=1e-3)


def test_csbm_features_have_orthogonal_means_of_norm_snr():
    ds = csbm(num_nodes=20000, avg_degree=2.0, num_classes=3, snr=2.0, num_features=16, seed=0)
    means = torch.stack([ds.x[ds.y == k].mean(0) for k in range(3)]).double()
    # each class mean is estimated from ~6,667 samples of unit noise: error ~ sqrt(16/6667)
    assert means.norm(dim=1).tolist() == pytest.approx([2.0] * 3, abs=0.1)
    gram = means @ means.T / 4.0
    assert (gram - torch.eye(3, dtype=torch.double)).abs().max() < 0.05
    residual = ds.x - means.float()[ds.y]
    assert residual.std().item() == pytest.approx(1.0, abs=0.02)


def test_csbm_is_reproducible_from_its_seed():
    a, b = csbm(num_nodes=500, seed=7), csbm(num_nodes=500, seed=7)
    c = csbm(num_nodes=500, seed=8)
    assert torch.equal(a.graph.edge_index, b.graph.edge_index)
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert torch.equal(a.train_masks, b.train_masks)
    assert not torch.equal(a.graph.edge_index, c.graph.edge_index)


def test_csbm_splits_are_disjoint_and_sized():
    ds = csbm(num_nodes=1000, num_splits=3, train_fraction=0.6, val_fraction=0.2, seed=1)
    masks = torch.stack([ds.train_masks, ds.val_masks, ds.test_masks]).int()
    assert ds.num_splits == 3 and (masks.sum(0) == 1).all()
    assert masks.sum(-1)[:, 0].tolist() == [600, 200, 200]


def test_load_csbm_uses_documented_defaults():
    ds = deepgnn.data.load("csbm")
    assert (ds.num_nodes, ds.num_classes, ds.num_features) == (10_000, 5, 64)
    assert ds.graph.num_edges == 50_000


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"homophily": 1.5}, r"homophily=1.5 is outside \[0.0, 1.0\]"),
        ({"num_classes": 1}, "num_classes=1 is too small"),
        ({"train_fraction": 0.8, "val_fraction": 0.3}, "leaves no test nodes"),
        ({"num_nodes": 20, "avg_degree": 18.0, "num_classes": 10, "homophily": 1.0}, "too dense"),
    ],
)
def test_csbm_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        csbm(**kwargs)


def test_csbm_arxiv_has_ogbn_arxiv_size_and_homophily():
    from deepgnn.data import load

    ds = load("csbm-arxiv")
    assert ds.name == "csbm-arxiv"
    assert (ds.num_nodes, ds.num_features, ds.num_classes) == (169_343, 128, 40)
    assert ds.graph.num_edges == 1_166_243
    src, dst = ds.graph.edge_index
    same = (ds.y[src] == ds.y[dst]).float().mean().item()
    assert same == pytest.approx(0.655, abs=2e-3)


def _hill_exponent(degree: torch.Tensor, top: int) -> float:
    """Hill's estimate of the tail exponent gamma of P(k) ~ k^-gamma from the ``top`` degrees."""
    k = degree.double().sort(descending=True).values
    return 1.0 + 1.0 / torch.log(k[:top] / k[top]).mean().item()


@pytest.mark.parametrize("exponent", [2.1, 2.5])
def test_degree_corrected_csbm_has_a_power_law_tail(exponent):
    ds = csbm(num_nodes=20_000, avg_degree=10.0, num_classes=10, degree_exponent=exponent, seed=0)
    degree = ds.graph.degree - 1
    assert ds.graph.num_edges == 100_000
    assert degree.float().mean().item() == pytest.approx(10.0, abs=1e-3)
    # hubs: the default cap is sqrt(N * d) = 447, some 40 times the mean
    assert 300 <= degree.max().item() <= 447
    # the top 5% of the nodes follow the tail (Hill's estimator), below the cap's reach
    assert _hill_exponent(degree, 1000) == pytest.approx(exponent, abs=0.2)


@pytest.mark.parametrize("homophily", [0.1, 0.81])
def test_degree_corrected_csbm_realizes_homophily_exactly(homophily):
    ds = csbm(
        num_nodes=20_000,
        avg_degree=10.0,
        num_classes=47,
        homophily=homophily,
        degree_exponent=2.1,
        max_degree=2000,
        seed=1,
    )
    rows, cols = ds.graph.edge_index
    assert (ds.y[rows] == ds.y[cols]).float().mean().item() == pytest.approx(homophily, abs=1e-4)
    assert torch.bincount(ds.y).max() - torch.bincount(ds.y).min() <= 1  # balanced classes
    # a cap above sqrt(N d) = 447 lets hubs past it (short of 2000: their mutual pairs repeat)
    assert (ds.graph.degree - 1).max().item() > 600


def test_degree_corrected_csbm_is_reproducible_from_its_seed():
    kwargs = {"num_nodes": 3000, "avg_degree": 8.0, "degree_exponent": 2.2}
    a, b, c = csbm(**kwargs, seed=4), csbm(**kwargs, seed=4), csbm(**kwargs, seed=5)
    assert torch.equal(a.graph.edge_index, b.graph.edge_index)
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert not torch.equal(a.graph.edge_index, c.graph.edge_index)
    assert not torch.equal(a.graph.degree, c.graph.degree)


def test_arxiv_sbm_defaults_are_the_committed_calibration():
    import inspect

    import pandas as pd

    from deepgnn.data import options
    from deepgnn.data.arxiv_sbm import ARXIV_SBM, arxiv_sbm

    defaults = {n: p.default for n, p in inspect.signature(arxiv_sbm).parameters.items()}
    assert (
        {k: defaults[k] for k in ARXIV_SBM}
        == ARXIV_SBM
        == {k: options("arxiv-sbm")[k] for k in ARXIV_SBM}
    )
    # the calibration table holds the chosen point, within 1.5 points of both targets on
    # every seed it ran
    table = Path(__file__).resolve().parents[1] / "results" / "arxiv_sbm_calibration.csv"
    df = pd.read_csv(table, keep_default_na=False)
    width = "none" if ARXIV_SBM["affinity_width"] is None else str(ARXIV_SBM["affinity_width"])
    rows = df[
        (df["snr"] == ARXIV_SBM["snr"])
        & (df["degree_exponent"] == ARXIV_SBM["degree_exponent"])
        & (df["affinity_width"].astype(str) == width)
        & (df["homophily"] == ARXIV_SBM["homophily"])
    ]
    assert len(rows) == 3
    assert ((rows["mlp_test"] - 55.50).abs() <= 1.5).all()
    assert ((rows["gcn_test"] - 71.74).abs() <= 1.5).all()


def test_arxiv_sbm_takes_its_options_through_load():
    from deepgnn.data import check_options, load

    ds = load("arxiv-sbm", homophily=0.655, seed=1)
    src, dst = ds.graph.edge_index
    assert int((ds.y[src] == ds.y[dst]).sum()) // 2 == round(0.655 * 1_166_243)
    with pytest.raises(ValueError, match="did you mean 'homophily'"):
        check_options("arxiv-sbm", homophilly=0.5)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"degree_exponent": 1.0}, ValueError, r"degree_exponent=1.0 must be .*above 1.*e\.g\."),
        ({"degree_exponent": float("nan")}, ValueError, "degree_exponent=nan must be"),
        ({"degree_exponent": "2.1"}, TypeError, "degree_exponent must be a float"),
        ({"max_degree": 50}, ValueError, "max_degree=50 caps .* pass degree_exponent="),
        ({"degree_exponent": 2.1, "max_degree": 5}, ValueError, r"max_degree=5 .* pass .* in \[10"),
        ({"degree_exponent": 2.1, "max_degree": 10**6}, ValueError, "num_nodes - 1 = 9999"),
        ({"degree_exponent": 2.1, "max_degree": 99.5}, TypeError, "max_degree must be an int"),
        (
            {
                "num_nodes": 40,
                "avg_degree": 30.0,
                "num_classes": 10,
                "homophily": 1.0,
                "degree_exponent": 2.1,
            },
            ValueError,
            "too dense",
        ),
    ],
)
def test_degree_corrected_csbm_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        csbm(**kwargs)


def test_degree_corrected_community_structure_carries_the_signal():
    import dataclasses

    from deepgnn.graph import Graph
    from deepgnn.train import train_node

    ds = csbm(
        num_nodes=2000,
        avg_degree=10.0,
        num_classes=5,
        homophily=0.85,
        snr=0.5,
        num_features=16,
        degree_exponent=2.3,
        seed=0,
    )
    no_edges = Graph(torch.zeros(2, 0, dtype=torch.long), num_nodes=ds.num_nodes)
    test = {}
    for name, data in (("gcn", ds), ("mlp", dataclasses.replace(ds, graph=no_edges))):
        model = deepgnn.build(
            "gcn", ds.num_features, ds.num_classes, 2, width=32, activation="relu", seed=0
        )
        test[name] = train_node(model, data, epochs=30, lr=0.05, patience=None, seed=0).test
    # on an edgeless graph the same model is an MLP of the features alone
    assert test["gcn"] > test["mlp"] + 0.3
    assert test["mlp"] > 0.2 + 0.03  # features alone: weakly above chance (1/5)


def test_csbm_products_is_registered_with_products_size():
    from deepgnn.data import PRODUCTS_HOMOPHILY, PRODUCTS_MAX_DEGREE, available

    assert "csbm-products" in available()
    assert (PRODUCTS_HOMOPHILY, PRODUCTS_MAX_DEGREE) == (0.81, 17_481)


def test_csbm_over_given_labels_keeps_them_and_realizes_homophily():
    y = torch.tensor([0] * 1500 + [1] * 900 + [2] * 450 + [3] * 150)[torch.randperm(3000)]
    for exponent in (None, 2.3):
        ds = csbm(labels=y, avg_degree=10.0, homophily=0.6, degree_exponent=exponent, seed=4)
        assert torch.equal(ds.y, y) and ds.num_classes == 4 and ds.num_nodes == 3000
        src, dst = ds.graph.edge_index
        assert ds.graph.num_edges == 15_000
        assert (ds.y[src] == ds.y[dst]).float().mean().item() == pytest.approx(0.6, abs=1e-4)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"labels": [0, 2, 2, 0]}, r"classes \[1\] have no node"),
        ({"labels": [0, -1, 1, 1]}, "labels hold -1"),
        ({"labels": [[0, 1], [1, 0]]}, "1-D array of integer classes"),
        ({"labels": [0.0, 1.0, 1.0]}, "1-D array of integer classes"),
        ({"labels": [0, 1, 1, 0], "num_nodes": 5}, "num_nodes=5 but labels has 4"),
        ({"labels": [0, 1, 1, 0], "num_classes": 3}, "num_classes=3 but labels hold 2"),
        ({"affinity_width": 1.0}, "affinity_width=1.0 .* pass degree_exponent="),
        ({"degree_exponent": 2.1, "affinity_width": 0}, "affinity_width=0 is not allowed"),
        ({"degree_weights": [1.0] * 10}, r"degree_weights must hold one .* \(10000\)"),
        ({"degree_weights": [1.0] * 9999 + [0.0]}, "one positive finite number"),
        (
            {"degree_weights": [1.0] * 10000, "degree_exponent": 2.1},
            "degree_weights sets the expected degrees; drop degree_exponent",
        ),
    ],
)
def test_csbm_labels_affinity_and_weights_reject_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        csbm(**kwargs)


def _partner_share(ds, top: int) -> float:
    """Mean over classes of the share of a class's inter-class edge ends that fall in its
    ``top`` most frequent partner classes."""
    src, dst = ds.graph.edge_index
    inter = ds.y[src] != ds.y[dst]
    c = ds.num_classes
    counts = torch.zeros(c, c)
    counts.index_put_((ds.y[src][inter], ds.y[dst][inter]), torch.ones(int(inter.sum())), True)
    best = counts.sort(dim=1, descending=True).values[:, :top].sum(1)
    return (best / counts.sum(1)).mean().item()


def test_affinity_width_sends_inter_class_edges_to_related_classes():
    kw = dict(num_nodes=6000, avg_degree=10.0, num_classes=10, homophily=0.5, seed=0)
    spread = csbm(degree_exponent=2.5, **kw)
    narrow = csbm(degree_exponent=2.5, affinity_width=0.2, **kw)
    wide = csbm(degree_exponent=2.5, affinity_width=1e6, **kw)
    # 2 ring neighbours of 9 other classes: 2/9 of the ends without affinity, nearly all
    # (weights 1 against e^-5 and less) with a narrow width, 2/9 again with a very wide one
    assert _partner_share(spread, 2) == pytest.approx(2 / 9, abs=0.03)
    assert _partner_share(narrow, 2) > 0.95
    assert _partner_share(wide, 2) == pytest.approx(2 / 9, abs=0.03)
    for ds in (narrow, wide):
        src, dst = ds.graph.edge_index
        assert ds.graph.num_edges == 30_000
        assert (ds.y[src] == ds.y[dst]).float().mean().item() == pytest.approx(0.5, abs=1e-4)


def test_degree_weights_set_the_expected_degrees():
    n = 8000
    weights = torch.ones(n)
    weights[: n // 4] = 4.0  # a quarter of the nodes expects four times the degree
    ds = csbm(num_nodes=n, avg_degree=10.0, num_classes=4, degree_weights=weights, seed=0)
    degree = (ds.graph.degree - 1).double()
    assert degree.mean().item() == pytest.approx(10.0, abs=1e-3)
    # expected degrees 10 * 4/1.75 = 22.9 and 10/1.75 = 5.7 (the cap sqrt(n * d) = 282 is far)
    assert degree[: n // 4].mean().item() == pytest.approx(22.86, rel=0.05)
    assert degree[n // 4 :].mean().item() == pytest.approx(5.71, rel=0.05)


def test_arxiv_sbm_has_arxivs_labels_split_and_edges():
    from deepgnn.data import available, load
    from deepgnn.data.arxiv_sbm import arxiv_labels

    labels, years = arxiv_labels()
    ds = load("arxiv-sbm")
    assert "arxiv-sbm" in available() and ds.name == "arxiv-sbm"
    assert (ds.num_nodes, ds.num_features, ds.num_classes) == (169_343, 128, 40)
    assert torch.equal(ds.y, torch.from_numpy(labels))
    assert ds.num_splits == 1
    sizes = [int(m.sum()) for m in (ds.train_mask, ds.val_mask, ds.test_mask)]
    assert sizes == [90_941, 29_799, 48_603]
    assert torch.equal(ds.test_mask, torch.from_numpy(years >= 2019))
    assert ds.graph.num_edges == 1_166_243
    src, dst = ds.graph.edge_index
    same = int((ds.y[src] == ds.y[dst]).sum()) // 2
    assert same == round(0.5 * 1_166_243)  # the calibrated edge homophily, exactly
    # citations accumulate with age: the newest papers (test) have the fewest neighbours
    degree = (ds.graph.degree - 1).double()
    assert degree[ds.train_mask].mean() > 1.5 * degree[ds.test_mask].mean()
    assert degree.max().item() > 100 * degree.median().item()  # hubs


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (
            {"degree_exponent": 1.0},
            ValueError,
            "degree_exponent=1.0 must be a finite number above 1",
        ),
        ({"degree_exponent": "2.1"}, TypeError, "degree_exponent must be a float"),
        ({"seed": -1}, ValueError, "seed"),
        ({"snr": -1.0}, ValueError, "snr=-1.0 is outside"),
    ],
)
def test_arxiv_sbm_rejects_bad_arguments_naming_them(kwargs, error, match):
    from deepgnn.data.arxiv_sbm import arxiv_sbm

    with pytest.raises(error, match=match):
        arxiv_sbm(**kwargs)
