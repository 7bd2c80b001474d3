"""Time dataset loading and cSBM generation.

    python benchmarks/bench_data.py [--root FOLDER]     # default: $DEEPGNN_DATA

Prints one line per case: seconds (best of ``--repeat``) and what was built. The cases that
read files (CiteSeer, minesweeper, actor, ogbg-molhiv) need a data folder (``--root`` or
``$DEEPGNN_DATA``; README, "Datasets", says where to get the files); without one, or without
a file, the case is skipped with a line saying which and why.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import deepgnn
from deepgnn.data import csbm
from deepgnn.data.molecules import load_moleculenet


def _time(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def _default_root() -> Path | None:
    """``$DEEPGNN_DATA``; else the project machines' ``shared/data`` beside the checkout."""
    env = os.environ.get("DEEPGNN_DATA")
    if env:
        return Path(env)
    shared = Path(__file__).resolve().parents[2] / "shared" / "data"
    return shared if shared.is_dir() else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--root", type=Path, default=_default_root(), help="data folder (default: $DEEPGNN_DATA)"
    )
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    file_cases = "citeseer, minesweeper, actor, ogbg-molhiv (parsed and cached)"
    cases: list[tuple[str, Callable[[], object]]] = [
        (
            "csbm at ogbn-arxiv size (169,343 nodes, mean degree 13.7, 40 classes, 128 features)",
            lambda: csbm(
                num_nodes=169_343, avg_degree=13.7, num_classes=40, num_features=128, seed=0
            ),
        ),
        ("csbm defaults (load('csbm'))", lambda: deepgnn.data.load("csbm")),
        ("cora (shipped)", lambda: deepgnn.data.load("cora")),
    ]
    if args.root is None or not args.root.is_dir():
        why = "no data folder" if args.root is None else f"{args.root} is not a folder"
        print(f"skipped {file_cases}: {why}; pass --root or set DEEPGNN_DATA")
    else:
        cases += [
            ("citeseer (raw Planetoid pickles)", lambda: deepgnn.data.load("citeseer", args.root)),
            ("minesweeper (.npz)", lambda: deepgnn.data.load("minesweeper", args.root)),
            ("actor (.npz)", lambda: deepgnn.data.load("actor", args.root)),
        ]
        cache = tempfile.mkdtemp()
        cases.append(
            (
                "ogbg-molhiv, 41,127 SMILES parsed (no cache)",
                lambda: load_moleculenet("ogbg-molhiv", args.root, cache=False),
            )
        )
        cases.append(
            (
                "ogbg-molhiv from the parsed-array cache",
                lambda: load_moleculenet("ogbg-molhiv", args.root, cache_dir=cache),
            )
        )
    for label, fn in cases:
        repeat = 1 if "no cache" in label else args.repeat
        try:
            if "parsed-array cache" in label:  # fill the cache first (not timed)
                load_moleculenet("ogbg-molhiv", args.root, cache_dir=cache)
            seconds, out = _time(fn, repeat)
        except (FileNotFoundError, ImportError) as err:
            print(f"skipped {label}: {err}")
            continue
        print(f"{seconds:8.3f} s  {label}: {out!r}")


if __name__ == "__main__":
    main()
