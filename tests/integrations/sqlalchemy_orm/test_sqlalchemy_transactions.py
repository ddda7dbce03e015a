"""Commit-aware work on SQLAlchemy: the on-commit queue, savepoints, rollbacks."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Mapped, mapped_column

from earnorm_aop import PluginRegistry, hook, plugin, with_plugins
from earnorm_aop.integrations import adapter_for


def note_model(db: Any, *plugins: str, **kw: Any) -> Any:
    class Note(db.Base):
        __tablename__ = "note"
        id: Mapped[int] = mapped_column(primary_key=True)
        title: Mapped[str] = mapped_column(default="")

    with_plugins(*plugins, **kw)(Note)
    db.create()
    return Note


def commit_registry(log: list[Any]) -> PluginRegistry:
    reg = PluginRegistry()

    @plugin("notify", registry=reg)
    class Notify:
        @hook("after_commit:save")
        def committed(self, instance: Any) -> None:
            log.append(("commit", instance.title))

        @hook("after_rollback:save")
        def rolled_back(self, instance: Any) -> None:
            log.append(("rollback", instance.title))

    return reg


def test_after_commit_advice_waits_for_the_commit(db: Any) -> None:
    log: list[Any] = []
    Note = note_model(db, "notify", registry=commit_registry(log))
    with db.session(expire_on_commit=False) as session:
        session.add(Note(title="a"))
        session.flush()
        assert log == []
        session.commit()
        assert log == [("commit", "a")]


def test_after_rollback_advice_runs_on_rollback_only(db: Any) -> None:
    log: list[Any] = []
    Note = note_model(db, "notify", registry=commit_registry(log))
    with db.session(expire_on_commit=False) as session:
        session.add(Note(title="a"))
        session.flush()
        session.rollback()
    assert log == [("rollback", "a")]
    assert db.rows(Note) == {}


def test_a_released_savepoint_waits_for_the_outer_commit(db: Any) -> None:
    log: list[Any] = []
    Note = note_model(db, "notify", registry=commit_registry(log))
    with db.session(expire_on_commit=False) as session:
        session.add(Note(title="outer"))
        session.flush()
        with session.begin_nested():
            session.add(Note(title="inner"))
        assert log == []  # RELEASE SAVEPOINT fired after_commit: told apart
        session.commit()
    assert log == [("commit", "outer"), ("commit", "inner")]


def test_a_rolled_back_savepoint_rolls_back_its_own_work_only(db: Any) -> None:
    log: list[Any] = []
    Note = note_model(db, "notify", registry=commit_registry(log))
    with db.session(expire_on_commit=False) as session:
        session.add(Note(title="outer"))
        session.flush()
        nested = session.begin_nested()
        session.add(Note(title="inner"))
        session.flush()
        nested.rollback()
        assert log == [("rollback", "inner")]
        session.commit()
    assert log == [("rollback", "inner"), ("commit", "outer")]
    assert [r["title"] for r in db.rows(Note).values()] == ["outer"]


def test_defer_outside_a_transaction_runs_at_once(db: Any) -> None:
    Note = note_model(db)
    ran: list[str] = []
    with db.session() as session:
        note = Note(title="a")
        session.add(note)
        adapter_for(Note).defer(Note, Note(), lambda: ran.append("no session"))
        assert ran == ["no session"]
        session.flush()
        adapter_for(Note).defer(Note, note, lambda: ran.append("committed"))
        assert ran == ["no session"]
        session.commit()
    assert ran == ["no session", "committed"]


def test_a_failing_robust_callback_is_logged_and_the_others_run(
    db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    Note = note_model(db)
    ran: list[str] = []

    def broken() -> None:
        raise RuntimeError("boom")

    with db.session() as session:
        note = Note()
        session.add(note)
        session.flush()
        adapter = adapter_for(Note)
        adapter.defer(Note, note, broken, robust=True)
        adapter.defer(Note, note, lambda: ran.append("after"))
        session.commit()
    assert ran == ["after"]
    assert "boom" in caplog.text


def test_a_failing_non_robust_callback_propagates_after_the_commit(db: Any) -> None:
    Note = note_model(db)
    ran: list[str] = []

    def broken() -> None:
        raise RuntimeError("boom")

    with db.session() as session:
        note = Note(title="kept")
        session.add(note)
        session.flush()
        adapter_for(Note).defer(Note, note, broken)
        adapter_for(Note).defer(Note, note, lambda: ran.append("skipped"))
        with pytest.raises(RuntimeError, match="boom"):
            session.commit()
    assert ran == []
    assert [r["title"] for r in db.rows(Note).values()] == ["kept"]


def test_audit_logging_sink_hears_of_committed_writes_only(db: Any) -> None:
    records: list[Any] = []
    Note = note_model(db, audit={"sink": records.append})
    with db.session() as session:
        session.add(Note(title="lost"))
        session.flush()
        session.rollback()
        session.add(Note(title="kept"))
        session.commit()
    assert [r.changes["title"][1] for r in records] == ["kept"]


def test_audit_table_sink_rolls_back_with_the_data(db: Any) -> None:
    from earnorm_aop.integrations.sqlalchemy.audit import read

    Note = note_model(db, audit={"sink": "table"})
    with db.session() as session:
        session.add(Note(title="lost"))
        session.flush()
        session.rollback()
        session.add(Note(title="kept"))
        session.commit()
        label = adapter_for(Note).model_label(Note)
        rows = read(session, label)
    assert [(r["action"], r["changes"]["title"]) for r in rows] == [("create", [None, "kept"])]
