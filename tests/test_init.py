from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

import deepgnn
from deepgnn import init, models
from deepgnn.models import available

# A 6-node graph: path 0-1-2-3-4 plus the chord 1-4 and an isolated node 5.
EDGES = [(0, 1), (1, 2), (2, 3), (3, 4), (1, 4)]
N = 6


def _graph() -> deepgnn.Graph:
    return deepgnn.Graph(torch.tensor(EDGES).t(), num_nodes=N)


def _dense_ahat() -> np.ndarray:
    """Â = D^-1/2 (A + I) D^-1/2 built by hand from EDGES."""
    a = np.eye(N)
    for i, j in EDGES:
        a[i, j] = a[j, i] = 1.0
    d = a.sum(1)
    return a / np.sqrt(np.outer(d, d))


def _ks(w: torch.Tensor, dist: str, std: float) -> float:
    sample = w.detach().flatten().double().numpy()
    if dist == "uniform":
        bound = math.sqrt(3.0) * std
        return stats.kstest(sample, stats.uniform(loc=-bound, scale=2 * bound).cdf).pvalue
    return stats.kstest(sample, stats.norm(scale=std).cdf).pvalue


def _hidden(model) -> torch.Tensor:
    return model.layer_weights()[1].weight.detach()  # a (64, 64) layer: 4096 samples


@pytest.mark.parametrize("distribution", ["uniform", "normal"])
def test_xavier_variance_matches_glorot_formula(distribution, generator):
    model = deepgnn.build("gcn", 100, 7, depth=3, width=64)
    init.xavier_(model, distribution=distribution, gain=1.5, generator=generator)
    std = 1.5 * math.sqrt(2.0 / (64 + 64))
    assert _ks(_hidden(model), distribution, std) > 1e-3
    # the same sample is rejected against a 20% wrong standard deviation
    assert _ks(_hidden(model), distribution, 1.2 * std) < 1e-3
    first = model.layer_weights()[0].weight  # (64, 100): fans differ
    assert _ks(first, distribution, 1.5 * math.sqrt(2.0 / 164)) > 1e-3


@pytest.mark.parametrize(
    "mode, nonlinearity, gain", [("fan_in", "relu", math.sqrt(2)), ("fan_out", "tanh", 5 / 3)]
)
def test_kaiming_variance_matches_he_formula(mode, nonlinearity, gain, generator):
    model = deepgnn.build("gcn", 300, 7, depth=2, width=64)
    init.kaiming_(model, mode=mode, nonlinearity=nonlinearity, generator=generator)
    first = model.layer_weights()[0].weight  # (64, 300)
    fan = 300 if mode == "fan_in" else 64
    assert _ks(first, "normal", gain / math.sqrt(fan)) > 1e-3
    assert _ks(first, "normal", gain / math.sqrt(364 - fan)) < 1e-3


def test_conventional_draws_uniform_weights_and_zero_biases(generator):
    model = deepgnn.build("gcn", 100, 7, depth=3, width=64)
    init.conventional_(model, generator=generator)
    assert _ks(_hidden(model), "uniform", 1 / math.sqrt(3 * 64)) > 1e-3
    assert all(float(lw.bias.detach().abs().max()) == 0.0 for lw in model.layer_weights())
    init.conventional_(model, bias="uniform", generator=generator)
    b = model.layer_weights()[0].bias.detach()
    assert 0 < float(b.abs().max()) <= 1 / math.sqrt(100)


def test_lecun_uses_fan_in(generator):
    model = deepgnn.build("gcn", 400, 7, depth=2, width=64)
    init.lecun_(model, generator=generator)
    assert _ks(model.layer_weights()[0].weight, "normal", 1 / math.sqrt(400)) > 1e-3


def test_orthogonal_gives_scaled_orthonormal_rows(generator):
    model = deepgnn.build("gcn", 100, 7, depth=3, width=64)
    init.orthogonal_(model, gain=2.0, generator=generator)
    w = _hidden(model).detach()
    torch.testing.assert_close(w @ w.t(), 4.0 * torch.eye(64), atol=1e-4, rtol=0)
    w0 = model.layer_weights()[0].weight.detach()  # (64, 100): orthonormal rows
    torch.testing.assert_close(w0 @ w0.t(), 4.0 * torch.eye(64), atol=1e-4, rtol=0)


