"""The audit built-in under transactions, restricted saves and foreign keys (Django)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction
from djangoapp.models import Story, Writer

from earnorm_aop import unweave, weave
from earnorm_aop.integrations.django.models import AuditRecord
from earnorm_aop.plugins.audit import AuditRecord as Record


def changes_of(pk: Any) -> list[tuple[str, dict[str, Any]]]:
    rows = AuditRecord.objects.filter(model="djangoapp.Story", object_id=str(pk)).order_by("pk")
    return [(r.action, r.changes) for r in rows]


def test_a_restricted_save_records_only_the_fields_it_writes() -> None:
    story = Story.objects.create(title="first", views=1)
    story.title = "second"
    story.views = 5  # changed in memory, not written by the next save
    story.save(update_fields=["title"])
    action, changes = changes_of(story.pk)[-1]
    assert action == "update"
    assert changes["title"] == ["first", "second"]
    assert "views" not in changes
    # the unwritten change is recorded when it is really written
    story.save(update_fields=["views"])
    action, changes = changes_of(story.pk)[-1]
    assert changes["views"] == [1, 5]
    assert "title" not in changes


def test_a_save_that_writes_nothing_records_nothing() -> None:
    story = Story.objects.create(title="first")
    before = changes_of(story.pk)
    story.title = "second"
    story.save(update_fields=[])
    assert changes_of(story.pk) == before
    story.save()  # the change was never written: the next full save records it
    assert changes_of(story.pk)[-1][1]["title"] == ["first", "second"]


def test_update_with_a_related_object_is_recorded_like_its_key() -> None:
    writer = Writer.objects.create(name="ann")
    by_object = Story.objects.create(title="by object")
    by_key = Story.objects.create(title="by key")
    Story.objects.filter(pk=by_object.pk).update(writer=writer)
    Story.objects.filter(pk=by_key.pk).update(writer_id=writer.pk)
    (_, with_object), (_, with_key) = changes_of(by_object.pk)[-1], changes_of(by_key.pk)[-1]
    assert with_object["writer_id"] == [None, writer.pk]
    assert with_object.keys() == with_key.keys()


@pytest.fixture
def delivered() -> Iterator[list[Record]]:
    """``Writer`` audited to a callable sink; unwoven after."""
    records: list[Record] = []
    weave(Writer, "audit", sink=records.append)
    yield records
    unweave(Writer)


def test_the_callable_sink_hears_of_a_write_once_it_is_committed(delivered: list[Record]) -> None:
    with transaction.atomic():
        Writer.objects.create(name="ann")
        assert delivered == []
    assert [(r.action, r.changes["name"]) for r in delivered] == [("create", (None, "ann"))]


def test_a_rolled_back_write_reaches_no_sink(
    delivered: list[Record], caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        writer = Writer.objects.create(name="ann")
        with transaction.atomic():
            writer.name = "bob"
            writer.save()
        raise RuntimeError("abort")
    assert delivered == []


def test_a_rolled_back_savepoint_drops_only_its_records(delivered: list[Record]) -> None:
    with transaction.atomic():
        writer = Writer.objects.create(name="ann")
        with pytest.raises(RuntimeError), transaction.atomic():
            writer.name = "bob"
            writer.save()
            raise RuntimeError("abort the savepoint")
    assert [r.action for r in delivered] == ["create"]


def test_the_logging_sink_logs_on_commit(caplog: pytest.LogCaptureFixture) -> None:
    weave(Writer, "audit")
    try:
        with caplog.at_level(logging.INFO, logger="earnorm_aop.audit"):
            with pytest.raises(RuntimeError), transaction.atomic():
                Writer.objects.create(name="rolled back")
                raise RuntimeError("abort")
            with transaction.atomic():
                Writer.objects.create(name="committed")
                assert "committed" not in caplog.text
    finally:
        unweave(Writer)
    assert "committed" in caplog.text
    assert "rolled back" not in caplog.text


def test_the_table_sink_rolls_back_with_the_data() -> None:
    # Compared with what was there before, so a record another test left
    # behind cannot fail (or pass) this one.
    before = list(AuditRecord.objects.values_list("pk", flat=True))
    with pytest.raises(RuntimeError), transaction.atomic():
        Story.objects.create(title="gone")
        raise RuntimeError("abort")
    assert not AuditRecord.objects.exclude(pk__in=before).exists()
    with transaction.atomic():
        Story.objects.create(title="kept")
    assert AuditRecord.objects.exclude(pk__in=before).count() == 1
