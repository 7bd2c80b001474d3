"""Sweep reports: ``results.csv``, ``summary.md`` and plots from the ledger's recorded rows.

A depth result counts only if the model fitted its training set. Each row carries its best
training metric, the task's chance level, its best-validation epoch and the epochs it ran, and
from them its verdicts (:func:`deepgnn.train.verdicts`: ``untrained``, ``fitted``,
``budget_limited``, ``counts``); the summary and the plots average only the seeds that count
(fitted, not budget-limited), say how many they are, count and mark the others by why, and
put the training metric beside the test metric.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

from deepgnn._io import quiet_optuna, save_figure, stops_on_os_error, write_atomic
from deepgnn._plot import (
    OFF_SCALE_NOTE,
    SIGNALS,
    draw_line,
    edge_handles,
    finish_figure,
    line_handle,
    set_depth_axis,
    summarize,
)
from deepgnn.sweep.config import SweepConfig, as_config, out_dir
from deepgnn.sweep.correlations import correlations, correlations_md
from deepgnn.sweep.ledger import Ledger
from deepgnn.train import BUDGET_FRACTION, FIT_FRACTION, UNTRAINED_FRACTION, verdicts

__all__ = ["MAX_CURVES", "plot_curves", "report", "seed_kinds"]

log = logging.getLogger(__name__)

_MAIN_AXES = ("dataset", "family", "depth", "init", "seed")


def _numeric(df: Any, column: str) -> Any:
    import pandas as pd

    if column not in df:
        return pd.Series(math.nan, index=df.index)
    return pd.to_numeric(df[column], errors="coerce")


def _with_trainability(df: Any) -> Any:
    """Every row's verdicts (``untrained``, ``fitted``, ``budget_limited``, ``counts``),
    recomputed from the columns it holds (:func:`deepgnn.train.verdicts`), so rows recorded
    before a verdict existed are judged as new ones."""
    return verdicts(df)


def _untrained(df: Any) -> Any:
    return df["untrained"].map(lambda v: v is True or v == 1 or v == "True")


def _flag(df: Any, column: str) -> Any:
    return df[column].map(lambda v: v is True or v == 1 or v == "True")


def _fmt(mean: float, std: float, n: int) -> str:
    """``mean ± std``; the mean alone for one seed, or seeds that agree to the 4 digits shown."""
    if not math.isfinite(mean):
        return "—"
    if n < 2 or not math.isfinite(std) or round(std, 4) == 0:
        return f"{mean:.4f}"
    return f"{mean:.4f} ± {std:.4f}"


def seed_kinds(part: Any) -> dict[str, int]:
    """How many of ``part``'s run seeds are untrained, fitted-short (trained but not fitted) and
    budget-limited (any fit: best validation in the last tenth of the budget)."""
    ran = part[part["status"] != "failed"]
    untrained = _untrained(ran)
    unfitted = ~untrained & ~_flag(ran, "fitted")
    return {
        "untrained": int(untrained.sum()),
        "unfitted": int((unfitted & ran["fitted"].notna()).sum()),
        "budget-limited": int(_flag(ran, "budget_limited").sum()),
    }


def _test_cell(sub: Any, seeds: int = 0) -> tuple[str, float]:
    """The summary entry of one depth × init: the mean over the seeds that count (fitted, not
    budget-limited), how many they are when not all, and what the others were (of ``seeds``
    the grid has: those not recorded yet are counted too)."""
    ran = sub[sub["status"] != "failed"]
    counted = _numeric(ran[ran["counts"]], "test").dropna()
    kinds = {k: v for k, v in seed_kinds(sub).items() if v}
    n = len(counted)
    if n:
        mean = float(counted.mean())
        text = _fmt(mean, float(counted.std()) if n > 1 else math.nan, n)
    elif len(ran):
        mean = math.nan
        everyone = _fmt(float(_numeric(ran, "test").mean()), math.nan, 1)
        what = "untrained" if kinds.get("untrained") == len(ran) else "no seed counts"
        text = f"{what} (test {everyone}"
    else:
        mean, text = math.nan, "—"
    seeds = max(seeds, len(sub))
    notes = [f"n={n}"] if n == 1 or 0 < n < seeds else []
    notes += [f"{v} {k}" for k, v in kinds.items()]
    if seeds > len(sub):
        notes.append(f"{seeds - len(sub)} not run yet")
    if not n and len(ran):
        return text + "".join(f"; {note}" for note in notes) + ")", mean
    notes += [
        f"{int((sub['status'] == k).sum())} {k}"
        for k in ("diverged", "failed")
        if (sub["status"] == k).any()
    ]
    return text + (f" ({', '.join(notes)})" if notes else ""), mean


def _table(part: Any, inits: list[str], entry: Any) -> list[str]:
    lines = ["| depth | " + " | ".join(inits) + " |", "|---:|" + "---:|" * len(inits)]
    for depth in sorted(part["depth"].unique()):
        cells = [entry(part[(part["depth"] == depth) & (part["init"] == i)]) for i in inits]
        finite = [m for _, m in cells if math.isfinite(m)]
        best = max(finite) if finite else None
        texts = [f"**{t}**" if best is not None and m == best else t for t, m in cells]
        lines.append(f"| {depth} | " + " | ".join(texts) + " |")
    return lines


def _train_cell(sub: Any) -> tuple[str, float]:
    ran = sub[sub["status"] != "failed"]
    column = "best_train" if "best_train" in ran and ran["best_train"].notna().any() else "train"
    vals = _numeric(ran, column).dropna()
    if not len(vals):
        return "—", math.nan
    return _fmt(float(vals.mean()), float(vals.std()) if len(vals) > 1 else math.nan, 2), math.nan


def _metric_name(df: Any) -> str:
    """The metric of ``df``'s rows (``"metric"`` when absent, e.g. every cell failed)."""
    if "metric" not in df or not df["metric"].notna().any():
        return "metric"
    return str(df["metric"].dropna().iloc[0])


