from __future__ import annotations

import numpy as np
import pytest
import torch

import deepgnn
from deepgnn import models
from deepgnn.models.gat import GAT
from deepgnn.models.gcn import GCN, GCNConv

BACKENDS = ["torch", pytest.param("dgl", marks=pytest.mark.dgl)]


def _needs_dgl(backend: str) -> None:
    if backend == "dgl":
        pytest.importorskip("dgl", reason="the dgl extra is not installed")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("depth", [1, 2, 64])
@pytest.mark.parametrize("family", models.available())
def test_every_family_gives_finite_output_states_and_gradients(cora, family, depth, backend):
    _needs_dgl(backend)
    model = models.build(
        family, cora.num_features, cora.num_classes, depth, width=16, seed=0, backend=backend
    )
    states = model.hidden_states(cora.graph, cora.x)
    weights = model.layer_weights()
    assert len(states) == len(weights) + 1
    assert states[0] is cora.x
    out = model(cora.graph, cora.x)
    assert out.shape == (cora.num_nodes, cora.num_classes)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(states[-1], out)
    for state, w in zip(states[1:], weights):
        assert state.shape == (cora.num_nodes, w.fan_out if w.kind == "linear" else state.shape[1])
    torch.nn.functional.cross_entropy(out[cora.train_mask], cora.y[cora.train_mask]).backward()
    for w in weights:
        assert w.grad() is not None and w.grad().shape == w.weight.shape
        assert torch.isfinite(w.grad()).all()
    if family != "rezero":  # ReZero's alpha = 0 blocks the conv gradients at initialization
        assert all(w.grad().abs().sum() > 0 for w in weights)


@pytest.mark.parametrize("family", models.available())
def test_depth_256_is_finite_on_cora(cora, family):
    model = models.build(family, cora.num_features, cora.num_classes, 256, width=8, seed=0)
    out = model(cora.graph, cora.x)
    assert torch.isfinite(out).all()
    # depth counts weighted graph layers, except APPNP's, whose 256 propagation steps have none
    assert len(model.layer_weights()) >= 256 or (family == "appnp" and model.depth == 256)


def _copy_parameters(src: torch.nn.Module, dst: torch.nn.Module) -> None:
    """Copy torch-backend parameters into a dgl-backend model (names differ by '.conv.')."""
    src_params = dict(src.named_parameters())
    with torch.no_grad():
        for name, p in dst.named_parameters():
            p.copy_(src_params[name.replace(".conv.", ".")].reshape(p.shape))
        # weights through their (out, in) views: DGL's GraphConv stores the transpose
        for ws, wd in zip(src.layer_weights(), dst.layer_weights()):
            wd.weight.copy_(ws.weight)


@pytest.mark.dgl
@pytest.mark.parametrize("family", ["gcn", "resgcn", "gated_resgcn", "gat"])
def test_torch_and_dgl_backends_agree_on_cora(cora, family):
    pytest.importorskip("dgl", reason="the dgl extra is not installed")
    kw = dict(width=32, activation="tanh", seed=1)
    a = models.build(family, cora.num_features, cora.num_classes, 8, backend="torch", **kw)
    b = models.build(family, cora.num_features, cora.num_classes, 8, backend="dgl", **kw)
    _copy_parameters(a, b)
    outs = []
    for m in (a, b):
        out = m(cora.graph, cora.x)
        torch.nn.functional.cross_entropy(out[cora.train_mask], cora.y[cora.train_mask]).backward()
        outs.append(out)
    torch.testing.assert_close(outs[1], outs[0], rtol=1e-5, atol=1e-6)
    for wa, wb in zip(a.layer_weights(), b.layer_weights()):
        assert wa.weight.shape == wb.weight.shape
        scale = wa.grad().abs().max()
        torch.testing.assert_close(wb.grad() / scale, wa.grad() / scale, rtol=1e-5, atol=1e-5)


def test_dgl_layer_weights_are_out_in_views_that_write_through():
    pytest.importorskip("dgl", reason="the dgl extra is not installed")
    model = models.build("gcn", 10, 3, 2, width=6, backend="dgl")
    first = model.layer_weights()[0]
    assert first.transposed and first.weight.shape == (6, 10) and first.param.shape == (10, 6)
    with torch.no_grad():
        first.weight[0].fill_(7.0)
    assert (first.param[:, 0] == 7.0).all()


