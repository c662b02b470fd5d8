"""The package layout stays a layering: no import circle between firstpoint's packages.

Each subpackage of ``firstpoint`` (``records``, ``notify``, ``events`` …) and each
top-level module (``firstpoint.settings`` …) is one node; a module importing another
node adds an edge, wherever the import statement is (module level, inside a
function, under ``TYPE_CHECKING``). The graph must have no cycle
(docs/architecture.md gives the intended order).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "firstpoint"
#: Packages whose modules import first-party code at module level only.
NO_LOCAL_IMPORTS = ("firstpoint.records", "firstpoint.notify", "firstpoint.events")
#: What a CLI command may import inside the command: modules that load the web stack
#: or Rasa, so that ``firstpoint --help`` and every other command stay quick.
COMMANDS_LAZY = frozenset({"firstpoint.console.app", "firstpoint.records.subject_access"})
#: Modules of those packages not yet brought to that rule (owned by the speed work).
LOCAL_IMPORTS_LEFT = ("firstpoint.records.tracker_store", "firstpoint.events.pika")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _node(module: str) -> str:
    """The package-level node of a module: ``firstpoint.<first part>``."""
    return ".".join(module.split(".")[:2])


def _imports(path: Path) -> list[tuple[str, int, bool]]:
    """(imported module, line, inside a function) for each first-party import in ``path``."""
    module = _module_name(path)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            local = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.Import):
                found.extend((alias.name, child.lineno, in_function) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package[: len(package) - child.level + 1]
                    name = ".".join([*base, *([child.module] if child.module else [])])
                else:
                    name = child.module or ""
                found.append((name, child.lineno, in_function))
            visit(child, local)

    visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return [item for item in found if item[0].split(".")[0] == "firstpoint"]


def package_graph() -> dict[str, dict[str, list[str]]]:
    """node -> imported node -> ["module:line", …] (edges inside one node left out)."""
    graph: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(PACKAGE.rglob("*.py")):
        source = _module_name(path)
        for target, line, _local in _imports(path):
            if _node(target) != _node(source):
                graph[_node(source)][_node(target)].append(f"{source}:{line}")
    return graph


def find_cycles(graph: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, {}):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in list(graph):
        if node not in index:
            visit(node)
    return cycles


def test_no_import_cycle_between_packages() -> None:
    graph = package_graph()
    cycles = find_cycles(graph)
    details = [
        f"{a} -> {b}: {', '.join(graph[a][b])}"
        for cycle in cycles for a in cycle for b in cycle if b in graph.get(a, {})
    ]
    assert cycles == [], "import cycles between packages:\n" + "\n".join(details)


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b": ["a.x:1"]}, "b": {"c": ["b.y:2"]}, "c": {"a": ["c.z:3"]},
             "d": {"a": ["d:1"]}}
    assert find_cycles(graph) == [["a", "b", "c"]]


def test_records_notify_and_events_import_first_party_code_at_module_level() -> None:
    """A function-local import hid the old circles; with the layering they are not needed."""
    local = [
        f"{_module_name(path)}:{line} imports {target}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if _module_name(path).startswith(NO_LOCAL_IMPORTS)
        and _module_name(path) not in LOCAL_IMPORTS_LEFT
        for target, line, in_function in _imports(path)
        if in_function
    ]
    assert local == []


def test_commands_import_inside_a_command_only_what_loads_rasa_or_the_web_stack() -> None:
    local = [
        f"{_module_name(path)}:{line} imports {target}"
        for path in sorted((PACKAGE / "commands").rglob("*.py"))
        for target, line, in_function in _imports(path)
        if in_function and target not in COMMANDS_LAZY
    ]
    assert local == []
