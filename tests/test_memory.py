"""Activation memory at depth: ``checkpoint=`` segments and the reversible ``revgcn``."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import deepgnn
from deepgnn import init, models
from deepgnn.bench.memory import saved_tensor_bytes


@pytest.fixture(scope="module")
def small(cora):
    """Cora's graph with 12 random float64 features: a float64 model stays quick."""
    gen = torch.Generator().manual_seed(0)
    return cora.graph, torch.randn(cora.num_nodes, 12, generator=gen, dtype=torch.float64), cora


def _loss_and_grads(model, graph, x, cora, *, rng_seed=7, create_graph=False):
    torch.manual_seed(rng_seed)
    out = model(graph, x)
    loss = F.cross_entropy(out[cora.train_mask], cora.y[cora.train_mask])
    params = [p for p in model.parameters()]
    grads = torch.autograd.grad(loss, params, create_graph=create_graph)
    return loss, grads


def _max_diff(a, b) -> float:
    return max(float((u - v).abs().max()) for u, v in zip(a, b))


def _build(family, depth, **kwargs):
    kwargs.setdefault("width", 12)
    return models.build(family, 12, 7, depth, seed=0, **kwargs).double()


# ------------------------------------------------------------------------- checkpoint=
@pytest.mark.parametrize(
    ("family", "options", "norm", "checkpoint"),
    [
        ("resgcn", {}, None, 1),
        ("resgcn", {}, "batch", 3),
        ("resgcn", {}, "layer", True),
        ("gcn", {}, None, 2),
        ("gcn", {}, "batch", True),
        ("gat", {"heads": 2}, None, 3),
        ("gated_resgcn", {}, "pair", 2),
        ("revgcn", {"reversible": False}, "batch", 5),
        ("gcnii", {}, None, 2),
        ("gcnii", {}, "batch", True),
    ],
)
def test_checkpointed_model_matches_plain_loss_gradients_and_running_stats(
    small, family, options, norm, checkpoint
):
    graph, x, cora = small
    kw = dict(dropout=0.3, norm=norm, **options)
    plain = _build(family, 7, **kw)
    ckpt = _build(family, 7, checkpoint=checkpoint, **kw)
    loss_p, grads_p = _loss_and_grads(plain, graph, x, cora)
    loss_c, grads_c = _loss_and_grads(ckpt, graph, x, cora)
    assert abs(float(loss_p.detach() - loss_c.detach())) <= 1e-10
    assert _max_diff(grads_p, grads_c) <= 1e-10
    # The recomputation must not fold the batch into BatchNorm's running statistics again.
    for bp, bc in zip(plain.buffers(), ckpt.buffers()):
        assert torch.equal(bp, bc)
    # hidden_states runs unsegmented and agrees
    plain.eval(), ckpt.eval()
    for a, b in zip(plain.hidden_states(graph, x), ckpt.hidden_states(graph, x)):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    # The masks are in use: another RNG seed gives another loss.
    ckpt.train()
    other, _ = _loss_and_grads(ckpt, graph, x, cora, rng_seed=8)
    assert abs(float(other.detach() - loss_c.detach())) > 1e-6


def test_checkpoint_stores_fewer_saved_bytes_than_plain(small):
    graph, x, _ = small
    plain, ckpt = _build("resgcn", 36), _build("resgcn", 36, checkpoint=True)
    _, b_plain = saved_tensor_bytes(lambda: plain(graph, x), exclude=list(plain.parameters()))
    _, b_ckpt = saved_tensor_bytes(lambda: ckpt(graph, x), exclude=list(ckpt.parameters()))
    state = graph.num_nodes * 12 * 8
    # plain: every layer's input and activation; segments of 6: 6 inputs + in/out layers
    assert b_plain >= 2 * 36 * state
    assert b_ckpt <= 12 * state


@pytest.mark.parametrize("family", ["resgcn", "gcn"])
def test_double_backward_through_checkpointed_model_matches_plain(small, family):
    # SPoGInit's BSP term differentiates gradient norms again (create_graph=True).
    graph, x, cora = small
    results = []
    for checkpoint in (None, 2):
        model = _build(family, 5, dropout=0.2, checkpoint=checkpoint)
        _, grads = _loss_and_grads(model, graph, x, cora, create_graph=True)
        bsp = sum(g.norm() for g in grads)
        results.append(torch.autograd.grad(bsp, list(model.parameters())))
    assert _max_diff(*results) <= 1e-10


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        (0, ValueError, r"checkpoint=0 is not a segment length; pass an int >= 1"),
        (-2, ValueError, r"checkpoint=-2"),
        (1.5, TypeError, r"checkpoint must be None, True or an int.*checkpoint=8"),
        ("sqrt", TypeError, r"checkpoint must be None, True or an int"),
    ],
)
def test_checkpoint_rejects_invalid_values_naming_the_fix(value, error, match):
    with pytest.raises(error, match=match):
        models.build("resgcn", 5, 3, 4, checkpoint=value)


