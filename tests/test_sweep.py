from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import deepgnn
from deepgnn import experiment, sweep
from deepgnn.train import train_node, verdicts

ROOT = Path(__file__).resolve().parents[1]

TINY = """
name = "{name}"
seed = [0, 1]
curve_every = 1
max_retries = {retries}
heartbeat_interval = 1
grace_period = 5
record = ["final", "curves"]

[data]
name = "cora"

[model]
family = ["gcn", "resgcn"]
depth = [1, 2]
width = 16
activation = "tanh"

[train]
epochs = {epochs}
patience = "none"
{extra}
"""


def _write(tmp_path: Path, name: str, *, epochs: int = 15, retries: int = 1, extra: str = ""):
    path = tmp_path / f"{name}.toml"
    path.write_text(TINY.format(name=name, epochs=epochs, retries=retries, extra=extra))
    return path


def _complete_per_cell(config, out, storage=None) -> Counter:
    from optuna.trial import TrialState

    study = sweep.open_study(config, out=out, storage=storage)
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return Counter(t.user_attrs["cell_key"] for t in trials)


# ------------------------------------------------------------------------------ config
@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            "[model]\nname='gcn'\ndepth=2\nwidht=8\n",
            r"\[model\] has unknown key 'widht'.*did you mean 'width'",
        ),
        (
            "[model]\nname='gnc'\ndepth=2\n",
            r"\[model\] name='gnc' is not one of .*did you mean 'gcn'",
        ),
        ("[model]\nname='gcn'\ndepth=[2, 0]\n", r"\[model\] depth=0 is too small"),
        (
            "[model]\nname='gcn'\ndepth=2\nactivation='tahn'\n",
            r"\[model\] activation='tahn'.*'tanh'",
        ),
        ("[model]\nname='gcn'\ndepth=2\nheads=4\n", r"\[model\] heads is an option of \['gat'\]"),
        ("[model]\nname='gcn'\ndepth=2\n[train]\nlr=-1\n", r"\[train\] lr=-1"),
        (
            "[model]\nname='gcn'\ndepth=2\n[train]\ndrop_edge=1.5\n",
            r"\[train\] drop_edge=1.5; pass a drop probability in \[0, 1\)",
        ),
        (
            "[model]\nname='gcn'\ndepth=2\n[train]\nprecision='fp16'\n",
            r"\[train\] precision='fp16' is not one of \['bf16', 'fp32', 'tf32'\]",
        ),
        (
            "[model]\nname='gcn'\ndepth=2\n[train]\nepoch=5\n",
            r"\[train\] has unknown key 'epoch'.*'epochs'",
        ),
        ("[model]\nname='gcn'\ndepth=2\n[train]\nseed=5\n", r"seed is a top-level key"),
        (
            "recrod=['final']\n[model]\nname='gcn'\ndepth=2\n",
            r"top level has unknown key 'recrod'.*'record'",
        ),
        (
            "record=['curve']\n[model]\nname='gcn'\ndepth=2\n",
            r"record='curve' is not one of .*'curves'",
        ),
        ("[model]\nname='gcn'\ndepth=[2, 2]\n", r"\[model\] depth lists 2 twice"),
        (
            "[model]\nname='gcn'\ndepth=2\n[init]\nname='default'\n[init.xavier]\ngain=2.0\n",
            r"\[init.xavier\] gives options for 'xavier'",
        ),
        (
            "heartbeat_interval=10\ngrace_period=5\n[model]\nname='gcn'\ndepth=2\n",
            r"grace_period=5.0 must exceed",
        ),
        (
            "batch_cells='yes'\n[model]\nname='gcn'\ndepth=2\n",
            r"batch_cells='yes'; pass true .* or false",
        ),
        ("max_batch_cells=0\n[model]\nname='gcn'\ndepth=2\n", r"max_batch_cells=0 is too small"),
    ],
)
def test_config_errors_name_the_key_and_the_valid_values(tmp_path, text, match):
    path = tmp_path / "bad.toml"
    path.write_text(text + "\n[data]\nname='cora'\n")
    with pytest.raises(ValueError, match=match):
        sweep.load_config(path)


