from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import deepgnn
from deepgnn import init, signal

EDGES = [(0, 1), (1, 2), (2, 3), (3, 4), (1, 4), (4, 5)]
N = 6


def _graph() -> deepgnn.Graph:
    return deepgnn.Graph(torch.tensor(EDGES).t(), num_nodes=N)


def _dense() -> tuple[np.ndarray, np.ndarray]:
    """(Â, degrees of A + I), built by hand from EDGES."""
    a = np.eye(N)
    for i, j in EDGES:
        a[i, j] = a[j, i] = 1.0
    d = a.sum(1)
    return a / np.sqrt(np.outer(d, d)), d


def test_gev_of_ahat_eigenvector_is_half_one_minus_eigenvalue():
    ahat, _ = _dense()
    lam, vecs = np.linalg.eigh(ahat)
    g = _graph()
    for k in range(N):
        u = torch.from_numpy(vecs[:, k])
        assert signal.gev(u, g) == pytest.approx(0.5 * (1 - lam[k]), abs=1e-12)
    # all columns at once: the mean over columns
    assert signal.gev(torch.from_numpy(vecs), g) == pytest.approx(
        float(np.mean(0.5 * (1 - lam))), abs=1e-12
    )


def test_gev_of_sqrt_degree_vector_is_zero_and_zero_columns_count_as_zero():
    _, d = _dense()
    g = _graph()
    smooth = torch.from_numpy(np.sqrt(d)).float()
    assert abs(signal.gev(smooth, g)) < 1e-7
    ahat, _ = _dense()
    lam, vecs = np.linalg.eigh(ahat)
    h = torch.zeros(N, 2, dtype=torch.float64)
    h[:, 0] = torch.from_numpy(vecs[:, 0])
    assert signal.gev(h, g) == pytest.approx(0.25 * (1 - lam[0]), abs=1e-12)


@pytest.mark.parametrize("magnitude", [1e-30, 1e30])
def test_gev_of_collapsed_or_exploded_float32_states_is_scale_free(magnitude):
    ahat, _ = _dense()
    lam, vecs = np.linalg.eigh(ahat)
    h = torch.from_numpy(vecs[:, [1, 3]] * magnitude).float()  # squares leave float32's range
    expected = float(np.mean(0.5 * (1 - lam[[1, 3]])))
    assert signal.gev(h, _graph()) == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("family", ["gcn", "resgcn", "gated_resgcn"])
def test_gradient_norms_equal_manual_autograd(family, generator):
    g = _graph()
    x = torch.randn(N, 5, generator=generator)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    mask = torch.tensor([True, True, False, True, False, True])
    model = deepgnn.build(family, 5, 3, depth=3, width=8, dropout=0.5, seed=0)
    model.train()
    df = deepgnn.analyze(model, g, x, y, mask=mask)
    assert model.training
    assert all(p.grad is None for p in model.parameters())  # analyze leaves .grad alone

    model.eval()  # analyze measures without dropout
    loss = F.cross_entropy(model(g, x)[mask], y[mask])
    loss.backward()
    manual = [float(lw.param.grad.norm()) for lw in model.layer_weights()]
    assert list(df["grad_norm"][1:]) == pytest.approx(manual, rel=1e-5)
    assert math.isnan(df["grad_norm"][0])
    states = model.hidden_states(g, x)
    assert list(df["norm"]) == pytest.approx([float(s.detach().norm()) for s in states], rel=1e-5)
    s = df.attrs["summary"]
    assert s["loss"] == pytest.approx(float(loss.detach()), rel=1e-6)
    assert s["bsp"] == pytest.approx(manual[0], rel=1e-5)
    assert s["fsp"] == pytest.approx(float(states[-1].detach().norm() / x.norm()), rel=1e-5)


