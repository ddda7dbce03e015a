"""Record's public view of a write: what plugins read instead of its private fields."""

from __future__ import annotations

from earnorm_aop.adapters.base import Adapter
from earnorm_aop.adapters.tracking import Record


class _Row:
    def __init__(self, **values: object) -> None:
        self.__dict__.update(values)


def test_old_values_and_new_values_are_the_records_view() -> None:
    adapter = Adapter()
    row = _Row(title="a", views=1)
    rec = Record(adapter, row, {"title": "a", "views": 1}, {"title": "b", "views": 1})
    assert dict(rec.old_values) == {"title": "a", "views": 1}
    assert rec.new_values == {"title": "b", "views": 1}
    assert rec.changes == {"title": ("a", "b")}
    created = Record(adapter, row, None)
    assert dict(created.old_values) == {} and created.new_values is None


def test_store_adds_what_the_write_also_stores_and_refreshes_changes() -> None:
    rec = Record(Adapter(), _Row(), {"title": "a", "stamp": 1}, {"title": "a", "stamp": 1})
    assert rec.changes == {}
    rec.store({"stamp": 2})
    assert rec.changes == {"stamp": (1, 2)}
    assert rec.after("stamp") == 2
    live = Record(Adapter(), _Row(title="x"), {"title": "a"})
    live.store({"title": "ignored"})  # a live instance's values are the instance's
    assert live.after("title") == "x"
