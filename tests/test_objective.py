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


@pytest.mark.parametrize("state", objective.STATES)
@pytest.mark.parametrize("form", objective.FORMS)
def test_residuals_give_the_objective_of_their_form(generator, form, state):
    g = _graph()
    x = torch.randn(g.num_nodes, 5, generator=generator)
    model = deepgnn.build("gcn", 5, 3, depth=5, width=8, seed=1)
    terms = objective.signal_terms(model, g, x, generator=generator)
    r0, r1, r2 = (float(r) for r in objective.residuals(terms, form, state))
    w = (1.0, 10.0, 3.0)
    expected = w[0] * math.expm1(r0) ** 2 + w[1] * math.expm1(r1) ** 2 + w[2] * r2**2
    j = objective.objective(terms, form=form, weights=w, state=state)
    assert float(j) == pytest.approx(expected)
    assert min(abs(r0), abs(r1), abs(r2)) > 1e-3  # every term takes part


@pytest.mark.parametrize("family", ["gcn", "resgcn"])
def test_the_forms_read_the_graph_layers_states_as_the_authors_print_all_x(generator, family):
    # The authors' print_all_x (models/model.py) lists the outputs of the graph layers: a
    # GCN's h_1..h_{L-1}, a ResGCN's block outputs (not its input projection's); their Cora
    # notebook's MyGCN appends the logits. FSP divide_old is the first over the last, GEV
    # reads the last (spoginit.py, generate_metrics).
    g = _graph()
    x = torch.randn(g.num_nodes, 5, generator=generator)
    model = deepgnn.build(family, 5, 3, depth=4, width=8, seed=1)
    model.eval()
    states = [h.detach().double() for h in model.hidden_states(g, x)]
    hidden = states[1:-1] if family == "gcn" else states[2:-1]
    assert len(hidden) == (3 if family == "gcn" else 4)
    terms = objective.signal_terms(model, g, x, generator=generator)
    for suffix, listed in (("", hidden), ("_logits", [*hidden, states[-1]])):
        first, last = listed[0].norm(), listed[-1].norm()
        assert float(terms[f"fsp_divide_old{suffix}"]) == pytest.approx(
            float((first / last - 1) ** 2), rel=1e-9
        )
        n = torch.stack([h.norm() / math.sqrt(h.shape[1]) for h in listed])
        assert float(terms[f"fsp_divide_stable{suffix}"]) == pytest.approx(
            float((n.max() / n.min() - 1) ** 2), rel=1e-9
        )
    assert float(terms["gev_hidden"]) == pytest.approx(signal.gev(hidden[-1].float(), g))
    assert float(terms["gev"]) == pytest.approx(signal.gev(states[-1].float(), g))
    j = objective.objective(terms, form="divide_old")  # state="hidden": the training code's
    expected = terms["fsp_divide_old"] + terms["bsp_divide_old"] + terms["gev_gap_hidden"]
    assert float(j) == pytest.approx(float(expected))


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
    with pytest.raises(ValueError, match="did you mean 'logits'"):
        objective.objective({}, form="divide_old", state="logit")
