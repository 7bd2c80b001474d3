from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

import deepgnn
from deepgnn import experiment, init
from deepgnn._plot import draw_line, summarize

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


def test_depth_table_plot_gets_its_extension_and_the_table_says_how_seeds_combine(tmp_path):
    # before: plot_depth_table(t, "gat_plot") wrote a file with no extension, and the table of
    # several seeds did not say it showed their mean
    g = _graph()
    x = torch.randn(N, 5, generator=torch.Generator().manual_seed(0)) + 2
    df = deepgnn.depth_table("gcn", g, [2], ["xavier"], [0, 1], x=x, num_classes=3)
    png = experiment.plot_depth_table(df, tmp_path / "gat_plot")
    assert png == tmp_path / "gat_plot.png" and png.read_bytes()[:4] == b"\x89PNG"
    assert [p.name for p in tmp_path.iterdir()] == ["gat_plot.png"]
    with pytest.raises(ValueError, match=r"ends in .jpg, but plot_depth_table writes a PNG"):
        experiment.plot_depth_table(df, tmp_path / "plot.jpg")
    text = experiment.format_depth_table(df, metrics=["fsp"])
    assert "(mean over 2 seeds; diverged if any seed diverged)" in text.splitlines()[0]
    mean = df["fsp"].mean()
    assert float(text.splitlines()[-1].split("|")[2]) == pytest.approx(mean, rel=1e-2)


def test_log_summary_is_the_geometric_mean_and_counts_what_a_log_axis_cannot_show():
    depth = pd.Series([2, 2, 4, 4, 8, 8])
    fsp = pd.Series([1.0, 100.0, 0.0, 1e-3, float("nan"), 5.0])
    diverged = pd.Series([False, False, False, False, True, True])
    stats = summarize(depth, fsp, diverged, log=True).set_index("depth")
    spread = math.exp(math.log(100.0) / math.sqrt(2))  # e^{std(log v)}, ddof 1
    assert stats.loc[2, "center"] == pytest.approx(10.0)
    assert stats.loc[2, ["low", "high"]].tolist() == pytest.approx([10 / spread, 10 * spread])
    assert stats.loc[4, ["n", "zero", "bad", "center"]].tolist() == pytest.approx([1, 1, 0, 1e-3])
    # a diverged row counts as diverged even where its value is finite
    assert stats.loc[8, ["n", "bad"]].tolist() == [0, 2] and math.isnan(stats.loc[8, "center"])
    linear = summarize(depth, fsp, None, log=False, bounds=(0.0, 1.0)).set_index("depth")
    assert linear.loc[2, ["center", "low", "high"]].tolist() == pytest.approx([50.5, 0.0, 1.0])