def test_config_unknown_dataset_and_missing_table(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[data]\nname='coras'\n[model]\nname='gcn'\ndepth=2\n")
    with pytest.raises(ValueError, match=r"bad.toml: \[data\] name='coras'.*did you mean 'cora'"):
        sweep.load_config(path)
    path.write_text("[data]\nname='cora'\n")
    with pytest.raises(ValueError, match=r"\[model\] needs family"):
        sweep.load_config(path)


def test_model_name_is_the_old_spelling_of_family_and_warns(tmp_path):
    new = sweep.load_config(_write(tmp_path, "fam"))
    old_path = tmp_path / "old.toml"
    old_path.write_text(_write(tmp_path, "fam").read_text().replace("family = [", "name = ["))
    with pytest.warns(FutureWarning, match=r"\[model\] name is the old spelling of family"):
        old = sweep.load_config(old_path)
    assert [c.key for c in old.cells()] == [c.key for c in new.cells()]


def test_cell_keys_are_stable_and_cover_every_setting(tmp_path):
    config = sweep.load_config(_write(tmp_path, "keys"))
    cells = config.cells()
    assert len(cells) == 2 * 2 * 2 and len({c.key for c in cells}) == 8
    assert [c.key for c in cells] == [
        c.key for c in sweep.load_config(tmp_path / "keys.toml").cells()
    ]
    longer = sweep.load_config(_write(tmp_path, "keys", epochs=16)).cells()
    assert not {c.key for c in cells} & {c.key for c in longer}
    # A family option on a family that does not take it collapses to one cell per family.
    path = tmp_path / "gat.toml"
    path.write_text("[data]\nname='cora'\n[model]\nname=['gcn','gat']\ndepth=2\nheads=[1,2]\n")
    cells = sweep.load_config(path).cells()
    assert sorted((c.family, c.model.get("heads")) for c in cells) == [
        ("gat", 1),
        ("gat", 2),
        ("gcn", None),
    ]


SPOG = """
[init]
name = ["xavier", "spoginit"]
[init.spoginit]
n_trials = 5
"""


def test_cell_key_changes_when_a_spoginit_default_changes(tmp_path, monkeypatch):
    from deepgnn import search

    path = _write(tmp_path, "spog", extra=SPOG.replace("[init]", "protocol = 'kipf'\n[init]"))
    before = {(c.family, c.init, c.depth, c.seed): c.key for c in sweep.load_config(path).cells()}
    monkeypatch.setitem(search.DEFAULT_WEIGHTS, "gcn", (1.0, 5.0, 1.0))
    after = {(c.family, c.init, c.depth, c.seed): c.key for c in sweep.load_config(path).cells()}
    changed = {k for k in before if before[k] != after[k]}
    # only the GCN's SPoGInit cells: the residual family's objective did not change
    assert changed == {k for k in before if k[:2] == ("gcn", "spoginit")} and len(changed) == 4


def test_cell_key_changes_when_a_protocol_table_changes(tmp_path, monkeypatch):
    from deepgnn.train import protocols

    path = _write(tmp_path, "proto", extra="protocol = 'spoginit-paper'")
    before = {c.key for c in sweep.load_config(path).cells()}
    monkeypatch.setattr(protocols, "_PAPER_BETAS", (0.9, 0.999))
    after = {c.key for c in sweep.load_config(path).cells()}
    assert len(before) == 8 and not before & after


def test_rows_carry_the_resolved_settings_of_their_cell(tmp_path):
    extra = SPOG + '[init.spoginit.resgcn]\nmethod = "zeroth_order_single"\nlr = 0.2\n'
    config = sweep.load_config(_write(tmp_path, "res", epochs=3, extra=extra))
    out = tmp_path / "out"
    sweep.run(config, out=out, workers=1, progress=False)
    rows = sweep.report(config, out=out).set_index("cell")
    by_key = {c.key: c for c in config.cells()}
    assert set(rows.index) == set(by_key)
    for key, row in rows.iterrows():
        spec = by_key[key].spec()
        assert json.loads(row["init_resolved"]) == experiment.resolve_cell(spec)["init"]
        assert json.loads(row["train_resolved"]) == experiment.resolve_cell(spec)["train"]
    res = rows[(rows["family"] == "resgcn") & (rows["init"] == "spoginit")]
    resolved = [json.loads(v) for v in res["init_resolved"]]
    assert {(r["method"], r["lr"], r["n_trials"], r["form"], r["state"]) for r in resolved} == {
        ("zeroth_order_single", 0.2, 5, "divide_stable", "hidden")
    }
    train_res = json.loads(rows["train_resolved"].iloc[0])
    assert (train_res["protocol"], train_res["lr"], train_res["epochs"]) == ("kipf", 0.01, 3)


def test_authors_gated_search_of_the_shipped_study_scales_only_alpha():
    """paper_planetoid's ``spoginit@authors`` on the gated ResGCN is the authors'
    ``zerosingle_initialization_gate``: the gates alpha move, nothing else does."""
    config = sweep.load_config(ROOT / "sweeps" / "paper_planetoid.toml")
    cell = next(
        c
        for c in config.cells()
        if (c.family, c.init, c.depth, c.dataset) == ("gated_resgcn", "spoginit@authors", 8, "cora")
    )
    options = {**cell.init_options, "n_trials": 30, "progress": False}
    assert (options["layers"], options["search_gates"]) == ("none", ["alpha"])
    ds = deepgnn.data.load("cora")
    model = experiment.build_model(ds, cell.family, cell.depth, seed=0, **cell.spec().model)
    deepgnn.init.xavier_(model, generator=torch.Generator().manual_seed(0))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    deepgnn.init.spoginit_(model, ds.graph, ds.x, ds.y, mask=ds.train_mask, base=None, **options)
    moved = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert moved and all(k.split(".")[-1] == "alpha" or ".alpha" in k for k in moved), moved
    assert not any("beta" in k for k in moved)


@pytest.mark.parametrize("name", ["depth_arxiv", "arxiv_sbm", "arxiv_sbm_full"])
def test_arxiv_studies_follow_the_authors_arxiv_run(name):
    """The arxiv studies train as Arxiv_run.py (spoginit-paper: 1000 epochs, Adam betas
    (0.9, 0.9995), no weight decay) and search the GCN's scales as it does: the zeroth-order
    ``zeroincrease_initialization`` on fresh random features and labels (generate_data=True);
    such a search of a real model really runs on random data (it never reads ``x``)."""
    config = sweep.load_config(ROOT / "sweeps" / f"{name}.toml")
    cells = config.cells()
    gcn = next(c for c in cells if (c.family, c.init) == ("gcn", "spoginit@authors"))
    assert gcn.resolved["init"]["data"] == "random"
    assert (gcn.resolved["init"]["method"], gcn.resolved["init"]["n_trials"]) == (
        "zeroth_order",
        160,
    )
    train = gcn.resolved["train"]
    assert (train["protocol"], train["epochs"], train["betas"], train["weight_decay"]) == (
        "spoginit-paper",
        1000,
        [0.9, 0.9995],
        0.0,
    )
    assert {c.family for c in cells} >= {"gcn", "rezero"} and {c.depth for c in cells} >= {
        4,
        16,
        64,
    }
    ds = deepgnn.data.load("cora")
    model = experiment.build_model(ds, "gcn", 4, seed=0, **gcn.spec().model)
    options = {**gcn.init_options, "n_trials": 8, "progress": False}
    nan = torch.full_like(ds.x, float("nan"))  # the search must not look at the features
    deepgnn.init.spoginit_(
        model, ds.graph, nan, ds.y, mask=ds.train_mask, base="kaiming", **options
    )
    assert all(torch.isfinite(w).all() for w in model.state_dict().values())


def test_curves_keep_every_tenth_epoch_and_the_best_gzipped(tmp_path):
    path = _write(tmp_path, "curves", epochs=25)
    path.write_text(path.read_text().replace("curve_every = 1\n", ""))  # the default
    config = sweep.load_config(path)
    assert config.curve_every == 10
    out = tmp_path / "out"
    sweep.run(config, out=out, workers=1, progress=False)
    rows = sweep.report(config, out=out).set_index("cell")
    for cell in config.cells():
        curve = pd.read_csv(out / "curves" / f"{cell.key}.csv.gz")
        best = int(rows.loc[cell.key, "best_epoch"])
        assert set(curve["epoch"]) == {1, 10, 20, 25, best}
        at_best = curve.set_index("epoch").loc[best]
        assert at_best["test"] == pytest.approx(rows.loc[cell.key, "test"], abs=1e-6)
        assert list(curve.columns[:5]) == ["epoch", "loss", "train", "val", "test"]


def test_stale_claims_are_found_by_dead_process_or_old_heartbeat(tmp_path):
    from optuna.distributions import IntDistribution
    from optuna.trial import TrialState, create_trial

    config = sweep.load_config(_write(tmp_path, "stale"))
    host, now = socket.gethostname(), time.time()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()

    def claim(**attrs):
        return create_trial(
            state=TrialState.RUNNING,
            params={"cell": 0},
            distributions={"cell": IntDistribution(0, 7)},
            user_attrs=attrs,
        )

    alive = claim(
        host=host, pid=os.getpid(), process=sweep.ledger.process_token(os.getpid()), heartbeat=now
    )
    assert not sweep.ledger.is_stale(alive, config, host, now)
    assert sweep.ledger.is_stale(claim(host=host, pid=dead.pid, heartbeat=now), config, host, now)
    remote = claim(host="elsewhere", pid=os.getpid(), heartbeat=now - 3)
    assert not sweep.ledger.is_stale(remote, config, host, now)
    assert sweep.ledger.is_stale(remote, config, host, now + config.grace_period)


def test_two_workers_reaping_the_same_stale_claim_both_go_on(tmp_path, monkeypatch):
    # before: the second worker to fail a stale claim raised "Trial#0 has already finished
    # and can not be updated", and the sweep exited 1 with every cell recorded
    import random

    from optuna.trial import TrialState

    config = sweep.load_config(_write(tmp_path, "reap"))
    out = tmp_path / "out"
    first = sweep.ledger.Ledger(config, out=out, write=True)
    second = sweep.ledger.Ledger(config, out=out, write=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    key = config.cells()[0].key
    first.study.enqueue_trial({"cell": 0}, user_attrs={"cell_key": key})
    trial = first.study.ask()
    for name, value in (("host", socket.gethostname()), ("pid", dead.pid)):
        trial.set_user_attr(name, value)
    # Both workers find the claim stale; the first fails it between the second's check that
    # it still runs and the second's write.
    seen = [t for s in second.states().values() for t in s.stale]
    assert [t.number for t in seen] == [trial.number]
    storage = second.study._storage
    write = storage.set_trial_state_values

    def first_reaps_then_write(*args, **kwargs):
        monkeypatch.setattr(storage, "set_trial_state_values", write)
        first._reap([t for s in first.states().values() for t in s.stale])
        return write(*args, **kwargs)

    monkeypatch.setattr(storage, "set_trial_state_values", first_reaps_then_write)
    second._reap(seen)
    claim = second.next_claim(random.Random(0), poll=0.01)
    assert claim is not None and claim.trial.number > trial.number
    assert first.study.trials[trial.number].state == TrialState.FAIL


def _worker_failing_after_its_cells(*args):
    """A sweep worker that runs its cells, then stops with an error (as one that lost a race
    for an already finished claim did)."""
    from deepgnn.sweep import runner

    runner._worker_main(*args)
    args[-1].put("Trial#5 has already finished and can not be updated.")
    raise SystemExit(1)


def test_sweep_with_every_cell_recorded_succeeds_though_a_worker_failed(tmp_path, monkeypatch):
    from deepgnn.sweep import runner

    path = _write(tmp_path, "lastfail", epochs=2)
    path.write_text(path.read_text().replace('family = ["gcn", "resgcn"]', 'family = ["gcn"]'))
    monkeypatch.setattr(runner, "_worker_main", _worker_failing_after_its_cells)
    state = sweep.run(path, workers=2, out=tmp_path / "out", progress=False)
    assert state.finished and (state.done, state.failed) == (4, 0)


# ---------------------------------------------------------------------------- runner
@pytest.fixture(scope="module")
def two_workers(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("two_workers")
    path = _write(tmp, "tiny")
    out = tmp / "out"
    state = sweep.run(path, workers=2, out=out, progress=False)
    return sweep.load_config(path), out, state


def test_two_worker_processes_run_every_cell_exactly_once(two_workers):
    config, out, state = two_workers
    keys = {c.key for c in config.cells()}
    assert state.finished and (state.done, state.failed, state.total) == (8, 0, 8)
    assert _complete_per_cell(config, out) == Counter({k: 1 for k in keys})
    study = sweep.open_study(config, out=out)
    workers = {t.user_attrs.get("pid") for t in study.get_trials() if "pid" in t.user_attrs}
    assert os.getpid() not in workers and 1 <= len(workers) <= 2
    curves = (out / "curves").glob("*.csv.gz")
    assert sorted(p.name.removesuffix(".csv.gz") for p in curves) == sorted(keys)
    # Resuming a finished sweep runs nothing.
    assert sweep.run(config, out=out, progress=False) == state


def test_cell_row_matches_a_direct_training_run(two_workers):
    config, out, _ = two_workers
    df = sweep.report(config, out=out)
    cell = next(c for c in config.cells() if c.family == "resgcn" and c.depth == 2 and c.seed == 1)
    row = df.set_index("cell").loc[cell.key]
    ds = deepgnn.data.load("cora")
    model = deepgnn.build("resgcn", ds.num_features, ds.num_classes, 2, width=16, seed=1)
    direct = train_node(model, ds, epochs=15, patience=None, seed=1, device="cpu")
    assert row["status"] == "ok" and row["epochs"] == 15 and row["max_epochs"] == 15
    assert row["test"] == pytest.approx(direct.test, abs=0.01)
    assert row["val"] == pytest.approx(direct.val, abs=0.01)
    curve = pd.read_csv(out / "curves" / f"{cell.key}.csv.gz")
    assert list(curve["epoch"]) == list(range(1, 16))
    assert curve["val"].max() == pytest.approx(row["val"])
    assert row["torch_version"] == torch.__version__ and row["device"] == "cpu"


def test_report_writes_one_row_per_cell_a_bold_summary_and_plots(two_workers):
    config, out, _ = two_workers
    df = sweep.report(config, out=out)
    csv = pd.read_csv(out / "results.csv")
    assert len(csv) == 8 and csv["cell"].is_unique and set(csv["status"]) == {"ok"}
    summary = (out / "summary.md").read_text()
    assert "8 of 8 cells recorded" in summary
    judged = verdicts(df)
    for family in ("gcn", "resgcn"):
        for depth in (1, 2):
            sub = judged[(judged.family == family) & (judged.depth == depth)]
            counted = sub[sub["counts"]]["test"]
            if len(counted) == 2:  # the one init of its row: bold
                expected = f"| {depth} | **{counted.mean():.4f} ± {counted.std():.4f}** |"
            elif len(counted) == 1:
                expected = f"| {depth} | **{counted.mean():.4f} (n=1, "
            else:  # no mean to bold; the seeds' mean test value and why none counts
                expected = f"| {depth} | no seed counts (test {sub['test'].mean():.4f}; "
            section = summary.split(f"family={family}")[1].split("##")[0]
            assert expected in section
    png = (out / "cora_test_vs_depth.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.glob(".*.tmp"))


def test_summary_names_each_datasets_own_metric(two_workers):
    # before: a sweep over an accuracy and a ROC-AUC dataset headed every table with the first
    # dataset's metric ("Test rocauc" over actor's accuracies)
    from deepgnn.sweep.report import _summary_md

    config, out, _ = two_workers
    df = sweep.report(config, out=out)
    other = df.assign(dataset="minesweeper", metric="rocauc")
    summary = _summary_md(config, pd.concat([other, df], ignore_index=True), 16)
    roc = summary.split("dataset=minesweeper, family=gcn")[1].split("##")[0]
    acc = summary.split("dataset=cora, family=gcn")[1].split("##")[0]
    assert "Test rocauc:" in roc and "Training rocauc" in roc and "accuracy" not in roc
    assert "Test accuracy:" in acc and "Training accuracy" in acc and "rocauc" not in acc
    assert "Entries: test metric at the epoch" in summary


def test_report_keeps_optunas_info_lines_quiet_and_its_level_as_it_was(two_workers):
    import logging

    import optuna

    config, out, _ = two_workers
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("optuna")
    logger.addHandler(handler)
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.INFO)
    try:
        sweep.report(config, out=out)
        assert optuna.logging.get_verbosity() == optuna.logging.INFO
    finally:
        logger.removeHandler(handler)
        optuna.logging.set_verbosity(level)
    assert not [r for r in records if "existing study" in r.getMessage()]


def test_failing_cell_is_recorded_with_its_error_and_the_sweep_goes_on(tmp_path):
    # texas.npz is corrupt: its cells raise (bad data), cora's train.
    root = tmp_path / "data"
    root.mkdir()
    (root / "texas.npz").write_bytes(b"not a zip file")
    path = _write(tmp_path, "failing", epochs=3, retries=1)
    text = path.read_text().replace('name = "cora"', f'name = ["cora", "texas"]\nroot = "{root}"')
    path.write_text(text)
    config = sweep.load_config(path)
    state = sweep.run(config, out=tmp_path / "out", progress=False)
    assert (state.total, state.done, state.failed, state.left) == (16, 8, 8, 0)
    study = sweep.open_study(config, out=tmp_path / "out")
    errors = Counter(
        t.user_attrs["cell_key"] for t in study.get_trials() if "error" in t.user_attrs
    )
    assert len(errors) == 8 and set(errors.values()) == {2}  # first try + max_retries=1
    df = sweep.report(config, out=tmp_path / "out")
    failed = df[df["status"] == "failed"]
    assert len(df) == 16 and set(failed["dataset"]) == {"texas"}
    assert set(df[df.status == "ok"]["dataset"]) == {"cora"}
    assert failed["error"].str.contains("texas.npz is truncated or corrupt").all()
    assert (failed["attempt"] == 2).all()
    assert "(2 failed)" in (tmp_path / "out" / "summary.md").read_text()


def _cli(*args: str, **kw) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, "-m", "deepgnn", "sweep", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kw,
    )


@pytest.mark.parametrize("batch", [True, False], ids=["batched", "alone"])
def test_sweep_resumes_after_sigkill_without_duplicates(tmp_path, batch):
    from optuna.trial import TrialState

    path = _write(tmp_path, "killed", epochs=20, retries=0)
    path.write_text(f"batch_cells = {str(batch).lower()}\n" + path.read_text())
    config, out = sweep.load_config(path), tmp_path / "out"
    args = [str(path), "--out", str(out), "--workers", "2", "--no-progress"]
    # A session of its own: SIGKILL reaches the command and both workers, as in a crash.
    proc = _cli("run", *args, start_new_session=True)
    deadline = time.time() + 120
    running = []
    while time.time() < deadline and len(running) < 2 and proc.poll() is None:
        time.sleep(0.2)
        if (out / "sweep.journal").exists():
            trials = sweep.open_study(config, out=out).get_trials(states=(TrialState.RUNNING,))
            running = [t for t in trials if "pid" in t.user_attrs]
    # two workers, each holding one cell, or (batched) the two seeds of one group
    assert len(running) in ((2, 4) if batch else (2,)), proc.communicate()[0]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    # SIGKILL reaches the workers asynchronously: wait until they are gone (or zombies).
    workers = [(int(t.user_attrs["pid"]), t.user_attrs.get("process")) for t in running]
    deadline = time.time() + 30
    while time.time() < deadline and any(sweep.ledger.process_alive(*w) for w in workers):
        time.sleep(0.1)
    study = sweep.open_study(config, out=out)
    left_running = study.get_trials(states=(TrialState.RUNNING,))
    killed = [t.number for t in left_running]
    assert killed, "the killed cells should be left RUNNING in the journal"
    # A claim killed between its ask and the write of its pid (a batched worker claiming a
    # group mate) looks like one a live worker is still setting up: the ledger counts it as
    # running until its heartbeat is grace_period old. Wait that out, then check.
    if any("pid" not in t.user_attrs for t in left_running):
        newest = max(t.datetime_start.timestamp() for t in left_running)
        time.sleep(max(0.0, newest + config.grace_period + 1.0 - time.time()))
    before = sweep.status(config, out=out)
    assert before.running == 0 and before.left >= 2 and not before.finished

    rerun = _cli("run", *args)
    log_text = rerun.communicate(timeout=240)[0]
    assert rerun.returncode == 0, log_text
    assert "8/8 done, 0 running, 0 failed, 0 left" in log_text
    assert _complete_per_cell(config, out) == Counter({c.key: 1 for c in config.cells()})
    study = sweep.open_study(config, out=out)
    assert all(study.trials[n].state == TrialState.FAIL for n in killed)
    assert str(sweep.status(config, out=out)) == "8/8 done, 0 running, 0 failed, 0 left"
    df = sweep.report(config, out=out)
    assert len(df) == 8 and df["cell"].is_unique


# ---------------------------------------------------------------------- batched cells
def _batched_and_alone(tmp_path, name, extra=""):
    """The same sweep run batched and cell by cell (one in-process worker each)."""
    tables = {}
    for batch in (True, False):
        path = _write(tmp_path, f"{name}_{batch}", epochs=15, extra=extra)
        path.write_text(f"batch_cells = {str(batch).lower()}\n" + path.read_text())
        out = tmp_path / f"out_{batch}"
        state = sweep.run(path, out=out, progress=False)
        assert state.finished and state.failed == 0
        sweep.report(path, out=out)
        tables[batch] = (pd.read_csv(out / "results.csv").set_index("cell"), out)
    return tables


def test_batched_and_unbatched_sweeps_record_the_same_results(tmp_path):
    # Dropout 0.5: every cell's masks come from its own seed, batched or not.
    tables = _batched_and_alone(tmp_path, "same", extra="dropout = 0.5")
    (batched, out_b), (alone, out_a) = tables[True], tables[False]
    assert sorted(batched.index) == sorted(alone.index)  # grouping does not change cell keys
    alone = alone.loc[batched.index]
    assert set(batched["group_size"]) == {2} and set(alone["group_size"]) == {1}
    for column in ("best_epoch", "epochs", "status", "fitted", "untrained", "budget_limited"):
        assert list(batched[column]) == list(alone[column]), column
    for column in ("test", "val", "train", "best_train"):
        assert np.allclose(batched[column], alone[column], rtol=0, atol=1e-6), column
    for cell in batched.index:
        b = pd.read_csv(out_b / "curves" / f"{cell}.csv.gz")
        a = pd.read_csv(out_a / "curves" / f"{cell}.csv.gz")
        assert list(b["epoch"]) == list(a["epoch"])
        assert np.allclose(b["loss"], a["loss"], rtol=1e-4), cell


def test_a_killed_group_resumes_only_its_unfinished_members(tmp_path):
    from optuna.trial import TrialState

    from deepgnn.sweep import runner

    path = _write(tmp_path, "group", epochs=5, retries=0)
    path.write_text(path.read_text().replace("seed = [0, 1]", "seed = [0, 1, 2]"))
    config, out = sweep.load_config(path), tmp_path / "out"
    ledger = sweep.ledger.Ledger(config, out=out, write=True)
    rng = __import__("random").Random(0)
    claims = ledger.next_group(rng, poll=0.1, group_of=runner._grouper(), limit=3)
    assert len(claims) == 3 and len({(c.cell.family, c.cell.depth) for c in claims}) == 1
    outcomes = experiment.run_cells([c.cell.spec() for c in claims], device="cpu")
    # The worker records its first member, then dies: the others' claims are lost.
    ledger.record(claims[0], {**outcomes[0].row, "cell": claims[0].cell.key}, None)
    study = sweep.open_study(config, out=out)
    for c in claims[1:]:
        study.tell(c.trial.number, state=TrialState.FAIL)
    state = sweep.run(config, out=out, progress=False)
    assert state.finished and state.done == 12
    assert _complete_per_cell(config, out) == Counter({c.key: 1 for c in config.cells()})
    tries = Counter(t.user_attrs.get("cell_key") for t in sweep.open_study(config, out=out).trials)
    assert tries[claims[0].cell.key] == 1  # recorded before the kill: not run again
    assert all(tries[c.cell.key] == 2 for c in claims[1:])  # the lost claim and the rerun


def test_a_member_that_fails_is_recorded_and_its_group_trains_on(tmp_path, monkeypatch):
    build = experiment.build_model

    def failing(dataset, family, depth, *, seed, **options):
        if seed == 1:
            raise ValueError("seed 1 cannot be built")
        return build(dataset, family, depth, seed=seed, **options)

    monkeypatch.setattr(experiment, "build_model", failing)
    path = _write(tmp_path, "member", epochs=5, retries=0)
    path.write_text(path.read_text().replace("seed = [0, 1]", "seed = [0, 1, 2]"))
    config, out = sweep.load_config(path), tmp_path / "out"
    state = sweep.run(config, out=out, progress=False)
    assert (state.done, state.failed) == (8, 4)
    df = sweep.report(config, out=out)
    failed = df[df["status"] == "failed"]
    assert set(failed["seed"]) == {1} and failed["error"].str.contains("seed 1 cannot").all()
    assert set(df[df["status"] == "ok"]["group_size"]) == {2}  # seeds 0 and 2 together


# ------------------------------------------------------------------------- PostgreSQL
def _postgres_bin() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(dirs[-1]).parent if dirs else None


@pytest.fixture(scope="module")
def postgres_url():
    """A throw-away PostgreSQL server on 127.0.0.1 (a random port), or a skip saying why."""
    required = os.environ.get("DEEPGNN_REQUIRE_POSTGRES") == "1"

    def unavailable(reason: str):
        reason = (
            f"PostgreSQL server could not be started: {reason}; `make test-postgres` installs it"
        )
        pytest.fail(reason) if required else pytest.skip(reason)

    try:
        import psycopg2  # noqa: F401
    except ImportError:
        unavailable("psycopg2 is missing (pip install psycopg2-binary)")
    bindir = _postgres_bin()
    if bindir is None:
        unavailable("no initdb found on PATH or in /usr/lib/postgresql/*/bin")
    run_as: dict = {}
    root = tempfile.mkdtemp(prefix="deepgnn-pg-")
    if os.geteuid() == 0:  # initdb refuses to run as root: use the postgres (or nobody) user
        import pwd

        for name in ("postgres", "nobody"):
            try:
                user = pwd.getpwnam(name)
            except KeyError:
                continue
            os.chown(root, user.pw_uid, user.pw_gid)
            run_as = {"user": user.pw_uid, "group": user.pw_gid}
            break
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = os.path.join(root, "data")
    pg_log = os.path.join(root, "server.log")

    def pg(*cmd: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(bindir / cmd[0]), *cmd[1:]], capture_output=True, text=True, timeout=120, **run_as
        )

    steps = [
        ("initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"),
        (
            "pg_ctl",
            "-D",
            data,
            "-l",
            pg_log,
            "-w",
            "-o",
            f"-h 127.0.0.1 -p {port} -k {root} -F",
            "start",
        ),
        ("createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "deepgnn"),
    ]
    try:
        for step in steps:
            done = pg(*step)
            if done.returncode != 0:
                tail = done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]
                unavailable(f"{step[0]} failed: {tail[0]}")
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/deepgnn"
    finally:
        if os.path.exists(os.path.join(data, "postmaster.pid")):
            pg("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.postgres
def test_two_workers_on_postgres_run_every_cell_exactly_once(tmp_path, postgres_url):
    path = _write(tmp_path, "on_postgres", epochs=5)
    config, out = sweep.load_config(path), tmp_path / "out"
    state = sweep.run(config, workers=2, storage=postgres_url, out=out, progress=False)
    assert state.finished and state.done == 8
    assert not (out / "sweep.journal").exists()
    counts = _complete_per_cell(config, out, storage=postgres_url)
    assert counts == Counter({c.key: 1 for c in config.cells()})
    df = sweep.report(config, storage=postgres_url, out=out)
    assert len(df) == 8 and df["cell"].is_unique and set(df["status"]) == {"ok"}


# ------------------------------------------------------------------- shipped configs, CLI
@pytest.mark.parametrize("path", sorted((ROOT / "sweeps").glob("*.toml")), ids=lambda p: p.name)
def test_shipped_sweep_configs_load(path):
    text = path.read_text()
    if "signal_" in text:
        pytest.importorskip("deepgnn.signal", reason="this sweep records the signal summary")
    if "[init." in text:
        pytest.importorskip("deepgnn.init", reason="this sweep uses named initializations")
    config = sweep.load_config(path)
    # named after its file, or extending another committed study (same name, same journal)
    extends = config.name != path.stem and (ROOT / "sweeps" / f"{config.name}.toml").exists()
    assert (config.name == path.stem or extends) and len(config.cells()) >= 2


def test_cli_status_and_report(two_workers, capsys):
    from deepgnn.cli import main

    config, out, _ = two_workers
    assert main(["sweep", "status", config.source, "--out", str(out)]) == 0
    assert "8/8 done, 0 running, 0 failed, 0 left" in capsys.readouterr().out
    assert main(["sweep", "report", config.source, "--out", str(out)]) == 0
    assert "8 rows" in capsys.readouterr().out
    assert main(["sweep", "run", config.source, "--devices", "cuda:7", "--out", str(out)]) == 2
    assert "devices contains 'cuda:7'" in capsys.readouterr().err


def test_report_latex_writes_summary_tables_as_booktabs(two_workers, tmp_path, capsys):
    # before: deepgnn sweep report had markdown and CSV only
    from deepgnn.cli import main

    config, out, _ = _copy_sweep(two_workers, tmp_path)
    assert main(["sweep", "report", config.source, "--out", str(out), "--latex"]) == 0
    assert "summary.tex" in capsys.readouterr().out
    tex = (out / "summary.tex").read_text()
    md = (out / "summary.md").read_text()
    n_tables = md.count("|---:|")
    assert n_tables >= 4 and tex.count(r"\begin{tabular}") == n_tables
    assert tex.count(r"\toprule") == tex.count(r"\midrule") == tex.count(r"\bottomrule")
    # the numbers are the summary's: the first bold entry of each, in the same order
    bold_md = re.findall(r"\*\*([0-9.]+) ± ([0-9.]+)\*\*", md)
    bold_tex = re.findall(r"\\textbf\{([0-9.]+) \$\\pm\$ ([0-9.]+)\}", tex)
    assert bold_md and bold_tex == bold_md
    assert "family=gcn" in tex and "±" not in tex and "_" not in tex.replace(r"\_", "")


def test_named_init_with_signal_summary_at_init_matches_a_direct_analysis(tmp_path):
    inits = pytest.importorskip("deepgnn.init", reason="deepgnn.init is not available")
    signal_mod = pytest.importorskip("deepgnn.signal", reason="deepgnn.signal is not available")
    path = _write(tmp_path, "xavier", epochs=2)
    text = path.read_text().replace(
        'record = ["final", "curves"]', 'record = ["final", "signal_init"]'
    )
    text = text.replace("[train]", '[init]\nname = "xavier"\n\n[train]')
    path.write_text(text)
    plain_keys = [c.key for c in sweep.load_config(path).cells()]
    path.write_text('measures = ["dirichlet"]\n' + text)
    config = sweep.load_config(path)
    assert config.measures == ("dirichlet",)
    assert [c.key for c in config.cells()] == plain_keys  # measures do not change a cell
    sweep.run(config, out=tmp_path / "out", progress=False)
    df = sweep.report(config, out=tmp_path / "out").set_index("cell")
    cell = next(c for c in config.cells() if c.family == "gcn" and c.depth == 2 and c.seed == 1)
    ds = deepgnn.data.load("cora")
    model = deepgnn.build("gcn", ds.num_features, ds.num_classes, 2, width=16, seed=1)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        inits.init_(model, "xavier", graph=ds.graph, x=ds.x)
    summary = signal_mod.analyze(
        model, ds.graph, ds.x, ds.y, mask=ds.train_mask, seed=1, measures=("dirichlet",)
    ).attrs["summary"]
    row = df.loc[cell.key]
    assert row["init"] == "xavier" and row["status"] == "ok"
    assert row["sp_init_fsp"] == pytest.approx(summary["fsp"], rel=1e-5)
    assert row["sp_init_gev"] == pytest.approx(summary["gev"], rel=1e-5)
    assert row["sp_init_dirichlet"] == pytest.approx(summary["dirichlet"], rel=1e-5)
    assert "sp_init_mad_edges" not in df  # only the measures asked for
    assert (tmp_path / "out" / "cora_signal_vs_depth.png").exists()
    table = (tmp_path / "out" / "correlations.md").read_text()
    assert "## cora, gcn" in table and "| Dirichlet energy |" in table


def test_measures_need_a_signal_record_and_known_names(tmp_path):
    path = _write(tmp_path, "m", epochs=2)
    text = path.read_text()
    path.write_text('measures = ["dirichlet"]\n' + text)
    with pytest.raises(ValueError, match=r"add 'signal_init' \(or 'signal_final'\) to record"):
        sweep.load_config(path)
    text = text.replace('record = ["final", "curves"]', 'record = ["signal_init"]')
    path.write_text('measures = ["dirichlett"]\n' + text)
    with pytest.raises(ValueError, match=r"measures='dirichlett' is not one of .*'dirichlet'"):
        sweep.load_config(path)


def test_spoginit_cell_takes_search_options_from_the_config(tmp_path):
    pytest.importorskip("deepgnn.search", reason="deepgnn.search is not available")
    path = _write(tmp_path, "spog", epochs=2)
    text = path.read_text().replace(
        "[train]",
        '[init]\nname = "spoginit"\n\n[init.spoginit]\nn_trials = 3\nprogress = false\n\n[train]',
    )
    path.write_text(text)
    config = sweep.load_config(path)
    assert config.cells()[0].init_options == {"n_trials": 3, "progress": False}
    bad = path.read_text().replace("n_trials = 3", "n_trial = 3")
    path.write_text(bad)
    with pytest.raises(ValueError, match=r"\[init.spoginit\] has unknown key 'n_trial'"):
        sweep.load_config(path)
    path.write_text(text)
    sweep.run(sweep.load_config(path), out=tmp_path / "out", progress=False)
    df = sweep.report(sweep.load_config(path), out=tmp_path / "out")
    assert set(df["status"]) == {"ok"} and set(df["init"]) == {"spoginit"}


# ------------------------------------------------ per-family settings, seed-paired splits
def test_family_table_overrides_model_settings_and_inits_follow_the_activation(tmp_path):
    inits = pytest.importorskip("deepgnn.init", reason="deepgnn.init is not available")
    path = _write(tmp_path, "fam", epochs=2)
    text = path.read_text().replace('activation = "tanh"', 'activation = "relu"')
    text = text.replace(
        "[train]", '[model.gcn]\nactivation = "tanh"\n\n[init]\nname = "kaiming"\n\n[train]'
    )
    path.write_text(text)
    config = sweep.load_config(path)
    acts = {(c.family, c.model["activation"]) for c in config.cells()}
    assert acts == {("gcn", "tanh"), ("resgcn", "relu")}
    assert config.axes()["activation"] == ["relu", "tanh"]
    sweep.run(config, out=tmp_path / "out", progress=False)
    df = sweep.report(config, out=tmp_path / "out").set_index("cell")
    assert set(df["status"]) == {"ok"}
    assert (
        "## dataset=cora, family=gcn, activation=tanh"
        in (tmp_path / "out" / "summary.md").read_text()
    )
    # The gcn cell's Kaiming used tanh's gain: the same model built and trained directly.
    cell = next(c for c in config.cells() if c.family == "gcn" and c.depth == 2 and c.seed == 1)
    ds = deepgnn.data.load("cora")
    model = deepgnn.build(
        "gcn", ds.num_features, ds.num_classes, 2, width=16, activation="tanh", seed=1
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        inits.init_(model, "kaiming", nonlinearity="tanh")
    result = train_node(model, ds, epochs=2, patience=None, device="cpu", seed=1)
    assert df.loc[cell.key, "test"] == pytest.approx(result.test)
    assert df.loc[cell.key, "val"] == pytest.approx(result.val)

    for bad, match in (
        ("[model.gat]\nheads = 2\n\n[train]", r"\[model.gat\] overrides settings of family 'gat'"),
        ("[model.gcn]\nalpha = 0.5\n\n[train]", r"\[model.gcn\] has unknown key 'alpha'"),
        ('[model.gcn]\nactivation = "swish"\n\n[train]', r"\[model.gcn\] activation"),
    ):
        path.write_text(_write(tmp_path, "fam2", epochs=2).read_text().replace("[train]", bad))
        with pytest.raises(ValueError, match=match):
            sweep.load_config(path)


def test_split_seed_pairs_each_seed_with_its_split(tmp_path, monkeypatch):
    from deepgnn.data import csbm

    ds = csbm(num_nodes=300, avg_degree=6, num_classes=3, num_features=8, num_splits=3, seed=0)
    monkeypatch.setitem(experiment._DATASETS, ("csbm", "{}", None, "cpu"), ds)
    path = _write(tmp_path, "splits", epochs=3)
    text = path.read_text().replace('name = "cora"', 'name = "csbm"')
    text = text.replace('family = ["gcn", "resgcn"]', 'family = ["gcn"]').replace("[1, 2]", "[2]")
    text = text.replace("seed = [0, 1]", "seed = [0, 1, 4]")
    path.write_text(text.replace("[train]", '[train]\nsplit = "seed"'))
    config = sweep.load_config(path)
    sweep.run(config, out=tmp_path / "out", progress=False)
    df = sweep.report(config, out=tmp_path / "out").set_index("seed")
    assert df["split"].astype(int).to_dict() == {0: 0, 1: 1, 4: 1}  # 4 mod 3 splits
    model = deepgnn.build("gcn", 8, 3, 2, width=16, activation="tanh", seed=1)
    direct = train_node(model, ds, split=1, epochs=3, patience=None, device="cpu", seed=1)
    assert df.loc[1, "test"] == pytest.approx(direct.test)
    path.write_text(text.replace("[train]", '[train]\nsplit = "seeds"'))
    with pytest.raises(ValueError, match=r"split='seeds'; pass a split index .* split = \"seed\""):
        sweep.load_config(path)


def test_init_options_per_family(tmp_path):
    pytest.importorskip("deepgnn.search", reason="deepgnn.search is not available")
    path = _write(tmp_path, "spogfam", epochs=2)
    text = path.read_text().replace(
        "[train]",
        '[init]\nname = "spoginit"\n\n[init.spoginit]\nn_trials = 3\n\n'
        '[init.spoginit.resgcn]\nform = "divide_stable"\nweights = [1.0, 1.0, 1.0]\n\n[train]',
    )
    path.write_text(text)
    config = sweep.load_config(path)
    options = {c.family: c.init_options for c in config.cells()}
    assert options == {
        "gcn": {"n_trials": 3},
        "resgcn": {"n_trials": 3, "form": "divide_stable", "weights": [1.0, 1.0, 1.0]},
    }
    for bad, match in (
        ("[init.spoginit.gat]", r"\[init.spoginit.gat\] gives options for family 'gat'"),
        ("[init.spoginit.resnet]", r"\[init.spoginit.resnet\] \(a model family\)"),
    ):
        path.write_text(text.replace("[init.spoginit.resgcn]", bad))
        with pytest.raises(ValueError, match=match):
            sweep.load_config(path)
    path.write_text(text.replace('form = "divide_stable"', 'forms = "divide_stable"'))
    with pytest.raises(ValueError, match=r"\[init.spoginit.resgcn\] has unknown key 'forms'"):
        sweep.load_config(path)


def test_spoginit_settings_are_checked_against_the_method_on_load(tmp_path):
    path = _write(tmp_path, "spogbad", epochs=2)
    text = path.read_text().replace(
        "[train]",
        '[init]\nname = "spoginit"\n\n[init.spoginit]\nmethod = "gradient"\nstorage = "x.log"\n\n'
        "[train]",
    )
    path.write_text(text)
    with pytest.raises(ValueError, match=r"\[init.spoginit\] \(family 'gcn'\).*does not take"):
        sweep.load_config(path)


# ------------------------------------------------------------------------------- tuning
TUNE = """
[tune]
n_trials = 3
lr = [1e-3, 5e-2]
dropout = [0.0, 0.5]
epochs = {epochs}
"""


def _tuning_trials(config, out) -> dict[str, Counter]:
    import optuna

    storage = sweep.ledger.storage_for(config, None, Path(out))
    counts = {}
    for summary in optuna.get_all_study_summaries(storage):
        if summary.study_name.startswith(f"{config.name}.tune."):
            study = optuna.load_study(study_name=summary.study_name, storage=storage)
            counts[summary.study_name] = Counter(t.state.name for t in study.trials)
    return counts


def test_tuned_sweep_tunes_each_group_then_trains_its_cells_with_the_best_setting(tmp_path):
    path = _write(tmp_path, "tuned", epochs=6, extra=TUNE.format(epochs=6))
    text = path.read_text().replace("seed = [0, 1]", "seed = [0]").replace("[1, 2]", "[2]")
    path.write_text(text)
    config = sweep.load_config(path)
    units = config.units()
    assert [type(u).__name__ for u in units] == ["TuneUnit", "TuneUnit", "Cell", "Cell"]
    assert {c.tune_key for c in config.cells()} == {u.key for u in units[:2]}
    state = sweep.run(config, out=tmp_path / "out", progress=False)
    assert state.finished and state.done == 4
    counts = _tuning_trials(config, tmp_path / "out")
    assert len(counts) == 2
    assert all(c["COMPLETE"] + c["PRUNED"] == 3 and not c["RUNNING"] for c in counts.values())
    df = sweep.report(config, out=tmp_path / "out")
    assert len(df) == 2 and df["tuned_lr"].between(1e-3, 5e-2).all()
    assert df["tuned_dropout"].between(0.0, 0.5).all()
    # the cell trained with its group's best setting: a direct run gives its numbers
    row = df.iloc[0]
    model = deepgnn.build(row["family"], 1433, 7, 2, width=16, activation="tanh", seed=0)
    direct = train_node(
        model,
        deepgnn.data.load("cora"),
        epochs=6,
        patience=None,
        lr=row["tuned_lr"],
        dropout=row["tuned_dropout"],
        device="cpu",
        seed=0,
    )
    assert row["test"] == pytest.approx(direct.test)
    assert "Tuned settings" in (tmp_path / "out" / "summary.md").read_text()


def test_a_tuning_unit_searches_spoginit_once_for_all_its_trials(tmp_path, monkeypatch):
    # The trials of a unit differ only in their training settings: one search serves them
    # all; the unit's cells (other seeds) search afresh after it.
    from deepgnn import init

    calls = []
    real = init.spoginit_

    def counted(model, *args, **kw):
        calls.append(kw.get("seed"))
        return real(model, *args, **kw)

    monkeypatch.setattr(init, "spoginit_", counted)
    extra = '[init]\nname = "spoginit"\n[init.spoginit]\nn_trials = 3\n' + TUNE.format(epochs=4)
    path = _write(tmp_path, "tuned_spog", epochs=4, extra=extra)
    text = path.read_text().replace('family = ["gcn", "resgcn"]', 'family = "gcn"')
    path.write_text("batch_cells = false\n" + text.replace("depth = [1, 2]", "depth = 2"))
    config = sweep.load_config(path)
    assert [type(u).__name__ for u in config.units()] == ["TuneUnit", "Cell", "Cell"]
    state = sweep.run(config, out=tmp_path / "out", progress=False)
    assert state.finished and state.done == 3  # the unit and its two cells
    counts = _tuning_trials(config, tmp_path / "out")
    assert sum(c["COMPLETE"] + c["PRUNED"] for c in counts.values()) == 3
    # one search for the unit's 3 trials (seed 0), then one per cell (seeds 0 and 1)
    assert sorted(calls) == [0, 0, 1]
    with experiment.reuse_searches():
        pass
    assert experiment._SEARCHED is None  # the cache lives only within the context


def test_tuned_sweep_resumes_after_sigkill_mid_tuning_with_every_trial_once(tmp_path):
    from optuna.trial import TrialState

    path = _write(tmp_path, "tunekill", epochs=60, retries=0, extra=TUNE.format(epochs=60))
    text = path.read_text().replace("seed = [0, 1]", "seed = [0]").replace("[1, 2]", "[4]")
    path.write_text(text)
    config, out = sweep.load_config(path), tmp_path / "out"
    args = [str(path), "--out", str(out), "--workers", "1", "--no-progress"]
    proc = _cli("run", *args, start_new_session=True)
    deadline = time.time() + 120
    running = False
    while time.time() < deadline and not running and proc.poll() is None:
        time.sleep(0.2)
        if (out / "sweep.journal").exists():
            running = any(c["RUNNING"] for c in _tuning_trials(config, out).values())
    assert running, proc.communicate()[0]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _tuning_trials(config, out)
    assert sum(c["RUNNING"] for c in before.values()) == 1  # the killed trial

    rerun = _cli("run", *args)
    log_text = rerun.communicate(timeout=300)[0]
    assert rerun.returncode == 0, log_text
    after = _tuning_trials(config, out)
    assert len(after) == 2
    for counts in after.values():
        assert counts["COMPLETE"] + counts["PRUNED"] == 3 and not counts["RUNNING"]
    assert sum(c["FAIL"] for c in after.values()) == 1  # the killed trial, failed, not counted
    assert _complete_per_cell(config, out) == Counter({u.key: 1 for u in config.units()})
    study = sweep.open_study(config, out=out)
    assert not study.get_trials(states=(TrialState.RUNNING,))
    df = sweep.report(config, out=out)
    assert len(df) == 2 and df["cell"].is_unique and df["tuned_lr"].notna().all()


@pytest.mark.parametrize(
    ("tune", "match"),
    [
        ("[tune]\nn_trials = 3\n", r"\[tune\] names no setting to tune"),
        ("[tune]\nlr = [0.1, 0.01]\n", r"\[tune\] lr=\[0.1, 0.01\] needs 0 < low < high"),
        ("[tune]\nlr = 0.01\n", r"\[tune\] lr must be two numbers"),
        ("[tune]\ndropout = [0.0, 1.5]\n", r"dropout=\[0.0, 1.5\] must lie in \[0, 1\)"),
        ("[tune]\nlr = [1e-4, 1e-1]\nprune = 'median'\n", r"\[tune\] has unknown key 'prune'"),
    ],
)
def test_tune_table_errors_name_the_key(tmp_path, tune, match):
    path = _write(tmp_path, "badtune", extra=tune)
    with pytest.raises(ValueError, match=match):
        sweep.load_config(path)


def test_init_variants_run_one_scheme_with_two_option_tables(tmp_path):
    path = _write(tmp_path, "variants", epochs=2)
    text = path.read_text().replace(
        "[train]",
        '[init]\nname = ["xavier", "xavier@normal"]\n\n[init."xavier@normal"]\n'
        'distribution = "normal"\n\n[train]',
    )
    path.write_text(text)
    config = sweep.load_config(path)
    by_init = {c.init: c for c in config.cells() if c.family == "gcn" and c.seed == 0}
    assert by_init["xavier@normal"].spec().init == "xavier"
    assert by_init["xavier@normal"].init_options == {"distribution": "normal"}
    assert by_init["xavier"].init_options == {}
    path.write_text(text.replace('"xavier@normal"]', '"xavier@"]'))
    with pytest.raises(ValueError, match="a variant is <scheme>@<label>"):
        sweep.load_config(path)


# ------------------------------------------- journal damage, read-only readers, retries, checks
def _copy_sweep(two_workers, tmp_path: Path):
    config, out, _ = two_workers
    copy = tmp_path / "out"
    copy.mkdir()
    shutil.copy(out / "sweep.journal", copy / "sweep.journal")
    return config, copy, copy / "sweep.journal"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _cut_last_line(text: bytes) -> bytes:
    lines = text.splitlines(keepends=True)
    return b"".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2]


@pytest.mark.parametrize(
    ("damage", "done"),
    [
        (_cut_last_line, 7),  # the last line completes the last cell: that cell runs again
        (lambda text: text + b"\0" * 4096, 8),
        (lambda text: text + b'{"op_code":6,"trial_id":3,\xff garbage\n', 8),
    ],
    ids=["torn", "nul", "garbage"],
)
def test_journal_with_a_damaged_last_line_resumes_with_every_completed_cell(
    two_workers, tmp_path, caplog, damage, done
):
    config, out, journal = _copy_sweep(two_workers, tmp_path)
    damaged = damage(journal.read_bytes())
    journal.write_bytes(damaged)
    before = sweep.status(config, out=out)
    assert (before.done, before.failed, before.left) == (done, 0, 8 - done)
    assert journal.read_bytes() == damaged  # a reader skips the tail and leaves the file
    assert f"{journal}: skipping" in caplog.text
    caplog.clear()
    state = sweep.run(config, out=out, progress=False)
    assert state.finished and state.done == 8
    assert _complete_per_cell(config, out) == Counter({c.key: 1 for c in config.cells()})
    assert f"{journal}: dropped" in caplog.text
    backups = list(out.glob("sweep.journal.bak-*"))
    assert len(backups) == 1 and backups[0].read_bytes() == damaged
    assert f"kept as {backups[0]}" in caplog.text


def test_journal_with_a_corrupt_middle_line_names_the_file_the_line_and_the_fix(
    two_workers, tmp_path
):
    config, out, journal = _copy_sweep(two_workers, tmp_path)
    lines = journal.read_bytes().splitlines(keepends=True)
    lines[4] = lines[4][:20] + b"\n"
    journal.write_bytes(b"".join(lines))
    fix = rf"{journal}: line 5 is not a journal entry.*keep its first 4 lines \(head -n 4"
    with pytest.raises(ValueError, match=fix):
        sweep.status(config, out=out)
    with pytest.raises(ValueError, match=fix):
        sweep.run(config, out=out, progress=False)


def _tmpfs(folder: Path, size: str) -> bool:
    folder.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    cmd = ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)]
    return subprocess.run(cmd, capture_output=True).returncode == 0


