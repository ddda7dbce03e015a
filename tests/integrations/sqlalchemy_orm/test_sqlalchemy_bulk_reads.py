"""What a SQLAlchemy write reads and writes besides its own SQL (issue 18, points 1 and 2).

``update(M)`` with only timestamp and softdelete reads no row; with audit it
reads them once.  The audit records of a bulk statement go out in one
executemany, and those of a flush's instance writes in one per flush.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, update
from sqlalchemy.orm import Mapped, mapped_column

from earnorm_aop import with_plugins
from earnorm_aop.integrations.sqlalchemy.audit import audit_table

AUDIT = "INSERT INTO earnorm_aop_audit"


def article(db: Any, *plugins: str, **configured: Any) -> Any:
    class Article(db.Base):
        __tablename__ = "article"
        id: Mapped[int] = mapped_column(primary_key=True)
        title: Mapped[str] = mapped_column(String(50), default="")
        views: Mapped[int] = mapped_column(default=0)

    with_plugins(*plugins, **configured)(Article)
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
