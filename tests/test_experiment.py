from __future__ import annotations

import pytest
import torch

import deepgnn
from deepgnn import experiment, init

EDGES = [(0, 1), (1, 2), (2, 3), (3, 4), (1, 4), (4, 5)]
N = 6


def _graph() -> deepgnn.Graph:
    return deepgnn.Graph(torch.tensor(EDGES).t(), num_nodes=N)


def test_depth_table_has_one_row_per_cell_and_accepts_a_bare_graph(generator):
    g = _graph()
    x = torch.randn(N, 5, generator=generator)
    df = deepgnn.depth_table(
        "gcn", g, [2, 3], ["xavier", "virgo"], [0, 1], x=x + 2, num_classes=3, width=8
    )
    assert len(df) == 2 * 2 * 2
    assert set(df["init"]) == {"xavier", "virgo"} and set(df["seed"]) == {0, 1}
    assert {"fsp", "bsp", "gev", "gev_input", "objective", "diverged", "torch"} <= set(df.columns)
    # seed s reproduces the model that build(seed=s) + init_(generator=s) gives
    row = df[(df["depth"] == 3) & (df["init"] == "xavier") & (df["seed"] == 1)].iloc[0]
    model = deepgnn.build("gcn", 5, 3, 3, width=8, seed=1)
    init.xavier_(model, generator=torch.Generator().manual_seed(1))
    assert row["fsp"] == pytest.approx(
        deepgnn.analyze(model, g, x + 2, seed=1).attrs["summary"]["fsp"]
    )
    with pytest.raises(ValueError, match="needs node features"):
        deepgnn.depth_table("gcn", g, [2], ["xavier"])
    with pytest.raises(ValueError, match="did you mean 'xavier'"):
        deepgnn.depth_table("gcn", g, [2], ["xavir"], x=x, num_classes=3)


def test_format_and_plot_depth_table(tmp_path, generator):
    g = _graph()
    x = torch.randn(N, 5, generator=generator) + 2
    df = deepgnn.depth_table("gcn", g, [2, 4], ["xavier", "conventional"], x=x, num_classes=3)
    text = experiment.format_depth_table(df, metrics=["fsp"])
    rows = [line for line in text.splitlines() if line.startswith("| 4 ")]
    assert len(rows) == 1
    want = df[(df["depth"] == 4) & (df["init"] == "conventional")]["fsp"].iloc[0]
    assert float(rows[0].split("|")[3]) == pytest.approx(want, rel=1e-2)
    png = experiment.plot_depth_table(df, tmp_path / "t.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["t.png"]  # no temporary left behind
