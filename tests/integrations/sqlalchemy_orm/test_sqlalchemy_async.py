"""AsyncSession: the same listeners run through its sync_session, in SQLAlchemy's greenlet."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from earnorm_aop import PluginRegistry, hook, plugin, with_plugins
from earnorm_aop.integrations import adapter_for
from earnorm_aop.integrations.sqlalchemy import workers
from earnorm_aop.integrations.sqlalchemy.audit import audit_table
from earnorm_aop.plugins.softdelete import including_deleted


def note_model(db: Any, *plugins: str, **configured: Any) -> Any:
    class Note(db.Base):
        __tablename__ = "note"
        id: Mapped[int] = mapped_column(primary_key=True)
        title: Mapped[str] = mapped_column(default="")

    with_plugins(*plugins, **configured)(Note)
    db.create()
    return Note


def test_advice_spans_an_async_flush(adb: Any) -> None:
    log: list[Any] = []
    reg = PluginRegistry()

    @plugin("spy", registry=reg)
    class Spy:
        @hook("around:save")
        def around(self, instance: Any, proceed: Any) -> Any:
            log.append(("in", instance.id))
            result = proceed()
            log.append(("out", instance.id))
            return result

        @hook("after_commit:save")
        def committed(self, instance: Any) -> None:
            log.append(("commit", instance.id))

    Note = note_model(adb, "spy", registry=reg)

    async def go() -> None:
        async with AsyncSession(adb.async_engine, expire_on_commit=False) as session:
            session.add(Note(title="a"))
            await session.flush()
            assert log == [("in", None), ("out", 1)]
            await session.commit()

    asyncio.run(go())
    assert log == [("in", None), ("out", 1), ("commit", 1)]


def test_advice_doing_io_after_an_async_flush(adb: Any) -> None:
    """The audit table sink inserts its row after the flush, from the suspended call."""
    Note = note_model(adb, audit={"sink": "table"})

    async def go() -> list[Any]:
        async with AsyncSession(adb.async_engine) as session:
            session.add(Note(title="a"))
            await session.commit()
            result = await session.execute(select(audit_table.c.action, audit_table.c.object_id))
            return list(result.all())

    assert asyncio.run(go()) == [("create", "1")]


def test_softdelete_timestamp_and_bulk_statements_on_an_async_session(adb: Any) -> None:
    Note = note_model(adb, "softdelete", "timestamp")

    async def go() -> None:
        async with AsyncSession(adb.async_engine, expire_on_commit=False) as session:
            a, b, c = Note(title="a"), Note(title="b"), Note(title="c")
            session.add_all([a, b, c])
            await session.commit()
            assert a.created_at is not None
            await session.delete(a)
            await session.commit()
            assert [n.title for n in await session.scalars(select(Note))] == ["b", "c"]
            result = await session.execute(delete(Note).where(Note.title == "b"))
            assert result.rowcount == 1
            await session.execute(update(Note).values(title="z"))
            await session.commit()
            assert [n.id for n in await session.scalars(select(Note))] == [c.id]
            with including_deleted():
                assert len((await session.scalars(select(Note))).all()) == 3

    asyncio.run(go())
    rows = adb.rows(Note)
    assert [r["deleted_at"] is not None for r in rows.values()] == [True, True, False]
    assert [r["title"] for r in rows.values()] == ["a", "b", "z"]


def test_rollback_of_an_async_session_runs_rollback_callbacks(adb: Any) -> None:
    Note = note_model(adb)
    ran: list[str] = []

    async def go() -> None:
        async with AsyncSession(adb.async_engine) as session:
            note = Note()
            session.add(note)
            await session.flush()
            adapter_for(Note).defer(
                Note, note, lambda: ran.append("commit"), lambda: ran.append("rollback")
            )
            await session.rollback()

    asyncio.run(go())
    assert ran == ["rollback"]


def test_advice_doing_io_inside_an_async_flush_is_awaited_by_the_flush(
    adb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A woven save's advice that queries its session while the flush runs (after the SQL,
    before the flush ends): the worker it runs in hands SQLAlchemy's awaitable to the flush,
    which awaits it and sends the answer back (issue 18 point 5's workers)."""
    from sqlalchemy import func
    from sqlalchemy.orm import object_session

    counted: list[Any] = []
    awaited: list[Any] = []
    await_in_flush = workers._await

    def spy(awaitable: Any) -> Any:
        awaited.append(awaitable)
        return await_in_flush(awaitable)

    monkeypatch.setattr(workers, "_await", spy)
    reg = PluginRegistry()

    @plugin("counter", registry=reg)
    class Counter:
        @hook("around:save")
        def around(self, instance: Any, proceed: Any) -> Any:
            result = proceed()
            session = object_session(instance)
            assert session is not None
            counted.append((instance.title, session.execute(select(func.count(Note.id))).scalar()))
            return result

    Note = note_model(adb, "counter", registry=reg)

    async def go() -> list[Any]:
        async with AsyncSession(adb.async_engine, expire_on_commit=False) as session:
            session.add_all([Note(title="a"), Note(title="b")])
            await session.flush()
            flushed = list(counted)
            assert len(awaited) >= 2  # each query awaited by the flush for its worker
            await session.commit()
            rows = await session.execute(select(Note.title).order_by(Note.id))
            return [flushed, list(rows.scalars())]

    flushed, titles = asyncio.run(go())
    assert flushed == [("a", 2), ("b", 2)]  # both rows written, seen from inside the flush
    assert titles == ["a", "b"]
