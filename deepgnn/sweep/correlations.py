r"""Which measure at initialization predicts the final metric? Rank correlations over a sweep's cells.

For every dataset × family of a sweep and every init-time measure its cells recorded
(``sp_init_*`` columns: FSP, BSP, GEV, the SPoGInit objective J and, with ``measures`` in the
config, Dirichlet energy, MAD, effective rank and the Jacobian's extreme singular values),
:func:`correlations` gives three Spearman rank correlations with the final test metric, each
with a percentile bootstrap interval over cells (``scipy.stats.bootstrap``, cells resampled
with replacement, paired):

- ``rho``: over all cells that ran, depths pooled. Both the measures and the metric move with
  depth, so this mostly says whether a measure tracks depth.
- ``rho_depth``: within depth. Ranks are taken among the cells of one depth and centered
  there, and the centered ranks of measure and metric are correlated across all depths
  (Pearson on within-depth ranks): does the measure order the initializations (and seeds)
  of one depth the way the metric does? This is the question an initialization study asks.
- ``rho_depth_fitted``: the same over the cells that count only (fitted their training set,
  not budget-limited: :func:`deepgnn.train.verdicts`), so that cells whose test metric mixes
  how far training got with how well the model generalizes do not carry the correlation.

Cells that failed, or whose metric or measure is not finite, are left out of each
correlation; ``n``, ``n_untrained`` and ``n_fitted`` count the cells used.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from deepgnn.train import verdicts

__all__ = ["INIT_MEASURES", "correlations", "correlations_md"]

#: The init-time measures correlated, as ``sp_init_<name>`` columns, and how they read.
INIT_MEASURES: dict[str, str] = {
    "fsp": "FSP (forward signal)",
    "bsp": "BSP (backward signal)",
    "gev": "GEV (graph-embedding variation)",
    "objective": "J (SPoGInit objective)",
    "dirichlet": "Dirichlet energy",
    "dirichlet_normalized": "Dirichlet energy, normalized Laplacian",
    "mad_edges": "MAD over edges",
    "mad_global": "MAD over all pairs",
    "effective_rank": "effective rank",
    "numerical_rank": "numerical rank",
    "jacobian_top": "Jacobian σ_max",
    "jacobian_spread": "Jacobian log10 σ_max/σ_min (Krylov)",
}


def _ranks(a: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(a, axis=-1)


def _within(a: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """Ranks of ``a`` among the cells of the same depth, centered there (shape ``(..., n)``).

    The other depths' cells are set to +inf for the ranking, so a cell's rank counts only the
    cells of its own depth; a depth of k cells gets ranks 1..k, centered by (k + 1) / 2.
    """
    out = np.zeros_like(a, dtype=float)
    for d in np.unique(depth):
        mask = depth == d
        r = _ranks(np.where(mask, a, np.inf))
        count = mask.sum(axis=-1, keepdims=True)
        out = np.where(mask, r - (count + 1) / 2, out)
    return out


def _pearson(a: np.ndarray, b: np.ndarray, *, centered: bool) -> np.ndarray:
    if not centered:
        a = a - a.mean(axis=-1, keepdims=True)
        b = b - b.mean(axis=-1, keepdims=True)
    den = np.sqrt((a * a).sum(axis=-1) * (b * b).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (a * b).sum(axis=-1) / np.where(den > 0, den, 1.0), np.nan)


# ``axis``: scipy's vectorized bootstrap passes it; the statistics always reduce the last axis.
def _rho(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    return _pearson(_ranks(x), _ranks(y), centered=False)


def _rho_depth(x: np.ndarray, y: np.ndarray, depth: np.ndarray, axis: int = -1) -> np.ndarray:
    return _pearson(_within(x, depth), _within(y, depth), centered=True)


def _interval(stat: Any, data: tuple[np.ndarray, ...], n_resamples: int, seed: int) -> tuple:
    from scipy.stats import DegenerateDataWarning, bootstrap

    point = float(stat(*data))
    if not math.isfinite(point) or n_resamples == 0:
        return point, math.nan, math.nan
    # few cells (or ties) make resamples whose ranks are all equal: the statistic is NaN
    # there and scipy warns that the interval is degenerate; it is reported as NaN
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateDataWarning)
        res = bootstrap(
            data,
            stat,
            paired=True,
            vectorized=True,
            n_resamples=n_resamples,
            method="percentile",
            random_state=np.random.default_rng(seed),
        )
    lo, hi = res.confidence_interval
    return point, float(lo), float(hi)


def _flags(df: Any, column: str) -> np.ndarray:
    return df[column].map(lambda v: v is True or v == 1 or v == "True").to_numpy(bool)


def correlations(
    rows: Any,
    *,
    metric: str = "test",
    n_resamples: int = 1000,
    seed: int = 0,
) -> Any:
    """Spearman correlations between init-time measures and ``metric``, per dataset × family.

    Args:
        rows: a sweep's rows (``deepgnn.sweep.report``'s return value or its ``results.csv``
            read by pandas): ``dataset``, ``family``, ``depth``, ``status``, ``metric`` and
            ``sp_init_*`` columns; the verdicts come from ``best_train``, ``chance``,
            ``best_epoch`` and ``epochs`` where it has them (:func:`deepgnn.train.verdicts`;
            without them no cell counts as fitted).
        metric: the column correlated with (``"test"``; ``"best_train"`` asks about
            trainability).
        n_resamples: bootstrap resamples of the cells for the 95% intervals (0: none).
        seed: seeds the bootstrap.

    Returns:
        A ``pandas.DataFrame``, one row per dataset × family × measure: ``n``, ``n_untrained``,
        ``n_fitted`` (cells that count), ``n_depths``, ``rho``, ``rho_lo``, ``rho_hi``,
        ``rho_depth`` (+ ``_lo``/``_hi``), ``rho_depth_fitted`` (+ ``_lo``/``_hi``). Empty
        when no measure was recorded.

    Raises:
        ValueError: ``rows`` lacks a column named above, or ``metric`` is not a column.

    Example:
        >>> import pandas as pd
        >>> rows = pd.DataFrame({"dataset": "cora", "family": "gcn", "status": "ok",
        ...     "depth": [2, 2, 2, 8, 8, 8], "test": [.8, .7, .6, .5, .4, .3],
        ...     "sp_init_fsp": [3., 2., 1., 3., 2., 1.]})
        >>> correlations(rows, n_resamples=0)[["measure", "rho", "rho_depth"]]
          measure       rho  rho_depth
        0     fsp  0.478091        1.0
    """
    import pandas as pd

    need = {"dataset", "family", "depth", "status", metric}
    missing = sorted(need - set(rows.columns))
    if missing:
        raise ValueError(
            f"rows lack the columns {missing}; pass a sweep's rows (deepgnn.sweep.report's "
            f"return value or its results.csv), metric= one of its columns"
        )
    if not isinstance(n_resamples, int) or isinstance(n_resamples, bool) or n_resamples < 0:
        raise ValueError(f"n_resamples={n_resamples!r}; pass an int >= 0 such as 1000")
    measures = [m for m in INIT_MEASURES if f"sp_init_{m}" in rows]
    ran = verdicts(rows[rows["status"] != "failed"])
    out = []
    for (dataset, family), part in ran.groupby(["dataset", "family"], sort=False):
        y_all = pd.to_numeric(part[metric], errors="coerce").to_numpy(float)
        depth_all = pd.to_numeric(part["depth"], errors="coerce").to_numpy(float)
        bad_all = _flags(part, "untrained")
        counts_all = part["counts"].to_numpy(bool)
        for name in measures:
            x_all = pd.to_numeric(part[f"sp_init_{name}"], errors="coerce").to_numpy(float)
            keep = np.isfinite(x_all) & np.isfinite(y_all) & np.isfinite(depth_all)
            x, y, d, bad = x_all[keep], y_all[keep], depth_all[keep], bad_all[keep]
            fit = counts_all[keep]
            if len(x) < 3 or np.ptp(x) == 0:
                continue
            row: dict[str, Any] = {"dataset": dataset, "family": family, "measure": name}
            row.update(n=len(x), n_untrained=int(bad.sum()), n_fitted=int(fit.sum()))
            row.update(n_depths=len(np.unique(d)))
            stats = {
                "rho": (_rho, (x, y)),
                "rho_depth": (_rho_depth, (x, y, d)),
                "rho_depth_fitted": (_rho_depth, (x[fit], y[fit], d[fit])),
            }
            for key, (stat, data) in stats.items():
                if len(data[0]) < 3:
                    row.update({key: math.nan, f"{key}_lo": math.nan, f"{key}_hi": math.nan})
                    continue
                point, lo, hi = _interval(stat, data, n_resamples, seed)
                row.update({key: point, f"{key}_lo": lo, f"{key}_hi": hi})
            out.append(row)
    return pd.DataFrame(out)


def _cell(row: Any, key: str) -> str:
    v, lo, hi = row[key], row[f"{key}_lo"], row[f"{key}_hi"]
    if not math.isfinite(v):
        return "—"
    text = f"{v:+.2f}"
    if math.isfinite(lo) and math.isfinite(hi):
        text += f" [{lo:+.2f}, {hi:+.2f}]"
    return f"**{text}**" if math.isfinite(lo) and (lo > 0 or hi < 0) else text


def correlations_md(table: Any, *, title: str, metric_name: str = "test metric") -> str:
    """The table of :func:`correlations` as markdown: one section per dataset × family."""
    lines = [
        f"# {title}",
        "",
        f"Spearman rank correlation of each init-time measure with the final {metric_name}, "
        "with 95% percentile bootstrap intervals over cells (bold: the interval excludes 0). "
        "*pooled*: all cells, depths together (both move with depth); *within depth*: ranks "
        "taken and centered among the cells of one depth, then correlated over all depths — "
        "does the measure order the initializations of a depth as the metric does; "
        "*fitted only*: the same over the cells that fitted their training set and were not "
        "budget-limited (deepgnn.train.verdicts).",
        "",
    ]
    if table.empty:
        return "\n".join(lines + ["No init-time measure was recorded (record 'signal_init')."])
    for (dataset, family), part in table.groupby(["dataset", "family"], sort=False):
        first = part.iloc[0]
        lines += [
            f"## {dataset}, {family}",
            "",
            f"{int(first['n'])} cells over {int(first['n_depths'])} depths, "
            f"{int(first['n_untrained'])} untrained, {int(first['n_fitted'])} fitted and not "
            "budget-limited.",
            "",
            "| measure at init | pooled | within depth | within depth, fitted only |",
            "|---|---:|---:|---:|",
        ]
        for _, row in part.iterrows():
            label = INIT_MEASURES.get(row["measure"], row["measure"])
            cells = [_cell(row, k) for k in ("rho", "rho_depth", "rho_depth_fitted")]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines) + "\n"
