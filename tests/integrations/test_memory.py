"""The in-memory backend: a small database with the plain operations and its adapter."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest
from _calls import calls

from earnorm_aop.integrations import adapter_for
from earnorm_aop.integrations.memory import (
    IntegrityError,
    MemoryAdapter,
    MemoryModel,
    MemoryStore,
    MultipleFound,
    NotFound,
)
from earnorm_aop.plugins.audit_store import audit_store


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture(params=["plain", "pydantic"])
def Note(request: pytest.FixtureRequest, store: MemoryStore) -> type:
    if request.param == "pydantic":

        class PNote(MemoryModel, pydantic.BaseModel):
            __store__ = store
            id: int | None = None
            text: str = ""
            n: int = 0

        return PNote

    class Note(MemoryModel):
        __store__ = store
        id: int | None = None
        text: str = ""
        n: int = 0

    return Note


def test_save_inserts_then_updates(Note: Any, store: MemoryStore) -> None:
    a = Note(text="a")
    a.save()
    assert a.id == 1
    a.text = "b"
    a.save()
    assert store.rows(Note) == [{"id": 1, "text": "b", "n": 0}]
    assert store.log == [f"INSERT {Note.__qualname__} (1 rows)", f"UPDATE {Note.__qualname__}"]


def test_reads_build_fresh_instances_from_rows(Note: Any) -> None:
    a = Note(text="a")
    a.save()
    a.text = "unsaved"
    one, two = Note.get(a.id), Note.get(a.id)
    assert one is not two and one is not a
    assert one.text == "a"
    assert adapter_for(Note).loaded_state(one) == {"id": 1, "text": "a", "n": 0}


def test_querysets_are_lazy(Note: Any) -> None:
    qs = Note.get_queryset().filter(n=1)
    Note(text="a", n=1).save()
    Note(text="b", n=2).save()
    assert [o.text for o in qs] == ["a"]
    assert qs.count() == 1 and qs.exists()
    assert [o.text for o in Note.get_queryset().filter(n__in=[1, 2])] == ["a", "b"]
    assert Note.get_queryset().filter(text__isnull=True).first() is None
    assert Note.get_queryset().pks() == [1, 2]


def test_get_finds_exactly_one(Note: Any) -> None:
    Note(text="a").save()
    Note(text="a").save()
    with pytest.raises(NotFound):
        Note.get(99)
    with pytest.raises(MultipleFound):
        Note.get_queryset().get(text="a")


def test_bulk_operations(Note: Any, store: MemoryStore) -> None:
    objs = Note.save_many(Note(text=t) for t in "abc")
    assert [o.id for o in objs] == [1, 2, 3]
    assert Note.get_queryset().filter(text="a").update(n=5) == 1
    assert Note.get_queryset().filter(n=0).delete() == 2
    assert store.rows(Note) == [{"id": 1, "text": "a", "n": 5}]
    assert store.log[-3:] == [
        f"INSERT {Note.__qualname__} (3 rows)",
        f"UPDATE {Note.__qualname__} (1 rows)",
        f"DELETE {Note.__qualname__} (2 rows)",
    ]


def test_save_many_with_an_existing_key_inserts_nothing(Note: Any, store: MemoryStore) -> None:
    Note(text="a").save()
    with pytest.raises(IntegrityError):
        Note.save_many([Note(text="b"), Note(id=1, text="c")])
    assert [r["text"] for r in store.rows(Note)] == ["a"]


def test_delete_and_update(Note: Any, store: MemoryStore) -> None:
    a = Note(text="a")
    a.save()
    a.update(text="b", n=2)
    assert store.rows(Note)[0] == {"id": 1, "text": "b", "n": 2}
    with pytest.raises(TypeError, match="no field 'nope'"):
        a.update(nope=1)
    assert a.delete() == 1
    assert a.id is None and store.rows(Note) == []
    with pytest.raises(ValueError, match="cannot be deleted"):
        a.delete()


def test_unknown_fields_and_lookups_are_errors(Note: Any) -> None:
    if issubclass(Note, pydantic.BaseModel):
        assert not hasattr(Note(nope=1), "nope")  # pydantic's own rule: extras ignored
    else:
        with pytest.raises(TypeError, match="no field 'nope'"):
            Note(nope=1)
    with pytest.raises(ValueError, match="unsupported lookup"):
        Note.get_queryset().filter(n__gt=1)
    with pytest.raises(TypeError, match="no field"):
        Note.get_queryset().update(nope=1)
    with pytest.raises(TypeError, match="expected a queryset"):
        Note.update_many([1, 2], n=1)


def test_capture_collects_the_statements_of_its_block(Note: Any, store: MemoryStore) -> None:
    Note(text="a").save()
    with store.capture() as outer:
        Note.get(1)
        with store.capture() as inner:
            list(Note.get_queryset())
    assert outer == [f"SELECT {Note.__qualname__}"] * 2
    assert inner == [f"SELECT {Note.__qualname__}"]


def test_the_memory_adapter_handles_memory_models_only(Note: Any, store: MemoryStore) -> None:
    adapter = adapter_for(Note)
    assert isinstance(adapter, MemoryAdapter)
    assert not isinstance(adapter_for(object), MemoryAdapter)
    assert adapter.pk(Note()) is None
    audit_store(adapter).write_audit_record(Note, {"action": "create"})  # its capability
    assert store.audit == [{"action": "create"}]
    qs = adapter.filter(Note.get_queryset(), text="a")
    assert qs.conditions == (("text", "exact", "a"),)


def test_the_stores_methods_look_up_no_adapter(Note: Any) -> None:
    """The store's own adapter says what a row is; none is looked up per call (issue 23)."""
    note = Note(text="a")
    operations = (
        note.save,
        lambda: note.update(text="b"),
        lambda: list(Note.get_queryset()),
        lambda: Note.save_many([Note(text="c")]),
        lambda: Note.get_queryset().update(text="d"),
        lambda: Note(text="e"),
    )
    for operation in operations:
        counted = calls(operation)
        assert not [n for n in counted if n.endswith(":adapter_for")], counted
    assert {n.text for n in Note.get_queryset()} == {"d"}
