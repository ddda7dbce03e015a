"""Change tracking, the ``changes`` parameter and hook conditions, on every backend.

The same plugin runs on the memory store (plain and pydantic models), on
Django (SQLite; PostgreSQL with ``EARNORM_AOP_TEST_DB=postgres``) and on
EarnORM (mongomock-motor, Python 3.12: ``EARNORM_AOP_BACKENDS=earnorm``): a condition
fires for a single save and, per record, for a bulk update, only where the
value really changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from _hypothesis_profiles import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from earnorm_aop import PluginRegistry, WeavingError, hook, plugin
from earnorm_aop.errors import PluginError
from earnorm_aop.plugin_system.conditions import when

STATUS = {"status": (str, "draft")}


def _read(instance: Any, name: str) -> Any:
    """A field of the record advice gets, as a plugin reads it on every ORM.

    Through the adapter: an EarnORM record's attributes are awaitables.
    """
    from earnorm_aop.integrations import adapter_for

    return adapter_for(type(instance)).get_field(instance, name)


@pytest.fixture
def seen() -> list[Any]:
    return []


@pytest.fixture
def reg(seen: list[Any]) -> Iterator[PluginRegistry]:
    """A registry with ``publish``: conditional hooks recording what they saw."""
    registry = PluginRegistry()

    @plugin("publish", registry=registry)
    class Publish:
        @hook("after:save|update_many", when="status", was="draft", is_now="published")
        def published(self, instance: Any, changes: dict[str, Any]) -> None:
            seen.append(("published", _read(instance, "id"), dict(changes)))

        @hook("before:save|update_many", when="status", changes_to="archived")
        def archiving(self, instance: Any, changes: dict[str, Any]) -> None:
            seen.append(("archiving", _read(instance, "id"), changes["status"]))

        @hook("after:save|update_many", when_any=["title", "status"], has_changed=True)
        def touched(self, instance: Any) -> None:
            seen.append(("touched", _read(instance, "id")))

    yield registry


def test_a_condition_fires_on_save_only_when_the_value_moves(
    backend: Any, reg: PluginRegistry, seen: list[Any]
) -> None:
    Article = backend.model("publish", fields=STATUS, registry=reg)
    a = backend.create(Article, title="a")
    assert seen == [("touched", a.id)]  # a creation: every value moved from nothing
    seen.clear()
    a.save()
    assert seen == []  # nothing changed
    a.status = "published"
    a.save()
    assert seen == [
        ("touched", a.id),
        ("published", a.id, {"status": ("draft", "published")}),
    ]
    seen.clear()
    a.save()
    assert seen == []  # "was" is the value as last saved: published now (django-lifecycle #141)
    a.status = "archived"
    a.save()
    assert seen == [("archiving", a.id, ("published", "archived")), ("touched", a.id)]


def test_the_same_condition_fires_per_record_on_a_bulk_update(
    backend: Any, reg: PluginRegistry, seen: list[Any]
) -> None:
    Article = backend.model("publish", fields=STATUS, registry=reg)
    drafts = [backend.create(Article, title=t) for t in ("a", "b")]
    done = backend.create(Article, title="c", status="published")
    seen.clear()
    backend.bulk_update(backend.queryset(Article), status="published")
    assert sorted(e for e in seen if e[0] == "published") == sorted(
        ("published", d.id, {"status": ("draft", "published")}) for d in drafts
    )
    # when_any fires once per record (django-lifecycle #65), and only where a value moved
    assert sorted(e for e in seen if e[0] == "touched") == sorted(("touched", d.id) for d in drafts)
    assert all(e[1] != done.id for e in seen)
    assert {r["status"] for r in backend.rows(Article).values()} == {"published"}


def test_a_before_run_per_record_sees_the_values_about_to_be_written(
    backend: Any, reg: PluginRegistry, seen: list[Any]
) -> None:
    Article = backend.model("publish", fields=STATUS, registry=reg)
    a = backend.create(Article, title="a", status="published")
    b = backend.create(Article, title="b", status="archived")
    seen.clear()
    backend.bulk_update(backend.queryset(Article), status="archived")
    assert [e for e in seen if e[0] == "archiving"] == [
        ("archiving", a.id, ("published", "archived"))
    ]
    assert b.id not in [e[1] for e in seen]


def test_changes_on_bulk_writes_are_per_record_with_the_record_as_instance(
    backend: Any, seen: list[Any]
) -> None:
    registry = PluginRegistry()

    @plugin("spy", registry=registry)
    class Spy:
        @hook("after:update_many|delete_many|save_many")
        def each(self, instance: Any, changes: dict[str, Any], method: str) -> None:
            seen.append((type(instance).__name__, _read(instance, "title"), dict(changes)))

    Article = backend.model("spy", registry=registry)
    a = backend.create(Article, title="a", views=1)
    backend.create(Article, title="b", views=2)
    seen.clear()
    backend.bulk_update(backend.query(Article, title="a"), views=5)
    assert seen == [(Article.__name__, "a", {"views": (1, 5)})]
    seen.clear()
    backend.bulk_delete(backend.query(Article, title="b"))
    assert len(seen) == 1 and seen[0][1] == "b"
    assert seen[0][2]["views"] == (2, None) and seen[0][2]["title"] == ("b", None)
    assert a.id is not None


def test_changes_on_save_many_are_per_record_with_the_object_as_instance(
    backend: Any, seen: list[Any]
) -> None:
    registry = PluginRegistry()

    @plugin("spy", registry=registry)
    class Spy:
        @hook("before:save_many")
        def before(self, instance: Any, changes: dict[str, Any]) -> None:
            seen.append(("before", _read(instance, "title"), changes["title"]))

        @hook("after:save_many")
        def after(self, instance: Any, changes: dict[str, Any]) -> None:
            seen.append(("after", _read(instance, "title"), changes["title"]))

    Article = backend.model("spy", registry=registry)
    backend.bulk_create(Article, [backend.new(Article, title="x"), backend.new(Article, title="y")])
    assert seen == [
        ("before", "x", (None, "x")),
        ("before", "y", (None, "y")),
        ("after", "x", (None, "x")),
        ("after", "y", (None, "y")),
    ]
    assert sorted(r["title"] for r in backend.rows(Article).values()) == ["x", "y"]


def test_a_before_run_returning_false_for_one_record_vetoes_the_whole_bulk_write(
    backend: Any,
) -> None:
    registry = PluginRegistry()

    @plugin("guard", registry=registry)
    class Guard:
        @hook("before:update_many", when="views", changes_to=13)
        def unlucky(self, instance: Any) -> bool:
            return False

    Article = backend.model("guard", registry=registry)
    backend.create(Article, title="a", views=13)
    b = backend.create(Article, title="b", views=1)
    backend.bulk_update(backend.queryset(Article), views=13)
    assert backend.rows(Article)[b.id]["views"] == 1  # vetoed: nothing written


def test_conditions_on_convention_named_methods(backend: Any, seen: list[Any]) -> None:
    registry = PluginRegistry()

    @plugin("named", registry=registry)
    class Named:
        @when("views", has_changed=True)
        def after_save(self, instance: Any, changes: dict[str, Any]) -> None:
            seen.append(changes["views"])

        @when(condition=lambda changes: "title" in changes and changes["title"][1] == "x")
        def before_save(self, instance: Any) -> None:
            seen.append("title is x")

    Article = backend.model("named", registry=registry)
    a = backend.create(Article, title="a")
    a.title = "b"
    a.save()
    a.views = 3
    a.title = "x"
    a.save()
    assert seen == [(None, 0), "title is x", (0, 3)]


def test_a_condition_on_a_field_the_model_lacks_is_a_weaving_error(backend: Any) -> None:
    registry = PluginRegistry()

    @plugin("typo", registry=registry)
    class Typo:
        @hook("after:save", when="stauts", is_now="published")
        def published(self, instance: Any) -> None:
            raise AssertionError("never woven")

    with pytest.raises(WeavingError) as info:
        backend.model("typo", fields=STATUS, registry=registry)
    message = str(info.value)
    assert "'stauts'" in message and "status" in message and "title" in message
    assert "'typo'" in message and "published" in message


@pytest.mark.parametrize(
    ("spec", "wanted"),
    [
        ("around:update_many", "once per record"),
        ("after:get", "write operations only"),
    ],
)
def test_conditions_where_they_cannot_hold_are_weaving_errors(spec: str, wanted: str) -> None:
    from earnorm_aop.integrations.memory import MemoryModel, MemoryStore

    registry = PluginRegistry()

    @plugin("misplaced", registry=registry)
    class Misplaced:
        @hook(spec, when="views", has_changed=True)
        def advice(self, proceed: Any = None) -> Any:
            return None

    class Item(MemoryModel):
        __store__ = MemoryStore()
        id: int | None = None
        views: int = 0

    from earnorm_aop import with_plugins

    with pytest.raises(WeavingError, match=wanted):
        with_plugins("misplaced", registry=registry)(Item)


def test_bad_condition_keywords_fail_at_the_decorator() -> None:
    with pytest.raises(PluginError, match="when_any"):
        hook("after:save", when="a", when_any=["b"])
    with pytest.raises(PluginError, match="conditions are when"):
        hook("after:save", when_is="a")
    with pytest.raises(PluginError, match="need the field"):
        hook("after:save", was="draft")


def test_timestamp_keeps_updated_at_on_a_save_that_changes_nothing(backend: Any) -> None:
    from _builtin_backends import TickingClock

    Article = backend.model("timestamp", timestamp={"clock": TickingClock()})
    a = backend.create(Article, title="a")
    stamped = a.updated_at
    loaded = backend.get(Article, a.id)
    loaded.save()
    a.save()
    assert backend.rows(Article)[a.id]["updated_at"] == stamped
    a.title = "b"
    a.save()
    assert backend.rows(Article)[a.id]["updated_at"] > stamped


def test_touch_on_noop_bumps_updated_at_on_every_save(backend: Any) -> None:
    from _builtin_backends import TickingClock

    if not getattr(backend, "saves_unchanged", True):
        pytest.skip("SQLAlchemy flushes nothing for an object without a change: no save to touch")
    Article = backend.model("timestamp", timestamp={"clock": TickingClock(), "touch_on_noop": True})
    a = backend.create(Article, title="a")
    stamped = a.updated_at
    a.save()
    assert backend.rows(Article)[a.id]["updated_at"] > stamped


def test_audit_records_nothing_for_a_save_that_changes_nothing(backend: Any) -> None:
    records: list[Any] = []
    Article = backend.model("audit", "timestamp", audit={"sink": records.append})
    a = backend.create(Article, title="a")
    assert [r.action for r in records] == ["create"]
    a.save()
    backend.get(Article, a.id).save()
    assert [r.action for r in records] == ["create"]
    a.title = "b"
    a.save()
    assert [r.action for r in records] == ["create", "update"]
    assert set(records[-1].changes) == {"title", "updated_at"}


def test_a_bulk_update_reads_its_rows_once_for_every_plugin(backend: Any, seen: list[Any]) -> None:
    """audit, cache and a conditional hook share one read of the rows."""
    registry = PluginRegistry()

    @plugin("watch", registry=registry)
    class Watch:
        @hook("after:update_many", when="views", changes_to=1)
        def first_view(self, instance: Any) -> None:
            seen.append(_read(instance, "title"))

    Article = backend.model(
        "audit", "cache", "watch", registry=registry, audit={"sink": lambda record: None}
    )
    for i in range(20):
        backend.create(Article, title=f"t{i}", views=0 if i < 3 else 5)
    with backend.queries() as statements:
        backend.bulk_update(backend.query(Article, views=0), views=1)
    kinds = [s.split()[0].upper() for s in statements]
    assert kinds.count("SELECT") == 1, statements
    assert sorted(seen) == ["t0", "t1", "t2"]


# -- property: changes equal a reference model's diff ------------------------------------

_FIELD_VALUES = {"title": st.sampled_from(["", "a", "b"]), "views": st.integers(0, 2)}
_STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("set"), st.sampled_from(sorted(_FIELD_VALUES)), st.integers(0, 2)),
        st.tuples(st.just("save"), st.none(), st.none()),
        st.tuples(st.just("reload"), st.none(), st.none()),
    ),
    max_size=12,
)


@pytest.mark.parametrize("flavour", ["memory", "pydantic"])
@settings(max_examples=examples(100), deadline=None)
@given(steps=_STEPS)
def test_changes_seen_by_advice_equal_a_reference_diff(
    flavour: str, steps: list[tuple[str, Any, Any]]
) -> None:
    from earnorm_aop.testing._memory import MemoryBackend

    values = {"title": ["", "a", "b"], "views": [0, 1, 2]}
    seen: list[dict[str, Any]] = []
    registry = PluginRegistry()

    @plugin("spy", registry=registry)
    class Spy:
        @hook("before:save")
        def before(self, changes: dict[str, Any]) -> None:
            seen.append(dict(changes))

        @hook("after:save")
        def after(self, changes: dict[str, Any]) -> None:
            seen.append(dict(changes))

    backend = MemoryBackend(flavour)
    try:
        Article = backend.model("spy", registry=registry)
        obj = backend.new(Article)
        current = {"id": None, "title": "", "views": 0}
        stored: dict[str, Any] | None = None  # the reference: what the store holds
        for op, name, index in steps:
            if op == "set":
                value = values[name][index]
                setattr(obj, name, value)
                current[name] = value
            elif op == "save":
                obj.save()
                if stored is None:  # a creation: before it, no key; after it, the new key
                    expected = {n: (None, v) for n, v in current.items() if v is not None}
                    current["id"] = obj.id
                    assert seen == [expected, {**expected, "id": (None, obj.id)}]
                else:
                    expected = {n: (stored[n], v) for n, v in current.items() if stored[n] != v}
                    assert seen == [expected, expected]
                seen.clear()
                stored = dict(current)
            elif stored is not None:  # reload: a fresh instance, as stored
                obj = backend.get(Article, stored["id"])
                current = dict(stored)
        assert seen == []
    finally:
        backend.close()


def test_validation_changed_only_checks_the_field_rules_of_changed_fields(backend: Any) -> None:
    from earnorm_aop.plugins.validation import ValidationFailed

    rules = {"fields": {"views": {"le": 10}, "title": {"max_length": 3}}, "changed_only": True}
    Article = backend.model("validation", validation=rules)
    a = backend.create(Article, title="abc", views=1)
    backend.raw_update(Article, a.id, views=99)  # stored before the rule, say
    legacy = backend.get(Article, a.id)
    legacy.title = "xyz"
    legacy.save()  # views is as stored: not checked again
    assert backend.rows(Article)[a.id]["title"] == "xyz"
    legacy.title = "toolong"
    with pytest.raises(ValidationFailed) as info:
        legacy.save()
    assert set(info.value.errors) == {"title"}
    strict = backend.model("validation", validation={**rules, "changed_only": False})
    b = backend.create(strict, title="abc", views=1)
    backend.raw_update(strict, b.id, views=99)
    loaded = backend.get(strict, b.id)
    loaded.title = "xyz"
    with pytest.raises(ValidationFailed):
        loaded.save()


def test_each_hook_evaluates_its_condition_when_it_runs(backend: Any, seen: list[Any]) -> None:
    """django-lifecycle #170: an earlier hook's assignment is seen by a later hook's condition."""
    registry = PluginRegistry()

    @plugin("first", registry=registry, priority=10)
    class First:
        @hook("before:save", when="views", changes_to=3)
        def promote(self, instance: Any) -> None:
            instance.title = "popular"

    @plugin("second", registry=registry)
    class Second:
        @hook("before:save", when="title", changes_to="popular")
        def noticed(self, instance: Any, changes: dict[str, Any]) -> None:
            seen.append(changes["title"])

    Article = backend.model("first", "second", registry=registry)
    a = backend.create(Article, title="a")
    a.views = 3
    a.save()
    assert seen == [("a", "popular")]
    assert backend.rows(Article)[a.id]["title"] == "popular"