def _summary_md(config: SweepConfig, df: Any, n_cells: int) -> str:
    names = list(dict.fromkeys(df["metric"].dropna().astype(str))) if "metric" in df else []
    metric = names[0] if len(names) == 1 else "metric"
    lines = [f"# Sweep `{config.name}`", ""]
    if config.description:
        lines += [config.description, ""]
    counts = df["status"].value_counts().to_dict()
    kinds = seed_kinds(df)
    known = bool(df["fitted"].notna().any())
    seeds = ", ".join(f"{v} {k}" for k, v in kinds.items())
    lines.append(
        f"{len(df)} of {n_cells} cells recorded ("
        + ", ".join(f"{counts.get(k, 0)} {k}" for k in ("ok", "diverged", "failed"))
        + (f"; seeds: {int(df['counts'].sum())} count, {seeds}" if known else "; fit not recorded")
        + f"). Entries: test {metric} at the epoch of best validation, mean ± std over the seeds "
        "that count, with their number n where not every seed counts (no ± for n=1 nor where "
        "the seeds agree to the digits shown); best per "
        "depth in **bold**. A seed *counts* when it fitted its training set and was not "
        f"budget-limited. *Fitted*: its best training {metric} over the run got at least "
        f"{FIT_FRACTION:.0%} of the way from chance to 1 (chance: the share of the training "
        "split's most common class, 0.5 for ROC-AUC; deepgnn.train.is_fitted); *untrained*: "
        f"less than {UNTRAINED_FRACTION:.0%} of the way; *unfitted*: in between; "
        f"*budget-limited*: its best validation epoch fell in the last {BUDGET_FRACTION:.0%} "
        "of the epoch budget, so it may still have been improving (any fit; "
        "deepgnn.train.is_budget_limited). A cell with no seed that counts reads `untrained` "
        "or `no seed counts`, with the mean test value of its seeds in brackets: it supports "
        "no claim about its initialization."
    )
    lines.append("")
    group_cols = ["dataset", "family"] + [
        c for c in config.axes() if c not in _MAIN_AXES and c in df
    ]
    for group, part in df.groupby(group_cols, dropna=False, sort=False):
        group = group if isinstance(group, tuple) else (group,)
        title = ", ".join(f"{c}={v}" for c, v in zip(group_cols, group))
        inits = list(dict.fromkeys(part["init"]))
        name = _metric_name(part)
        lines += [f"## {title}", "", f"Test {name}:", ""]
        lines += _table(part, inits, lambda sub: _test_cell(sub, len(config.seed)))
        lines += ["", f"Training {name} (best over the run, every seed):", ""]
        lines += _table(part, inits, _train_cell)
        tuned = [c for c in ("tuned_lr", "tuned_dropout", "tuned_weight_decay") if c in part]
        if tuned and part[tuned].notna().any().any():
            lines += ["", "Tuned settings (per depth × init):", ""]
            lines += _tuned_table(part, inits, tuned)
        lines.append("")
    versions = df.iloc[0]
    devices = _device_names(df)
    lines.append(
        f"torch {versions.get('torch_version', '?')}, deepgnn {versions.get('deepgnn_version', '?')}; "
        f"devices: {devices}."
    )
    return "\n".join(lines) + "\n"


