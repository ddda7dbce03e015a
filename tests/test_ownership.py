"""No module names a plugin it does not own, read from the source.

A plugin is named by the module that defines it (``plugins/cache.py`` and its
helpers ``plugins/cache_*.py``) and by the plugins that declare they require
it (``requires = ("changes",)``).  Everyone else knows a plugin by what it
does: the plugin layer weaves the services it needs by role
(``plugin_system/services.py``), an integration provides what one plugin needs
as a capability under the capability's name (``adapters/capabilities.py``).
This test reads every module for a string that is a built-in plugin's name,
outside docstrings; the few that are the same word used for something else
are listed with what they are.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import earnorm_aop

PACKAGE = Path(earnorm_aop.__file__).parent

BUILT_INS = ("audit", "cache", "changes", "lifecycle", "softdelete", "timestamp", "validation")

# (module, word) -> what the word names there, when it is not the plugin.
SAME_WORD: dict[tuple[str, str], str] = {
    ("plugin_system/conditions.py", "changes"): "the advice parameter named changes",
    ("integrations/django/models.py", "changes"): "the audit record's changes column",
    ("integrations/django/admin.py", "changes"): "the audit record's changes column",
    ("integrations/django/migrations/0001_initial.py", "changes"): "the audit table's column",
    ("integrations/sqlalchemy/audit.py", "changes"): "the audit table's column",
    ("testing/_django.py", "changes"): "the audit record's changes column",
    ("testing/_sqlalchemy.py", "changes"): "the audit record's changes column",
    ("testing/_earnorm.py", "changes"): "the audit record's changes column",
    ("plugins/audit.py", "changes"): "the audit record's changes column",
    ("plugins/lifecycle.py", "changes"): "the after_change payload's changes",
    ("plugins/lifecycle_specialised.py", "changes"): "the after_change payload's changes",
}

# What is still to do: nothing listed.
NOT_YET: dict[tuple[str, str], str] = {}


def _rel(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def _owner(rel: str) -> str | None:
    """The built-in plugin ``rel`` (a path under the package) belongs to, if any."""
    parts = Path(rel).parts
    if len(parts) != 2 or parts[0] != "plugins":
        return None
    stem = Path(parts[1]).stem.lstrip("_")
    for name in BUILT_INS:
        if stem == name or stem.startswith(f"{name}_"):
            return name
    return None


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _requirements(tree: ast.AST) -> set[int]:
    """The constants of ``requires = (...)`` declarations: a plugin names what it needs."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "requires" for t in node.targets
        ):
            found.update(id(c) for c in ast.walk(node.value) if isinstance(c, ast.Constant))
    return found


def names_of_plugins(source: str, rel: str) -> list[tuple[int, str]]:
    """``(line, name)`` of each built-in's name ``source`` (module ``rel``) should not write."""
    tree = ast.parse(source, rel)
    skip = _docstrings(tree) | _requirements(tree)
    owner = _owner(rel)
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and node.value in BUILT_INS
        and id(node) not in skip
        and node.value != owner
        and (rel, node.value) not in SAME_WORD
        and (rel, node.value) not in NOT_YET
    ]


def test_no_module_names_a_plugin_it_does_not_own() -> None:
    found = {
        rel: names
        for path in sorted(PACKAGE.rglob("*.py"))
        if (names := names_of_plugins(path.read_text(), rel := _rel(path)))
    }
    assert not found, found


@pytest.mark.parametrize(
    ("rel", "source", "expected"),
    [
        # The plugin layer weaving the tracking by name, as model.py once did.
        ("plugin_system/model.py", 'x = reg.aspect_for("changes", model, {})', [(1, "changes")]),
        # An integration asking for a plugin on a model.
        ("integrations/memory/__init__.py", 'is_woven(model, "cache")', [(1, "cache")]),
        # A plugin naming another outside its requirements.
        ("plugins/audit.py", 'if a.name == "timestamp": pass', [(1, "timestamp")]),
        # What is allowed: its own name, a requirement, a docstring.
        ("plugins/cache_rows.py", 'NAME = "cache"', []),
        ("plugins/audit.py", 'class A:\n    requires = ("changes", "lifecycle")', []),
        ("adapters/base.py", 'def f():\n    "Used by the cache plugin: cache"', []),
    ],
)
def test_the_check_catches_a_plugin_named_by_another_module(
    rel: str, source: str, expected: list[tuple[int, str]]
) -> None:
    assert names_of_plugins(source, rel) == expected


def test_the_built_ins_are_the_entry_points() -> None:
    import importlib.metadata

    found = {
        ep.name
        for ep in importlib.metadata.entry_points(group="earnorm_aop.plugins")
        if ep.value.startswith("earnorm_aop.")
    }
    assert found == set(BUILT_INS)


def test_every_listed_exception_is_still_in_its_module() -> None:
    """An exception no module needs any more is taken off the lists."""
    for rel, word in [*SAME_WORD, *NOT_YET]:
        tree = ast.parse((PACKAGE / rel).read_text(), rel)
        skip = _docstrings(tree)
        assert any(
            isinstance(n, ast.Constant) and n.value == word and id(n) not in skip
            for n in ast.walk(tree)
        ), (rel, word)
