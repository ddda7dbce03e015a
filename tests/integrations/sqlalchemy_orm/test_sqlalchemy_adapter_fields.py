"""The SQLAlchemy adapter's field answers off the usual path: an unmapped class, a field it has.

An unmapped class is answered as the base adapter answers a plain class; a
field the model has already is not added again; a column ``add_field`` gave
cannot be taken back once mapped (SQLAlchemy cannot un-map an attribute), and
that is not an error; watching loads twice listens once.
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("sqlalchemy")

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from earnorm_aop.adapters.base import FieldSpec
from earnorm_aop.integrations.sqlalchemy.adapter import SQLAlchemyAdapter, _loaded


def _model() -> type:
    class Base(DeclarativeBase):
        pass

    class Item(Base):
        __tablename__ = "item"
        id: Mapped[int] = mapped_column(primary_key=True)
        title: Mapped[str] = mapped_column(sa.String(20), default="")

    return Item


def test_an_unmapped_class_is_answered_as_a_plain_class() -> None:
    class Plain:
        title: str
        views: int

    adapter = SQLAlchemyAdapter()
    assert adapter.field_names(Plain) == ["title", "views"]
    assert adapter.field_aliases(Plain, "title") == {"title"}


def test_a_field_the_model_has_is_not_added_again() -> None:
    Item = _model()
    column = vars(Item)["title"]
    SQLAlchemyAdapter().add_field(Item, FieldSpec("title", int, 0))
    assert vars(Item)["title"] is column


def test_a_mapped_column_stays_when_taken_back_and_an_absent_one_is_left_alone() -> None:
    Item = _model()
    adapter = SQLAlchemyAdapter()
    adapter.add_field(Item, FieldSpec("rank", int, 0))
    assert "rank" in adapter.field_names(Item)
    adapter.remove_field(Item, FieldSpec("rank", int, 0))  # SQLAlchemy cannot un-map it
    assert "rank" in adapter.field_names(Item)
    adapter.remove_field(Item, FieldSpec("never_added", int, 0))  # nothing to take back
    assert "never_added" not in adapter.field_names(Item)


def test_watching_loads_twice_listens_once() -> None:
    Item = _model()
    adapter = SQLAlchemyAdapter()
    seen: list[Any] = []
    assert adapter.watch_loads(Item, seen.append) is True
    assert adapter.watch_loads(Item, seen.append) is True
    assert event.contains(Item, "load", _loaded)
    event.remove(Item, "load", _loaded)
    assert not event.contains(Item, "load", _loaded)  # it was listened to once


def test_a_query_reports_a_load_once_per_object_the_session_holds() -> None:
    """SQLAlchemy's ``load`` event: an object's first load into its session.  A query that
    returns an object the session holds (``populate_existing`` too: a refresh) reports
    nothing again; a new session loads it again (docs/semantics.md, the lifecycle events)."""
    from sqlalchemy.orm import Session

    from earnorm_aop import PluginRegistry, hook, unweave, with_plugins

    Item = _model()
    reg = PluginRegistry(group=None)
    loaded: list[Any] = []

    class Loads:
        @hook("after_access", loads=True)
        def log(self, instance: Any) -> None:
            loaded.append(instance.id)

    reg.register("loads", Loads)
    with_plugins("loads", registry=reg)(Item)
    engine = sa.create_engine("sqlite://")
    Item.metadata.create_all(engine)
    try:
        with Session(engine) as session:
            session.add_all([Item(id=1), Item(id=2)])
            session.commit()
        with Session(engine) as session:
            held = session.scalars(sa.select(Item).order_by(Item.id)).all()
            assert loaded == [1, 2]
            assert session.scalars(sa.select(Item)).all() == held
            refreshed = sa.select(Item).execution_options(populate_existing=True)
            assert session.scalars(refreshed).all() == held
            assert loaded == [1, 2]
        with Session(engine) as session:
            session.scalars(sa.select(Item)).all()
            assert sorted(loaded) == [1, 1, 2, 2]
    finally:
        unweave(Item)
        engine.dispose()