def _tuned_table(part: Any, inits: list[str], tuned: list[str]) -> list[str]:
    lines = ["| depth | " + " | ".join(inits) + " |", "|---:|" + "---:|" * len(inits)]
    for depth in sorted(part["depth"].unique()):
        cells = []
        for i in inits:
            sub = part[(part["depth"] == depth) & (part["init"] == i)]
            first = sub[tuned].dropna(how="all")
            if first.empty:
                cells.append("—")
                continue
            row = first.iloc[0]
            cells.append(", ".join(f"{c.removeprefix('tuned_')} {row[c]:.3g}" for c in tuned))
        lines.append(f"| {depth} | " + " | ".join(cells) + " |")
    return lines


def _device_names(df: Any) -> str:
    column = "device_name" if "device_name" in df and df["device_name"].notna().any() else "device"
    return ", ".join(sorted(map(str, df[column].dropna().unique())))


_WHEN = {"init": "at initialization", "final": "after training"}
_NOTES = {
    "test": "Test {metric}: mean ± std over the seeds that count (fitted, not budget-limited; "
    "hollow markers: each seed left out, at its test {metric}). Training {metric}: best over the "
    "run, mean ± std over every seed. Bars clipped to [0, 1]. ",
    "signal": "Geometric mean over the seeds, bars ×/÷ their geometric std on log axes (FSP, "
    "BSP, J), mean ± std on the linear one (GEV). FSP and GEV of the logits h_L; BSP: gradient "
    "norm of the first layer's weight, loss = NLL on the training nodes; J: the SPoGInit "
    "objective, form divide_stable, weights 1, 1, 1, on the hidden states "
    "(deepgnn.objective.objective). ",
}


def _signal_rows(df: Any) -> list[tuple[str, str, bool]]:
    """The signal panels' rows: (column, axis label, log scale), at initialization first, then
    after training; FSP, BSP, GEV, J in that order."""
    rows = []
    for when, text in _WHEN.items():
        for name in ("fsp", "bsp", "gev", "objective"):
            column = f"sp_{when}_{name}"
            if column in df and _numeric(df, column).notna().any():
                rows.append((column, f"{SIGNALS[name]}\n{text}", name != "gev"))
    return rows


def _plots(config: SweepConfig, df: Any, out: Path) -> list[Path]:
    """``<dataset>_test_vs_depth.png`` and ``<dataset>_signal_vs_depth.png``: one column per
    family, one line (and color) per init (× any other axis of the sweep), one legend."""
    from matplotlib.figure import Figure

    written: list[Path] = []
    ok = df[df["status"] != "failed"].copy()
    if ok.empty:
        return written
    extra = [c for c in config.axes() if c not in _MAIN_AXES]
    # Settings that vary only between families (e.g. [model.gcn] activation) label the panel,
    # not the line.
    per_family = [c for c in extra if c in ok]
    extra = [c for c in per_family if ok.groupby(["dataset", "family"])[c].nunique().max() > 1]
    per_family = [c for c in per_family if c not in extra]
    ok["line"] = ok["init"].astype(str)
    for c in extra:
        ok["line"] += f", {c}=" + ok[c].astype(str)
    ok["_kind"] = _kinds(ok)
    footer = f"{_device_names(ok)}; torch {ok.iloc[0].get('torch_version', '?')}"
    for dataset, part in ok.groupby("dataset", sort=False):
        metric = part["metric"].iloc[0] if "metric" in part else "metric"
        metric = {"rocauc": "ROC-AUC"}.get(metric, metric)
        test_rows = [
            ("test", f"test {metric}\n(at best validation)", False),
            ("train", f"training {metric}\n(best over the run)", False),
        ]
        for name, rows in (("test", test_rows), ("signal", _signal_rows(part))):
            if not rows:
                continue
            families = list(dict.fromkeys(part["family"]))
            fig = Figure(
                figsize=(3.6 * len(families) + 1.0, 2.5 * len(rows) + 0.9), layout="constrained"
            )
            axes = fig.subplots(len(rows), len(families), squeeze=False, sharex=True, sharey="row")
            lines = {line: f"C{k % 10}" for k, line in enumerate(dict.fromkeys(part["line"]))}
            marks = _draw_panels(axes, part, rows, families, lines, per_family)
            handles = [line_handle(line, color=color) for line, color in lines.items()]
            handles += edge_handles(marks["zero"], marks["bad"])
            if name == "test":
                handles += _test_handles(marks, marks["chance"])
            note = _NOTES[name].format(metric=metric)
            if marks["zero"] or marks["bad"]:
                note += OFF_SCALE_NOTE + ". "
            finish_figure(fig, handles, note + footer)
            path = out / f"{dataset}_{name}_vs_depth.png"
            save_figure(fig, path)
            written.append(path)
    return written


