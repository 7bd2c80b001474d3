"""OGB layouts written from Cora, read back offline and compared with Cora and with ogb itself."""

from __future__ import annotations

import gzip
import pickle
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import deepgnn
from deepgnn.data.ogb import even_quantile_labels


def _cora_split(cora) -> dict[str, np.ndarray]:
    return {
        k: m.nonzero().flatten().numpy()
        for k, m in zip(
            ("train", "valid", "test"), (cora.train_mask, cora.val_mask, cora.test_mask)
        )
    }


@pytest.fixture(scope="module")
def arxiv_like(cora, tmp_path_factory) -> tuple[Path, np.ndarray]:
    """Cora saved by ogb.io.DatasetSaver as 'ogbn-arxiv' (OGB's binary layout), with years."""
    from ogb.io import DatasetSaver

    base = tmp_path_factory.mktemp("ogb")
    years = np.random.default_rng(0).integers(1990, 2021, cora.num_nodes)
    rows, cols = cora.graph.edge_index
    once = rows < cols  # OGB's arxiv stores each citation once, in one direction
    saver = DatasetSaver("ogbn-arxiv", is_hetero=False, version=1, root=str(base / "sub"))
    saver.save_graph_list(
        [
            {
                "edge_index": torch.stack([rows[once], cols[once]]).numpy(),
                "num_nodes": cora.num_nodes,
                "node_feat": cora.x.numpy(),
                "node_year": years[:, None],
            }
        ]
    )
    saver.save_target_labels(cora.y.numpy()[:, None])
    saver.save_split(_cora_split(cora), "time")
    return base / "sub_ogbn_arxiv", years


def test_ogb_binary_layout_round_trips_cora(cora, arxiv_like):
    root, _ = arxiv_like
    assert (root / "arxiv" / "raw" / "data.npz").is_file()
    ds = deepgnn.data.load("ogbn-arxiv", root=root)
    assert torch.equal(ds.x, cora.x) and torch.equal(ds.y, cora.y)
    assert torch.equal(ds.graph.edge_index, cora.graph.edge_index)
    for a, b in ((ds.train_mask, cora.train_mask), (ds.val_mask, cora.val_mask)):
        assert torch.equal(a, b)
    assert torch.equal(ds.test_mask, cora.test_mask)
    assert (ds.metric, ds.evaluator, ds.num_classes) == ("accuracy", "ogbn-arxiv", 7)