def test_models_accept_a_dgl_graph(cora):
    dgl = pytest.importorskip("dgl", reason="the dgl extra is not installed")
    rows, cols = cora.graph.edge_index
    model = models.build("gcn", cora.num_features, cora.num_classes, 3, seed=0)
    out = model(dgl.graph((rows, cols), num_nodes=cora.num_nodes), cora.x)
    torch.testing.assert_close(out, model(cora.graph, cora.x))


def test_gcn_layer_matches_dense_formula(small_edges):
    g = deepgnn.Graph(small_edges)
    model = models.build("gcn", 3, 2, 1, seed=0)
    x = torch.randn(5, 3)
    a = torch.from_numpy(g.to_scipy().toarray()).float()
    conv = model.convs[0]
    torch.testing.assert_close(model(g, x), a @ x @ conv.weight.t() + conv.bias)


def test_build_seed_is_reproducible_and_leaves_global_rng_alone():
    state = torch.random.get_rng_state()
    a = models.build("resgcn", 5, 3, 4, seed=3)
    b = models.build("resgcn", 5, 3, 4, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


def test_gated_families_expose_gates():
    gated = models.build("gated_resgcn", 5, 3, 4)
    rezero = models.build("rezero", 5, 3, 4)
    assert gated.gates()["alpha"].tolist() == [1.0] * 4
    assert rezero.gates()["alpha"].tolist() == [0.0] * 4
    assert models.build("gcn", 5, 3, 4).gates() == {}


def _normalized(norm: str, z: torch.Tensor) -> torch.Tensor:
    """What each norm computes before its affine (torch's eps=1e-5; PairNorm's 1e-6, scale 1):
    LayerNorm per node over the features (Ba et al. 2016), BatchNorm per feature over the nodes
    with the batch's biased variance (Ioffe & Szegedy 2015), PairNorm eq. 4 of Zhao & Akoglu,
    NodeNorm (p = 1) per node by its own standard deviation, without centering (Zhou et al. 2021)."""
    if norm == "node":
        return z / (z.var(1, unbiased=False, keepdim=True) + 1e-5).sqrt()
    if norm == "layer":
        zc = z - z.mean(1, keepdim=True)
        return zc / (zc.pow(2).mean(1, keepdim=True) + 1e-5).sqrt()
    zc = z - z.mean(0, keepdim=True)
    if norm == "batch":
        return zc / (zc.pow(2).mean(0, keepdim=True) + 1e-5).sqrt()
    return zc / (1e-6 + zc.pow(2).sum(1).mean()).sqrt()


def _norm_inputs_and_outputs(model, graph, x) -> tuple[list, list]:
    """The states of one forward pass and each norm's (input, output)."""
    seen: list = []
    hooks = [n.register_forward_hook(lambda m, i, o: seen.append((i[0], o))) for n in model.norms]
    try:
        states = model.hidden_states(graph, x)
    finally:
        for h in hooks:
            h.remove()
    assert len(seen) == len(model.norms) > 0
    return states, seen


@pytest.mark.parametrize("family", ["gcn", "resgcn"])
@pytest.mark.parametrize("norm", ["layer", "batch", "pair", "node"])
def test_norms_normalize_what_the_conv_gives_them(cora, norm, family):
    x = torch.randn(cora.num_nodes, 16, generator=torch.Generator().manual_seed(0)) * 3
    model = models.build(family, 16, cora.num_classes, 4, norm=norm, activation="identity", seed=0)
    model.train()  # BatchNorm: the batch's statistics, not the running ones
    states, seen = _norm_inputs_and_outputs(model, cora.graph, x)
    for i, (z, out) in enumerate(seen):
        torch.testing.assert_close(out, _normalized(norm, z), rtol=1e-4, atol=1e-4)
        if family == "gcn":  # identity activation, no dropout: the state is the norm's output
            torch.testing.assert_close(states[i + 1], out)
        if norm == "node":  # each node's features: unit std, their mean scaled, not removed
            torch.testing.assert_close(
                out.std(1, unbiased=False), torch.ones(out.shape[0]), atol=1e-3, rtol=0
            )
            assert out.mean(1).abs().max() > 1e-2
        elif norm != "pair":  # LayerNorm: each node; BatchNorm: each feature over the nodes
            dim = 1 if norm == "layer" else 0
            n = out.shape[1 - dim]
            torch.testing.assert_close(out.mean(dim), torch.zeros(n), atol=1e-4, rtol=0)
            var = out.var(dim, unbiased=False)
            torch.testing.assert_close(var, torch.ones(n), atol=1e-3, rtol=0)


@pytest.mark.parametrize("norm", ["layer", "batch"])
def test_norm_affine_comes_after_the_normalization(cora, norm):
    x = torch.randn(cora.num_nodes, 16, generator=torch.Generator().manual_seed(0)) * 3
    model = models.build("gcn", 16, cora.num_classes, 4, norm=norm, activation="identity", seed=0)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for n in model.norms:
            n.weight.copy_(torch.rand(n.weight.shape, generator=gen) + 0.5)
            n.bias.copy_(torch.randn(n.bias.shape, generator=gen))
    model.train()
    _, seen = _norm_inputs_and_outputs(model, cora.graph, x)
    for n, (z, out) in zip(model.norms, seen):
        expected = _normalized(norm, z) * n.weight + n.bias
        torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-4)


