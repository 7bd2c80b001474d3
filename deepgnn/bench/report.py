"""The benchmark records as JSON and a markdown report, one table per graph."""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deepgnn._io import write_atomic
from deepgnn.bench.graphs import MODES

__all__ = ["markdown_report", "write_results"]

log = logging.getLogger("deepgnn.bench")


def write_results(
    records: Sequence[dict[str, Any]], out_dir: str | os.PathLike[str], *, command: str
) -> list[dict[str, Any]]:
    """Merge ``records`` into ``out_dir/benchmarks.json`` and rewrite ``benchmarks.md``.

    Records of a suite present in ``records`` replace that suite's old records; other suites
    are kept, so the CPU and the GPU suites can be run on different machines. The markdown
    also shows ``benchmarks_notes.md`` (commentary, kept by hand) and
    ``benchmarks_extra.json`` (single-kernel timings and checks) from ``out_dir`` when present.
    Both files are written atomically. Returns the merged records.
    """
    out = Path(out_dir)
    path = out / "benchmarks.json"
    old = json.loads(path.read_text()) if path.exists() else []
    suites = {r["suite"] for r in records}
    for r in records:
        r.setdefault("command", command)
    merged = [r for r in old if r["suite"] not in suites] + list(records)
    write_atomic(path, json.dumps(merged, indent=1) + "\n")
    extras_path = out / "benchmarks_extra.json"
    extras = json.loads(extras_path.read_text()) if extras_path.exists() else {}
    notes_path = out / "benchmarks_notes.md"
    notes = notes_path.read_text() if notes_path.exists() else ""
    write_atomic(out / "benchmarks.md", markdown_report(merged, extras, notes=notes))
    return merged


def _fmt(v: float | None, digits: int = 1) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def _graph_name(r: dict[str, Any]) -> str:
    # Records from before the benchmark graphs were named ran on Cora (CPU suite) or on the
    # Erdős–Rényi graph of arxiv size (GPU suite).
    return r.get("graph") or ("cora" if "cora" in r["suite"] else "er-arxiv")


def _describe_graph(r: dict[str, Any], name: str) -> str:
    gen = r.get("generator") or ("planetoid" if name == "cora" else "erdos_renyi")
    what = {"planetoid": "Cora (Planetoid)", "erdos_renyi": "Erdős–Rényi G(n, m)"}.get(
        gen, f"Chung–Lu, exponent {r.get('exponent')}"
    )
    parts = [what]
    parts += [f"{r[k]:,} {k[4:]}" for k in ("num_nodes", "num_edges") if r.get(k) is not None]
    if r.get("max_degree") is not None:
        parts.append(f"largest degree {r['max_degree']:,}")
    if r.get("order") not in (None, "shuffled"):
        parts.append(f"nodes in {r['order']} order")
    if r.get("kernel_path"):
        parts.append(f"deepgnn kernel path `{r['kernel_path']}` (chunk {r.get('kernel_chunk')})")
    return f"### {name}: " + ", ".join(parts)


def _graph_tables(rs: Sequence[dict[str, Any]], name: str) -> list[str]:
    first = rs[0]
    lines = [_describe_graph(first, name), ""]
    impls = [
        i for i in ("deepgnn", "torch_sparse", "pyg", "dgl") if any(r["impl"] == i for r in rs)
    ]
    others = [i for i in impls if i != "deepgnn"]
    modes = sorted({r["mode"] for r in rs if r["impl"] == "deepgnn"}, key=MODES.index)
    bases = [m for m in ("fp32", "cuda_graph") if m in modes]
    index = {(r["model"], r["width"], r["depth"], r["impl"], r["mode"]): r for r in rs}
    cells = sorted({(r["model"], r["width"], r["depth"]) for r in rs})
    gpu = any(r["peak_mem_gb"] is not None for r in rs) or first.get("suite", "").startswith("gpu")

    def get(cell: tuple, impl: str, mode: str = "fp32") -> dict[str, Any] | None:
        return index.get((*cell, impl, mode))

    def field(r: dict[str, Any] | None, key: str) -> Any:
        return None if r is None else r[key]

    def ms(r: dict[str, Any] | None) -> str:
        if r is not None and r.get("error"):
            return r["error"]
        return _fmt(field(r, "step_ms"), 2)

    head = ["model", "width", "depth"] + [f"deepgnn {m}" for m in modes] + others
    lines += [
        "Median step time (ms):",
        "",
        "| " + " | ".join(head) + " |",
        "|---|---:|---:|" + "---:|" * (len(head) - 3),
    ]
    for cell in cells:
        row = [str(v) for v in cell]
        row += [ms(get(cell, "deepgnn", m)) for m in modes]
        row += [ms(get(cell, i)) for i in others]
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    head = ["model", "width", "depth"]
    head += [f"{i} / deepgnn {m}" for m in bases for i in others]
    if gpu:
        head += [f"{i} GiB" for i in impls]
    lines += [
        "Speed-up of deepgnn (other impl's time / deepgnn's time)"
        + (" and peak GPU memory (GiB):" if gpu else ":"),
        "",
        "| " + " | ".join(head) + " |",
        "|---|---:|---:|" + "---:|" * (len(head) - 3),
    ]
    for cell in cells:
        row = [str(v) for v in cell]
        for m in bases:
            base = get(cell, "deepgnn", m)
            for i in others:
                step, base_step = field(get(cell, i), "step_ms"), field(base, "step_ms")
                ratio = step / base_step if step and base_step else None
                row.append(_fmt(ratio, 2) + ("×" if ratio else ""))
        if gpu:
            row += [_fmt(field(get(cell, i), "peak_mem_gb"), 2) for i in impls]
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    return lines


def markdown_report(
    records: Sequence[dict[str, Any]], extras: dict[str, Any] | None = None, *, notes: str = ""
) -> str:
    """Render the records as markdown: per suite and graph, step times, then ratios and memory.

    Ratios are ``other impl ms / deepgnn ms`` for the same model, width and depth, against
    deepgnn's eager ``fp32`` step and, where measured, its ``cuda_graph`` step.
    """
    lines = ["# deepgnn benchmarks", ""]
    if notes:
        lines += [notes.strip(), ""]
    for suite in sorted({r["suite"] for r in records}):
        rs = [r for r in records if r["suite"] == suite]
        first = rs[0]
        lines += [f"## {suite}", ""]
        keys = ("device", "torch", "cuda", "triton", "python", "date", "command")
        lines += [f"- {k}: `{first[k]}`" for k in keys if first.get(k)]
        lines.append("")
        names = list(dict.fromkeys(_graph_name(r) for r in rs))
        for name in names:
            lines += _graph_tables([r for r in rs if _graph_name(r) == name], name)
    if extras:
        lines += ["## Extra measurements (`benchmarks_extra.json`)", ""]
        for key, value in extras.items():
            if isinstance(value, dict):
                lines.append(f"- `{key}`:")
                lines += [f"  - `{k}`: `{json.dumps(v)}`" for k, v in value.items()]
            else:
                lines.append(f"- `{key}`: `{json.dumps(value)}`")
        lines.append("")
    return "\n".join(lines)
