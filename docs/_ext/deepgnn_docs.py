"""Sphinx extension of deepgnn's docs: the API reference generated from each module's ``__all__``.

- ``public_modules()`` walks the package: every module without a ``_``-prefixed part is public.
- Each public name is documented once, under its *canonical* module (the public module that
  defines it, else the first public module whose ``__all__`` lists it); other modules that
  re-export it link there. ``builder-inited`` writes one page per module under
  ``generated/api/`` (not committed: the pages follow the code).
- ``missing_docstrings()`` lists every public module, name and public method without a
  docstring (module-level constants need a ``#:`` comment); each one is a build warning, and
  ``make docs`` runs with warnings as errors.
- Cross-references to the private module a name is defined in (``deepgnn.models._base.GNN``,
  as autodoc writes type hints) resolve to the public name it is documented under; a type
  variable of a signature (``Callable[[], T]``) is shown as text, as ``typing``'s names are.
- ``.. deepgnn-families::`` writes the table of model families from
  ``deepgnn.models.available()`` at build time.

Nothing here needs Sphinx at import time, so ``tests/test_docs.py`` can run the docstring check
alone.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import pkgutil
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PACKAGE = "deepgnn"


def _is_public(modname: str) -> bool:
    return not any(part.startswith("_") for part in modname.split("."))


def all_modules(package: str = PACKAGE) -> list[str]:
    """Every importable module of ``package``, private ones included, in walk order."""
    pkg = importlib.import_module(package)
    names = [package]
    for info in pkgutil.walk_packages(pkg.__path__, f"{package}.", onerror=lambda _: None):
        if info.name.rpartition(".")[2] != "__main__":  # importing it would run the CLI
            names.append(info.name)
    out = []
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:
            # e.g. the Triton kernels where triton is not installed: never public.
            if _is_public(name):
                raise
            continue
        out.append(name)
    return out


def public_modules(package: str = PACKAGE) -> list[str]:
    """The public modules: the package first, then by depth and name."""
    mods = [m for m in all_modules(package) if _is_public(m)]
    return sorted(mods, key=lambda m: (m != package, m.count("."), m))


def _assigned(modname: str) -> set[str]:
    """Names assigned at the top level of a module's source."""
    mod = importlib.import_module(modname)
    path = getattr(mod, "__file__", None)
    if not path:
        return set()
    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        for t in targets:
            for n in ast.walk(t):
                if isinstance(n, ast.Name):
                    names.add(n.id)
    return names


_ATTR_DOCS: dict[str, dict[tuple[str, str], list[str]]] = {}


def attr_docs(modname: str) -> dict[tuple[str, str], list[str]]:
    """``#:`` comments and docstrings after assignments, as Sphinx's analyzer reads them."""
    if modname not in _ATTR_DOCS:
        from sphinx.pycode import ModuleAnalyzer

        try:
            _ATTR_DOCS[modname] = dict(ModuleAnalyzer.for_module(modname).find_attr_docs())
        except Exception:  # no source (a compiled module)
            _ATTR_DOCS[modname] = {}
    return _ATTR_DOCS[modname]


def _kind(obj: Any) -> str:
    if inspect.ismodule(obj):
        return "module"
    if inspect.isclass(obj):
        return "class"
    if inspect.isfunction(obj) or inspect.isbuiltin(obj):
        return "function"
    return "data"


@dataclass
class Entry:
    """One public name: where it is documented and where it comes from."""

    name: str
    kind: str
    canonical: str  # the module whose page documents it
    origin: str  # the module whose source defines it (may be private)
    obj: Any = field(repr=False)

    @property
    def target(self) -> str:
        return f"{self.canonical}.{self.name}"


@dataclass
class Api:
    """The public API: modules in order, each one's entries, and the name of every object."""

    modules: list[str]
    listed: dict[str, list[Entry]]  # module -> the entries of its __all__, in order
    targets: dict[str, str]  # "origin.qualname" -> canonical target


def _data_origin(name: str, obj: Any, listing: str, every: list[str]) -> str:
    if name in _assigned(listing):
        return listing
    for mod in every:
        m = importlib.import_module(mod)
        if name in _assigned(mod) and getattr(m, name, None) is obj:
            return mod
    return listing


