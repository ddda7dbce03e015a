"""Entry-point discovery with a real distribution (a ``*.dist-info``) on ``sys.path``.

No patched ``importlib.metadata``: each test writes a package and its
``fakeplugins-1.0.dist-info`` (``METADATA`` + ``entry_points.txt``) into a
temporary directory and puts that directory on ``sys.path``.
"""

from __future__ import annotations

import itertools
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from earnorm_aop import (
    PluginError,
    PluginModel,
    PluginNotFoundError,
    PluginRegistry,
    plugin,
    unweave,
    with_plugins,
)
from earnorm_aop import registry as default_registry

GROUP = "earnorm_aop.plugins"
_ids = itertools.count()


@dataclass
class FakeDist:
    module: str  # the package's module name (unique per test: sys.modules caches modules)
    plugin: str  # the entry-point name it advertises
    path: Path


PLUGIN_SOURCE = '''
    """A third-party plugin, as a distribution would ship it."""


    class FakePlugin:
        version = "2.5.0"
        description = "Marks saved rows."

        def __init__(self, mark: str = "fake") -> None:
            self.mark = mark

        def before_save(self, instance):
            instance.log.append(self.mark)
'''


@pytest.fixture
def fake_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDist]:
    n = next(_ids)
    module, name = f"fakeplugins_pkg_{n}", f"fakeplug_{n}"
    package = tmp_path / module
    package.mkdir()
    (package / "__init__.py").write_text(textwrap.dedent(PLUGIN_SOURCE))
    info = tmp_path / "fakeplugins-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakeplugins\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        f"[{GROUP}]\n"
        f"{name} = {module}:FakePlugin\n"
        f"broken_{n} = {module}.missing:Nothing\n"
        "\n"
        "[earnorm_aop_tests.other]\n"
        f"other_{n} = {module}:FakePlugin\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield FakeDist(module, name, tmp_path)
    sys.modules.pop(module, None)


class Row:
    def __init__(self) -> None:
        self.log: list[Any] = []

    def save(self) -> str:
        self.log.append("save")
        return "saved"


def test_discover_finds_the_distribution_entry_point(fake_dist: FakeDist) -> None:
    registry = PluginRegistry()
    found = registry.discover()
    assert fake_dist.plugin in found
    assert fake_dist.module not in sys.modules  # listed, not imported yet
    info = registry.get_plugin(fake_dist.plugin)
    assert info.cls.__module__ == fake_dist.module
    assert info.cls.__name__ == "FakePlugin"
    assert (info.version, info.description, info.hooks) == (
        "2.5.0",
        "Marks saved rows.",
        ("before_save",),
    )
    assert info.source == f"entry point {fake_dist.module}:FakePlugin (fakeplugins)"
    assert info.config_schema["properties"]["mark"]["default"] == "fake"
    assert fake_dist.plugin in registry.names()


def test_a_model_resolves_an_entry_point_name(fake_dist: FakeDist) -> None:
    fresh = PluginRegistry()  # no explicit discover(): name resolution does it

    class Row2(Row, PluginModel):
        class Meta:
            plugins = {fake_dist.plugin: {"mark": "third-party"}}  # noqa: RUF012
            registry = fresh

    row = Row2()
    assert row.save() == "saved"
    assert row.log == ["third-party", "save"]
    unweave(Row2)


def test_an_explicit_registration_shadows_the_entry_point(fake_dist: FakeDist) -> None:
    registry = PluginRegistry()
    registry.discover()

    class Mine:
        def before_save(self, instance):  # type: ignore[no-untyped-def]
            instance.log.append("mine")

    registry.register(fake_dist.plugin, Mine)  # no DuplicatePluginError
    info = registry.get_plugin(fake_dist.plugin)
    assert info.cls is Mine and info.source == "registered"

    @with_plugins(fake_dist.plugin, registry=registry)
    class Row3(Row):
        pass

    row = Row3()
    row.save()
    assert row.log == ["mine", "save"]
    unweave(Row3)

    registry.unregister(fake_dist.plugin)  # the entry point is found again
    assert registry.get_plugin(fake_dist.plugin).cls.__module__ == fake_dist.module


def test_a_broken_entry_point_fails_when_used_with_its_name(fake_dist: FakeDist) -> None:
    registry = PluginRegistry()
    n = fake_dist.plugin.rsplit("_", 1)[1]
    with pytest.raises(PluginError) as info:
        registry.get_plugin(f"broken_{n}")
    message = str(info.value)
    assert f"plugin 'broken_{n}' from entry point '{fake_dist.module}.missing:Nothing'" in message
    assert "failed to load" in message
    # the other names of the group still work
    assert registry.get_plugin(fake_dist.plugin).version == "2.5.0"


def test_discovery_groups(fake_dist: FakeDist) -> None:
    isolated = PluginRegistry(group=None)
    with pytest.raises(PluginNotFoundError):
        isolated.get_plugin(fake_dist.plugin)
    assert fake_dist.plugin not in isolated.names()

    other = PluginRegistry(group="earnorm_aop_tests.other")
    n = fake_dist.plugin.rsplit("_", 1)[1]
    assert other.names() == [f"other_{n}"]
    assert other.get_plugin(f"other_{n}").cls.__name__ == "FakePlugin"
    with pytest.raises(PluginNotFoundError, match=f"did you mean 'other_{n}'"):
        other.get_plugin(f"othr_{n}")


def test_without_the_distribution_the_name_is_unknown(tmp_path: Path) -> None:
    registry = PluginRegistry()
    assert not any(n.startswith("fakeplug_") for n in registry.names())
    with pytest.raises(PluginNotFoundError):
        registry.get_plugin("fakeplug_0")


def test_a_user_plugin_shadows_a_builtin_in_the_default_registry(
    default_names: list[str],
) -> None:
    assert "timestamp" in default_registry.names()  # the built-in, found as an entry point

    @plugin("timestamp")  # no DuplicatePluginError: an explicit registration wins
    class MyTimestamp:
        def before_save(self, instance):  # type: ignore[no-untyped-def]
            instance.log.append("my timestamp")

    default_names.append("timestamp")
    info = default_registry.get_plugin("timestamp")
    assert info.cls is MyTimestamp and info.source == "registered"

    class Stamped(Row, PluginModel):
        class Meta:
            plugins = ["timestamp"]  # noqa: RUF012

    row = Stamped()
    row.save()
    assert row.log == ["my timestamp", "save"]
    unweave(Stamped)

    default_registry.unregister("timestamp")
    default_names.remove("timestamp")
    info = default_registry.get_plugin("timestamp")
    assert info.source.startswith("entry point earnorm_aop.plugins.timestamp:")