def _draw_panels(
    axes: Any,
    part: Any,
    rows: list[tuple[str, str, bool]],
    families: list[str],
    lines: dict[str, str],
    per_family: list[str],
) -> dict[str, bool]:
    """Fill the grid: row = column of ``part``, column = family; return which of the
    off-scale, untrained and chance marks were drawn."""
    dataset = part["dataset"].iloc[0]
    depths = sorted(part["depth"].unique())
    log_x = depths[-1] >= 8 * depths[0]
    marks = dict.fromkeys(("zero", "bad", "chance", *_MARKERS), False)
    for r, (col, label, log_y) in enumerate(rows):
        for c, family in enumerate(families):
            ax = axes[r][c]
            fam = part[part["family"] == family]
            for line, sub in fam.groupby("line", sort=False):
                drawn = _plot_line(ax, sub, col, color=lines[line], log=log_y)
                for k, v in drawn.items():
                    marks[k] = marks[k] or v
            if col == "train" and "chance" in fam and fam["chance"].notna().any():
                ax.axhline(float(_numeric(fam, "chance").mean()), color="0.5", ls=":", lw=1)
                marks["chance"] = True
            set_depth_axis(ax, depths, log=log_x)
            if log_y:
                ax.set_yscale("log")
            if r == len(rows) - 1:
                ax.set_xlabel("depth L (graph layers)")
            if c == 0:
                ax.set_ylabel(label)
            if r == 0:
                fixed = ", ".join(
                    str(fam[k].iloc[0]) if k == "activation" else f"{k}={fam[k].iloc[0]}"
                    for k in per_family
                )
                ax.set_title(f"{dataset}, {family}" + (f" ({fixed})" if fixed else ""))
    return marks


def _plot_line(ax: Any, sub: Any, col: str, *, color: str, log: bool) -> dict[str, bool]:
    """One init's line over depth (see :func:`_plots`); returns the marks it drew."""
    bounded = col in ("test", "train")
    if col == "train" and "best_train" in sub and sub["best_train"].notna().any():
        col = "best_train"
    shown = sub[sub["_kind"] == ""] if col == "test" else sub
    if bounded:  # a metric without a value (e.g. ROC-AUC of one class) is not a divergence
        shown = shown[_numeric(shown, col).notna()]
    flag = None
    if col.startswith("sp_"):
        when = col.split("_")[1]
        flag_col = f"sp_{when}_diverged"
        if flag_col in shown:
            flag = shown[flag_col]
        elif when == "final":
            flag = shown["status"] == "diverged"
    drawn = {"zero": False, "bad": False}
    if len(shown):  # an init none of whose seeds counts at any depth has no line, only marks
        stats = summarize(
            shown["depth"], shown[col], flag, log=log, bounds=(0.0, 1.0) if bounded else None
        )
        draw_line(ax, stats, color=color)
        drawn = {"zero": bool(stats["zero"].any()), "bad": bool(stats["bad"].any())}
    for kind, marker in _MARKERS.items():
        seeds = sub[sub["_kind"] == kind] if col == "test" else sub.iloc[:0]
        if len(seeds):
            ax.scatter(
                seeds["depth"],
                _numeric(seeds, "test"),
                marker=marker,
                facecolors="none",
                edgecolors=color,
                s=24,
                linewidths=0.9,
            )
        drawn[kind] = bool(len(seeds))
    return drawn


#: The marker of a seed left out of a mean, by why (hollow, in its line's color).
_MARKERS = {"untrained": "o", "unfitted": "^", "budget-limited": "s"}


def _kinds(df: Any) -> Any:
    """Per row: ``""`` for a seed that counts, else why not (a key of :data:`_MARKERS`)."""
    untrained = _untrained(df)
    fitted = _flag(df, "fitted")
    return df.index.map(
        lambda i: (
            ""
            if bool(df.at[i, "counts"])
            else "untrained"
            if untrained[i]
            else "unfitted"
            if not fitted[i]
            else "budget-limited"
        )
    ).to_series(index=df.index)


