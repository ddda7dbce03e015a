"""Parity with sqlalchemy-easy-softdelete, the soft-delete extension SQLAlchemy users pick today.

The same library (an author, books 'kept' and 'gone', 'gone' soft-deleted) is
built twice: with ``softdelete`` from earnorm_aop, and with
sqlalchemy-easy-softdelete's mixin (column ``es_deleted_at``, so its
process-wide SELECT rewriter never touches the other tests' tables).  Each
case runs on both and asserts what each one does; the differences are the
cases where easy-softdelete leaks a deleted row or deletes for real, and the
one where it filters what earnorm_aop leaves alone (Core ``Table`` selects).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy
from sqlalchemy import ForeignKey, delete, event, select, update
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.orm import Mapped, Session, joinedload, mapped_column, relationship, selectinload

from earnorm_aop import with_plugins

# Set by scripts/matrix.py's SQLAlchemy cells, where the library is installed.
REQUIRE = "EARNORM_AOP_REQUIRE_EASY_SOFTDELETE"

try:
    from sqlalchemy_easy_softdelete import mixin as easy
except ImportError:  # pragma: no cover - depends on the environment
    MISSING = (
        "sqlalchemy-easy-softdelete is not installed: it declares sqlalchemy<2.1, so it is "
        "not in the test extra (pip would hold SQLAlchemy at 2.0); these tests run in the "
        "SQLAlchemy 2.0 and 2.1 cells of scripts/matrix.py (python3 scripts/matrix.py "
        "--sqlalchemy 2.0 2.1), or here after pip install --no-deps sqlalchemy-easy-softdelete"
    )
    if os.environ.get(REQUIRE):  # set by that cell: there, a skip would hide the comparison
        pytest.fail(f"{REQUIRE} is set, so this module must run: {MISSING}", pytrace=False)
    pytest.skip(MISSING, allow_module_level=True)

SQLALCHEMY_2_1 = tuple(int(p) for p in sqlalchemy.__version__.split(".")[:2]) >= (2, 1)

EasyMixin: Any = None


@pytest.fixture(scope="module", autouse=True)
def _easy_listener() -> Iterator[None]:
    """Generate the mixin for this module only: its global SELECT rewriter is removed after.

    (It installs a ``do_orm_execute`` listener on every ``Session``, which
    raises ``NotImplementedError`` on statements it cannot rewrite, such as an
    ``aliased()`` entity; the other tests must not meet it.)
    """
    global EasyMixin
    from sqlalchemy_easy_softdelete.handler import sqlalchemy_easy_softdelete as handler

    added: list[tuple[Any, str, Any]] = []
    original = handler.listens_for

    def recording(target: Any, identifier: str, *args: Any, **kw: Any) -> Any:
        decorate = original(target, identifier, *args, **kw)

        def register(fn: Any) -> Any:
            added.append((target, identifier, fn))
            return decorate(fn)

        return register

    handler.listens_for = recording
    try:
        EasyMixin = easy.generate_soft_delete_mixin_class(
            deleted_field_name="es_deleted_at", class_name="EasyMixin"
        )
    finally:
        handler.listens_for = original
    assert added, "sqlalchemy-easy-softdelete installed no listener we could see"
    try:
        yield
    finally:
        for target, identifier, fn in added:
            event.remove(target, identifier, fn)


class Library:
    """Author/Book on one declarative base, soft-deleted by ``flavour``."""

    def __init__(self, db: Any, flavour: str) -> None:
        self.flavour = flavour
        self.db = db
        mixins: tuple[type, ...] = (EasyMixin,) if flavour == "easy" else ()
        field = "es_deleted_at" if flavour == "easy" else "deleted_at"
        self.field = field

        class Author(db.Base):
            __tablename__ = f"{flavour}_author"
            id: Mapped[int] = mapped_column(primary_key=True)
            books = relationship(lambda: Book, order_by=lambda: Book.id)

        body: dict[str, Any] = {
            "__tablename__": f"{flavour}_book",
            "__annotations__": {"id": Mapped[int], "title": Mapped[str], "author_id": Mapped[int]},
            "id": mapped_column(primary_key=True),
            "title": mapped_column(default=""),
            "author_id": mapped_column(ForeignKey(f"{flavour}_author.id")),
        }
        if flavour == "easy":
            body["__annotations__"]["es_deleted_at"] = Mapped[datetime | None]
        Book = type(f"{flavour.capitalize()}Book", (db.Base, *mixins), body)
        if flavour == "earnorm":
            with_plugins("softdelete")(Book)
        self.Author, self.Book = Author, Book
        db.create()
        with db.session() as session:
            session.add(Author(books=[Book(title="kept"), Book(title="gone")]))
            session.commit()
            self.soft_delete(session, session.get(Book, 2))
            session.commit()

    def soft_delete(self, session: Session, book: Any) -> None:
        """Each library's way: easy-softdelete's ``book.delete()``, else ``session.delete``."""
        if self.flavour == "easy":
            book.delete()
        else:
            session.delete(book)

    def ids(self) -> list[int]:
        """Rows in the table (Core, no filter)."""
        return sorted(self.db.rows(self.Book))

    def deleted(self, pk: int) -> bool:
        return self.db.rows(self.Book)[pk][self.field] is not None


@pytest.fixture(params=["earnorm", "easy"])
def library(request: pytest.FixtureRequest, db: Any) -> Library:
    return Library(db, request.param)


def titles(books: Any) -> list[str]:
    return sorted(b.title for b in books)


def test_both_hide_deleted_rows_from_select_and_relationship_loads(library: Library) -> None:
    Author, Book = library.Author, library.Book
    with library.db.session() as session:
        assert titles(session.scalars(select(Book))) == ["kept"]
        assert titles(session.get(Author, 1).books) == ["kept"]  # lazy load
    for loader in (selectinload, joinedload):
        with library.db.session() as session:
            statement = select(Author).options(loader(Author.books))
            assert titles(session.scalars(statement).unique().one().books) == ["kept"]
    with library.db.session() as session:
        assert session.get(Book, 2) is None
        shown = session.scalars(select(Book).execution_options(include_deleted=True))
        assert titles(shown) == ["gone", "kept"]


def test_session_delete(library: Library) -> None:
    """easy-softdelete: ``session.delete`` deletes the row; earnorm_aop soft-deletes it."""
    with library.db.session() as session:
        session.delete(session.get(library.Book, 1))
        session.commit()
    if library.flavour == "easy":
        assert library.ids() == [2]
    else:
        assert library.ids() == [1, 2] and library.deleted(1)


def test_bulk_delete_statement(library: Library) -> None:
    """easy-softdelete: ``delete(Book)`` removes every row, deleted ones included."""
    with library.db.session() as session:
        count = session.execute(delete(library.Book)).rowcount
        session.commit()
    if library.flavour == "easy":
        assert (count, library.ids()) == (2, [])
    else:
        assert (count, library.ids()) == (1, [1, 2])
        assert library.deleted(1)


def test_bulk_update_statement(library: Library) -> None:
    """easy-softdelete: ``update(Book)`` also rewrites soft-deleted rows."""
    with library.db.session() as session:
        count = session.execute(update(library.Book).values(title="x")).rowcount
        session.commit()
    rows = library.db.rows(library.Book)
    if library.flavour == "easy":
        assert count == 2 and rows[2]["title"] == "x"
    else:
        assert count == 1 and rows[2]["title"] == "gone"


def test_exists_through_any(library: Library) -> None:
    """``Author.books.any(...)``: earnorm_aop filters in EXISTS on 2.1; easy-softdelete never."""
    Author, Book = library.Author, library.Book
    with library.db.session() as session:
        found = session.scalars(select(Author).where(Author.books.any(Book.title == "gone")))
        leaked = len(list(found)) == 1
    assert leaked == (library.flavour == "easy" or not SQLALCHEMY_2_1)


def test_refreshing_a_soft_deleted_object(library: Library) -> None:
    """easy-softdelete filters column loads too: a deleted object cannot be refreshed."""
    Book = library.Book
    with library.db.session() as session:
        gone = session.scalars(select(Book).execution_options(include_deleted=True)).all()[1]
        session.expire(gone)
        if library.flavour == "easy":
            with pytest.raises(InvalidRequestError):
                _ = gone.title
        else:
            assert gone.title == "gone"


def test_core_table_select(library: Library) -> None:
    """easy-softdelete rewrites Core ``select(table)`` run by a Session; earnorm_aop does not."""
    table = library.Book.__table__
    with library.db.session() as session:
        count = len(session.execute(select(table)).all())
    assert count == (1 if library.flavour == "easy" else 2)