def collect(package: str = PACKAGE) -> Api:
    """Resolve every public module's ``__all__`` into entries with one canonical place each."""
    every = all_modules(package)
    mods = public_modules(package)
    public = set(mods)
    listed: dict[str, list[Entry]] = {}
    canonical_of: dict[int, str] = {}
    for mod in mods:
        m = importlib.import_module(mod)
        names = getattr(m, "__all__", None)
        if names is None:
            raise RuntimeError(f"{mod} is public but has no __all__")
        entries = []
        for name in names:
            obj = getattr(m, name)
            kind = _kind(obj)
            if kind == "module":
                continue
            if kind == "data":
                origin = _data_origin(name, obj, mod, every)
                home = origin if origin in public and name in _all(origin) else mod
                if name in _assigned(mod):
                    home = mod
            else:
                origin = obj.__module__
                if origin in public and name in _all(origin):
                    home = origin
                else:
                    home = canonical_of.setdefault(id(obj), mod)
            entries.append(Entry(name, kind, home, origin, obj))
        listed[mod] = entries
    targets: dict[str, str] = {}
    for mod, entries in listed.items():
        for e in entries:
            if e.kind in ("class", "function"):
                targets[f"{e.obj.__module__}.{e.obj.__qualname__}"] = e.target
            targets.setdefault(f"{e.origin}.{e.name}", e.target)
            # the re-exported spelling (`deepgnn.Graph`, `deepgnn.sweep.run`)
            targets.setdefault(f"{mod}.{e.name}", e.target)
    return Api(mods, listed, targets)


_HOOK_REF = re.compile(r":meth:`~?(_[A-Za-z]\w*)`")


def documented_hooks(cls: type) -> list[str]:
    """The private methods a class's docstring names with ``:meth:`` (a base class's hooks for
    subclasses, such as ``GNN._make_conv``): they are documented with the class."""
    doc = _own_doc(cls) or ""
    return [n for n in dict.fromkeys(_HOOK_REF.findall(doc)) if n in cls.__dict__]


def _all(modname: str) -> list[str]:
    return list(getattr(importlib.import_module(modname), "__all__", []))


def _own_doc(obj: Any) -> str | None:
    if inspect.isclass(obj):
        doc = obj.__dict__.get("__doc__")
        # a dataclass without a docstring gets its signature as one
        if doc and dataclasses.is_dataclass(obj) and doc.startswith(f"{obj.__name__}("):
            return None
        return doc
    return getattr(obj, "__doc__", None)


def _unwrap(value: Any) -> Any:
    if isinstance(value, property):
        return value.fget
    return getattr(value, "__func__", value)


def _public_methods(cls: type) -> list[tuple[str, Any]]:
    out = []
    for key, value in cls.__dict__.items():
        if key.startswith("_"):
            continue
        if isinstance(value, property):
            out.append((key, value.fget))
        elif isinstance(value, (classmethod, staticmethod)):
            out.append((key, value.__func__))
        elif inspect.isfunction(value):
            out.append((key, value))
    return out


def missing_docstrings(api: Api | None = None) -> list[str]:
    """Public modules, names and methods without a docstring, as ``deepgnn.x.y`` strings."""
    api = api or collect()
    missing = []
    for mod in api.modules:
        if not (importlib.import_module(mod).__doc__ or "").strip():
            missing.append(f"{mod} (module docstring)")
        for e in api.listed[mod]:
            if e.canonical != mod:
                continue
            if e.kind == "data":
                if not attr_docs(e.origin).get(("", e.name)):
                    missing.append(f"{e.target} (a '#:' comment above its assignment)")
                continue
            if not (_own_doc(e.obj) or "").strip():
                missing.append(e.target)
            if e.kind == "class":
                hooks = [(k, _unwrap(e.obj.__dict__[k])) for k in documented_hooks(e.obj)]
                for key, fn in _public_methods(e.obj) + hooks:
                    if not (getattr(fn, "__doc__", None) or "").strip():
                        missing.append(f"{e.target}.{key}")
    return missing


# --------------------------------------------------------------------------- page generation


def _heading(text: str, char: str = "=") -> list[str]:
    return [text, char * len(text), ""]


