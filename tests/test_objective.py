"""The SPoGInit objective's public module: terms, residuals, J, operand checks."""

from __future__ import annotations

import math

import pytest
import torch

import deepgnn
from deepgnn import objective, signal


def _graph() -> deepgnn.Graph:
    edges = [(0, 1), (1, 2), (2, 3), (3, 4), (1, 4), (4, 5)]
    return deepgnn.Graph(torch.tensor(edges).t(), num_nodes=6)


def test_signal_reexports_the_objective_module_s_objective():
    assert signal.objective is objective.objective
    assert signal.FORMS is objective.FORMS
    for name in objective.__all__:
        assert not name.startswith("_") and hasattr(objective, name)


@pytest.mark.parametrize("form", objective.FORMS)
def test_residuals_give_the_objective_of_their_form(generator, form):
    g = _graph()
    x = torch.randn(g.num_nodes, 5, generator=generator)
    model = deepgnn.build("gcn", 5, 3, depth=5, width=8, seed=1)
    terms = objective.signal_terms(model, g, x, generator=generator)
    r0, r1, r2 = (float(r) for r in objective.residuals(terms, form))
    w = (1.0, 10.0, 3.0)
    expected = w[0] * math.expm1(r0) ** 2 + w[1] * math.expm1(r1) ** 2 + w[2] * r2**2
    assert float(objective.objective(terms, form=form, weights=w)) == pytest.approx(expected)
    assert min(abs(r0), abs(r1), abs(r2)) > 1e-3  # every term takes part


def test_signal_terms_match_analyze_and_are_differentiable_on_demand(generator):
    g = _graph()
    x = torch.randn(g.num_nodes, 5, generator=generator)
    y = torch.randint(0, 3, (g.num_nodes,), generator=generator)
    model = deepgnn.build("gcn", 5, 3, depth=4, width=8, seed=0)
    summary = signal.analyze(model, g, x, y).attrs["summary"]
    model.eval()
    plain = objective.signal_terms(model, g, x, y)
    for key in ("fsp", "bsp", "gev", "gev_gap", "fsp_divide_old", "bsp_divide_stable"):
        assert float(plain[key]) == pytest.approx(summary[key], rel=1e-12)
    assert float(objective.gev_tensor(x, g)) == pytest.approx(signal.gev(x, g))
    assert not plain["bsp_divide_old"].requires_grad
    kept = objective.signal_terms(model, g, x, y, create_graph=True)
    j = objective.objective(kept, form="divide_old")
    (dw,) = torch.autograd.grad(j, [model.layer_weights()[1].param])
    assert float(dw.abs().max()) > 0  # BSP reaches the weights through the double backward


def test_check_operands_names_the_fix():
    g = _graph()
    model = deepgnn.build("gcn", 5, 3, depth=2)
    x = torch.zeros(g.num_nodes, 5)
    with pytest.raises(TypeError, match="model must be a deepgnn.models.GNN"):
        objective.check_operands(object(), g, x, None, None)
    with pytest.raises(ValueError, match="build it with out_dim=6"):
        objective.check_operands(model, g, x, torch.full((g.num_nodes,), 5), None)
    with pytest.raises(ValueError, match="mask selects no node"):
        mask = torch.zeros(g.num_nodes, dtype=torch.bool)
        objective.check_operands(model, g, x, None, mask)
    with pytest.raises(ValueError, match="form='old'"):
        objective.residuals({}, "old")
