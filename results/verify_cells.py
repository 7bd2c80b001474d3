"""Rerun a sample of a study's committed cells with today's library and compare their rows.

`rekey.py` carries the committed non-SPoGInit cells over to today's cell keys on the claim that
they compute today what they computed then. This script tests the claim: it reruns chosen
cells (by default one per dataset x family at depths 2, 16 and 64 for one initialization and
seed) exactly as the sweep runs them (`deepgnn.experiment.run_cell` with the cell's spec and the
config's `record`) and writes their rows; `--compare` reads such a file and the committed
`results.csv` and prints, per cell, the test, validation and best training metric of both.

    # on the GPU machine the study ran on (rows differ in the last bits across GPU models):
    PYTHONPATH=. python results/verify_cells.py sweeps/paper_planetoid.toml --init xavier \
        --seed 1 --out verify_paper_planetoid.csv
    # here:
    PYTHONPATH=. python results/verify_cells.py sweeps/paper_planetoid.toml \
        --compare verify_paper_planetoid.csv
"""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from deepgnn import experiment
from deepgnn.sweep import config as sweep_config

_ID = ["dataset", "family", "depth", "init", "seed"]


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config")
    ap.add_argument("--init", default="xavier")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--depths", type=int, nargs="+", default=[2, 16, 64])
    ap.add_argument("--device", default=None)
    ap.add_argument("--out", help="CSV of the rerun rows")
    ap.add_argument("--compare", help="a CSV written by --out, compared with results.csv")
    args = ap.parse_args(argv)
    cfg = sweep_config.load_config(args.config)
    if args.compare:
        new = pd.read_csv(args.compare)
        old = pd.read_csv(f"results/{cfg.name}/results.csv")
        both = new.merge(old, on=_ID, suffixes=("_now", "_committed"))
        cols = [f"{m}_{w}" for m in ("test", "val", "best_train") for w in ("now", "committed")]
        pd.set_option("display.width", 200)
        print(both[_ID + cols].to_string(index=False))
        diff = (both["test_now"] - both["test_committed"]).abs().max()
        print(f"{len(both)} cells; largest |test difference| {diff:.3g}")
        return 0
    cells = [
        c
        for c in cfg.cells()
        if c.init == args.init and c.seed == args.seed and c.depth in args.depths
    ]
    rows = []
    for cell in cells:
        row = experiment.run_cell(cell.spec(), device=args.device, record=cfg.record).row
        rows.append({**cell.columns(), **row})
        print(cell.key, row["test"], row["best_train"], flush=True)
    pd.DataFrame(rows).to_csv(args.out, index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