def module_page(api: Api, mod: str) -> str:
    """The reST page of one public module."""
    lines = [f".. _api-{mod}:", ""]
    lines += _heading(f"``{mod}``")
    lines += [f".. automodule:: {mod}", "   :no-members:", ""]
    entries = api.listed[mod]
    children = [m for m in api.modules if m.rpartition(".")[0] == mod]
    if entries:
        lines += [".. rubric:: Public names", "", ".. list-table::", "   :widths: 30 70", ""]
        for e in entries:
            role = {"class": "class", "function": "func", "data": "data"}[e.kind]
            lines += [f"   * - :py:{role}:`~{e.target}`", f"     - {summary(e)}"]
        lines.append("")
        here = [e for e in entries if e.canonical != mod]
        if here:
            names = ", ".join(f"``{e.name}``" for e in here)
            lines += [
                f"{names} {'is' if len(here) == 1 else 'are'} documented where "
                f"{'it is' if len(here) == 1 else 'they are'} defined (follow the links).",
                "",
            ]
    if children and "." not in mod:
        # The index's toctree holds the package's own modules: listed in a toctree here as
        # well, the sidebar would show each of them twice.
        lines += [".. rubric:: Submodules", ""]
        lines += [f"- :doc:`{child}`" for child in children]
        lines.append("")
    elif children:
        lines += [".. rubric:: Submodules", "", ".. toctree::", "   :maxdepth: 1", ""]
        lines += [f"   {child}" for child in children]
        lines.append("")
    own = [e for e in entries if e.canonical == mod]
    if own:
        lines += [".. rubric:: Reference", ""]
    for e in own:
        directive = {"class": "autoclass", "function": "autofunction", "data": "autodata"}[e.kind]
        lines += [f".. {directive}:: {e.target}"]
        if e.kind == "class" and documented_hooks(e.obj):
            lines.append(f"   :private-members: {', '.join(documented_hooks(e.obj))}")
        lines.append("")
    return "\n".join(lines)


def summary(e: Entry) -> str:
    """The first paragraph of an entry's docstring, on one line."""
    if e.kind == "data":
        doc = "\n".join(attr_docs(e.origin).get(("", e.name), []))
    else:
        doc = inspect.cleandoc(_own_doc(e.obj) or "")
    first = doc.strip().split("\n\n")[0]
    return " ".join(line.strip() for line in first.splitlines()) or "\\"


def write_pages(api: Api, outdir: Path) -> list[Path]:
    """Write ``<outdir>/<module>.rst`` for every public module and an ``index.rst``; files whose
    text is unchanged are left alone (Sphinx then does not rebuild them)."""
    outdir.mkdir(parents=True, exist_ok=True)
    pages = {f"{mod}.rst": module_page(api, mod) for mod in api.modules}
    top = [m for m in api.modules if m.count(".") <= 1]
    index = _heading("API reference")
    index += [
        "Generated from each public module's ``__all__`` at build time. Every public name is",
        "documented once, in the module that defines it; modules that re-export it link there.",
        "",
        ".. toctree::",
        "   :maxdepth: 1",
        "",
    ]
    index += [f"   {mod}" for mod in top]
    pages["index.rst"] = "\n".join(index) + "\n"
    written = []
    for name, text in pages.items():
        path = outdir / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        written.append(path)
    for stale in outdir.glob("*.rst"):
        if stale.name not in pages:
            stale.unlink()
    return written


# --------------------------------------------------------------------------- Sphinx hooks

_API: Api | None = None


def _builder_inited(app: Any) -> None:
    from sphinx.util import logging

    global _API
    log = logging.getLogger(__name__)
    _API = collect()
    write_pages(_API, Path(app.srcdir) / "generated" / "api")
    for name in missing_docstrings(_API):
        log.warning("public name without a docstring: %s", name, type="deepgnn", subtype="doc")


