r"""LaTeX tables of a sweep: ``summary.md``'s tables as booktabs ``tabular`` environments.

:func:`deepgnn.sweep.report` writes ``summary.md``; :func:`write_latex` turns each of its
tables into a ``table`` with ``\toprule`` / ``\midrule`` / ``\bottomrule`` (the ``booktabs``
package), under the section and caption the summary gives it, into ``summary.tex`` beside it.
The numbers are the summary's, character for character: what the paper shows is what the
report computed. Bold entries stay bold (``\textbf``), ``±`` becomes ``$\pm$`` and the text is
escaped for LaTeX.
"""

from __future__ import annotations

import re
from pathlib import Path

from deepgnn._io import stops_on_os_error, write_atomic
from deepgnn.sweep.config import SweepConfig, as_config, out_dir

__all__ = ["summary_latex", "write_latex"]

_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_UNICODE = {"±": r"$\pm$", "—": "---", "–": "--", "×": r"$\times$", "†": r"\dag{}", "‖": r"$\|$"}


def _tex(text: str) -> str:
    """``text`` escaped for LaTeX, ``**bold**`` as ``\\textbf``, `code` as ``\\texttt``."""
    out = "".join(_SPECIAL.get(c, c) for c in text)
    for uni, tex in _UNICODE.items():
        out = out.replace(uni, tex)
    out = re.sub(r"\*\*(.+?)\*\*", r"\\textbf{\1}", out)
    return re.sub(r"`(.+?)`", r"\\texttt{\1}", out)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def summary_latex(markdown: str) -> str:
    r"""Every markdown table of ``markdown`` as a booktabs ``table``, in order.

    A ``## heading`` before a table becomes its caption's start, the line of text just before
    it (``Test accuracy:``) the rest; the alignment row (``|---:|``) gives the columns'
    alignment.

    Args:
        markdown: a ``summary.md`` (or any markdown with pipe tables).

    Returns:
        LaTeX source of the tables (needs ``\usepackage{booktabs}``), one ``table`` each.

    Example:
        >>> md = "## family=gcn\n\nTest accuracy:\n\n| depth | xavier |\n|---:|---:|\n| 2 | **0.81 ± 0.01** |\n"
        >>> print(summary_latex(md))
        % family=gcn: Test accuracy:
        \begin{table}[ht]
        \centering
        \caption{family=gcn: Test accuracy}
        \begin{tabular}{rr}
        \toprule
        depth & xavier \\
        \midrule
        2 & \textbf{0.81 $\pm$ 0.01} \\
        \bottomrule
        \end{tabular}
        \end{table}
    """
    lines = markdown.splitlines()
    tables, section, text = [], "", ""
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            section, text = line.lstrip("#").strip(), ""
        elif (
            line.startswith("|")
            and i + 1 < len(lines)
            and re.match(r"^\|[\s:|-]+\|$", lines[i + 1])
        ):
            header, rule = _cells(line), _cells(lines[i + 1])
            align = "".join(
                "r"
                if r.endswith(":") and not r.startswith(":")
                else "c"
                if r.startswith(":") and r.endswith(":")
                else "l"
                for r in rule
            )
            rows = []
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(_cells(lines[i]))
                i += 1
            title = ": ".join(t for t in (section, text.rstrip(":")) if t)
            body = [
                f"% {section}: {text}" if text else f"% {section}",
                r"\begin{table}[ht]",
                r"\centering",
                rf"\caption{{{_tex(title)}}}" if title else "",
                rf"\begin{{tabular}}{{{align}}}",
                r"\toprule",
                " & ".join(_tex(c) for c in header) + r" \\",
                r"\midrule",
                *(" & ".join(_tex(c) for c in row) + r" \\" for row in rows),
                r"\bottomrule",
                r"\end{tabular}",
                r"\end{table}",
            ]
            tables.append("\n".join(b for b in body if b))
            continue
        elif line.strip():
            text = line.strip()
        i += 1
    return "\n\n".join(tables)


@stops_on_os_error
def write_latex(
    config: SweepConfig | str | Path,
    *,
    out: str | Path | None = None,
) -> Path:
    """Write ``summary.tex``: the tables of the sweep's ``summary.md`` (:func:`summary_latex`).

    Args:
        config: a :class:`~deepgnn.sweep.SweepConfig` or the path of its TOML file.
        out: the sweep's output folder (default ``results/<name>``), where
            :func:`~deepgnn.sweep.report` wrote ``summary.md``.

    Returns:
        The path of ``summary.tex``.

    Raises:
        FileNotFoundError: no ``summary.md`` there yet (run ``report`` first).
        OSError: the file could not be written (the message names it and the fix).
    """
    folder = out_dir(as_config(config), out)
    md = folder / "summary.md"
    if not md.is_file():
        raise FileNotFoundError(
            f"{md} does not exist; write it first with deepgnn.sweep.report (deepgnn sweep "
            "report), then the LaTeX tables"
        )
    return write_atomic(folder / "summary.tex", summary_latex(md.read_text()) + "\n")