def test_checkpoint_false_means_off_and_appears_in_repr():
    assert models.build("gcn", 5, 3, 4, checkpoint=False).checkpoint is None
    assert "checkpoint=4" in repr(models.build("gcn", 5, 3, 4, checkpoint=4))


# ------------------------------------------------------------------------------- revgcn
@pytest.mark.parametrize("norm", [None, "layer", "batch", "pair"])
@pytest.mark.parametrize("groups", [2, 3])
def test_revgcn_reversible_backward_matches_ordinary_autograd_with_dropout(small, norm, groups):
    graph, x, cora = small
    rev = _build("revgcn", 6, dropout=0.3, norm=norm, groups=groups)
    ref = _build("revgcn", 6, dropout=0.3, norm=norm, groups=groups, reversible=False)
    assert rev.training
    loss_r, grads_r = _loss_and_grads(rev, graph, x, cora)
    loss_o, grads_o = _loss_and_grads(ref, graph, x, cora)
    assert abs(float(loss_r.detach() - loss_o.detach())) <= 1e-10
    assert _max_diff(grads_r, grads_o) <= 1e-10
    assert all(float(g.abs().sum()) > 0 for g in grads_r)
    for br, bo in zip(rev.buffers(), ref.buffers()):  # running stats updated once, alike
        torch.testing.assert_close(br, bo, rtol=0, atol=1e-12)
    other, _ = _loss_and_grads(rev, graph, x, cora, rng_seed=8)  # the masks are in use
    assert abs(float(other.detach() - loss_r.detach())) > 1e-6


def test_revgcn_gradients_match_finite_differences(small):
    graph, x, cora = small
    model = _build("revgcn", 3, width=4, groups=2, dropout=0.25, norm="layer")
    mask = cora.train_mask

    def loss_of(*weights):
        with torch.no_grad():
            for p, w in zip(params, weights):
                p.copy_(w)
            torch.manual_seed(3)
            return F.cross_entropy(model(graph, x)[mask], cora.y[mask])

    params = [model.convs[1].weight, model.convs[4].bias]
    base = [p.detach().clone() for p in params]
    _, grads = _loss_and_grads(model, graph, x, cora, rng_seed=3)
    named = dict(model.named_parameters())
    analytic = [grads[list(named).index(n)] for n in ("convs.1.weight", "convs.4.bias")]
    eps = 1e-6
    for k, (b, g) in enumerate(zip(base, analytic)):
        for idx in [(0,) * b.dim(), tuple(s - 1 for s in b.shape)]:
            plus = [t.clone() for t in base]
            minus = [t.clone() for t in base]
            plus[k][idx] += eps
            minus[k][idx] -= eps
            numeric = (loss_of(*plus) - loss_of(*minus)) / (2 * eps)
            assert abs(float(numeric - g[idx])) <= 1e-7


def test_revgcn_double_backward_matches_ordinary_autograd(small):
    graph, x, cora = small
    results = []
    for reversible in (True, False):
        model = _build("revgcn", 4, dropout=0.2, norm="layer", reversible=reversible)
        _, grads = _loss_and_grads(model, graph, x, cora, create_graph=True)
        bsp = sum(g.norm() for g in grads)
        results.append(torch.autograd.grad(bsp, list(model.parameters())))
    assert _max_diff(*results) <= 1e-10


def _saved_bytes(family, depth, graph, x, cora, **options):
    model = models.build(family, x.shape[1], cora.num_classes, depth, width=16, seed=0, **options)
    out, saved = saved_tensor_bytes(lambda: model(graph, x), exclude=list(model.parameters()))
    F.cross_entropy(out[cora.train_mask], cora.y[cora.train_mask]).backward()
    assert all(p.grad is not None for p in model.parameters())
    return saved


