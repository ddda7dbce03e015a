"""The ``softdelete`` built-in: delete marks rows, the default queryset hides them."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta
from typing import Any

import pydantic
import pytest
from _builtin_backends import TickingClock, fixed_clock

from earnorm_aop import PluginConfigError, registry, with_plugins
from earnorm_aop.integrations import adapter_for
from earnorm_aop.plugins.softdelete import (
    NoQuerysetError,
    SoftDeletedError,
    hard_deleting,
    including_deleted,
)
from earnorm_aop.weaving import weaver


def test_delete_marks_the_row_and_keeps_it_in_the_table(backend: Any) -> None:
    Article = backend.model("softdelete", softdelete={"clock": fixed_clock})
    a = backend.create(Article, title="a")
    with backend.queries() as queries:
        result = a.delete()
    assert result is None  # vetoed: the real delete never ran
    assert not any(q.startswith("DELETE") for q in queries)
    assert a.deleted_at == fixed_clock()
    assert backend.rows(Article)[a.id]["deleted_at"] == fixed_clock()


def test_deleted_rows_are_hidden_from_the_default_queryset_and_get(backend: Any) -> None:
    Article = backend.model("softdelete")
    a = backend.create(Article, title="a")
    b = backend.create(Article, title="b")
    a.delete()
    assert backend.visible(Article) == [b.id]
    assert list(backend.query(Article, title="a")) == []
    with pytest.raises(backend.NotFound):
        backend.get(Article, a.id)


def test_deleting_twice_keeps_the_first_deletion_time(backend: Any) -> None:
    clock = TickingClock()
    Article = backend.model("softdelete", softdelete={"clock": clock})
    a = backend.create(Article)
    a.delete()
    first = a.deleted_at
    a.delete()
    assert a.deleted_at == first
    assert backend.rows(Article)[a.id]["deleted_at"] == first


def test_restore_makes_the_row_visible_again(backend: Any) -> None:
    Article = backend.model("softdelete")
    a = backend.create(Article, title="a")
    a.delete()
    a.restore()
    assert a.deleted_at is None
    assert backend.rows(Article)[a.id]["deleted_at"] is None
    assert backend.visible(Article) == [a.id]
    assert backend.get(Article, a.id).title == "a"


def test_hard_delete_removes_the_row(backend: Any) -> None:
    Article = backend.model("softdelete")
    a = backend.create(Article)
    b = backend.create(Article)
    pk = a.id
    a.hard_delete()
    assert pk not in backend.rows(Article)
    assert b.id in backend.rows(Article)


def test_hard_deleting_block_makes_deletes_real(backend: Any) -> None:
    Article = backend.model("softdelete")
    a = backend.create(Article)
    pk = a.id
    with hard_deleting():
        a.delete()
    assert backend.rows(Article) == {}
    b = backend.create(Article, title="b")
    b.delete()  # outside the block: soft again
    assert backend.rows(Article)[b.id]["deleted_at"] is not None
    assert pk not in backend.rows(Article)


def _with_deleted(backend: Any, model: Any) -> Any:
    """``model.with_deleted()``, awaited where it is awaitable (EarnORM): never left pending."""
    found = model.with_deleted()
    return backend.settle(found) if inspect.isawaitable(found) else found


def test_with_deleted_and_including_deleted_show_hidden_rows(backend: Any) -> None:
    Article = backend.model("softdelete")
    a = backend.create(Article, title="a")
    b = backend.create(Article, title="b")
    a.delete()
    assert sorted(o.id for o in _with_deleted(backend, Article)) == [a.id, b.id]
    with including_deleted():
        assert backend.visible(Article) == [a.id, b.id]
        assert backend.get(Article, a.id).deleted_at is not None
    assert backend.visible(Article) == [b.id]


def test_bulk_delete_becomes_an_update_of_deleted_at(backend: Any) -> None:
    clock = TickingClock()
    Article = backend.model("softdelete", softdelete={"clock": clock})
    a = backend.create(Article, title="x")
    b = backend.create(Article, title="x")
    c = backend.create(Article, title="y")
    with backend.queries() as queries:
        count = backend.bulk_delete(backend.query(Article, title="x"))
    assert count == 2
    assert not any(q.startswith("DELETE") for q in queries)
    rows = backend.rows(Article)
    assert len(rows) == 3
    assert rows[a.id]["deleted_at"] is not None and rows[b.id]["deleted_at"] is not None
    assert rows[c.id]["deleted_at"] is None
    assert backend.visible(Article) == [c.id]


def test_bulk_delete_keeps_earlier_deletion_times(backend: Any) -> None:
    clock = TickingClock()
    Article = backend.model("softdelete", softdelete={"clock": clock})
    a = backend.create(Article, title="x")
    backend.create(Article, title="x")
    a.delete()
    first = a.deleted_at
    count = backend.bulk_delete(_with_deleted(backend, Article).filter(title="x"))
    assert count == 1  # only the row not yet deleted
    assert backend.rows(Article)[a.id]["deleted_at"] == first


def test_bulk_delete_inside_hard_deleting_removes_rows(backend: Any) -> None:
    Article = backend.model("softdelete")
    backend.create(Article, title="x")
    keep = backend.create(Article, title="y")
    with hard_deleting():
        backend.bulk_delete(backend.query(Article, title="x"))
    assert list(backend.rows(Article)) == [keep.id]


def test_bulk_update_of_the_default_queryset_leaves_hidden_rows_alone(backend: Any) -> None:
    Article = backend.model("softdelete")
    hidden = backend.create(Article, title="x", views=1)
    shown = backend.create(Article, title="x", views=1)
    hidden.delete()
    count = backend.bulk_update(backend.query(Article, title="x"), views=9)
    assert count == 1
    rows = backend.rows(Article)
    assert rows[shown.id]["views"] == 9
    assert rows[hidden.id]["views"] == 1


def test_restore_on_a_live_row_writes_nothing(backend: Any) -> None:
    records: list[Any] = []
    Article = backend.model("timestamp", "softdelete", "audit", audit={"sink": records.append})
    a = backend.create(Article, title="a")
    stamped = a.updated_at
    with backend.queries() as queries:
        assert a.restore() is None
    assert queries == []
    assert a.updated_at == stamped
    assert [r.action for r in records] == ["create"]


def test_a_bulk_restore_goes_through_with_deleted(backend: Any) -> None:
    Article = backend.model("softdelete")
    a = backend.create(Article, title="x")
    a.delete()
    backend.bulk_update(_with_deleted(backend, Article).filter(title="x"), deleted_at=None)
    assert backend.visible(Article) == [a.id]


def test_with_timestamp_a_soft_delete_bumps_updated_at(backend: Any) -> None:
    clock = TickingClock()
    Article = backend.model(
        "timestamp", "softdelete", timestamp={"clock": clock}, softdelete={"clock": clock}
    )
    a = backend.create(Article)
    b = backend.create(Article)
    a.delete()
    assert a.updated_at > a.created_at
    backend.bulk_delete(backend.query(Article))
    row_b = backend.rows(Article)[b.id]
    assert row_b["deleted_at"] is not None
    assert row_b["updated_at"] > b.updated_at


def test_deleting_an_unsaved_instance_is_left_to_the_backend(backend: Any) -> None:
    Article = backend.model("softdelete")
    with pytest.raises(ValueError, match=r"can(not|'t) be deleted"):
        backend.new(Article).delete()
    assert backend.rows(Article) == {}


def test_deleted_at_is_contributed_and_named_by_config(backend: Any) -> None:
    Article = backend.model("softdelete", softdelete={"field": "removed_on"})
    assert "removed_on" in adapter_for(Article).field_names(Article)
    a = backend.create(Article)
    a.delete()
    assert isinstance(backend.rows(Article)[a.id]["removed_on"], datetime)
    assert backend.visible(Article) == []


def test_disabled_softdelete_deletes_for_real_and_shows_everything(backend: Any) -> None:
    Article = backend.model("softdelete")
    a = backend.create(Article)
    b = backend.create(Article)
    a.delete()
    registry.disable("softdelete")
    try:
        assert backend.visible(Article) == [a.id, b.id]
        b.delete()
        assert len(backend.rows(Article)) == 1
        assert b.id is None or not getattr(backend, "clears_pk_on_delete", True)
    finally:
        registry.enable("softdelete")
    assert backend.visible(Article) == []


def test_a_models_own_restore_wins_over_the_contributed_one(backend: Any) -> None:
    calls: list[str] = []
    Article = backend.model("softdelete", methods={"restore": lambda self: calls.append("own")})
    a = backend.create(Article)
    a.delete()
    a.restore()
    assert calls == ["own"]
    assert a.deleted_at is not None


def test_bad_field_name_is_a_config_error(backend: Any) -> None:
    with pytest.raises(PluginConfigError, match="softdelete"):
        backend.model("softdelete", softdelete={"field": "deleted at"})


def test_deleted_at_is_aware_utc_by_default(backend: Any) -> None:
    Article = backend.model("softdelete")
    a = backend.create(Article)
    a.delete()
    assert a.deleted_at.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - a.deleted_at) < timedelta(seconds=5)


# -- a model's own get, without a queryset ----------------------------------------------


def own_get_model(flavour: str) -> type:
    """A model keeping rows in a dict, with its own ``get`` (no ``get_queryset``)."""
    rows: dict[int, Any] = {}

    def save(self: Any) -> None:
        if self.id is None:
            self.id = len(rows) + 1
        rows[self.id] = self

    def delete(self: Any) -> None:
        del rows[self.id]

    def get(cls: Any, pk: int) -> Any:
        return rows[pk]

    methods = {"save": save, "delete": delete, "get": classmethod(get)}
    if flavour == "pydantic":
        model: type = pydantic.create_model(  # type: ignore[call-overload]
            "Memo", id=(int | None, None), title=(str, "")
        )
        for name, value in methods.items():
            setattr(model, name, value)
    else:

        def init(self: Any, title: str = "") -> None:
            self.id = None
            self.title = title

        model = type("Memo", (), {"__init__": init, **methods})
    return with_plugins("softdelete")(model)


@pytest.mark.parametrize("flavour", ["plain", "pydantic"])
def test_a_models_own_get_does_not_return_deleted_rows(flavour: str) -> None:
    Memo = own_get_model(flavour)
    try:
        memo, other = Memo(title="a"), Memo(title="b")
        memo.save()
        other.save()
        assert memo.delete() is None
        with pytest.raises(SoftDeletedError, match=r"Memo 1 is soft-deleted") as info:
            Memo.get(1)
        assert isinstance(info.value, LookupError)  # "not found", as a get says it
        assert "including_deleted" in str(info.value)
        assert Memo.get(2) is other
        with including_deleted():
            assert Memo.get(1) is memo
        memo.restore()
        assert Memo.get(1) is memo
    finally:
        weaver.unweave(Memo)


def test_with_deleted_without_a_queryset_says_what_to_do() -> None:
    Memo = own_get_model("plain")
    try:
        with pytest.raises(NoQuerysetError) as info:
            Memo.with_deleted()
        message = str(info.value)
        assert "Memo.with_deleted()" in message and "Memo has no queryset" in message
        assert "get_queryset()" in message and "including_deleted()" in message
    finally:
        weaver.unweave(Memo)