def _process_docstring(
    app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    # Module-level data: the `#:` comment where the value is assigned, even when a package
    # re-exports it (autodoc alone looks in the re-exporting module only).
    if what != "data" or _API is None:
        return
    mod, _, short = name.rpartition(".")
    for e in _API.listed.get(mod, []):
        if e.name == short:
            doc = attr_docs(e.origin).get(("", short))
            if doc:
                lines[:] = list(doc)
            return


def _resolve(name: str) -> str | None:
    """The documented target of ``name``, or of its longest documented prefix plus the rest
    (``deepgnn.Graph.drop_edges`` -> ``deepgnn.graph.Graph.drop_edges``)."""
    assert _API is not None
    parts = name.split(".")
    for k in range(len(parts), 0, -1):
        head = _API.targets.get(".".join(parts[:k]))
        if head:
            return ".".join([head, *parts[k:]])
    return None


def is_type_variable(name: str, modname: str = "") -> bool:
    """Whether ``name`` (dotted, or relative to ``modname``) is a ``TypeVar`` of deepgnn."""
    for full in (name, f"{modname}.{name}"):
        mod, _, attr = full.rpartition(".")
        if not mod.startswith(PACKAGE):
            continue
        try:
            obj = getattr(importlib.import_module(mod), attr, None)
        except ImportError:
            continue
        if isinstance(obj, typing.TypeVar):
            return True
    return False


def _missing_reference(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    if node.get("refdomain") != "py" or _API is None:
        return None
    target = node.get("reftarget", "")
    modname = node.get("py:module") or ""
    if is_type_variable(target, modname):
        return contnode  # a signature's type variable documents nothing to link to
    # the name as written, then relative to the module it was written in (a type hint under
    # `from __future__ import annotations`, a re-exported name) and to that module's packages
    candidates = [target]
    if modname.startswith(PACKAGE):
        parts = modname.split(".")
        candidates += [f"{'.'.join(parts[:i])}.{target}" for i in range(len(parts), 0, -1)]
    found = [c for c in map(_resolve, candidates) if c]
    if modname.startswith(PACKAGE) and "." not in target:
        obj = getattr(importlib.import_module(modname), target, None)
        if obj is not None and hasattr(obj, "__qualname__"):
            hit = _API.targets.get(f"{obj.__module__}.{obj.__qualname__}")
            if hit:
                found.append(hit)
    domain = env.get_domain("py")
    for canonical in dict.fromkeys(found):
        new = node.deepcopy()
        new["reftarget"] = canonical
        ref = domain.resolve_xref(env, node["refdoc"], app.builder, "obj", canonical, new, contnode)
        if ref is not None:
            return ref
    return None


def _families_directive() -> Any:
    from docutils import nodes
    from docutils.statemachine import StringList
    from sphinx.util.docutils import SphinxDirective

    class Families(SphinxDirective):
        """A table of ``deepgnn.models.available()``: name, class, summary, own options."""

        def run(self) -> list[Any]:
            from deepgnn import models

            rows = [
                ".. list-table::",
                "   :header-rows: 1",
                "   :widths: 15 20 45 20",
                "",
                "   * - family",
                "     - class",
                "     - what it is",
                "     - options beyond ``build``'s",
            ]
            registry = {name: _family_class(name) for name in models.available()}
            for name, cls in registry.items():
                summary = (inspect.getdoc(cls) or "").split("\n\n")[0].replace("\n", " ")
                opts = models.options(name)
                opt_text = ", ".join(f"``{k}={v!r}``" for k, v in opts.items()) or "none"
                target = _API.targets.get(f"{cls.__module__}.{cls.__qualname__}") if _API else None
                ref = f":class:`~{target}`" if target else f"``{cls.__name__}``"
                rows += [
                    f"   * - ``{name}``",
                    f"     - {ref}",
                    f"     - {summary}",
                    f"     - {opt_text}",
                ]
            node = nodes.container()
            self.state.nested_parse(StringList(rows, source="deepgnn-families"), 0, node)
            return node.children

    return Families


def _family_class(name: str) -> type:
    from deepgnn import models

    # the registry's class for `name`: the public way in is build(), so build a small one with
    # the family's defaults (valid for every family by construction)
    return type(models.build(name, 4, 2, depth=2))


def setup(app: Any) -> dict[str, Any]:
    app.connect("builder-inited", _builder_inited)
    app.connect("autodoc-process-docstring", _process_docstring)
    app.connect("missing-reference", _missing_reference)
    app.add_directive("deepgnn-families", _families_directive())
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
