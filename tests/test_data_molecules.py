from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

import deepgnn
from deepgnn.data.molecules import from_smiles, load_moleculenet

Chem = pytest.importorskip("rdkit.Chem", reason="molecule datasets need the chem extra (rdkit)")
from rdkit.Chem.Scaffolds import MurckoScaffold  # noqa: E402

LIMIT = 1000


@pytest.fixture(scope="module")
def hiv(data_root, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    return load_moleculenet("ogbg-molhiv", data_root, limit=LIMIT, cache_dir=cache), cache


@pytest.fixture(scope="module")
def hiv_table(data_root) -> pd.DataFrame:
    return pd.read_csv(data_root / "molecules" / "hiv.csv", nrows=LIMIT)


def test_hiv_subset_counts_atoms_bonds_and_unparsable_smiles(hiv, hiv_table):
    ds, _ = hiv
    mols = [Chem.MolFromSmiles(s) for s in hiv_table.smiles]
    bad = [i for i, m in enumerate(mols) if m is None]
    # shared/data/README.md: HIV's unparsable SMILES are hypervalent Al, B and Ge complexes
    assert ds.num_failed == len(bad) == 2 and ds.failed == bad
    assert all(any(el in hiv_table.smiles[i] for el in ("Al", "B", "Ge")) for i in bad)
    good = [m for m in mols if m is not None]
    assert len(ds) == LIMIT - 2 and ds.num_tasks == 1
    assert (ds.node_ptr.diff() == torch.tensor([m.GetNumAtoms() for m in good])).all()
    assert (ds.edge_ptr.diff() == torch.tensor([2 * m.GetNumBonds() for m in good])).all()
    assert ds.node_feat.shape == (int(ds.node_ptr[-1]), 9) and ds.edge_feat.shape[1] == 3
    labels = hiv_table.HIV_active.drop(index=bad).to_numpy()
    assert ds.y[:, 0].tolist() == labels.astype(float).tolist()


def test_scaffold_split_keeps_each_scaffold_in_one_part(hiv, hiv_table):
    ds, _ = hiv
    smiles = [s for s in hiv_table.smiles if Chem.MolFromSmiles(s) is not None]
    scaffold = [
        MurckoScaffold.MurckoScaffoldSmiles(smiles=s, includeChirality=True) for s in smiles
    ]
    parts = {k: {scaffold[i] for i in v.tolist()} for k, v in ds.split_idx.items()}
    assert not (parts["train"] & parts["valid"] or parts["train"] & parts["test"])
    assert not parts["valid"] & parts["test"]
    ids = torch.cat(list(ds.split_idx.values())).sort().values
    assert torch.equal(ids, torch.arange(len(ds)))
    sizes = [len(ds.split_idx[k]) for k in ("train", "valid", "test")]
    assert sizes[0] <= 0.8 * len(ds) and sizes[0] + sizes[1] <= 0.9 * len(ds)
    assert sizes[0] > 0.75 * len(ds) and sizes[1] > 0.05 * len(ds)


def test_second_load_reads_the_cache(hiv, data_root):
    ds, cache = hiv
    files = list(cache.glob("ogbg-molhiv-*.npz"))
    assert len(files) == 1
    again = load_moleculenet("ogbg-molhiv", data_root, limit=LIMIT, cache_dir=cache)
    for a, b in ((ds.node_feat, again.node_feat), (ds.edge_index, again.edge_index)):
        assert torch.equal(a, b)
    assert again.failed == ds.failed and torch.equal(ds.split_idx["test"], again.split_idx["test"])


def test_batch_is_block_diagonal(hiv):
    ds, _ = hiv
    index = torch.tensor([5, 0, 17])
    b = ds.batch(index)
    blocks = []
    for i in index.tolist():
        lo, hi = int(ds.edge_ptr[i]), int(ds.edge_ptr[i + 1])
        n = int(ds.node_ptr[i + 1] - ds.node_ptr[i])
        blocks.append(deepgnn.Graph(ds.edge_index[:, lo:hi], num_nodes=n).to_scipy())
    expected = sp.block_diag(blocks).toarray()
    assert np.allclose(b.graph.to_scipy().toarray(), expected)
    counts = (ds.node_ptr[index + 1] - ds.node_ptr[index]).tolist()
    assert b.batch.tolist() == sum(([g] * c for g, c in enumerate(counts)), [])
    assert torch.equal(b.x[: counts[0]], ds.node_feat[ds.node_ptr[5] : ds.node_ptr[6]])
    assert b.edge_attr.shape == (b.edge_index.shape[1], 3) and b.num_graphs == 3
    assert torch.equal(b.y, ds.y[index])


def test_graph_evaluate_matches_sklearn_rocauc(hiv, generator):
    from sklearn.metrics import roc_auc_score

    ds, _ = hiv
    idx = ds.split_idx["train"]
    scores = torch.randn(len(idx), 1, generator=generator) + ds.y[idx]
    expected = roc_auc_score(ds.y[idx, 0].numpy(), scores[:, 0].numpy())
    assert ds.evaluate(scores, idx) == pytest.approx(expected)
    with pytest.raises(ValueError, match=r"y_pred must be \(798, 1\)"):
        ds.evaluate(scores[:5], idx)


def test_unparsable_smiles_are_counted_not_fatal():
    ds = from_smiles(["CCO", "C1CC", "[Xx]", "c1ccccc1O"], [0, 1, 0, 1], name="toy")
    assert (len(ds), ds.num_failed, ds.failed) == (2, 2, [1, 2])
    assert ds.y[:, 0].tolist() == [0.0, 1.0]
    with pytest.raises(ValueError, match="no SMILES string could be parsed"):
        from_smiles(["C1CC"], [0])


def test_missing_csv_says_where_it_was_looked_for(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"bbbp.csv not found \(looked for .*molecules"):
        deepgnn.data.load("ogbg-molbbbp", root=tmp_path)


@pytest.mark.parametrize(
    ("content", "cause"),
    [(b"", r"EmptyDataError: No columns to parse"), (b"\x82\xff" * 64, r"UnicodeDecodeError")],
)
def test_empty_or_binary_csv_is_named_with_the_fix(tmp_path, content, cause):
    (tmp_path / "molecules").mkdir()
    (tmp_path / "molecules" / "bbbp.csv").write_bytes(content)
    with pytest.raises(
        ValueError,
        match=rf"bbbp.csv is truncated or corrupt \({cause}.*\); "
        r"re-download bbbp.csv \(MoleculeNet",
    ):
        load_moleculenet("ogbg-molbbbp", tmp_path, cache=False)


def test_truncated_cache_is_rebuilt_from_the_csv_with_a_warning(data_root, tmp_path, caplog):
    # before: BadZipFile on every load, naming neither the cache nor a fix
    first = load_moleculenet("ogbg-molbbbp", data_root, limit=40, cache_dir=tmp_path)
    (cache,) = tmp_path.glob("ogbg-molbbbp-*.npz")
    cache.write_bytes(cache.read_bytes()[:100])
    with caplog.at_level("WARNING", logger="deepgnn.data.molecules"):
        again = load_moleculenet("ogbg-molbbbp", data_root, limit=40, cache_dir=tmp_path)
    assert re.search(
        rf"{re.escape(cache.name)} is truncated or corrupt .*rebuilding it from "
        "the CSV",
        caplog.text,
    )
    assert torch.equal(again.node_feat, first.node_feat) and again.failed == first.failed
    with np.load(cache) as z:  # the cache was written again, whole
        assert torch.equal(torch.from_numpy(z["node_feat"]), first.node_feat)
