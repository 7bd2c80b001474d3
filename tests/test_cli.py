from __future__ import annotations

import pytest

from deepgnn.cli import main


def test_demo_prints_output_norm_per_depth(capsys):
    assert main(["demo", "--depths", "2,64"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line for line in lines if line.startswith("| 2 ") or line.startswith("| 64 ")]
    ratios = [float(r.split("|")[3]) for r in rows]
    # Reference magnitudes (authors' notebook, Cora, tanh, width 64, Xavier): ~5e-2 shallow, ~2e-2 at 64
    assert 3e-2 < ratios[0] < 1e-1 and 1e-2 < ratios[1] < 3e-2


def test_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0 and "demo" in capsys.readouterr().out


def test_bad_argument_gives_one_line_error(capsys):
    assert main(["demo", "--activation", "tahn"]) == 2
    assert "did you mean 'tanh'" in capsys.readouterr().err
