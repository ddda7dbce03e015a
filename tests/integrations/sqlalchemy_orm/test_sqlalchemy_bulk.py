"""Bulk ORM statements: update(M), delete(M), insert(M) run the woven *_many methods."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import String, delete, insert, inspect, select, update
from sqlalchemy.orm import Mapped, mapped_column

from earnorm_aop import with_plugins
from earnorm_aop.integrations.sqlalchemy.statements import update_values
from earnorm_aop.plugins.validation import ValidationFailed


def fixed() -> datetime:
    return datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def article_model(db: Any, *plugins: str, **configured: Any) -> Any:
    class Article(db.Base):
        __tablename__ = "article"
        id: Mapped[int] = mapped_column(primary_key=True)
        title: Mapped[str] = mapped_column(String(50), default="")
        views: Mapped[int] = mapped_column(default=0)

    with_plugins(*plugins, **configured)(Article)
    db.create()
    return Article


def seeded(db: Any, *plugins: str, **configured: Any) -> Any:
    Article = article_model(db, *plugins, **configured)
    with db.session() as session:
        session.add_all([Article(title="a", views=1), Article(title="b", views=2)])
        session.commit()
    return Article


def test_the_values_of_an_update_are_read_in_every_form(db: Any) -> None:
    Article = article_model(db)
    mapper = inspect(Article)
    forms = [
        update(Article).values(title="x", views=Article.views + 1),
        update(Article).values({"title": "x", Article.views: Article.views + 1}),
        update(Article).values({Article.__table__.c.title: "x"}).values(views=Article.views + 1),
    ]
    for statement in forms:
        values = update_values(mapper, statement)
        assert values is not None and set(values) == {"title", "views"}
        assert values["title"] == "x"
        assert values["views"].compare(Article.views + 1)
    assert update_values(mapper, update(Article)) is None  # values as execute parameters


def test_a_bulk_update_is_stamped_and_audited_row_by_row(db: Any) -> None:
    records: list[Any] = []
    Article = seeded(db, "timestamp", timestamp={"clock": fixed}, audit={"sink": records.append})
    with db.session() as session:
        result = session.execute(update(Article).where(Article.title == "a").values(views=10))
        assert result.rowcount == 1
        session.commit()
    rows = db.rows(Article)
    assert rows[1]["views"] == 10 and rows[2]["views"] == 2
    assert rows[1]["updated_at"].replace(tzinfo=UTC) == fixed()
    update_records = [r for r in records if r.action == "update"]
    assert [(r.id, r.changes["views"]) for r in update_records] == [(1, (1, 10))]


def test_an_expression_is_audited_with_the_value_the_database_wrote(db: Any) -> None:
    records: list[Any] = []
    Article = seeded(db, audit={"sink": records.append})
    with db.session() as session:
        session.execute(update(Article).values(views=Article.views * 10))
        session.commit()
    changes = {r.id: r.changes["views"] for r in records if r.action == "update"}
    assert changes == {1: (1, 10), 2: (2, 20)}


def test_a_bulk_update_with_invalid_values_writes_nothing(db: Any) -> None:
    Article = seeded(db, validation={"fields": {"views": {"ge": 0}}})
    db.statements.clear()
    with db.session() as session:
        with pytest.raises(ValidationFailed, match="views"):
            session.execute(update(Article).values(views=-1))
        session.rollback()
    assert not any(w.upper().startswith("UPDATE") for w in db.writes())


def test_a_bulk_delete_is_audited_with_the_last_values(db: Any) -> None:
    records: list[Any] = []
    Article = seeded(db, audit={"sink": records.append})
    with db.session() as session:
        result = session.execute(delete(Article).where(Article.title == "b"))
        assert result.rowcount == 1
        session.commit()
    (record,) = [r for r in records if r.action == "delete"]
    assert (record.id, record.changes["title"]) == (2, ("b", None))
    assert list(db.rows(Article)) == [1]


def test_a_bulk_insert_is_stamped_validated_and_audited_with_its_keys(db: Any) -> None:
    records: list[Any] = []
    Article = article_model(
        db,
        "timestamp",
        timestamp={"clock": fixed},
        audit={"sink": records.append},
        validation={"fields": {"title": {"min_length": 1}}},
    )
    with db.session() as session:
        session.execute(insert(Article), [{"title": "x"}, {"title": "y"}])
        session.commit()
        with pytest.raises(ValidationFailed, match=r"\[1\]\.title"):
            session.execute(insert(Article), [{"title": "ok"}, {"title": ""}])
        session.rollback()
    rows = db.rows(Article)
    assert [r["title"] for r in rows.values()] == ["x", "y"]
    assert all(r["created_at"] is not None for r in rows.values())
    assert [(r.action, r.id, r.changes["title"]) for r in records] == [
        ("create", 1, (None, "x")),
        ("create", 2, (None, "y")),
    ]


def test_a_single_row_insert_with_values(db: Any) -> None:
    Article = article_model(db, "timestamp", timestamp={"clock": fixed})
    with db.session() as session:
        session.execute(insert(Article).values(title="one"))
        session.commit()
        (row,) = session.execute(select(Article.title, Article.created_at)).all()
    assert row[0] == "one" and row[1] is not None


def test_loaded_objects_follow_a_bulk_update_by_default(db: Any) -> None:
    Article = seeded(db, "timestamp", timestamp={"clock": fixed})
    with db.session() as session:
        a = session.get(Article, 1)
        session.execute(update(Article).where(Article.id == 1).values(views=7))
        assert a.views == 7  # synchronize_session="auto", as without plugins
        assert a.updated_at.replace(tzinfo=UTC) == fixed()


def test_vetoed_bulk_statements_write_nothing_and_count_nothing(db: Any) -> None:
    from earnorm_aop import PluginRegistry, hook, plugin

    reg = PluginRegistry()

    @plugin("frozen", registry=reg)
    class Frozen:
        @hook("before:update_many|delete_many|save_many")
        def refuse(self) -> bool:
            return False

    Article = seeded(db, "frozen", registry=reg)
    db.statements.clear()
    with db.session() as session:
        assert session.execute(update(Article).values(views=9)).rowcount == 0
        assert session.execute(delete(Article)).rowcount == 0
        assert session.execute(insert(Article), [{"title": "new"}]).rowcount == 0
        session.commit()
    assert db.writes() == [] or all(w.upper().startswith("COMMIT") for w in db.writes())
    assert [r["views"] for r in db.rows(Article).values()] == [1, 2]


def test_save_many_advice_gets_new_instances_of_the_model(db: Any) -> None:
    from earnorm_aop import PluginRegistry, hook, plugin

    reg = PluginRegistry()
    seen: list[Any] = []

    @plugin("look", registry=reg)
    class Look:
        @hook("after:save_many")
        def each(self, instance: Any, changes: dict[str, Any]) -> None:
            seen.append((type(instance), instance.id, instance.title, changes["title"]))

    Article = article_model(db, "look", registry=reg)
    with db.session() as session:
        session.execute(insert(Article), [{"title": "x"}, {"title": "y"}])
        session.commit()
        assert session.scalars(select(Article.title)).all() == ["x", "y"]
    assert seen == [(Article, 1, "x", (None, "x")), (Article, 2, "y", (None, "y"))]
