"""Change tracking on Django: bulk_update, F() expressions, deferred fields, refresh_from_db,
the update_fields mode and commit-aware advice (SQLite; PostgreSQL with
``EARNORM_AOP_TEST_DB=postgres``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from earnorm_aop import PluginRegistry, hook, plugin
from earnorm_aop.testing import open_backend
from earnorm_aop.testing._django import DjangoBackend

STATUS = {"status": (str, "draft")}


@pytest.fixture
def backend() -> Iterator[DjangoBackend]:
    with open_backend("django") as django:
        assert isinstance(django, DjangoBackend)
        yield django


@pytest.fixture
def seen() -> list[Any]:
    return []


@pytest.fixture
def reg(seen: list[Any]) -> PluginRegistry:
    registry = PluginRegistry()

    @plugin("watch", registry=registry)
    class Watch:
        @hook("after:save|update_many", when="status", changes_to="published")
        def published(self, instance: Any, changes: dict[str, Any]) -> None:
            seen.append(("published", instance.pk, changes["status"]))

        @hook("after:save|update_many", when="views", has_changed=True)
        def viewed(self, instance: Any, changes: dict[str, Any]) -> None:
            seen.append(("views", instance.pk, changes["views"]))

    return registry


def test_bulk_update_fires_per_changed_row(
    backend: DjangoBackend, reg: PluginRegistry, seen: list[Any]
) -> None:
    Article = backend.model("watch", fields=STATUS, registry=reg)
    a = backend.create(Article, title="a")
    b = backend.create(Article, title="b")
    c = backend.create(Article, title="c", status="published")
    seen.clear()
    objs = list(Article.objects.order_by("pk"))
    for obj in objs:
        obj.status = "published"
    Article.objects.bulk_update(objs, ["status"])
    assert sorted(seen) == [
        ("published", a.pk, ("draft", "published")),
        ("published", b.pk, ("draft", "published")),
    ]
    assert c.pk not in [e[1] for e in seen]


def test_f_expressions_fire_with_their_evaluated_values(
    backend: DjangoBackend, reg: PluginRegistry, seen: list[Any]
) -> None:
    Article = backend.model("watch", fields=STATUS, registry=reg)
    a = backend.create(Article, title="a", views=1)
    b = backend.create(Article, title="b", views=5)
    seen.clear()
    Article.objects.filter(views__lt=5).update(views=F("views") + 10)
    assert seen == [("views", a.pk, (1, 11))]
    seen.clear()
    Article.objects.update(views=F("views") * 1)  # evaluates to the same values: no change
    assert seen == []
    assert backend.rows(Article)[b.pk]["views"] == 5


def test_an_update_to_the_value_a_row_has_does_not_fire(
    backend: DjangoBackend, reg: PluginRegistry, seen: list[Any]
) -> None:
    Article = backend.model("watch", fields=STATUS, registry=reg)
    backend.create(Article, title="a", status="published")
    draft = backend.create(Article, title="b")
    seen.clear()
    Article.objects.update(status="published")
    assert seen == [("published", draft.pk, ("draft", "published"))]


def test_deferred_fields_are_unknown_never_guessed_nor_queried(
    backend: DjangoBackend, reg: PluginRegistry, seen: list[Any]
) -> None:
    Article = backend.model("watch", fields=STATUS, registry=reg)
    a = backend.create(Article, title="a", views=1)
    seen.clear()
    partial = Article.objects.only("title").get(pk=a.pk)
    partial.title = "b"
    with CaptureQueriesContext(connection) as queries:
        partial.save()
    assert seen == []  # views and status were never loaded: their conditions are false
    assert all(q["sql"].startswith("UPDATE") for q in queries.captured_queries)
    # a value assigned to a deferred field is not compared with a guess either
    partial = Article.objects.only("title").get(pk=a.pk)
    partial.views = 7
    partial.save()
    assert seen == []


def test_refresh_from_db_resets_the_tracked_state(
    backend: DjangoBackend, reg: PluginRegistry, seen: list[Any]
) -> None:
    """django-lifecycle #157: after refresh_from_db(), "was" is the value reloaded."""
    Article = backend.model("watch", fields=STATUS, registry=reg)
    a = backend.create(Article, title="a")
    backend.raw_update(Article, a.pk, status="published")
    seen.clear()
    a.refresh_from_db()
    a.status = "published"
    a.save()
    assert seen == []  # published -> published: no change
    backend.raw_update(Article, a.pk, status="draft")
    a.refresh_from_db(fields=["status"])
    a.status = "published"
    a.save()
    assert seen == [("published", a.pk, ("draft", "published"))]


