"""``revgcn``'s reversible backward in float32: gradients as the stored backward's, at depth."""

from __future__ import annotations

import pytest
import torch

from deepgnn import models


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread: Cora at width 8 runs ~30x faster on one thread than on two cores
    shared with other processes (depth 128, forward and backward: 0.3 s against 12 s)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _model(cora, depth, reversible, **kwargs):
    kwargs.setdefault("width", 8)
    return models.build(
        "revgcn", cora.num_features, cora.num_classes, depth, seed=0, reversible=reversible,
        **kwargs,
    )  # fmt: skip


def _grads(model, cora):
    torch.manual_seed(0)  # the dropout masks
    out = model(cora.graph, cora.x)
    return torch.autograd.grad(out.square().mean(), list(model.parameters()))


def _worst_relative_error(grads, ref):
    return max(float((g - r).norm() / r.norm()) for g, r in zip(grads, ref))


def test_revgcn_default_gradients_match_stored_backward_at_depth_128_in_float32(cora):
    # Cora, width 8, eval mode, loss = mean of squared logits: the stored backward is the
    # reference; the fully reversible one (no kept state) drifts 31% there (bench_revgrad.py).
    ref = _grads(_model(cora, 128, False).eval(), cora)
    model = models.build("revgcn", cora.num_features, cora.num_classes, 128, width=8, seed=0)
    default = _grads(model.eval(), cora)
    assert _worst_relative_error(default, ref) <= 1e-3
    drifting = _grads(_model(cora, 128, True).eval(), cora)
    assert _worst_relative_error(drifting, ref) > 1e-2  # the drift the kept states remove


def test_revgcn_keeping_every_state_matches_stored_backward_to_float_rounding(cora):
    # reversible=1 rebuilds nothing: dropout replayed from seeds, norms (BatchNorm's batch
    # statistics), the SpMM and the group order then agree with autograd's graph; any
    # drift of reversible=k is the rebuild's subtraction alone.
    kw = {"dropout": 0.3, "norm": "batch", "groups": 3, "width": 12}
    ref = _grads(_model(cora, 6, False, **kw), cora)
    exact = _grads(_model(cora, 6, 1, **kw), cora)
    assert _worst_relative_error(exact, ref) <= 1e-6


@pytest.mark.parametrize("reversible", [True, 5])
def test_revgcn_reconstruct_rebuilds_hidden_states_and_kept_ones_exactly(cora, reversible):
    model = _model(cora, 8, reversible).eval()
    with torch.no_grad():
        true = model.hidden_states(cora.graph, cora.x)[1:-1]
    rebuilt = model.reconstruct(cora.graph, cora.x)
    assert len(rebuilt) == len(true) == 8 * 2 + 1
    assert torch.equal(rebuilt[-1], true[-1])
    for i, (r, t) in enumerate(zip(rebuilt, true)):
        assert float((r - t).norm() / t.norm()) <= 1e-4, i
        if reversible is not True and i and i % reversible == 0:
            assert torch.equal(r, t), i  # a kept state


def test_revgcn_training_loss_curve_matches_stored_backward(cora):
    # Ten Adam steps in training mode (dropout 0.5, the masks from one seeded stream), depth
    # 32: the default follows the stored backward to 1e-4 relative per step (1.2e-5 measured),
    # and keeping every state (reversible=1) to the bit. Deeper, training itself amplifies any
    # 1e-6 gradient difference: at depth 64 the curves part by 1e-2 within ten steps, with or
    # without kept states, while reversible=1 still agrees to the bit.
    curves = {}
    for reversible in (16, 1, False):
        model = _model(cora, 32, reversible, dropout=0.5)
        opt = torch.optim.Adam(model.parameters(), lr=0.01)
        torch.manual_seed(0)
        curve = []
        for _ in range(10):
            opt.zero_grad()
            out = model(cora.graph, cora.x)
            loss = torch.nn.functional.cross_entropy(out[cora.train_mask], cora.y[cora.train_mask])
            loss.backward()
            opt.step()
            curve.append(float(loss.detach()))
        curves[str(reversible)] = torch.tensor(curve, dtype=torch.float64)
    stored = curves["False"]
    assert float(stored[-3:].mean()) < float(stored[:3].mean())  # it trains
    torch.testing.assert_close(curves["16"], stored, rtol=1e-4, atol=0)
    assert torch.equal(curves["1"], stored)


def test_revgcn_backward_under_bf16_autocast_rebuilds_in_the_forwards_precision(cora):
    # The backward recomputes each branch under the forward's autocast (CPU here): keeping
    # every state, its gradients are those of the stored backward, which autograd takes in
    # the forward's precision; a float32 recomputation would not even run (bfloat16 states
    # meeting float32 weights).
    def grads(reversible):
        model = _model(cora, 4, reversible, width=16)
        with torch.autocast("cpu", dtype=torch.bfloat16, cache_enabled=False):
            out = model(cora.graph, cora.x)
        assert out.dtype == torch.bfloat16
        return torch.autograd.grad(out.float().square().mean(), list(model.parameters()))

    ref = grads(False)
    assert _worst_relative_error(grads(1), ref) <= 1e-6
    assert _worst_relative_error(grads(True), ref) <= 2e-2  # bfloat16 rebuilds: 8-bit mantissa
