"""The package's import graph points one way: no cycles, no private names across modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "deepgnn"


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, list[tuple[str, str | None, int]]]:
    """module -> [(imported module, imported name or None, line)] for every deepgnn import."""
    out: dict[str, list[tuple[str, str | None, int]]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        mod = _module(path)
        found = out.setdefault(mod, [])
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found += [
                    (a.name, None, node.lineno) for a in node.names if a.name.startswith("deepgnn")
                ]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("deepgnn"):
                found += [(node.module, a.name, node.lineno) for a in node.names]
    return out


def _target(imports: dict, module: str, name: str | None) -> str:
    """The module an import reaches: ``from pkg import sub`` reaches ``pkg.sub``."""
    if name is not None and f"{module}.{name}" in imports:
        return f"{module}.{name}"
    return module


def test_no_import_cycles():
    imports = _imports()
    graph = {m: {_target(imports, t, n) for t, n, _ in v} - {m} for m, v in imports.items()}
    # A package's __init__ re-exporting its own submodules is not a cycle of the architecture.
    for m, targets in graph.items():
        graph[m] = {t for t in targets if not t.startswith(m + ".")}
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for t in sorted(graph.get(m, ())):
            if state.get(t) == 1:
                pytest.fail("import cycle: " + " -> ".join(path[path.index(t) :] + [t]))
            if t in graph and t not in state:
                visit(t, [*path, t])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])


def test_no_private_names_across_modules():
    imports = _imports()
    bad = []
    for mod, found in imports.items():
        for target, name, line in found:
            reached = _target(imports, target, name)
            parts = reached.split(".")
            private = [i for i, p in enumerate(parts) if i and p.startswith("_")]
            if private and private[0] > 1:  # deepgnn._io, deepgnn._checks: shared internals
                parent = ".".join(parts[: private[0]])
                if mod != parent and not mod.startswith(parent + "."):
                    bad.append(f"{mod}:{line} imports private module {reached}")
            if name is not None and name.startswith("_") and reached == target and target != mod:
                bad.append(f"{mod}:{line} imports {name} from {target}")
    assert not bad, "\n".join(bad)