@pytest.mark.parametrize("full", ["tmpfs", "file_size_limit"])
def test_full_disk_stops_the_run_naming_the_file_and_keeps_the_record_readable(tmp_path, full):
    import resource

    path = _write(tmp_path, "full", epochs=3, retries=0)
    # A claim cut off by the full disk before it recorded its pid waits out the grace period.
    text = path.read_text().replace("heartbeat_interval = 1\ngrace_period = 5", "")
    text = text.replace('family = ["gcn", "resgcn"]', 'family = ["gcn"]')
    # The disk sizes below are those of one cell recorded at a time: no batched groups.
    path.write_text("heartbeat_interval = 0.25\ngrace_period = 1\nbatch_cells = false\n" + text)
    config, disk = sweep.load_config(path), tmp_path / "disk"
    out = disk / "out"
    preexec = None
    if full == "tmpfs":
        if not _tmpfs(disk, "12k"):
            pytest.skip("mounting a tmpfs needs root; file_size_limit covers the rest")
        match = r"disk full writing \S+(sweep\.journal|\.csv(\.gz)?); free space and rerun the same"
    else:
        disk.mkdir()
        # A full disk for files above 5 kB: the journal grows past it in the second cell.
        preexec = lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (5000, 5000))  # noqa: E731
        match = r"file size limit reached writing \S+sweep\.journal; .* rerun the same command"
    try:
        proc = _cli("run", str(path), "--out", str(out), "--no-progress", preexec_fn=preexec)
        text = proc.communicate(timeout=120)[0]
        assert proc.returncode == 1 and re.search(match, text), text
        journal = out / "sweep.journal"
        assert journal.read_bytes().endswith(b"\n")
        for line in journal.read_bytes().splitlines():  # whole entries only
            assert "op_code" in json.loads(line)
        before = sweep.status(config, out=out)
        assert before.done >= 1 and not before.finished
        if full == "tmpfs":
            subprocess.run(["mount", "-o", "remount,size=8m", str(disk)], check=True)
        state = sweep.run(config, out=out, progress=False)
        assert state.finished and state.done == 4
        assert _complete_per_cell(config, out) == Counter({c.key: 1 for c in config.cells()})
    finally:
        if full == "tmpfs":
            subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def test_report_on_a_full_disk_says_so_in_one_line_as_run_does(two_workers, tmp_path):
    # before: `deepgnn sweep report` printed a raw "OSError: [Errno 27] File too large"
    import resource

    config, out, _ = _copy_sweep(two_workers, tmp_path)
    limit = lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))  # noqa: E731
    proc = _cli("report", config.source, "--out", str(out), preexec_fn=limit)
    text = proc.communicate(timeout=120)[0]
    assert proc.returncode == 1, text
    assert "Traceback" not in text and "[Errno" not in text, text
    lines = [line for line in text.splitlines() if line.startswith("deepgnn sweep report:")]
    assert len(lines) == 1, text
    assert re.fullmatch(
        r"deepgnn sweep report: file size limit reached writing \S+results\.csv; raise it "
        r"\(ulimit -f\) or free space and rerun the same command",
        lines[0],
    ), text
    assert not (out / "results.csv").exists() and not list(out.glob(".*.tmp"))