def test_update_fields_mode_writes_only_the_changed_fields(backend: DjangoBackend) -> None:
    """django-model-utils #245: ``changes={"update_fields": True}``."""
    Article = backend.model("timestamp", changes={"update_fields": True})
    a = backend.create(Article, title="a", views=1)
    stamped = backend.rows(Article)[a.pk]["updated_at"]
    backend.raw_update(Article, a.pk, views=50)  # someone else's write
    a.title = "b"
    with CaptureQueriesContext(connection) as queries:
        a.save()
    (sql,) = [q["sql"] for q in queries.captured_queries]
    assert '"title"' in sql and '"updated_at"' in sql and '"views"' not in sql
    row = backend.rows(Article)[a.pk]
    assert (row["title"], row["views"]) == ("b", 50)  # the other write survives
    assert row["updated_at"] > stamped
    with CaptureQueriesContext(connection) as queries:
        a.save()  # nothing changed: nothing written
    assert queries.captured_queries == []


def test_without_the_mode_a_save_writes_every_field(backend: DjangoBackend) -> None:
    Article = backend.model("timestamp")
    a = backend.create(Article, title="a", views=1)
    a.title = "b"
    with CaptureQueriesContext(connection) as queries:
        a.save()
    assert '"views"' in queries.captured_queries[-1]["sql"]


def test_commit_aware_advice_gets_the_changes_of_the_write(
    backend: DjangoBackend, seen: list[Any]
) -> None:
    registry = PluginRegistry()

    @plugin("mailer", registry=registry)
    class Mailer:
        @hook("after_commit:save|update_many", when="status", changes_to="published")
        def announce(self, instance: Any, changes: dict[str, Any]) -> None:
            seen.append((instance.title, changes["status"]))

        @hook("after_rollback:save", when="status", changes_to="published")
        def retract(self, instance: Any, changes: dict[str, Any]) -> None:
            seen.append(("rolled back", changes["status"]))

    Article = backend.model("mailer", fields=STATUS, registry=registry)
    a = backend.create(Article, title="a")
    b = backend.create(Article, title="b")
    with transaction.atomic():
        a.status = "published"
        a.save()
        a.title = "a2"
        a.save()  # a second save in the same transaction: status no longer changes
        assert seen == []
    assert seen == [("a2", ("draft", "published"))]
    seen.clear()
    with pytest.raises(RuntimeError), transaction.atomic():
        b.status = "published"
        b.save()
        raise RuntimeError("roll back")
    assert seen == [("rolled back", ("draft", "published"))]
    seen.clear()
    with transaction.atomic():
        Article.objects.filter(pk=b.pk).update(status="published")
    assert seen == [("b", ("draft", "published"))]


def test_a_bulk_update_of_1000_rows_reads_them_once(
    backend: DjangoBackend, seen: list[Any]
) -> None:
    """The benchmark's scenario: a condition matching 10 of 1,000 rows, audit and cache woven."""
    registry = PluginRegistry()

    @plugin("drafts", registry=registry)
    class Drafts:
        @hook("after:update_many", when="status", changes_to="published")
        def published(self, instance: Any) -> None:
            seen.append(instance.pk)

    Article = backend.model(
        "drafts", "audit", "cache", fields=STATUS, registry=registry, audit={"sink": seen.append}
    )
    Article.objects.bulk_create(
        Article(title=f"t{i}", status="draft" if i % 100 == 0 else "published") for i in range(1000)
    )
    drafts = set(Article.objects.filter(status="draft").values_list("pk", flat=True))
    seen.clear()
    with CaptureQueriesContext(connection) as queries:
        Article.objects.update(status="published")
    kinds = [q["sql"].split()[0] for q in queries.captured_queries]
    assert kinds.count("SELECT") == 1
    assert {pk for pk in seen if not hasattr(pk, "action")} == drafts
    assert len(drafts) == 10


