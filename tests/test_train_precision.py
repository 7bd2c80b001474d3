"""``precision=`` of the node trainers: the checks, the TF32 switches, bf16 on every family."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import deepgnn
from deepgnn import models
from deepgnn.train import (
    BATCHED_FAMILIES,
    PRECISIONS,
    options,
    resolve_options,
    train_node,
    train_node_batched,
)
from deepgnn.train import _node as node_module
from deepgnn.train._precision import forward_precision, run_precision

#: bf16 against fp32, same seed, Cora, depth 4, width 16, 30 epochs: the largest test-accuracy
#: gap measured over the families was 0.014 (revgcn; 0.003 or less for the others).
ACCURACY_TOLERANCE = 0.05
#: batched against alone in bf16, per epoch: the largest loss gap measured was 0.010
#: (rezero; 1e-6 or less for gcn, appnp, gcnii, jknet): the layouts round differently.
BATCHED_LOSS_TOLERANCE = 0.03


def _switches() -> tuple[str, str, str]:
    b = torch.backends
    return (
        b.cuda.matmul.fp32_precision,
        b.cudnn.conv.fp32_precision,
        b.cudnn.rnn.fp32_precision,
    )


def _gcn(cora, depth: int = 2, seed: int = 0, **kw):
    return deepgnn.build("gcn", cora.num_features, cora.num_classes, depth, seed=seed, **kw)


@pytest.mark.parametrize("precision", ["fp16", "FP32", None])
def test_unknown_precision_names_the_option_and_the_choices(cora, precision):
    match = r"precision=.* is not one of \['bf16', 'fp32', 'tf32'\]"
    with pytest.raises(ValueError, match=match):
        train_node(_gcn(cora), cora, epochs=1, device="cpu", precision=precision)
    with pytest.raises(ValueError, match=match):
        train_node_batched(
            [_gcn(cora)], cora, seeds=[0], epochs=1, device="cpu", precision=precision
        )


def test_tf32_on_the_cpu_says_to_pass_bf16_or_fp32(cora):
    match = r"precision='tf32' is a CUDA tensor-core mode, but training runs on cpu; pass precision=\"bf16\""
    with pytest.raises(ValueError, match=match):
        train_node(_gcn(cora), cora, epochs=1, device="cpu", precision="tf32")
    with pytest.raises(ValueError, match=match):
        train_node_batched([_gcn(cora)], cora, seeds=[0], epochs=1, device="cpu", precision="tf32")


def test_run_precision_sets_tf32_and_restores_the_previous_switches_on_error():
    before = _switches()
    torch.backends.cuda.matmul.fp32_precision = "ieee"  # a value the user set, not the default
    try:
        with pytest.raises(RuntimeError, match="inside"):
            with run_precision("tf32"):
                assert _switches() == ("tf32", "tf32", "tf32")
                raise RuntimeError("inside")
        assert torch.backends.cuda.matmul.fp32_precision == "ieee"
        assert _switches()[1:] == before[1:]
        with run_precision("bf16"), run_precision("fp32"):
            assert torch.backends.cuda.matmul.fp32_precision == "ieee"
    finally:
        torch.backends.cuda.matmul.fp32_precision = before[0]
    assert _switches() == before


def test_train_node_runs_under_tf32_and_restores_it_when_training_raises(cora, monkeypatch):
    # TF32 switches change nothing on the CPU, so the device check is lifted to watch them.
    monkeypatch.setattr(node_module, "check_precision", lambda precision, device=None: None)
    before = _switches()
    seen = []

    def stop(row):
        seen.append(_switches())
        raise RuntimeError("stopped by on_epoch")

    with pytest.raises(RuntimeError, match="stopped by on_epoch"):
        train_node(_gcn(cora), cora, epochs=5, device="cpu", precision="tf32", on_epoch=stop)
    assert seen == [("tf32", "tf32", "tf32")]
    assert _switches() == before


def test_bf16_forward_computes_in_bfloat16_and_keeps_float32_parameters(cora):
    model = _gcn(cora, depth=3, width=16)
    with forward_precision("bf16", torch.device("cpu")):
        logits = model(cora.graph, cora.x)
    assert logits.dtype == torch.bfloat16
    train_node(model, cora, epochs=3, device="cpu", precision="bf16")
    assert {p.dtype for p in model.parameters()} == {torch.float32}


@pytest.mark.parametrize("family", models.available())
def test_bf16_trains_every_family_on_cora_near_fp32(cora, family):
    def run(precision):
        model = deepgnn.build(family, cora.num_features, cora.num_classes, 4, width=16, seed=0)
        return train_node(model, cora, epochs=30, seed=0, device="cpu", precision=precision)

    fp32, bf16 = run("fp32"), run("bf16")
    assert not bf16.diverged and len(bf16.log) == 30
    assert np.isfinite(bf16.log["loss"]).all()
    assert bf16.log["loss"].iloc[-1] < bf16.log["loss"].iloc[0]
    assert abs(bf16.test - fp32.test) <= ACCURACY_TOLERANCE


def test_bf16_kipf_gcn_on_cora_reaches_the_published_accuracy(cora):
    # Kipf & Welling (ICLR 2017) report 81.5% for the 2-layer GCN on Cora's public split.
    results = {}
    for precision in ("fp32", "bf16"):
        model = _gcn(cora, dropout=0.5)
        results[precision] = train_node(model, cora, seed=0, device="cpu", precision=precision)
    assert results["fp32"].test > 0.75 and results["bf16"].test > 0.75
    assert abs(results["bf16"].test - results["fp32"].test) <= 0.02


@pytest.mark.parametrize("family", BATCHED_FAMILIES)
def test_batched_bf16_matches_runs_alone_to_bfloat16_rounding(cora, family):
    seeds = [0, 1]

    def members():
        return [
            deepgnn.build(family, cora.num_features, cora.num_classes, 3, width=16, seed=s)
            for s in seeds
        ]

    kw = {"epochs": 20, "device": "cpu", "precision": "bf16"}
    batched = train_node_batched(members(), cora, seeds=seeds, **kw)
    alone = [train_node(m, cora, seed=s, **kw) for m, s in zip(members(), seeds)]
    for b, a in zip(batched, alone):
        gap = np.abs(b.log["loss"].to_numpy() - a.log["loss"].to_numpy())
        assert len(gap) == 20 and math.isfinite(b.test)
        assert gap.max() <= BATCHED_LOSS_TOLERANCE, (family, gap.max())


def test_fp32_is_the_default_and_only_other_precisions_are_resolved_settings():
    assert options("node")["precision"] == "fp32" and PRECISIONS == ("fp32", "tf32", "bf16")
    plain = resolve_options("node", depth=2, family="gcn")
    assert "precision" not in plain
    assert resolve_options("node", depth=2, family="gcn", precision="fp32") == plain
    assert resolve_options("node", depth=2, family="gcn", precision="bf16") == {
        **plain,
        "precision": "bf16",
    }
    with pytest.raises(ValueError, match=r"precision='bf61' is not one of .*'bf16'"):
        resolve_options("node", depth=2, precision="bf61")
    with pytest.raises(ValueError, match=r"train options \['precision'\] do not apply to graph"):
        resolve_options("graph", depth=2, precision="bf16")