def test_status_estimates_the_work_left_by_depth_in_one_workers_seconds(two_workers, tmp_path):
    # Depths 1 and 2 ran; the grid grows by depth 4. No worker runs: no ETA, but the work
    # left, each new cell costing 4 layers at the finished cells' seconds per layer.
    config, out, journal = _copy_sweep(two_workers, tmp_path)
    path = tmp_path / "grown.toml"
    source = Path(config.source) if config.source else None
    text = (source.read_text() if source else "").replace("depth = [1, 2]", "depth = [1, 2, 4]")
    path.write_text(text)
    grown = sweep.load_config(path)
    state = sweep.status(grown, storage=str(journal))
    assert (state.done, state.left, state.running, state.eta_seconds) == (8, 4, 0, None)
    rows = sweep.ledger.Ledger(config, storage=str(journal), missing_ok=True).rows()
    share = sum(float(r["wall_seconds"]) / int(r.get("group_size", 1) or 1) for r in rows)
    per_layer = share / sum(int(r["depth"]) for r in rows)
    assert state.work_seconds == pytest.approx(4 * 4 * per_layer)
    assert str(state).endswith("of one worker's time left")


def test_status_and_report_never_write_the_journal(two_workers, tmp_path):
    config, out, journal = _copy_sweep(two_workers, tmp_path)
    committed = sorted(ROOT.glob("results/*/sweep.journal"))
    assert committed, "the repository ships the rerun's journals"
    pairs = [(config, journal)] + [
        (ROOT / "sweeps" / f"{j.parent.name}.toml", j) for j in committed
    ]
    for cfg, file in pairs:
        before, listing = _digest(file), sorted(os.listdir(file.parent))
        state = sweep.status(cfg, storage=str(file))
        assert state.started and state.done > 0
        assert _digest(file) == before and sorted(os.listdir(file.parent)) == listing
    smallest = min(committed, key=lambda j: j.stat().st_size)
    for cfg, file in (
        (config, journal),
        (ROOT / "sweeps" / f"{smallest.parent.name}.toml", smallest),
    ):
        before = _digest(file)
        df = sweep.report(cfg, storage=str(file), out=tmp_path / "report" / file.parent.name)
        assert len(df) > 0 and _digest(file) == before