def test_batch_norm_uses_running_statistics_in_eval_mode(cora):
    model = models.build("gcn", cora.num_features, cora.num_classes, 3, norm="batch", seed=0)
    model.train()
    model.hidden_states(cora.graph, cora.x)  # one training pass moves the running statistics
    model.eval()
    seen = []
    model.norms[0].register_forward_hook(lambda m, i, o: seen.append((i[0], o)))
    model.hidden_states(cora.graph, cora.x)
    (z, out), bn = seen[0], model.norms[0]
    assert not torch.allclose(bn.running_var, torch.ones_like(bn.running_var))
    expected = (z - bn.running_mean) / (bn.running_var + 1e-5).sqrt() * bn.weight + bn.bias
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-5)


def test_pairnorm_centers_and_rescales():
    pn = models.PairNorm()
    h = pn(torch.randn(50, 8) * 5 + 3)
    torch.testing.assert_close(h.mean(0), torch.zeros(8), atol=1e-5, rtol=0)
    torch.testing.assert_close(h.pow(2).sum(1).mean(), torch.tensor(1.0), atol=1e-4, rtol=0)


def test_nodenorm_root_p_and_its_argument_check():
    z = torch.randn(30, 8, generator=torch.Generator().manual_seed(0)) * 4 + 1
    std = (z.var(1, unbiased=False, keepdim=True) + 1e-5).sqrt()
    torch.testing.assert_close(models.NodeNorm(p=2)(z), z / std.sqrt())
    torch.testing.assert_close(models.NodeNorm()(z * 7), models.NodeNorm()(z), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match=r"p=0.5; pass a finite root p >= 1"):
        models.NodeNorm(p=0.5)


def test_build_unknown_family_lists_choices():
    with pytest.raises(ValueError, match=r"family='gnc' is not one of .*did you mean 'gcn'"):
        models.build("gnc", 5, 3, 2)


def test_build_and_options_take_family_names_in_any_case():
    # before: build("GCN", ...) failed with no suggestion while data.load ignores case
    a = models.build("GCN", 5, 3, 2, seed=0)
    b = models.build("gcn", 5, 3, 2, seed=0)
    assert a.family == "gcn" and all(
        torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters())
    )
    assert models.options("GAT") == models.options("gat") == {"heads": 4}
    with pytest.raises(ValueError, match=r"family='GNC' is not one of"):
        models.build("GNC", 5, 3, 2)


