"""The mock's modules: no import cycles, and no names borrowed from the client."""

from __future__ import annotations

import ast
import pathlib

import postman_async.testing as testing

PACKAGE = pathlib.Path(testing.__file__).parent
CLIENT = PACKAGE.parent


def _imports(path: pathlib.Path) -> set[str]:
    """Sibling modules ``path`` imports, type-checking-only imports included."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
    return found


def test_no_import_cycles_in_testing() -> None:
    graph = {path.stem: _imports(path) for path in PACKAGE.glob("*.py")}
    state: dict[str, str] = {}

    def visit(module: str, trail: list[str]) -> None:
        if state.get(module) == "done":
            return
        assert state.get(module) != "open", " -> ".join([*trail, module])
        state[module] = "open"
        for imported in sorted(graph.get(module, set())):
            visit(imported, [*trail, module])
        state[module] = "done"

    for module in sorted(graph):
        visit(module, [])


def test_no_module_or_class_shares_a_name_with_the_client() -> None:
    client_modules = {path.stem for path in CLIENT.glob("_*.py")}
    mock_modules = {path.stem for path in PACKAGE.glob("_*.py")}
    # testing/_transport.py is the test double of the client's _transport.py, by design.
    paired = {"__init__", "__main__", "_transport"}
    assert not (client_modules & mock_modules) - paired

    def classes(paths: list[pathlib.Path]) -> set[str]:
        return {
            node.name
            for path in paths
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.ClassDef)
        }

    shared = classes(list(CLIENT.glob("_*.py"))) & classes(list(PACKAGE.glob("*.py")))
    assert not shared
