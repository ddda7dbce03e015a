"""The package's docstrings link the way the API reference renders them (mkdocstrings).

``[`ChainPlan`][earnorm_aop.weaving.chain.ChainPlan]``, not Sphinx roles such as
``:class:`ChainPlan```, which nothing here renders; and every link's target
exists, so a rename that leaves a link dangling fails here.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

import earnorm_aop

PACKAGE = Path(earnorm_aop.__file__).parent
FILES = sorted(PACKAGE.rglob("*.py"))
# It strips Sphinx roles from plugins' docstrings for the terminal: its own
# docstrings show the roles it strips.
SHOWS_ROLES = {PACKAGE / "cli" / "_text.py"}
_ROLE = re.compile(r":(?:mod|class|func|meth|data|attr|exc|obj|ref):`")
_LINK = re.compile(r"\]\[(earnorm_aop[\w.]*)\]")


def _exists(dotted: str) -> bool:
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        module = ".".join(parts[:i])
        try:
            found: object = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name and not exc.name.startswith("earnorm_aop"):
                # A module of an integration whose ORM is not installed here
                # (EarnORM needs Python 3.12): read from its file instead.
                return _defined_in_file(dotted)
            continue
        for name in parts[i:]:
            if not hasattr(found, name):
                return False
            found = getattr(found, name)
        return True
    return False


def _defined_in_file(dotted: str) -> bool:
    """Whether the package's files define ``dotted``: a module, then a class, then its members."""
    parts = dotted.split(".")[1:]
    for i in range(len(parts), -1, -1):
        relative = Path(*parts[:i]) if i else Path()
        for path in (
            PACKAGE / relative.with_suffix(".py") if i else None,
            PACKAGE / relative / "__init__.py",
        ):
            if path is not None and path.exists():
                return _defines_names(path, parts[i:])
    return False


def _defines_names(path: Path, names: list[str]) -> bool:
    body: list[ast.stmt] = ast.parse(path.read_text()).body
    for name in names:
        found = [n for n in body if _defines(n, name)]
        if not found:
            return False
        body = found[0].body if isinstance(found[0], ast.ClassDef) else []
    return True


def _defines(node: ast.stmt, name: str) -> bool:
    if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
        return node.name == name
    if isinstance(node, ast.ImportFrom | ast.Import):
        return any((alias.asname or alias.name) == name for alias in node.names)
    targets = node.targets if isinstance(node, ast.Assign) else []
    if isinstance(node, ast.AnnAssign):
        targets = [node.target]
    return any(isinstance(t, ast.Name) and t.id == name for t in targets)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_no_sphinx_roles_and_every_link_resolves(path: Path) -> None:
    text = path.read_text()
    if path not in SHOWS_ROLES:
        assert not _ROLE.findall(text), f"{path.name}: a Sphinx role; link as [`name`][dotted.path]"
    dangling = [target for target in _LINK.findall(text) if not _exists(target)]
    assert dangling == []


def test_the_check_tells_a_dangling_link() -> None:
    assert _exists("earnorm_aop.weaving.chain.ChainPlan")
    assert not _exists("earnorm_aop.weaving.chain.NoSuchPlan")
    assert _defined_in_file("earnorm_aop.weaving.chain.ChainPlan.build")
    assert _defined_in_file("earnorm_aop.weaving")
    assert not _defined_in_file("earnorm_aop.weaving.chain.ChainPlan.no_such_method")
    assert not _defined_in_file("earnorm_aop.weaving.chain.NoSuchPlan")
