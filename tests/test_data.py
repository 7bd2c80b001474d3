from __future__ import annotations

import collections
import pickle
import re
import shutil

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


def test_citeseer_stats_match_the_raw_files(data_root):
    ds = deepgnn.data.load("citeseer", root=data_root)
    assert (ds.num_nodes, ds.num_features, ds.num_classes) == (3327, 3703, 6)
    assert ds.graph.num_edges == 4552
    assert int(ds.x.sum()) == 105165
    assert [int(m.sum()) for m in (ds.train_mask, ds.val_mask, ds.test_mask)] == [120, 500, 1000]
    unlabelled = (ds.y == -1).nonzero().flatten().tolist()
    # the 15 ids that test.index skips (shared/data/README.md)
    skipped = [2407, 2489, 2553, 2682, 2781, 2953, 3042, 3063, 3212, 3214, 3250, 3292, 3305, 3306]
    assert unlabelled == skipped + [3309]
    assert not (ds.train_mask | ds.val_mask | ds.test_mask)[unlabelled].any()
    assert torch.bincount(ds.y[ds.y >= 0]).tolist() == [249, 590, 668, 701, 596, 508]
    rows, cols = ds.graph.edge_index
    both = (ds.y[rows] >= 0) & (ds.y[cols] >= 0)
    homophily = (ds.y[rows] == ds.y[cols])[both].float().mean().item()
    assert abs(homophily - 0.738) < 5e-4


def test_registry_names_accept_underscores_and_case(data_root):
    a = deepgnn.data.load("Chameleon_Filtered", root=data_root)
    assert a.name == "chameleon-filtered" and a.num_nodes == 890
    assert {"cora", "citeseer", "minesweeper", "ogbn-arxiv", "arxiv-year", "ogbg-molhiv"} <= set(
        deepgnn.data.available()
    )


def test_file_datasets_without_root_say_how_to_provide_files(monkeypatch):
    monkeypatch.delenv("DEEPGNN_DATA", raising=False)
    for name in ("minesweeper", "ogbn-arxiv", "ogbg-molhiv"):
        with pytest.raises(FileNotFoundError, match="pass root=<folder> or set DEEPGNN_DATA"):
            deepgnn.data.load(name)


def test_evaluate_accuracy_counts_correct_argmax(cora, generator):
    scores = torch.randn(cora.num_nodes, 7, generator=generator)
    mask = cora.test_mask
    expected = sum(
        int(scores[i].argmax() == cora.y[i]) for i in mask.nonzero().flatten().tolist()
    ) / int(mask.sum())
    assert cora.evaluate(scores, mask) == pytest.approx(expected)
    assert cora.evaluate(scores, mask.nonzero().flatten()) == pytest.approx(expected)


def test_evaluate_rejects_bad_shapes_and_unlabelled_nodes(cora, data_root):
    with pytest.raises(ValueError, match=r"scores has shape \(5, 7\)"):
        cora.evaluate(torch.zeros(5, 7), cora.test_mask)
    with pytest.raises(ValueError, match=r"scores must be \(num_nodes, 7\)"):
        cora.evaluate(torch.zeros(cora.num_nodes, 3), cora.test_mask)
    with pytest.raises(ValueError, match="selects no row"):
        cora.evaluate(torch.zeros(cora.num_nodes, 7), torch.zeros(cora.num_nodes, dtype=bool))
    citeseer = deepgnn.data.load("citeseer", root=data_root)
    with pytest.raises(ValueError, match="unlabelled"):
        citeseer.evaluate(
            torch.zeros(citeseer.num_nodes, 6), torch.ones(citeseer.num_nodes, dtype=bool)
        )


def _planetoid_copy(data_root, tmp_path, name="citeseer"):
    folder = tmp_path / "planetoid"
    folder.mkdir()
    for f in (data_root / "planetoid").glob(f"ind.{name}.*"):
        shutil.copy(f, folder / f.name)
    return folder


@pytest.mark.parametrize(
    ("part", "how", "cause"),
    [
        ("x", "truncated", r"UnpicklingError: pickle data was truncated"),
        ("graph", "random", r"UnpicklingError: invalid load key"),
        ("allx", "empty", r"EOFError: Ran out of input"),
        ("test.index", "random", r"UnicodeDecodeError"),
    ],
)
def test_corrupt_planetoid_file_is_named_with_the_fix(
    data_root, tmp_path, corrupt, part, how, cause
):
    folder = _planetoid_copy(data_root, tmp_path)
    corrupt(folder / f"ind.citeseer.{part}", how)
    path = re.escape(str(folder / f"ind.citeseer.{part}"))
    with pytest.raises(
        ValueError,
        match=rf"{path} is truncated or corrupt \({cause}.*\); "
        rf"re-download ind.citeseer.{re.escape(part)} from .*kimiyoung/planetoid",
    ):
        deepgnn.data.load("citeseer", root=tmp_path)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            lambda ids: "\n".join(map(str, ids[:500])),
            r"lists 500 test nodes but .*tx has 1000 rows",
        ),
        (lambda ids: "", r"lists 0 test nodes"),
        (lambda ids: "\n".join(map(str, [*ids[:-1], 99999])), r"node ids outside \[2312, 3327\)"),
    ],
)
def test_planetoid_test_index_that_disagrees_with_the_pickles_is_named(
    data_root, tmp_path, text, match
):
    # before: numpy's IndexError "index 2812 is out of bounds for axis 0 with size 2812"
    folder = _planetoid_copy(data_root, tmp_path)
    index = folder / "ind.citeseer.test.index"
    ids = index.read_text().split()
    index.write_text(text(ids))
    with pytest.raises(ValueError, match=rf"ind.citeseer.test.index {match}|{match}"):
        deepgnn.data.load("citeseer", root=tmp_path)