def _test_handles(marks: dict[str, bool], chance: bool) -> list[Any]:
    from matplotlib.lines import Line2D

    handles = []
    labels = {
        "untrained": "untrained seed",
        "unfitted": "seed that did not fit",
        "budget-limited": "budget-limited seed",
    }
    for kind, marker in _MARKERS.items():
        if marks.get(kind):
            handles.append(
                Line2D([], [], ls="none", marker=marker, mfc="none", mec="0.35", label=labels[kind])
            )
    if chance:
        handles.append(Line2D([], [], color="0.5", ls=":", lw=1, label="chance (training)"))
    return handles


@stops_on_os_error
def report(
    config: SweepConfig | str | Path,
    *,
    storage: str | None = None,
    out: str | Path | None = None,
) -> Any:
    """Write ``results.csv``, ``summary.md`` and plots for the sweep's recorded cells.

    - ``results.csv``: one row per cell (a cell is one seed): its settings, the
      :class:`~deepgnn.train.TrainResult` fields (``test``, ``val``, ``train``, ``best_train``,
      ``chance``, ``untrained``, ``fitted``, ``budget_limited``, ...; the verdicts and
      ``counts`` recomputed for every row by :func:`deepgnn.train.verdicts`),
      ``init_resolved`` / ``train_resolved``, ``sp_init_*`` / ``sp_final_*`` signal summary columns
      when recorded, ``tuned_*`` settings of tuned sweeps, ``status`` (``ok``, ``diverged``,
      ``failed``), ``error``, ``attempt``, ``trial``, ``worker``, ``host``, ``device``,
      ``device_name``, ``wall_seconds`` and the torch, deepgnn and Optuna versions. Cells not
      finished yet are left out.
    - ``summary.md``: per dataset x family (x any other axis), the test metric mean ± std over
      the seeds that count, with their number n where not every seed of the grid counts, and
      the training metric; depth rows and init columns, best per depth in bold; the other
      seeds counted by why (untrained, unfitted, budget-limited, not run yet).
    - ``correlations.csv`` and ``correlations.md``, when ``signal_init`` was recorded: the
      Spearman correlation of each init-time measure with the test metric, per dataset x
      family, pooled, within depth and within depth over the seeds that count, with bootstrap
      intervals
      (:func:`deepgnn.sweep.correlations.correlations`).
    - ``<dataset>_test_vs_depth.png`` (test and training metric, one line per init, one panel
      per family; the seeds left out as hollow markers, one shape per reason) and, when
      signals were recorded,
      ``<dataset>_signal_vs_depth.png`` (FSP, BSP, GEV and J at initialization and after
      training; FSP, BSP and J on log axes as geometric means ×/÷ the geometric std, values a
      log axis cannot show marked on its edge). One legend per figure; the devices and the
      torch version in its footer.

    Logs a warning counting the untrained, unfitted and budget-limited seeds.

    Args:
        config: a :class:`SweepConfig` or the path of its TOML file.
        storage: as in :func:`deepgnn.sweep.run`.
        out: as in :func:`deepgnn.sweep.run`; the files are written there.

    Returns:
        The results as a ``pandas.DataFrame`` (the rows of ``results.csv``).

    Raises:
        OSError: a file could not be written, e.g. the disk is full (the message names the
            file and the fix, as :func:`deepgnn.sweep.run`'s does).
    """
    import pandas as pd

    config = as_config(config)
    folder = out_dir(config, out)
    with quiet_optuna():  # no "[I ...] Using an existing study" line per report
        ledger = Ledger(config, storage=storage, out=folder)
        df = pd.DataFrame(ledger.rows())
    n_cells = len(ledger.cells)
    if df.empty:
        log.warning("sweep %s has no recorded cell yet; nothing to report", config.name)
        return df
    df = _with_trainability(df)
    kinds = seed_kinds(df)
    if any(kinds.values()):
        log.warning(
            "sweep %s: of %d recorded cells, %d stayed untrained, %d trained without fitting "
            "their training set and %d were budget-limited (best validation in the last "
            "%d%% of the epochs); summary.md leaves them out of the means and counts them",
            config.name,
            len(df),
            kinds["untrained"],
            kinds["unfitted"],
            kinds["budget-limited"],
            round(100 * BUDGET_FRACTION),
        )
    write_atomic(folder / "results.csv", df.to_csv(index=False))
    write_atomic(folder / "summary.md", _summary_md(config, df, n_cells))
    if any(c.startswith("sp_init_") for c in df):
        table = correlations(df)
        write_atomic(folder / "correlations.csv", table.to_csv(index=False))
        md = correlations_md(
            table,
            title=f"Sweep `{config.name}`: which measure at "
            "initialization predicts the test metric",
            metric_name=f"test {_metric_name(df)}",
        )
        write_atomic(folder / "correlations.md", md)
    _plots(config, df, folder)
    return df