def test_summary_forms_follow_their_definitions(generator):
    g = _graph()
    x = torch.randn(N, 5, generator=generator)
    model = deepgnn.build("gcn", 5, 3, depth=5, width=8, seed=1)
    df = deepgnn.analyze(model, g, x, seed=3)
    s = df.attrs["summary"]
    n = df["norm_per_sqrt_width"].to_numpy()[1:-1]  # interior states
    gr = df["grad_norm"].to_numpy()[1:]
    assert s["fsp_divide_stable"] == pytest.approx((n.max() / n.min() - 1) ** 2, rel=1e-6)
    assert s["bsp_divide_stable"] == pytest.approx((gr.max() / gr.min() - 1) ** 2, rel=1e-6)
    norms = df["norm"].to_numpy()
    assert s["fsp_divide_old"] == pytest.approx((norms[1] / norms[-2] - 1) ** 2, rel=1e-6)
    assert s["bsp_divide_old"] == pytest.approx((gr[1] / gr[-2] - 1) ** 2, rel=1e-6)
    assert s["gev"] == pytest.approx(signal.gev(model(g, x).detach(), g), rel=1e-6)
    assert s["gev_input"] == pytest.approx(signal.gev(x, g))
    states = model.hidden_states(g, x)
    assert s["gev_hidden"] == pytest.approx(signal.gev(states[-2].detach(), g), rel=1e-6)
    # state="logits": the same lists with the logits appended (the authors' Cora notebook)
    n_logits = df["norm_per_sqrt_width"].to_numpy()[1:]
    expected = (n_logits.max() / n_logits.min() - 1) ** 2
    assert s["fsp_divide_stable_logits"] == pytest.approx(expected, rel=1e-6)
    assert s["fsp_divide_old_logits"] == pytest.approx((norms[1] / norms[-1] - 1) ** 2, rel=1e-6)
    assert s["gev_gap"] == pytest.approx((s["gev_input"] - s["gev"]) ** 2)
    assert s["gev_gap_hidden"] == pytest.approx((s["gev_input"] - s["gev_hidden"]) ** 2)
    assert s["objective"] == pytest.approx(
        s["fsp_divide_stable"] + s["bsp_divide_stable"] + (s["gev_input"] - s["gev_hidden"]) ** 2
    )
    # random labels are drawn from the seed: same seed, same table
    again = deepgnn.analyze(model, g, x, seed=3)
    assert again.attrs["summary"]["loss"] == s["loss"]


def test_cora_depth_64_tanh_collapses_under_conventional_but_not_xavier(cora):
    fsp = {}
    for name in ("conventional", "xavier"):
        model = deepgnn.build("gcn", cora.num_features, cora.num_classes, 64, activation="tanh")
        init.init_(model, name, generator=torch.Generator().manual_seed(42))
        df = deepgnn.analyze(model, cora.graph, cora.x, cora.y, mask=cora.train_mask)
        fsp[name] = df.attrs["summary"]["fsp"]
        assert not df.attrs["summary"]["diverged"]
    assert fsp["conventional"] < 1e-10
    assert fsp["xavier"] > 1e-3


def test_analyze_flags_divergence_instead_of_raising(generator):
    g = _graph()
    x = torch.randn(N, 5, generator=generator)
    model = deepgnn.build("gcn", 5, 3, depth=6, width=8, activation="identity", seed=0)
    init.scale_(model, 1e12)  # (1e12)^6 overflows float32
    df = deepgnn.analyze(model, g, x)
    assert df.attrs["summary"]["diverged"] is True
    assert not df["finite"].all() and df["finite"][0]
    assert not math.isfinite(df.attrs["summary"]["fsp"])


def test_large_finite_states_are_not_flagged_diverged(generator):
    g = _graph()
    x = torch.randn(N, 5, generator=generator)
    model = deepgnn.build("gcn", 5, 3, depth=4, width=8, activation="identity", seed=0)
    init.scale_(model, [1e7, 1e7, 1e7, 1.0])  # entries ~1e21: squares overflow float32
    df = deepgnn.analyze(model, g, x)
    states = model.hidden_states(g, x)
    assert all(torch.isfinite(s).all() for s in states)
    assert not df.attrs["summary"]["diverged"] and df["finite"].all()
    expected = [float(s.detach().double().norm()) for s in states]
    assert list(df["norm"]) == pytest.approx(expected, rel=1e-6)
    assert expected[-1] > 1e19