def test_load_with_a_root_that_is_not_a_path_names_the_argument():
    # before: pathlib's "expected str, bytes or os.PathLike object, not int"
    with pytest.raises(TypeError, match=r"root must be a folder path .*got int 5; pass e.g. "):
        deepgnn.data.load("actor", root=5)


def test_planetoid_pickle_of_the_wrong_type_names_its_file(data_root, tmp_path):
    # before: "<folder>/ind.citeseer.* is truncated or corrupt (AttributeError: 'list' ...)"
    folder = _planetoid_copy(data_root, tmp_path)
    (folder / "ind.citeseer.graph").write_bytes(pickle.dumps([[1, 2], [0]], protocol=2))
    path = re.escape(str(folder / "ind.citeseer.graph"))
    with pytest.raises(
        ValueError, match=rf"{path} is truncated .*it holds a list, not a dict of neighbour lists"
    ):
        deepgnn.data.load("citeseer", root=tmp_path)


class _HugeArray:
    """An allow-listed numpy reconstruction of a 4e9 x 4e9 float64 array (1.3e20 bytes)."""

    def __reduce__(self):
        import numpy as np

        rebuild = load_pickle.__globals__["_reconstruct"]
        shape = (4_000_000_000, 4_000_000_000)
        return (rebuild, (np.ndarray, (0,), b"b"), (1, shape, np.dtype("float64"), False, b""))


def test_planetoid_pickle_asking_for_an_impossible_array_is_named(data_root, tmp_path):
    # before: a bare MemoryError
    folder = _planetoid_copy(data_root, tmp_path)
    (folder / "ind.citeseer.allx").write_bytes(pickle.dumps(_HugeArray(), protocol=4))
    path = re.escape(str(folder / "ind.citeseer.allx"))
    with pytest.raises(
        ValueError, match=rf"{path} asks for more memory than this machine has .*re-download"
    ):
        deepgnn.data.load("citeseer", root=tmp_path)


def test_crafted_planetoid_pickle_is_still_refused_not_reworded(data_root, tmp_path):
    class Exploit:
        def __reduce__(self):
            return (print, ("owned",))

    folder = _planetoid_copy(data_root, tmp_path)
    (folder / "ind.citeseer.x").write_bytes(pickle.dumps(Exploit(), protocol=2))
    with pytest.raises(
        pickle.UnpicklingError, match=r"refusing to load (__builtin__|builtins).print"
    ):
        deepgnn.data.load("citeseer", root=tmp_path)


def test_cora_falls_back_to_the_shipped_copy_when_the_data_root_has_none(
    cora, tmp_path, monkeypatch
):
    # before: DEEPGNN_DATA=<a folder of other datasets> made load("cora") raise FileNotFoundError
    monkeypatch.setenv("DEEPGNN_DATA", str(tmp_path))
    (tmp_path / "planetoid").mkdir()
    for ds in (deepgnn.data.load("cora"), deepgnn.data.load("cora", root=tmp_path)):
        assert torch.equal(ds.x, cora.x) and torch.equal(ds.graph.edge_index, cora.graph.edge_index)
    (tmp_path / "planetoid" / "ind.cora.x").write_bytes(b"")  # a partial copy is not ignored
    with pytest.raises(FileNotFoundError, match=r"missing ind.cora.y"):
        deepgnn.data.load("cora")


def test_cora_is_read_from_a_data_root_that_holds_it(data_root, tmp_path, monkeypatch, corrupt):
    folder = _planetoid_copy(data_root, tmp_path, "cora")
    monkeypatch.setenv("DEEPGNN_DATA", str(tmp_path))
    corrupt(folder / "ind.cora.tx", "truncated")
    with pytest.raises(ValueError, match=r"ind.cora.tx is truncated or corrupt"):
        deepgnn.data.load("cora")


def test_dataset_takes_one_dimensional_masks_as_one_split(cora):
    # before: masks of shape (N,) were N splits of one entry, and train_node failed inside
    # torch's cross_entropy
    from deepgnn.data import Dataset
    from deepgnn.train import train_node

    ds = Dataset(
        name="mine",
        graph=cora.graph,
        x=cora.x,
        y=cora.y,
        train_masks=cora.train_mask,
        val_masks=cora.val_mask,
        test_masks=cora.test_mask,
        num_classes=cora.num_classes,
    )
    assert ds.num_splits == 1 and ds.train_masks.shape == (1, cora.num_nodes)
    assert torch.equal(ds.split(0).test_mask, cora.test_mask)
    runs = []
    for data in (ds, cora):
        model = deepgnn.build("gcn", cora.num_features, cora.num_classes, 2, width=8, seed=0)
        runs.append(train_node(model, data, epochs=5, patience=None, seed=0, device="cpu"))
    assert runs[0].test == runs[1].test and runs[0].train == runs[1].train
    fields = dict(name="bad", graph=cora.graph, x=cora.x, y=cora.y, num_classes=7)
    masks = dict(val_masks=cora.val_mask, test_masks=cora.test_mask)
    with pytest.raises(ValueError, match=r"train_masks has dtype torch.int64; pass bool masks"):
        Dataset(**fields, train_masks=cora.train_mask.long(), **masks)
    with pytest.raises(ValueError, match=r"have shapes \[\(1, 100\), \(1, 2708\), \(1, 2708\)\]"):
        Dataset(**fields, train_masks=cora.train_mask[:100], **masks)