def test_virgo_variance_matches_hand_computation_on_known_graph(generator):
    g = _graph()
    x = torch.arange(N * 5, dtype=torch.float32).reshape(N, 5).sin() + 1.0
    model = deepgnn.build("gcn", 5, 3, depth=3, width=64)
    p = _dense_ahat()
    xbar = x.double().numpy().mean(1)
    one = np.ones(N)

    def sq(v, k):
        return float(np.sum((np.linalg.matrix_power(p, k) @ v) ** 2))

    m, c = 64, 3
    fwd = [2 / 5, 2 / m * sq(xbar, 1) / sq(xbar, 2), 2 / m * sq(xbar, 2) / sq(xbar, 3)]
    bwd = [
        2 / m * sq(one, 2) / sq(one, 3),
        2 / m * sq(one, 1) / sq(one, 2),
        N / ((c - 1) * sq(one, 1)),
    ]
    expected = [2 / (1 / f + 1 / b) for f, b in zip(fwd, bwd)]
    assert init.virgo_variances(model, g, x) == pytest.approx(expected, rel=1e-9)

    init.virgo_(model, g, x, generator=generator)
    w = _hidden(model)
    bound = math.sqrt(3 * expected[1])
    assert float(w.abs().max()) <= bound and float(w.abs().max()) > 0.99 * bound
    assert _ks(w, "uniform", math.sqrt(expected[1])) > 1e-3


def test_virgo_rejects_features_with_zero_node_means():
    model = deepgnn.build("gcn", 2, 3, depth=2)
    x = torch.tensor([[1.0, -1.0]] * N)
    with pytest.raises(ValueError, match="zero per-node feature mean"):
        init.virgo_(model, _graph(), x)


def test_ginit_variance_uses_mean_squared_singular_value_of_ahat(generator):
    g = _graph()
    s = float(np.sum(_dense_ahat() ** 2)) / N
    # the mean squared singular value, as the docstring claims
    assert s == pytest.approx(float(np.mean(np.linalg.svd(_dense_ahat())[1] ** 2)))
    model = deepgnn.build("resgcn", 10, 3, depth=2, width=64)
    variances = init.ginit_variances(model, g)
    # in_proj (linear): Kaiming; convs: Kaiming / s; out_proj (linear): Kaiming
    assert variances == pytest.approx([2 / 10, 2 / (64 * s), 2 / (64 * s), 2 / 64])
    init.ginit_(model, g, generator=generator)
    assert _ks(model.layer_weights()[1].weight, "normal", math.sqrt(2 / (64 * s))) > 1e-3


def test_ginit_is_kaiming_on_a_graph_without_edges():
    g = deepgnn.Graph(torch.zeros(2, 0, dtype=torch.long), num_nodes=4)
    model = deepgnn.build("gcn", 10, 3, depth=3, width=32)
    assert init.ginit_variances(model, g) == pytest.approx([2 / 10, 2 / 32, 2 / 32])


@pytest.mark.parametrize("backend", ["torch", pytest.param("dgl", marks=pytest.mark.dgl)])
@pytest.mark.parametrize("family", available())
def test_every_init_redraws_every_layer_of_every_family(family, backend, cora):
    if backend == "dgl":
        pytest.importorskip("dgl")
    model = deepgnn.build(family, 30, 4, depth=2, width=16, backend=backend)
    g = deepgnn.Graph(torch.tensor([[0, 1, 2], [1, 2, 3]]))
    x = torch.rand(4, 30) + 0.5
    for k, name in enumerate(init.available()):
        before = [lw.weight.detach().clone() for lw in model.layer_weights()]
        with torch.no_grad():
            for lw in model.layer_weights():
                if lw.bias is not None:
                    lw.bias.fill_(1.0)
        gen = torch.Generator().manual_seed(k)  # ginit and kaiming agree on projections
        # spoginit draws Xavier, then searches: a 3-evaluation search keeps this test short
        opts = {"n_trials": 3, "progress": False} if name == "spoginit" else {}
        assert init.init_(model, name, graph=g, x=x, generator=gen, **opts) is model
        for lw, old in zip(model.layer_weights(), before):
            assert not torch.equal(lw.weight, old), (name, lw.name)
            assert lw.bias is None or float(lw.bias.detach().abs().max()) == 0.0
        assert torch.isfinite(model(g, x)).all()


