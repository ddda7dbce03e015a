"""Custom events: each class's handlers are decided when its plans are rebuilt.

``emit`` on an event nobody listens to is a look-up and a test of an empty
tuple, whatever the class hierarchy (pinned by counting calls, not timing);
the table follows every change that rebuilds the class: weave, unweave,
disable, enable, a subclass, a method that turns an event into a pointcut.
"""

from __future__ import annotations

from typing import Any

from _calls import calls, ours

from earnorm_aop import PluginRegistry, emit, hook, plugin, unweave, weave, with_plugins
from earnorm_aop.plugin_system.events import listened
from earnorm_aop.weaving import weaver


def _registry(heard: list[Any]) -> PluginRegistry:
    registry = PluginRegistry()

    @plugin("listener", registry=registry)
    class Listener:
        @hook("after_change")
        def changed(self, instance: Any, changes: Any) -> None:
            heard.append((type(instance).__name__, changes))

    @plugin("quiet", registry=registry)
    class Quiet:
        @hook("before:save")
        def nothing(self) -> None:
            pass

    return registry


def test_the_handlers_follow_every_change_to_the_class() -> None:
    heard: list[Any] = []
    registry = _registry(heard)

    @with_plugins("quiet", registry=registry)
    class Note:
        def save(self) -> None:
            pass

    assert not listened(Note, "after_change")
    assert emit(Note(), "after_change", changes={}) == []
    weave(Note, "listener", registry=registry)
    assert listened(Note, "after_change")

    class Child(Note):
        pass

    emit(Child(), "after_change", changes={"a": (1, 2)})
    assert heard == [("Child", {"a": (1, 2)})]
    registry.disable("listener")
    assert not listened(Child, "after_change")
    emit(Child(), "after_change", changes={})
    registry.enable("listener")
    assert listened(Child, "after_change")
    with registry.disabled("listener"):  # context-local: filtered at the call
        emit(Note(), "after_change", changes={})
    assert len(heard) == 1
    unweave(Note, "listener", registry=registry)
    assert not listened(Note, "after_change") and not listened(Child, "after_change")
    unweave(Note)


def test_an_event_named_after_a_method_is_a_pointcut_there() -> None:
    registry = PluginRegistry()

    @plugin("updates", registry=registry)
    class Updates:
        @hook("before_update")
        def updating(self) -> None:
            pass

    @with_plugins("updates", registry=registry)
    class Plain:
        pass

    class WithUpdate(Plain):
        def update(self) -> None:
            pass

    assert listened(Plain, "before_update")  # no update(): a custom event
    assert not listened(WithUpdate, "before_update")  # woven on its update() instead
    unweave(Plain)


def _nested(depth: int, base: type) -> type:
    klass = base
    for n in range(depth):
        klass = type(f"Level{n}", (klass,), {"save": lambda self: None})
    return klass


def test_emit_with_nobody_listening_costs_the_same_whatever_the_hierarchy() -> None:
    registry = _registry([])

    @with_plugins("quiet", registry=registry)
    class Base:
        def save(self) -> None:
            pass

    shallow, deep = Base(), _nested(30, Base)()
    emit(shallow, "after_change")  # any first-sight work done
    emit(deep, "after_change")
    counted = ours(calls(lambda: emit(shallow, "after_change", changes={})))
    assert ours(calls(lambda: emit(deep, "after_change", changes={}))) == counted
    # emit, its handler look-up and the table's: nothing scans the MRO per call.
    assert sum(counted.values()) <= 3, counted
    assert not any("planning" in name for name in counted), counted
    unweave(Base)


def test_the_table_is_made_at_rebuild_not_per_emit() -> None:
    heard: list[Any] = []
    registry = _registry(heard)

    @with_plugins("listener", registry=registry)
    class Note:
        def save(self) -> None:
            pass

    note = Note()
    emit(note, "after_change", changes={})
    counted = ours(calls(lambda: emit(note, "after_change", changes={})))
    assert not any(".planning:" in name for name in counted), counted
    assert counted["earnorm_aop.weaving.weaver:event_handlers"] == 1
    assert len(heard) == 2
    assert weaver.event_handlers(Note, "after_change")[0][1].name == "changed"
    unweave(Note)
