"""The layout's rules, read from the source (issue 18; docs/architecture.md "Layers"): which part may import
which, no import cycle, and the size limits that keep each module about one thing.

Imports are read with ``ast`` from every module under src/booksync, those inside functions included (a
deferred import is still a dependency). A rule broken here names the importing module, the line and the
module it imports, so the fix is clear: move the code to the layer where it belongs, or pass the value in.
"""
from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "booksync"

FOUNDATION = {"booksync", "domain", "kinds", "errors", "fields", "money", "account_rules", "exits", "faults",
              "attempts", "logfile", "vault", "config", "records", "demo"}
"""Modules (and the demo package) every part may use; they import only each other."""

FACES = {"cli", "web", "webconnector"}

MAY_IMPORT: dict[str, set[str]] = {
    "foundation": set(),
    "qbxml": set(),
    "store": set(),
    "simulator": {"qbxml"},
    "sources": {"store"},
    "books": {"qbxml", "simulator"},
    "qbo_double": set(),
    "reports": {"store", "books"},
    "sync": {"store", "sources", "books", "reports"},
    "services": {"sync", "store", "sources", "books", "reports", "qbxml", "simulator"},
    "cli": {"services", "store", "sources", "books", "reports", "qbxml", "simulator", "qbo_double"},
    "web": {"services", "store", "sources", "books", "reports"},
    "webconnector": {"services", "store", "books", "reports", "qbxml"},
    "server": {"web", "webconnector", "services", "store", "books"},
}
"""For each part, the parts above the foundation it may import (besides itself and the foundation).

The faces (cli, web, webconnector) import none of each other and never ``booksync.sync``: a run is started,
confirmed or undone through ``booksync.services``. ``server`` is the composition root that serves the web
interface and the Web Connector together."""

GENERATED = {"booksync/qbxml/schema.py"}
"""Written by tools/gen_qbxml_schema.py from Intuit's schema; not held to the size limits."""
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 60


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(SRC).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _part(module: str) -> str:
    """The part a module belongs to: its first package under booksync, "foundation" for the shared base."""
    head = module.split(".")[1] if "." in module else "booksync"
    return "foundation" if head in FOUNDATION else head


def _imports(module: str, path: Path) -> list[tuple[int, str]]:
    """(line, module imported) for every booksync module ``module`` imports, relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # "from booksync.books import registry" imports the module booksync.books.registry
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        found += [(node.lineno, t) for t in targets if t == "booksync" or t.startswith("booksync.")]
    return found


GRAPH: dict[str, list[tuple[int, str]]] = {m: _imports(m, p) for m, p in MODULES.items()
                                            if ".migrations." not in m}


def _resolve(target: str) -> str | None:
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or None


def test_each_part_imports_only_what_is_below_it():
    wrong = []
    for module, imports in GRAPH.items():
        part = _part(module)
        allowed = MAY_IMPORT.get(part)
        assert allowed is not None, f"{module} is in a part the layering rules do not know: add it to MAY_IMPORT"
        for line, target in imports:
            other = _part(target)
            if other in (part, "foundation"):
                continue
            if other not in allowed:
                wrong.append(f"{MODULES[module].relative_to(SRC)}:{line} ({part}) imports {target} ({other})")
    assert not wrong, "imports against the layering (docs/architecture.md \"Layers\"):\n" + "\n".join(
        sorted(set(wrong)))


def test_the_faces_import_none_of_each_other_nor_the_sync_engine():
    wrong = [f"{MODULES[m].relative_to(SRC)}:{line} imports {t}" for m, imports in GRAPH.items()
             if _part(m) in FACES for line, t in imports
             if (_part(t) in FACES and _part(t) != _part(m)) or _part(t) == "sync"]
    assert not wrong, "a face imports another face or the engine directly (use booksync.services):\n" + \
        "\n".join(sorted(set(wrong)))


def test_there_is_no_import_cycle():
    edges: dict[str, set[str]] = defaultdict(set)
    for module, imports in GRAPH.items():
        for _, target in imports:
            resolved = _resolve(target)
            # a package's __init__ is imported on the way to any of its modules; that is no dependency
            if resolved and resolved != module and not module.startswith(resolved + "."):
                edges[module].add(resolved)
    cycles, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def _sized() -> list[Path]:
    return [p for m, p in sorted(MODULES.items()) if ".migrations." not in m
            and str(p.relative_to(SRC)) not in GENERATED]


def test_no_module_is_longer_than_600_lines():
    long = [f"{p.relative_to(SRC)}: {n} lines" for p in _sized()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES]
    assert not long, f"modules over {MAX_MODULE_LINES} lines (split by responsibility):\n" + "\n".join(long)


def test_no_function_is_longer_than_60_lines():
    long = []
    for path in _sized():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if (n := node.end_lineno - node.lineno + 1) > MAX_FUNCTION_LINES:  # def line to last line
                    long.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name}: {n} lines")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(long)


@pytest.mark.parametrize("source, expected", [
    ("from booksync.sync.run import synchronize\n", "booksync.sync"),
    ("def f():\n    from booksync.web import app\n", "booksync.web"),
    ("from ..sync import planner\n", "booksync.sync"),
])
def test_the_rules_see_absolute_deferred_and_relative_imports(tmp_path, source, expected):
    """The checker itself: an import it could not see would let a wrong-way arrow through."""
    path = tmp_path / "probe.py"
    path.write_text(source)
    seen = [t for _, t in _imports("booksync.cli.probe", path)]
    assert any(t == expected or t.startswith(expected + ".") for t in seen), seen
