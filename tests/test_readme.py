"""The README's example runs and prints what its comments say."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest
import torch

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_prints_what_it_says():
    text = README.read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    # the comments give the printed values to the digits shown, in order
    shown = re.findall(r"#\s*((?:[0-9.]+\s+)*[0-9.]+)(?:\s+(True|False))?:", code)
    expected = [float(v) for group, _ in shown for v in group.split()]
    out = io.StringIO()
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        with contextlib.redirect_stdout(out):
            exec(compile(code, str(README), "exec"), {"__name__": "readme"})
    finally:
        torch.set_num_threads(threads)
    printed = [float(v) for v in re.findall(r"-?\d+\.\d+(?:e-?\d+)?", out.getvalue())]
    assert len(printed) == len(expected) == 5, (out.getvalue(), expected)
    for got, want in zip(printed, expected):
        digits = len(str(want).split(".")[1])
        assert got == pytest.approx(want, abs=0.6 * 10**-digits), (out.getvalue(), expected)
    assert out.getvalue().split()[-1] == "False"  # untrained: it trained
