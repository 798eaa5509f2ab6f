"""The harness's layers: no import cycle between its subpackages, and an independent reference.

The import graph is read from the source with :mod:`ast` (top-level imports and those inside
functions alike: a deferred import is still a dependency). Nodes are the subpackages
(``conformance.peers``, ``conformance.targets``, ``conformance.checks``, ``conformance.reference``,
``conformance.reporting``) and each top-level module (``conformance.cli``, ``conformance.issued_tokens``...).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import conformance

PACKAGE_DIR = Path(conformance.__file__).parent
SUBPACKAGES = {"peers", "targets", "checks", "reference", "reporting"}

Edge = tuple[str, str]
"""``(importing module, imported module)``, both dotted names inside ``conformance``."""


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> Iterator[str]:
    """Every ``conformance`` module ``path`` imports, wherever the import statement is."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            yield source
            for alias in node.names:  # ``from conformance.reference import tls`` imports a module
                yield f"{source}.{alias.name}"


def _edges() -> list[Edge]:
    known = {_module_name(path) for path in PACKAGE_DIR.rglob("*.py")}
    edges: set[Edge] = set()
    for path in PACKAGE_DIR.rglob("*.py"):
        for imported in _imports(path):
            if imported in known and imported != _module_name(path):
                edges.add((_module_name(path), imported))
    return sorted(edges)


def _node(module: str) -> str:
    """``conformance.peers.eec`` -> ``conformance.peers``; ``conformance.cli`` stays itself."""
    parts = module.split(".")
    if len(parts) >= 2 and parts[1] in SUBPACKAGES:
        return ".".join(parts[:2])
    return module


def _cycles(edges: list[Edge]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan)."""
    graph: dict[str, set[str]] = {}
    for source, target in edges:
        a, b = _node(source), _node(target)
        graph.setdefault(a, set())
        graph.setdefault(b, set())
        if a != b:
            graph[a].add(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_the_import_graph_is_read() -> None:
    edges = _edges()
    assert ("conformance.reference.server", "conformance.reference.tls") in edges
    assert _node("conformance.peers.eec") == "conformance.peers"
    assert _node("conformance.issued_tokens") == "conformance.issued_tokens"


def test_no_import_cycle_between_subpackages() -> None:
    edges = _edges()
    problems = []
    for component in _cycles(edges):
        members = set(component)
        crossing = [
            f"{source} -> {target}"
            for source, target in edges
            if _node(source) in members and _node(target) in members and _node(source) != _node(target)
        ]
        problems.append(f"cycle between {', '.join(component)}:\n    " + "\n    ".join(crossing))
    assert not problems, "\n".join(problems)


def test_the_reference_shares_no_code_with_the_checker() -> None:
    forbidden = ("conformance.checks", "conformance.issued_tokens")
    leaks = [
        f"{source} -> {target}"
        for source, target in _edges()
        if _node(source) == "conformance.reference" and _node(target) in forbidden
    ]
    assert not leaks, "the reference ECS/EES must be independent of the checker's code, but:\n    " + "\n    ".join(
        leaks
    )