@pytest.mark.dgl
def test_fan_based_init_sees_out_in_orientation_on_dgl_backend(generator):
    pytest.importorskip("dgl")
    model = deepgnn.build("gcn", 100, 7, depth=2, width=64, backend="dgl")
    assert model.layer_weights()[0].param.shape == (100, 64)  # DGL stores (in, out)
    init.kaiming_(model, generator=generator)
    std = math.sqrt(2 / 100)  # fan_in = 100, not 64
    assert _ks(model.layer_weights()[0].param, "normal", std) > 1e-3
    assert _ks(model.layer_weights()[0].param, "normal", math.sqrt(2 / 64)) < 1e-3


@pytest.mark.dgl
@pytest.mark.parametrize(
    "scheme", ["conventional", "xavier", "kaiming", "lecun", "orthogonal", "virgo", "ginit"]
)
def test_same_seed_draws_the_same_weights_on_both_backends(scheme, cora):
    # before: xavier_ from one seed gave the dgl backend other weights than the torch one for
    # gcn, resgcn and gcnii (the transposed (in, out) weight was filled in storage order)
    pytest.importorskip("dgl")
    for family in models.available():
        weights = []
        for backend in ("torch", "dgl"):
            try:
                model = deepgnn.build(family, cora.num_features, 7, 3, width=8, backend=backend)
            except (ValueError, ImportError):
                break  # a family without a DGL layer
            init.init_(
                model,
                scheme,
                graph=cora.graph,
                x=cora.x,
                generator=torch.Generator().manual_seed(0),
            )
            weights.append([lw.weight.detach().clone() for lw in model.layer_weights()])
        if len(weights) == 2:
            assert all(torch.equal(a, b) for a, b in zip(*weights)), (scheme, family)


@pytest.mark.parametrize("family, alpha", [("gated_resgcn", 1.0), ("rezero", 0.0)])
def test_gates_are_reset_per_family_and_scalable(family, alpha, generator):
    model = deepgnn.build(family, 8, 3, depth=4, width=16)
    with torch.no_grad():
        model.gates()["alpha"].fill_(0.3)
        model.gates()["beta"].fill_(0.3)
    init.xavier_(model, generator=generator)
    assert model.gates()["alpha"].tolist() == [alpha] * 4
    assert model.gates()["beta"].tolist() == [1.0] * 4
    init.scale_(model, 1.0, gates={"beta": [1.0, 0.5, 0.25, 2.0], "alpha": 3.0})
    assert model.gates()["beta"].tolist() == [1.0, 0.5, 0.25, 2.0]
    assert model.gates()["alpha"].tolist() == [3.0 * alpha] * 4


