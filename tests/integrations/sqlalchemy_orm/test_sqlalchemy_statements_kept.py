"""The user's bulk statements are extended, never rebuilt (issue 18, points 3 and 4).

Each statement runs on a model without plugins and on one with timestamp,
softdelete and audit, on SQLite and on the private PostgreSQL cluster: the
Result (returned rows or row count) and the rows the session sees are the
same, RETURNING, dialect clauses, prefixes, SQL expressions and execution
options reach the database as written, and the plugins still did their part.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import String, delete, event, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import ResourceClosedError
from sqlalchemy.orm import Mapped, mapped_column

from earnorm_aop import with_plugins

Statement = Callable[[Any, str], Any]


@pytest.fixture(params=["sqlite", "postgres"])
def either(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The ``db`` fixture on SQLite, then on the private PostgreSQL cluster."""
    monkeypatch.setenv("EARNORM_AOP_TEST_DB", request.param)
    return request.getfixturevalue("db")


def two_models(db: Any, records: list[Any]) -> tuple[Any, Any]:
    """The same table twice: ``Plain`` without plugins, ``Plugged`` with three built-ins."""

    class Plain(db.Base):
        __tablename__ = "plain"
        id: Mapped[int] = mapped_column(primary_key=True)
        title: Mapped[str] = mapped_column(String(50), default="")
        views: Mapped[int] = mapped_column(default=0)

    class Plugged(db.Base):
        __tablename__ = "plugged"
        id: Mapped[int] = mapped_column(primary_key=True)
        title: Mapped[str] = mapped_column(String(50), default="")
        views: Mapped[int] = mapped_column(default=0)

    with_plugins("timestamp", "softdelete", audit={"sink": records.append})(Plugged)
    db.create()
    for model in (Plain, Plugged):
        with db.session() as session:
            session.add_all([model(id=1, title="a", views=1), model(id=2, title="b", views=2)])
            session.commit()
    return Plain, Plugged


def dialect_insert(model: Any, dialect: str) -> Any:
    return (sqlite.insert if dialect == "sqlite" else postgresql.insert)(model)


def on_conflict_update(model: Any, dialect: str) -> Any:
    statement = dialect_insert(model, dialect).values(id=1, title="z")
    return statement.on_conflict_do_update(
        index_elements=["id"], set_={"title": statement.excluded.title}
    )


def or_ignore(model: Any, dialect: str) -> Any:
    if dialect == "sqlite":
        return insert(model).values(id=1, title="z").prefix_with("OR IGNORE")
    # PostgreSQL has no OR IGNORE: a prefix for SQLite only is left out there, as written.
    return insert(model).values(id=3, title="z").prefix_with("OR IGNORE", dialect="sqlite")


STATEMENTS: dict[str, tuple[Statement, str]] = {
    "update returning": (
        lambda M, d: update(M).where(M.id == 1).values(views=5).returning(M.id, M.views),
        "RETURNING",
    ),
    "delete returning": (lambda M, d: delete(M).where(M.id == 1).returning(M.id), "RETURNING"),
    "insert returning": (
        lambda M, d: insert(M).values(id=3, title="c").returning(M.id, M.title),
        "RETURNING",
    ),
    "on_conflict_do_nothing": (
        lambda M, d: dialect_insert(M, d).values(id=1, title="z").on_conflict_do_nothing(),
        "ON CONFLICT",
    ),
    "on_conflict_do_update": (on_conflict_update, "ON CONFLICT"),
    "prefix": (or_ignore, "INSERT"),
    "insert func.lower": (lambda M, d: insert(M).values(id=3, title=func.lower("ABC")), "lower("),
    "update func.lower": (
        lambda M, d: update(M).where(M.id == 2).values(title=func.upper(M.title)),
        "upper(",
    ),
    "update expression": (lambda M, d: update(M).values(views=M.views * 10), "UPDATE"),
}


def outcome(result: Any) -> Any:
    try:
        return sorted(tuple(row) for row in result.all())
    except ResourceClosedError:
        return ("rowcount", result.rowcount)


def run(db: Any, model: Any, statement: Any) -> tuple[Any, Any, list[str]]:
    db.statements.clear()
    with db.session() as session:
        result = outcome(session.execute(statement))
        session.commit()
    written = [s for s in db.writes() if model.__tablename__ in s]
    with db.session() as session:
        rows = session.execute(select(model.id, model.title, model.views).order_by(model.id))
        return result, [tuple(r) for r in rows], written


@pytest.mark.parametrize("name", sorted(STATEMENTS))
def test_a_statement_reaches_the_database_as_written(either: Any, name: str) -> None:
    records: list[Any] = []
    Plain, Plugged = two_models(either, records)
    make, sql = STATEMENTS[name]
    if name == "prefix" and either.dialect != "sqlite":
        sql = "INSERT"
    plain = run(either, Plain, make(Plain, either.dialect))
    plugged = run(either, Plugged, make(Plugged, either.dialect))
    assert plugged[:2] == plain[:2]
    assert any(sql in s for s in plugged[2]), plugged[2]
    if name == "prefix" and either.dialect == "sqlite":
        assert any("OR IGNORE" in s for s in plugged[2])


