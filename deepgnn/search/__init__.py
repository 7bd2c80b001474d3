r"""SPoGInit: search per-layer weight scales that balance signal propagation.

The objective of Wang, Chen, Zhang, Sun, Ding, "Exploring and Improving Initialization for
Deep Graph Neural Networks: A Signal Propagation Perspective", TMLR 2025 (arXiv 2506.16790),

.. math:: J(s) = w_1\, \mathrm{FSP} + w_2\, \mathrm{BSP} + w_3\, (\mathrm{GEV}(X) - \mathrm{GEV}(h_L))^2

(:func:`deepgnn.objective.objective` gives the forms), is minimized over per-layer log-scales
:math:`s_l`, the weights being :math:`W_l = e^{s_l} W_l^0` for the model's weights
:math:`W_l^0` at call time. Six methods share one evaluation routine, so they are
compared at equal numbers of model evaluations (one evaluation = one forward and one
backward pass of the model):

- ``"gauss_newton"`` (default for ``form="divide_old"``): trust-region Gauss-Newton on the
  objective's three residuals (log FSP ratio, log BSP ratio, GEV gap), their Jacobian by
  autograd at the start and when the steps stop paying, Broyden's secant updates from plain
  evaluations in between;
- ``"tpe"`` / ``"cmaes"``: an Optuna study over the bounded log-scales (resumable from any
  Optuna storage);
- ``"gradient"`` (default for ``form="divide_stable"``): Adam on the log-scales. :math:`J`
  is differentiable in :math:`s`: FSP and GEV
  through the forward pass, BSP through a double backward, and
  :math:`\partial J/\partial s_l = \langle \partial J/\partial W_l, W_l\rangle`;
- ``"zeroth_order"`` / ``"zeroth_order_single"``: the authors' sign-descent procedures
  (``zeroincrease_initialization`` and ``zerosingle_initialization`` in their
  ``spoginit.py``), the baseline.

Every method has its own settings (a step size, a patience, a storage, ...), listed with
their defaults by :func:`method_options`; :func:`search` takes them as keywords beside the
options common to all methods and checks them against the chosen method.
:func:`search` leaves the model as it found it; :func:`deepgnn.init.spoginit_` applies the
best scales.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import io
import logging
import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import Tensor

from deepgnn._checks import check_choice, check_int, per_model
from deepgnn._io import write_atomic
from deepgnn.graph import Graph, as_graph
from deepgnn.models import GNN
from deepgnn.objective import FORMS, STATES, check_operands, check_weights
from deepgnn.search._gauss_newton import GaussNewton
from deepgnn.search._gradient import Gradient
from deepgnn.search._many import MemberProblem, Pool, stack_obstacle
from deepgnn.search._optuna import TPE, CmaEs, from_study
from deepgnn.search._problem import Problem, check_bounds, positive
from deepgnn.search._zeroth_order import ZerothOrder, ZerothOrderSingle

__all__ = [
    "DEFAULT_FORM",
    "DEFAULT_METHOD",
    "DEFAULT_STATE",
    "DEFAULT_WEIGHTS",
    "METHODS",
    "SCALES_FORMAT",
    "SearchResult",
    "check_options",
    "method_options",
    "objective_defaults",
    "resolve_options",
    "search",
    "search_many",
]

logger = logging.getLogger(__name__)

# Each method's settings, declared once: a frozen dataclass per method whose fields are the
# settings with their defaults (checked in its __post_init__), whose ``budget`` is the
# evaluations n_trials=None gives, and whose ``run`` is the optimizer.
_SETTINGS: dict[str, type[Any]] = {
    "gauss_newton": GaussNewton,
    "gradient": Gradient,
    "tpe": TPE,
    "cmaes": CmaEs,
    "zeroth_order": ZerothOrder,
    "zeroth_order_single": ZerothOrderSingle,
}
#: The ``method=`` choices of :func:`search`; :func:`method_options` gives each one's settings.
METHODS = tuple(_SETTINGS)
#: The method ``search(method=None)`` takes for each objective form. Gauss-Newton fits
#: ``divide_old``, whose two ratios are smooth in the log-scales; on ``divide_stable`` it
#: stalls, most likely because the max/min ratios switch layers as the scales move. Cora,
#: Xavier, 3 seeds (results/search_cora.md): Gauss-Newton ends at mean J = 4.38 / 7.12 on a
#: gated ResGCN of depth 16 / 64 where Adam reaches 0.082 / 0.356 in 100 evaluations, and
#: 0.48 on a ResGCN-64 against Adam's 0.037.
DEFAULT_METHOD = {"divide_old": "gauss_newton", "divide_stable": "gradient"}
#: The objective form ``search(form=None)`` takes for each model family: the authors'. GCN:
#: ``divide_old`` (their Cora notebook ``SP_GCN_github.ipynb`` and ``Arxiv_run.py``, which
#: builds ``SpogInit(..., "divide_old")`` for GCN); the residual families: ``divide_stable``
#: (``SP_ResGCN_github.ipynb``; ``Arxiv_run.py`` for ResGCN and gatResGCN). GAT, for which the
#: authors publish no search, and families added with :func:`deepgnn.models.register` take
#: the GCN setting. ``revgcn`` (no published search either) takes the residual families'
#: settings: each of its group updates is an identity skip plus a branch, as a ResGCN layer.
#: The authors search neither ``gcnii``, ``jknet`` nor ``appnp``: GCNII, built like their
#: ResGCN (projections around residual-like layers), takes the residual setting; JKNet (a
#: GCN stack) and APPNP (an MLP) the GCN one.
DEFAULT_FORM = {
    "gcn": "divide_old",
    "gat": "divide_old",
    "jknet": "divide_old",
    "appnp": "divide_old",
    "resgcn": "divide_stable",
    "gated_resgcn": "divide_stable",
    "rezero": "divide_stable",
    "revgcn": "divide_stable",
    "gcnii": "divide_stable",
}
#: The weights ``(w1, w2, w3)`` ``search(weights=None)`` takes for each model family: the
#: authors' ``w2=10`` for GCN (``zeroincrease_initialization(..., w2=10)`` in
#: ``SP_GCN_github.ipynb`` and ``Arxiv_run.py``), their defaults ``w1 = w2 = w3 = 1`` for the
#: residual families (``zerosingle_initialization`` in ``SP_ResGCN_github.ipynb`` and
#: ``Arxiv_run.py``); others as GCN (see :data:`DEFAULT_FORM`).
DEFAULT_WEIGHTS = {
    "gcn": (1.0, 10.0, 1.0),
    "gat": (1.0, 10.0, 1.0),
    "jknet": (1.0, 10.0, 1.0),
    "appnp": (1.0, 10.0, 1.0),
    "resgcn": (1.0, 1.0, 1.0),
    "gated_resgcn": (1.0, 1.0, 1.0),
    "rezero": (1.0, 1.0, 1.0),
    "revgcn": (1.0, 1.0, 1.0),
    "gcnii": (1.0, 1.0, 1.0),
}
#: The states ``search(state=None)`` reads for each model family
#: (:data:`deepgnn.objective.STATES`). The residual families: ``"hidden"``, as all the authors'
#: residual searches (their ``models/model.py`` ``print_all_x``, used by
#: ``SP_ResGCN_github.ipynb`` and ``Arxiv_run.py``). GCN and GAT: ``"logits"``, as their Cora
#: notebook (``SP_GCN_github.ipynb``), whose numbers these defaults are held to; their
#: training code's ``"hidden"`` list leaves the output layer out of the objective (scaling it
#: by 0.5 to 2 changes J by under 0.5% while FSP and BSP change 4x: tanh GCN-64 of Cora,
#: Xavier seed 42), so the FSP and BSP a search ends at are whatever the base left there. On
#: that model (Xavier seeds 0, 1, 2, 42, Gauss-Newton, real data) ``"hidden"`` ends at BSP
#: 0.18-0.90, FSP 0.070-0.104, GEV 7.0e-4-1.7e-3; ``"logits"`` at BSP 0.63-1.67, FSP
#: 0.14-0.19 and a higher GEV on every seed, 1.9e-3-2.7e-3 (README, "SPoGInit search").
DEFAULT_STATE = {
    "gcn": "logits",
    "gat": "logits",
    "jknet": "logits",
    "appnp": "logits",
    "resgcn": "hidden",
    "gated_resgcn": "hidden",
    "rezero": "hidden",
    "revgcn": "hidden",
    "gcnii": "hidden",
}
_LAYERS = ("conv", "all", "none")
#: The layout version of a scales file (:meth:`SearchResult.save`,
#: :func:`deepgnn.init.load_scales_`).
SCALES_FORMAT = 1


@dataclass
class SearchResult:
    """What a SPoGInit search found.

    Attributes:
        method: the optimizer (one of :data:`METHODS`).
        scales: one multiplicative scale per entry of ``model.layer_weights()`` (1.0 for the
            layers not searched); ``deepgnn.init.scale_(model, scales, gates=gates)`` applies
            them to the weights the search started from.
        gates: ``{"alpha": [...], "beta": [...]}`` scales of the residual gates of
            ``gated_resgcn`` / ``rezero`` (empty for other families).
        objective: the best objective :math:`J` found (NaN when no evaluation was finite).
        terms: the unweighted terms at the best point: ``fsp_term``, ``bsp_term``,
            ``gev_term``.
        trace: one row per model evaluation: ``evaluation`` (0, 1, ...), ``objective``,
            ``fsp_term``, ``bsp_term``, ``gev_term``, ``seconds`` (wall time since the search
            began, continued across resumed runs), ``candidate`` (False for the
            zeroth-order method's finite-difference probes) and ``best`` (best candidate so
            far).
        evaluations: the number of model evaluations (forward + backward; the gradient
            method's double backward counts as part of its one evaluation).
        seconds: wall time of this call.
        study: the :class:`optuna.study.Study` for ``tpe`` / ``cmaes``, else ``None``.
        log_scales: the best point :math:`s` itself, one entry per searched weight, then
            per searched gate entry.
    """

    method: str
    scales: list[float]
    gates: dict[str, list[float]]
    objective: float
    terms: dict[str, float]
    trace: pd.DataFrame
    evaluations: int
    seconds: float
    study: Any = None
    log_scales: list[float] = field(default_factory=list)

    def save(
        self,
        path: str | os.PathLike[str],
        model: GNN,
        *,
        info: Mapping[str, str | int | float | None] | None = None,
    ) -> Path:
        """Write the scales (and gates) to ``path`` with what identifies the model they fit.

        A ``torch.save`` file of plain values (:func:`deepgnn.init.load_scales_` reads it
        with ``weights_only=True`` and applies it): ``scales``, ``gates``, the model's
        ``family``, ``depth``, ``width``, ``in_dim``, ``out_dim`` and layer-weight
        ``shapes``, the search's ``method`` and ``objective``, and ``info`` (e.g. the base
        init and seed the search started from). Written atomically.

        Args:
            path: the file to write, e.g. ``"scales.pt"``.
            model: the model searched (its architecture is recorded; its weights are not).
            info: plain values to keep beside them.

        Returns:
            ``path``.
        """
        lws = model.layer_weights()
        if len(lws) != len(self.scales):
            raise ValueError(
                f"model has {len(lws)} layer weights but the search found {len(self.scales)} "
                "scales; pass the model the search ran on"
            )
        payload = {
            "format": SCALES_FORMAT,
            "scales": [float(c) for c in self.scales],
            "gates": {k: [float(c) for c in v] for k, v in self.gates.items()},
            "family": model.family,
            "depth": int(model.depth),
            "width": int(model.width),
            "in_dim": int(model.in_dim),
            "out_dim": int(model.out_dim),
            "shapes": [list(lw.weight.shape) for lw in lws],
            "method": self.method,
            "objective": float(self.objective),
            "info": dict(info or {}),
            "torch": str(torch.__version__),
        }
        buf = io.BytesIO()
        torch.save(payload, buf)
        return write_atomic(path, buf.getvalue())


def method_options(method: str) -> dict[str, object]:
    """Return the settings search method ``method`` takes beyond :func:`search`'s own keywords, with their defaults.

    Example:
        >>> method_options("gradient")
        {'lr': 0.1, 'patience': None}
        >>> method_options("cmaes")
        {'storage': None, 'study_name': 'spoginit', 'sigma0': 0.25}
    """
    check_choice("method", method, _SETTINGS)
    return {f.name: f.default for f in dataclasses.fields(_SETTINGS[method])}


def objective_defaults(family: str) -> dict[str, Any]:
    """Return the objective :func:`search` takes for model family ``family`` when ``form`` / ``weights`` / ``state`` are not given.

    ``{"form": ..., "weights": ..., "state": ..., "method": ...}``: the family's entries of
    :data:`DEFAULT_FORM`, :data:`DEFAULT_WEIGHTS` and :data:`DEFAULT_STATE`, and the method
    ``method=None`` takes for that form (:data:`DEFAULT_METHOD`). A family missing from the
    tables (one added with :func:`deepgnn.models.register`) takes the GCN setting.

    Example:
        >>> objective_defaults("gcn")
        {'form': 'divide_old', 'weights': (1.0, 10.0, 1.0), 'state': 'logits', 'method': 'gauss_newton'}
        >>> objective_defaults("resgcn")
        {'form': 'divide_stable', 'weights': (1.0, 1.0, 1.0), 'state': 'hidden', 'method': 'gradient'}
    """
    key = family if family in DEFAULT_FORM else "gcn"
    form = DEFAULT_FORM[key]
    return {
        "form": form,
        "weights": DEFAULT_WEIGHTS[key],
        "state": DEFAULT_STATE[key],
        "method": DEFAULT_METHOD[form],
    }


def resolve_options(family: str | None = None, **options: object) -> dict[str, Any]:
    """Return every setting :func:`search` runs with for these options on a model of ``family``.

    The objective (``form``, ``weights``, ``state``) and the method after the family's
    defaults (:func:`objective_defaults`), the method's own settings with their defaults
    (:func:`method_options`), the budget ``n_trials`` (the method's when ``None``),
    ``timeout``, ``layers``, ``search_gates``, ``bounds`` and ``seed``: what decides the
    scales a search finds, as plain JSON-able values. :func:`search` runs exactly these
    (it resolves its options through this function), and a sweep's cell key hashes them,
    so a change of a library default gives a new cell rather than passing an old result off
    as current.

    Args:
        family: the model family (``None``: the GCN defaults, as for an unknown family).
        **options: keyword options of :func:`search` (not its operands nor ``progress``).

    Raises:
        ValueError, TypeError: what :func:`search` raises for these options.

    Example:
        >>> r = resolve_options("gated_resgcn", method="zeroth_order_single", lr=0.2,
        ...                     layers="none", search_gates=["alpha"])
        >>> r["form"], r["state"], r["lr"], r["decay"], r["n_trials"], r["search_gates"]
        ('divide_stable', 'hidden', 0.2, 0.7, 300, ['alpha'])
    """
    options = {k: v for k, v in options.items() if k != "progress"}
    bound = inspect.signature(search).bind(None, None, **options)
    bound.apply_defaults()
    args = dict(bound.arguments)
    for operand in ("model", "graph", "x", "y", "mask", "progress"):
        args.pop(operand, None)
    settings = dict(args.pop("settings"))
    defaults = objective_defaults(family or "")
    form = defaults["form"] if args["form"] is None else args["form"]
    state = defaults["state"] if args["state"] is None else args["state"]
    weights = defaults["weights"] if args["weights"] is None else args["weights"]
    method, obj = _settings(args["method"], form, settings)
    checked = _check_common({**args, "state": state, "weights": weights})
    gates = args["search_gates"]
    if not isinstance(gates, bool):
        if isinstance(gates, str) or not isinstance(gates, Sequence):
            raise TypeError(
                f"search_gates must be True, False or a list of gate names such as ['alpha'], "
                f"got {gates!r}"
            )
        gates = list(dict.fromkeys(str(g) for g in gates))
    resolved: dict[str, Any] = {
        "form": form,
        "weights": [float(w) for w in checked["weights"]],
        "state": state,
        "method": method,
    }
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        resolved[f.name] = (
            value if value is None or isinstance(value, (bool, int, float, str)) else str(value)
        )
    resolved.update(
        n_trials=obj.budget if args["n_trials"] is None else checked["n_trials"],
        timeout=checked.get("timeout"),
        layers=args["layers"],
        search_gates=gates,
        bounds=[float(b) for b in checked["bounds"]],
        seed=checked["seed"],
    )
    return resolved


def _settings(method: str | None, form: str, settings: dict[str, object]) -> tuple[str, Any]:
    """The method (``None``: the form's default) and its settings object, ``settings`` checked."""
    check_choice("form", form, FORMS)
    if method is None:
        method = DEFAULT_METHOD[form]
    check_choice("method", method, METHODS)
    accepted = method_options(method)
    wrong = sorted(set(settings) - set(accepted))
    if wrong:
        params = inspect.signature(search).parameters.values()
        common = [p.name for p in params if p.kind is p.KEYWORD_ONLY]
        everyone = sorted({name for m in METHODS for name in method_options(m)})
        hints = []
        for name in wrong:
            owners = [m for m in METHODS if name in method_options(m)]
            near = difflib.get_close_matches(name, [*common, *everyone], n=1)
            if owners:
                hints.append(f"{name!r} is a setting of {owners}")
            elif near:
                hints.append(f"did you mean {near[0]!r}?")
        raise ValueError(
            f"method {method!r} does not take {', '.join(map(repr, wrong))}; its settings are "
            f"{sorted(accepted)}" + (f" ({'; '.join(hints)})" if hints else "")
        )
    return method, _SETTINGS[method](**settings)


def check_options(*, family: str | None = None, **options: object) -> None:
    """Check keyword options of :func:`search` as it does, without running a search.

    The names must be keywords of :func:`search` or settings of the chosen method
    (``method=None``: the form's default, :data:`DEFAULT_METHOD`), and the values of the
    settings and of the common keywords that need no model (``weights``, ``state``,
    ``layers``, ``bounds``, ``seed``, ``n_trials``, ``timeout``) must be valid. Without
    a ``form``, the form is the family's (:data:`DEFAULT_FORM`); with neither ``form`` nor
    ``family``, the settings must suit the default method of every family's form.

    Args:
        family: the model family the options are for (``None``: any).
        **options: keyword options of :func:`search`.

    Raises:
        ValueError: a setting the method does not take (the message names the method and
            the settings it accepts), or a bad value.
        TypeError: a setting or a common keyword of the wrong type.

    Example:
        >>> check_options(method="gradient", n_trials=50, lr=0.05)
        >>> check_options(family="resgcn", lr=0.05)
        >>> check_options(method="gradient", storage="spog.log")
        Traceback (most recent call last):
        ...
        ValueError: method 'gradient' does not take 'storage'; its settings are ['lr', 'patience'] ('storage' is a setting of ['tpe', 'cmaes'])
    """
    bound = inspect.signature(search).bind(None, None, **options)
    bound.apply_defaults()
    args = bound.arguments
    if args["form"] is not None:
        forms = [args["form"]]
    elif family is not None:
        forms = [objective_defaults(family)["form"]]
    else:
        forms = sorted(set(DEFAULT_FORM.values()))
    for form in forms:
        _settings(args["method"], form, dict(args["settings"]))
    _check_common(args)


def _check_common(args: dict[str, Any]) -> dict[str, Any]:
    """Check the values of :func:`search`'s common keywords in ``args`` (its bound arguments,
    ``None`` where the family's default applies); return the checked ones."""
    out: dict[str, Any] = {}
    if args["state"] is not None:
        check_choice("state", args["state"], STATES)
    check_choice("layers", args["layers"], _LAYERS)
    if args["weights"] is not None:
        out["weights"] = check_weights(args["weights"])
    out["bounds"] = check_bounds(args["bounds"])
    out["seed"] = check_int("seed", args["seed"], minimum=0)
    if args["n_trials"] is not None:
        out["n_trials"] = check_int("n_trials", args["n_trials"], minimum=1)
    if args["timeout"] is not None:
        out["timeout"] = positive("timeout", args["timeout"])
    return out


def _gate_names(model: GNN, search_gates: object) -> tuple[str, ...]:
    """The gates ``search_gates`` selects (``True``: all the model has; ``False``: none)."""
    have = tuple(model.gates())
    if isinstance(search_gates, bool):
        return have if search_gates else ()
    if isinstance(search_gates, str) or not isinstance(search_gates, Sequence):
        raise TypeError(
            f"search_gates must be True, False or a list of gate names such as ['alpha'], "
            f"got {search_gates!r}"
        )
    for name in search_gates:
        if not have:
            raise ValueError(
                f"search_gates={list(search_gates)!r} but family {model.family!r} has no gates; "
                "only gated_resgcn and rezero have alpha/beta"
            )
        check_choice("search_gates entry", name, have)
    return tuple(dict.fromkeys(search_gates))


def search(
    model: GNN,
    graph: Graph,
    x: Tensor | None = None,
    y: Tensor | None = None,
    *,
    mask: Tensor | None = None,
    method: str | None = None,
    n_trials: int | None = None,
    timeout: float | None = None,
    form: str | None = None,
    weights: Sequence[float] | None = None,
    state: str | None = None,
    bounds: tuple[float, float] = (0.01, 10.0),
    layers: str = "conv",
    search_gates: bool | Sequence[str] = True,
    seed: int = 0,
    progress: bool = True,
    **settings: object,
) -> SearchResult:
    r"""Search per-layer weight scales minimizing the SPoGInit objective; the model is left unchanged.

    Minimizes over log-scales :math:`s \in [\log b_\text{lo}, \log b_\text{hi}]^d`, with
    :math:`W_l = e^{s_l} W_l^0` (and gates :math:`\alpha_l = e^{s}\alpha_l^0`,
    :math:`\beta_l = e^{s}\beta_l^0` for ``gated_resgcn`` / ``rezero``),

    .. math:: J(s) = w_1\,\mathrm{FSP}_\text{form} + w_2\,\mathrm{BSP}_\text{form}
        + w_3\,(\mathrm{GEV}(X) - \mathrm{GEV}(s_m))^2

    computed by :func:`deepgnn.objective.objective` on one forward and one backward pass
    (model in eval mode) over the states ``state`` names, :math:`s_m` the last of them.
    Every candidate is the base weights times its scales, never a compounded product.
    Wang, Chen, Zhang, Sun, Ding, "Exploring and Improving Initialization for Deep Graph
    Neural Networks: A Signal Propagation Perspective", TMLR 2025 (arXiv 2506.16790), Sec. 5.
    ``form``, ``weights`` and ``state`` left at ``None`` are the model family's
    (:func:`objective_defaults`): ``gcn`` / ``gat``: ``"divide_old"``, ``(1, 10, 1)``,
    ``"logits"`` (the authors' Cora notebook ``SP_GCN_github.ipynb``); ``resgcn`` /
    ``gated_resgcn`` / ``rezero``: ``"divide_stable"``, ``(1, 1, 1)``, ``"hidden"`` (their
    ``SP_ResGCN_github.ipynb`` and ``Arxiv_run.py``). A value given wins.

    The authors' searches, as they ran them (``Arxiv_run.py``; ``x=None, y=None`` is their
    ``generate_data=True``):

    - GCN, ogbn-arxiv: ``method="zeroth_order", form="divide_old", weights=(1, 10, 1),
      state="hidden", lr=0.05, patience=20, n_trials=160`` (40 steps) on ``x=None, y=None``;
      Cora notebook: ``state="logits", lr=0.05, patience=10, n_trials=400`` on the real data.
    - ResGCN: ``method="zeroth_order_single", form="divide_stable", weights=(1, 1, 1),
      state="hidden", lr=0.2, decay=1.0`` on the real data (100 steps: ``n_trials=300``).
    - gated ResGCN (their ``zerosingle_initialization_gate``, which scales the gates
      :math:`\alpha_l` instead of the convolutions' weights, keeping :math:`\beta_l = 1`):
      the same with ``layers="none", search_gates=["alpha"]``. Its decay test
      ``i+1%20==0`` never holds, so it never decays; ``decay=1.0`` is that.

    Their scales are unbounded (lr 0.2 takes a scale from 1 to 0 in five steps, and on
    below); deepgnn keeps every scale within ``bounds``.

    Methods (all start from :math:`s = 0`, the weights as given; ``method=None`` takes
    ``"gauss_newton"`` for ``form="divide_old"`` and ``"gradient"`` for ``"divide_stable"``,
    see :data:`DEFAULT_METHOD`), each with its settings and their defaults
    (:func:`method_options`) and its budget when ``n_trials=None``:

    - ``"gauss_newton"`` (``patience=10``; budget 100): writes
      :math:`J = w_1 (e^{r_0} - 1)^2 + w_2 (e^{r_1} - 1)^2
      + w_3 r_2^2` with :math:`r_0, r_1` the logarithms of the FSP and BSP ratios and
      :math:`r_2 = \mathrm{GEV}(X) - \mathrm{GEV}(h_L)`, and steps by the damped
      minimum-norm Gauss-Newton step :math:`d = -A^\top (A A^\top + \lambda I)^{-1} b`
      (:math:`A = \sqrt{w}\,\partial r/\partial s`, :math:`b = \sqrt{w}\, r`,
      :math:`\lambda = 10^{-3} \max \operatorname{diag} A A^\top`), cut to a trust radius
      that doubles after good steps and halves after rejected ones; a step is kept only
      when it lowers :math:`J`. The Jacobian (3 backward passes, the BSP row through a
      double backward; one evaluation) is measured at the start and after two rejected
      steps in a row; each step in between is a plain evaluation that updates it by
      Broyden's rule. Stops after ``patience`` evaluations without a relative improvement
      of 1e-4. With random data, each Jacobian evaluation draws fresh X / labels and the
      steps that use it share that draw.
    - ``"gradient"`` (``lr=0.1``, ``patience=None``; budget 200): Adam on
      :math:`\log J(s)` with step ``lr``, projected on the bounds;
      :math:`\partial J/\partial s_l = \langle \partial J / \partial W_l, W_l\rangle` by
      a double backward. With a ``patience``, stops after that many evaluations without a
      new best. A NaN/inf evaluation sends it back to the best point with half the learning
      rate.
    - ``"tpe"`` (``storage=None``, ``study_name='spoginit'``; budget 200) / ``"cmaes"``
      (the same and ``sigma0=0.25``): an Optuna study (seeded ``TPESampler``, or
      ``CmaEsSampler`` started at :math:`s = 0` with step ``sigma0`` in log-scale units);
      the first trial evaluates :math:`s = 0`; a NaN/inf objective prunes the trial.
      ``storage``: an Optuna storage URL (``"sqlite:///spog.db"``), a journal file path
      (``"spog.log"``, an Optuna ``JournalFileBackend``), or a storage object; ``None``
      keeps the study in memory. With a ``storage`` the study persists; calling again with
      the same ``storage`` and ``study_name`` resumes it and runs until the study holds
      ``n_trials`` finished trials.
    - ``"zeroth_order"`` (``lr=0.05``, ``decay=0.7``, ``probes='last'``, ``delta=1e-05``,
      ``patience=10``; budget 400, the authors' 100 steps): the authors'
      ``zeroincrease_initialization``: linear scales :math:`c = 1`, then per step one
      evaluation at :math:`c` and 3 random directions :math:`z \sim N(0, I)` evaluated at
      :math:`c + \delta z`; step :math:`c \leftarrow c - \text{lr}\,\operatorname{sign}(\hat
      g)`; lr ×``decay`` every 20 steps; stop after ``patience`` steps without
      improvement; return the best step. As published, :math:`\hat g` is the last
      direction's estimate :math:`(J(c+\delta z) - J(c)) / (3\delta z)`
      (``probes="last"``); ``probes="mean"`` sums the three.
    - ``"zeroth_order_single"`` (``lr=0.05``, ``decay=0.7``, ``probes='last'``,
      ``delta=1e-05``; budget 300): ``zerosingle_initialization``: the same with one shared
      direction for all layers, 2 probes a step, and no patience.

    ``patience=None`` never stops early. With ``x=None`` the features are fresh
    :math:`X \sim N(0, 1)` for every evaluation, with ``y=None`` fresh uniform random labels,
    drawn from a generator seeded by ``seed`` and the evaluation's index, so a search is
    reproducible from its seed (the zeroth-order methods share one draw between a step's
    evaluation and its probes).

    Args:
        model: any deepgnn model; its weights at call time are the base :math:`W^0`.
        graph: the graph.
        x: node features ``(num_nodes, in_dim)``, or ``None`` for random ones.
        y: integer labels ``(num_nodes,)``, or ``None`` for random ones.
        mask: bool ``(num_nodes,)`` selecting the loss nodes (``None``: all labelled).
        method: one of :data:`METHODS`, or ``None`` for the form's default
            (:data:`DEFAULT_METHOD`).
        n_trials: budget in model evaluations (Optuna: total trials in the study);
            ``None``: the method's default budget (above).
        timeout: stop after this many seconds.
        form: ``"divide_old"`` or ``"divide_stable"`` (see
            :func:`deepgnn.objective.objective`); ``None``: the family's
            (:data:`DEFAULT_FORM`).
        weights: ``(w1, w2, w3)``, finite and >= 0, not all 0; ``None``: the family's
            (:data:`DEFAULT_WEIGHTS`).
        state: the states the FSP forms and the GEV term read: ``"hidden"`` (the graph
            layers' hidden states, the authors' training code) or ``"logits"`` (the same
            and the logits, their Cora notebook); ``None``: the family's
            (:data:`DEFAULT_STATE`). See :func:`deepgnn.objective.signal_terms`.
        bounds: ``(low, high)`` bounds of every scale factor, ``low <= 1 <= high``.
        layers: ``"conv"`` searches the graph convolutions only, as the authors
            (``find_parameters(model.convs)``), or every layer of a family without graph
            convolutions (``appnp``, whose propagation has no weights); ``"all"`` adds the
            linear projections of the residual families; ``"none"`` searches no layer
            weight, only the gates.
        search_gates: ``True`` also searches the scales of the gates (``alpha`` / ``beta`` of
            the gated families), ``False`` none of them, a list such as ``["alpha"]`` those
            named; gates that start at 0 (ReZero's ``alpha``) are not searched. Note that a
            ReZero model at :math:`\alpha = 0` gives its convolutions zero gradients, so the
            BSP ratio and :math:`J` are NaN there: draw nonzero ``alpha`` first.
        seed: seeds the sampler, the directions and the random data.
        progress: show a tqdm bar with the best objective.
        **settings: the method's own settings (above; :func:`method_options`); one the
            method does not take raises, naming the settings it accepts, and an absent one
            takes the method's default.

    Returns:
        A :class:`SearchResult`.

    Raises:
        ValueError: bad options, a setting the method does not take, or nothing to search.
        ImportError: ``cmaes`` method without the ``cmaes`` package.

    Example:
        >>> import deepgnn
        >>> ds = deepgnn.data.load("cora")
        >>> m = deepgnn.build("gcn", ds.num_features, ds.num_classes, depth=6, width=16, seed=0)
        >>> res = search(m, ds.graph, ds.x, ds.y, mask=ds.train_mask, n_trials=5, progress=False)
        >>> res.evaluations, len(res.trace), bool(res.objective <= res.trace["objective"].iloc[0])
        (5, 5, True)
        >>> res = search(m, ds.graph, ds.x, ds.y, mask=ds.train_mask, method="gradient",
        ...              n_trials=5, lr=0.05, patience=None, progress=False)
        >>> res.method, res.evaluations
        ('gradient', 5)
    """
    problem, method, options, n, timeout = _prepare(
        Problem,
        model,
        graph,
        x,
        y,
        mask,
        method=method,
        n_trials=n_trials,
        timeout=timeout,
        form=form,
        weights=weights,
        state=state,
        bounds=bounds,
        layers=layers,
        search_gates=search_gates,
        seed=seed,
        **settings,
    )
    was_training = problem.model.training
    problem.model.eval()
    start = time.perf_counter()
    try:
        study = options.run(problem, n_trials=n, timeout=timeout, progress=progress)
    finally:
        problem.restore_()
        problem.model.train(was_training)
    return _result(problem, method, study, time.perf_counter() - start)


def search_many(
    models: Sequence[GNN],
    graph: Graph,
    x: Tensor | None,
    y: Tensor | None,
    *,
    masks: Sequence[Tensor | None] | None = None,
    options: Sequence[Mapping[str, Any] | None] | None = None,
) -> list[SearchResult | Exception]:
    r"""Run :func:`search` for several models at once, their evaluations batched.

    Model ``i`` is searched with ``options[i]`` (:func:`search`'s keywords: ``method``,
    ``n_trials``, ``form``, ``seed``, the method's settings, ...) on the loss nodes
    ``masks[i]``, and gets the :class:`SearchResult` that ``search(models[i], graph, x, y,
    mask=masks[i], progress=False, **options[i])`` returns, to float rounding. Where the
    models share their architecture (e.g. the seeds and initializations of one cell of a
    depth study), each method runs in a thread of its own and, once every running search has
    asked for its next evaluation, one forward and one backward pass of the stacked models
    (:func:`deepgnn.objective.stacked_signal_terms`) evaluates them all: on a GPU, where a
    search of a small graph is bound by kernel launches, ``k`` searches then take little more
    time than the longest one. The methods, their settings and budgets may differ between
    models; a model whose search ends leaves the stack. Models that cannot stack (different
    architectures or devices, a family or setting without a stacked form, random data with
    ``x`` or ``y`` ``None``) are searched one after the other.

    Args:
        models: the models; each keeps its weights (the base of its search).
        graph: the shared graph.
        x: the shared node features (``None``: random ones, searched one by one).
        y: the shared labels (``None``: random ones, searched one by one).
        masks: one loss-node mask (or ``None``: every labelled node) per model.
        options: one mapping of :func:`search` keywords (or ``None``) per model;
            ``progress`` is off.

    Returns:
        Per model, in order, its :class:`SearchResult`, or the exception its search raised
        (bad options, ...): one failing search does not stop the others.

    Raises:
        ValueError: ``masks`` or ``options`` of another length than ``models``.
        RuntimeError: (or whatever it raised) the stacked evaluation itself failed, e.g. out
            of memory for the stack: search the models one by one.

    Example:
        >>> import deepgnn
        >>> ds = deepgnn.data.load("cora")
        >>> models = [deepgnn.build("gcn", ds.num_features, ds.num_classes, depth=6, width=16,
        ...                         seed=s) for s in (0, 1)]
        >>> both = search_many(models, ds.graph, ds.x, ds.y, masks=[ds.train_mask] * 2,
        ...                    options=[{"n_trials": 5}, {"method": "gradient", "n_trials": 4}])
        >>> [(r.method, r.evaluations) for r in both]
        [('gauss_newton', 5), ('gradient', 4)]
        >>> alone = search(models[1], ds.graph, ds.x, ds.y, mask=ds.train_mask,
        ...                method="gradient", n_trials=4, progress=False)
        >>> bool(abs(alone.objective - both[1].objective) <= 1e-4 * abs(alone.objective))
        True
    """
    models = list(models)
    k = len(models)
    mask_list = per_model("masks", masks, k)
    option_list = [dict(o or {}) for o in per_model("options", options, k)]
    for o in option_list:
        o.pop("progress", None)
    outcomes: list[SearchResult | Exception | None] = [None] * k
    obstacle = stack_obstacle(models, x, y) if k > 1 else "a single model"
    if obstacle is not None:
        logger.debug("search_many searches one by one: %s", obstacle)
        for i, (model, mask, o) in enumerate(zip(models, mask_list, option_list)):
            try:
                outcomes[i] = search(model, graph, x, y, mask=mask, progress=False, **o)
            except Exception as err:
                outcomes[i] = err
        return [o if o is not None else RuntimeError("not searched") for o in outcomes]
    assert x is not None and y is not None
    members: list[tuple[int, MemberProblem, str, Any, int, float | None]] = []
    for i, (model, mask, o) in enumerate(zip(models, mask_list, option_list)):
        try:
            problem, method, settings, n, timeout = _prepare(
                MemberProblem, model, graph, x, y, mask, **o
            )
        except Exception as err:
            outcomes[i] = err
            continue
        assert isinstance(problem, MemberProblem)
        members.append((i, problem, method, settings, n, timeout))
    if members:
        first = members[0][1]
        assert first.x is not None and first.y is not None
        labelled = first.y >= 0  # signal_terms' loss nodes where a member has no mask
        stacked_masks = torch.stack(
            [p.mask if p.mask is not None else labelled for _, p, *_ in members]
        )
        pool = Pool(first.graph, first.x, first.y, stacked_masks, [p for _, p, *_ in members])
        for j, (_, p, *_) in enumerate(members):
            p.attach(pool, j)
        studies: dict[int, Any] = {}
        errors: dict[int, Exception] = {}

        def run(j: int) -> None:
            _, p, _, settings, n, timeout = members[j]
            try:
                studies[j] = settings.run(p, n_trials=n, timeout=timeout, progress=False)
            except Exception as err:
                errors[j] = err

        modes = [m.training for m in models]
        for m in models:
            m.eval()
        start = time.perf_counter()
        try:
            pool.serve(run)
        finally:
            for m, mode in zip(models, modes):
                m.train(mode)
        if pool.failure is not None:  # the stacked evaluation itself failed: the caller's
            raise pool.failure  # to handle (e.g. search one by one), not each member's
        seconds = time.perf_counter() - start
        for j, (i, p, method, *_) in enumerate(members):
            try:
                outcomes[i] = (
                    errors[j] if j in errors else _result(p, method, studies.get(j), seconds)
                )
            except Exception as err:
                outcomes[i] = err
    return [o if o is not None else RuntimeError("not searched") for o in outcomes]


def _prepare(
    cls: type[Problem],
    model: GNN,
    graph: Graph,
    x: Tensor | None,
    y: Tensor | None,
    mask: Tensor | None,
    **options: Any,
) -> tuple[Problem, str, Any, int, float | None]:
    """The checked options of a search (:func:`search`'s keywords) as its ``cls`` problem,
    the method's name and settings, the budget and the timeout."""
    resolved = resolve_options(getattr(model, "family", ""), **options)
    layers, search_gates = resolved["layers"], resolved["search_gates"]
    named = inspect.signature(search).parameters
    settings = {k: v for k, v in options.items() if k not in named}
    form, state, method = resolved["form"], resolved["state"], resolved["method"]
    weights, bounds, seed = tuple(resolved["weights"]), tuple(resolved["bounds"]), resolved["seed"]
    assert form is not None and state is not None and method is not None
    _, method_settings = _settings(method, form, settings)
    if x is None:
        graph = as_graph(graph)
        probe_x = torch.zeros(graph.num_nodes, getattr(model, "in_dim", 1), device=graph.device)
        model, graph, _ = check_operands(model, graph, probe_x, y, mask)
    else:
        model, graph, x = check_operands(model, graph, x, y, mask)
    problem = cls(
        model,
        graph,
        x,
        y,
        mask,
        layers=layers,
        gates=_gate_names(model, search_gates),
        form=form,
        weights=weights,
        state=state,
        seed=seed,
        bounds=bounds,
    )
    return problem, method, method_settings, resolved["n_trials"], resolved["timeout"]


def _result(problem: Problem, method: str, study: Any, seconds: float) -> SearchResult:
    """The :class:`SearchResult` of a finished search."""
    if study is not None:
        trace, best_s, best_value, best_terms = from_study(study, problem)
    else:
        trace = problem.trace()
        best_s, best_value, best_terms = problem.best_s, problem.best_value, problem.best_terms
    if not math.isfinite(best_value):
        logger.warning("spoginit %s: no finite objective; returning the weights as given", method)
        best_value, best_terms = float("nan"), {}
    scales, gates = problem.scales(best_s)
    result = SearchResult(
        method=method,
        scales=scales,
        gates=gates,
        objective=best_value,
        terms=best_terms,
        trace=trace,
        evaluations=len(trace),
        seconds=seconds,
        study=study,
        log_scales=[float(v) for v in best_s],
    )
    logger.info(
        "spoginit %s: best objective %.4g after %d evaluations (%.1f s)",
        method,
        best_value,
        result.evaluations,
        result.seconds,
    )
    return result
