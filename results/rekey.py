"""Carry the committed studies' journals over to cell keys that hash the resolved settings.

Since deepgnn 0.2 a cell's key hashes, besides its own settings, what the library resolves for
it (`deepgnn.experiment.resolve_cell`: the init scheme's options after its defaults, for
SPoGInit the objective, method and budget; the protocol's training settings for the depth).
Every key of a journal written before then is therefore unknown to today's library, and its
cells would all run again. This script renames, in a journal, the keys of the cells whose
resolved settings are the ones they ran with, and leaves the rest to run again:

- `spoginit` and `spoginit@authors` cells (and their tuning units) keep their old keys: they
  ran with an objective the library no longer resolves (FSP on h_1 / h_{L-1} and GEV on the
  logits for every family; the gated ResGCN's `spoginit@authors` searched the convolutions and
  both gates). Today's `sweep run` reruns them under new keys; `sweep report` leaves the old
  rows out (git keeps them).
- the other cells (conventional, Xavier, Kaiming, Virgo) get their new keys: their init
  options and the `spoginit-paper` protocol resolve as when they ran. `verify_cells.py` reruns
  a sample of them on the GPU and compares their rows with the committed ones.

Run once per journal, from the repository root (idempotent: a journal already carried over is
left as it is):

    PYTHONPATH=. python results/rekey.py sweeps/paper_planetoid.toml sweeps/tuned_cora.toml \
        sweeps/paper_heterophilous.toml
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

from deepgnn.sweep import config as sweep_config
from deepgnn.sweep.tune import unit_key

_KEPT = ("spoginit",)  # schemes whose old cells are stale


def _legacy_key(cell: sweep_config.Cell, tune: object) -> str:
    """The key the cell had before keys hashed the resolved settings."""
    hashed = {k: v for k, v in cell.columns().items() if not k.endswith("_resolved")}
    hashed["cell"] = ""  # the key itself was empty when the hash was taken
    if tune is not None:
        hashed["tune"] = tune.__dict__
    digest = hashlib.sha1(json.dumps(hashed, sort_keys=True, default=str).encode()).hexdigest()[:8]
    name = f"{cell.dataset}-{cell.family}-d{cell.depth}-{cell.init}-s{cell.seed}-{digest}"
    return re.sub(r"[^A-Za-z0-9_.=-]", "_", name)


def _legacy_unit_key(cell: sweep_config.Cell, tune: object) -> str:
    resolved, cell.resolved = cell.resolved, {}
    try:
        return unit_key(cell, tune)
    finally:
        cell.resolved = resolved


def renames(cfg: sweep_config.SweepConfig) -> dict[str, str]:
    """Old key -> new key for every cell (and tuning unit) not of a stale scheme."""
    out: dict[str, str] = {}
    for cell in cfg.cells():
        if sweep_config.scheme_of(cell.init) in _KEPT:
            continue
        out[_legacy_key(cell, cfg.tune)] = cell.key
        if cfg.tune is not None and cell.tune_key is not None:
            out[_legacy_unit_key(cell, cfg.tune)] = cell.tune_key
    return out


def main(paths: list[str]) -> None:
    for path in paths:
        cfg = sweep_config.load_config(path)
        journal = Path("results") / cfg.name / "sweep.journal"
        text = journal.read_text()
        mapping = renames(cfg)
        found = {old for old in mapping if f'"{old}"' in text or f".tune.{old}" in text}
        already = sum(f'"{new}"' in text for new in mapping.values())
        if found:
            pattern = re.compile(
                "|".join(re.escape(k) for k in sorted(found, key=len, reverse=True))
            )
            text = pattern.sub(lambda m, names=mapping: names[m.group(0)], text)
            tmp = journal.with_suffix(".tmp")
            tmp.write_text(text)
            tmp.replace(journal)
        print(
            f"{journal}: {len(found)} keys renamed, {already} already current, "
            f"{len(mapping) - len(found) - already} not in the journal"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
