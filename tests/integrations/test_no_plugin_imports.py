"""The integrations know no built-in plugin: they import nothing from ``earnorm_aop/plugins/``.

An ORM's package maps operations, fields, state and transactions; what only
one plugin needs is that plugin's (issue 23).  What an integration shares with
a plugin lives below both: the rows plugins hide
(``earnorm_aop/adapters/visibility.py``), objects named by a dotted path
(``earnorm_aop/runtime/dotted.py``).  Read from the source, as the layout test
reads it: ``TYPE_CHECKING`` blocks and imports inside functions included.
"""

from __future__ import annotations

import ast
from pathlib import Path

import earnorm_aop

INTEGRATIONS = Path(earnorm_aop.__file__).parent / "integrations"


def _plugin_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            dots = "." * node.level
            if (
                module == "plugins"
                or module.startswith("plugins.")
                or "earnorm_aop.plugins" in module
            ):
                found.append(f"{dots}{module}")
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("earnorm_aop.plugins")]
    return found


def test_no_integration_module_imports_a_built_in_plugin() -> None:
    offenders = {
        path.relative_to(INTEGRATIONS).as_posix(): found
        for path in sorted(INTEGRATIONS.rglob("*.py"))
        if (found := _plugin_imports(path))
    }
    assert offenders == {}


def test_the_check_sees_relative_and_absolute_imports(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from ...plugins._common import then\n"
        "import earnorm_aop.plugins.audit\n"
        "def f():\n    from ...plugins.softdelete import including_deleted\n"
        "from ...adapters.visibility import including_hidden\n"
    )
    assert _plugin_imports(module) == [
        "...plugins._common",
        "earnorm_aop.plugins.audit",
        "...plugins.softdelete",
    ]
