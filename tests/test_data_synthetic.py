from __future__ import annotations

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
