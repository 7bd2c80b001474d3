"""The documentation's API check: every public module, name and method has a docstring.

`make docs` fails on the same check (docs/_ext/deepgnn_docs.py); this test says it sooner,
where Sphinx is installed (the `docs` extra), since the check reads `#:` comments with
Sphinx's source analyzer.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

EXT = Path(__file__).resolve().parents[1] / "docs" / "_ext"


@pytest.fixture(scope="module")
def docs_ext():
    pytest.importorskip("sphinx", reason="the docstring check reads `#:` comments with Sphinx")
    sys.path.insert(0, str(EXT))
    try:
        import deepgnn_docs

        yield deepgnn_docs
    finally:
        sys.path.remove(str(EXT))


def test_every_public_name_has_a_docstring(docs_ext):
    assert docs_ext.missing_docstrings() == []


def test_each_public_name_is_documented_once_under_a_public_module(docs_ext):
    api = docs_ext.collect()
    assert "deepgnn.sweep.config" in api.modules and "deepgnn.models._base" not in api.modules
    homes = {}
    for entries in api.listed.values():
        for e in entries:
            if e.kind != "data":
                homes.setdefault(id(e.obj), set()).add(e.target)
    assert all(len(targets) == 1 for targets in homes.values())
    # re-exports and private definitions resolve to the documented name
    assert api.targets["deepgnn.Graph"] == "deepgnn.graph.Graph"
    assert api.targets["deepgnn.models._base.GNN"] == "deepgnn.models.GNN"


def test_api_pages_put_each_module_in_one_toctree(tmp_path, monkeypatch):
    # before: the index and the deepgnn page both listed deepgnn.sweep, ...: the sidebar
    # showed every module twice. Data entries' summaries need Sphinx's source analyzer,
    # which this check does not: they read as empty.
    import collections
    import re

    sys.path.insert(0, str(EXT))
    try:
        import deepgnn_docs
    finally:
        sys.path.remove(str(EXT))
    monkeypatch.setattr(deepgnn_docs, "attr_docs", lambda *args, **kwargs: {})
    api = deepgnn_docs.collect()
    deepgnn_docs.write_pages(api, tmp_path)
    listed = collections.Counter()
    for page in tmp_path.glob("*.rst"):
        toctrees = re.findall(r"\.\. toctree::\n(?:   :.*\n)*\n((?:   \S.*\n)+)", page.read_text())
        listed.update(line.strip() for block in toctrees for line in block.splitlines())
    assert set(listed) == set(api.modules)  # every module reachable
    assert max(listed.values()) == 1, {m: n for m, n in listed.items() if n > 1}


def test_type_variables_of_signatures_are_recognized(docs_ext):
    # saved_tensor_bytes(fn: Callable[[], T]) -> tuple[T, int]: T is shown as text
    assert docs_ext.is_type_variable("deepgnn.bench.memory.T")
    assert docs_ext.is_type_variable("T", "deepgnn.bench.memory")
    assert not docs_ext.is_type_variable("deepgnn.bench.memory.saved_tensor_bytes")
    assert not docs_ext.is_type_variable("T", "deepgnn.graph")
    assert not docs_ext.is_type_variable("deepgnn.no_such_module.T")