def test_build_unknown_option_lists_accepted_ones():
    with pytest.raises(ValueError, match=r"does not take \['heads'\]; it takes no family options"):
        models.build("gcn", 5, 3, 2, heads=4)
    with pytest.raises(ValueError, match=r"does not take \['head'\]; its options are \['heads'\]"):
        models.build("gat", 5, 3, 2, head=4)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"activation": "tahn"}, ValueError, "did you mean 'tanh'"),
        ({"norm": "pairnorm"}, ValueError, "norm='pairnorm' is not one of"),
        ({"backend": "pyg"}, ValueError, "backend='pyg' is not one of"),
        ({"dropout": 1.5}, ValueError, r"dropout=1.5 is outside \[0, 1\)"),
        ({"width": 0}, ValueError, "width=0 is too small"),
        ({"depth": 0}, ValueError, "depth=0 is too small"),
        ({"depth": 2.0}, TypeError, "depth must be an int"),
        # before: seed=1.5 built with seed 1 and seed=-1 was accepted, while analyze and
        # search refused seed=-1
        ({"seed": 1.5}, TypeError, "seed must be an int >= 0, got float 1.5"),
        ({"seed": -1}, ValueError, "seed=-1 is too small; pass an int >= 0"),
        ({"seed": True}, TypeError, "seed must be an int >= 0, got bool"),
        ({"seed": "0"}, TypeError, "seed must be an int >= 0, got str"),
        # before: torch's "Overflow when unpacking long long" from inside manual_seed
        (
            {"seed": 2**70},
            ValueError,
            r"seed=\d+ is too large; pass an int <= 18446744073709551615",
        ),
        # before: an allocator error (or a swapping machine) from inside the third layer;
        # 3 layers of width 10^6 hold 8e12 bytes of weights, more than any machine here
        (
            {"depth": 3, "width": 10**6},
            ValueError,
            r"build\('gcn', depth=3, width=1000000\) needs about 8 TB for its parameters and "
            r"layer modules, but this machine has .* available; pass a smaller depth or width",
        ),
        ({"depth": 10**12, "width": 2}, ValueError, r"depth=1000000000000, width=2\) needs "),
    ],
)
def test_build_rejects_invalid_arguments(kwargs, error, match):
    args = {"depth": 2, **kwargs}
    with pytest.raises(error, match=match):
        models.build("gcn", 5, 3, **args)