def test_around_error_and_delete_advice_take_conditions(backend: Any, seen: list[Any]) -> None:
    registry = PluginRegistry()

    @plugin("guards", registry=registry)
    class Guards:
        @hook("around:save", when="views", changes_to=13)
        def wrapped(self, proceed: Any, changes: dict[str, Any]) -> Any:
            seen.append(("around", changes["views"]))
            return proceed()

        @hook("before:delete", when="title", was="keep")
        def keep(self, instance: Any) -> bool:
            seen.append(("kept", _read(instance, "title")))
            return False

    Article = backend.model("guards", registry=registry)
    a = backend.create(Article, title="keep")
    b = backend.create(Article, title="drop")
    a.views = 13
    a.save()  # the around advice runs; on other saves the write goes on without it
    a.views = 14
    a.save()
    assert backend.rows(Article)[a.id]["views"] == 14
    a.delete()
    b.delete()
    assert seen == [("around", (0, 13)), ("kept", "keep")]
    assert set(backend.rows(Article)) == {a.id}


def test_a_failing_condition_reads_no_more_of_the_record(backend: Any) -> None:
    """Hooks whose condition fails add no snapshot of the instance, however many there are."""
    from earnorm_aop.integrations import adapter_for

    def model_with(hooks: int) -> Any:
        registry = PluginRegistry()
        body = {
            f"h{i}": hook("after:save", when="views", changes_to=-1)(lambda self, instance: None)
            for i in range(hooks)
        }
        plugin("quiet", registry=registry)(type("Quiet", (), body))
        return backend.model("quiet", registry=registry)

    counts = []
    for hooks in (1, 8):
        Article = model_with(hooks)
        a = backend.create(Article, title="a")
        adapter = adapter_for(Article)
        real = type(adapter).snapshot
        calls = [0]

        def counting(self: Any, instance: Any, real: Any = real, calls: list[int] = calls) -> Any:
            calls[0] += 1
            return real(self, instance)

        type(adapter).snapshot = counting  # type: ignore[method-assign]
        try:
            a.views = 2
            a.save()
        finally:
            type(adapter).snapshot = real  # type: ignore[method-assign]
        counts.append(calls[0])
    assert counts[0] == counts[1]


