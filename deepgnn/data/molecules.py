"""Molecule graph-classification datasets (MoleculeNet HIV and BBBP) built from SMILES.

Each SMILES string becomes a graph with OGB's atom (9) and bond (3) integer features through
``ogb.utils.smiles2graph`` (RDKit), so ``ogbg-molhiv`` here is the dataset of the Open Graph
Benchmark (Hu et al., NeurIPS 2020, arXiv 2005.00687) rebuilt from MoleculeNet's CSV (Wu et al.,
"MoleculeNet: a benchmark for molecular machine learning", Chem. Sci. 2018). The split is the
deterministic scaffold split of OGB (:func:`scaffold_split`). SMILES that RDKit cannot parse
are dropped, counted in ``num_failed`` and listed (row numbers) in ``failed``.

Parsing all 41,127 HIV molecules takes 30-50 s on 2 CPU cores (0.1 s from the cache), so the parsed arrays are cached as
an ``.npz`` (``allow_pickle=False``) keyed by the CSV's SHA-256, the row limit and the RDKit
and ogb versions, in ``cache_dir``, else ``$DEEPGNN_CACHE``, else ``~/.cache/deepgnn``; never
beside the data files, which may be read-only or shared. A cache file that cannot be read
(truncated, overwritten) is parsed again from the CSV and replaced, with a logged warning.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepgnn._checks import check_int
from deepgnn._io import write_atomic
from deepgnn.data._dataset import GraphDataset
from deepgnn.data._files import find_in_root, plain_arrays, reading

__all__ = ["NAMES", "from_smiles", "load_moleculenet", "scaffold_split"]

log = logging.getLogger(__name__)

# registry name -> (file, label column)
_FILES = {"ogbg-molhiv": ("hiv.csv", "HIV_active"), "ogbg-molbbbp": ("bbbp.csv", "p_np")}
_SOURCE = "MoleculeNet, e.g. github.com/HICAI-ZJU/KANO data/"
#: The molecule datasets :func:`load_moleculenet` reads (MoleculeNet CSVs, extra ``chem``).
NAMES: tuple[str, ...] = tuple(_FILES)
_CACHE_VERSION = "1"


def _rdkit() -> tuple[Any, Any, Any]:
    try:
        from rdkit import Chem, RDLogger
        from rdkit.Chem.Scaffolds import MurckoScaffold
    except ImportError as err:
        raise ImportError(
            "molecule datasets need RDKit: pip install 'deepgnn[chem]' (or pip install rdkit)"
        ) from err
    return Chem, RDLogger, MurckoScaffold


def scaffold_split(
    scaffolds: Sequence[str], *, frac_train: float = 0.8, frac_valid: float = 0.1
) -> dict[str, np.ndarray]:
    """Deterministic scaffold split: whole scaffold sets go to train, then valid, then test.

    Molecules are grouped by Bemis-Murcko scaffold; the groups are taken from largest to
    smallest (ties: larger last index first) and each goes to train while train stays within
    ``frac_train`` of all molecules, else to valid while train + valid stay within
    ``frac_train + frac_valid``, else to test. This is ``scaffold_split`` of Hu, Liu, Gomes,
    Zitnik, Liang, Pande, Leskovec, "Strategies for Pre-training Graph Neural Networks",
    ICLR 2020 (arXiv 1905.12265), which made the splits of OGB's ``ogbg-mol*`` datasets.

    Args:
        scaffolds: the scaffold SMILES of each molecule (``""`` for acyclic ones).

    Returns:
        ``{"train", "valid", "test"}`` → sorted int64 molecule indices.

    Example:
        >>> s = scaffold_split(["a", "a", "a", "a", "b", "b", "c", "a", "b", "d"])
        >>> s["train"].tolist(), s["valid"].tolist(), s["test"].tolist()
        ([0, 1, 2, 3, 4, 5, 7, 8], [9], [6])
    """
    groups: dict[str, list[int]] = {}
    for i, s in enumerate(scaffolds):
        groups.setdefault(s, []).append(i)
    ordered = sorted(groups.values(), key=lambda g: (len(g), g[-1]), reverse=True)
    n = len(scaffolds)
    train_cut, valid_cut = frac_train * n, (frac_train + frac_valid) * n
    parts: dict[str, list[int]] = {"train": [], "valid": [], "test": []}
    for group in ordered:
        if len(parts["train"]) + len(group) > train_cut:
            if len(parts["train"]) + len(parts["valid"]) + len(group) > valid_cut:
                parts["test"] += group
            else:
                parts["valid"] += group
        else:
            parts["train"] += group
    return {k: np.sort(np.asarray(v, dtype=np.int64)) for k, v in parts.items()}


def _parse(smiles: Sequence[str]) -> dict[str, np.ndarray]:
    """smiles2graph every parsable SMILES; return concatenated arrays and the failed rows."""
    Chem, RDLogger, MurckoScaffold = _rdkit()
    from ogb.utils import smiles2graph
    from tqdm.auto import tqdm

    RDLogger.DisableLog("rdApp.*")  # one error line per unparsable SMILES otherwise
    try:
        node_feat: list[np.ndarray] = []
        edge_index: list[np.ndarray] = []
        edge_feat: list[np.ndarray] = []
        nodes, edges = [0], [0]  # running offsets: node_ptr, edge_ptr
        kept: list[int] = []
        failed: list[int] = []
        scaffolds: list[str] = []
        for i, s in enumerate(tqdm(smiles, desc="parsing SMILES", disable=None)):
            mol = Chem.MolFromSmiles(s) if isinstance(s, str) else None
            if mol is None:
                failed.append(i)
                continue
            g = smiles2graph(s)
            node_feat.append(g["node_feat"])
            edge_index.append(g["edge_index"])
            edge_feat.append(g["edge_feat"])
            nodes.append(nodes[-1] + g["num_nodes"])
            edges.append(edges[-1] + g["edge_index"].shape[1])
            kept.append(i)
            scaffolds.append(MurckoScaffold.MurckoScaffoldSmiles(mol=mol, includeChirality=True))
    finally:
        RDLogger.EnableLog("rdApp.*")
    if not kept:
        raise ValueError("no SMILES string could be parsed; check the input column")
    split = scaffold_split(scaffolds)
    return {
        "node_feat": np.concatenate(node_feat).astype(np.int64),
        "edge_index": np.concatenate(edge_index, axis=1).astype(np.int64),
        "edge_feat": np.concatenate(edge_feat).astype(np.int64),
        "node_ptr": np.asarray(nodes, dtype=np.int64),
        "edge_ptr": np.asarray(edges, dtype=np.int64),
        "kept": np.asarray(kept, dtype=np.int64),
        "failed": np.asarray(failed, dtype=np.int64),
        **split,
    }


def _build(name: str, arrays: dict[str, np.ndarray], labels: np.ndarray) -> GraphDataset:
    y = labels[arrays["kept"]]
    failed = arrays["failed"].tolist()
    if failed:
        log.warning(
            "%s: RDKit could not parse %d SMILES (rows %s); they are left out",
            name,
            len(failed),
            failed[:10] + (["..."] if len(failed) > 10 else []),
        )
    t = {k: torch.from_numpy(np.ascontiguousarray(arrays[k])) for k in arrays}
    return GraphDataset(
        name=name,
        node_feat=t["node_feat"],
        edge_index=t["edge_index"],
        edge_feat=t["edge_feat"],
        node_ptr=t["node_ptr"],
        edge_ptr=t["edge_ptr"],
        y=torch.from_numpy(y.astype(np.float32)),
        split_idx={k: t[k] for k in ("train", "valid", "test")},
        num_tasks=y.shape[1],
        num_failed=len(failed),
        failed=failed,
    )


def _labels(labels: object, n: int) -> np.ndarray:
    y = np.asarray(labels, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2 or y.shape[0] != n:
        raise ValueError(
            f"labels must have shape ({n},) or ({n}, num_tasks), one row per SMILES, got {y.shape}"
        )
    return y


def from_smiles(smiles: Sequence[str], labels: object, *, name: str = "molecules") -> GraphDataset:
    """Build a graph-classification dataset from SMILES strings and 0/1 labels.

    Args:
        smiles: one SMILES string per molecule.
        labels: ``(n,)`` or ``(n, num_tasks)`` 0/1 labels; NaN marks a missing label.
        name: dataset name (an ``ogbg-*`` name makes :meth:`GraphDataset.evaluate` use
            ``ogb``'s evaluator of that dataset).

    Returns:
        A :class:`~deepgnn.data.GraphDataset` with OGB atom/bond features and the scaffold
        split; unparsable SMILES are dropped and counted in ``num_failed``.

    Example:
        >>> ds = from_smiles(["CCO", "c1ccccc1", "not a molecule"], [0, 1, 0])
        >>> len(ds), ds.num_failed, ds.failed
        (2, 1, [2])
    """
    smiles = list(smiles)
    y = _labels(labels, len(smiles))
    return _build(name, _parse(smiles), y)


# The arrays _parse writes to the cache.
_CACHED = (
    "node_feat",
    "edge_index",
    "edge_feat",
    "node_ptr",
    "edge_ptr",
    "kept",
    "failed",
    "train",
    "valid",
    "test",
)


def _read_cache(file: Path, name: str) -> dict[str, np.ndarray] | None:
    """The cached arrays, or ``None`` (with a warning) when the cache file is unreadable."""
    try:
        with reading(file, fix="rebuilding it"), np.load(file, allow_pickle=False) as z:
            arrays = plain_arrays(z, _CACHED)
    except ValueError as err:
        # A cache is ours to rebuild (a run killed mid-write by an older version, a full
        # disk): parse the CSV again and overwrite it.
        log.warning("%s: %s from the CSV", name, err)
        return None
    return arrays


def _cache_dir(cache_dir: str | Path | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get("DEEPGNN_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "deepgnn"


def find_csv(root: Path, name: str) -> Path:
    """Return ``root/molecules/<file>`` or ``root/<file>`` for registry name ``name``."""
    file = _FILES[name][0]
    fix = (
        f"put MoleculeNet's {file} (columns smiles,{_FILES[name][1]}; e.g. from "
        "github.com/HICAI-ZJU/KANO data/) there"
    )
    return find_in_root(root, "molecules", file, dataset=name, fix=fix)


def load_moleculenet(
    name: str,
    root: str | Path,
    *,
    limit: int | None = None,
    cache: bool = True,
    cache_dir: str | Path | None = None,
) -> GraphDataset:
    """Load ``ogbg-molhiv`` (``hiv.csv``) or ``ogbg-molbbbp`` (``bbbp.csv``) from ``root``.

    Args:
        name: ``"ogbg-molhiv"`` or ``"ogbg-molbbbp"``.
        root: folder holding ``molecules/<file>.csv`` or ``<file>.csv``.
        limit: use only the first ``limit`` rows of the CSV (the split is made on them).
        cache: read/write the parsed arrays in the cache (see the module docstring).
        cache_dir: cache folder; default ``$DEEPGNN_CACHE`` or ``~/.cache/deepgnn``.

    Returns:
        A :class:`~deepgnn.data.GraphDataset`; ``num_failed`` counts the SMILES that RDKit
        could not parse (7 of HIV's 41,127 with RDKit 2025+).

    Raises:
        FileNotFoundError: the CSV is absent; the message says where it was looked for.
        ValueError: the CSV is empty, not text, or lacks the SMILES or the label column (the
            message names it). An unreadable cache file is not an error: it is rebuilt from
            the CSV, with a logged warning.
        ImportError: RDKit is not installed (``pip install 'deepgnn[chem]'``).
    """
    import pandas as pd

    if limit is not None:
        check_int("limit", limit, minimum=1)
    path = find_csv(Path(root), name)
    column = _FILES[name][1]
    fix = f"re-download {path.name} ({_SOURCE})"
    with reading(path, fix=fix):
        table = pd.read_csv(path, nrows=limit)
    if "smiles" not in table.columns or column not in table.columns:
        raise ValueError(
            f"{path} has columns {list(table.columns)}; expected 'smiles' and {column!r}: {fix}"
        )
    with reading(path, fix=fix):
        labels = _labels(table[column].to_numpy(), len(table))
    arrays = None
    if cache:
        import ogb
        from rdkit import rdBase

        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        key = f"{_CACHE_VERSION}|{name}|{limit}|{rdBase.rdkitVersion}|{ogb.__version__}|{digest}"
        file = _cache_dir(cache_dir) / (
            f"{name}-{hashlib.sha256(key.encode()).hexdigest()[:20]}.npz"
        )
        if file.is_file():
            log.info("%s: reading parsed molecules from %s", name, file)
            arrays = _read_cache(file, name)
    if arrays is None:
        arrays = _parse(table["smiles"].tolist())
        if cache:
            try:
                write_atomic(file, lambda f: np.savez(f, allow_pickle=False, **arrays))
            except OSError as err:
                log.warning("%s: could not write the cache %s (%s)", name, file, err)
    return _build(name, arrays, labels)