def test_changes_weaves_no_around_save_without_update_fields(
    backend: DjangoBackend, reg: PluginRegistry
) -> None:
    """A save pays for no ``around`` layer the ``update_fields`` option would need."""
    from earnorm_aop import explain

    plain = explain(backend.model("watch", fields=STATUS, registry=reg))
    assert "changes.remember_saved" in plain
    assert "changes.save_changed_only" not in plain
    narrowing = explain(backend.model("timestamp", changes={"update_fields": True}))
    assert "around  changes.save_changed_only" in narrowing


def test_state_kept_after_a_save_is_the_fields_alone(
    backend: DjangoBackend, reg: PluginRegistry, seen: list[Any]
) -> None:
    """A save keeps a copy of the instance's ``__dict__``; what is read back is its fields."""
    import gc
    import weakref

    from earnorm_aop.integrations.django.adapter import adapter

    Article = backend.model("watch", fields=STATUS, registry=reg)
    obj = Article.objects.get(pk=backend.create(Article, title="a").pk)
    seen.clear()
    obj.note = "not a field"  # an attribute of the instance only
    obj.title = "b"
    obj.save()
    fields = {f.attname for f in Article._meta.concrete_fields}
    assert adapter.loaded_state(obj) == {n: getattr(obj, n) for n in fields}
    obj.status = "published"
    obj.save()  # "before" read from the previous save's copy
    assert seen == [("published", obj.pk, ("draft", "published"))]
    assert set(adapter.persisted_state(obj) or {}) == fields
    obj.title = "c"
    obj.save()
    ref = weakref.ref(obj)
    gc.disable()  # the kept copy must not make a cycle: freed without the collector
    try:
        del obj
        assert ref() is None
    finally:
        gc.enable()


def test_delete_after_a_save_lists_fields_only(backend: DjangoBackend) -> None:
    """A delete's changes iterate the kept state: the fields, not the instance's other keys."""
    got: list[dict[str, Any]] = []
    registry = PluginRegistry()

    @plugin("gone", registry=registry)
    class Gone:
        @hook("after:delete")
        def deleted(self, changes: dict[str, Any]) -> None:
            got.append(changes)

    Article = backend.model("gone", fields=STATUS, registry=registry)
    obj = Article.objects.get(pk=backend.create(Article, title="a").pk)
    obj.note = "not a field"
    obj.save()
    fields = [f.attname for f in Article._meta.concrete_fields]
    expected = {n: (getattr(obj, n), None) for n in fields if getattr(obj, n) is not None}
    obj.delete()
    assert got == [expected]


def test_a_condition_on_a_deferred_field_is_false_even_with_no_value_test(
    backend: DjangoBackend,
) -> None:
    """``when="views"`` alone holds on every write, but not where views was never loaded."""
    seen: list[Any] = []
    registry = PluginRegistry()

    @plugin("touch", registry=registry)
    class Touch:
        @hook("after:save", when="views")
        def one(self, instance: Any) -> None:
            seen.append(("one", instance.pk))

        @hook("after:save", when_any=["views", "status"])
        def any_of(self, instance: Any) -> None:
            seen.append(("any", instance.pk))

    Article = backend.model("touch", fields=STATUS, registry=registry)
    a = backend.create(Article, title="a")
    assert sorted(seen) == [("any", a.pk), ("one", a.pk)]
    seen.clear()
    partial = Article.objects.only("title").get(pk=a.pk)
    partial.title = "b"
    partial.save()
    assert seen == []  # views and status unknown: no condition on them holds
    loaded = Article.objects.get(pk=a.pk)
    loaded.title = "c"
    loaded.save()
    assert sorted(seen) == [("any", a.pk), ("one", a.pk)]


def test_a_field_left_out_of_update_fields_keeps_its_stored_value_for_conditions(
    backend: DjangoBackend, reg: PluginRegistry, seen: list[Any]
) -> None:
    """``save(update_fields=["title"])`` does not write views: its condition sees no change."""
    Article = backend.model("watch", fields=STATUS, registry=reg)
    a = backend.create(Article, title="a", views=1)
    seen.clear()
    a.views, a.title = 9, "b"
    a.save(update_fields=["title"])
    assert seen == []
    assert backend.rows(Article)[a.pk]["views"] == 1
    a.save()
    assert seen == [("views", a.pk, (1, 9))]