def test_the_plugins_still_act_on_the_statements_they_extend(db: Any) -> None:
    records: list[Any] = []
    Plain, Plugged = two_models(db, records)
    with db.session() as session:
        # The rowcount SQLAlchemy gives an unplugged model (1 on SQLite, -1 on PostgreSQL's
        # psycopg for an ORM INSERT) is what the plugged one must give.
        plain = session.execute(insert(Plain).values(id=3, title=func.lower("ABC"))).rowcount
        session.rollback()
    with db.session() as session:
        returned = session.execute(
            update(Plugged).where(Plugged.id == 1).values(views=5).returning(Plugged.views)
        ).all()
        inserted = session.execute(insert(Plugged).values(id=3, title=func.lower("ABC"))).rowcount
        gone = session.execute(delete(Plugged).where(Plugged.id == 2).returning(Plugged.id)).all()
        session.commit()
    assert (returned, inserted, gone) == ([(5,)], plain, [(2,)])
    rows = db.rows(Plugged)
    assert rows[1]["updated_at"] is not None and rows[1]["views"] == 5
    assert rows[3]["title"] == "abc" and rows[3]["created_at"] is not None
    assert rows[2]["deleted_at"] is not None  # softdelete answered the DELETE, RETURNING kept
    actions = [(r.action, r.id) for r in records[2:]]  # after the two seeded rows
    assert actions == [("update", 1), ("create", 3), ("soft_delete", 2)]


def test_execution_options_reach_the_database(db: Any) -> None:
    records: list[Any] = []
    Plain, Plugged = two_models(db, records)
    seen: list[Any] = []

    def marker(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: Any
    ) -> None:
        if statement.lstrip().upper().startswith(("UPDATE", "INSERT")):
            seen.append(context.execution_options.get("marker"))

    event.listen(db.engine, "before_cursor_execute", marker)
    for model in (Plain, Plugged):
        with db.session() as session:
            session.execute(update(model).values(views=3).execution_options(marker="update"))
            session.execute(insert(model).values(id=4).execution_options(marker="insert"))
            session.commit()
    assert seen == ["update", "insert", "update", "insert"]


def test_a_bulk_update_by_primary_key_goes_through_update_many(db: Any) -> None:
    records: list[Any] = []

    class Article(db.Base):
        __tablename__ = "article"
        id: Mapped[int] = mapped_column(primary_key=True)
        views: Mapped[int] = mapped_column(default=0)

    with_plugins("timestamp", "cache", audit={"sink": records.append})(Article)
    db.create()
    with db.session() as session:
        session.add_all([Article(id=1, views=1), Article(id=2, views=2), Article(id=3, views=3)])
        session.commit()
    with db.session() as session:
        assert session.get(Article, 1).views == 1  # now in the cache
    with db.session() as session:
        result = session.execute(update(Article), [{"id": 1, "views": 10}, {"id": 2, "views": 20}])
        assert result.rowcount == 2
        session.commit()
    with db.session() as session:
        assert session.get(Article, 1).views == 10  # the cache dropped the row
    rows = db.rows(Article)
    assert [rows[i]["views"] for i in (1, 2, 3)] == [10, 20, 3]
    assert rows[1]["updated_at"] is not None and rows[2]["updated_at"] is not None
    assert rows[3]["updated_at"] == rows[3]["created_at"]  # not written
    updates = sorted((r.id, r.changes["views"]) for r in records if r.action == "update")
    assert updates == [(1, (1, 10)), (2, (2, 20))]


def test_a_bulk_update_by_primary_key_needs_the_key_in_every_row(db: Any) -> None:
    class Article(db.Base):
        __tablename__ = "article"
        id: Mapped[int] = mapped_column(primary_key=True)
        views: Mapped[int] = mapped_column(default=0)

    with_plugins("timestamp")(Article)
    db.create()
    with db.session() as session, pytest.raises(ValueError, match="needs id in every"):
        session.execute(update(Article), [{"views": 10}])


def test_a_bulk_insert_of_dicts_goes_through_save_many(db: Any) -> None:
    records: list[Any] = []

    class Article(db.Base):
        __tablename__ = "article"
        id: Mapped[int] = mapped_column(primary_key=True)
        title: Mapped[str] = mapped_column(String(50), default="")

    with_plugins("timestamp", audit={"sink": records.append})(Article)
    db.create()
    with db.session() as session:
        session.execute(insert(Article), [{"id": 1, "title": "x"}, {"id": 2, "title": "y"}])
        session.commit()
    rows = db.rows(Article)
    assert [rows[i]["title"] for i in (1, 2)] == ["x", "y"]
    assert all(rows[i]["created_at"] is not None for i in (1, 2))
    assert sorted(r.id for r in records if r.action == "create") == [1, 2]


ORM_BULK: dict[str, tuple[Callable[[Any], Any], list[dict[str, Any]], str]] = {
    "update by primary key": (update, [{"id": 1, "views": 10}, {"id": 2, "views": 20}], "update"),
    "insert of dicts": (insert, [{"id": 3, "title": "c"}, {"id": 4, "title": "d"}], "create"),
}


@pytest.mark.parametrize("name", sorted(ORM_BULK))
def test_an_orm_bulk_statement_of_dicts_writes_what_the_unplugged_model_writes(
    either: Any, name: str
) -> None:
    """``session.execute(update(M) / insert(M), [dicts])`` on SQLite and PostgreSQL: the rows
    are the unplugged model's, and the plugins did their part on each row.  (The result of
    the bulk UPDATE by primary key also counts the rows written, ``rowcount``: docs/sqlalchemy.md.)
    """
    records: list[Any] = []
    Plain, Plugged = two_models(either, records)
    del records[:]  # the seeded rows' creations
    make, params, action = ORM_BULK[name]
    seen = []
    for model in (Plain, Plugged):
        with either.session() as session:
            session.execute(make(model), params)
            session.commit()
        with either.session() as session:
            rows = session.execute(select(model.id, model.title, model.views).order_by(model.id))
            seen.append([tuple(r) for r in rows])
    assert seen[1] == seen[0]
    keys = sorted(row["id"] for row in params)
    assert sorted((r.action, r.id) for r in records) == [(action, key) for key in keys]
    stamped = either.rows(Plugged)
    assert all(stamped[key]["updated_at"] is not None for key in keys)
