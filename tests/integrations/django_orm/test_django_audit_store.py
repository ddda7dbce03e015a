"""The audit ``table`` sink's store on Django: rows of ``AuditRecord``, one write or a bulk one.

``audit_store(adapter)`` is the audit plugin's capability (``earnorm_aop.plugins.audit_store``);
Django's writes the records of one bulk write with one ``bulk_create`` (a single
record with one ``INSERT``), in the database the model writes to.  What Django's
JSON encoder cannot write is stored as its text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext
from djangoapp.models import Note

from earnorm_aop.integrations import adapter_for
from earnorm_aop.integrations.django.models import AuditRecord
from earnorm_aop.plugins.audit_store import audit_store

WHEN = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


class _Opaque:
    def __str__(self) -> str:
        return "opaque value"


def _record(pk: Any, **extra: Any) -> dict[str, Any]:
    return {"id": pk, "action": "update", "changes": {"title": ["a", "b"]}, "time": WHEN, **extra}


def test_a_bulk_writes_records_in_one_insert_each_as_given() -> None:
    store = audit_store(adapter_for(Note))
    records = [
        _record(1, actor="alice", request_id="req-1", client="10.0.0.1", reason="import"),
        _record(2),
        _record(None, action="create", changes={}, model="other.Label"),
    ]
    with CaptureQueriesContext(connection) as queries:
        assert store.write_audit_records(Note, records) == []
    statements = [q["sql"].split()[0] for q in queries.captured_queries]
    assert statements.count("INSERT") == 1  # bulk_create, in a transaction of its own
    rows = list(AuditRecord.objects.order_by("id"))
    assert [(r.model, r.object_id, r.action, r.changes) for r in rows] == [
        ("djangoapp.Note", "1", "update", {"title": ["a", "b"]}),
        ("djangoapp.Note", "2", "update", {"title": ["a", "b"]}),
        ("other.Label", "", "create", {}),  # no id: an empty object_id; the record's model kept
    ]
    first = rows[0]
    assert (first.actor, first.request_id, first.client, first.reason) == (
        "alice",
        "req-1",
        "10.0.0.1",
        "import",
    )
    assert first.time == WHEN
    assert str(first) == "update djangoapp.Note#1 by alice"
    assert str(rows[1]) == "update djangoapp.Note#2 by -"


def test_a_bulk_of_one_record_is_one_insert_and_odd_values_are_stored_as_text() -> None:
    store = audit_store(adapter_for(Note))
    with CaptureQueriesContext(connection) as queries:
        store.write_audit_records(Note, [_record(7, changes={"data": [None, _Opaque()]})])
    # one row: a plain INSERT, no transaction of its own (bulk_create would open one)
    assert [q["sql"].split()[0] for q in queries.captured_queries] == ["INSERT"]
    (row,) = AuditRecord.objects.all()
    assert row.changes == {"data": [None, "opaque value"]}
    assert AuditRecord.of(_record(8), "djangoapp.Note").object_id == "8"
