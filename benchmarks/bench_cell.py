"""Time whole depth-study cells (build, init, train, evaluate every epoch) under a protocol.

What a sweep's budget is planned from: the wall time of one cell per dataset x family x depth,
with and without CUDA graphs, and of a SPoGInit search. Writes a CSV and prints a table.

    python benchmarks/bench_cell.py --datasets cora --depths 2,16,64 --out cell_cost.csv
"""

from __future__ import annotations

import argparse
import time

import pandas as pd
import torch

from deepgnn.experiment import CellSpec, clear_cache, device_name, run_cell


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="cora")
    parser.add_argument("--families", default="gcn,resgcn")
    parser.add_argument("--depths", default="2,16,64")
    parser.add_argument("--inits", default="xavier,spoginit")
    parser.add_argument("--protocol", default="spoginit-paper")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--cuda-graph", action="store_true")
    parser.add_argument("--root", default=None)
    parser.add_argument("--out", default="cell_cost.csv")
    args = parser.parse_args()
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    rows = []
    for dataset in args.datasets.split(","):
        for family in args.families.split(","):
            for depth in (int(d) for d in args.depths.split(",")):
                for init in args.inits.split(","):
                    train = {"protocol": args.protocol, "cuda_graph": args.cuda_graph}
                    if args.epochs:
                        train["epochs"] = args.epochs
                    spec = CellSpec(
                        dataset,
                        family,
                        depth,
                        init=init,
                        model={"activation": "tanh" if family == "gcn" else "relu"},
                        train=train,
                        root=args.root,
                    )
                    start = time.perf_counter()
                    cell = run_cell(spec, device=dev)
                    row = cell.row
                    rows.append(
                        {
                            "dataset": dataset,
                            "family": family,
                            "depth": depth,
                            "init": init,
                            "cuda_graph": args.cuda_graph,
                            "epochs": row["epochs"],
                            "train_seconds": row["seconds"],
                            "cell_seconds": time.perf_counter() - start,
                            "best_train": row["best_train"],
                            "test": row["test"],
                            "untrained": row["untrained"],
                            "device": device_name(dev),
                            "torch": torch.__version__,
                        }
                    )
                    print(rows[-1], flush=True)
        clear_cache()
    df = pd.DataFrame(rows)
    df.to_csv(args.out, index=False)
    print(df.to_string(index=False))


if __name__ == "__main__":
    main()