#: At most this many cells in one curves figure: more would not read.
MAX_CURVES = 12


def plot_curves(
    config: SweepConfig | str | Path,
    pattern: str,
    *,
    out: str | Path | None = None,
    path: str | Path | None = None,
) -> Path:
    """Plot the training curves of the cells whose key matches ``pattern``; return the PNG's path.

    One row of two panels per cell: the training, validation and test metric against the
    epoch (the best-validation epoch marked), and the training loss on a log axis. What a cell's row cannot say, its curve
    does: a run whose best validation came at the end of its budget may have been climbing
    (slow) or flat (stuck). The curves are the ones ``record = ["curves"]`` wrote to
    ``<out>/curves/<cell>.csv.gz`` (every ``curve_every``-th epoch).

    Args:
        config: a :class:`SweepConfig` or the path of its TOML file.
        pattern: a shell-style pattern over cell keys (``<dataset>-<family>-d<depth>-<init>-
            s<seed>-<hash>``), e.g. ``"cora-gated_resgcn-d64-spoginit-*"``.
        out: the sweep's output folder (default ``results/<name>``).
        path: the PNG to write (default ``<out>/curves_<pattern>.png``, the pattern's
            wildcards as ``x``).

    Raises:
        ValueError: no recorded curve matches, or more than :data:`MAX_CURVES` do (the
            message lists some keys to narrow the pattern with).
    """
    import fnmatch
    import re

    import pandas as pd
    from matplotlib.figure import Figure

    config = as_config(config)
    folder = out_dir(config, out)
    keys = sorted(c.key for c in config.cells() if fnmatch.fnmatchcase(c.key, pattern))
    files = [(k, folder / "curves" / f"{k}.csv.gz") for k in keys]
    files = [(k, f if f.exists() else f.with_suffix("")) for k, f in files]
    files = [(k, f) for k, f in files if f.exists()]
    if not files:
        raise ValueError(
            f"no recorded curve matches pattern={pattern!r} in {folder / 'curves'}; cell keys "
            f"look like {config.cells()[0].key!r} (record = ['curves'] writes them)"
        )
    if len(files) > MAX_CURVES:
        raise ValueError(
            f"pattern={pattern!r} matches {len(files)} curves, more than {MAX_CURVES}: narrow "
            f"it, e.g. to {files[0][0].rsplit('-', 2)[0] + '-*'!r}"
        )
    fig = Figure(figsize=(9.0, 2.3 * len(files) + 0.6), layout="constrained")
    axes = fig.subplots(len(files), 2, squeeze=False)
    metric = "metric"
    for (key, file), (ax, ax_loss) in zip(files, axes):
        curve = pd.read_csv(file)
        for col, color in (("train", "C0"), ("val", "C1"), ("test", "C2")):
            ax.plot(curve["epoch"], curve[col], color=color, lw=1.2, label=col)
        best = curve.loc[curve["val"].idxmax()]
        ax.axvline(best["epoch"], color="0.5", lw=0.8, ls="--")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(key, fontsize=8, loc="left")
        ax.set_ylabel("metric")
        loss = curve["loss"].where(curve["loss"] > 0)
        ax_loss.plot(curve["epoch"], loss, color="0.2", lw=1.2)
        ax_loss.set_yscale("log")
        ax_loss.set_ylabel("training loss")
    for ax in axes[-1]:
        ax.set_xlabel("epoch")
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], color=c, lw=1.2, label=f"{name} {metric}")
        for name, c in (("training", "C0"), ("validation", "C1"), ("test", "C2"))
    ]
    handles.append(Line2D([], [], color="0.5", lw=0.8, ls="--", label="best validation"))
    handles.append(Line2D([], [], color="0.2", lw=1.2, label="training loss (right)"))
    finish_figure(fig, handles, f"sweep {config.name}: curves from {folder / 'curves'}")
    name = re.sub(r"[^A-Za-z0-9_.=-]", "x", pattern)
    return save_figure(fig, Path(path) if path is not None else folder / f"curves_{name}.png")