def test_ogb_dataset_is_scored_by_ogb_evaluator(cora, arxiv_like, generator):
    from ogb.nodeproppred import Evaluator

    ds = deepgnn.data.load("ogbn-arxiv", root=arxiv_like[0])
    scores = torch.randn(ds.num_nodes, 7, generator=generator)
    scores[: ds.num_nodes // 2] += 3 * torch.nn.functional.one_hot(ds.y[: ds.num_nodes // 2], 7)
    test = ds.test_mask
    expected = Evaluator("ogbn-arxiv").eval(
        {"y_true": ds.y[test, None], "y_pred": scores[test].argmax(1, keepdim=True)}
    )["acc"]
    assert ds.evaluate(scores, test) == pytest.approx(expected)
    assert ds.evaluate(scores, test) == pytest.approx(cora.evaluate(scores, test))


def test_arxiv_year_buckets_years_into_five_quantile_classes(cora, arxiv_like):
    root, years = arxiv_like
    ds = deepgnn.data.load("arxiv-year", root=root)
    assert torch.equal(ds.graph.edge_index, cora.graph.edge_index)
    edges = np.nanquantile(years.astype(float), [0.2, 0.4, 0.6, 0.8])
    expected = np.searchsorted(edges, years, side="right")  # ties go to the upper class
    assert ds.y.tolist() == expected.tolist()
    assert (ds.num_classes, ds.num_splits, ds.metric) == (5, 5, "accuracy")
    masks = torch.stack([ds.train_masks, ds.val_masks, ds.test_masks]).int()
    assert (masks.sum(0) == 1).all()
    assert masks.sum(-1)[:, 0].tolist() == [1354, 677, 677]  # 50/25/25 of 2708
    assert torch.equal(deepgnn.data.load("arxiv-year", root=root).train_masks, ds.train_masks)


def test_even_quantile_labels_follow_lim_et_al():
    # LINKX's rule: [q_k, q_{k+1}) per class, everything >= the last quantile in the top class
    assert even_quantile_labels(np.array([5, 1, 4, 2, 3]), 5).tolist() == [4, 0, 3, 1, 2]
    assert even_quantile_labels(np.array([1, 1, 1, 2]), 2).tolist() == [1, 1, 1, 1]


def test_crafted_split_dict_is_rejected(arxiv_like, tmp_path):
    class Exploit:
        def __reduce__(self):
            return (shutil.rmtree, ("/nonexistent",))

    root = tmp_path / "copy"
    shutil.copytree(arxiv_like[0], root)
    torch.save({"train": Exploit()}, root / "arxiv" / "split" / "time" / "split_dict.pt")
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to load shutil.rmtree"):
        deepgnn.data.load("ogbn-arxiv", root=root)


def _write_csv(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt") as f:
        pd.DataFrame(array).to_csv(f, header=False, index=False)


@pytest.fixture(scope="module")
def proteins_like(cora, tmp_path_factory) -> tuple[Path, dict]:
    """Cora's graph in ogbn-proteins' CSV layout (8 edge features, 112 binary tasks), and
    what ogb's own reader makes of it (which also writes processed/data_processed)."""
    from ogb.nodeproppred import NodePropPredDataset

    root = tmp_path_factory.mktemp("proteins")
    folder = root / "ogbn_proteins"
    rng = np.random.default_rng(1)
    rows, cols = cora.graph.edge_index
    once = (rows < cols).numpy()
    edges = np.stack([rows.numpy()[once], cols.numpy()[once]], 1)
    n = cora.num_nodes
    labels = (rng.random((n, 112)) < 0.3).astype(np.int64)
    _write_csv(folder / "raw" / "edge.csv.gz", edges)
    _write_csv(folder / "raw" / "edge-feat.csv.gz", rng.random((len(edges), 8)).round(3))
    _write_csv(folder / "raw" / "node-label.csv.gz", labels)
    _write_csv(folder / "raw" / "node_species.csv.gz", np.zeros((n, 1), dtype=np.int64))
    _write_csv(folder / "raw" / "num-node-list.csv.gz", np.array([[n]]))
    _write_csv(folder / "raw" / "num-edge-list.csv.gz", np.array([[len(edges)]]))
    for k, idx in _cora_split(cora).items():
        _write_csv(folder / "split" / "species" / f"{k}.csv.gz", idx[:, None])
    (folder / "processed").mkdir()  # the official zip has it; ogb writes into it
    (folder / "RELEASE_v1.txt").write_text("# Release note for ogbn-proteins\n")
    ref = NodePropPredDataset("ogbn-proteins", root=str(root))
    graph, labels = ref[0]
    return root, {"graph": graph, "labels": labels, "split": ref.get_idx_split()}


def test_ogb_csv_layout_matches_ogbs_own_reader(proteins_like):
    root, ref = proteins_like
    ds = deepgnn.data.load("ogbn-proteins", root=root)
    graph, labels = ref["graph"], ref["labels"]
    assert torch.equal(ds.graph.edge_index, deepgnn.Graph(graph["edge_index"]).edge_index)
    assert ds.multilabel and ds.y.shape == (2708, 112) and ds.num_classes == 112
    assert torch.equal(ds.y, torch.from_numpy(labels).float())
    # node features: mean over incoming edges of ogb's (bidirected) edge list
    dst = torch.from_numpy(graph["edge_index"][1])
    feat = torch.from_numpy(graph["edge_feat"]).double()
    sums = torch.zeros(2708, 8, dtype=torch.double).index_add_(0, dst, feat)
    counts = torch.bincount(dst, minlength=2708).clamp(min=1)
    torch.testing.assert_close(ds.x, (sums / counts[:, None]).float())
    test = np.sort(ref["split"]["test"])
    assert torch.equal(ds.test_mask.nonzero().flatten(), torch.from_numpy(test))


def test_ogb_processed_file_is_read_with_allow_listed_torch_load(proteins_like, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(proteins_like[0], root)
    shutil.rmtree(root / "ogbn_proteins" / "raw")
    assert (root / "ogbn_proteins" / "processed" / "data_processed").is_file()
    ds = deepgnn.data.load("ogbn-proteins", root=root)
    ref = deepgnn.data.load("ogbn-proteins", root=proteins_like[0])
    assert torch.equal(ds.y, ref.y) and torch.equal(ds.graph.edge_index, ref.graph.edge_index)
    torch.testing.assert_close(ds.x, ref.x)


def test_multilabel_rocauc_matches_ogb_evaluator(proteins_like, generator):
    from ogb.nodeproppred import Evaluator

    ds = deepgnn.data.load("ogbn-proteins", root=proteins_like[0])
    scores = torch.randn(ds.num_nodes, 112, generator=generator) + ds.y
    test = ds.test_mask
    expected = Evaluator("ogbn-proteins").eval({"y_true": ds.y[test], "y_pred": scores[test]})
    assert ds.evaluate(scores, test) == pytest.approx(expected["rocauc"])
    assert 0.7 < expected["rocauc"] < 0.85  # shift 1 with unit noise: Phi(1/sqrt 2) = 0.76


def test_missing_ogb_dataset_says_where_to_download(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"products.zip.*unzip it into"):
        deepgnn.data.load("ogbn-products", root=tmp_path)


def test_split_dict_of_tensors_is_read_through_torch_weights_only(cora, arxiv_like, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(arxiv_like[0], root)
    split = {k: torch.from_numpy(v) for k, v in _cora_split(cora).items()}
    torch.save(split, root / "arxiv" / "split" / "time" / "split_dict.pt")
    ds = deepgnn.data.load("ogbn-arxiv", root=root)
    assert torch.equal(ds.test_mask, cora.test_mask)


def test_ogb_binary_file_missing_an_array_is_named(arxiv_like, tmp_path):
    # before: KeyError: 'num_nodes_list'
    root = tmp_path / "copy"
    shutil.copytree(arxiv_like[0], root)
    data = root / "arxiv" / "raw" / "data.npz"
    with np.load(data) as z:
        arrays = {k: z[k] for k in z.files if k != "num_nodes_list"}
    np.savez_compressed(data, **arrays)
    with pytest.raises(
        ValueError,
        match=r"data.npz lacks \['num_nodes_list'\].*re-download "
        r"http://snap.stanford.edu/ogb/data/nodeproppred/arxiv.zip",
    ):
        deepgnn.data.load("ogbn-arxiv", root=root)


@pytest.mark.parametrize(
    ("file", "cause"),
    [
        ("raw/data.npz", r"BadZipFile"),
        ("raw/node-label.npz", r"BadZipFile"),
        ("split/time/split_dict.pt", r"OSError: \[Errno 22\] Invalid argument"),
    ],
)
def test_truncated_ogb_binary_files_are_named(arxiv_like, tmp_path, corrupt, file, cause):
    root = tmp_path / "copy"
    shutil.copytree(arxiv_like[0], root)
    corrupt(root / "arxiv" / file, "truncated")
    path = re.escape(str(root / "arxiv" / file))
    with pytest.raises(ValueError, match=rf"{path} is truncated or corrupt \({cause}.*arxiv.zip"):
        deepgnn.data.load("ogbn-arxiv", root=root)


@pytest.mark.parametrize("how", ["truncated", "random"])
def test_corrupt_ogb_processed_file_is_named(proteins_like, tmp_path, corrupt, how):
    # before: torch's RuntimeError "PytorchStreamReader failed reading zip archive", and for
    # random bytes its advice to retry with weights_only=False
    root = tmp_path / "copy"
    shutil.copytree(proteins_like[0], root)
    shutil.rmtree(root / "ogbn_proteins" / "raw")
    processed = root / "ogbn_proteins" / "processed" / "data_processed"
    corrupt(processed, how)
    with pytest.raises(
        ValueError,
        match=r"data_processed is truncated or corrupt .*delete it "
        r"\(ogb rebuilds it from raw/\)",
    ) as info:
        deepgnn.data.load("ogbn-proteins", root=root)
    assert "weights_only" not in str(info.value)


@pytest.mark.parametrize("file", ["edge.csv.gz", "node-label.csv.gz", "num-node-list.csv.gz"])
def test_empty_or_truncated_ogb_csv_is_named(proteins_like, tmp_path, corrupt, file):
    root = tmp_path / "copy"
    shutil.copytree(proteins_like[0], root)
    path = root / "ogbn_proteins" / "raw" / file
    with gzip.open(path, "wt") as f:
        f.write("")  # pandas: EmptyDataError
    with pytest.raises(ValueError, match=rf"{file} is truncated or corrupt \(EmptyDataError"):
        deepgnn.data.load("ogbn-proteins", root=root)
    _write_csv(path, np.arange(10)[:, None])
    corrupt(path, "truncated")  # gzip: "Compressed file ended before the end-of-stream marker"
    with pytest.raises(ValueError, match=rf"{file} is truncated or corrupt"):
        deepgnn.data.load("ogbn-proteins", root=root)


def test_ogb_labels_that_label_no_node_are_refused(arxiv_like, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(arxiv_like[0], root)
    label = root / "arxiv" / "raw" / "node-label.npz"
    with np.load(label) as z:
        n = len(z["node_label"])
    np.savez_compressed(label, node_label=np.full((n, 1), np.nan))
    with pytest.raises(ValueError, match=r"arxiv labels no node"):
        deepgnn.data.load("ogbn-arxiv", root=root)