def test_build_takes_numpy_integers_as_ints():
    a = models.build("gcn", 5, 3, np.int64(2), width=np.int32(8), seed=np.int64(3))
    b = models.build("gcn", 5, 3, 2, width=8, seed=3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_gat_width_must_divide_heads():
    with pytest.raises(ValueError, match="width=30 is not divisible by heads=4"):
        models.build("gat", 5, 3, 2, width=30, heads=4)


def test_forward_rejects_features_of_wrong_shape(cora):
    model = models.build("gcn", cora.num_features, cora.num_classes, 2)
    with pytest.raises(ValueError, match=r"x must have shape \(num_nodes=2708, in_dim=1433\)"):
        model(cora.graph, cora.x[:, :100])
    with pytest.raises(
        TypeError, match=r"graph is an edge_index tensor; pass deepgnn.Graph\(edge_index"
    ):
        model(cora.graph.edge_index, cora.x)


def test_forward_refuses_features_in_another_dtype_naming_the_cast(cora):
    model = models.build("gat", cora.num_features, cora.num_classes, 2, width=8, heads=2)
    with pytest.raises(ValueError, match=r"x has dtype torch.float64.*pass x.float\(\)"):
        model(cora.graph, cora.x.double())
    with pytest.raises(ValueError, match=r"x has dtype torch.bool.*pass x.float\(\)"):
        model(cora.graph, cora.x.bool())
    with pytest.raises(
        ValueError, match=r"parameters are torch.float64; pass x.to\(torch.float64\)"
    ):
        model.double()(cora.graph, cora.x)
    assert model(cora.graph, cora.x.double()).dtype == torch.float64


def test_family_class_rejects_unknown_option_naming_the_accepted_ones():
    with pytest.raises(
        ValueError,
        match=r"family 'gat' does not take \['head'\]; its options are \['heads'\]; "
        r"did you mean 'heads'",
    ):
        GAT(5, 3, depth=2, width=8, head=2)
    with pytest.raises(ValueError, match=r"'gcn' does not take \['widht'\].*did you mean 'width'"):
        GCN(5, 3, depth=2, widht=8)


def test_family_options_are_attributes_with_defaults_and_in_the_repr():
    assert GAT(5, 3, depth=2, width=8).heads == models.options("gat")["heads"] == 4
    model = GAT(5, 3, depth=2, width=8, heads=2)
    assert model.heads == 2 and "heads=2" in repr(model)


def test_family_option_named_like_a_common_keyword_is_rejected():
    with pytest.raises(TypeError, match=r"family_options names \['width'\], which GNN already"):

        class Clash(models.GNN):
            family_options = {"width": 3}


def test_registered_family_declaring_only_its_conv_matches_gcn(monkeypatch, small_edges):
    monkeypatch.setattr(models, "_REGISTRY", dict(models._REGISTRY))

    @models.register("plain_gcn")
    class PlainGCN(models.GNN):
        family = "plain_gcn"
        family_options = {"scale": 1.0}

        def _make_conv(self, in_dim, out_dim, *, last):
            return GCNConv(in_dim, out_dim, self.bias)

    assert models.options("plain_gcn") == {"scale": 1.0}
    g, x = deepgnn.Graph(small_edges), torch.randn(5, 3)
    mine = models.build("plain_gcn", 3, 2, 4, width=6, activation="relu", seed=0, scale=0.5)
    ref = models.build("gcn", 3, 2, 4, width=6, activation="relu", seed=0)
    assert mine.scale == 0.5
    assert [w.name for w in mine.layer_weights()] == [w.name for w in ref.layer_weights()]
    states, expected = mine.hidden_states(g, x), ref.hidden_states(g, x)
    assert len(states) == len(mine.layer_weights()) + 1
    assert all(torch.equal(s, e) for s, e in zip(states, expected, strict=True))
    with pytest.raises(ValueError, match=r"does not take \['heads'\]; its options are \['scale'\]"):
        models.build("plain_gcn", 3, 2, 2, heads=4)


def test_family_without_layers_says_which_hook_to_define():
    with pytest.raises(NotImplementedError, match=r"must define _make_conv\(in_dim, out_dim"):
        models.GNN(5, 3, 2)


def _gradients(model, cora) -> list[torch.Tensor]:
    model.zero_grad(set_to_none=True)
    loss = torch.nn.functional.cross_entropy(
        model(cora.graph, cora.x)[cora.train_mask], cora.y[cora.train_mask]
    )
    loss.backward()
    return [p.grad.clone() for p in model.parameters() if p.grad is not None]


@pytest.mark.parametrize("family", models.available())
def test_torch_backend_gradients_are_bit_identical_across_calls_on_the_cpu(cora, family):
    # GAT's gathers t[idx] had index_put_'s parallel float atomics as their backward: 8 calls
    # gave 8 different gradient norms (Cora, depth 4, 2 threads).
    model = models.build(family, cora.num_features, cora.num_classes, 4, width=32, seed=0)
    first = _gradients(model, cora)
    for _ in range(4):
        assert all(torch.equal(a, b) for a, b in zip(first, _gradients(model, cora)))


def test_gat_uses_only_ops_torch_calls_deterministic(cora):
    # Under torch.use_deterministic_algorithms(True) an op with a nondeterministic CPU kernel
    # switches to a deterministic one (index_put_ with accumulate) or raises; GAT's result
    # is the same either way, so it runs none of them.
    model = models.build("gat", cora.num_features, cora.num_classes, 3, width=32, seed=0)
    default = _gradients(model, cora)
    torch.use_deterministic_algorithms(True)
    try:
        strict = _gradients(model, cora)
    finally:
        torch.use_deterministic_algorithms(False)
    assert all(torch.equal(a, b) for a, b in zip(default, strict))


def test_gat_attention_of_bfloat16_features_sums_in_float32_and_returns_bfloat16(cora):
    # Under bf16 autocast fc's output h is bfloat16 and the scores float32: the aggregation
    # equals the float32 one of the same values (bfloat16 -> float32 is exact), rounded once.
    from deepgnn.models.gat import attend

    gen = torch.Generator().manual_seed(0)
    h = torch.randn(cora.num_nodes, 2, 4, generator=gen).bfloat16()
    el, er = torch.randn(2, cora.num_nodes, 2, generator=gen)
    out = attend(cora.graph, h, el, er)
    assert out.dtype == torch.bfloat16
    assert torch.equal(out, attend(cora.graph, h.float(), el, er).bfloat16())
    model = models.build("gat", cora.num_features, cora.num_classes, 2, width=8, heads=2, seed=0)
    with torch.autocast("cpu", dtype=torch.bfloat16, cache_enabled=False):
        logits = model(cora.graph, cora.x)
    logits.float().square().mean().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())
