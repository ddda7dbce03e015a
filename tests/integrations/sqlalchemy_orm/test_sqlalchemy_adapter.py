"""The SQLAlchemy adapter's answers that the built-ins act on, beyond the flush.

- ``native`` validation: what the column definitions state (NOT NULL without a
  default, the Python type, a String's length), checked before the flush;
- a bulk update whose value is an expression on a constrained field is checked
  by its result per row (one SELECT evaluates it), before anything is written;
- a plugin's save or delete of an object in no session, and an audit record
  with no session writing, are refused with what to do;
- rows of a bulk insert given as dicts are read and written as such.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import String, select, update
from sqlalchemy.orm import Mapped, mapped_column

from earnorm_aop import with_plugins
from earnorm_aop.errors import PluginError
from earnorm_aop.integrations import adapter_for
from earnorm_aop.plugins.audit_store import audit_store
from earnorm_aop.plugins.validation import ValidationFailed


def _model(db: Any, **plugins: Any) -> Any:
    class Article(db.Base):
        __tablename__ = "article"
        id: Mapped[int] = mapped_column(primary_key=True)
        title: Mapped[str] = mapped_column(String(5))
        views: Mapped[int] = mapped_column(default=0)
        score: Mapped[float | None] = mapped_column(default=None)

    with_plugins(**plugins)(Article)
    db.create()
    return Article


def test_native_validation_reports_what_the_columns_state(db: Any) -> None:
    Article = _model(db, validation={"native": True})
    with db.session() as session:
        session.add(Article(title="too long", views="many", score=1))  # an int is a fine float
        with pytest.raises(ValidationFailed) as refused:
            session.flush()
        session.rollback()
    assert refused.value.errors == {
        "title": ["must have at most 5 characters"],
        "views": ["must be int, not str"],
    }
    with db.session() as session:
        session.add(Article(title=None, views=True))
        with pytest.raises(ValidationFailed) as refused:
            session.flush()
        session.rollback()
    assert refused.value.errors == {
        "title": ["cannot be null"],
        "views": ["must be int, not bool"],
    }
    with db.session() as session:
        session.add(Article(title="ok", views=2))
        session.commit()
    assert [r["title"] for r in db.rows(Article).values()] == ["ok"]


def test_an_expression_on_a_constrained_field_is_checked_per_row_before_writing(db: Any) -> None:
    Article = _model(db, validation={"fields": {"views": {"le": 5}}})
    with db.session() as session:
        session.add_all([Article(title="a", views=1), Article(title="b", views=4)])
        session.commit()
        session.execute(update(Article).values(views=Article.views + 1))  # 2 and 5: fine
        session.commit()
        with pytest.raises(ValidationFailed, match="less than or equal to 5"):
            session.execute(update(Article).values(views=Article.views + 1))  # 6: refused
        session.rollback()
    assert sorted(r["views"] for r in db.rows(Article).values()) == [2, 5]


def test_writes_of_an_object_in_no_session_are_refused_with_the_fix(db: Any) -> None:
    Article = _model(db)
    adapter = adapter_for(Article)
    loose = Article(title="a")
    with pytest.raises(PluginError, match=r"in no session; session.add\(\) it first"):
        adapter.save_instance(loose)
    with pytest.raises(PluginError, match="deleted by its session's flush"):
        adapter.delete_instance(loose)
    with pytest.raises(PluginError, match="no session is writing now"):
        audit_store(adapter).write_audit_record(Article, {"model": "x"})


def test_rows_given_as_dicts_are_read_and_written_as_dicts(db: Any) -> None:
    Article = _model(db)
    adapter = adapter_for(Article)
    row = {"id": 3, "title": "a"}
    assert adapter.pk(row) == 3 and adapter.get_field(row, "title") == "a"
    adapter.set_field(row, "views", 2)
    assert adapter.snapshot(row) == {"id": 3, "title": "a", "views": 2}
    assert adapter.current_value(row, "views") == 2
    assert repr(adapter.current_value(row, "score")) == "UNKNOWN"


def test_a_bulk_writes_rows_are_a_rowset_advice_can_read_narrow_and_select(db: Any) -> None:
    """``update(M)`` / ``delete(M)`` advice gets a RowSet: the matched rows, read when asked."""
    from sqlalchemy import delete

    from earnorm_aop import PluginRegistry, hook, plugin

    seen: list[Any] = []
    registry = PluginRegistry()

    @plugin("look", registry=registry)
    class Look:
        @hook("before:update_many|delete_many")
        def look(self, instance: Any, model: Any, method: str) -> None:
            adapter = adapter_for(model)
            seen.append((method, sorted(r.title for r in instance)))
            seen.append(("pks", sorted(adapter.pks(instance))))
            seen.append(("fetch", sorted(r.views for r in adapter.fetch(instance))))
            seen.append(("none", [r.title for r in instance.filter(score=None)]))
            seen.append(("a", [r.title for r in adapter.filter(instance, title="a")]))
            selected = instance.session.scalars(instance.select()).all()
            seen.append(("select", sorted(r.title for r in selected)))

    Article = _model(db)
    with_plugins("look", registry=registry)(Article)
    with db.session() as session:
        session.add_all([Article(title="a", views=1), Article(title="b", views=2, score=0.5)])
        session.commit()
        session.execute(update(Article).where(Article.views < 5).values(views=3))
        session.execute(delete(Article).where(Article.title == "b"))
        session.commit()
    assert seen == [
        ("_earnorm_update_many", ["a", "b"]),
        ("pks", [1, 2]),
        ("fetch", [1, 2]),
        ("none", ["a"]),
        ("a", ["a"]),
        ("select", ["a", "b"]),
        ("_earnorm_delete_many", ["b"]),
        ("pks", [2]),
        ("fetch", [3]),
        ("none", []),
        ("a", []),
        ("select", ["b"]),
    ]


def test_every_shape_of_insert_and_update_is_read_by_attribute_name(db: Any) -> None:
    """Rows by attribute, by column name (``headline`` is ``title``), many ``values()`` at once."""
    from sqlalchemy import insert

    records: list[Any] = []

    class Story(db.Base):
        __tablename__ = "story"
        id: Mapped[int] = mapped_column(primary_key=True)
        title: Mapped[str] = mapped_column("headline", String(20), default="")
        views: Mapped[int] = mapped_column(default=0)

    with_plugins(audit={"sink": records.append})(Story)
    db.create()
    with db.session() as session:
        session.execute(insert(Story), {"title": "single"})
        session.execute(insert(Story).values([{"title": "m1"}, {"title": "m2", "views": 2}]))
        session.execute(insert(Story).values({Story.__table__.c.headline: "by column"}))
        session.execute(insert(Story).values({"headline": "by column name"}))
        # SQLAlchemy synchronizes a string key back by attribute name only, so a key
        # spelled as the column name runs unsynchronized (the next test: the same refusal
        # as an unplugged model otherwise).
        keyed_by_column = update(Story).where(Story.id == 1).values({"headline": "renamed"})
        session.execute(keyed_by_column.execution_options(synchronize_session=False))
        session.commit()
    created = [(r.action, r.changes["title"][1]) for r in records if r.action == "create"]
    assert created == [
        ("create", "single"),
        ("create", "m1"),
        ("create", "m2"),
        ("create", "by column"),
        ("create", "by column name"),
    ]
    (updated,) = [r for r in records if r.action == "update"]
    assert updated.changes == {"title": ("single", "renamed")}


def test_an_update_keyed_by_column_name_is_refused_as_sqlalchemy_refuses_it(db: Any) -> None:
    """The user's statement is kept: plugged or not, the synchronize step says the same."""
    from sqlalchemy import insert
    from sqlalchemy.exc import InvalidRequestError

    class PlainStory(db.Base):
        __tablename__ = "plain_story"
        id: Mapped[int] = mapped_column(primary_key=True)
        title: Mapped[str] = mapped_column("headline", String(20), default="")

    class PluggedStory(db.Base):
        __tablename__ = "plugged_story"
        id: Mapped[int] = mapped_column(primary_key=True)
        title: Mapped[str] = mapped_column("headline", String(20), default="")

    plain, plugged = PlainStory, with_plugins(audit={"sink": [].append})(PluggedStory)
    db.create()
    refusals = []
    for model in (plain, plugged):
        with db.session() as session:
            session.execute(insert(model), {"title": "kept"})
            with pytest.raises(InvalidRequestError) as refused:
                session.execute(update(model).where(model.id == 1).values({"headline": "renamed"}))
            refusals.append(str(refused.value))
            session.rollback()
            assert session.scalars(select(model.title)).all() == []
    assert refusals[0] == refusals[1]
    assert "'headline'" in refusals[0]