def test_scale_multiplies_each_layer_and_checks_length(generator):
    model = deepgnn.build("resgcn", 8, 3, depth=2, width=16)
    init.xavier_(model, generator=generator)
    before = [lw.weight.detach().clone() for lw in model.layer_weights()]
    scales = [0.5, 2.0, 3.0, 0.1]
    init.scale_(model, torch.tensor(scales))
    for lw, old, c in zip(model.layer_weights(), before, scales):
        torch.testing.assert_close(lw.weight.detach(), c * old)
    with pytest.raises(ValueError, match="has 3 entries but the model has 4"):
        init.scale_(model, [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="has none"):
        init.scale_(model, 1.0, gates={"alpha": 1.0})
    # A SearchResult of a family without gates has gates={}: applying it must work.
    init.scale_(model, 2.0, gates={})
    for lw, old, c in zip(model.layer_weights(), before, scales):
        torch.testing.assert_close(lw.weight.detach(), 2 * c * old)


def test_init_dispatch_errors_name_the_fix():
    model = deepgnn.build("gcn", 8, 3, depth=2)
    with pytest.raises(ValueError, match="did you mean 'xavier'"):
        init.init_(model, "xavir")
    with pytest.raises(ValueError, match="needs graph="):
        init.init_(model, "virgo")
    with pytest.raises(ValueError, match="does not take \\['mode'\\]"):
        init.init_(model, "xavier", mode="fan_in")
    with pytest.raises(ValueError, match="distribution='gauss'"):
        init.xavier_(model, distribution="gauss")
    with pytest.raises(TypeError, match="deepgnn.models.GNN"):
        init.xavier_(torch.nn.Linear(2, 2))


@pytest.mark.parametrize("family", ["resgcn", "gated_resgcn"])
def test_xavier_conv_layers_redraws_only_the_convolutions_as_the_authors_residual_glorot(
    family, generator
):
    # The authors' ResGCN "glorot": xavier_uniform_ and zero bias on each GCNConv, the
    # projections at nn.Linear's default (models/model.py, models/GCN_layer.py).
    model = deepgnn.build(family, 100, 7, depth=3, width=64, seed=0)
    with torch.no_grad():
        model.gates().get("alpha", torch.zeros(0)).fill_(0.3)
        for lw in model.layer_weights():
            lw.bias.fill_(0.5)
    before = {lw.name: (lw.weight.clone(), lw.bias.clone()) for lw in model.layer_weights()}
    assert init.xavier_(model, layers="conv", generator=generator) is model
    for lw in model.layer_weights():
        weight, bias = before[lw.name]
        if lw.kind == "conv":
            assert not torch.equal(lw.weight, weight)
            assert float(lw.bias.detach().abs().max()) == 0.0
        else:  # the projections keep their weights and biases
            assert torch.equal(lw.weight, weight) and torch.equal(lw.bias, bias)
    assert _ks(_hidden(model), "uniform", math.sqrt(2.0 / 128)) > 1e-3
    if family == "gated_resgcn":
        assert model.gates()["alpha"].tolist() == [1.0] * 3  # gates reset as with "all"
    with pytest.raises(ValueError, match="layers='convs'"):
        init.xavier_(model, layers="convs")


def test_xavier_conv_layers_is_xavier_for_a_gcn(generator):
    a = deepgnn.build("gcn", 20, 3, depth=3, width=16)
    b = deepgnn.build("gcn", 20, 3, depth=3, width=16)
    init.xavier_(a, generator=torch.Generator().manual_seed(5))
    init.xavier_(b, layers="conv", generator=torch.Generator().manual_seed(5))
    for la, lb in zip(a.layer_weights(), b.layer_weights()):
        assert torch.equal(la.weight, lb.weight)


_NAN, _INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda m, g, x: init.scale_(m, _NAN), ValueError, r"scales=nan is not a finite number"),
        (lambda m, g, x: init.scale_(m, _INF), ValueError, r"scales=inf is not a finite number"),
        (lambda m, g, x: init.scale_(m, [1.0, "2", 1.0]), TypeError, "scales must be a number"),
        (lambda m, g, x: init.xavier_(m, gain=_NAN), ValueError, r"gain=nan is not a finite.*> 0"),
        (lambda m, g, x: init.xavier_(m, gain=-1), ValueError, r"gain=-1 is not a finite.*> 0"),
        (lambda m, g, x: init.xavier_(m, gain=0), ValueError, r"gain=0 .*pass e.g. gain=1.0"),
        (lambda m, g, x: init.xavier_(m, gain="1"), TypeError, "gain must be a number"),
        (lambda m, g, x: init.orthogonal_(m, gain=_INF), ValueError, r"gain=inf is not a finite"),
        (lambda m, g, x: init.orthogonal_(m, gain=_NAN), ValueError, r"gain=nan is not a finite"),
        (lambda m, g, x: init.xavier_(m, gain=1e300), ValueError, r"gain=1e\+300 draws weights"),
        (lambda m, g, x: init.orthogonal_(m, gain=1e39), ValueError, r"beyond .* torch.float32"),
        (
            lambda m, g, x: init.kaiming_(m, nonlinearity="leaky_relu", negative_slope=_NAN),
            ValueError,
            r"negative_slope=nan is not a finite number",
        ),
        (lambda m, g, x: init.init_(m, "xavier", gain=_INF), ValueError, r"gain=inf"),
        (
            lambda m, g, x: init.virgo_(m, g, x.masked_fill(x > 1.0, _NAN)),
            ValueError,
            r"x holds \d+ NaN/inf entries",
        ),
        (
            lambda m, g, x: init.virgo_(m, g, torch.full_like(x, _INF)),
            ValueError,
            r"x holds 30 NaN/inf entries",
        ),
        (
            # finite, but ‖x̄‖² overflows float64
            lambda m, g, x: init.virgo_(m, g, x.double().abs() * 1e160),
            ValueError,
            r"‖Âˡx̄‖² = inf.*rescale x",
        ),
    ],
)
def test_init_arguments_that_would_draw_nan_weights_are_refused(call, error, match, generator):
    # Before: scale_ and orthogonal_ silently gave NaN weights; xavier_, kaiming_ and virgo_
    # reached torch's "from is out of bounds" / "normal expects std >= 0.0".
    model = deepgnn.build("gcn", 5, 3, depth=3, width=8, seed=0)
    before = [lw.weight.clone() for lw in model.layer_weights()]
    x = torch.randn(N, 5, generator=generator) + 1.0
    with pytest.raises(error, match=match):
        call(model, _graph(), x)
    assert all(torch.equal(lw.weight, w) for lw, w in zip(model.layer_weights(), before))