def test_an_instance_update_reports_the_values_it_writes(backend: Any, seen: list[Any]) -> None:
    registry = PluginRegistry()

    @plugin("updates", registry=registry)
    class Updates:
        @hook("before:update|save", when="views", has_changed=True)
        def before(self, changes: dict[str, Any]) -> None:
            seen.append(("before", changes))

        @hook("after:update", optional=True)
        def after(self, changes: dict[str, Any]) -> None:
            seen.append(("after", changes))

    Article = backend.model("updates", registry=registry)
    a = backend.create(Article, title="a", views=1)
    seen.clear()
    backend.update(a, views=2)  # Django has no instance update: skipped there
    assert seen == [("before", {"views": (1, 2)}), ("after", {"views": (1, 2)})]
    seen.clear()
    a.save()  # the update's values are the persisted state now
    assert seen == []


def test_an_adapter_keeping_state_its_own_way_is_asked_through_loaded_state() -> None:
    """A new ORM's adapter (EarnORM's) overriding only remember/loaded_state still tracks."""
    from earnorm_aop.adapters.base import Adapter

    kept: dict[int, dict[str, Any]] = {}

    class OwnState(Adapter):
        def remember_state(self, instance: Any, state: Any = None) -> None:
            kept[id(instance)] = dict(self.snapshot(instance) if state is None else state)

        def loaded_state(self, instance: Any) -> dict[str, Any] | None:
            found = kept.get(id(instance))
            return None if found is None else dict(found)

    class Row:
        title = "a"

    adapter, row = OwnState(), Row()
    assert adapter.persisted_state(row) is None
    adapter.remember_state(row, {"title": "a"})
    assert adapter.persisted_state(row) == {"title": "a"}
