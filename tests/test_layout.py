"""The package's layers, checked from the source: each imports only the layers beneath it.

Every module of ``earnorm_aop`` belongs to one layer, named by its folder (a
module at the package root is the public face).  These tests read every
module's imports -- ``if TYPE_CHECKING:`` blocks and imports inside functions
included, since a reader follows those too -- so an import from a lower layer
into a higher one, or an import cycle between modules, fails here rather than
in a reader's head.  docs/architecture.md describes the layers.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path

import pytest

import earnorm_aop

PACKAGE = Path(earnorm_aop.__file__).parent

# Bottom to top.  A module may import from its own layer and the ones before it.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("errors", ("errors",)),
    ("engine", ("weaving",)),
    ("adapter protocol", ("adapters",)),
    ("plugin layer", ("plugin_system",)),
    ("operators' runtime", ("runtime",)),
    ("built-in plugins", ("plugins",)),
    ("integrations", ("integrations",)),
    ("public face", ("", "__main__", "_wiring", "cli", "pytest_plugin", "testing")),
)

# Modules longer than this must be one concept that reads top to bottom; the
# ones that are say why here.
MAX_LINES = 500
LONG_MODULES = {
    "weaving/codegen.py": "one concept: the source writer, a method per part of a dispatcher",
    "weaving/rebuild.py": "one procedure: rebuilding a class's plans after a change",
    "integrations/sqlalchemy/statements.py": "one concept: advice on Core/ORM statements",
    "integrations/sqlalchemy/adapter.py": "the SQLAlchemy adapter, one method per operation",
    "testing/_sqlalchemy.py": "one backend of the kit: its SQLAlchemy operations, sync and async",
    "integrations/django/adapter.py": "the Django adapter, one method per operation",
    "weaving/advice.py": "one concept: how an advice function is read and its parameters bound",
}


def _module_name(path: Path) -> str:
    parts = ["earnorm_aop", *path.relative_to(PACKAGE).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _path_of(module: str) -> Path | None:
    rel = Path(*module.split(".")[1:])
    for candidate in (PACKAGE / rel.with_suffix(".py"), PACKAGE / rel / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _imports(path: Path) -> set[str]:
    """Modules of earnorm_aop that ``path`` imports, anywhere in its source."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
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
    found.discard(name)
    return found


def _graph() -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for p in PACKAGE.rglob("*.py")}


def layer_of(module: str) -> int:
    """The rank of ``module``'s layer (0 = bottom); KeyError for a folder no layer names."""
    parts = module.split(".")[1:]
    head = parts[0] if parts else ""
    for rank, (_, folders) in enumerate(LAYERS):
        if head in folders:
            return rank
    raise KeyError(module)


def upward_imports(graph: Mapping[str, set[str]]) -> dict[str, list[str]]:
    """Each module's imports of a module in a higher layer."""
    found = {
        module: sorted(i for i in imports if layer_of(i) > layer_of(module))
        for module, imports in graph.items()
    }
    return {module: imports for module, imports in found.items() if imports}


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Import cycles between modules (depth-first, each back edge once).

    A package's ``__init__`` re-exports its modules and importing a module runs
    its package's ``__init__`` first, so edges into an enclosing package are
    not cycles.
    """
    edges = {
        m: {i for i in imports if i in graph and not m.startswith(i + ".") and i != "earnorm_aop"}
        for m, imports in graph.items()
        if m != "earnorm_aop"
    }
    found: list[list[str]] = []
    state: dict[str, int] = {}

    def walk(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                found.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                walk(nxt, stack)
        stack.pop()
        state[node] = 2

    for module in sorted(edges):
        if module not in state:
            walk(module, [])
    return found


def test_every_module_belongs_to_a_layer() -> None:
    unplaced = []
    for module in _graph():
        try:
            layer_of(module)
        except KeyError:
            unplaced.append(module)
    assert unplaced == []


def test_no_module_imports_from_a_layer_above_it() -> None:
    assert upward_imports(_graph()) == {}


def test_no_import_cycles_between_modules() -> None:
    assert cycles(_graph()) == []


def test_the_checks_catch_an_upward_import_and_a_cycle() -> None:
    """The two checks above on a made-up graph: they can fail."""
    graph = {
        "earnorm_aop.weaving.chain": {"earnorm_aop.plugin_system.registry"},
        "earnorm_aop.plugin_system.registry": {"earnorm_aop.plugin_system.spec"},
        "earnorm_aop.plugin_system.spec": {"earnorm_aop.plugin_system.registry"},
        "earnorm_aop.cli": {"earnorm_aop.weaving.chain"},
    }
    assert upward_imports(graph) == {
        "earnorm_aop.weaving.chain": ["earnorm_aop.plugin_system.registry"]
    }
    assert cycles(graph) == [
        [
            "earnorm_aop.plugin_system.registry",
            "earnorm_aop.plugin_system.spec",
            "earnorm_aop.plugin_system.registry",
        ]
    ]
    with pytest.raises(KeyError):
        layer_of("earnorm_aop.somewhere_new.module")


def test_no_module_is_longer_than_one_reading_unless_it_says_why() -> None:
    long = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if len(path.read_text().splitlines()) > MAX_LINES
    }
    assert long <= set(LONG_MODULES), sorted(long - set(LONG_MODULES))


def test_the_package_root_holds_only_the_public_face() -> None:
    modules = sorted(p.name for p in PACKAGE.glob("*.py"))
    # _wiring.py: what __init__ plugs into the engine's extension points, once.
    assert modules == ["__init__.py", "__main__.py", "_wiring.py", "errors.py", "pytest_plugin.py"]


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
