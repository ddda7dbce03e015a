"""The EarnORM adapter on what is not a single record: a document (``read()``'s dict), a recordset.

Plugins ask the adapter for a value, a key or a snapshot of whatever the call
gives them: a record, a recordset, or a document as ``read()`` returns it.  A
document answers from its items; a recordset of several records, or an object
that is no record, has no state to remember, forget or read.
"""

from __future__ import annotations

from typing import Any

from _earnorm_helpers import note_model, run

from earnorm_aop.adapters.base import FieldSpec
from earnorm_aop.adapters.tracking import UNKNOWN
from earnorm_aop.integrations import adapter_for


def test_a_document_answers_from_its_items() -> None:
    Note = note_model()
    adapter = adapter_for(Note)
    doc: dict[str, Any] = {"id": "abc", "title": "t"}
    assert adapter.get_field(doc, "title") == "t"
    assert adapter.get_field(doc, "views") is None
    assert adapter.current_value(doc, "title") == "t"
    assert adapter.current_value(doc, "views") is UNKNOWN
    assert adapter.pk(doc) == "abc"
    adapter.set_field(doc, "views", 3)
    assert doc == {"id": "abc", "title": "t", "views": 3}
    snapshot = adapter.snapshot(doc)
    assert snapshot == doc and snapshot is not doc


def test_a_records_id_is_its_key_and_a_recordsets_state_is_none(mongo: Any) -> None:
    Note = note_model()
    adapter = adapter_for(Note)

    async def scenario() -> None:
        a = await Note.create({"title": "a", "views": 1})
        await Note.create({"title": "b", "views": 2})
        (key,) = a.ids
        assert adapter.current_value(a, "id") == key
        both = await Note.search([])
        assert adapter.read_if_unknown(both) is None  # several records: nothing to read
        adapter.remember_state(a, {"title": "a", "views": 1})
        loaded = adapter.loaded_state(a)
        assert loaded == {"title": "a", "views": 1}
        loaded["views"] = 9  # a copy: the remembered state is not changed through it
        assert adapter.persisted_state(a) == {"title": "a", "views": 1}
        adapter.forget_state(a)
        assert adapter.loaded_state(a) is None

    run(scenario())


def test_an_object_that_is_no_record_has_no_state() -> None:
    Note = note_model()
    adapter = adapter_for(Note)
    plain = object()
    adapter.remember_state(plain, {"title": "x"})  # nothing to remember it on
    assert adapter.persisted_state(plain) is None
    assert adapter.loaded_state(plain) is None
    adapter.forget_state(plain)
    assert adapter.persisted_state(plain) is None


def test_adding_a_field_the_model_has_changes_nothing() -> None:
    Note = note_model()
    adapter = adapter_for(Note)
    before = dict(Note.__fields__)  # type: ignore[attr-defined]
    adapter.add_field(Note, FieldSpec("title", int, 0))
    assert dict(Note.__fields__) == before  # type: ignore[attr-defined]


def test_a_list_is_filtered_as_the_base_adapter_filters_it() -> None:
    Note = note_model()
    adapter = adapter_for(Note)
    rows = [{"title": "a"}, {"title": "b"}]
    assert list(adapter.filter(rows, title="b")) == [{"title": "b"}]


def test_watching_loads_keeps_a_models_own_search() -> None:
    Note = note_model()

    async def own_search(cls: Any, domain: Any) -> list[Any]:
        return []

    Note.search = classmethod(own_search)  # type: ignore[assignment]
    assert adapter_for(Note).watch_loads(Note, lambda record: None) is True
    assert vars(Note)["search"].__func__ is own_search
