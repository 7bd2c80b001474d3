"""Sweep reports: ``results.csv``, ``summary.md`` and plots from the ledger's recorded rows."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

from deepgnn._io import save_figure, write_atomic
from deepgnn.sweep.config import SweepConfig, as_config, out_dir
from deepgnn.sweep.ledger import Ledger

__all__ = ["report"]

log = logging.getLogger(__name__)


def _fmt(mean: float, std: float, n: int) -> str:
    if not math.isfinite(mean):
        return "—"
    return f"{mean:.4f}" if n < 2 or not math.isfinite(std) else f"{mean:.4f} ± {std:.4f}"


def _summary_md(config: SweepConfig, df: Any, n_cells: int) -> str:
    import pandas as pd

    metric = (
        str(df["metric"].dropna().iloc[0])
        if "metric" in df and df["metric"].notna().any()
        else "test"
    )
    lines = [f"# Sweep `{config.name}`", ""]
    if config.description:
        lines += [config.description, ""]
    counts = df["status"].value_counts().to_dict()
    lines.append(
        f"{len(df)} of {n_cells} cells recorded ("
        + ", ".join(f"{counts.get(k, 0)} {k}" for k in ("ok", "diverged", "failed"))
        + f"). Entries: test {metric} at the epoch of best validation, mean ± std over seeds; "
        "best per depth in **bold**."
    )
    lines.append("")
    axes = config.axes()
    group_cols = ["dataset", "family"] + [
        c for c in axes if c not in ("dataset", "family", "depth", "init", "seed") and c in df
    ]
    ok = df[df["status"] != "failed"]
    for group, part in df.groupby(group_cols, dropna=False, sort=False):
        group = group if isinstance(group, tuple) else (group,)
        title = ", ".join(f"{c}={v}" for c, v in zip(group_cols, group))
        lines += [f"## {title}", ""]
        inits = list(dict.fromkeys(part["init"]))
        lines.append("| depth | " + " | ".join(inits) + " |")
        lines.append("|---:|" + "---:|" * len(inits))
        okp = ok.loc[ok.index.intersection(part.index)]
        for depth in sorted(part["depth"].unique()):
            stats = {}
            for init in inits:
                sel = okp[(okp["depth"] == depth) & (okp["init"] == init)]
                vals = pd.to_numeric(sel["test"], errors="coerce").dropna()
                stats[init] = (
                    float(vals.mean()) if len(vals) else math.nan,
                    float(vals.std()) if len(vals) > 1 else math.nan,
                    len(vals),
                )
            finite = [m for m, _, _ in stats.values() if math.isfinite(m)]
            best = max(finite) if finite else None
            cells = []
            for init in inits:
                mean, std, n = stats[init]
                text = _fmt(mean, std, n)
                if best is not None and mean == best:
                    text = f"**{text}**"
                sub = part[(part["depth"] == depth) & (part["init"] == init)]
                notes = [
                    f"{int((sub['status'] == k).sum())} {k}"
                    for k in ("diverged", "failed")
                    if (sub["status"] == k).any()
                ]
                cells.append(text + (f" ({', '.join(notes)})" if notes else ""))
            lines.append(f"| {depth} | " + " | ".join(cells) + " |")
        lines.append("")
    versions = df.iloc[0]
    lines.append(
        f"torch {versions.get('torch_version', '?')}, deepgnn {versions.get('deepgnn_version', '?')}; "
        f"devices: {', '.join(sorted(map(str, df['device'].dropna().unique())))}."
    )
    return "\n".join(lines) + "\n"


def _plots(config: SweepConfig, df: Any, out: Path) -> list[Path]:
    import pandas as pd
    from matplotlib.figure import Figure

    written = []
    ok = df[df["status"] != "failed"].copy()
    if ok.empty:
        return written
    extra = [c for c in config.axes() if c not in ("dataset", "family", "depth", "init", "seed")]
    # Settings that vary only between families (e.g. [model.gcn] activation) label the panel,
    # not the line.
    per_family = [c for c in extra if c in ok]
    extra = [c for c in per_family if ok.groupby(["dataset", "family"])[c].nunique().max() > 1]
    per_family = [c for c in per_family if c not in extra]
    ok["line"] = ok["init"].astype(str)
    for c in extra:
        ok["line"] += f", {c}=" + ok[c].astype(str)
    signals = sorted(c for c in ok if c.startswith("sp_") and _plottable(c))
    for dataset, part in ok.groupby("dataset", sort=False):
        families = list(dict.fromkeys(part["family"]))
        log_x = part["depth"].max() >= 8 * part["depth"].min()
        panels = [("test", f"test {part['metric'].iloc[0]}", False)]
        panels += [(c, c, c.split("_")[-1] in ("fsp", "bsp")) for c in signals]
        for name, columns in (("test", panels[:1]), ("signal", panels[1:])):
            if not columns:
                continue
            fig = Figure(figsize=(4.2 * len(families), 3.2 * len(columns)))
            axes = fig.subplots(len(columns), len(families), squeeze=False, sharey="row")
            depths = sorted(part["depth"].unique())
            for r, (col, label, log_y) in enumerate(columns):
                for c, family in enumerate(families):
                    ax = axes[r][c]
                    fam = part[part["family"] == family]
                    for line, sub in fam.groupby("line", sort=False):
                        vals = pd.to_numeric(sub[col], errors="coerce")
                        g = vals.groupby(sub["depth"]).agg(["mean", "std"]).sort_index()
                        ax.errorbar(
                            g.index,
                            g["mean"],
                            yerr=g["std"].fillna(0),
                            marker="o",
                            capsize=2,
                            label=line,
                        )
                    if log_x:
                        ax.set_xscale("log", base=2)
                    ax.set_xticks(depths, [str(d) for d in depths])
                    if log_y:
                        ax.set_yscale("log")
                    ax.set_xlabel("depth")
                    ax.set_ylabel(label)
                    fixed = ", ".join(f"{k}={fam[k].iloc[0]}" for k in per_family)
                    ax.set_title(f"{dataset}, {family}" + (f" ({fixed})" if fixed else ""))
                    ax.grid(alpha=0.3)
            axes[0][-1].legend(fontsize="small")
            path = out / f"{dataset}_{name}_vs_depth.png"
            save_figure(fig, path)
            written.append(path)
    return written


def _plottable(column: str) -> bool:
    return column.split("_", 2)[-1] in ("fsp", "bsp", "gev", "objective")


def report(
    config: SweepConfig | str | Path,
    *,
    storage: str | None = None,
    out: str | Path | None = None,
) -> Any:
    """Write ``results.csv``, ``summary.md`` and plots for the sweep's recorded cells.

    - ``results.csv``: one row per cell (a cell is one seed): its settings, the
      :class:`~deepgnn.train.TrainResult` fields, ``sp_init_*`` / ``sp_final_*`` signal
      summary columns when recorded, ``status`` (``ok``, ``diverged``, ``failed``), ``error``,
      ``attempt``, ``trial``, ``worker``, ``host``, ``device``, ``wall_seconds`` and the torch,
      deepgnn and Optuna versions. Cells not finished yet are left out.
    - ``summary.md``: test metric mean ± std over seeds per dataset x family (x any other
      axis) with depth rows and init columns, best per depth in bold.
    - ``<dataset>_test_vs_depth.png`` (one line per init, one panel per family) and, when
      signals were recorded, ``<dataset>_signal_vs_depth.png``.

    Args:
        config: a :class:`SweepConfig` or the path of its TOML file.
        storage: as in :func:`run`.
        out: as in :func:`run`; the files are written there.

    Returns:
        The results as a ``pandas.DataFrame`` (the rows of ``results.csv``).
    """
    import pandas as pd

    config = as_config(config)
    folder = out_dir(config, out)
    ledger = Ledger(config, storage=storage, out=folder)
    df = pd.DataFrame(ledger.rows())
    n_cells = len(ledger.cells)
    if df.empty:
        log.warning("sweep %s has no recorded cell yet; nothing to report", config.name)
        return df
    write_atomic(folder / "results.csv", df.to_csv(index=False))
    write_atomic(folder / "summary.md", _summary_md(config, df, n_cells))
    _plots(config, df, folder)
    return df
