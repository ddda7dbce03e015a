"""The built-ins are found through entry points, documented, and shadowed by user plugins."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from earnorm_aop import PluginRegistry, plugin, registry, with_plugins
from earnorm_aop.plugins.audit import AuditPlugin
from earnorm_aop.plugins.cache import CachePlugin
from earnorm_aop.plugins.softdelete import SoftDeletePlugin
from earnorm_aop.plugins.timestamp import TimestampPlugin
from earnorm_aop.plugins.validation import ValidationPlugin

BUILTINS = {
    "timestamp": TimestampPlugin,
    "softdelete": SoftDeletePlugin,
    "cache": CachePlugin,
    "audit": AuditPlugin,
    "validation": ValidationPlugin,
}


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_each_builtin_comes_from_an_entry_point_with_a_documented_config(name: str) -> None:
    info = PluginRegistry().get_plugin(name)
    assert info.cls is BUILTINS[name]
    assert info.source.startswith("entry point earnorm_aop.plugins.")
    assert info.version == "1.0.0"
    assert info.description
    props = info.config_schema["properties"]
    assert props and all(p.get("description") for p in props.values())
    assert info.config_schema.get("additionalProperties") is False


def test_importing_a_builtin_module_does_not_register_it() -> None:
    for name in BUILTINS:
        importlib.import_module(f"earnorm_aop.plugins.{name}")
    for name in BUILTINS:
        assert registry.get_plugin(name).source.startswith("entry point")


def test_priorities_order_the_builtins_whatever_the_listing() -> None:
    reg = PluginRegistry()

    @with_plugins("cache", "audit", "timestamp", "softdelete", "validation", registry=reg)
    class Model:
        def save(self) -> None:
            pass

    from earnorm_aop.weaving import weaver

    order = [a.name for a in weaver.effective_aspects(Model)]
    # "changes" (the shared tracking timestamp and audit require) runs first;
    # "lifecycle" fires the after_change audit listens to.
    assert order == [
        "changes",
        "validation",
        "softdelete",
        "timestamp",
        "lifecycle",
        "audit",
        "cache",
    ]


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_an_explicitly_registered_plugin_shadows_the_builtin(name: str) -> None:
    reg = PluginRegistry()
    calls: list[Any] = []

    class Mine:
        def before_save(self, instance: Any) -> None:
            calls.append(instance)

    reg.register(name, Mine)
    info = reg.get_plugin(name)
    assert info.cls is Mine and info.source == "registered"

    @with_plugins(name, registry=reg)
    class Model:
        def save(self) -> str:
            return "saved"

    m = Model()
    assert m.save() == "saved"
    assert calls == [m]
    assert not hasattr(m, "created_at")  # the built-in is not woven


def test_a_user_plugin_decorator_shadows_the_builtin_in_the_default_registry(
    default_names: list[str],
) -> None:
    @plugin("timestamp")
    class MyStamp:
        def before_save(self, instance: Any) -> None:
            instance.stamped = True

    default_names.append("timestamp")
    assert registry.get_plugin("timestamp").cls is MyStamp

    @with_plugins("timestamp")
    class Model:
        def save(self) -> None:
            pass

    m = Model()
    m.save()
    assert m.stamped is True
    assert not hasattr(m, "updated_at")


def test_after_unregistering_the_builtin_is_found_again(default_names: list[str]) -> None:
    @plugin("softdelete")
    class Mine:
        def before_delete(self) -> None:
            pass

    registry.unregister("softdelete")
    assert registry.get_plugin("softdelete").cls is SoftDeletePlugin


def test_a_builtin_can_be_subclassed_under_another_name() -> None:
    reg = PluginRegistry()

    class UtcStamp(TimestampPlugin):
        """Timestamps with other field names."""

    reg.register("stamp", UtcStamp)
    from earnorm_aop.testing._memory import MemoryBackend

    backend = MemoryBackend("memory")
    try:
        Article = backend.model("stamp", registry=reg, stamp={"created_field": "made"})
        a = backend.create(Article)
        assert a.made is not None and a.updated_at is not None
    finally:
        backend.close()
