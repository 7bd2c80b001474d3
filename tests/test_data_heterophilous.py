from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from scipy.stats import rankdata

import deepgnn

# shared/data/README.md, measured on the files: nodes, undirected edges, features, class
# counts, train/val/test of split 0, edge homophily, metric.
STATS = {
    "minesweeper": (10000, 39402, 7, [8000, 2000], (5000, 2500, 2500), 0.683, "rocauc"),
    "chameleon-filtered": (890, 8854, 2325, [242, 134, 209, 164, 141], None, 0.236, "accuracy"),
    "texas": (183, 279, 1703, [33, 1, 18, 101, 30], (87, 59, 37), 0.061, "accuracy"),
    "actor": (
        7600,
        26659,
        932,
        [853, 1337, 1630, 1815, 1965],
        (3648, 2432, 1520),
        0.217,
        "accuracy",
    ),
    "cornell": (183, 277, 1703, [38, 16, 30, 82, 17], (87, 59, 37), 0.123, "accuracy"),
    "wisconsin": (251, 450, 1703, [10, 70, 118, 32, 21], (120, 80, 51), 0.178, "accuracy"),
}


@pytest.mark.parametrize("name", sorted(STATS))
def test_heterophilous_stats_match_the_published_files(name, data_root):
    nodes, edges, features, counts, sizes, homophily, metric = STATS[name]
    ds = deepgnn.data.load(name, root=data_root)
    assert (ds.num_nodes, ds.graph.num_edges, ds.num_features) == (nodes, edges, features)
    assert torch.bincount(ds.y).tolist() == counts
    assert ds.num_classes == len(counts) and ds.metric == metric and ds.num_splits == 10
    masks = torch.stack([ds.train_masks, ds.val_masks, ds.test_masks]).int()
    assert (masks.sum(0) == 1).all()  # disjoint and covering, in every split
    if sizes is not None:
        assert tuple(int(m[0].sum()) for m in masks) == sizes
    rows, cols = ds.graph.edge_index
    assert abs((ds.y[rows] == ds.y[cols]).float().mean().item() - homophily) < 5e-4


def test_heterophilous_graph_is_the_file_edges_made_bidirected(data_root):
    ds = deepgnn.data.load("texas", root=data_root)
    with np.load(data_root / "heterophilous" / "texas.npz", allow_pickle=False) as z:
        e = z["edges"]
    expected = {(int(a), int(b)) for a, b in e} | {(int(b), int(a)) for a, b in e}
    assert set(map(tuple, ds.graph.edge_index.T.tolist())) == expected


def test_minesweeper_rocauc_equals_mann_whitney_statistic(data_root, generator):
    ds = deepgnn.data.load("minesweeper", root=data_root).split(3)
    logits = torch.randn(ds.num_nodes, 2, generator=generator) + ds.y[:, None] * torch.tensor(
        [0.0, 0.5]
    )
    idx = ds.test_mask.nonzero().flatten()
    s = (logits[idx, 1] - logits[idx, 0]).numpy()
    y = ds.y[idx].numpy()
    ranks = rankdata(s)
    pos, neg = int(y.sum()), int((1 - y).sum())
    expected = (ranks[y == 1].sum() - pos * (pos + 1) / 2) / (pos * neg)
    assert ds.evaluate(logits, ds.test_mask) == pytest.approx(expected, abs=1e-12)
    # the softmax probability of class 1 ranks the nodes the same way
    prob = torch.softmax(logits, 1)[:, 1]
    assert ds.evaluate(prob, ds.test_mask) == pytest.approx(expected, abs=1e-12)
    assert 0.55 < expected < 0.75  # a weak but real signal


def test_missing_heterophilous_file_names_both_places_and_the_source(tmp_path):
    with pytest.raises(
        FileNotFoundError, match=r"roman_empire.npz not found.*heterophilous-graphs"
    ):
        deepgnn.data.load("roman-empire", root=tmp_path)


def test_heterophilous_file_without_splits_is_refused(tmp_path):
    np.savez(tmp_path / "texas.npz", node_features=np.zeros((3, 2)), node_labels=np.zeros(3))
    with pytest.raises(ValueError, match=r"lacks \['edges', 'train_masks'"):
        deepgnn.data.load("texas", root=tmp_path)


def _texas_copy(data_root, tmp_path):
    (tmp_path / "heterophilous").mkdir()
    path = tmp_path / "heterophilous" / "texas.npz"
    shutil.copy(data_root / "heterophilous" / "texas.npz", path)
    return path


@pytest.mark.parametrize(
    ("how", "cause"),
    [
        ("truncated", r"BadZipFile: File is not a zip file"),
        ("random", r"ValueError: not a file of plain arrays"),  # numpy suggests allow_pickle=
        ("empty", r"EOFError"),
    ],
)
def test_corrupt_heterophilous_file_is_named_with_the_fix(data_root, tmp_path, corrupt, how, cause):
    corrupt(_texas_copy(data_root, tmp_path), how)
    with pytest.raises(
        ValueError,
        match=rf"texas.npz is truncated or corrupt \({cause}.*\); "
        r"re-download texas.npz from https://github.com/yandex-research",
    ) as info:
        deepgnn.data.load("texas", root=tmp_path)
    assert "allow_pickle" not in str(info.value)


def _rewrite(path, **changes):
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    arrays.update(changes)
    np.savez(path, **arrays)
    return arrays


def test_heterophilous_member_that_is_a_raw_pickle_is_named(tmp_path):
    # before: "'bytes' object has no attribute 'dtype'"
    import io
    import pickle
    import zipfile

    with zipfile.ZipFile(tmp_path / "texas.npz", "w") as z:
        z.writestr("node_features.npy", pickle.dumps(np.zeros((3, 2))))
        for k in ("node_labels", "edges", "train_masks", "val_masks", "test_masks"):
            buf = io.BytesIO()
            np.save(buf, np.zeros(3))
            z.writestr(f"{k}.npy", buf.getvalue())
    with pytest.raises(
        ValueError,
        match=r"texas.npz is truncated or corrupt \(TypeError: member 'node_features' holds "
        r"bytes, not a numpy array\); re-download texas.npz",
    ):
        deepgnn.data.load("texas", root=tmp_path)


def test_heterophilous_float_edge_ids_are_refused_not_truncated(data_root, tmp_path):
    path = _texas_copy(data_root, tmp_path)
    with np.load(path) as z:
        edges = z["edges"].astype(np.float64)
    edges[0, 0] += 0.5  # astype(int64) made node 3.5 node 3
    _rewrite(path, edges=edges)
    with pytest.raises(
        ValueError,
        match=r"texas.npz: edges has dtype float64 and values that "
        r"are not whole numbers such as .*\.5, but edges must be integers",
    ):
        deepgnn.data.load("texas", root=tmp_path)
    _rewrite(path, edges=np.round(edges))  # whole numbers stored as floats are fine
    assert deepgnn.data.load("texas", root=tmp_path).graph.num_edges == 279


def test_heterophilous_file_labelling_no_node_is_refused(data_root, tmp_path):
    # before: num_classes=0 from the all -1 labels
    path = _texas_copy(data_root, tmp_path)
    with np.load(path) as z:
        n = len(z["node_labels"])
    _rewrite(path, node_labels=np.full(n, -1))
    with pytest.raises(ValueError, match=r"texas.npz labels no node"):
        deepgnn.data.load("texas", root=tmp_path)
