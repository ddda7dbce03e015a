"""The built-in plugins on Django models and a real SQLite database."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from djangoapp.models import Entry, Story, Writer

from earnorm_aop import explain, registry
from earnorm_aop.integrations.django.models import AuditRecord
from earnorm_aop.plugins import audit
from earnorm_aop.plugins.softdelete import hard_deleting, including_deleted
from earnorm_aop.plugins.validation import ValidationFailed
from earnorm_aop.weaving import weaver


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    (cache,) = [a for a in weaver.effective_aspects(Story) if a.name == "cache"]
    cache.plugin.backend.clear()  # type: ignore[attr-defined]
    yield
    cache.plugin.backend.clear()  # type: ignore[attr-defined]


def stored(model: Any, pk: Any) -> dict[str, Any]:
    """The row as the table holds it, hidden or not, read through the unwoven base manager."""
    return dict(model._base_manager.filter(pk=pk).values().first() or {})


def table_size(model: Any) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT COUNT(*) FROM "{model._meta.db_table}"')
        return int(cursor.fetchone()[0])


def writes(queries: Any) -> list[str]:
    return [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].split()[0] in ("INSERT", "UPDATE", "DELETE")
    ]


# -- timestamp ----------------------------------------------------------------------------


def test_timestamps_are_persisted_and_read_back() -> None:
    entry = Entry.objects.create(title="a")
    assert entry.created == entry.modified
    assert entry.created.utcoffset().total_seconds() == 0
    row = stored(Entry, entry.pk)
    assert (row["created"], row["modified"]) == (entry.created, entry.modified)
    entry.title = "b"
    entry.save()
    loaded = Entry.objects.get(pk=entry.pk)
    assert loaded.created == row["created"]
    assert loaded.modified > row["modified"]


def test_a_save_restricted_to_some_fields_still_writes_the_update_time() -> None:
    entry = Entry.objects.create(title="a")
    before = stored(Entry, entry.pk)["modified"]
    entry.title = "b"
    entry.save(update_fields=["title"])
    assert stored(Entry, entry.pk)["modified"] > before


def test_queryset_update_bumps_the_update_time_of_the_rows_it_changes() -> None:
    a, b = Entry.objects.create(title="a"), Entry.objects.create(title="b")
    before_a, before_b = stored(Entry, a.pk), stored(Entry, b.pk)
    assert Entry.objects.filter(title="a").update(title="c") == 1
    after_a = stored(Entry, a.pk)
    assert after_a["modified"] > before_a["modified"]
    assert after_a["created"] == before_a["created"]
    assert stored(Entry, b.pk) == before_b


def test_an_explicit_update_time_is_kept() -> None:
    a = Entry.objects.create(title="a")
    when = a.created
    Entry.objects.filter(pk=a.pk).update(title="b", modified=when)
    assert stored(Entry, a.pk)["modified"] == when


def test_bulk_create_stamps_every_object() -> None:
    objs = Entry.objects.bulk_create([Entry(title="a"), Entry(title="b")])
    for obj in objs:
        row = stored(Entry, obj.pk)
        assert row["created"] is not None and row["created"] == row["modified"]


def test_bulk_update_bumps_the_update_time() -> None:
    objs = Entry.objects.bulk_create([Entry(title="a"), Entry(title="b")])
    before = {o.pk: stored(Entry, o.pk)["modified"] for o in objs}
    for obj in objs:
        obj.title += "!"
    Entry.objects.bulk_update(objs, ["title"])
    for obj in objs:
        row = stored(Entry, obj.pk)
        assert row["title"].endswith("!") and row["modified"] > before[obj.pk]


# -- softdelete ---------------------------------------------------------------------------


def test_soft_deleted_rows_stay_in_the_table_but_are_hidden() -> None:
    story = Story.objects.create(title="gone")
    kept = Story.objects.create(title="kept")
    with CaptureQueriesContext(connection) as queries:
        story.delete()
    assert not any(q.startswith("DELETE") for q in writes(queries))
    assert table_size(Story) == 2
    assert stored(Story, story.pk)["deleted_at"] == story.deleted_at is not None
    assert list(Story.objects.all()) == [kept]
    with pytest.raises(Story.DoesNotExist):
        Story.objects.get(pk=story.pk)
    assert sorted(s.pk for s in Story.with_deleted()) == [story.pk, kept.pk]
    with including_deleted():
        assert Story.objects.count() == 2


def test_restore_and_hard_delete() -> None:
    story = Story.objects.create(title="back")
    story.delete()
    story.restore()
    assert stored(Story, story.pk)["deleted_at"] is None
    assert Story.objects.get(pk=story.pk).title == "back"
    story.hard_delete()
    assert stored(Story, story.pk) == {}


def test_queryset_delete_is_soft_and_spares_rows_already_deleted() -> None:
    a, _b, c = (Story.objects.create(title=t) for t in ("aa", "bb", "cc"))
    a.delete()
    first = stored(Story, a.pk)["deleted_at"]
    with CaptureQueriesContext(connection) as queries:
        result = Story.objects.filter(title__in=["aa", "bb"]).delete()
    assert not any(q.startswith("DELETE") for q in writes(queries))
    assert result == (1, {"djangoapp.Story": 1})
    assert table_size(Story) == 3
    assert [s.pk for s in Story.objects.all()] == [c.pk]
    assert stored(Story, a.pk)["deleted_at"] == first
    with hard_deleting():
        Story.objects.filter(pk=c.pk).delete()
    assert table_size(Story) == 2


def test_queryset_update_never_touches_soft_deleted_rows() -> None:
    a, b = Story.objects.create(title="aa"), Story.objects.create(title="bb")
    a.delete()
    assert Story.objects.update(views=7) == 1
    assert stored(Story, a.pk)["views"] == 0
    assert stored(Story, b.pk)["views"] == 7


def test_related_managers_hide_soft_deleted_rows() -> None:
    writer = Writer.objects.create(name="w")
    kept = Story.objects.create(title="kept", writer=writer)
    Story.objects.create(title="gone", writer=writer).delete()
    assert list(writer.stories.all()) == [kept]
    assert writer.stories.count() == 1
    (loaded,) = Writer.objects.prefetch_related("stories")
    assert [s.title for s in loaded.stories.all()] == ["kept"]


def test_disabling_softdelete_live_shows_and_deletes_rows() -> None:
    story = Story.objects.create(title="gone")
    story.delete()
    registry.disable("softdelete")
    try:
        assert Story.objects.count() == 1
        assert "softdelete" in explain(Story) and "disabled" in explain(Story)
    finally:
        registry.enable("softdelete")
    assert Story.objects.count() == 0


# -- cache ------------------------------------------------------------------------------------


def test_cached_get_is_served_without_a_query() -> None:
    story = Story.objects.create(title="cached")
    with CaptureQueriesContext(connection) as first:
        Story.objects.get(pk=story.pk)
    with CaptureQueriesContext(connection) as second:
        again = Story.objects.get(pk=story.pk)
    assert len(first.captured_queries) == 1
    assert second.captured_queries == []
    assert again.title == "cached" and again.pk == story.pk
    again.title = "local change"
    assert Story.objects.get(pk=story.pk).title == "cached"  # callers get copies


def test_writes_invalidate_the_cached_row() -> None:
    story = Story.objects.create(title="v1")
    Story.objects.get(pk=story.pk)
    story.title = "v2"
    story.save()
    with CaptureQueriesContext(connection) as after_save:
        assert Story.objects.get(pk=story.pk).title == "v2"
    assert len(after_save.captured_queries) == 1
    Story.objects.filter(pk=story.pk).update(title="v3")
    assert Story.objects.get(pk=story.pk).title == "v3"
    story.delete()
    with pytest.raises(Story.DoesNotExist):
        Story.objects.get(pk=story.pk)


def test_only_lookups_by_primary_key_on_the_default_manager_are_cached() -> None:
    writer = Writer.objects.create(name="w")
    story = Story.objects.create(title="t1", writer=writer)
    for _ in range(2):
        with CaptureQueriesContext(connection) as by_title:
            Story.objects.get(title="t1")
        assert len(by_title.captured_queries) == 1
        with CaptureQueriesContext(connection) as related:
            writer.stories.get(pk=story.pk)
        assert len(related.captured_queries) == 1


# -- audit ------------------------------------------------------------------------------------


def records(pk: Any) -> list[AuditRecord]:
    return list(AuditRecord.objects.filter(model="djangoapp.Story", object_id=str(pk)))


def test_audit_rows_are_written_to_the_database() -> None:
    with audit.actor("alice"):
        story = Story.objects.create(title="first")
    story.title = "second"
    with audit.actor("bob"):
        story.save()
    story.delete()
    story.restore()
    rows = records(story.pk)
    assert [(r.action, r.actor) for r in rows] == [
        ("create", "alice"),
        ("update", "bob"),
        ("soft_delete", None),
        ("restore", None),
    ]
    assert rows[0].changes["title"] == [None, "first"]
    assert rows[1].changes["title"] == ["first", "second"]
    assert set(rows[1].changes) == {"title", "updated_at"}
    assert rows[2].changes["deleted_at"][0] is None


def test_audit_diffs_instances_loaded_by_any_query() -> None:
    writer = Writer.objects.create(name="w")
    Story.objects.create(title="old", writer=writer)
    (story,) = writer.stories.all()  # loaded by a related manager, not by get
    story.views = 3
    story.save()
    update = records(story.pk)[-1]
    assert update.action == "update"
    assert set(update.changes) == {"views", "updated_at"}
    assert update.changes["views"] == [0, 3]


def test_bulk_writes_are_audited_row_by_row() -> None:
    objs = Story.objects.bulk_create([Story(title="aa"), Story(title="bb")])
    Story.objects.filter(title="aa").update(views=5)
    Story.objects.filter(title="bb").delete()
    actions = {obj.title: [r.action for r in records(obj.pk)] for obj in objs}
    assert actions == {"aa": ["create", "update"], "bb": ["create", "soft_delete"]}
    update = records(objs[0].pk)[-1]
    assert update.changes["views"] == [0, 5]


# -- validation ----------------------------------------------------------------------------


def test_an_invalid_save_leaves_the_table_unchanged() -> None:
    with CaptureQueriesContext(connection) as queries, pytest.raises(ValidationFailed) as info:
        Story(title="x").save()
    assert info.value.errors == {"title": ["must have at least 2 characters/items"]}
    assert writes(queries) == []
    assert table_size(Story) == 0
    assert AuditRecord.objects.count() == 0

    story = Story.objects.create(title="fine")
    before = stored(Story, story.pk)
    story.title = "y"
    with pytest.raises(ValidationFailed):
        story.save()
    assert stored(Story, story.pk) == before


def test_djangos_own_rules_are_checked_with_native() -> None:
    with pytest.raises(ValidationFailed) as info:
        Story.objects.create(title="z" * 101)
    assert "title" in info.value.errors
    assert any("100" in m for m in info.value.errors["title"])
    assert table_size(Story) == 0


def test_invalid_bulk_writes_write_nothing() -> None:
    with pytest.raises(ValidationFailed, match=r"\[1\]\.title"):
        Story.objects.bulk_create([Story(title="ok"), Story(title="x")])
    assert table_size(Story) == 0
    story = Story.objects.create(title="ok")
    with pytest.raises(ValidationFailed):
        Story.objects.filter(pk=story.pk).update(title="x")
    assert stored(Story, story.pk)["title"] == "ok"


def test_explain_shows_every_built_in_on_its_django_target() -> None:
    text = explain(Story)
    assert "cache.cached_get" in text
    assert "get (private.djangoapp__Story__Manager.get)" in text
    assert "softdelete.hide_deleted" in text
