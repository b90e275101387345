"""The package's import graph: data flows one way and has no cycles (no-one imports the CLI:
tests/commands/test_layout.py).

Read from the source with ast (nothing is imported), counting only module-level imports: an import
inside a function or under TYPE_CHECKING is how a lower stage names a later one's type or defers a
heavy module, and creates no cycle at import time.
"""

from __future__ import annotations

import ast
from pathlib import Path

import ci_toolkit

PACKAGE = Path(ci_toolkit.__file__).parent
# The pipeline's stages in the order data flows (docs/architecture.md); a module may import its own
# stage, earlier stages and the shared base, never a later stage.
STAGES = (
    "config",
    "services",
    "timing",
    "planning",
    "run",
    "pytest_plugin",
    "merge",
    "gate",
    "report",
    "publish",
    "scaffold",
    "commands",
)
BASE = ("errors", "console", "signals", "files", "lazy", "__init__", "__main__")
# (importer stage, imported stage): the one fact a lower stage takes from a later one, and why.
ALLOWED_BACKWARDS = {
    # The output-dir layout says which files a run clears; config refuses a `timings` path among them.
    ("config", "run"),
    # A service kind owns everything about itself, its config rules and defaults included: config asks
    # the kind (services/kinds) whether a credential or setting is valid, and builds ServiceSpecs.
    ("config", "services"),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def top_level_imports(path: Path) -> set[str]:
    """Modules of ci_toolkit imported when `path` is imported (module level, outside TYPE_CHECKING)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If):
            if not _is_type_checking(node):
                pending.extend(node.body)
            pending.extend(node.orelse)
        elif isinstance(node, ast.Try):
            pending.extend([*node.body, *node.orelse, *node.finalbody])
            for handler in node.handlers:
                pending.extend(handler.body)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("ci_toolkit"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ci_toolkit"):
            for alias in node.names:
                # `from ci_toolkit.run import layout` names the module ci_toolkit.run.layout; a package
                # importing its own submodule this way is no cycle.
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if _is_module(submodule) else node.module)
    return found


def _is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def graph() -> dict[str, set[str]]:
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {
        name: {dep for dep in top_level_imports(path) if dep in paths} - {name}
        for name, path in paths.items()
    }


def stage_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_no_import_cycle() -> None:
    deps = graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for dep in sorted(deps[node]):
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in on_stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            # A package's __init__ re-exporting its own modules is not a cycle a reader trips on.
            if len(component) > 1:
                cycles.append(sorted(component))

    for name in sorted(deps):
        if name not in index:
            visit(name)
    assert cycles == []


def test_data_flows_one_way() -> None:
    wrong = []
    for name, deps in sorted(graph().items()):
        here = stage_of(name)
        if here in BASE or here == "cli":
            continue
        for dep in sorted(deps):
            there = stage_of(dep)
            if there in BASE or there == here or (here, there) in ALLOWED_BACKWARDS:
                continue
            assert there in STAGES, f"{dep}: not in a known stage; add it to STAGES or BASE"
            if STAGES.index(there) > STAGES.index(here):
                wrong.append(f"{name} imports {dep} ({here} before {there})")
    assert wrong == []
