from __future__ import annotations

import argparse
import re

import pandas as pd
import pytest
import torch

import deepgnn
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


def test_train_prints_readable_numbers_and_takes_a_backend(capsys):
    # before: "test: 0.7571428571428571" and no --backend
    pytest.importorskip("dgl", reason="--backend dgl builds DGL layers")
    argv = ["train", "--epochs", "3", "--width", "8", "--device", "cpu", "--seed", "0"]
    for backend in ("torch", "dgl"):
        assert main([*argv, "--backend", backend]) == 0
        out = dict(
            line.split(": ", 1) for line in capsys.readouterr().out.splitlines() if ": " in line
        )
        assert re.fullmatch(r"0\.\d{4}", out["test"]) and re.fullmatch(r"\d+", out["epochs"])
        assert re.fullmatch(r"\d+\.\d{4}|\d\.\d{3}e-\d\d", out["seconds"])


def test_progress_off_a_terminal_is_whole_lines(tmp_path):
    # before: tqdm's \r redraws went into log files and pipes
    import subprocess
    import sys
    from pathlib import Path

    argv = ["train", "--epochs", "40", "--width", "8", "--device", "cpu"]
    root = Path(__file__).resolve().parents[1]
    # bytes: text mode would read each \r as a line end
    done = subprocess.run([sys.executable, "-m", "deepgnn", *argv], cwd=root, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()
    assert b"\r" not in done.stderr and b"\r" not in done.stdout, done.stderr[:300]
    assert b"test: " in done.stdout


def test_train_cuda_graph_flag_reaches_train_node(capsys):
    # On the CPU the flag is refused by train_node itself, with its message in flag terms.
    assert main(["train", "--epochs", "1", "--device", "cpu", "--cuda-graph"]) == 2
    err = capsys.readouterr().err
    assert "--cuda-graph needs a CUDA device" in err and "pass --device cuda" in err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["train", "--family", "gcnn"], "error: --family gcnn is not one of"),
        (["train", "--dropout", "1.5"], "--dropout 1.5 is outside [0, 1); pass e.g. --dropout 0.5"),
        (["train", "--init", "xavir"], "--init xavir is not one of"),
        (["train", "--drop-edge", "1.5", "--epochs", "1"], "--drop-edge 1.5; pass a drop"),
        (["search", "--base", "xavir"], "--base xavir is not one of"),
        (["search", "--dataset", "cor"], "--dataset cor is not one of"),
        (["analyze", "--inits", "xavier,virgoo"], "--inits virgoo is not one of"),
        (["analyze", "--depths", "0"], "--depths 0 is too small"),
    ],
)
def test_library_errors_name_the_commands_flags_on_one_line(capsys, argv, expected):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1
    assert "family=" not in err and "root=" not in err and "name=" not in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a torch without CUDA")
def test_cuda_device_on_a_cpu_torch_is_a_one_line_error(capsys):
    assert main(["train", "--epochs", "1", "--device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("deepgnn train: error: ") and err.count("\n") == 1
    assert "Traceback" not in err


def test_missing_data_error_names_the_root_flag(capsys, monkeypatch):
    monkeypatch.delenv("DEEPGNN_DATA", raising=False)
    assert main(["train", "--dataset", "citeseer"]) == 2
    assert "pass --root <folder> or set DEEPGNN_DATA=<folder>" in capsys.readouterr().err


def _commands(parser, name="deepgnn"):
    """(command name, its parser) for every command and subcommand."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub, p in action.choices.items():
                yield f"{name} {sub}", p
                yield from _commands(p, f"{name} {sub}")


def test_every_option_has_a_help_text():
    from deepgnn.cli import _parser

    missing = [
        f"{name} {a.option_strings[0]}"
        for name, p in _commands(_parser())
        for a in p._actions
        if a.option_strings and not a.help
    ]
    assert not missing


@pytest.mark.parametrize("command", ["demo", "train", "analyze", "search"])
def test_help_shows_the_defaults_as_typed(capsys, command):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "(default: None)" not in out and "(default: False)" not in out
    if command in ("demo", "analyze"):
        assert "(default: 2,4,8,16,32,64)" in out
    if command in ("train", "search"):
        assert "--width WIDTH hidden features per layer (default: 64)" in out


def test_train_without_init_says_it_keeps_builds_initialization(capsys):
    assert main(["train", "--epochs", "1", "--device", "cpu"]) == 0
    assert "init build's own initialization, seed 0" in capsys.readouterr().out


def test_search_names_the_method_that_runs(capsys):
    assert main(["search", "--depth", "3", "--width", "8", "--n-trials", "2"]) == 0
    out = capsys.readouterr().out
    assert "method gauss_newton (the default for divide_old)" in out
    assert "the form default" not in out


def test_analyze_prints_a_line_per_cell_to_stderr_when_it_is_not_a_terminal(capsys):
    assert main(["analyze", "--depths", "2,3", "--inits", "xavier", "--width", "8"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert [l.split(":")[1].strip() for l in err] == [
        "gcn depth 2 xavier seed 0",
        "gcn depth 3 xavier seed 0",
    ]


@pytest.mark.parametrize("command", ["demo", "analyze", "search"])
def test_node_commands_refuse_a_molecule_dataset_in_one_line(capsys, monkeypatch, command):
    import deepgnn.data

    # A graph-classification dataset, without its CSV: load's result as the molecule loader gives it
    monkeypatch.setattr(
        deepgnn.data, "load", lambda name, root=None: object.__new__(deepgnn.data.GraphDataset)
    )
    assert main([command, "--dataset", "ogbg-molhiv"]) == 2
    err = capsys.readouterr().err
    assert f"deepgnn {command}: error: " in err and err.count("\n") == 1
    assert "graph-classification dataset" in err and "'cora'" in err


@pytest.mark.parametrize("family", ["gcn", "gated_resgcn"])
def test_search_save_then_load_scales_gives_spoginits_weights(tmp_path, capsys, family):
    path = tmp_path / "scales.pt"
    argv = ["search", "--family", family, "--depth", "3", "--width", "8", "--n-trials", "3"]
    assert main([*argv, "--seed", "2", "--save", str(path)]) == 0
    assert f"scales saved to {path}" in capsys.readouterr().out
    ds = deepgnn.data.load("cora")

    def fresh():
        return deepgnn.build(family, ds.num_features, ds.num_classes, 3, width=8, seed=2)

    searched = deepgnn.init.spoginit_(
        fresh(),
        ds.graph,
        ds.x,
        ds.y,
        mask=ds.train_mask,
        base="xavier",
        generator=torch.Generator().manual_seed(2),
        n_trials=3,
        seed=2,
        progress=False,
    )
    loaded = deepgnn.init.xavier_(fresh(), generator=torch.Generator().manual_seed(2))
    assert deepgnn.init.load_scales_(loaded, path) is loaded
    assert loaded.state_dict().keys() == searched.state_dict().keys()
    for name, value in searched.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], value), name
    saved = torch.load(path, weights_only=True)
    assert saved["info"] == {"dataset": "cora", "base": "xavier", "seed": 2}
    assert (saved["family"], saved["depth"], saved["width"]) == (family, 3, 8)
    assert bool(saved["gates"]) == (family == "gated_resgcn")
