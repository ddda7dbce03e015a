"""What a Django bulk write reads and writes besides its UPDATE (issue 18, points 1 and 2).

Rows are read before ``QuerySet.update()`` only when a plugin on the model
needs their values (audit, a hook with a condition); timestamp and softdelete
alone add to the UPDATE and read nothing.  The audit records of one bulk
write go out in one ``bulk_create``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from earnorm_aop import PluginRegistry, hook, plugin
from earnorm_aop.integrations.django.models import AuditRecord
from earnorm_aop.testing import open_backend
from earnorm_aop.testing._django import DjangoBackend


@pytest.fixture
def backend() -> Iterator[DjangoBackend]:
    with open_backend("django") as django:
        assert isinstance(django, DjangoBackend)
        yield django


def statements(work: Any) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        work()
    return [q["sql"] for q in queries.captured_queries]


SKIPPED = ("SAVEPOINT", "RELEASE", "BEGIN", "COMMIT")  # transaction control, not work


def kinds(sql: list[str]) -> list[str]:
    return [s.split()[0].upper() for s in sql if not s.upper().startswith(SKIPPED)]


def test_timestamp_and_softdelete_alone_read_nothing(backend: DjangoBackend) -> None:
    Article = backend.model("timestamp", "softdelete")
    for title in "abc":
        backend.create(Article, title=title)
    sql = statements(lambda: Article.objects.update(views=7))
    assert kinds(sql) == ["UPDATE"], sql
    assert "updated_at" in sql[0] and "deleted_at" in sql[0]
    assert set(Article.objects.values_list("views", flat=True)) == {7}
    assert all(o.updated_at is not None for o in Article.objects.all())


def test_a_plugin_needing_the_rows_reads_them_once(backend: DjangoBackend) -> None:
    seen: list[Any] = []
    registry = PluginRegistry()

    @plugin("watch", registry=registry)
    class Watch:
        @hook("after:update_many", when="views", has_changed=True)
        def viewed(self, instance: Any, changes: dict[str, Any]) -> None:
            seen.append(changes["views"])

    Article = backend.model("timestamp", "softdelete", "watch", registry=registry)
    for title in "ab":
        backend.create(Article, title=title)
    sql = statements(lambda: Article.objects.update(views=3))
    assert kinds(sql) == ["SELECT", "UPDATE"], sql
    assert sorted(seen) == [(0, 3), (0, 3)]


def test_the_audit_records_of_a_bulk_update_are_one_insert(backend: DjangoBackend) -> None:
    Article = backend.model("timestamp", "audit", audit={"sink": "table"})
    for title in "abcd":
        backend.create(Article, title=title)
    before = AuditRecord.objects.count()
    sql = statements(lambda: Article.objects.update(views=5))
    assert kinds(sql) == ["SELECT", "UPDATE", "INSERT"], sql
    records = list(AuditRecord.objects.order_by("id"))[before:]
    assert [(r.action, r.changes["views"]) for r in records] == [("update", [0, 5])] * 4
    assert sorted(r.object_id for r in records) == sorted(
        str(pk) for pk in Article.objects.values_list("pk", flat=True)
    )
    assert len({r.time for r in records}) == 1  # one statement, one instant


def test_the_records_of_one_statement_share_its_context(backend: DjangoBackend) -> None:
    from earnorm_aop import context

    Article = backend.model("audit", audit={"sink": "table"})
    for title in "abc":
        backend.create(Article, title=title)
    before = AuditRecord.objects.count()
    with context(actor="alice", reason="bulk fix"):
        Article.objects.filter(title__in=["a", "c"]).update(views=2)
    records = list(AuditRecord.objects.order_by("id"))[before:]
    assert [(r.actor, r.reason, r.changes) for r in records] == [
        ("alice", "bulk fix", {"views": [0, 2]})
    ] * 2
    assert len({r.object_id for r in records}) == 2


def test_the_audit_records_of_a_bulk_delete_are_one_insert(backend: DjangoBackend) -> None:
    Article = backend.model("audit", audit={"sink": "table"})
    for title in "abc":
        backend.create(Article, title=title)
    before = AuditRecord.objects.count()
    sql = statements(lambda: Article.objects.all().delete())
    assert kinds(sql).count("INSERT") == 1, sql
    assert [r.action for r in AuditRecord.objects.order_by("id")[before:]] == ["delete"] * 3


def test_the_audit_records_of_a_bulk_create_are_one_insert(backend: DjangoBackend) -> None:
    Article = backend.model("audit", audit={"sink": "table"})
    before = AuditRecord.objects.count()
    objs = [Article(title=t) for t in "xyz"]
    sql = statements(lambda: Article.objects.bulk_create(objs))
    audit_inserts = [s for s in sql if s.startswith('INSERT INTO "earnorm_aop_auditrecord"')]
    assert len(audit_inserts) == 1, sql
    created = list(AuditRecord.objects.order_by("id"))[before:]
    assert [(r.action, r.changes["title"]) for r in created] == [
        ("create", [None, t]) for t in "xyz"
    ]


def test_a_single_save_writes_its_record_at_once(backend: DjangoBackend) -> None:
    """Outside a bulk write nothing is gathered: the record is the save's own INSERT."""
    Article = backend.model("audit", audit={"sink": "table"})
    before = AuditRecord.objects.count()
    sql = statements(lambda: backend.create(Article, title="one"))
    assert kinds(sql) == ["INSERT", "INSERT"], sql
    assert AuditRecord.objects.count() == before + 1


