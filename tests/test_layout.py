"""The package's layers: no import cycles, and one module that talks aiohttp."""

from __future__ import annotations

import ast
import pathlib

import postman_async

PACKAGE = pathlib.Path(postman_async.__file__).parent


def _imports(path: pathlib.Path, package: str) -> set[str]:
    """Modules of the package that ``path`` imports (type-checking imports included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    here = package.split(".")
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.startswith("postman_async"):
                found.add(target)
                for alias in node.names:
                    found.add(f"{target}.{alias.name}")
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("postman_async"))
    return found


def _modules() -> dict[str, pathlib.Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return modules


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        graph[name] = {m for m in _imports(path, package) if m in modules and m != name}
    return graph


def test_no_import_cycles() -> None:
    graph = _graph()
    # __init__ modules re-export their children; a child importing its parent package is
    # importing names the parent re-exports, so walk without the parents' own edges back.
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_only_the_transport_imports_aiohttp() -> None:
    importers = set()
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and not node.level
                else []
            )
            if any(n == "aiohttp" or n.startswith("aiohttp.") for n in names):
                importers.add(path.name)
    assert importers == {"_transport.py"}


def test_client_and_campaign_modules_stay_small() -> None:
    for name in ("_client.py", "_campaign.py"):
        lines = (PACKAGE / name).read_text(encoding="utf-8").count("\n")
        assert lines < 500, f"{name} has {lines} lines"
