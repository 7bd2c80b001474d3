from __future__ import annotations

import pandas as pd
import pytest

from deepgnn.cli import main


def _table(out: str, title: str) -> dict[int, list[str]]:
    """Rows of the markdown table that follows ``title``: depth -> cells."""
    lines = out.split(title, 1)[1].split("\n\n", 2)[1].splitlines()
    return {int(l.split("|")[1]): [c.strip() for c in l.split("|")[2:-1]] for l in lines[2:]}


def test_demo_prints_fsp_for_three_inits(capsys):
    assert main(["demo", "--depths", "2,64"]) == 0
    out = capsys.readouterr().out
    fsp = _table(out, "FSP")
    assert out.split("FSP", 1)[1].split("\n\n", 2)[1].splitlines()[0] == (
        "| depth | conventional | xavier | virgo |"
    )
    conventional, xavier = (float(v) for v in fsp[64][:2])
    # Reference magnitudes (authors' notebook, Cora, tanh, width 64, Xavier): ~5e-2 shallow,
    # ~2e-2 at 64; conventional init collapses to ~1e-17 at 64.
    assert 3e-2 < float(fsp[2][1]) < 1e-1 and 1e-2 < xavier < 3e-2
    assert conventional < 1e-10
    assert "BSP" in out and "GEV" in out


def test_analyze_writes_csv_png_and_markdown(tmp_path, capsys):
    out = tmp_path / "sp"
    argv = ["analyze", "--family", "gcn,resgcn", "--activation", "tanh,relu", "--depths", "2,3"]
    argv += ["--inits", "xavier,ginit", "--width", "16", "--out", str(out)]
    assert main(argv) == 0
    df = pd.read_csv(tmp_path / "sp.csv")
    assert len(df) == 2 * 2 * 2
    assert dict(df.groupby("family")["activation"].first()) == {"gcn": "tanh", "resgcn": "relu"}
    assert (tmp_path / "sp.png").read_bytes()[:4] == b"\x89PNG"
    md = (tmp_path / "sp.md").read_text()
    assert "deepgnn analyze --family gcn,resgcn --activation tanh,relu" in md
    assert "**resgcn (relu): GEV(h_L)**" in md and "wrote" in capsys.readouterr().out


def test_analyze_rejects_mismatched_activations(capsys):
    assert main(["analyze", "--family", "gcn,resgcn", "--activation", "tanh,relu,elu"]) == 2
    assert "one per family" in capsys.readouterr().err


def test_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    out = capsys.readouterr().out
    assert exc.value.code == 0 and "demo" in out and "analyze" in out


def test_bad_argument_gives_one_line_error(capsys):
    assert main(["demo", "--activation", "tahn"]) == 2
    assert "did you mean 'tanh'" in capsys.readouterr().err


def test_search_prints_before_and_after_and_resumes_from_storage(tmp_path, capsys):
    journal, trace = tmp_path / "spog.log", tmp_path / "trace.csv"
    argv = ["search", "--depth", "4", "--width", "16", "--method", "tpe", "--no-bias"]
    argv += ["--storage", str(journal), "--trace-csv", str(trace)]
    assert main([*argv, "--trials", "5"]) == 0
    out = capsys.readouterr().out

    def objective(line_start: str) -> float:
        line = next(l for l in out.splitlines() if l.strip().startswith(line_start))
        return float(line.split("objective")[1].split()[0])

    assert objective("after:") <= objective("before:")
    assert len(pd.read_csv(trace)) == 5
    assert main([*argv, "--trials", "8"]) == 0
    out = capsys.readouterr().out
    assert "8 model evaluations" in out
    assert list(pd.read_csv(trace)["evaluation"]) == list(range(8))


def test_train_cuda_graph_flag_reaches_train_node(capsys):
    # On the CPU the flag is refused by train_node itself, with its message.
    assert main(["train", "--epochs", "1", "--device", "cpu", "--cuda-graph"]) == 2
    assert "cuda_graph=True needs a CUDA device" in capsys.readouterr().err
