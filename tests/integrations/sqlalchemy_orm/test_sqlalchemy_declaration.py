"""Declaring plugins on SQLAlchemy models: PluginModel, with_plugins, contributed columns."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import DateTime, Integer, inspect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from earnorm_aop import PluginError, with_plugins
from earnorm_aop.integrations import FieldSpec, adapter_for
from earnorm_aop.integrations.sqlalchemy import PluginModel, sqlalchemy_column
from earnorm_aop.integrations.sqlalchemy.fields import AwareDateTime


def test_plugin_model_adds_columns_before_mapping(db: Any) -> None:
    class Base(PluginModel, DeclarativeBase):
        pass

    class Article(Base):
        __tablename__ = "article"
        plugins = ("timestamp", "softdelete")
        id: Mapped[int] = mapped_column(primary_key=True)

    table = Article.__table__  # type: ignore[attr-defined]
    assert {"created_at", "updated_at", "deleted_at"} <= set(table.c.keys())
    assert any(i.columns.keys() == ["deleted_at"] for i in table.indexes)
    assert {"created_at", "deleted_at"} <= set(inspect(Article).column_attrs.keys())
    assert callable(Article.restore)  # type: ignore[attr-defined]
    Base.metadata.create_all(db.engine)
    with db.session() as session:
        article = Article()
        session.add(article)
        session.commit()
        assert article.created_at is not None  # type: ignore[attr-defined]


def test_plugin_model_subclass_inherits_and_adds(db: Any) -> None:
    class Base(PluginModel, DeclarativeBase):
        pass

    class Thing(Base):
        __tablename__ = "thing"
        plugins = {"softdelete": {"field": "removed_on"}}  # noqa: RUF012
        id: Mapped[int] = mapped_column(primary_key=True)
        kind: Mapped[str] = mapped_column(default="")
        __mapper_args__ = {"polymorphic_on": "kind", "polymorphic_identity": "thing"}  # noqa: RUF012

    class Special(Thing):
        plugins = ("timestamp",)
        __mapper_args__ = {"polymorphic_identity": "special"}  # noqa: RUF012

    assert "removed_on" in Thing.__table__.c  # type: ignore[attr-defined]
    assert "updated_at" in inspect(Special).column_attrs
    assert {a.name for a in _aspects(Special)} >= {"softdelete", "timestamp"}


def _aspects(model: type) -> list[Any]:
    from earnorm_aop.weaving import weaver

    return list(weaver.effective_aspects(model))


def test_with_plugins_after_mapping_adds_columns_create_all_sees(db: Any) -> None:
    class Article(db.Base):
        __tablename__ = "article"
        id: Mapped[int] = mapped_column(primary_key=True)

    with_plugins("softdelete")(Article)
    kind = Article.__table__.c.deleted_at.type
    assert isinstance(kind, AwareDateTime) and isinstance(kind.impl, DateTime)
    db.create()
    with db.session() as session:
        article = Article()
        session.add(article)
        session.commit()
        assert db.rows(Article)[1]["deleted_at"] is None
        session.delete(article)
        session.commit()
    # Read back aware (UTC) on every database, SQLite included.
    assert db.rows(Article)[1]["deleted_at"].utcoffset() == timedelta(0)


def test_field_specs_map_to_column_types_and_bad_ones_say_what_works() -> None:
    column = sqlalchemy_column(FieldSpec("n", int | None, None, index=True))
    assert isinstance(column.column.type, Integer) and column.column.nullable
    assert column.column.index
    stamp = sqlalchemy_column(FieldSpec("at", datetime, datetime(2024, 1, 1)))
    assert isinstance(stamp.column.type, AwareDateTime) and not stamp.column.nullable
    with pytest.raises(PluginError, match=r"field 'x' on M: no SQLAlchemy column type .*Numeric"):
        sqlalchemy_column(FieldSpec("x", complex), "M")


def test_the_adapter_is_found_without_importing_it() -> None:
    code = (
        "import sys, earnorm_aop\n"
        "assert 'sqlalchemy' not in sys.modules, 'earnorm_aop imported SQLAlchemy'\n"
        "from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column\n"
        "class Base(DeclarativeBase): pass\n"
        "class A(Base):\n"
        "    __tablename__ = 'a'\n"
        "    id: Mapped[int] = mapped_column(primary_key=True)\n"
        "earnorm_aop.with_plugins('softdelete')(A)\n"
        "from earnorm_aop.integrations import adapter_for\n"
        "print(adapter_for(A).name, 'deleted_at' in A.__table__.c)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["sqlalchemy", "True"]


def test_snapshot_and_loaded_state_come_from_sqlalchemys_own_tracking(db: Any) -> None:
    class Article(db.Base):
        __tablename__ = "article"
        id: Mapped[int] = mapped_column(primary_key=True)
        title: Mapped[str] = mapped_column(default="")

    with_plugins("audit")(Article)
    db.create()
    adapter = adapter_for(Article)
    with db.session() as session:
        a = Article(title="a")
        assert adapter.loaded_state(a) is None  # new: being created
        session.add(a)
        session.commit()
        a.title = "b"  # expired by the commit: set without loading the old value
        assert adapter.loaded_state(a) == {"id": 1, "title": "a"}  # read from the row
        assert adapter.snapshot(a) == {"title": "b"}  # never loads what is not loaded
        session.flush()
        a.title = "c"
        assert adapter.loaded_state(a) == {"id": 1, "title": "b"}
        assert adapter.snapshot(a) == {"id": 1, "title": "c"}


def test_audit_after_a_commit_expired_the_object(db: Any) -> None:
    records: list[Any] = []

    class Article(db.Base):
        __tablename__ = "article"
        id: Mapped[int] = mapped_column(primary_key=True)
        title: Mapped[str] = mapped_column(default="")

    with_plugins(audit={"sink": records.append})(Article)
    db.create()
    with db.session() as session:
        a = Article(title="a")
        session.add(a)
        session.commit()
        a.title = "b"
        session.commit()
    assert records[-1].changes == {"title": ("a", "b")}


def test_the_tests_run_on_the_database_asked_for(db: Any) -> None:
    import os

    asked = os.environ.get("EARNORM_AOP_TEST_DB", "sqlite").strip().lower() or "sqlite"
    assert db.dialect == {"sqlite": "sqlite", "postgres": "postgresql"}[asked]
