"""Which committed depth-study cells trained: best training metric over each run vs chance.

Reads ``results/depth_*/results.csv`` and the per-epoch curves in ``curves.tar.gz`` and writes
``results/trainability.csv`` (one row per cell: dataset, family, depth, init, seed, split, test,
best_train, chance, untrained). A seed is *untrained* when its best training metric stays less
than a fifth of the way from chance to a perfect fit; chance is the share of the training
split's most common class (accuracy) or 0.5 (ROC-AUC). Run from the repository root:

    python results/trainability.py          # needs $DEEPGNN_DATA or ../shared/data
"""

from __future__ import annotations

import os
import tarfile

import pandas as pd
import torch

import deepgnn

ROOT = os.environ.get("DEEPGNN_DATA", "../shared/data")
SWEEPS = ("depth_planetoid", "depth_heterophilous", "depth_csbm", "depth_molhiv")


def _best_train(folder: str) -> dict[str, float]:
    best = {}
    with tarfile.open(f"results/{folder}/curves.tar.gz") as tf:
        for member in tf.getmembers():
            if member.name.endswith(".csv"):
                curve = pd.read_csv(tf.extractfile(member))
                best[member.name.rsplit("/", 1)[-1][:-4]] = float(curve["train"].max())
    return best


def _chance(name: str, split: int, metric: str) -> float:
    if metric == "rocauc":
        return 0.5
    ds = deepgnn.data.load(name, root=ROOT)
    if ds.num_splits > 1:
        ds = ds.split(split)
    y = ds.y[ds.train_mask]
    return float(torch.bincount(y).max()) / len(y)


def main() -> None:
    parts = []
    for folder in SWEEPS:
        df = pd.read_csv(f"results/{folder}/results.csv")
        df["split"] = df["split"].fillna(0).astype(int) if "split" in df else 0
        df["best_train"] = df["cell"].map(_best_train(folder))
        chance = {
            key: _chance(key[0], key[1], part["metric"].iloc[0])
            for key, part in df.groupby(["dataset", "split"])
        }
        df["chance"] = [chance[k] for k in zip(df["dataset"], df["split"])]
        parts.append(df)
    df = pd.concat(parts, ignore_index=True)
    df["untrained"] = (df["best_train"] - df["chance"]) / (1 - df["chance"]) < 0.2
    cols = ["dataset", "family", "depth", "init", "seed", "split", "test", "best_train"]
    df[cols + ["chance", "untrained"]].to_csv("results/trainability.csv", index=False)
    deep = df[(df["depth"] >= 32) & (df["dataset"] != "ogbg-molhiv")]
    print(deep.groupby(["family", "init"])["untrained"].sum().unstack("init"))


if __name__ == "__main__":
    main()
