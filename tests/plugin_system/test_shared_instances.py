"""Plugins that keep no per-model state serve every model from one instance (issue 18, point 7).

A plugin class saying ``shared_by_models = True`` (the built-ins timestamp,
softdelete, audit, changes and lifecycle) is instantiated, validated and made
an aspect once per plain configuration, not once per woven model; weaving one
more model copies none of it.  Any other plugin keeps one instance per model.
"""

from __future__ import annotations

from typing import Any

from _calls import calls

from earnorm_aop import PluginRegistry, hook, plugin, unweave, with_plugins
from earnorm_aop.weaving.weaver import effective_aspects


def note_class(name: str) -> type:
    class Note:
        def save(self) -> None:
            pass

        def delete(self) -> None:
            pass

    Note.__name__ = Note.__qualname__ = name
    return Note


def aspect(model: type, name: str) -> Any:
    return next(a for a in effective_aspects(model) if a.name == name)


def test_one_instance_per_configuration_for_a_shared_plugin() -> None:
    a = with_plugins("timestamp", "softdelete")(note_class("A"))
    b = with_plugins("timestamp", "softdelete")(note_class("B"))
    c = with_plugins("softdelete", softdelete={"field": "removed_at"})(note_class("C"))
    assert aspect(a, "timestamp") is aspect(b, "timestamp")
    assert aspect(a, "softdelete").plugin is aspect(b, "softdelete").plugin
    assert aspect(c, "softdelete").plugin is not aspect(a, "softdelete").plugin
    assert aspect(c, "softdelete").plugin.config.field == "removed_at"
    # Contributed model methods: one function for every model of that instance.
    assert vars(a)["restore"] is vars(b)["restore"]
    assert vars(c)["restore"] is not vars(a)["restore"]
    for klass in (a, b, c):
        unweave(klass)


def test_weaving_one_more_model_validates_nothing_again() -> None:
    first = with_plugins("timestamp", "softdelete")(note_class("First"))
    second = note_class("Second")
    counted = calls(lambda: with_plugins("timestamp", "softdelete")(second))
    assert not [n for n in counted if n.endswith(":validate_config")], counted
    assert not [n for n in counted if n.endswith(":instantiate")], counted
    for klass in (first, second):
        unweave(klass)


def test_a_versioned_or_unplain_configuration_is_made_per_model() -> None:
    """An upgrade may warn per model, and an object option may be the model's own."""
    a = with_plugins("timestamp", timestamp={"config_version": 1})(note_class("A"))
    b = with_plugins("timestamp", timestamp={"config_version": 1})(note_class("B"))
    assert aspect(a, "timestamp") is not aspect(b, "timestamp")
    for klass in (a, b):
        unweave(klass)


def test_a_plugin_without_the_flag_keeps_one_instance_per_model() -> None:
    registry = PluginRegistry()

    @plugin("counting", registry=registry)
    class Counting:
        def __init__(self) -> None:
            self.seen: list[Any] = []

        @hook("before:save")
        def count(self, instance: Any) -> None:
            self.seen.append(instance)

    a = with_plugins("counting", registry=registry)(note_class("A"))
    b = with_plugins("counting", registry=registry)(note_class("B"))
    assert aspect(a, "counting").plugin is not aspect(b, "counting").plugin
    a().save()  # type: ignore[attr-defined]
    assert len(aspect(a, "counting").plugin.seen) == 1
    assert aspect(b, "counting").plugin.seen == []
    for klass in (a, b):
        unweave(klass)