def selects(sql: list[str]) -> list[str]:
    return [s for s in sql if s.upper().startswith("SELECT")]


def test_audit_of_an_update_reads_only_the_key_and_the_fields_it_compares(
    backend: DjangoBackend,
) -> None:
    Article = backend.model("timestamp", "softdelete", "audit", audit={"sink": "table"})
    for title in "ab":
        backend.create(Article, title=title)
    before = AuditRecord.objects.count()
    sql = statements(lambda: Article.objects.update(views=5))
    (read,) = selects(sql)
    assert '"title"' not in read, read  # neither written nor compared
    assert all(f'"{name}"' in read for name in ("id", "views", "updated_at", "deleted_at")), read
    records = list(AuditRecord.objects.order_by("id"))[before:]
    assert [r.changes["views"] for r in records] == [[0, 5], [0, 5]]
    assert all(set(r.changes) == {"views", "updated_at"} for r in records)


def updated(backend: DjangoBackend, seen: list[Any], *plugins: str, **options: Any) -> list[str]:
    """The statements of ``update(views=5)`` of two rows of a model with ``plugins``;
    ``seen`` (what its listeners saw) emptied after the rows were made."""
    Article = backend.model(*plugins, **options)
    for title in "ab":
        backend.create(Article, title=title)
    seen.clear()
    return statements(lambda: Article.objects.update(views=5))


def test_a_listener_of_the_rows_gets_every_column(backend: DjangoBackend) -> None:
    seen: list[Any] = []
    registry = PluginRegistry()

    @plugin("titles", registry=registry)
    class Titles:
        @hook("after_change")
        def heard(self, instance: Any) -> None:
            seen.append(instance.title)

    sql = updated(backend, seen, "audit", "titles", registry=registry, audit={"sink": "table"})
    (read,) = selects(sql)
    assert '"title"' in read, read
    assert sorted(seen) == ["a", "b"]
    assert kinds(sql) == ["SELECT", "UPDATE", "INSERT"], sql  # the title was not fetched again


