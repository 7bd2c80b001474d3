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


@pytest.mark.parametrize("family", ["gcn", "resgcn", "gated_resgcn", "gcnii", "jknet", "appnp"])
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


# ---------------------------------------------------- over-smoothing, rank, Jacobian
def _laplacian() -> np.ndarray:
    """L = D - A of EDGES, self loops excluded, built by hand."""
    a = np.zeros((N, N))
    for i, j in EDGES:
        a[i, j] = a[j, i] = 1.0
    return np.diag(a.sum(1)) - a


def test_constant_signal_has_zero_unnormalized_energy_and_zero_mad_but_not_normalized():
    g = _graph()
    h = torch.full((N, 3), 2.5)
    assert signal.dirichlet_energy(h, g) == pytest.approx(0.0, abs=1e-12)
    assert signal.mad(h, g) == (pytest.approx(0.0, abs=1e-12), 0.0)
    assert signal.mad(h)[0] == pytest.approx(0.0, abs=1e-12)
    # irregular degrees: the constant is not in the kernel of I - Â
    assert signal.dirichlet_energy(h, g, normalized=True) > 1e-3


def test_dirichlet_energy_of_laplacian_eigenvectors_is_two_eigenvalues_over_n():
    g = _graph()
    lam, vec = np.linalg.eigh(_laplacian())
    for k in range(N):
        u = torch.from_numpy(vec[:, k])
        assert signal.dirichlet_energy(u, g) == pytest.approx(2 * lam[k] / N, abs=1e-12)
    ahat, d = _dense()
    mu, w = np.linalg.eigh(np.eye(N) - ahat)
    h = torch.from_numpy(w[:, :2] * np.array([1.0, 3.0]))  # energies add over columns
    expected = 2 * (mu[0] + 9 * mu[1]) / N
    assert signal.dirichlet_energy(h, g, normalized=True) == pytest.approx(expected, abs=1e-12)
    sqrt_deg = torch.from_numpy(np.sqrt(d))
    assert signal.dirichlet_energy(sqrt_deg, g, normalized=True) == pytest.approx(0, abs=1e-12)


def test_mad_over_edges_and_sampled_pairs_match_dense_cosine_distances(generator):
    g = _graph()
    h = torch.randn(N, 4, generator=generator, dtype=torch.float64)
    u = h / h.norm(dim=1, keepdim=True)
    dist = (1 - u @ u.T).numpy()
    a = np.zeros((N, N))
    for i, j in EDGES:
        a[i, j] = a[j, i] = 1.0
    expected = ((a * dist).sum(1) / a.sum(1)).mean()
    assert signal.mad(h, g)[0] == pytest.approx(expected, abs=1e-12)
    off = dist[~np.eye(N, dtype=bool)]
    value, err = signal.mad(h, pairs=20000, seed=3)
    assert 0 < err < 0.05
    assert abs(value - off.mean()) < 4 * err
    assert signal.mad(h, pairs=500, seed=3) == signal.mad(h, pairs=500, seed=3)


@pytest.mark.parametrize("shape", [(40, 8), (300, 400)])
def test_numerical_rank_of_rank_k_product_is_k(shape, generator):
    n, d = shape
    for k in (1, 3, 6):
        a = torch.randn(n, k, generator=generator, dtype=torch.float64)
        b = torch.randn(k, d, generator=generator, dtype=torch.float64)
        assert signal.numerical_rank(a @ b) == k
        assert signal.numerical_rank((a @ b).float()) == k
    assert signal.numerical_rank(torch.zeros(n, d)) == 0


def test_effective_rank_of_orthonormal_columns_is_their_number(generator):
    for k in (1, 4, 7):
        q, _ = torch.linalg.qr(torch.randn(30, k, generator=generator, dtype=torch.float64))
        assert signal.effective_rank(q) == pytest.approx(k, rel=1e-9)
        assert signal.effective_rank(q.float()) == pytest.approx(k, rel=1e-5)
    s = torch.tensor([3.0, 1.0], dtype=torch.float64)
    p = s / s.sum()
    h = torch.diag(s)
    assert signal.effective_rank(h) == pytest.approx(math.exp(-(p * p.log()).sum()), rel=1e-12)


def test_analyze_measures_add_columns_and_leave_defaults_unchanged(generator):
    g = _graph()
    x = torch.randn(N, 5, generator=generator)
    m = deepgnn.build("gcn", 5, 3, depth=3, width=4, seed=0)
    plain = signal.analyze(m, g, x)
    full = signal.analyze(m, g, x, measures=("rank", "mad", "dirichlet"))
    pd_cols = list(plain.columns)
    assert list(full.columns[: len(pd_cols)]) == pd_cols
    assert full[pd_cols].equals(plain)
    added = list(full.columns[len(pd_cols) :])
    assert added == [
        "dirichlet",
        "dirichlet_normalized",
        "mad_edges",
        "mad_global",
        "mad_global_stderr",
        "numerical_rank",
        "effective_rank",
    ]
    states = m.hidden_states(g, x)
    for l, h in enumerate(states):
        assert full["dirichlet"][l] == pytest.approx(signal.dirichlet_energy(h, g), rel=1e-9)
        assert full["mad_edges"][l] == pytest.approx(signal.mad(h, g)[0], rel=1e-9)
        assert full["numerical_rank"][l] == signal.numerical_rank(h)
    assert full.attrs["summary"]["dirichlet"] == full["dirichlet"].iloc[-1]
    assert "dirichlet" not in plain.attrs["summary"]