def test_plot_marks_underflowed_and_diverged_points_on_the_axis_edges(tmp_path):
    from matplotlib.figure import Figure

    df = pd.DataFrame(
        {
            "dataset": "toy",
            "family": "gcn",
            "activation": "tanh",
            "width": 8,
            "depth": [2, 4, 8, 2, 4, 8],
            "init": ["a"] * 3 + ["b"] * 3,
            "seed": 0,
            "fsp": [0.5, 1e-30, 0.0, 1.0, 1e20, float("nan")],
            "bsp": [0.5, 1e-30, 0.0, 1.0, 1e20, float("nan")],
            "gev": [0.1, 0.01, 0.0, 0.1, 0.1, 0.0],
            "diverged": [False, False, False, False, False, True],
            "torch": torch.__version__,
            "device": "cpu",
        }
    )
    png = experiment.plot_depth_table(df, tmp_path / "edge.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ax = Figure().subplots()
    for color, part in zip(("C0", "C1"), (df[df["init"] == "a"], df[df["init"] == "b"])):
        draw_line(
            ax, summarize(part["depth"], part["fsp"], part["diverged"], log=True), color=color
        )
    ax.set_yscale("log")
    edge = {line.get_marker(): line for line in ax.lines if line.get_marker() in ("v", "X")}
    # init a underflowed to 0 at depth 8: a marker on the bottom edge (axes y = 0); init b
    # diverged at depth 8: a marker on the top edge (axes y = 1), not a silent gap.
    assert list(edge["v"].get_xdata()) == [8] and list(edge["v"].get_ydata()) == [0.0]
    assert list(edge["X"].get_xdata()) == [8] and list(edge["X"].get_ydata()) == [1.0]
    assert edge["v"].get_color() == "C0" and edge["X"].get_color() == "C1"


def test_run_cell_records_the_jacobian_spectrum_asked_for():
    spec = experiment.CellSpec(
        "csbm", "gcn", 2, init="xavier", seed=3, model={"width": 8}, train={"epochs": 1}
    )
    with pytest.raises(ValueError, match=r"add 'signal_init' \(or 'signal_final'\) to record"):
        experiment.run_cell(spec, device="cpu", measures=["jacobian"])
    row = experiment.run_cell(
        spec, device="cpu", record=("final", "signal_init"), measures=["jacobian", "rank"]
    ).row
    ds = deepgnn.data.load("csbm")
    model = deepgnn.build("gcn", ds.num_features, ds.num_classes, 2, width=8, seed=3)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        init.init_(model, "xavier")
    spectrum = deepgnn.signal.jacobian_spectrum(model, ds.graph, ds.x, k=1, steps=16, seed=3)
    top, bottom = float(spectrum["top"][0]), float(spectrum["bottom"][0])
    assert row["sp_init_jacobian_top"] == pytest.approx(top, rel=1e-4)
    assert row["sp_init_jacobian_spread"] == pytest.approx(math.log10(top / bottom), rel=1e-3)
    assert 1 <= row["sp_init_numerical_rank"] <= ds.num_classes
    assert "sp_init_dirichlet" not in row


def test_run_cells_gives_each_cell_the_row_run_cell_gives_it(tmp_path, one_thread):
    # Two SPoGInit members (searched together), two plain ones, the signal at init, curves.
    model = {"width": 8, "activation": "tanh", "dropout": 0.5}
    train = {"epochs": 10, "patience": None, "lr": 0.01}
    specs = [
        experiment.CellSpec(
            "cora", "gcn", 3, init=i, seed=s, model=model, train=train, init_options=o
        )
        for i, s, o in [
            ("xavier", 0, {}),
            ("spoginit", 1, {"n_trials": 3, "method": "gauss_newton"}),
            ("kaiming", 2, {}),
            ("spoginit", 3, {"n_trials": 4, "method": "gradient"}),
        ]
    ]
    keys = {experiment.batch_key(s) for s in specs}
    assert len(keys) == 1 and None not in keys
    record = ("final", "signal_init", "curves")
    together = experiment.run_cells(
        specs, device="cpu", record=record, curves=[tmp_path / f"b{i}.csv" for i in range(4)]
    )
    for i, (spec, cell) in enumerate(zip(specs, together)):
        assert isinstance(cell, experiment.CellResult), cell
        alone = experiment.run_cell(
            spec, device="cpu", record=record, curves=tmp_path / f"a{i}.csv"
        )
        assert cell.row["group_size"] == 4 and "group_size" not in alone.row
        for column in ("best_epoch", "epochs", "status", "fitted"):
            assert cell.row[column] == alone.row[column], column
        for column in ("test", "val", "train", "sp_init_fsp", "sp_init_gev"):
            assert cell.row[column] == pytest.approx(alone.row[column], rel=1e-5, abs=1e-6)
        b, a = pd.read_csv(tmp_path / f"b{i}.csv"), pd.read_csv(tmp_path / f"a{i}.csv")
        assert b["loss"].tolist() == pytest.approx(a["loss"].tolist(), rel=1e-5)
    with pytest.raises(ValueError, match="share one batch_key"):
        experiment.run_cells([specs[0], experiment.CellSpec("cora", "resgcn", 3)])
    assert (
        experiment.batch_key(experiment.CellSpec("cora", "gcn", 3, model={"norm": "pair"})) is None
    )


def _evaluate(model, ds):
    model.eval()
    with torch.no_grad():
        logits = model(ds.graph, ds.x)
    return ds.evaluate(logits, ds.val_mask), ds.evaluate(logits, ds.test_mask)


def test_saved_models_rebuild_the_cell_and_its_trained_weights_score_its_row(tmp_path):
    spec = experiment.CellSpec(
        "cora",
        "gcn",
        2,
        init="xavier",
        seed=1,
        model={"width": 16, "dropout": 0.5},
        train={"epochs": 30, "lr": 0.05, "patience": None},
    )
    path = tmp_path / "models" / "cell.pt"
    cell = experiment.run_cell(spec, device="cpu", record=["final", "models"], models=path)
    assert cell.row["restore_best"] is True and cell.row["best_epoch"] < cell.row["epochs"]
    trained = experiment.load_cell_model(path)
    ds = deepgnn.data.load("cora")
    assert _evaluate(trained, ds) == (cell.row["val"], cell.row["test"])
    for p, q in zip(trained.parameters(), cell.model.parameters()):
        assert torch.equal(p, q)
    # the initial weights: build(seed=1), then xavier from the cell's seed, as run_cell does
    start = experiment.load_cell_model(path, which="init")
    model = deepgnn.build("gcn", ds.num_features, ds.num_classes, 2, width=16, dropout=0.5, seed=1)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        init.init_(model, "xavier")
    assert all(torch.equal(p, q) for p, q in zip(start.parameters(), model.parameters()))
    saved = torch.load(path, weights_only=True)
    assert saved["result"]["test"] == cell.row["test"] and saved["cell"]["seed"] == 1
    # nothing written without "models" in record
    experiment.run_cell(spec, device="cpu", models=tmp_path / "no.pt")
    assert not (tmp_path / "no.pt").exists()


def test_load_cell_model_names_a_missing_or_foreign_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no models file"):
        experiment.load_cell_model(tmp_path / "missing.pt")
    torch.save({"weights": torch.ones(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a models file a sweep cell wrote"):
        experiment.load_cell_model(tmp_path / "other.pt")
    (tmp_path / "text.pt").write_text("not a torch file")
    with pytest.raises(ValueError, match="not a models file"):
        experiment.load_cell_model(tmp_path / "text.pt")
    with pytest.raises(ValueError, match="which='best' is not one of"):
        experiment.load_cell_model(tmp_path / "other.pt", which="best")


def test_batched_cells_save_the_models_their_runs_alone_save(tmp_path, one_thread):
    model = {"width": 8, "dropout": 0.5}
    train = {"epochs": 20, "lr": 0.05, "patience": None}
    specs = [
        experiment.CellSpec("cora", "gcn", 2, init=i, seed=s, model=model, train=train)
        for i, s in [("xavier", 0), ("kaiming", 1)]
    ]
    record = ("final", "models")
    paths = [tmp_path / f"b{i}.pt" for i in range(2)]
    together = experiment.run_cells(specs, device="cpu", record=record, models=paths)
    ds = deepgnn.data.load("cora")
    for i, (spec, cell) in enumerate(zip(specs, together)):
        assert isinstance(cell, experiment.CellResult) and cell.row["group_size"] == 2
        batched = experiment.load_cell_model(paths[i])
        assert _evaluate(batched, ds) == pytest.approx((cell.row["val"], cell.row["test"]))
        experiment.run_cell(spec, device="cpu", record=record, models=tmp_path / f"a{i}.pt")
        alone = experiment.load_cell_model(tmp_path / f"a{i}.pt")
        for which in ("init", "trained"):
            a = experiment.load_cell_model(tmp_path / f"a{i}.pt", which=which).state_dict()
            b = experiment.load_cell_model(paths[i], which=which).state_dict()
            assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a), which
        assert alone.state_dict().keys() == batched.state_dict().keys()


def test_restore_best_enters_the_resolved_settings_only_where_trained_weights_are_recorded():
    spec = experiment.CellSpec("cora", "gcn", 2, train={"epochs": 5})
    assert "restore_best" not in experiment.resolve_cell(spec)["train"]
    assert "restore_best" not in experiment.resolve_cell(spec, record=["final", "curves"])["train"]
    for after in ("signal_final", "models"):
        resolved = experiment.resolve_cell(spec, record=["final", after])["train"]
        assert resolved["restore_best"] is True
    off = experiment.CellSpec("cora", "gcn", 2, train={"epochs": 5, "restore_best": False})
    assert experiment.resolve_cell(
        off, record=["final", "signal_final"]
    ) == experiment.resolve_cell(spec)


def test_run_cells_searches_one_by_one_when_the_group_cannot_search_together(
    monkeypatch, one_thread
):
    # The pooled search failing as a whole (e.g. out of memory for the stack) costs no cell:
    # each member searches alone and gets the row it gets from run_cell.
    from deepgnn import search as search_module

    real = search_module.search_many

    def fails_when_pooled(models, *args, **kw):
        if len(models) > 1:
            raise RuntimeError("CUDA out of memory (simulated)")
        return real(models, *args, **kw)

    monkeypatch.setattr(experiment, "search_many", fails_when_pooled)
    model = {"width": 8, "activation": "tanh"}
    train = {"epochs": 5, "patience": None, "lr": 0.01}
    specs = [
        experiment.CellSpec(
            "cora",
            "gcn",
            3,
            init="spoginit",
            seed=s,
            model=model,
            train=train,
            init_options={"n_trials": 3},
        )
        for s in (0, 1)
    ]
    together = experiment.run_cells(specs, device="cpu")
    for spec, cell in zip(specs, together):
        assert isinstance(cell, experiment.CellResult), cell
        alone = experiment.run_cell(spec, device="cpu")
        assert cell.row["test"] == pytest.approx(alone.row["test"], abs=1e-6)
        assert cell.row["init_seconds"] > 0