def test_a_listener_of_the_changes_alone_reads_what_audit_reads(backend: DjangoBackend) -> None:
    """Issue 18 point 1: a handler given no row (``instance``) reads no field of it but what
    the write changes: the key and the written fields, decided from its signature."""
    seen: list[Any] = []
    committed: list[Any] = []
    registry = PluginRegistry()

    @plugin("changed", registry=registry)
    class Changed:
        @hook("after_change")
        def heard(self, changes: dict[str, Any], pk: Any, action: str) -> None:
            seen.append((pk, action, changes))

        @hook("after_commit_change")
        def at_commit(self, changes: dict[str, Any]) -> None:
            committed.append(changes)

        @hook("after_access")
        def fetched(self, instance: Any) -> None:  # fired by get, never by a bulk write
            seen.append(instance)

    Article = backend.model("changed", registry=registry)
    rows = [backend.create(Article, title=title) for title in "ab"]
    seen.clear()
    committed.clear()
    sql = statements(lambda: Article.objects.update(views=5))
    (read,) = selects(sql)
    assert '"title"' not in read and '"views"' in read, read
    assert sorted(seen) == [(row.pk, "update", {"views": (0, 5)}) for row in rows]
    assert committed == [{"views": (0, 5)}] * 2


@pytest.mark.parametrize("shape", ["instance", "kwargs", "condition", "method"])
def test_a_listener_that_may_read_any_field_gets_every_column(
    backend: DjangoBackend, shape: str
) -> None:
    """The row itself (``instance``, ``**kwargs``), a callable condition, or advice on a
    method taking ``changes``: every column, read once (a deferred field would be fetched
    per row)."""
    registry = PluginRegistry()
    seen: list[Any] = []

    def listener(**kwargs: Any) -> None:
        seen.append(kwargs.get("changes"))

    hooks = {
        "instance": hook("after_change")(lambda self, instance, changes: listener(changes=changes)),
        "kwargs": hook("after_change")(lambda self, **kwargs: listener(**kwargs)),
        "condition": hook("after_change", condition=lambda changes: "views" in changes)(
            lambda self, changes: listener(changes=changes)
        ),
        "method": hook("after:update_many")(lambda self, changes: listener(changes=changes)),
    }
    registry.register("reader", type("Reader", (), {"heard": hooks[shape]}))
    (read,) = selects(updated(backend, seen, "reader", registry=registry))
    assert '"title"' in read, read
    assert seen == [{"views": (0, 5)}] * 2


def test_cache_alone_reads_only_the_keys_of_a_bulk_write(backend: DjangoBackend) -> None:
    Article = backend.model("timestamp", "cache")
    first = backend.create(Article, title="a")
    assert Article.objects.get(pk=first.pk).views == 0  # cached now
    sql = statements(lambda: Article.objects.update(views=8))
    (read,) = selects(sql)
    assert '"title"' not in read and '"views"' not in read, read
    assert Article.objects.get(pk=first.pk).views == 8  # the entry was dropped


def test_a_condition_on_named_fields_reads_only_those_columns(backend: DjangoBackend) -> None:
    """A hook whose condition names its fields, and that reads nothing else of the row,
    makes the read select the key, the written fields and those fields (issue 18 point 1)."""
    seen: list[Any] = []
    registry = PluginRegistry()

    @plugin("watch", registry=registry)
    class Watch:
        @hook("after:update_many", when="title", is_now="a")
        def titled(self, model: type) -> None:
            seen.append(model)

    Article = backend.model("watch", registry=registry, fields={"body": (str, "")})
    for title in "ab":
        backend.create(Article, title=title)
    sql = statements(lambda: Article.objects.update(views=3))
    assert kinds(sql) == ["SELECT", "UPDATE"], sql
    read = sql[0].split(" FROM ")[0]
    assert '"title"' in read and '"views"' in read and '"id"' in read, read
    assert '"body"' not in read, read
    assert len(seen) == 1  # the row whose title is "a", and stays
    Article.objects.update(title="a")
    assert len(seen) == 3


def test_a_condition_hook_taking_the_record_reads_every_column(backend: DjangoBackend) -> None:
    registry = PluginRegistry()
    seen: list[Any] = []

    @plugin("watch", registry=registry)
    class Watch:
        @hook("after:update_many", when="title", is_now="a")
        def titled(self, instance: Any) -> None:
            seen.append(instance.views)

    Article = backend.model("watch", registry=registry, fields={"body": (str, "")})
    backend.create(Article, title="a", views=1)
    sql = statements(lambda: Article.objects.update(views=3))
    assert '"body"' in sql[0].split(" FROM ")[0], sql
    assert seen == [3]
