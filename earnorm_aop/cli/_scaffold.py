"""``new plugin NAME``: a plugin distribution ready to test on every ORM, install and publish.

The files are templates filled with the plugin's name: a ``pyproject.toml``
advertising the plugin as an entry point of ``earnorm_aop.plugins`` (so pip
installs it and earnorm-aop finds it by name) and pinning the earnorm-aop
range it is written for; the plugin module with a pydantic configuration; its
behaviour checks on the conformance kit (``earnorm_backend``); a docs page; a
CI workflow running the checks once per backend; and a README.  Nothing is
overwritten: an existing folder is an error.
"""

from __future__ import annotations

import argparse
import keyword
import re
from pathlib import Path
from typing import TextIO

from ..plugin_system.registry import PluginRegistry
from ._catalogue import installed_version
from ._outcome import OK, UsageError

__all__ = ["cmd_new", "scaffold"]

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def _range(version: str) -> str:
    """The earnorm-aop range a new plugin pins: this release up to the next minor one."""
    parts = [int(p) if p.isdigit() else 0 for p in version.split(".")[:2]] + [0, 0]
    major, minor = parts[0], parts[1]
    upper = f"{major}.{minor + 1}" if major == 0 else f"{major + 1}"
    return f">={version},<{upper}"


def _files(name: str, version: str) -> dict[str, str]:
    package = f"earnorm_aop_{name}"
    dist = f"earnorm-aop-{name.replace('_', '-')}"
    title = "".join(part.title() for part in name.split("_"))
    pin = _range(version)
    return {
        "pyproject.toml": f'''[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "{dist}"
version = "0.1.0"
description = "The {name} plugin for earnorm-aop."
readme = "README.md"
requires-python = ">=3.11"
dependencies = [
    # The earnorm-aop releases this plugin is written and tested for
    # (`earnorm-aop plugins` shows whether the installed one fits).
    "earnorm-aop{pin}",
    "pydantic>=2",
]

[project.optional-dependencies]
# The conformance kit's backends: Django, SQLAlchemy (sync and async on SQLite).
test = ["pytest", "earnorm-aop[django,sqlalchemy]{pin}", "aiosqlite"]

# earnorm-aop finds the plugin by this name once the distribution is installed.
[project.entry-points."earnorm_aop.plugins"]
{name} = "{package}.plugin:{title}Plugin"

[tool.hatch.build.targets.wheel]
packages = ["{package}"]

[tool.pytest.ini_options]
testpaths = ["tests"]
''',
        f"{package}/__init__.py": f'''"""The {name} plugin for earnorm-aop."""

from .plugin import {title}Plugin

__all__ = ["{title}Plugin"]
''',
        f"{package}/plugin.py": f'''"""The {name} plugin: who wrote each saved record last.

Replace the hook and the configuration with what your plugin does.  Fields
are read and written through the model's adapter, so the plugin works on
every ORM earnorm-aop supports (an EarnORM record's fields are async
attributes); the tests in tests/ check it on each of them.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, Field

from earnorm_aop.integrations import FieldSpec, adapter_for


class {title}Plugin:
    """Note on every saved record the actor of the call context (or a default)."""

    version = "0.1.0"
    # Other plugins this one needs, with version pins: {{"timestamp": ">=1.0"}}.
    requires: ClassVar[dict[str, str]] = {{}}
    # The shape of Config below; bump it and add config_upgrades[old] when it changes.
    config_version = 1

    class Config(BaseModel):
        field: str = Field("{name}_by", description="The field the note is written to.")
        default: str = Field("system", description="The note when no actor is known.")

    config: Config  # the validated options, set by earnorm-aop before __init__

    def fields(self) -> list[FieldSpec]:
        """The field the plugin adds to the models it is woven onto."""
        return [FieldSpec(self.config.field, str, "")]

    def before_save(self, instance: Any, model: type, context: Any) -> None:
        """Write the note before every save (``context``: earnorm-aop's call context)."""
        actor = context.actor
        adapter_for(model).set_field(
            instance, self.config.field, str(actor) if actor else self.config.default
        )
''',
        f"tests/test_{name}.py": f'''"""Behaviour checks of {name}, on every backend.

``pytest`` runs each test once per backend (memory, pydantic, django,
sqlalchemy, sqlalchemy-async, earnorm where installed); ``--earnorm-backends``
chooses them.  The plugin is found by name through its entry point, so the
distribution must be installed (``pip install -e .[test]``).
"""

from earnorm_aop import context, registry


def test_the_plugin_is_found_by_name() -> None:
    assert registry.get_plugin("{name}").version == "0.1.0"


def test_every_save_notes_the_actor(earnorm_backend) -> None:
    Article = earnorm_backend.model("{name}")
    with context(actor="ada"):
        article = earnorm_backend.create(Article, title="hello")
    assert earnorm_backend.rows(Article)[article.id]["{name}_by"] == "ada"
    assert earnorm_backend.get(Article, article.id).{name}_by == "ada"


def test_without_an_actor_the_default_is_written(earnorm_backend) -> None:
    Article = earnorm_backend.model("{name}", **{{"{name}": {{"default": "batch"}}}})
    article = earnorm_backend.create(Article, title="hello")
    assert earnorm_backend.rows(Article)[article.id]["{name}_by"] == "batch"
''',
        f"docs/{name}.md": f"""# The `{name}` plugin

Notes on every saved record who wrote it last: the actor of earnorm-aop's
call context, or a default.

```
pip install {dist}
```

```{{.python .fragment}}
from earnorm_aop import with_plugins


@with_plugins("{name}", {name}={{"default": "system"}})
class Article(...):
    ...
```

## Reference

`earnorm-aop docs {name}` prints the plugin's reference (hooks, options,
contributed fields) from what it declares; paste it here when it changes.
""",
        ".github/workflows/tests.yml": """name: tests

on: [push, pull_request]

jobs:
  kit:
    runs-on: ubuntu-latest
    strategy:
      fail-fast: false
      matrix:
        backend: [memory, pydantic, django, sqlalchemy, sqlalchemy-async]
        include:
          - backend: earnorm
            extra: "earnorm-aop[earnorm]"
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
      - run: pip install -e ".[test]" ${{ matrix.extra }}
      - run: earnorm-aop plugins check
      # CI=true: a backend named here must run, not be skipped.
      - run: pytest --earnorm-backends=${{ matrix.backend }}
        env:
          CI: "true"
""",
        "README.md": f"""# {dist}

The `{name}` plugin for [earnorm-aop](https://pypi.org/project/earnorm-aop/).

```
pip install {dist}
```

earnorm-aop finds it by name (`with_plugins("{name}")`, `Meta.plugins =
["{name}"]`); `earnorm-aop plugins` shows it with the earnorm-aop range it
needs, `earnorm-aop docs {name}` its reference ([docs/{name}.md](docs/{name}.md)).

## Developing

```
pip install -e ".[test]"
pytest                                   # every backend installed
pytest --earnorm-backends=memory,django  # some of them
```

The tests use earnorm-aop's conformance kit: each runs once per ORM backend.
""",
    }


def scaffold(name: str, where: Path, version: str | None = None) -> Path:
    """Write the distribution of plugin ``name`` into a new folder under ``where``; return it."""
    if not _NAME.match(name) or keyword.iskeyword(name):
        raise UsageError(
            f"plugin name {name!r} must be a lower-case Python identifier such as 'slug' "
            "or 'row_tenant' (it names the entry point and the package)"
        )
    folder = where / f"earnorm-aop-{name.replace('_', '-')}"
    if folder.exists():
        raise UsageError(f"{folder} already exists; choose another --dir or remove it")
    for relative, text in _files(name, version or installed_version()).items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder


def cmd_new(args: argparse.Namespace, reg: PluginRegistry, out: TextIO, err: TextIO) -> int:
    folder = scaffold(args.name, Path(args.dir))
    print(f"created {folder}", file=out)
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        print(f"  {path.relative_to(folder).as_posix()}", file=out)
    print(f"next: cd {folder} && pip install -e '.[test]' && pytest", file=out)
    return OK
