"""A dataset of one's own: the documented .npz layout, read by data.load and by sweeps."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import deepgnn
from deepgnn import sweep
from deepgnn.data.npz import load_npz, save_npz


def test_npz_round_trip_gives_back_the_dataset(cora, tmp_path):
    path = save_npz(cora, tmp_path / "mine.npz")
    ds = deepgnn.data.load(str(path))
    assert ds.name == "mine" and ds.num_classes == cora.num_classes
    assert torch.equal(ds.x, cora.x) and torch.equal(ds.y, cora.y)
    assert torch.equal(ds.train_masks, cora.train_masks)
    assert abs(ds.graph.to_scipy() - cora.graph.to_scipy()).max() == 0
    # relative to root when given
    assert deepgnn.data.load("mine.npz", root=tmp_path).num_nodes == cora.num_nodes


def test_npz_with_one_dimensional_masks_and_edge_rows_loads(tmp_path):
    g = np.random.default_rng(0)
    n = 30
    split = np.arange(n) % 3
    np.savez(
        tmp_path / "tiny.npz",
        features=g.normal(size=(n, 4)),
        labels=np.arange(n) % 2,
        edges=np.stack([np.arange(n), (np.arange(n) + 1) % n], axis=1),  # (E, 2)
        train_mask=split == 0,
        val_mask=split == 1,
        test_mask=split == 2,
    )
    ds = deepgnn.data.load(tmp_path / "tiny.npz")
    assert ds.num_splits == 1 and ds.graph.num_edges == n and ds.x.dtype == torch.float32


def test_npz_missing_an_array_or_file_is_named(tmp_path):
    np.savez(tmp_path / "bad.npz", features=np.zeros((3, 2)), labels=np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match=r"bad.npz lacks \['edges', 'train_mask', 'val_mask'"):
        load_npz(tmp_path / "bad.npz")
    with pytest.raises(FileNotFoundError, match=r"'nowhere.npz' does not exist; write it with"):
        deepgnn.data.load("nowhere.npz")
    with pytest.raises(FileNotFoundError, match=r"does not exist"):
        deepgnn.data.require("nowhere.npz")


def test_sweep_over_an_npz_file_trains_its_cells(cora, tmp_path):
    save_npz(cora, tmp_path / "mine.npz")
    path = tmp_path / "own.toml"
    path.write_text(
        f'seed = 0\n[data]\npath = "{tmp_path / "mine.npz"}"\n'
        '[model]\nfamily = "gcn"\ndepth = 2\nwidth = 8\n[train]\nepochs = 3\n'
    )
    config = sweep.load_config(path)
    assert [c.dataset for c in config.cells()] == [str(tmp_path / "mine.npz")]
    state = sweep.run(config, out=tmp_path / "out", progress=False)
    assert state.done == 1
    df = sweep.report(config, out=tmp_path / "out")
    assert df["status"].tolist() == ["ok"] and df["dataset"].tolist() == [
        str(tmp_path / "mine.npz")
    ]
    path.write_text(path.read_text().replace("mine.npz", "missing.npz"))
    with pytest.raises(FileNotFoundError, match="missing.npz' does not exist"):
        sweep.run(path, out=tmp_path / "out2", progress=False)
