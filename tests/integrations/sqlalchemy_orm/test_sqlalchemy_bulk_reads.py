"""What a SQLAlchemy write reads and writes besides its own SQL (issue 18, points 1 and 2).

``update(M)`` with only timestamp and softdelete reads no row; with audit it
reads them once.  The audit records of a bulk statement go out in one
executemany, and those of a flush's instance writes in one per flush.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import String, delete, insert, update
from sqlalchemy.orm import Mapped, mapped_column

from earnorm_aop import PluginRegistry, hook, plugin, with_plugins
from earnorm_aop.integrations.sqlalchemy.audit import audit_table

AUDIT = "INSERT INTO earnorm_aop_audit"


def article(db: Any, *plugins: str, registry: Any = None, **configured: Any) -> Any:
    class Article(db.Base):
        __tablename__ = "article"
        id: Mapped[int] = mapped_column(primary_key=True)
        title: Mapped[str] = mapped_column(String(50), default="")
        views: Mapped[int] = mapped_column(default=0)

    with_plugins(*plugins, registry=registry, **configured)(Article)
    db.create()
    with db.session() as session:
        session.add_all([Article(title=t) for t in "abc"])
        session.commit()
    return Article


def records(db: Any) -> list[dict[str, Any]]:
    with db.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(audit_table.select().order_by("pk"))]


def run(db: Any, statement: Any) -> list[str]:
    db.statements.clear()
    with db.session() as session:
        session.execute(statement)
        session.commit()
    return [s for s in db.statements if not s.upper().startswith(("PRAGMA",))]


def test_timestamp_and_softdelete_alone_read_nothing(db: Any) -> None:
    Article = article(db, "timestamp", "softdelete")
    sql = run(db, update(Article).values(views=4))
    assert [s.split()[0] for s in sql] == ["UPDATE"], sql
    assert "updated_at" in sql[0]
    assert {r["views"] for r in db.rows(Article).values()} == {4}


def test_audit_reads_the_rows_once_and_writes_its_records_at_once(db: Any) -> None:
    Article = article(db, "timestamp", "softdelete", audit={"sink": "table"})
    sql = run(db, update(Article).values(views=4))
    assert [s.split()[0] for s in sql] == ["SELECT", "UPDATE", "INSERT"], sql
    assert sql[2].startswith(AUDIT)
    updates = [r for r in records(db) if r["action"] == "update"]
    assert sorted(r["object_id"] for r in updates) == ["1", "2", "3"]
    assert all(r["changes"]["views"] == [0, 4] for r in updates)


def test_a_bulk_insert_and_delete_write_their_records_at_once(db: Any) -> None:
    Article = article(db, audit={"sink": "table"})
    sql = run(db, insert(Article).values([{"title": "x"}, {"title": "y"}]))
    assert sum(s.startswith(AUDIT) for s in sql) == 1, sql
    sql = run(db, delete(Article))
    assert sum(s.startswith(AUDIT) for s in sql) == 1, sql
    actions = [r["action"] for r in records(db)]
    assert actions.count("create") == 5 and actions.count("delete") == 5


def test_a_bulk_update_by_primary_key_writes_its_records_at_once(db: Any) -> None:
    """Each dict is its row's own update_many; the statement's records are one INSERT."""
    Article = article(db, "timestamp", audit={"sink": "table"})
    db.statements.clear()
    with db.session() as session:
        session.execute(update(Article), [{"id": 1, "views": 5}, {"id": 3, "views": 7}])
        session.commit()
    assert sum(s.startswith(AUDIT) for s in db.statements) == 1, db.statements
    updates = [r for r in records(db) if r["action"] == "update"]
    assert [(r["object_id"], r["changes"]["views"]) for r in updates] == [
        ("1", [0, 5]),
        ("3", [0, 7]),
    ]


def test_a_bulk_update_by_primary_key_missing_a_key_writes_nothing(db: Any) -> None:
    Article = article(db, audit={"sink": "table"})
    with db.session() as session:
        with pytest.raises(ValueError, match="needs id in every parameter dictionary"):
            session.execute(update(Article), [{"id": 1, "views": 5}, {"views": 7}])
        session.commit()
    assert {r["views"] for r in db.rows(Article).values()} == {0}
    assert [r for r in records(db) if r["action"] == "update"] == []


def test_the_records_of_a_flush_are_one_insert(db: Any) -> None:
    Article = article(db, "timestamp", audit={"sink": "table"})
    with db.session() as session:
        first = session.get(Article, 1)
        assert first is not None
        db.statements.clear()
        session.add_all([Article(title=t) for t in "uvwxyz"])
        first.views = 9
        session.commit()  # one flush: six INSERTs, one UPDATE
    assert sum(s.startswith(AUDIT) for s in db.statements) == 1, db.statements
    written = records(db)
    assert [r["action"] for r in written].count("create") == 9
    assert [r["object_id"] for r in written if r["action"] == "update"] == ["1"]


def test_audit_of_an_update_reads_only_the_key_and_the_fields_it_compares(db: Any) -> None:
    Article = article(db, "timestamp", "softdelete", audit={"sink": "table"})
    sql = run(db, update(Article).values(views=6))
    read = sql[0]
    assert read.startswith("SELECT") and "title" not in read.split("FROM")[0], read
    assert "updated_at" in read and "views" in read
    updates = [r for r in records(db) if r["action"] == "update"]
    assert [r["changes"]["views"] for r in updates] == [[0, 6]] * 3
    assert all(set(r["changes"]) == {"views", "updated_at"} for r in updates)


def test_a_listener_of_the_rows_gets_every_column(db: Any) -> None:
    seen: list[Any] = []
    registry = PluginRegistry()

    @plugin("titles", registry=registry)
    class Titles:
        @hook("after_change")
        def heard(self, instance: Any) -> None:
            seen.append(instance.title)

    Article = article(db, "audit", "titles", registry=registry, audit={"sink": "table"})
    seen.clear()  # the rows' creations
    sql = run(db, update(Article).values(views=6))
    assert "title" in sql[0].split("FROM")[0], sql
    assert sorted(seen) == ["a", "b", "c"]
    # audit and the listener share the one read; the records are one INSERT
    assert [s.split()[0] for s in sql] == ["SELECT", "UPDATE", "INSERT"], sql


def test_cache_alone_reads_only_the_keys_of_a_bulk_write(db: Any) -> None:
    Article = article(db, "timestamp", "cache")
    with db.session() as session:
        assert session.get(Article, 1).views == 0  # cached now
    sql = run(db, update(Article).values(views=8))
    read = sql[0]
    assert read.startswith("SELECT") and "views" not in read and "title" not in read, read
    with db.session() as session:
        assert session.get(Article, 1).views == 8  # the entry was dropped
