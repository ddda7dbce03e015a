"""The cache on SQLAlchemy: Session.get misses served from it, invalidated by every write."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, inspect, select, update
from sqlalchemy.orm import Mapped, mapped_column

from earnorm_aop import explain, with_plugins


def note_model(db: Any, *plugins: str) -> Any:
    class Note(db.Base):
        __tablename__ = "note"
        id: Mapped[int] = mapped_column(primary_key=True)
        title: Mapped[str] = mapped_column(default="")

    with_plugins("cache", *plugins)(Note)
    db.create()
    with db.session() as session:
        session.add_all([Note(title="a"), Note(title="b")])
        session.commit()
    return Note


def selects(db: Any) -> int:
    return sum(1 for s in db.statements if s.upper().startswith("SELECT"))


def get_in_new_session(db: Any, Note: Any, pk: int) -> Any:
    with db.session() as session:
        found = session.get(Note, pk)
        return None if found is None else (found.title, inspect(found).persistent)


def test_get_is_woven_and_a_second_session_get_runs_no_sql(db: Any) -> None:
    Note = note_model(db)
    assert "get (" in explain(Note) and "_earnorm_get" in explain(Note)
    assert get_in_new_session(db, Note, 1) == ("a", True)
    db.statements.clear()
    with db.session() as session:
        hit = session.get(Note, 1)
        assert selects(db) == 0
        assert inspect(hit).persistent and hit in session  # merged in, as a load would be
        hit.title = "changed"
        session.commit()
    assert db.rows(Note)[1]["title"] == "changed"


def test_select_is_never_served_from_the_cache(db: Any) -> None:
    Note = note_model(db)
    get_in_new_session(db, Note, 1)
    db.statements.clear()
    with db.session() as session:
        assert session.scalars(select(Note).where(Note.id == 1)).one().title == "a"
    assert selects(db) == 1


def test_flushes_and_bulk_statements_invalidate(db: Any) -> None:
    Note = note_model(db)
    get_in_new_session(db, Note, 1)
    with db.session() as session:
        session.get(Note, 1).title = "flushed"
        session.commit()
    assert get_in_new_session(db, Note, 1) == ("flushed", True)
    with db.session() as session:
        session.execute(update(Note).where(Note.id == 1).values(title="bulk"))
        session.commit()
    assert get_in_new_session(db, Note, 1) == ("bulk", True)
    with db.session() as session:
        session.execute(delete(Note).where(Note.id == 1))
        session.commit()
    assert get_in_new_session(db, Note, 1) is None
    with db.session() as session:
        session.execute(insert(Note), [{"id": 1, "title": "again"}])
        session.commit()
    assert get_in_new_session(db, Note, 1) == ("again", True)


def test_an_uncommitted_write_is_not_cached_for_others(db: Any) -> None:
    Note = note_model(db)
    get_in_new_session(db, Note, 2)
    with db.session() as writer:
        writer.get(Note, 2).title = "draft"
        writer.flush()
        # Another session reads the committed row, never the writer's draft.
        assert get_in_new_session(db, Note, 2) == ("b", True)
        writer.rollback()
    assert get_in_new_session(db, Note, 2) == ("b", True)


def test_a_soft_deleted_row_is_not_served(db: Any) -> None:
    Note = note_model(db, "softdelete")
    get_in_new_session(db, Note, 1)
    with db.session() as session:
        session.delete(session.get(Note, 1))
        session.commit()
    assert get_in_new_session(db, Note, 1) is None


# -- keys carry the database; locking and refreshing reads go to it (issue 19) -------------


def test_a_session_on_another_database_never_gets_this_ones_entry(db: Any, tmp_path: Any) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from earnorm_aop.integrations.sqlalchemy.adapter import bind_identity

    Note = note_model(db)
    assert get_in_new_session(db, Note, 1) == ("a", True)  # cached from database A
    other = create_engine(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        db.Base.metadata.create_all(other)
        with Session(other) as session:
            session.add(Note(id=1, title="row 1 of database B"))
            session.commit()
        with Session(other) as session:
            assert session.get(Note, 1).title == "row 1 of database B"
        assert bind_identity(other) != bind_identity(db.engine)
        assert "***" in bind_identity(create_engine("postgresql+psycopg://u:secret@h/d"))
        # A write through B invalidates B's entry (and, as this process cannot tell
        # whether two URLs name one database, every database's entry of that row).
        with Session(other) as session:
            session.get(Note, 1).title = "B again"
            session.commit()
        with Session(other) as session:
            assert session.get(Note, 1).title == "B again"
        assert get_in_new_session(db, Note, 1) == ("a", True)
    finally:
        other.dispose()


def test_two_in_memory_databases_are_two_databases() -> None:
    from sqlalchemy import create_engine

    from earnorm_aop.integrations.sqlalchemy.adapter import bind_identity

    one, two = create_engine("sqlite://"), create_engine("sqlite:///:memory:")
    assert (
        len({bind_identity(one), bind_identity(two), bind_identity(create_engine("sqlite://"))})
        == 3
    )
    with one.connect() as conn:
        assert bind_identity(conn) == bind_identity(one)  # a connection reaches its engine's


def test_a_locking_or_refreshing_get_reads_the_database(db: Any) -> None:
    Note = note_model(db)
    assert get_in_new_session(db, Note, 1) == ("a", True)  # cached
    db.statements.clear()
    with db.session() as session:
        assert session.get(Note, 1, with_for_update=True).title == "a"
    assert selects(db) == 1
    with db.session() as session:
        assert session.get(Note, 1, populate_existing=True).title == "a"
    assert selects(db) == 2
    with db.session() as session:
        session.get(Note, 1)
        assert session.get(Note, 1, populate_existing=True) is not None
    assert selects(db) == 3  # the plain get was a hit, the refreshing one a read
