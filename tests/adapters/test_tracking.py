"""The state of one write: made once per call, given to every advice of it, gone with it.

A bulk write's rows are read once (by the tracking service's ``before`` advice)
onto the call's [`Write`][earnorm_aop.adapters.tracking.Write], and every advice
of that call — before, around, after, error — gets the same object as its
``write`` parameter; the next call gets its own.  Nothing is kept between
calls: a write vetoed by a ``before`` advice or failing in the database
leaves nothing behind (the frames kept by ``id(queryset)`` in a context
variable, which this replaced, had to be bounded for that).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from earnorm_aop import PluginRegistry, WeavingError, hook, plugin, with_plugins
from earnorm_aop.adapters import tracking
from earnorm_aop.integrations import adapter_for
from earnorm_aop.integrations.memory import MemoryModel, MemoryStore


@pytest.fixture
def seen() -> list[tuple[str, Any]]:
    return []


@pytest.fixture
def reg(seen: list[tuple[str, Any]]) -> Iterator[PluginRegistry]:
    registry = PluginRegistry()

    @plugin("watch", registry=registry)
    class Watch:
        veto = False

        @hook("before:update_many")
        def first(self, write: tracking.Write) -> bool:
            seen.append(("before", write))
            return not Watch.veto

        @hook("around:update_many")
        def middle(self, proceed: Any, write: tracking.Write) -> Any:
            seen.append(("around", write))
            return proceed()

        @hook("after:update_many")
        def last(self, write: tracking.Write) -> None:
            seen.append(("after", write))

        @hook("error:update_many")
        def failed(self, write: tracking.Write) -> None:
            seen.append(("error", write))

    registry.Watch = Watch  # type: ignore[attr-defined]
    yield registry


def _model(reg: PluginRegistry) -> Any:
    @with_plugins("watch", "changes", registry=reg)
    class Row(MemoryModel):
        __store__ = MemoryStore()
        id: int | None = None
        title: str = ""

    for n in range(3):
        Row(title=str(n)).save()
    return Row


def test_every_advice_of_one_call_gets_the_same_write_and_the_next_call_another(
    reg: PluginRegistry, seen: list[tuple[str, Any]]
) -> None:
    Row = _model(reg)
    Row.update_many(Row.get_queryset(), title="x")
    Row.update_many(Row.get_queryset(), title="y")
    assert [phase for phase, _ in seen] == ["before", "around", "after"] * 2
    one, two = {id(w) for _, w in seen[:3]}, {id(w) for _, w in seen[3:]}
    assert len(one) == len(two) == 1 and one != two
    write = seen[0][1]
    assert isinstance(write, tracking.Write) and write.operation == "update_many"
    # Read once before the write (by the tracking service), as stored after it.
    assert write.frame is not None
    assert sorted(r.old_values["title"] for r in write.frame.records) == ["0", "1", "2"]
    assert {r.after("title") for r in write.frame.records} == {"x"}


def test_reading_twice_is_one_read(reg: PluginRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    Row = _model(reg)
    adapter = adapter_for(Row)
    reads: list[Any] = []
    real = type(adapter).read_rows

    def counting(self: Any, *args: Any) -> Any:
        reads.append(args)
        return real(self, *args)

    monkeypatch.setattr(type(adapter), "read_rows", counting)
    write = tracking.Write(adapter, Row, "delete_many", Row, (Row.get_queryset(),), {})
    assert write.read() is write.read() and len(reads) == 1
    assert write.frame is not None and write.frame.deleting
    assert len(write.records()) == 3


def test_a_vetoed_or_failed_write_leaves_nothing_behind(
    reg: PluginRegistry, seen: list[tuple[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    Row = _model(reg)
    reg.Watch.veto = True  # type: ignore[attr-defined]
    assert Row.update_many(Row.get_queryset(), title="x") is None
    reg.Watch.veto = False  # type: ignore[attr-defined]
    monkeypatch.setattr(
        MemoryStore, "update", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("db"))
    )
    with pytest.raises(RuntimeError):
        Row.update_many(Row.get_queryset(), title="y")
    vetoed, failed = seen[0][1], seen[1][1]
    assert [p for p, _ in seen] == ["before", "before", "around", "error"]
    assert vetoed is not failed and seen[3][1] is failed  # the error advice: the same write
    assert sorted(r.title for r in Row.get_queryset()) == ["0", "1", "2"]


def test_write_is_refused_at_weave_time_outside_write_operations(reg: PluginRegistry) -> None:
    @plugin("reader", registry=reg)
    class Reader:
        @hook("after:get")
        def got(self, write: Any) -> None:
            pass

    with pytest.raises(WeavingError, match="'write' is given to advice on write operations"):

        @with_plugins("reader", registry=reg)
        class Row(MemoryModel):
            __store__ = MemoryStore()
            id: int | None = None


def test_a_save_s_record_is_built_once_and_sees_what_the_save_writes_too() -> None:
    adapter = adapter_for(int)

    class Plain:
        def __init__(self) -> None:
            self.title = "a"
            self.updated = None

    obj = Plain()
    adapter.remember_state(obj)
    obj.title = "b"
    write = tracking.Write(adapter, Plain, "save", obj, (), {})
    rec = write.record
    assert rec is not None and rec.written is None
    assert rec.diff() == {"title": ("a", "b")}
    obj.updated = 1
    assert rec.diff() == {"title": ("a", "b"), "updated": (None, 1)}  # as the values are now
    restricted = tracking.Record(
        adapter, obj, {"title": "a", "updated": None}, None, frozenset({"title"})
    )
    assert restricted.diff() == {"title": ("a", "b")}
    restricted.writes_also(["updated"])
    assert restricted.diff() == {"title": ("a", "b"), "updated": (None, 1)}
    assert tracking.Write(adapter, Plain, "update_many", Plain, (), {}).record is None


def test_hooks_with_conditions_share_the_save_s_record(reg: PluginRegistry) -> None:
    from _calls import calls, ours

    heard: list[Any] = []

    @plugin("conditional", registry=reg)
    class Conditional:
        @hook("before:save", when="title", has_changed=True)
        def before(self, instance: Any, changes: dict[str, Any]) -> None:
            heard.append(("before", changes))

        @hook("after:save", when="title", has_changed=True)
        def after(self, instance: Any, changes: dict[str, Any]) -> None:
            heard.append(("after", changes))

    @with_plugins("conditional", "timestamp", registry=reg)
    class Note(MemoryModel):
        __store__ = MemoryStore()
        id: int | None = None
        title: str = ""

    note = Note(title="a")
    note.save()
    note.title = "b"
    counted = ours(calls(note.save))
    # One write, one record, for both conditional hooks and timestamp.
    assert counted["earnorm_aop.adapters.tracking:__init__"] == 2, counted
    assert [p for p, _ in heard[-2:]] == ["before", "after"]
    assert heard[-2][1]["title"] == ("a", "b") and heard[-1][1]["title"] == ("a", "b")
