"""What a hook's condition holds on, exactly: each part of it, and both parts together.

``when=`` / ``was=`` / ``is_now=`` with ``condition=``: the advice runs only
when both hold; ``has_changed=`` without a field: on a write that changes
something (``True``) or nothing (``False``); a value a plugin adds to a bulk
update in progress (timestamp's ``updated_at``) is in the ``changes`` every
later advice gets, even when an earlier one already asked for them.
"""

from __future__ import annotations

from typing import Any

from earnorm_aop import PluginRegistry, hook, plugin, unweave, with_plugins

STATUS = {"status": (str, "draft")}


def test_a_field_condition_and_a_callable_must_both_hold(backend: Any) -> None:
    seen: list[Any] = []
    registry = PluginRegistry()

    @plugin("both", registry=registry)
    class Both:
        @hook(
            "after:save",
            when="status",
            is_now="published",
            condition=lambda changes: "title" in changes,
        )
        def both(self, changes: dict[str, Any]) -> None:
            seen.append(sorted(changes))

    Article = backend.model("both", fields=STATUS, registry=registry)
    a = backend.create(Article, title="a")
    assert seen == []  # a creation: title set, status not published
    a.status = "published"  # the field condition holds, the callable does not
    backend.save(a)
    assert seen == []
    a.status = "draft"
    backend.save(a)
    a.title = "b"  # the callable holds, the field condition does not
    backend.save(a)
    assert seen == []
    a.title, a.status = "c", "published"  # both
    backend.save(a)
    assert seen == [["status", "title"]]


def test_has_changed_without_a_field_is_about_the_whole_write() -> None:
    seen: list[Any] = []
    registry = PluginRegistry()

    @plugin("any", registry=registry)
    class Any_:
        @hook("after:save", has_changed=True)
        def changed(self) -> None:
            seen.append("changed")

        @hook("after:save", has_changed=False)
        def unchanged(self) -> None:
            seen.append("unchanged")

    @with_plugins("any", registry=registry)
    class Note:
        title: str | None = None

        def save(self) -> None:
            pass

    note = Note()
    note.title = "a"
    note.save()  # a creation changes title
    assert seen == ["changed"]
    note.save()  # nothing changed since
    assert seen == ["changed", "unchanged"]
    note.title = "b"
    note.save()
    assert seen == ["changed", "unchanged", "changed"]
    unweave(Note)


def test_a_value_added_during_a_bulk_update_is_in_later_changes(backend: Any) -> None:
    """Changes read by a ``before`` advice are read again after timestamp adds ``updated_at``."""
    seen: list[Any] = []
    registry = PluginRegistry()

    @plugin("spy", registry=registry, priority=60)
    class Spy:
        @hook("before:update_many")
        def before(self, changes: dict[str, Any]) -> None:
            seen.append(("before", sorted(changes)))

        @hook("after:update_many")
        def after(self, changes: dict[str, Any]) -> None:
            seen.append(("after", sorted(changes)))

    Article = backend.model("timestamp", "spy", registry=registry)
    backend.create(Article, title="a")
    backend.bulk_update(backend.query(Article), title="b")
    assert seen == [("before", ["title"]), ("after", ["title", "updated_at"])]
