from __future__ import annotations

import collections
import pickle

import pytest
import torch

import deepgnn
from deepgnn.data._safe import load_pickle
from deepgnn.data.planetoid import load_planetoid


def test_cora_stats_match_the_published_split(cora):
    assert (cora.num_nodes, cora.num_features, cora.num_classes) == (2708, 1433, 7)
    assert cora.graph.num_edges == 5278
    assert int(cora.x.sum()) == 49216
    assert [int(m.sum()) for m in (cora.train_mask, cora.val_mask, cora.test_mask)] == [
        140,
        500,
        1000,
    ]
    assert torch.bincount(cora.y).tolist() == [351, 217, 418, 818, 426, 298, 180]
    assert not (cora.train_mask & cora.test_mask).any()
    rows, cols = cora.graph.edge_index
    homophily = (cora.y[rows] == cora.y[cols]).float().mean().item()
    assert (
        abs(homophily - 0.810) < 5e-4
    )  # measured on the raw files; a scrambled test order gives 0.45


def test_embedded_cora_equals_raw_planetoid_files(cora, data_root):
    raw = load_planetoid(data_root / "planetoid", "cora")
    assert torch.equal(raw.x, cora.x) and torch.equal(raw.y, cora.y)
    assert torch.equal(raw.graph.edge_index, cora.graph.edge_index)
    for a, b in (
        (raw.train_mask, cora.train_mask),
        (raw.val_mask, cora.val_mask),
        (raw.test_mask, cora.test_mask),
    ):
        assert torch.equal(a, b)


def test_restricted_unpickler_rejects_a_crafted_pickle(tmp_path):
    class Exploit:
        def __reduce__(self):
            return (print, ("owned",))

    path = tmp_path / "ind.cora.x"
    path.write_bytes(pickle.dumps(Exploit(), protocol=2))
    with pytest.raises(
        pickle.UnpicklingError, match=r"refusing to load (__builtin__|builtins).print"
    ):
        load_pickle(path)


def test_restricted_unpickler_loads_allowed_content(tmp_path):
    path = tmp_path / "ok.pkl"
    graph = collections.defaultdict(list, {0: [1, 2], 1: [0]})
    path.write_bytes(pickle.dumps(graph, protocol=2))
    assert load_pickle(path) == graph


def test_missing_raw_files_name_the_file_and_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing ind.citeseer.x.*in " + str(tmp_path)):
        deepgnn.data.load("citeseer", root=tmp_path)


def test_unknown_dataset_lists_the_registry():
    with pytest.raises(ValueError, match=r"name='corra' is not one of .*did you mean 'cora'"):
        deepgnn.data.load("corra")


def test_dataset_moves_and_selects_splits(cora):
    assert cora.split(0).train_mask.sum() == 140
    with pytest.raises(ValueError, match="cora has splits 0..0"):
        cora.split(1)
    assert cora.to("cpu").graph is cora.graph