def test_status_and_report_of_a_sweep_that_never_ran_create_nothing(tmp_path, capsys):
    from deepgnn.cli import main

    path, out = _write(tmp_path, "never"), tmp_path / "elsewhere"
    state = sweep.status(path, out=out)
    assert (state.started, state.done, state.left) == (False, 0, 8)
    assert f"never ran (nothing recorded in {out / 'sweep.journal'})" in str(state)
    where = rf"{out / 'sweep.journal'} does not exist; run the sweep first"
    with pytest.raises(ValueError, match=where):
        sweep.report(path, out=out)
    assert main(["sweep", "report", str(path), "--out", str(out)]) == 2
    assert re.search(where, capsys.readouterr().err)
    assert not out.exists()


def _fake_texas(root: Path) -> None:
    """A small stand-in for texas.npz in the benchmark's format (10 splits)."""
    g = np.random.default_rng(0)
    n = 60
    split = g.permutation(np.tile(np.arange(3), n // 3))
    masks = {k: np.stack([split == i] * 10) for i, k in enumerate(("train", "val", "test"))}
    np.savez(
        root / "texas.npz",
        node_features=g.normal(size=(n, 8)).astype(np.float32),
        node_labels=g.integers(0, 5, n),
        edges=g.integers(0, n, (150, 2)),
        **{f"{k}_masks": m for k, m in masks.items()},
    )


def test_sweep_over_missing_data_stops_at_its_start_in_one_line(tmp_path, capsys, monkeypatch):
    # before: every cell loaded, failed and retried with a full traceback (18 tracebacks,
    # 363 lines for 6 cells)
    from deepgnn.cli import main

    monkeypatch.delenv("DEEPGNN_DATA", raising=False)
    root, out = tmp_path / "data", tmp_path / "out"
    root.mkdir()
    path = _write(tmp_path, "missing", epochs=3, retries=2)
    text = path.read_text().replace('name = "cora"', f'name = ["cora", "texas"]\nroot = "{root}"')
    path.write_text(text)
    assert main(["sweep", "run", str(path), "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert re.fullmatch(
        rf"deepgnn sweep: error: dataset 'texas': texas.npz not found \(looked for "
        rf"{root}/heterophilous/texas.npz, {root}/texas.npz\); download texas.npz from \S+ "
        rf"into {root}/heterophilous\n",
        err,
    ), err
    assert not out.exists()  # nothing ran, nothing recorded
    with pytest.raises(FileNotFoundError, match="texas.npz not found"):
        sweep.run(path, out=out, progress=False)


@pytest.mark.parametrize("batch", [False, True])
def test_cell_whose_file_went_missing_fails_once_without_retries(
    tmp_path, monkeypatch, caplog, batch
):
    import logging

    calls = Counter()
    real, real_cells = experiment.run_cell, experiment.run_cells

    def gone(spec):
        return FileNotFoundError(f"dataset 'cora': ind.cora.x not found (looked for {spec})")

    def run_cell(spec, **kw):
        calls[(spec.family, spec.depth, spec.seed)] += 1
        if spec.family == "resgcn":
            raise gone(spec)
        return real(spec, **kw)

    def run_cells(specs, **kw):  # a batched group: each member's outcome, its error or row
        for spec in specs:
            calls[(spec.family, spec.depth, spec.seed)] += 1
        if specs[0].family == "resgcn":
            return [gone(spec) for spec in specs]
        return real_cells(specs, **kw)

    monkeypatch.setattr(experiment, "run_cell", run_cell)
    monkeypatch.setattr(experiment, "run_cells", run_cells)
    path = _write(tmp_path, "gone", epochs=2, retries=2)
    path.write_text(f"batch_cells = {str(batch).lower()}\n" + path.read_text())
    with caplog.at_level(logging.WARNING, logger="deepgnn.sweep.runner"):
        state = sweep.run(path, out=tmp_path / "out", progress=False)
    assert (state.done, state.failed, state.left) == (4, 4, 0)
    assert set(calls.values()) == {1}  # max_retries = 2, but a missing file is not retried
    lines = [r for r in caplog.records if "not retried" in r.getMessage()]
    assert len(lines) == 4 and not any(r.exc_info for r in lines)
    df = sweep.report(path, out=tmp_path / "out")
    failed = df[df["status"] == "failed"]
    assert len(failed) == 4 and failed["error"].str.startswith("FileNotFoundError").all()


def test_retry_failed_runs_cells_whose_data_file_was_repaired(tmp_path, capsys):
    from deepgnn.cli import main

    root, out = tmp_path / "data", tmp_path / "out"
    root.mkdir()
    (root / "texas.npz").write_bytes(b"not a zip file")
    path = _write(tmp_path, "retry", epochs=3, retries=0)
    text = path.read_text().replace('name = "cora"', f'name = "texas"\nroot = "{root}"')
    path.write_text(text.replace('family = ["gcn", "resgcn"]', 'family = ["gcn"]'))
    args = ["sweep", "run", str(path), "--out", str(out), "--no-progress"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "4 cells failed on every try" in err and "--retry-failed" in err
    _fake_texas(root)
    assert main(args) == 1  # failed cells stay failed without the flag
    assert "4 cells failed" in capsys.readouterr().err
    assert main([*args, "--retry-failed"]) == 0
    assert "4/4 done, 0 running, 0 failed, 0 left" in capsys.readouterr().out
    df = sweep.report(path, out=out)
    assert len(df) == 4 and df["cell"].is_unique and set(df["status"]) == {"ok"}
    assert (df["attempt"] == 2).all()
    study = sweep.open_study(path, out=out)
    history = Counter(t.user_attrs["cell_key"] for t in study.trials if "error" in t.user_attrs)
    assert set(history.values()) == {1}  # the failed tries stay in the journal
    assert sweep.run(path, out=out, progress=False, retry_failed=True).done == 4


@pytest.mark.parametrize(
    ("top", "dataset", "tables", "match"),
    [
        (
            "",
            "cora",
            '[init]\nname = "kaiming"\n[init.kaiming]\nnonlinearity = "tanhh"\n',
            r"\[init.kaiming\] \(family 'gcn'\): nonlinearity='tanhh' .*did you mean 'tanh'",
        ),
        (
            "",
            "cora",
            '[init]\nname = "kaiming"\n[init.kaiming.resgcn]\nmode = "fan_avg"\n',
            r"\[init.kaiming.resgcn\] \(family 'resgcn'\): mode='fan_avg' is not one of",
        ),
        (
            "",
            "cora",
            "[train]\nsplit = 5\n",
            r"\[train\] split=5 is out of range: cora has 1 split",
        ),
        ('name = ".."\n', "cora", "", r"name='..'; pass a name of letters.*not only dots"),
        ('name = "."\n', "cora", "", r"name='.'; pass a name"),
        (
            'record = ["signal_init"]\n',
            "ogbg-molhiv",
            "",
            r"record lists \['signal_init'\], but \['ogbg-molhiv'\] are graph-classification",
        ),
        (
            'record = ["models"]\n',
            "ogbg-molhiv",
            "",
            r"record lists 'models', but \['ogbg-molhiv'\] are graph-classification datasets",
        ),
        (
            "",
            "cora",
            "[train]\nrestore_best = 1\n",
            r"\[train\] restore_best must be True .* got 1",
        ),
        (
            "",
            "ogbg-molbbbp",
            "[train]\ndrop_edge = 0.2\n",
            r"\[train\] drop_edge does not apply to ogbg-molbbbp \(graph classification, "
            r"train_graph takes \[.*'batch_size'.*\]\); drop it",
        ),
        (
            "",
            "ogbg-molbbbp",
            "[train]\ncuda_graph = true\nsplit = 0\n",
            r"\[train\] cuda_graph, split do not apply to ogbg-molbbbp",
        ),
        (
            "",
            "cora",
            "[train]\npool = 'sum'\n",
            r"\[train\] pool does not apply to cora \(node classification, train_node takes",
        ),
        ("", "cora", "[train]\nbatch_size = 8\n", r"\[train\] batch_size does not apply to cora"),
        (
            "",
            "cora",
            "[train]\nlr = [0.01, 0.1]\n[tune]\nlr = [1e-4, 1e-1]\n",
            r"\[train\] lr=\[0.01, 0.1\] and \[tune\] lr both set lr; .* drop lr from \[train\]",
        ),
        (
            "",
            "cora",
            "[model.gcn]\ndropout = 0.5\n[tune]\ndropout = [0.0, 0.7]\n",
            r"\[model.gcn\] dropout=0.5 and \[tune\] dropout both set dropout",
        ),
    ],
    ids=[
        "init_value",
        "init_family_value",
        "split",
        "dotdot",
        "dot",
        "signal_on_graphs",
        "models_on_graphs",
        "restore_best_not_a_bool",
        "drop_edge_on_graphs",
        "node_keys_on_graphs",
        "pool_on_nodes",
        "batch_size_on_nodes",
        "train_and_tune_lr",
        "model_and_tune_dropout",
    ],
)
def test_config_values_that_would_fail_every_cell_fail_on_load(
    tmp_path, top, dataset, tables, match
):
    path = tmp_path / "bad.toml"
    model = "[model]\nfamily = ['gcn', 'resgcn']\ndepth = 2\n"
    path.write_text(f"{top}[data]\nname = '{dataset}'\n{model}{tables}")
    with pytest.raises(ValueError, match=match):
        sweep.load_config(path)


@pytest.mark.parametrize(
    ("storage", "match"),
    [
        ("foo://bar", r"storage='foo://bar': SQLAlchemy knows no database 'foo'; pass an RDB"),
        ("sqlite:///{tmp}/no/such/dir/s.db", r"folder '\S+/no/such/dir' of the SQLite file"),
        ("{tmp}", r"storage='\S+' is a folder; pass a journal file in it"),
        ("{tmp}/notes.txt", r"notes.txt is not an Optuna journal: line 1 .*pass storage="),
    ],
    ids=["unknown_database", "sqlite_missing_folder", "folder", "not_a_journal"],
)
def test_bad_storage_fails_naming_the_argument_and_the_fix(tmp_path, storage, match):
    (tmp_path / "notes.txt").write_text("cells to run\nsomeday\n")
    path, storage = _write(tmp_path, "where"), storage.format(tmp=tmp_path)
    for call in (sweep.run, sweep.status, sweep.report):
        with pytest.raises(ValueError, match=match):
            call(path, storage=storage, out=tmp_path / "out")
    assert (tmp_path / "notes.txt").read_text() == "cells to run\nsomeday\n"


def test_out_that_is_a_file_fails_naming_the_argument(tmp_path):
    path, out = _write(tmp_path, "outfile"), tmp_path / "taken"
    out.write_text("")
    for call in (sweep.run, sweep.status, sweep.report):
        with pytest.raises(ValueError, match=rf"out='{out}' is a file; pass a folder"):
            call(path, out=out)


def test_results_files_follow_the_umask(two_workers, tmp_path):
    config, out, _ = _copy_sweep(two_workers, tmp_path)
    old = os.umask(0o002)
    try:
        sweep.report(config, out=out)
    finally:
        os.umask(old)
    for name in ("results.csv", "summary.md", "cora_test_vs_depth.png"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o664, name


def test_import_deepgnn_gives_sweep_on_first_use_without_loading_optuna():
    code = (
        "import sys, deepgnn\n"
        "heavy = [m for m in ('optuna', 'dgl', 'matplotlib') if m in sys.modules]\n"
        "run = deepgnn.sweep.run\n"
        "from deepgnn.sweep import runner\n"
        "print(heavy, run is runner.run)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.stdout.strip() == "[] True", done.stderr


def test_workers_started_from_a_script_without_a_main_guard_name_the_fix(tmp_path):
    path, out = _write(tmp_path, "noguard"), tmp_path / "out"
    script = tmp_path / "noguard.py"
    script.write_text(
        f"import deepgnn\n\ndeepgnn.sweep.run({str(path)!r}, workers=2, out={str(out)!r})\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    assert f"called at the top level of {script} (line 3)" in done.stderr, done.stderr
    assert 'put the call under `if __name__ == "__main__":`' in done.stderr
    assert not out.exists()


def test_devices_run_one_worker_process_per_entry_in_turn(tmp_path):
    path = tmp_path / "two_devices.toml"
    path.write_text(
        'name = "two_devices"\nseed = [0, 1]\nrecord = ["final"]\n'
        '[data]\nname = "cora"\n[model]\nfamily = "gcn"\ndepth = 1\nwidth = 8\n'
        '[train]\nepochs = 2\npatience = "none"\n'
    )
    config, out = sweep.load_config(path), tmp_path / "out"
    state = sweep.run(config, devices=["cpu", "cpu"], out=out, progress=False)
    assert state.finished and (state.done, state.failed) == (2, 0)
    assert _complete_per_cell(config, out) == Counter({c.key: 1 for c in config.cells()})
    df = sweep.report(config, out=out)
    pids = {int(w.rsplit(":", 1)[1]) for w in df["worker"]}
    # Worker processes (not this one), at most one per entry of devices, each on its device.
    assert os.getpid() not in pids and 1 <= len(pids) <= 2
    assert set(df["device"]) == {"cpu"} and set(df["status"]) == {"ok"}


@pytest.mark.parametrize("study", ["paper_planetoid", "tuned_cora", "paper_heterophilous"])
def test_committed_rows_are_todays_cells_with_todays_resolved_settings(study):
    """Every committed row has a key today's config makes, and its SPoGInit rows carry the
    objective, method and budget today's library resolves for them: no stale cell passes."""
    config = sweep.load_config(ROOT / "sweeps" / f"{study}.toml")
    by_key = {c.key: c for c in config.cells()}
    rows = pd.read_csv(ROOT / "results" / study / "results.csv")
    assert set(rows["cell"]) <= set(by_key), "results.csv holds a cell today's config lacks"
    spog = rows[rows["init"].str.startswith("spoginit")]
    assert len(spog), f"{study} holds no SPoGInit row"
    for _, row in spog.iterrows():
        resolved = experiment.resolve_cell(by_key[row["cell"]].spec())
        assert json.loads(row["init_resolved"]) == resolved["init"], row["cell"]
        assert json.loads(row["train_resolved"]) == resolved["train"], row["cell"]
    summary = (ROOT / "results" / study / "summary.md").read_text()
    assert "± 0.0000" not in summary and "n=0" not in summary


#: sha1 of the sorted cell keys of the lesson studies, as they were before ``restore_best``
#: existed (their committed cells ran with the last epoch's weights): ``restore_best = false``
#: in their [train] must keep every key.
LESSON_KEYS = {
    "depth_cora": "e494e93188e37d34",
    "depth_planetoid": "10393fb6f82c4182",
    "depth_heterophilous": "2da634dab49f12b0",
}


@pytest.mark.parametrize("study", sorted(LESSON_KEYS))
def test_lesson_studies_that_measure_trained_weights_keep_their_keys(study):
    config = sweep.load_config(ROOT / "sweeps" / f"{study}.toml")
    assert "signal_final" in config.record and config.train["restore_best"] == [False]
    keys = sorted(c.key for c in config.cells())
    assert hashlib.sha1("\n".join(keys).encode()).hexdigest()[:16] == LESSON_KEYS[study]
    assert all("restore_best" not in c.resolved["train"] for c in config.cells())


#: ``(units, sha1 of the sorted unit keys)`` of every committed sweep (cells, and the tuning
#: units of the tuned ones), computed before ``precision`` existed: the option, absent from
#: their files, must change none of them.
COMMITTED_KEYS = {
    "arxiv_sbm": (54, "16f0acf80dc0db33"),  # since: the calibrated graph pinned in its file
    "arxiv_sbm_full": (225, "26a1f0e69ffa2ad1"),  # part (a)'s 54 cells and part (b)
    "demo_cora": (12, "8665374ae65af2d4"),
    "depth_arxiv": (225, "055a0692416be038"),
    "depth_cora": (270, "e494e93188e37d34"),
    "depth_csbm": (270, "750b07c6043dc9d4"),
    "depth_heterophilous": (810, "2da634dab49f12b0"),
    "depth_molhiv": (180, "34ce12e005be866d"),
    "depth_planetoid": (540, "10393fb6f82c4182"),
    "paper_csbm": (270, "090c6fe99db0d832"),
    "paper_heterophilous": (810, "83f7cb7157366999"),
    "paper_planetoid": (648, "39629f934c11e621"),
    "toolkit_families": (540, "f490618ec08c1935"),
    "tuned_citeseer_minesweeper": (720, "965b62e80f74dbcb"),
    "tuned_cora": (360, "45dee8357fc1dfff"),
}


def test_every_committed_sweep_is_pinned():
    assert {p.stem for p in (ROOT / "sweeps").glob("*.toml")} == set(COMMITTED_KEYS)


def test_the_whole_arxiv_study_extends_part_a_in_its_journal():
    # arxiv_sbm_full is the same study as arxiv_sbm (part (a)): every cell part (a) records
    # counts there, and its ResGCN searches as Arxiv_run.py runs it (real data, zerosingle).
    part_a, whole = (
        sweep.load_config(ROOT / "sweeps" / f) for f in ("arxiv_sbm.toml", "arxiv_sbm_full.toml")
    )
    assert part_a.name == whole.name
    assert {c.key for c in part_a.cells()} < {c.key for c in whole.cells()}
    res = next(c for c in whole.cells() if (c.family, c.init) == ("resgcn", "spoginit@authors"))
    init = res.resolved["init"]
    assert (init["method"], init["lr"], init["decay"], init["data"]) == (
        "zeroth_order_single",
        0.2,
        1.0,
        "real",
    )


@pytest.mark.parametrize("study", sorted(COMMITTED_KEYS))
def test_committed_sweeps_keep_their_keys(study):
    keys = sorted(u.key for u in sweep.load_config(ROOT / "sweeps" / f"{study}.toml").units())
    digest = hashlib.sha1("\n".join(keys).encode()).hexdigest()[:16]
    assert (len(keys), digest) == COMMITTED_KEYS[study]


#: ``[train]`` lines: fp32 written out (how every cell computed before the option), and bf16.
PRECISION_LINES = ('precision = "fp32"\n', 'precision = "bf16"\n')


def test_precision_fp32_keeps_keys_and_bf16_trains_a_cell_under_keys_of_its_own(tmp_path):
    def config(name, extra=""):
        path = _write(tmp_path, name, epochs=5, extra=extra)
        text = path.read_text().replace("seed = [0, 1]", "seed = [0]")
        path.write_text(text.replace('["gcn", "resgcn"]', '["gcn"]').replace("[1, 2]", "[2]"))
        return sweep.load_config(path)

    plain, fp32, bf16 = (config(f"p{i}", e) for i, e in enumerate(["", *PRECISION_LINES]))
    assert [c.key for c in fp32.cells()] == [c.key for c in plain.cells()]
    tune = TUNE.format(epochs=3)
    tuned = [
        config(f"t{i}", e + tune).cells()[0].tune_key for i, e in enumerate(["", *PRECISION_LINES])
    ]
    assert tuned[0] == tuned[1] != tuned[2]
    (cell,) = bf16.cells()
    assert cell.key != plain.cells()[0].key
    assert cell.resolved["train"]["precision"] == "bf16"
    assert "precision" not in fp32.cells()[0].resolved["train"]
    out = tmp_path / "out"
    sweep.run(bf16, out=out, workers=1, progress=False)
    row = sweep.report(bf16, out=out).set_index("cell").loc[cell.key]
    assert row["status"] == "ok" and row["precision"] == "bf16" and row["test"] > 0.5
    assert json.loads(row["train_resolved"])["precision"] == "bf16"


def test_restore_best_changes_a_key_only_where_the_trained_weights_are_recorded(tmp_path):
    def keys(record, extra=""):
        path = _write(tmp_path, "keys", extra=extra)
        path.write_text(path.read_text().replace('["final", "curves"]', record))
        return [c.key for c in sweep.load_config(path).cells()]

    plain = keys('["final", "curves"]')
    assert keys('["final", "curves"]', extra="restore_best = false") == plain
    assert keys('["final", "curves"]', extra="restore_best = true") == plain
    measured = keys('["final", "signal_final"]')
    assert not set(measured) & set(keys('["final", "signal_final"]', "restore_best = false"))
    assert keys('["final", "signal_final"]', extra="restore_best = true") == measured
    assert not set(keys('["final", "models"]')) & set(plain)


def test_sweep_saves_each_cells_weights_and_they_score_its_row(tmp_path, caplog):
    import logging

    path = _write(tmp_path, "saved", epochs=20)
    path.write_text(path.read_text().replace('["final", "curves"]', '["final", "models"]'))
    config, out = sweep.load_config(path), tmp_path / "out"
    with caplog.at_level(logging.INFO, logger="deepgnn.sweep"):
        sweep.run(config, out=out, workers=1, progress=False)
    # gcn and resgcn at depths 1 and 2, width 16, on Cora: the size a user is told up front
    cora = deepgnn.data.load("cora")
    size = 0
    for cell in config.cells():
        spec = cell.spec()
        model = deepgnn.build(
            spec.family, cora.num_features, cora.num_classes, spec.depth, **spec.model
        )
        size += 2 * 4 * sum(p.numel() for p in model.state_dict().values())
    assert f"8 cells save their initial and trained weights to {out / 'models'}" in caplog.text
    assert f"about {size / 1e6:.1f} MB in all" in caplog.text
    rows = sweep.report(config, out=out).set_index("cell")
    assert len(rows) == 8 and set(rows["group_size"]) == {2}  # batched: the seeds together
    for key, row in rows.iterrows():
        model = experiment.load_cell_model(out / "models" / f"{key}.pt")
        model.eval()
        with torch.no_grad():
            logits = model(cora.graph, cora.x)
        assert cora.evaluate(logits, cora.test_mask) == pytest.approx(row["test"], abs=1e-6)
        assert json.loads(row["train_resolved"])["restore_best"] is True


# ------------------------------------------------------------------- scheduling order
def _recorded_order(config, out) -> list:
    from optuna.trial import TrialState

    study = sweep.open_study(config, out=out)
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    by_key = {c.key: c for c in config.cells()}
    return [by_key[t.user_attrs["cell_key"]] for t in sorted(trials, key=lambda t: t.number)]


def test_workers_start_the_deepest_cells_first(tmp_path):
    # Longest first: deep cells (and, within a depth, searched inits) before shallow ones.
    path = _write(tmp_path, "order", epochs=2, extra="")
    path.write_text("batch_cells = false\n" + path.read_text().replace("[1, 2]", "[1, 3, 2]"))
    config, out = sweep.load_config(path), tmp_path / "out"
    assert sweep.run(config, out=out, progress=False).finished
    depths = [c.depth for c in _recorded_order(config, out)]
    assert depths == sorted(depths, reverse=True) and depths[0] == 3


def test_a_group_larger_than_the_batch_limit_spreads_its_inits(tmp_path):
    # 2 inits x 4 seeds share a graph and shape; batches of 2 take one of each init (in
    # random order, all four batches would mix them about one time in four).
    path = _write(tmp_path, "spread", epochs=2, extra="")
    text = path.read_text().replace('family = ["gcn", "resgcn"]', 'family = "gcn"')
    text = text.replace("seed = [0, 1]", "seed = [0, 1, 2, 3]")
    text = text.replace("depth = [1, 2]", "depth = 2")
    text = text.replace("[data]", '[init]\nname = ["xavier", "kaiming"]\n\n[data]')
    path.write_text("batch_cells = true\nmax_batch_cells = 2\n" + text)
    config, out = sweep.load_config(path), tmp_path / "out"
    assert sweep.run(config, out=out, progress=False).finished
    order = _recorded_order(config, out)
    assert len(order) == 8
    for i in range(0, 8, 2):
        assert {order[i].init, order[i + 1].init} == {"xavier", "kaiming"}, i
    assert set(sweep.report(config, out=out)["group_size"]) == {2}


def test_tuning_units_of_one_shape_tune_in_lockstep_and_find_what_they_find_alone(tmp_path):
    # Two inits of one dataset x family x depth: batched, their units tune in rounds (each
    # round's trials train as one batch, each with its own lr and dropout, a pruned trial
    # leaving the batch); alone, one after the other. Each unit's study sees the same trials.
    tune = TUNE.format(epochs=20).replace("n_trials = 3", "n_trials = 8")
    extra = '[init]\nname = ["xavier", "kaiming"]\n' + tune
    text = TINY.format(name="lockstep", epochs=20, retries=0, extra=extra)
    text = text.replace('family = ["gcn", "resgcn"]', 'family = "gcn"').replace(
        "depth = [1, 2]", "depth = 2"
    )
    text = text.replace("seed = [0, 1]", "seed = [0]")
    runs = {}
    for name, head in (("batched", ""), ("alone", "batch_cells = false\n")):
        path = tmp_path / f"{name}.toml"
        path.write_text(head + text)
        config, out = sweep.load_config(path), tmp_path / name
        state = sweep.run(config, out=out, progress=False)
        assert state.finished and state.done == 4 and state.failed == 0
        trials = {}
        for unit in config.units()[:2]:
            study = sweep.ledger.Ledger(config, out=out).tuning_study(unit)
            trials[unit.key] = [(t.state.name, t.params, t.value) for t in study.trials]
        runs[name] = (trials, sweep.open_study(config, out=out))
    batched, alone = runs["batched"][0], runs["alone"][0]
    assert batched.keys() == alone.keys()
    states = Counter()
    for key in batched:
        assert [(s, p) for s, p, _ in batched[key]] == [(s, p) for s, p, _ in alone[key]]
        for (_, _, a), (_, _, b) in zip(batched[key], alone[key]):
            assert a == b or a == pytest.approx(b, abs=1e-6)
        states.update(s for s, _, _ in batched[key])
    assert states["PRUNED"] > 0 and states["COMPLETE"] > 0  # the pruner stopped some trials
    rows = [t.user_attrs["row"] for t in runs["batched"][1].trials if "row" in t.user_attrs]
    sizes = {r["cell"].startswith("tune-"): r["group_size"] for r in rows}
    assert sizes == {
        True: 2,
        False: 2,
    }  # the two units tuned together, then their cells trained together


def test_lockstep_tuning_searches_spoginit_once_per_unit(tmp_path, monkeypatch):
    # The deferred searches of a batched group use the tuning's cache too: a SPoGInit unit
    # searches in its first round only; its cell searches afresh after it.
    searched = []
    real = experiment.search_many

    def counted(models, *args, **kw):
        searched.append(len(models))
        return real(models, *args, **kw)

    monkeypatch.setattr(experiment, "search_many", counted)
    extra = '[init]\nname = ["spoginit", "xavier"]\n[init.spoginit]\nn_trials = 3\n'
    text = TINY.format(name="lockspog", epochs=4, retries=0, extra=extra + TUNE.format(epochs=4))
    text = text.replace('family = ["gcn", "resgcn"]', 'family = "gcn"')
    text = text.replace("depth = [1, 2]", "depth = 2").replace("seed = [0, 1]", "seed = [0]")
    path = tmp_path / "lockspog.toml"
    path.write_text(text)
    config = sweep.load_config(path)
    state = sweep.run(config, out=tmp_path / "out", progress=False)
    assert state.finished and state.done == 4 and state.failed == 0
    counts = _tuning_trials(config, tmp_path / "out")
    assert sum(c["COMPLETE"] + c["PRUNED"] for c in counts.values()) == 6
    assert searched == [1, 1]  # the unit's first round, then its cell
