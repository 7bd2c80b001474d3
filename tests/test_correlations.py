from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import rankdata, spearmanr

from deepgnn.sweep.correlations import correlations, correlations_md

ROOT = Path(__file__).resolve().parents[1]


def _rows(depths, measure, test, best_train=None, best_epoch=None):
    n = len(depths)
    return pd.DataFrame(
        {
            "dataset": "cora",
            "family": "gcn",
            "status": "ok",
            "depth": depths,
            "test": test,
            "sp_init_fsp": measure,
            "best_train": best_train if best_train is not None else [1.0] * n,
            "chance": 1 / 7,
            "best_epoch": best_epoch if best_epoch is not None else [100] * n,
            "epochs": 1000,
        }
    )


def test_within_depth_correlation_sees_what_pooling_over_depth_hides():
    # Simpson's paradox: inside each depth the metric rises with the measure, across depths
    # the deeper cells have larger measures and lower metrics
    depths = [2] * 4 + [16] * 4
    measure = [1.0, 2.0, 3.0, 4.0, 11.0, 12.0, 13.0, 14.0]
    test = [0.80, 0.81, 0.82, 0.83, 0.30, 0.31, 0.32, 0.33]
    t = correlations(_rows(depths, measure, test), n_resamples=200).iloc[0]
    assert t["rho_depth"] == pytest.approx(1.0)
    assert t["rho"] == pytest.approx(spearmanr(measure, test).statistic)
    assert t["rho"] < 0
    assert t["rho_lo"] <= t["rho"] <= t["rho_hi"]
    assert t["n"] == 8 and t["n_depths"] == 2 and t["n_untrained"] == 0


def test_fitted_only_leaves_out_untrained_unfitted_and_budget_limited_cells():
    rng = np.random.default_rng(0)
    depths = [4] * 12
    measure = list(range(12))
    # the untrained (0.15), unfitted (0.43) and budget-limited (best epoch 950 of 1000) cells
    # carry the correlation; the cells that count are noise
    test = [0.1, 0.1, 0.2, 0.3, *rng.permutation(np.linspace(0.6, 0.8, 8))]
    best_train = [0.15, 0.15, 0.43, 1.0] + [1.0] * 8
    best_epoch = [100, 100, 100, 950] + [100] * 8
    t = correlations(_rows(depths, measure, test, best_train, best_epoch), n_resamples=0).iloc[0]
    fitted = spearmanr(measure[4:], test[4:]).statistic
    assert t["rho_depth_fitted"] == pytest.approx(fitted)
    assert t["rho_depth"] == pytest.approx(spearmanr(measure, test).statistic)
    assert t["n_untrained"] == 2 and t["n_fitted"] == 8
    assert np.isnan(t["rho_depth_fitted_lo"])


def test_failed_cells_constant_measures_and_bad_input():
    rows = _rows([2, 2, 4, 4], [1.0, 1.0, 1.0, 1.0], [0.5, 0.6, 0.7, 0.8])
    assert correlations(rows).empty  # a constant measure orders nothing
    rows["sp_init_fsp"] = [1.0, 2.0, 3.0, np.nan]
    rows.loc[0, "status"] = "failed"
    assert correlations(rows).empty  # two usable cells are too few
    with pytest.raises(ValueError, match=r"rows lack the columns \['depth'\]"):
        correlations(rows.drop(columns="depth"))
    with pytest.raises(ValueError, match="n_resamples=-1"):
        correlations(rows, n_resamples=-1)
    assert "No init-time measure was recorded" in correlations_md(correlations(rows), title="t")


def test_committed_planetoid_study_correlations():
    path = ROOT / "results" / "paper_planetoid" / "results.csv"
    df = pd.read_csv(path)
    t = correlations(df, n_resamples=100)
    assert set(t["measure"]) == {"fsp", "bsp", "gev", "objective"}
    assert (t["n"] == 108).all() and len(t) == 2 * 3 * 4
    cora = t[(t["dataset"] == "cora") & (t["family"] == "gcn")].set_index("measure")
    sub = df[(df["dataset"] == "cora") & (df["family"] == "gcn") & (df["status"] != "failed")]
    assert cora.loc["gev", "rho"] == pytest.approx(
        spearmanr(sub["sp_init_gev"], sub["test"]).statistic
    )
    assert (t[["rho", "rho_depth"]].abs() <= 1).all().all()
    md = correlations_md(t, title="paper_planetoid")
    assert md.count("## ") == 6 and "| GEV (graph-embedding variation) |" in md


def test_within_depth_ranks_are_taken_among_one_depths_cells_only():
    # the two depths' values interleave: ranks over all cells would space them differently
    depths = [2] * 4 + [8] * 4
    measure = [1.0, 10.0, 20.0, 30.0, 2.0, 3.0, 4.0, 40.0]
    test = [0.2, 0.5, 0.3, 0.9, 0.1, 0.4, 0.2, 0.6]

    def centered(v, d):  # ranks among one depth's cells, minus their mean
        v, d = np.asarray(v), np.asarray(d)
        out = np.zeros(len(v))
        for k in np.unique(d):
            r = rankdata(v[d == k])
            out[d == k] = r - r.mean()
        return out

    a, b = centered(measure, depths), centered(test, depths)
    expected = (a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum())
    t = correlations(_rows(depths, measure, test), n_resamples=0).iloc[0]
    assert t["rho_depth"] == pytest.approx(expected)
