r"""Experiments: the signal-propagation depth table and its markdown and plot.

:func:`depth_table` builds a model for every depth × initialization × seed, initializes it
and measures it with :func:`deepgnn.signal.analyze`; :func:`format_depth_table` and
:func:`plot_depth_table` present the result.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import Tensor

from deepgnn import init
from deepgnn._checks import check_choice, check_int
from deepgnn._io import save_figure
from deepgnn.data import Dataset
from deepgnn.graph import Graph
from deepgnn.models import available, build
from deepgnn.signal import analyze

__all__ = ["depth_table", "format_depth_table", "plot_depth_table"]

logger = logging.getLogger(__name__)


# ----------------------------------------------------------------------- depth table
def _resolve_data(
    data: Dataset | Graph, x: Tensor | None, y: Tensor | None, num_classes: int | None
) -> tuple[str, Graph, Tensor, Tensor | None, Tensor | None, int]:
    if isinstance(data, Dataset):
        return data.name, data.graph, data.x, data.y, data.train_mask, data.num_classes
    if isinstance(data, Graph):
        if x is None:
            raise ValueError(
                "depth_table on a Graph needs node features: pass x=<(num_nodes, d) tensor>, "
                "e.g. x=torch.randn(graph.num_nodes, 64)"
            )
        if num_classes is None:
            if y is None:
                raise ValueError("depth_table on a Graph needs num_classes= (or y=)")
            num_classes = int(y.max()) + 1
        return "graph", data, x, y, None, num_classes
    raise TypeError(
        f"dataset_or_graph must be a deepgnn.data.Dataset or deepgnn.Graph, got "
        f"{type(data).__name__}; load one with deepgnn.data.load('cora')"
    )


def _int_list(arg: str, values: object, minimum: int) -> list[int]:
    if isinstance(values, int) and not isinstance(values, bool):
        values = [values]
    if not isinstance(values, Sequence) or isinstance(values, str) or not values:
        raise ValueError(f"{arg} must be a non-empty list of ints, got {values!r}")
    return [check_int(arg, v, minimum=minimum) for v in values]


def depth_table(
    family: str,
    dataset_or_graph: Dataset | Graph,
    depths: Sequence[int],
    inits: Sequence[str],
    seeds: Sequence[int] = (0,),
    *,
    x: Tensor | None = None,
    y: Tensor | None = None,
    num_classes: int | None = None,
    device: str | torch.device | None = None,
    **model_kw: Any,
) -> pd.DataFrame:
    r"""Signal-propagation summary of ``family`` for every depth × init × seed, as a tidy table.

    For each cell the model is built with ``deepgnn.build(family, ..., depth, seed=seed,
    **model_kw)``, initialized with ``deepgnn.init.init_(model, init, generator=<seed>)``
    and measured with :func:`analyze` (loss on the dataset's training nodes; random
    labels from the seed on a bare graph without ``y``).

    Args:
        family: a model family (``deepgnn.models.available()``).
        dataset_or_graph: a :class:`~deepgnn.data.Dataset`, or a :class:`~deepgnn.Graph`
            with ``x=`` (and ``y=`` or ``num_classes=``).
        depths: model depths.
        inits: names from ``deepgnn.init.available()``.
        seeds: one row per seed.
        x, y, num_classes: features, labels, classes when ``dataset_or_graph`` is a Graph.
        device: where to run (default: CPU).
        **model_kw: options of :func:`deepgnn.build` (``width``, ``activation``, ``bias``, ...).

    Returns:
        One row per family × depth × init × seed with columns ``dataset``, ``family``,
        ``activation``, ``width``, ``depth``, ``init``, ``seed``, the summary of
        :func:`analyze` (``fsp``, ``bsp``, ``gev``, ``gev_input``, ``objective``, ...,
        ``diverged``), ``seconds``, ``torch``, ``device``.

    Example:
        >>> import deepgnn
        >>> df = depth_table("gcn", deepgnn.data.load("cora"), [2, 4], ["xavier"], [0], width=16)
        >>> list(df["depth"]), bool((df["fsp"] > 0).all())
        ([2, 4], True)
    """

    check_choice("family", family, available())
    depths = _int_list("depths", depths, 1)
    seeds = _int_list("seeds", seeds, 0)
    if isinstance(inits, str):
        inits = [inits]
    for name in inits:
        check_choice("inits", name, init.available())
    name, graph, feats, labels, mask, classes = _resolve_data(dataset_or_graph, x, y, num_classes)
    dev = torch.device(device) if device is not None else graph.device
    graph, feats = graph.to(dev), feats.to(dev)
    labels = labels.to(dev) if labels is not None else None
    mask = mask.to(dev) if mask is not None else None

    rows = []
    for depth in depths:
        for init_name in inits:
            for seed in seeds:
                start = time.perf_counter()
                model = build(family, feats.shape[1], classes, depth, seed=seed, **model_kw)
                model = model.to(dev)
                gen = torch.Generator(device=dev).manual_seed(seed)
                kw: dict[str, Any] = {"generator": gen}
                init.init_(model, init_name, graph=graph, x=feats, **kw)
                summary = analyze(model, graph, feats, labels, mask=mask, seed=seed).attrs[
                    "summary"
                ]
                rows.append(
                    {
                        "dataset": name,
                        "family": family,
                        "activation": model.activation,
                        "width": model.width,
                        "depth": depth,
                        "init": init_name,
                        "seed": seed,
                        **summary,
                        "seconds": time.perf_counter() - start,
                        "torch": torch.__version__,
                        "device": str(dev),
                    }
                )
                logger.info(
                    "%s depth %d %s seed %d: fsp %.3e bsp %.3e gev %.3e",
                    family,
                    depth,
                    init_name,
                    seed,
                    summary["fsp"],
                    summary["bsp"],
                    summary["gev"],
                )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------- table and plot
_METRICS = {"fsp": "FSP = ‖h_L‖/‖X‖", "bsp": "BSP = ‖∂loss/∂W_1‖", "gev": "GEV(h_L)"}


def format_depth_table(df: pd.DataFrame, *, metrics: Sequence[str] = ("fsp", "bsp", "gev")) -> str:
    """Render a :func:`depth_table` as markdown: per family and metric, depth × init (mean over seeds).

    Diverged cells print as ``diverged``.

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"family": ["gcn"], "activation": ["tanh"], "depth": [2],
        ...                    "init": ["xavier"], "fsp": [0.5], "diverged": [False]})
        >>> print(format_depth_table(df, metrics=["fsp"]))
        **gcn (tanh): FSP = ‖h_L‖/‖X‖**
        <BLANKLINE>
        | depth | xavier |
        |---:|---:|
        | 2 | 5.00e-01 |
    """
    for m in metrics:
        check_choice("metrics", m, _METRICS)
    blocks = []
    for (family, act), part in df.groupby(["family", "activation"], sort=False):
        inits = list(dict.fromkeys(part["init"]))
        depths = sorted(set(part["depth"]))
        for m in metrics:
            lines = [
                f"**{family} ({act}): {_METRICS[m]}**",
                "",
                "| depth | " + " | ".join(inits) + " |",
                "|---:|" + "---:|" * len(inits),
            ]
            for d in depths:
                cells = []
                for i in inits:
                    cell = part[(part["depth"] == d) & (part["init"] == i)]
                    if cell.empty:
                        cells.append("")
                    elif bool(cell["diverged"].any()):
                        cells.append("diverged")
                    else:
                        cells.append(f"{cell[m].mean():.2e}")
                lines.append(f"| {d} | " + " | ".join(cells) + " |")
            blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def plot_depth_table(
    df: pd.DataFrame, path: str | Path, *, metrics: Sequence[str] = ("fsp", "bsp", "gev")
) -> Path:
    """Plot FSP, BSP and GEV against depth (log scales), one line per family × init; save a PNG.

    Color = init, line style = family; NaN, inf and 0 (log scale) are left out of the lines.

    Written atomically. Needs matplotlib (imported here, Agg backend).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for m in metrics:
        check_choice("metrics", m, _METRICS)
    path = Path(path)
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 4), squeeze=False)
    groups = list(df.groupby(["family", "activation", "init"], sort=False))
    styles = {fam: s for fam, s in zip(dict.fromkeys(df["family"]), ["-", "--", ":", "-."] * 4)}
    colors = {name: f"C{i % 10}" for i, name in enumerate(dict.fromkeys(df["init"]))}
    for ax, m in zip(axes[0], metrics):
        for (family, act, init_name), part in groups:
            mean = part.groupby("depth")[m].mean()
            mean = mean[(mean > 0) & mean.map(math.isfinite)]  # log scale: drop 0, inf, NaN
            ax.plot(
                mean.index,
                mean.values,
                styles[family],
                color=colors[init_name],
                marker="o",
                ms=3,
                label=f"{family} ({act}) {init_name}",
            )
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("depth")
        ax.set_title(_METRICS[m])
        ax.grid(True, which="major", alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center right", fontsize=8)
    fig.tight_layout(rect=(0, 0, 0.84, 1))
    try:
        return save_figure(fig, path, tight=False)
    finally:
        plt.close(fig)
