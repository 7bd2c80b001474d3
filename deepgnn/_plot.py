"""What the depth plots share: per-depth summaries, lines with their off-scale points, one
legend and a footer per figure.

Used by :func:`deepgnn.experiment.plot_depth_table` and the sweep report's figures. Needs
matplotlib (imported by the callers' figures; this module imports it inside functions).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "OFF_SCALE_NOTE",
    "SIGNALS",
    "draw_line",
    "edge_handles",
    "finish_figure",
    "line_handle",
    "set_depth_axis",
    "summarize",
]

#: Axis labels of the signal summaries (:func:`deepgnn.signal.analyze`): ℓ is the NLL on the
#: loss nodes, J the SPoGInit objective (``divide_stable``, weights 1, 1, 1, hidden states).
SIGNALS = {
    "fsp": "FSP = ‖h_L‖/‖X‖",
    "bsp": "BSP = ‖∂loss/∂W_1‖",
    "gev": "GEV(h_L)",
    "objective": "SPoGInit objective J",
}
OFF_SCALE_NOTE = (
    "Markers on an axis edge stand for values the axis cannot show: ▼ (bottom) 0 on a log axis "
    "(float32 underflow), ✖ (top) NaN or inf (a diverged model, or a ratio over a gradient "
    "that vanished)"
)


def summarize(
    depth: pd.Series,
    values: pd.Series,
    diverged: pd.Series | None = None,
    *,
    log: bool,
    bounds: tuple[float, float] | None = None,
) -> pd.DataFrame:
    r"""One row per depth: ``center``, ``low``, ``high`` (the bar's ends), ``n`` (values
    shown), ``zero`` (values at or below 0, which a log axis cannot show) and ``bad`` (NaN,
    inf or flagged ``diverged``).

    Linear axes: mean ± std. Log axes: the geometric mean times / divided by the geometric
    standard deviation :math:`e^{\mathrm{std}(\log v)}`, so a bar never reaches 0 and is
    symmetric on the axis. ``bounds`` clips the bar (a metric in [0, 1]).
    """
    v = pd.to_numeric(values, errors="coerce").astype(float)
    bad = ~np.isfinite(v)
    if diverged is not None:
        bad |= diverged.map(lambda f: f is True or f == 1 or f == "True").astype(bool)
    zero = ~bad & (v <= 0) if log else pd.Series(False, index=v.index)
    ok = ~bad & ~zero
    rows = []
    for d in sorted(depth.unique()):
        at = depth == d
        x = v[at & ok].to_numpy()
        if len(x):
            t = np.log(x) if log else x
            center = float(t.mean())
            spread = float(t.std(ddof=1)) if len(t) > 1 else 0.0
            low, high = center - spread, center + spread
            if log:
                center, low, high = math.exp(center), math.exp(low), math.exp(high)
            if bounds is not None:
                low, high = max(low, bounds[0]), min(high, bounds[1])
        else:
            center = low = high = math.nan
        rows.append(
            {
                "depth": d,
                "center": center,
                "low": low,
                "high": high,
                "n": len(x),
                "zero": int((at & zero).sum()),
                "bad": int((at & bad).sum()),
            }
        )
    return pd.DataFrame(rows)


def draw_line(ax: Any, stats: pd.DataFrame, *, color: str, ls: str = "-") -> None:
    """One line with its bars; depths with values off the scale get a marker on the axis
    edge (▼ at the bottom for 0 on a log axis, ✕ at the top for NaN/inf/diverged)."""
    from matplotlib.transforms import blended_transform_factory

    shown = stats[stats["n"] > 0]
    if len(shown):
        yerr = np.vstack([shown["center"] - shown["low"], shown["high"] - shown["center"]])
        ax.errorbar(
            shown["depth"],
            shown["center"],
            yerr=yerr,
            color=color,
            ls=ls,
            marker="o",
            ms=4,
            lw=1.3,
            capsize=2,
            elinewidth=0.9,
        )
    edge = blended_transform_factory(ax.transData, ax.transAxes)
    # Lines off the scale at the same depth stack inwards from the edge instead of hiding
    # each other; the count of markers already on this axes' edges lives on the axes.
    taken = ax.__dict__.setdefault("_deepgnn_edge_marks", {})
    for column, y, step, marker in (("zero", 0.0, 0.055, "v"), ("bad", 1.0, -0.055, "X")):
        hit = stats[stats[column] > 0]
        if len(hit):
            ys = []
            for d in hit["depth"]:
                k = taken.get((column, d), 0)
                taken[(column, d)] = k + 1
                ys.append(y + k * step)
            ax.plot(
                hit["depth"],
                ys,
                marker,
                color=color,
                ms=7,
                mec="white",
                mew=0.5,
                transform=edge,
                clip_on=False,
                zorder=5,
            )


def set_depth_axis(ax: Any, depths: Sequence[int], *, log: bool) -> None:
    """Depths as tick labels (``2, 4, 8``, not powers of 2), log base 2 when ``log``."""
    from matplotlib.ticker import NullLocator

    if log:
        ax.set_xscale("log", base=2)
    ax.set_xticks(list(depths), [str(d) for d in depths])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.grid(True, which="major", alpha=0.3)


def line_handle(label: str, *, color: str, ls: str = "-") -> Any:
    from matplotlib.lines import Line2D

    return Line2D([], [], color=color, ls=ls, marker="o", ms=4, lw=1.3, label=label)


def edge_handles(zero: bool, bad: bool) -> list[Any]:
    """Legend entries of the edge markers that a figure shows."""
    from matplotlib.lines import Line2D

    handles = []
    if zero:
        handles.append(
            Line2D([], [], ls="none", marker="v", color="0.35", ms=7, label="0 (underflow)")
        )
    if bad:
        handles.append(
            Line2D([], [], ls="none", marker="X", color="0.35", ms=7, label="NaN/inf, diverged")
        )
    return handles


def finish_figure(fig: Any, handles: list[Any], footer: str, *, ncol: int = 8) -> None:
    """One legend above the panels and a footer below them (the PNG's bounding box is tight,
    so both stay outside the axes)."""
    fig.legend(
        handles=handles,
        loc="outside upper center",
        ncol=min(ncol, len(handles)) or 1,
        frameon=False,
        fontsize="small",
        handlelength=2.2,
    )
    fig.text(0.005, -0.005, footer, ha="left", va="top", fontsize=7, color="0.3", wrap=True)
