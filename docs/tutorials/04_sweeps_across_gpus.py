"""
Sweeps across GPUs and hosts
============================

A sweep is a grid of cells (dataset x family x depth x initialization x seed, ...) kept in an
Optuna storage: workers claim cells one at a time, so any number of processes, on any number
of GPUs and hosts, can work through one sweep, and a killed run resumes where it stopped. This
tutorial runs a 2-cell sweep on the CPU, resumes it, and shows the commands and the storage for
many GPUs and many hosts.
"""

# %%
# A sweep file
# ------------
# The keys are the keyword names of ``deepgnn.data.load``, ``deepgnn.build``,
# ``deepgnn.init.init_`` and ``deepgnn.train.train_node``; lists are axes. This one has two
# cells (two seeds).
import tempfile
from pathlib import Path

import optuna
import pandas as pd

import deepgnn

optuna.logging.set_verbosity(optuna.logging.WARNING)
work = Path(tempfile.mkdtemp())
config = work / "tiny.toml"
config.write_text("""
name = "tiny"
seed = [0, 1]
record = ["final", "signal_init"]

[data]
name = "cora"

[model]
family = "gcn"
depth = 4
width = 16
activation = "tanh"

[init]
name = "xavier"

[train]
epochs = 30
""")
cfg = deepgnn.sweep.load_config(config)
print([cell.key for cell in cfg.cells()])

# %%
# Run it, and run it again
# ------------------------
# With no ``storage`` the sweep lives in a journal file, ``<out>/sweep.journal``: one host,
# any number of processes. One worker on one device runs the cells in this process. Running the
# same call again finds every cell recorded and runs nothing: that is how a sweep resumes after
# a crash, a ``SIGKILL`` or Ctrl-C.
out = work / "tiny"
print(deepgnn.sweep.run(config, workers=1, devices=["cpu"], out=out, progress=False))
print(deepgnn.sweep.run(config, workers=1, devices=["cpu"], out=out, progress=False))
print(sorted(p.name for p in out.iterdir()))

# %%
# Status and report only read
# ---------------------------
# ``status`` counts done / running / failed / left cells and estimates the time left;
# ``report`` writes ``results.csv``, ``summary.md`` and the plots. Neither writes to the
# storage, so they can run while workers are busy.
print(deepgnn.sweep.status(config, out=out))
deepgnn.sweep.report(config, out=out)
rows = pd.read_csv(out / "results.csv")
print(
    rows[["cell", "status", "test", "best_train", "device", "worker", "sp_init_fsp"]].to_string(
        index=False
    )
)

# %%
# Many GPUs on one host
# ---------------------
# One worker process per device (round robin when ``--workers`` is larger), all on the same
# journal file:
#
# .. code-block:: bash
#
#     deepgnn sweep run sweeps/paper_planetoid.toml --devices cuda:0,cuda:1,cuda:2,cuda:3
#     deepgnn sweep run sweeps/paper_planetoid.toml --workers 8 --devices cuda:0,cuda:1   # 4 per GPU
#     deepgnn sweep status sweeps/paper_planetoid.toml    # from another shell, any time
#
# From Python, ``deepgnn.sweep.run(path, workers=4, devices="cuda:0,cuda:1")`` does the same;
# with more than one worker the processes are spawned, so call it under
# ``if __name__ == "__main__":``.
#
# Many hosts: one database
# ------------------------
# Across hosts the sweep needs a storage every host reaches: any Optuna RDB URL, such as
# PostgreSQL. Put it in the file (``storage = "postgresql+psycopg2://sweeps@db-host/deepgnn"``
# at the top level) or pass ``--storage``; then start the same command on every host:
#
# .. code-block:: bash
#
#     # once, on the database host
#     createdb deepgnn
#     # on every GPU host (psycopg2-binary is in the dev extra)
#     deepgnn sweep run sweeps/paper_planetoid.toml \
#         --storage postgresql+psycopg2://sweeps@db-host/deepgnn --devices cuda:0,cuda:1
#     # anywhere: progress, then the tables once it is done
#     deepgnn sweep status sweeps/paper_planetoid.toml --storage postgresql+psycopg2://sweeps@db-host/deepgnn
#     deepgnn sweep report sweeps/paper_planetoid.toml --storage postgresql+psycopg2://sweeps@db-host/deepgnn
#
# A worker refreshes a heartbeat while it runs a cell; a claim whose process is gone (same
# host) or whose heartbeat is older than ``grace_period`` seconds (other hosts) is given to the
# next worker. A cell that raises is recorded as failed and retried ``max_retries`` times;
# ``--retry-failed`` gives cells that failed every try a fresh budget once the cause is fixed.
# ``make test-postgres`` runs a 2-worker sweep against a throw-away PostgreSQL server.
#
# The storage as the sweep sees it
# --------------------------------
# The journal is an ordinary Optuna storage: the sweep is one study, each recorded cell a
# complete trial carrying its cell key.
storage = optuna.storages.JournalStorage(
    optuna.storages.journal.JournalFileBackend(str(out / "sweep.journal"))
)
study = optuna.load_study(study_name="tiny", storage=storage)
print([(t.number, t.state.name, t.user_attrs.get("cell_key")) for t in study.trials])