def test_revgcn_saved_memory_does_not_grow_with_depth_while_resgcn_does(cora):
    x = torch.randn(cora.num_nodes, 16, generator=torch.Generator().manual_seed(0))
    rev8, rev64 = (_saved_bytes("revgcn", d, cora.graph, x, cora, reversible=True) for d in (8, 64))
    kept64 = _saved_bytes("revgcn", 64, cora.graph, x, cora)
    res8, res64 = (_saved_bytes("resgcn", d, cora.graph, x, cora) for d in (8, 64))
    state = cora.num_nodes * 16 * 4  # one float32 state of width 16
    assert rev64 <= 1.5 * rev8
    # the default reversible=16 keeps the state entering updates 16, 32, ..., 112 of 128
    assert kept64 - rev64 == 7 * state
    assert res64 - res8 >= 56 * state  # at least one state per added layer
    assert kept64 < res64 / 10


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"groups": 1}, ValueError, r"groups=1 is too small; pass an int >= 2"),
        ({"groups": 2.0}, TypeError, r"groups must be an int"),
        ({"width": 10, "groups": 4}, ValueError, r"width=10 is not divisible by groups=4.*12"),
        ({"reversible": "yes"}, TypeError, r"reversible must be True, False or an int.*=16"),
        ({"reversible": 0}, ValueError, r"reversible=0 is too small; pass an int >= 1"),
        ({"checkpoint": 4}, ValueError, r"leave checkpoint=None.*or pass reversible=False"),
        ({"reversible": True, "checkpoint": 2}, ValueError, r"reversible=True stores no block"),
    ],
)
def test_revgcn_rejects_invalid_options_naming_the_fix(kwargs, error, match):
    with pytest.raises(error, match=match):
        models.build("revgcn", 5, 3, 4, **kwargs)


def test_revgcn_options_and_layer_structure():
    assert models.options("revgcn") == {"groups": 2, "reversible": 16}
    model = models.build("revgcn", 5, 3, 3, width=12, groups=3)
    lws = model.layer_weights()
    assert [lw.kind for lw in lws] == ["linear"] + ["conv"] * 9 + ["linear"]
    assert all(lw.fan_in == lw.fan_out == 4 for lw in lws[1:-1])
    g = deepgnn.Graph(torch.tensor([[0, 1, 2], [1, 2, 3]]))
    states = model.hidden_states(g, torch.randn(4, 5))
    assert len(states) == len(lws) + 1 == 12
    # each update writes one group: consecutive states differ in those columns only
    for i in range(9):
        changed = (states[i + 2] != states[i + 1]).any(dim=0)
        lo = (i % 3) * 4
        assert not changed[:lo].any() and not changed[lo + 4 :].any()


@pytest.mark.dgl
def test_revgcn_dgl_backend_matches_torch_backend(cora):
    pytest.importorskip("dgl", reason="the dgl extra is not installed")
    a = models.build("revgcn", cora.num_features, cora.num_classes, 3, width=8, seed=0)
    b = models.build(
        "revgcn", cora.num_features, cora.num_classes, 3, width=8, seed=0, backend="dgl"
    )
    with torch.no_grad():
        for la, lb in zip(a.layer_weights(), b.layer_weights()):
            lb.weight.copy_(la.weight)
            if la.bias is not None:
                lb.bias.copy_(la.bias)
    ga = torch.autograd.grad(a(cora.graph, cora.x).square().sum(), a.in_proj.weight)[0]
    gb = torch.autograd.grad(b(cora.graph, cora.x).square().sum(), b.in_proj.weight)[0]
    torch.testing.assert_close(ga, gb, rtol=1e-4, atol=1e-5)


def test_inits_analyze_and_spoginit_run_on_revgcn_on_cora(cora):
    model = models.build("revgcn", cora.num_features, cora.num_classes, 8, width=16, seed=0)
    for k, name in enumerate(init.available()):
        gen = torch.Generator().manual_seed(100 + k)  # not build's seed: in_proj would repeat
        opts = {"n_trials": 3, "progress": False} if name == "spoginit" else {}
        before = [lw.weight.detach().clone() for lw in model.layer_weights()]
        init.init_(model, name, graph=cora.graph, x=cora.x, generator=gen, **opts)
        assert all(
            not torch.equal(lw.weight, old) for lw, old in zip(model.layer_weights(), before)
        ), name
        assert torch.isfinite(model(cora.graph, cora.x)).all(), name
    init.xavier_(model)
    df = deepgnn.analyze(model, cora.graph, cora.x, cora.y, mask=cora.train_mask)
    assert len(df) == len(model.layer_weights()) + 1 == 8 * 2 + 3
    assert df["finite"].all() and (df["grad_norm"].iloc[1:] > 0).all()
    # the search differentiates gradient norms again: through hidden_states, unsegmented
    res = deepgnn.search.search(
        model, cora.graph, cora.x, cora.y, mask=cora.train_mask, n_trials=4, progress=False
    )
    assert res.method == "gradient" and len(res.scales) == len(model.layer_weights())
    assert res.objective <= float(res.trace["objective"].iloc[0])
    assert any(abs(s - 1.0) > 1e-6 for s in res.scales)


@pytest.mark.parametrize("family", ["jknet", "appnp"])
def test_checkpoint_is_refused_where_it_saves_nothing(family):
    with pytest.raises(ValueError, match=f"checkpoint=2 .*{family}.*pass checkpoint=None"):
        models.build(family, 12, 7, 4, checkpoint=2)
