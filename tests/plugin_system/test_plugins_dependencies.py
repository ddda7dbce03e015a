"""``requires`` (names and version pins), dependency errors, and plugin order by priority."""

from __future__ import annotations

from typing import Any

import pytest

from earnorm_aop import (
    BasePlugin,
    DependencyError,
    PluginModel,
    PluginRegistry,
    explain,
    plugin,
    with_plugins,
)


class Model:
    def __init__(self) -> None:
        self.log: list[Any] = []

    def save(self) -> str:
        self.log.append("save")
        return "saved"


def make(
    reg: PluginRegistry,
    name: str,
    *,
    requires: Any = (),
    version: str = "0.1.0",
    priority: int = 0,
) -> type:
    """Register a plugin ``name`` whose before_save logs ``(name, tag option)``."""

    @plugin(name, registry=reg, requires=requires, version=version, priority=priority)
    class Tag:
        def __init__(self, tag: str = "default") -> None:
            self.tag = tag

        def before_save(self, instance):  # type: ignore[no-untyped-def]
            instance.log.append((name, self.tag))

    return Tag


def run(model: type) -> list[Any]:
    m = model()
    m.save()
    return m.log


# --------------------------------------------------------------------------
# requirements
# --------------------------------------------------------------------------


def test_a_required_plugin_not_listed_is_woven_before_its_dependant(reg: PluginRegistry) -> None:
    make(reg, "audit", requires=["timestamp"])  # registration order is free
    make(reg, "timestamp")

    @with_plugins("audit", registry=reg)
    class M(Model):
        pass

    assert run(M) == [("timestamp", "default"), ("audit", "default"), "save"]
    assert "plugins, in order: timestamp, audit" in explain(M)
    assert reg.get_plugin("audit").requires == {"timestamp": ""}


def test_requirement_moves_before_dependant_even_against_priority(reg: PluginRegistry) -> None:
    make(reg, "base", priority=-5)
    make(reg, "top", requires=["base"], priority=10)
    make(reg, "mid", priority=5)

    @with_plugins("mid", "top", registry=reg)
    class M(Model):
        pass

    assert [x[0] for x in run(M)[:-1]] == ["base", "top", "mid"]


def test_a_listed_requirement_keeps_its_configuration(reg: PluginRegistry) -> None:
    make(reg, "audit", requires=["timestamp"])
    make(reg, "timestamp")

    @with_plugins("audit", timestamp={"tag": "mine"}, registry=reg)
    class M(Model):
        pass

    assert run(M) == [("timestamp", "mine"), ("audit", "default"), "save"]


def test_requirement_inherited_from_the_parent_is_not_woven_again(reg: PluginRegistry) -> None:
    make(reg, "audit", requires=["timestamp"])
    make(reg, "timestamp")

    class Parent(Model, PluginModel):
        class Meta:
            plugins = {"timestamp": {"tag": "parent"}}  # noqa: RUF012
            registry = reg

    class Child(Parent):
        class Meta:
            plugins = ["audit"]  # noqa: RUF012

    assert run(Child) == [("timestamp", "parent"), ("audit", "default"), "save"]


def test_version_pins_with_packaging_specifiers(reg: PluginRegistry) -> None:
    class Timestamp(BasePlugin):
        version = "1.4.2"

        def before_save(self, instance):  # type: ignore[no-untyped-def]
            instance.log.append("timestamp")

    class Audit(BasePlugin):
        requires = {"timestamp": ">=1.0,<2"}  # noqa: RUF012

        def before_save(self, instance):  # type: ignore[no-untyped-def]
            instance.log.append("audit")

    reg.register_many({"timestamp": Timestamp, "audit": Audit})
    assert reg.get_plugin("audit").requires == {"timestamp": ">=1.0,<2"}

    @with_plugins("audit", registry=reg)
    class M(Model):
        pass

    assert run(M) == ["timestamp", "audit", "save"]