def _saved_scales(tmp_path, family="gcn", depth=3, **options):
    from deepgnn.search import SearchResult

    model = deepgnn.build(family, 6, 2, depth, width=8, seed=0, **options)
    n = len(model.layer_weights())
    gates = {k: [0.5] * depth for k in model.gates()}
    result = SearchResult(
        "gradient", [0.5 + 0.25 * i for i in range(n)], gates, 1.0, {}, None, 0, 0.0
    )
    return model, result.save(tmp_path / "scales.pt", model)


def test_load_scales_multiplies_each_layer_by_its_saved_scale(tmp_path):
    model, path = _saved_scales(tmp_path, "gated_resgcn")
    before = [lw.weight.clone() for lw in model.layer_weights()]
    alpha = model.gates()["alpha"].clone()
    init.load_scales_(model, path)
    for i, (lw, w) in enumerate(zip(model.layer_weights(), before)):
        assert torch.equal(lw.weight, w * (0.5 + 0.25 * i))
    assert torch.equal(model.gates()["alpha"], alpha * 0.5)


@pytest.mark.parametrize(
    ("model", "match"),
    [
        (lambda: deepgnn.build("resgcn", 6, 2, 3, width=8), r"model has family='resgcn'"),
        (lambda: deepgnn.build("gcn", 6, 2, 4, width=8), r"model has depth=4 \(the file: 3\)"),
        (
            lambda: deepgnn.build("gcn", 6, 2, 3, width=16),
            r"width=16 .*build the model with width=8",
        ),
        (lambda: deepgnn.build("gcn", 7, 2, 3, width=8), r"model has in_dim=7"),
    ],
    ids=["family", "depth", "width", "in_dim"],
)
def test_load_scales_refuses_another_architecture_naming_the_fix(tmp_path, model, match):
    _, path = _saved_scales(tmp_path)
    with pytest.raises(ValueError, match=match + r".*or search this model"):
        init.load_scales_(model(), path)


def test_load_scales_names_a_missing_or_foreign_file(tmp_path):
    model = deepgnn.build("gcn", 6, 2, 3, width=8)
    with pytest.raises(FileNotFoundError, match=r"path='\S+missing.pt': no scales file there"):
        init.load_scales_(model, tmp_path / "missing.pt")
    torch.save({"scales": [1.0]}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="is not a scales file .*deepgnn search ... --save"):
        init.load_scales_(model, tmp_path / "other.pt")
    (tmp_path / "text.pt").write_text("scales")
    with pytest.raises(ValueError, match="is not a scales file"):
        init.load_scales_(model, tmp_path / "text.pt")
