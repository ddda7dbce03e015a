"""softdelete on SQLAlchemy: every ORM read hides deleted rows; deletes become updates."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy
from sqlalchemy import ForeignKey, delete, func, select, union_all, update
from sqlalchemy.orm import (
    Mapped,
    aliased,
    joinedload,
    mapped_column,
    relationship,
    selectinload,
    subqueryload,
)

from earnorm_aop import with_plugins
from earnorm_aop.plugins.softdelete import hard_deleting, including_deleted

SQLALCHEMY_2_1 = tuple(int(p) for p in sqlalchemy.__version__.split(".")[:2]) >= (2, 1)


def models(db: Any) -> tuple[Any, Any]:
    """Author (not soft-deleted) -> Book (softdelete), one-to-many."""

    class Author(db.Base):
        __tablename__ = "author"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(default="")
        books: Mapped[list[Book]] = relationship(back_populates="author", order_by="Book.id")

    class Book(db.Base):
        __tablename__ = "book"
        id: Mapped[int] = mapped_column(primary_key=True)
        title: Mapped[str] = mapped_column(default="")
        author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))
        author: Mapped[Author] = relationship(back_populates="books")

    with_plugins("softdelete")(Book)
    db.create()
    return Author, Book


@pytest.fixture
def library(db: Any) -> tuple[Any, Any, Any]:
    """An author with books 'kept' (1) and 'gone' (2, soft-deleted)."""
    Author, Book = models(db)
    with db.session() as session:
        author = Author(name="ann")
        author.books = [Book(title="kept"), Book(title="gone")]
        session.add(author)
        session.commit()
        session.delete(author.books[1])
        session.commit()
    return Author, Book, db


def titles(books: Any) -> list[str]:
    return sorted(b.title for b in books)


def test_session_delete_is_an_update_of_deleted_at(library: Any) -> None:
    _Author, Book, db = library
    rows = db.rows(Book)
    assert len(rows) == 2
    assert rows[2]["deleted_at"] is not None and rows[1]["deleted_at"] is None
    assert not any(w.upper().startswith("DELETE") for w in db.writes())


def test_select_joins_aliases_and_unions_hide_deleted_rows(library: Any) -> None:
    Author, Book, db = library
    with db.session() as session:
        assert titles(session.scalars(select(Book))) == ["kept"]
        joined = select(Author.name, Book.title).join(Author.books)
        assert session.execute(joined).all() == [("ann", "kept")]
        other = aliased(Book)
        assert titles(session.scalars(select(other))) == ["kept"]
        counted = session.scalar(select(func.count()).select_from(Book))
        assert counted == 1
        union = union_all(select(Book.title), select(Book.title))
        assert sorted(session.execute(select(union.subquery())).scalars()) == ["kept", "kept"]


@pytest.mark.parametrize("loader", [None, joinedload, selectinload, subqueryload])
def test_relationship_loads_hide_deleted_rows(library: Any, loader: Any) -> None:
    Author, _Book, db = library
    with db.session() as session:
        statement = select(Author)
        if loader is not None:
            statement = statement.options(loader(Author.books))
        author = session.scalars(statement).unique().one()
        assert titles(author.books) == ["kept"]


def test_session_get_misses_do_not_find_deleted_rows(library: Any) -> None:
    _Author, Book, db = library
    with db.session() as session:
        assert session.get(Book, 2) is None
        assert session.get(Book, 1).title == "kept"


def test_session_get_answers_from_the_identity_map_without_sql(db: Any) -> None:
    """A known limit: an object soft-deleted through a session stays in its identity map.

    ``Session.get`` answers from the map (reloading an expired object with a
    column load, which is never filtered); ``populate_existing=True`` or a
    ``select()`` reads the row and hides it.  Another session never sees it.
    """
    Author, Book = models(db)
    with db.session() as session:
        session.add(Author(books=[Book(title="b")]))
        session.commit()
        book = session.get(Book, 1)
        session.delete(book)
        session.commit()
        assert session.get(Book, 1) is book
        assert session.get(Book, 1, populate_existing=True) is None
        assert session.scalars(select(Book)).all() == []
    with db.session() as session:
        assert session.get(Book, 1) is None


def test_refreshing_a_soft_deleted_object_still_finds_its_row(library: Any) -> None:
    _Author, Book, db = library
    with db.session() as session, including_deleted():
        gone = session.get(Book, 2)
    with db.session() as session:
        session.add(gone)
        session.expire(gone)
        assert gone.title == "gone"  # a column load is never filtered
        session.refresh(gone)
        assert gone.deleted_at is not None


def test_include_deleted_option_and_including_deleted_show_deleted_rows(library: Any) -> None:
    _Author, Book, db = library
    with db.session() as session:
        statement = select(Book).execution_options(include_deleted=True)
        assert titles(session.scalars(statement)) == ["gone", "kept"]
        with including_deleted():
            assert titles(session.scalars(select(Book))) == ["gone", "kept"]
            assert session.get(Book, 2).title == "gone"
        assert titles(session.scalars(select(Book))) == ["kept"]
        assert titles(session.scalars(Book.with_deleted())) == ["gone", "kept"]


def test_has_and_any_exists_clauses(library: Any) -> None:
    Author, Book, db = library
    with db.session() as session:
        found = session.scalars(select(Author).where(Author.books.any(Book.title == "gone")))
        if SQLALCHEMY_2_1:
            assert list(found) == []  # 2.1 applies the criteria inside EXISTS
        else:
            assert [a.name for a in found] == ["ann"]  # 2.0 does not: documented


def test_bulk_delete_becomes_an_update_and_skips_deleted_rows(library: Any) -> None:
    _Author, Book, db = library
    with db.session() as session:
        session.add(Book(title="third", author_id=1))
        session.commit()
        first = db.rows(Book)[2]["deleted_at"]
        db.statements.clear()
        result = session.execute(delete(Book).where(Book.title != "kept"))
        session.commit()
        assert result.rowcount == 1  # 'gone' was deleted already
    assert not any(w.upper().startswith("DELETE") for w in db.writes())
    rows = db.rows(Book)
    assert rows[2]["deleted_at"] == first
    assert rows[3]["deleted_at"] is not None and rows[1]["deleted_at"] is None


def test_bulk_update_skips_deleted_rows_unless_included(library: Any) -> None:
    _Author, Book, db = library
    with db.session() as session:
        assert session.execute(update(Book).values(title="x")).rowcount == 1
        statement = update(Book).values(deleted_at=None).execution_options(include_deleted=True)
        assert session.execute(statement).rowcount == 2  # a bulk restore
        session.commit()
    assert all(r["deleted_at"] is None for r in db.rows(Book).values())


def test_restore_and_hard_delete_are_written_at_the_flush(library: Any) -> None:
    _Author, Book, db = library
    with db.session() as session, including_deleted():
        gone = session.get(Book, 2)
        gone.restore()
        assert db.rows(Book)[2]["deleted_at"] is not None  # not flushed yet
        session.commit()
    assert db.rows(Book)[2]["deleted_at"] is None
    with db.session() as session:
        kept = session.get(Book, 1)
        kept.hard_delete()
        session.commit()
    assert 1 not in db.rows(Book)


def test_hard_deleting_block_around_the_flush(library: Any) -> None:
    _Author, Book, db = library
    with db.session() as session:
        session.delete(session.get(Book, 1))
        with hard_deleting():
            session.commit()
        assert 1 not in db.rows(Book)
        with hard_deleting():
            session.execute(delete(Book).execution_options(include_deleted=True))
            session.commit()
    assert db.rows(Book) == {}


def test_core_table_statements_are_not_seen(library: Any) -> None:
    """Documented: Core ``Table`` statements and ``Connection.execute`` bypass the ORM."""
    _Author, Book, db = library
    table = Book.__table__
    with db.session() as session:
        assert len(session.execute(select(table)).all()) == 2
        session.execute(table.delete().where(table.c.id == 1))
        session.commit()
    assert 1 not in db.rows(Book)


def test_many_to_many_loads_hide_deleted_rows(db: Any) -> None:
    from sqlalchemy import Column, Table

    tagging = Table(
        "tagging",
        db.Base.metadata,
        Column("post_id", ForeignKey("post.id"), primary_key=True),
        Column("tag_id", ForeignKey("tag.id"), primary_key=True),
    )

    class Tag(db.Base):
        __tablename__ = "tag"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(default="")

    class Post(db.Base):
        __tablename__ = "post"
        id: Mapped[int] = mapped_column(primary_key=True)
        tags = relationship(Tag, secondary=tagging, order_by=Tag.id)

    with_plugins("softdelete")(Tag)
    db.create()
    with db.session() as session:
        post = Post(tags=[Tag(name="kept"), Tag(name="gone")])
        session.add(post)
        session.commit()
        session.delete(post.tags[1])
        session.commit()
    for loader in (None, selectinload, joinedload):
        with db.session() as session:
            statement = select(Post)
            if loader is not None:
                statement = statement.options(loader(Post.tags))
            post = session.scalars(statement).unique().one()
            assert [t.name for t in post.tags] == ["kept"]
            joined = select(Tag.name).join(Post.tags)
            assert session.scalars(joined).all() == ["kept"]