def test_analyze_rejects_unknown_measures():
    g = _graph()
    m = deepgnn.build("gcn", 5, 3, depth=2, seed=0)
    x = torch.randn(N, 5)
    with pytest.raises(ValueError, match="measures='dirichelt'.*did you mean 'dirichlet'"):
        signal.analyze(m, g, x, measures=("dirichelt",))
    with pytest.raises(TypeError, match=r"measures=\('rank',\)"):
        signal.analyze(m, g, x, measures="rank")


def test_cora_tanh_gcn_energy_falls_with_depth_and_measures_are_finite(cora):
    m = deepgnn.build(
        "gcn", cora.num_features, cora.num_classes, depth=16, activation="tanh", seed=0
    )
    init.xavier_(m, generator=torch.Generator().manual_seed(0))
    df = signal.analyze(
        m, cora.graph, cora.x, cora.y, mask=cora.train_mask, measures=signal.MEASURES
    )
    cols = ["dirichlet", "dirichlet_normalized", "mad_edges", "mad_global", "effective_rank"]
    assert np.isfinite(df[cols].to_numpy()).all()
    conv = df[df["kind"] == "conv"]
    # the normalized energy is scale-free: it falls ~20x over 16 layers for every seed tried
    # (0.22 -> 0.004 at layer 12); the unnormalized one also tracks the norm, which Xavier's
    # tanh GCN does not hold constant, so it is not asserted to fall
    e = conv["dirichlet_normalized"].to_numpy()
    assert e[-4:].mean() < 0.1 * e[:4].mean()  # falls with depth (not strictly layer by layer)
    mad = conv["mad_edges"].to_numpy()
    assert mad[-4:].mean() < 0.25 * mad[:4].mean()
    assert (df["numerical_rank"] <= df["width"]).all()


def _exact_jacobian_svdvals(m, g, x):
    jac = torch.autograd.functional.jacobian(lambda z: m(g, z), x)
    out = m(g, x).numel()
    return torch.linalg.svdvals(jac.reshape(out, x.numel()))


@pytest.mark.parametrize("out_dim", [4, 2])
def test_jacobian_spectrum_matches_exact_jacobian(out_dim, generator):
    g = deepgnn.Graph(
        torch.tensor([[0, 1, 2, 3, 4, 5, 6, 7, 8, 0], [1, 2, 3, 4, 5, 6, 7, 8, 9, 5]])
    )
    m = deepgnn.build("gcn", 3, out_dim, depth=3, width=4, activation="tanh", seed=1).double()
    x = torch.randn(10, 3, generator=generator, dtype=torch.float64)
    exact = _exact_jacobian_svdvals(m, g, x)  # 10 * out_dim values
    dim = x.numel()
    full = torch.cat([exact, exact.new_zeros(max(0, dim - exact.numel()))])  # J^T J's zeros
    full = full.sort(descending=True).values
    s = signal.jacobian_spectrum(m, g, x, k=3, steps=dim)
    torch.testing.assert_close(s["top"], full[:3], rtol=1e-8, atol=1e-8)
    # zeros of J come back as sqrt of rounding (~1e-4 here), hence the atol
    torch.testing.assert_close(s["bottom"], full.flip(0)[:3], rtol=1e-5, atol=2e-4)
    short = signal.jacobian_spectrum(m, g, x, k=1, steps=20)
    assert short["top"][0] == pytest.approx(float(full[0]), rel=1e-6)
    assert short["bottom"][0] >= full[-1] - 1e-9  # a Ritz value bounds the smallest from above


def test_jacobian_spectrum_of_linear_gcn_is_product_of_spectra(generator):
    # depth-1 linear GCN: vec(Â X Wᵀ) = (W ⊗ Â) vec(X): singular values σ_i(Â) σ_j(W)
    g = _graph()
    m = deepgnn.build("gcn", 3, 2, depth=1, bias=False, seed=0).double()
    w = m.layer_weights()[0].weight.detach()
    ahat, _ = _dense()
    expected = np.sort(
        np.outer(np.abs(np.linalg.eigvalsh(ahat)), np.linalg.svd(w.numpy())[1]).ravel()
    )
    x = torch.randn(N, 3, generator=generator, dtype=torch.float64)
    s = signal.jacobian_spectrum(m, g, x, k=2, steps=N * 3)
    assert s["top"].numpy() == pytest.approx(expected[::-1][:2], rel=1e-8)


def test_jacobian_spectrum_rejects_bad_k_and_steps():
    g = _graph()
    m = deepgnn.build("gcn", 2, 2, depth=2, width=4, seed=0)
    x = torch.randn(N, 2)
    with pytest.raises(ValueError, match=r"k=0 must be in \[1, 12\]"):
        signal.jacobian_spectrum(m, g, x, k=0)
    with pytest.raises(ValueError, match=r"k=13 must be in \[1, 12\]"):
        signal.jacobian_spectrum(m, g, x, k=13)
    with pytest.raises(TypeError, match="k must be an int"):
        signal.jacobian_spectrum(m, g, x, k=1.5)
    with pytest.raises(ValueError, match=r"steps=2 must be in \[k=3, 12\]"):
        signal.jacobian_spectrum(m, g, x, k=3, steps=2)
    with pytest.raises(TypeError, match="graph"):
        signal.jacobian_spectrum(m, "g", x)


def test_analyze_on_all_zero_features_warns_that_fsp_is_undefined(cora):
    # before: fsp NaN and no word about it
    model = deepgnn.build("gcn", cora.num_features, cora.num_classes, depth=2, seed=0)
    with pytest.warns(
        RuntimeWarning, match=r"x is all zeros, so FSP = \|\|h_L\|\| / \|\|X\|\| is NaN"
    ):
        df = signal.analyze(model, cora.graph, torch.zeros_like(cora.x), cora.y)
    assert math.isnan(df.attrs["summary"]["fsp"])