@pytest.mark.dgl
def test_analyze_dgl_backend_matches_torch_backend(cora):
    pytest.importorskip("dgl")
    ds = cora
    torch_model = deepgnn.build("gcn", ds.num_features, ds.num_classes, 4, seed=0)
    dgl_model = deepgnn.build("gcn", ds.num_features, ds.num_classes, 4, backend="dgl")
    with torch.no_grad():
        for a, b in zip(torch_model.layer_weights(), dgl_model.layer_weights()):
            b.weight.copy_(a.weight)
    dfs = [
        deepgnn.analyze(m, ds.graph, ds.x, ds.y, mask=ds.train_mask)
        for m in (torch_model, dgl_model)
    ]
    for col in ("norm", "grad_norm", "gev"):
        np.testing.assert_allclose(dfs[1][col], dfs[0][col], rtol=1e-4)
    assert dfs[1].attrs["summary"]["fsp"] == pytest.approx(dfs[0].attrs["summary"]["fsp"], rel=1e-4)


def test_analyze_rejects_bad_operands(generator):
    g = _graph()
    x = torch.randn(N, 5, generator=generator)
    model = deepgnn.build("gcn", 5, 3, depth=2)
    with pytest.raises(ValueError, match="mask must be a bool tensor"):
        deepgnn.analyze(model, g, x, torch.zeros(N, dtype=torch.long), mask=torch.ones(N))
    with pytest.raises(ValueError, match="out_dim=3"):
        deepgnn.analyze(model, g, x, torch.full((N,), 5))
    with pytest.raises(ValueError, match="form='old'"):
        signal.objective({}, form="old")


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        # before: torch's "expected m1 and m2 to have the same dtype" from inside a layer
        ({"x": lambda x: x.double()}, ValueError, r"x has dtype torch.float64.*pass x.float\(\)"),
        ({"x": lambda x: x.long()}, ValueError, r"x has dtype torch.int64.*pass x.float\(\)"),
        ({"x": lambda x: x.masked_fill(x > 0, float("nan"))}, ValueError, r"x holds \d+ NaN/inf"),
        # before: torch's "expected target dtype to be Long or Byte, but got Bool"
        ({"y": lambda y: y.bool()}, ValueError, r"y must be an integer tensor.*torch.bool"),
        ({"y": lambda y: y.float()}, ValueError, r"y must be an integer tensor.*torch.float32"),
        ({"y": lambda y: y - 5}, ValueError, r"y holds label -5.*-1 for an unlabelled"),
        ({"y": lambda y: torch.full_like(y, -1)}, ValueError, r"y labels no node"),
        ({"seed": 1.5}, TypeError, r"seed must be an int >= 0, got float 1.5"),
        ({"seed": -1}, ValueError, r"seed=-1 is too small"),
        ({"mask": lambda m: m.long()}, ValueError, r"mask must be a bool tensor.*got torch.int64"),
    ],
)
def test_analyze_names_the_operand_of_bad_dtype_or_value(change, error, match, generator):
    g = _graph()
    model = deepgnn.build("gcn", 5, 3, depth=2, seed=0)
    args = {
        "x": torch.randn(N, 5, generator=generator),
        "y": torch.tensor([0, 1, 2, 0, 1, 2]),
        "mask": None,
        "seed": 0,
    }
    for key, value in change.items():
        if key == "mask":
            args["mask"] = value(torch.ones(N, dtype=torch.bool))
        else:
            args[key] = value(args[key]) if callable(value) else value
    with pytest.raises(error, match=match):
        deepgnn.analyze(model, g, args["x"], args["y"], mask=args["mask"], seed=args["seed"])


def test_analyze_takes_labels_of_any_integer_dtype(generator):
    g = _graph()
    x = torch.randn(N, 5, generator=generator)
    model = deepgnn.build("gcn", 5, 3, depth=2, seed=0)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    ref = deepgnn.analyze(model, g, x, y).attrs["summary"]
    for dtype in (torch.int32, torch.int16, torch.uint8):
        got = deepgnn.analyze(model, g, x, y.to(dtype)).attrs["summary"]
        assert got["loss"] == ref["loss"] and got["bsp"] == ref["bsp"]
    assert deepgnn.analyze(model.double(), g, x.double(), y).attrs["summary"]["loss"] == (
        pytest.approx(ref["loss"], rel=1e-5)
    )
