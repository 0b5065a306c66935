"""No import cycles inside ``butterflyer``.

The graph is read from the source with :mod:`ast`, without importing anything.
Every ``import butterflyer...`` / ``from butterflyer... import`` counts, at module
level *and* inside functions: a deferred import hides a cycle from the
interpreter but not from the reader, and it is still two modules that each need
the other. Imports under ``if TYPE_CHECKING:`` count too (same reason).

An edge goes to the module named: ``from butterflyer.a import b`` points at
``butterflyer.a.b`` when that is a module, else at ``butterflyer.a``. The parent
packages that Python imports on the way are not edges: a package's
``__init__`` re-exporting its submodules is not a cycle with them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "butterflyer"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve_relative(current: str, is_package: bool, level: int, target: str | None) -> str:
    base = current.split(".") if is_package else current.split(".")[:-1]
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join(base + ([target] if target else []))


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """``{module: {modules of this package it imports}}`` for every ``.py`` file under ``root``."""
    files = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    graph: dict[str, set[str]] = {name: set() for name in files}
    prefix = root.name
    for name, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = _resolve_relative(name, path.name == "__init__.py", node.level, node.module)
                for alias in node.names:
                    child = f"{base}.{alias.name}"
                    targets.append(child if child in files else base)
            for target in targets:
                if target == prefix or target.startswith(prefix + "."):
                    # "import butterflyer.a.b" names a module; keep the longest known prefix
                    while target not in files and "." in target:
                        target = target.rsplit(".", 1)[0]
                    if target in files and target != name:
                        graph[name].add(target)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_the_package_has_no_import_cycles() -> None:
    graph = import_graph()
    assert len(graph) > 50, "the package's modules were not found"
    cycles = find_cycles(graph)
    assert not cycles, "import cycles (move the shared piece into its own module): " + "; ".join(
        " <-> ".join(c) for c in cycles)


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.mark.parametrize("b_source", [
    "from pkg.a import x\n",                        # module level
    "def f():\n    from pkg import a\n",             # deferred, inside a function
    "def f():\n    import pkg.a\n",                  # plain import of a submodule
    "from . import a\n",                             # relative
])
def test_a_cycle_is_found_however_the_import_is_written(tmp_path: Path, b_source: str) -> None:
    root = _write(tmp_path / "pkg", {"__init__.py": "", "a.py": "from pkg.b import y\nx = 1\n",
                                     "b.py": b_source + "y = 2\n"})
    assert find_cycles(import_graph(root)) == [["pkg.a", "pkg.b"]]


def test_a_package_init_reexporting_its_modules_is_not_a_cycle(tmp_path: Path) -> None:
    root = _write(tmp_path / "pkg", {"__init__.py": "", "sub/__init__.py": "from pkg.sub.a import x\n",
                                     "sub/a.py": "x = 1\n", "c.py": "from pkg.sub import x\n"})
    graph = import_graph(root)
    assert graph["pkg.c"] == {"pkg.sub"} and graph["pkg.sub"] == {"pkg.sub.a"}
    assert find_cycles(graph) == []