def test_a_pre_release_satisfies_a_pin_it_is_within(reg: PluginRegistry) -> None:
    """``2.0.0rc1`` is ``>=1.0``: a plugin under test is not refused for being a pre-release."""
    make(reg, "timestamp", version="2.0.0rc1")
    make(reg, "audit", requires={"timestamp": ">=1.0"})

    @with_plugins("audit", registry=reg)
    class M(Model):
        pass

    assert run(M) == [("timestamp", "default"), ("audit", "default"), "save"]
    make(reg, "strict", requires={"timestamp": ">=2.0"})  # 2.0.0rc1 comes before 2.0

    class N(Model):
        pass

    with pytest.raises(DependencyError, match=r"version 2\.0\.0rc1 is registered"):
        with_plugins("strict", registry=reg)(N)


def test_mismatched_version_is_a_dependency_error(reg: PluginRegistry) -> None:
    make(reg, "timestamp", version="0.9")
    make(reg, "audit", requires={"timestamp": ">=1.0"})

    class M(Model):
        pass

    with pytest.raises(DependencyError) as info:
        with_plugins("audit", registry=reg)(M)
    message = str(info.value)
    assert "plugin 'audit'" in message and "M requires 'timestamp' >=1.0" in message
    assert "version 0.9 is registered" in message
    assert "chain: audit -> timestamp" in message
    assert "save" not in vars(M)


def test_missing_requirement_names_the_chain(reg: PluginRegistry) -> None:
    make(reg, "audit", requires=["history"])
    make(reg, "history", requires=["clock"])
    make(reg, "other")

    class M(Model):
        pass

    with pytest.raises(DependencyError) as info:
        with_plugins("audit", registry=reg)(M)
    message = str(info.value)
    assert "plugin 'history'" in message and "requires 'clock', which is not registered" in message
    assert "chain: audit -> history -> clock" in message
    assert "Known plugins: audit, history, other" in message
    assert "save" not in vars(M)


def test_cyclic_requirements_name_the_cycle(reg: PluginRegistry) -> None:
    make(reg, "a", requires=["b"])
    make(reg, "b", requires=["c"])
    make(reg, "c", requires=["a"])

    class M(Model):
        pass

    with pytest.raises(DependencyError, match=r"in a cycle: a -> b -> c -> a"):
        with_plugins("a", registry=reg)(M)
    with pytest.raises(DependencyError, match=r"in a cycle: b -> c -> a -> b"):
        with_plugins("b", registry=reg)(M)
    assert "save" not in vars(M)


def test_self_requirement_is_a_cycle(reg: PluginRegistry) -> None:
    make(reg, "narcissus", requires=["narcissus"])

    class M(Model):
        pass

    with pytest.raises(DependencyError, match=r"narcissus -> narcissus"):
        with_plugins("narcissus", registry=reg)(M)


def test_invalid_version_specifier_fails_at_registration(reg: PluginRegistry) -> None:
    with pytest.raises(DependencyError, match=r"'timestamp' with an invalid version specifier"):
        make(reg, "audit", requires={"timestamp": "one"})
    assert "audit" not in reg


# --------------------------------------------------------------------------
# priority and listing order
# --------------------------------------------------------------------------


def test_priority_orders_plugins_higher_first_then_listing_order(reg: PluginRegistry) -> None:
    make(reg, "low", priority=-1)
    make(reg, "x")
    make(reg, "y")
    make(reg, "high", priority=100)

    @with_plugins("low", "y", "x", "high", registry=reg)
    class M(Model):
        pass

    assert [x[0] for x in run(M)[:-1]] == ["high", "y", "x", "low"]
    assert reg.get_plugin("high").priority == 100


def test_parent_plugins_come_before_the_subclass_own(reg: PluginRegistry) -> None:
    make(reg, "p1")
    make(reg, "p2")
    make(reg, "c1")

    class Parent(Model, PluginModel):
        class Meta:
            plugins = ["p2", "p1"]  # noqa: RUF012
            registry = reg

    class Child(Parent):
        class Meta:
            plugins = ["c1"]  # noqa: RUF012

    assert [x[0] for x in run(Child)[:-1]] == ["p2", "p1", "c1"]
