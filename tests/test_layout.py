"""The package's layers, checked from the source: the engine imports nothing above it.

``earnorm_aop/weaving/`` is the engine; the plugin layer, the built-ins and the
integrations sit on top of it.  These tests read every module's imports (run
time ones: ``if TYPE_CHECKING:`` blocks excluded, imports inside functions
included) so a shortcut from the engine into an upper layer, or an import cycle
between modules, fails here rather than in a reader's head.
"""

from __future__ import annotations

import ast
from pathlib import Path

import earnorm_aop

PACKAGE = Path(earnorm_aop.__file__).parent


def _module_name(path: Path) -> str:
    parts = ["earnorm_aop", *path.relative_to(PACKAGE).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path) -> set[str]:
    """Modules of earnorm_aop that ``path`` imports at run time."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("earnorm_aop"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.startswith("earnorm_aop"):
                found.add(module)
                # ``from . import weaver`` imports a module, not a name
                for alias in node.names:
                    candidate = f"{module}.{alias.name}"
                    if _path_of(candidate) is not None:
                        found.add(candidate)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    found.discard(name)
    return found


def _path_of(module: str) -> Path | None:
    rel = Path(*module.split(".")[1:])
    for candidate in (PACKAGE / rel.with_suffix(".py"), PACKAGE / rel / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _graph() -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for p in PACKAGE.rglob("*.py")}


def test_the_engine_imports_nothing_from_the_layers_above_it() -> None:
    allowed = ("earnorm_aop.weaving", "earnorm_aop.errors")
    offenders = {
        module: sorted(i for i in imports if not i.startswith(allowed))
        for module, imports in _graph().items()
        if module.startswith("earnorm_aop.weaving")
    }
    assert {m: i for m, i in offenders.items() if i} == {}


def test_no_import_cycles_between_modules() -> None:
    graph = _graph()
    # A package's __init__ re-exports its modules; importing a module runs
    # its package's __init__ first, so edges into a package are not cycles.
    edges = {
        m: {i for i in imports if i in graph and not m.startswith(i + ".") and i != "earnorm_aop"}
        for m, imports in graph.items()
        if m != "earnorm_aop"
    }
    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def walk(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                walk(nxt, stack)
        stack.pop()
        state[node] = 2

    for module in sorted(edges):
        if module not in state:
            walk(module, [])
    assert cycles == []


def test_no_package_attribute_shadows_a_module() -> None:
    """``import earnorm_aop.X`` must give the module X, not a same-named public object."""
    shadowed = [
        name
        for name in earnorm_aop.__all__
        if _path_of(f"earnorm_aop.{name}") is not None
        and not isinstance(getattr(earnorm_aop, name), type(earnorm_aop))
    ]
    assert shadowed == []
    # The registry module and the default registry instance are told apart.
    import earnorm_aop.plugin_system.registry as module

    assert module.PluginRegistry is earnorm_aop.PluginRegistry
    assert isinstance(earnorm_aop.registry, module.PluginRegistry)
