"""Datasets of one's own by name (data.register, [data.<name>] loader) and dataset options
([data.csbm] keywords): data.load, sweep configs, cell keys, rows and worker processes."""

from __future__ import annotations

import os
import sys
import textwrap

import pandas as pd
import pytest
import torch

import deepgnn
from deepgnn import data, experiment, sweep

# A loader module of one's own, importable by the sweep's spawned worker processes.
MODULE = """
import deepgnn


def load_tiny(*, size: int = 40) -> deepgnn.data.Dataset:
    ds = deepgnn.data.csbm(num_nodes=size, avg_degree=4, num_classes=2, num_features=8, seed=1)
    ds.name = "tiny"
    return ds


def load_rooted(root=None, *, scale: float):
    return load_tiny(size=int(20 * scale))


def not_a_dataset():
    return {"x": 1}
"""


@pytest.fixture
def own_module(tmp_path, monkeypatch):
    """``tiny_graphs`` on ``sys.path`` (which spawned workers inherit); the registry is
    restored afterwards."""
    (tmp_path / "tiny_graphs.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(data.available())
    yield tmp_path
    for name in set(data.available()) - before:
        data.unregister(name)
    sys.modules.pop("tiny_graphs", None)


def _config(tmp_path, text: str, name: str = "own"):
    path = tmp_path / f"{name}.toml"
    path.write_text(textwrap.dedent(text))
    return path


def test_registered_loader_is_loaded_by_name_with_its_options(own_module):
    import tiny_graphs

    data.register("Tiny_Graph", tiny_graphs.load_tiny)
    assert "tiny-graph" in data.available()
    assert data.task("tiny_graph") == "node"
    assert data.options("tiny-graph") == {"size": 40}
    assert data.loader_path("tiny-graph") == "tiny_graphs:load_tiny"
    assert data.load("tiny-graph").num_nodes == 40
    assert data.load("TINY-GRAPH", size=30).num_nodes == 30
    with pytest.raises(ValueError, match=r"has no option 'sise'.*did you mean 'size'"):
        data.load("tiny-graph", sise=30)
    # by import path; root= reaches a loader that takes it; a required keyword is named
    data.register("rooted", "tiny_graphs:load_rooted", task="node")
    assert data.load("rooted", root=own_module, scale=2).num_nodes == 40
    with pytest.raises(ValueError, match=r"needs option\(s\) \['scale'\]"):
        data.load("rooted")


def test_register_refuses_builtin_names_second_loaders_and_bad_paths(own_module):
    import tiny_graphs

    with pytest.raises(ValueError, match=r"name='Cora' is a built-in dataset.*'my-cora'"):
        data.register("Cora", tiny_graphs.load_tiny)
    with pytest.raises(ValueError, match=r"name='a b'; pass letters, digits"):
        data.register("a b", tiny_graphs.load_tiny)
    with pytest.raises(ValueError, match=r"module 'nowhere_pkg.data' cannot be imported"):
        data.register("mine", "nowhere_pkg.data:load")
    with pytest.raises(ValueError, match=r"task='edge' is not one of \['graph', 'node'\]"):
        data.register("mine", tiny_graphs.load_tiny, task="edge")
    data.register("mine", tiny_graphs.load_tiny)
    data.register("mine", "tiny_graphs:load_tiny")  # the same loader by its path: no-op
    with pytest.raises(ValueError, match=r"already registered with loader tiny_graphs:load_tiny"):
        data.register("mine", tiny_graphs.load_rooted)
    data.register("mine", tiny_graphs.load_rooted, replace=True)
    assert data.loader_path("mine") == "tiny_graphs:load_rooted"
    data.register("junk", tiny_graphs.not_a_dataset)
    with pytest.raises(TypeError, match=r"returned a dict; a loader registered with task='node'"):
        data.load("junk")
    with pytest.raises(ValueError, match=r"name='unknown-thing' is not one of .*register it"):
        data.load("unknown-thing")


def test_sweep_runs_a_registered_loader_in_two_worker_processes(own_module, tmp_path):
    path = _config(
        tmp_path,
        """
        seed = 0
        batch_cells = false
        [data]
        name = ["tiny", "cora"]
        [data.tiny]
        loader = "tiny_graphs:load_tiny"
        size = [30, 50]
        [model]
        family = "gcn"
        depth = 1
        width = 4
        [train]
        epochs = 2
        patience = "none"
        """,
    )
    config = sweep.load_config(path)
    keys = [c.key for c in config.cells()]
    assert len(keys) == 3 and len(set(keys)) == 3
    # Cora's cell keeps the key it has in a sweep without any dataset of one's own.
    cora_key = next(k for k in keys if k.startswith("cora-"))
    plain = path.read_text().replace('["tiny", "cora"]', '["cora"]')
    plain = plain.split("[data.tiny]")[0] + "[model]" + plain.split("[model]")[1]
    assert [c.key for c in sweep.load_config(_config(tmp_path, plain, "plain")).cells()] == [
        cora_key
    ]
    state = sweep.run(config, workers=2, out=tmp_path / "out", progress=False)
    assert state.finished and (state.done, state.failed) == (3, 0)
    sweep.report(config, out=tmp_path / "out")
    df = pd.read_csv(tmp_path / "out" / "results.csv")
    tiny = df[df["dataset"] == "tiny"].sort_values("data_size")
    assert tiny["loader"].tolist() == ["tiny_graphs:load_tiny"] * 2
    assert tiny["data_size"].tolist() == [30, 50]
    assert set(df["status"]) == {"ok"}
    assert os.getpid() not in {int(w.rsplit(":", 1)[1]) for w in df["worker"]}
    assert df.loc[df["dataset"] == "cora", "loader"].isna().all()


def test_sweep_takes_a_loader_registered_in_the_calling_process(own_module, tmp_path):
    import tiny_graphs

    data.register("tiny", tiny_graphs.load_tiny)
    text = """
        seed = 0
        [data]
        name = "tiny"
        [model]
        family = "gcn"
        depth = 1
        width = 4
        [train]
        epochs = 2
        """
    config = sweep.load_config(_config(tmp_path, text))
    assert config.data_loaders == {"tiny": {"loader": "tiny_graphs:load_tiny", "task": "node"}}
    state = sweep.run(config, out=tmp_path / "out", progress=False)
    assert state.done == 1
    data.register("lam", lambda: tiny_graphs.load_tiny(), replace=True)
    config = sweep.load_config(_config(tmp_path, text.replace('"tiny"', '"lam"'), "lam"))
    with pytest.raises(ValueError, match=r"worker processes cannot import .*\[data.lam\] loader"):
        sweep.run(config, workers=2, out=tmp_path / "out2", progress=False)


def test_csbm_options_make_their_own_cells_rows_and_graphs(tmp_path):
    base = """
        seed = 0
        [data]
        name = "csbm"
        {table}
        [model]
        family = "gcn"
        depth = 1
        width = 4
        [train]
        epochs = 2
        """
    table = "[data.csbm]\nnum_nodes = 400\nnum_classes = 2\nhomophily = [0.1, 0.9]"
    config = sweep.load_config(_config(tmp_path, base.format(table=table)))
    default = sweep.load_config(_config(tmp_path, base.format(table=""), "default"))
    cells = config.cells()
    assert len(cells) == 2 and not {c.key for c in cells} & {c.key for c in default.cells()}
    assert config.axes() == {"data_homophily": [0.1, 0.9]}
    for cell in cells:
        ds = experiment._dataset(cell.spec(), torch.device("cpu"))
        assert (
            experiment._dataset(cell.spec(), torch.device("cpu")) is ds
        )  # loaded once per options
        rows, cols = ds.graph.edge_index
        realized = (ds.y[rows] == ds.y[cols]).float().mean().item()
        assert ds.num_nodes == 400
        assert realized == pytest.approx(cell.data_options["homophily"], abs=1e-2)
    experiment.clear_cache()
    state = sweep.run(config, out=tmp_path / "out", progress=False)
    assert state.done == 2
    df = sweep.report(config, out=tmp_path / "out")
    assert sorted(df["data_homophily"]) == [0.1, 0.9] and set(df["data_num_nodes"]) == {400}
    assert "data_homophily=0.1" in (tmp_path / "out" / "summary.md").read_text()


@pytest.mark.parametrize(
    ("table", "match"),
    [
        (
            '[data]\nname = "csbm"\n[data.csbm]\nhomophilly = 0.3\n',
            r"\[data.csbm\] dataset 'csbm' has no option 'homophilly'; its options are "
            r"\[.*\]; did you mean 'homophily'\?",
        ),
        (
            '[data]\nname = "csbm"\n[data.csbm]\nhomophily = [0.5, 1.5]\n',
            r"\[data.csbm\] homophily=1.5 is outside \[0.0, 1.0\]",
        ),
        (
            '[data]\nname = "arxiv-sbm"\n[data.arxiv-sbm]\nsnr = 2.0\ndegree_exponent = 1.0\n',
            r"\[data.arxiv-sbm\] degree_exponent=1.0 must be a finite number above 1",
        ),
        (
            '[data]\nname = "arxiv-sbm"\n[data.arxiv-sbm]\nhomophily = [0.5, -0.1]\n',
            r"\[data.arxiv-sbm\] homophily=-0.1 is outside \[0.0, 1.0\]",
        ),
        (
            '[data]\nname = "cora"\n[data.cora]\nloader = "tiny_graphs:load_tiny"\n',
            r"\[data.cora\] name='cora' is a built-in dataset; register yours under another",
        ),
        (
            '[data]\nname = "mine"\n[data.mine]\nloader = "nowhere_pkg.graphs:load"\n',
            r"\[data.mine\] loader='nowhere_pkg.graphs:load': module 'nowhere_pkg.graphs' "
            r"cannot be imported .*PYTHONPATH",
        ),
        (
            '[data]\nname = "mine"\n[data.mine]\nloader = "tiny_graphs:nope"\n',
            r"'tiny_graphs' has no 'nope'; its public names are \[.*'load_tiny'",
        ),
        (
            '[data]\nname = "mine"\n',
            r"\[data\] name='mine' is not one of .*\[data.<name>\] loader = "
            r"'package.module:function'",
        ),
        (
            '[data]\nname = "cora"\n[data.cora]\nsize = 3\n',
            r"dataset 'cora' takes no options, got \['size'\]",
        ),
        (
            '[data]\nname = "cora"\n[data.csbm]\nnum_nodes = 300\n',
            r"\[data.csbm\] gives options for dataset 'csbm', which \[data\] name does not list",
        ),
        (
            '[data]\nname = "mine"\n[data.mine]\nloader = "tiny_graphs:load_tiny"\nsize = "x"'
            '\n[data.mine2]\ntask = "graph"\n',
            r"\[data.mine2\] gives options for dataset 'mine2'",
        ),
    ],
)
def test_bad_data_tables_fail_on_load_naming_key_and_fix(own_module, tmp_path, table, match):
    text = table + '[model]\nfamily = "gcn"\ndepth = 1\n'
    with pytest.raises(ValueError, match=match):
        sweep.load_config(_config(tmp_path, text))


def test_registered_graph_dataset_is_checked_as_graph_classification(own_module, tmp_path):
    import tiny_graphs

    data.register("my-mols", tiny_graphs.load_tiny, task="graph")
    assert data.task("my-mols") == "graph"
    text = (
        'record = ["final", "signal_init"]\n[data]\nname = "my-mols"\n'
        '[model]\nfamily = "gcn"\ndepth = 1\n'
    )
    with pytest.raises(ValueError, match=r"\['my-mols'\] are graph-classification datasets"):
        sweep.load_config(_config(tmp_path, text))
    with pytest.raises(TypeError, match=r"task='graph' returns a deepgnn.data.GraphDataset"):
        deepgnn.data.load("my-mols")
