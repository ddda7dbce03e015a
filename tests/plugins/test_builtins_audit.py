"""The ``audit`` built-in: changes, actor and time of every write, to a sink, plus an event."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from _builtin_backends import fixed_clock

from earnorm_aop import PluginConfigError, PluginRegistry, context, hook, registry
from earnorm_aop.plugins import audit
from earnorm_aop.plugins.audit import AuditRecord, actor, current_actor
from earnorm_aop.plugins.audit_store import TABLE as AUDIT_TABLE

THREAD_TIMEOUT = 60.0  # seconds: a stuck thread fails its test instead of hanging the run

# A callable sink reachable by dotted path.
RECEIVED: list[AuditRecord] = []


def collect(record: AuditRecord) -> None:
    RECEIVED.append(record)


def audited(backend: Any, *plugins: str, **config: Any) -> tuple[type, list[AuditRecord]]:
    """A model with ``audit`` (sink: a list) and ``plugins``; the list of records."""
    records: list[AuditRecord] = []
    options = {"sink": records.append, **config}
    return backend.model(*plugins, "audit", audit=options), records


def test_a_first_save_is_a_creation_from_none(backend: Any) -> None:
    Article, records = audited(backend)
    a = backend.create(Article, title="a")
    (rec,) = records
    assert rec.action == "create"
    assert rec.id == a.id
    assert rec.model.endswith(Article.__qualname__)
    assert rec.changes == {"id": (None, a.id), "title": (None, "a"), "views": (None, 0)}
    assert rec.actor is None
    assert rec.time.tzinfo is not None


def test_changes_are_old_and_new_values_since_load(backend: Any) -> None:
    Article, records = audited(backend)
    a = backend.create(Article, title="a", views=1)
    loaded = backend.get(Article, a.id)
    loaded.title = "b"
    loaded.save()
    assert records[-1].action == "update"
    assert records[-1].changes == {"title": ("a", "b")}
    loaded.views = 2
    loaded.save()  # since the last save, not since the load
    assert records[-1].changes == {"views": (1, 2)}


def test_a_save_that_changes_nothing_is_not_recorded_unless_asked(backend: Any) -> None:
    Article, records = audited(backend)
    a = backend.create(Article)
    a.save()
    assert len(records) == 1
    Chatty, chatty_records = audited(backend, record_unchanged=True)
    b = backend.create(Chatty)
    b.save()
    if not getattr(backend, "saves_unchanged", True):  # SQLAlchemy: no change, no flush
        assert [r.action for r in chatty_records] == ["create"]
        return
    assert [r.action for r in chatty_records] == ["create", "update"]
    assert chatty_records[-1].changes == {}


def test_actor_is_context_local_and_nests(backend: Any) -> None:
    Article, records = audited(backend)
    seen_in_thread: list[str | None] = []
    with actor("alice"):
        a = backend.create(Article, title="a")
        with actor("bob"):
            a.title = "b"
            a.save()
        t = threading.Thread(target=lambda: seen_in_thread.append(current_actor()))
        t.start()
        t.join(THREAD_TIMEOUT)
        assert not t.is_alive()
        a.title = "c"
        a.save()
    assert [r.actor for r in records] == ["alice", "bob", "alice"]
    assert seen_in_thread == [None]
    assert current_actor() is None


def test_instance_update_is_recorded(backend: Any) -> None:
    Article, records = audited(backend)
    a = backend.create(Article, title="a")
    backend.update(a, title="b")
    assert records[-1].action == "update"
    assert records[-1].changes == {"title": ("a", "b")}


def test_delete_records_the_last_values(backend: Any) -> None:
    Article, records = audited(backend)
    a = backend.create(Article, title="a")
    pk = a.id
    a.delete()
    assert records[-1].action == "delete"
    assert records[-1].id == pk
    assert records[-1].changes["title"] == ("a", None)


def test_soft_delete_and_restore_are_named_as_such(backend: Any) -> None:
    Article, records = audited(backend, "softdelete")
    a = backend.create(Article, title="a")
    a.delete()
    a.restore()
    assert [r.action for r in records] == ["create", "soft_delete", "restore"]
    assert set(records[1].changes) == {"deleted_at"}
    assert records[1].changes["deleted_at"][0] is None
    assert records[2].changes["deleted_at"][1] is None


def test_a_hard_delete_is_recorded_as_a_delete(backend: Any) -> None:
    Article, records = audited(backend, "softdelete")
    a = backend.create(Article, title="a")
    pk = a.id
    a.hard_delete()
    assert (records[-1].action, records[-1].id) == ("delete", pk)
    assert pk not in backend.rows(Article)


def test_excluded_fields_never_show_as_changes(backend: Any) -> None:
    Article, records = audited(backend, "timestamp", exclude=["updated_at", "created_at"])
    a = backend.create(Article, title="a")
    a.save()  # only updated_at moved: nothing to record
    a.title = "b"
    a.save()
    assert [r.action for r in records] == ["create", "update"]
    assert records[-1].changes == {"title": ("a", "b")}
    assert "created_at" not in records[0].changes


def test_excluded_fields_are_left_out_of_delete_records(backend: Any) -> None:
    Article, records = audited(backend, exclude=["views"])
    a = backend.create(Article, title="a", views=3)
    backend.create(Article, title="b", views=4)
    pk = a.id
    a.delete()
    assert records[-1].action == "delete"
    assert records[-1].changes == {"id": (pk, None), "title": ("a", None)}
    backend.bulk_delete(backend.query(Article, title="b"))
    assert records[-1].action == "delete"
    assert set(records[-1].changes) == {"id", "title"}
    assert records[-1].changes["title"] == ("b", None)


def test_timestamps_recorded_are_the_stamped_ones(backend: Any) -> None:
    Article, records = audited(backend, "timestamp")
    a = backend.create(Article)
    assert records[0].changes["created_at"] == (None, a.created_at)


def test_a_cache_hit_counts_as_a_load(backend: Any) -> None:
    Article, records = audited(backend, "cache")
    a = backend.create(Article, title="a")
    backend.get(Article, a.id)
    with backend.queries() as queries:
        hit = backend.get(Article, a.id)
    assert queries == []
    hit.title = "b"
    hit.save()
    assert records[-1].action == "update"
    assert records[-1].changes == {"title": ("a", "b")}


def test_bulk_create_records_each_object(backend: Any) -> None:
    Article, records = audited(backend)
    backend.bulk_create(Article, (backend.new(Article, title=t) for t in "xy"))
    assert [(r.action, r.changes["title"]) for r in records] == [
        ("create", (None, "x")),
        ("create", (None, "y")),
    ]
    assert all(r.id is not None for r in records)


def test_bulk_update_records_old_and_new_per_row(backend: Any) -> None:
    Article, records = audited(backend)
    a = backend.create(Article, title="x", views=1)
    b = backend.create(Article, title="x", views=2)
    backend.create(Article, title="y", views=3)
    del records[:]
    backend.bulk_update(backend.query(Article, title="x"), views=7)
    assert {r.id: r.changes for r in records} == {
        a.id: {"views": (1, 7)},
        b.id: {"views": (2, 7)},
    }
    assert {r.action for r in records} == {"update"}


def test_bulk_delete_records_each_row_and_soft_bulk_delete_too(backend: Any) -> None:
    Article, records = audited(backend)
    a = backend.create(Article, title="x")
    del records[:]
    backend.bulk_delete(backend.query(Article, title="x"))
    assert [(r.action, r.id) for r in records] == [("delete", a.id)]

    Soft, soft_records = audited(backend, "softdelete")
    s = backend.create(Soft, title="x")
    backend.bulk_delete(backend.query(Soft, title="x"))
    assert [(r.action, r.id) for r in soft_records] == [("create", s.id), ("soft_delete", s.id)]
    assert soft_records[-1].changes["deleted_at"][0] is None


def test_after_change_is_emitted_with_the_changes(backend: Any) -> None:
    reg = PluginRegistry()  # discovers the built-ins from entry points
    seen: list[tuple[Any, dict[str, Any], str]] = []

    class Listener:
        @hook("after_change")
        def on_change(self, instance: Any, changes: dict[str, Any], action: str) -> None:
            seen.append((instance, changes, action))

    reg.register("listener", Listener)
    Article = backend.model("audit", "listener", registry=reg, audit={"sink": lambda r: None})
    a = backend.create(Article, title="a")
    a.title = "b"
    a.save()
    assert [(inst is a, changes, action) for inst, changes, action in seen] == [
        (True, {"id": (None, a.id), "title": (None, "a"), "views": (None, 0)}, "create"),
        (True, {"title": ("a", "b")}, "update"),
    ]


def test_logging_sink(backend: Any, caplog: pytest.LogCaptureFixture) -> None:
    Article = backend.model("audit", audit={"logger": "test.audit"})
    with caplog.at_level(logging.INFO, logger="test.audit"), actor("carol"):
        a = backend.create(Article, title="a")
    (rec,) = [r for r in caplog.records if r.name == "test.audit"]
    assert "create" in rec.getMessage() and "carol" in rec.getMessage()
    assert rec.audit["id"] == a.id  # type: ignore[attr-defined]
    assert rec.audit["changes"]["title"] == (None, "a")  # type: ignore[attr-defined]


def test_callable_sink_by_dotted_path_and_clock(backend: Any) -> None:
    RECEIVED.clear()
    Article = backend.model(
        "audit",
        audit={"sink": "test_builtins_audit.collect", "clock": "_builtin_backends.fixed_clock"},
    )
    backend.create(Article, title="a")
    assert [(r.action, r.time) for r in RECEIVED] == [("create", fixed_clock())]


def test_table_sink_writes_to_the_models_database(backend: Any) -> None:
    Article = backend.model("audit", audit={"sink": "table"})
    with actor("dave"):
        a = backend.create(Article, title="a")
    (row,) = backend.audit_rows(Article)
    assert set(row) == {
        *("model", "id", "action", "changes", "actor", "time"),
        *("request_id", "client", "reason"),
    }
    assert (row["id"], row["action"], row["actor"]) == (a.id, "create", "dave")
    assert isinstance(row["time"], datetime) and row["time"].tzinfo is not None


def test_table_sink_of_the_plain_adapter_is_an_in_memory_list() -> None:
    from earnorm_aop import with_plugins

    @with_plugins(audit={"sink": "table"})
    class Plain:
        id: int | None = None
        title: str = ""

        def save(self) -> None:
            self.id = self.id or 1

    before = len(AUDIT_TABLE)
    Plain().save()
    assert audit.TABLE is AUDIT_TABLE
    assert len(AUDIT_TABLE) == before + 1
    assert AUDIT_TABLE[-1]["action"] == "create"
    assert AUDIT_TABLE[-1]["changes"] == {"id": (None, 1), "title": (None, "")}


def test_a_plain_class_is_audited_on_the_attributes_its_init_sets() -> None:
    """No annotations: the attributes ``__init__`` (or later code) sets are its fields."""
    from earnorm_aop import with_plugins

    records: list[AuditRecord] = []

    @with_plugins(audit={"sink": records.append})
    class Note:
        def __init__(self, title: str) -> None:
            self.id: int | None = None
            self.title = title
            self._dirty = True  # private: never a field

        def save(self) -> None:
            self.id = self.id or 1
            self._dirty = False

    note = Note("a")
    note.save()
    assert records[-1].action == "create"
    assert records[-1].changes == {"id": (None, 1), "title": (None, "a")}
    note.title = "b"
    note.save()
    assert (records[-1].action, records[-1].changes) == ("update", {"title": ("a", "b")})
    note.tags = ["x"]  # type: ignore[attr-defined]  # set later: a field from now on
    note.save()
    assert records[-1].changes == {"tags": (None, ["x"])}
    note.save()  # nothing changed: nothing recorded
    assert len(records) == 3
    assert all("_dirty" not in r.changes for r in records)


def test_bad_sink_is_a_config_error(backend: Any) -> None:
    with pytest.raises(PluginConfigError, match="sink"):
        backend.model("audit", audit={"sink": "no_such_module.sink"})
    props = registry.get_plugin("audit").config_schema["properties"]
    assert {"sink", "logger", "exclude", "record_unchanged", "clock"} == set(props)


def test_record_as_dict_has_the_columns_of_the_tables() -> None:
    rec = AuditRecord("m", 1, "create", {"a": (None, 1)}, "x", datetime(2024, 1, 1, tzinfo=UTC))
    assert rec.as_dict() == {
        "model": "m",
        "id": 1,
        "action": "create",
        "changes": {"a": (None, 1)},
        "actor": "x",
        "time": datetime(2024, 1, 1, tzinfo=UTC),
        "request_id": None,
        "client": None,
        "reason": None,
    }


def test_every_sink_carries_request_id_client_and_reason(
    backend: Any, caplog: pytest.LogCaptureFixture
) -> None:
    records: list[AuditRecord] = []
    Listed = backend.model("audit", audit={"sink": records.append})
    Logged = backend.model("audit", audit={"logger": "test.audit.context"})
    Tabled = backend.model("audit", audit={"sink": "table"})
    who = {"actor": "ann", "reason": "support #7", "request_id": "req-1", "client": "10.0.0.9"}
    with caplog.at_level(logging.INFO, logger="test.audit.context"), context(**who):
        backend.create(Listed, title="a")
        backend.create(Logged, title="a")
        backend.create(Tabled, title="a")
    expected = {"request_id": "req-1", "client": "10.0.0.9", "reason": "support #7"}
    (rec,) = records
    assert {k: getattr(rec, k) for k in expected} == expected
    (line,) = [r for r in caplog.records if r.name == "test.audit.context"]
    assert {k: line.audit[k] for k in expected} == expected  # type: ignore[attr-defined]
    (row,) = backend.audit_rows(Tabled)
    assert {k: row[k] for k in expected} == expected
    assert row["actor"] == "ann"
