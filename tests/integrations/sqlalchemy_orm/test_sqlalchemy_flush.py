"""Instance writes at flush: before / around / after keep their meaning across the flush."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import ForeignKey, String, UniqueConstraint, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from earnorm_aop import PluginRegistry, explain, hook, plugin, trace, unweave, with_plugins
from earnorm_aop.integrations import adapter_for
from earnorm_aop.integrations.sqlalchemy import SQLAlchemyAdapter
from earnorm_aop.plugins.validation import ValidationFailed


def spy_registry(log: list[Any]) -> PluginRegistry:
    """A registry with plugin ``spy`` recording each phase of save and delete."""
    reg = PluginRegistry()

    @plugin("spy", registry=reg)
    class Spy:
        @hook("before:save|delete")
        def before(self, instance: Any, method: str) -> None:
            log.append(("before", method, instance.title, inspect(instance).key is not None))

        @hook("around:save|delete")
        def around(self, instance: Any, method: str, proceed: Any) -> Any:
            log.append(("around-in", method, instance.title))
            result = proceed()
            log.append(("around-out", method, instance.title, instance.id))
            return result

        @hook("after:save|delete")
        def after(self, instance: Any, method: str) -> None:
            log.append(("after", method, instance.title, instance.id))

        @hook("error:save")
        def error(self, instance: Any, error: BaseException) -> None:
            log.append(("error", instance.title, type(error).__name__))

    return reg


def article_model(db: Any, *plugins: str, registry: Any = None, **configured: Any) -> Any:
    class Article(db.Base):
        __tablename__ = "article"
        __table_args__ = (UniqueConstraint("title"),)
        id: Mapped[int] = mapped_column(primary_key=True)
        title: Mapped[str] = mapped_column(String(50), default="")
        views: Mapped[int] = mapped_column(default=0)

    with_plugins(*plugins, registry=registry, **configured)(Article)
    db.create()
    return Article


def test_the_adapter_handles_mapped_classes_only(db: Any) -> None:
    Article = article_model(db)
    assert isinstance(adapter_for(Article), SQLAlchemyAdapter)
    assert not adapter_for(Article).handles(type("Plain", (), {}))


def test_after_advice_runs_after_the_insert_with_the_key(db: Any) -> None:
    log: list[Any] = []
    Article = article_model(db, "spy", registry=spy_registry(log))
    with db.session() as session:
        session.add(Article(title="a"))
        assert log == []  # nothing happens before the flush
        session.flush()
    assert log == [
        ("before", "_earnorm_save", "a", False),
        ("around-in", "_earnorm_save", "a"),
        ("around-out", "_earnorm_save", "a", 1),
        ("after", "_earnorm_save", "a", 1),
    ]


def test_before_runs_before_the_sql_and_after_after_it(db: Any) -> None:
    seen: list[tuple[str, int]] = []
    reg = PluginRegistry()

    @plugin("count", registry=reg)
    class Count:
        @hook("before:save")
        def before(self) -> None:
            seen.append(("before", len(db.writes())))

        @hook("after:save")
        def after(self) -> None:
            seen.append(("after", len(db.writes())))

    Article = article_model(db, "count", registry=reg)
    db.statements.clear()
    with db.session() as session:
        session.add(Article(title="a"))
        session.flush()
    assert seen == [("before", 0), ("after", 1)]


def test_only_modified_objects_are_saved(db: Any) -> None:
    log: list[Any] = []
    Article = article_model(db, "spy", registry=spy_registry(log))
    with db.session() as session:
        a, b = Article(title="a"), Article(title="b")
        session.add_all([a, b])
        session.commit()
        log.clear()
        a.title = "a2"
        b.title = b.title  # set to the same value: SQLAlchemy writes nothing
        session.commit()
    assert [e for e in log if e[0] == "after"] == [("after", "_earnorm_save", "a2", 1)]


def test_a_vetoed_insert_is_not_written_and_the_object_leaves_the_session(db: Any) -> None:
    reg = PluginRegistry()

    @plugin("refuse", registry=reg)
    class Refuse:
        @hook("before:save")
        def before(self, instance: Any) -> bool:
            return instance.title != "no"

    Article = article_model(db, "refuse", registry=reg)
    with db.session() as session:
        no, yes = Article(title="no"), Article(title="yes")
        session.add_all([no, yes])
        session.commit()
        assert no not in session and inspect(no).transient
    assert [r["title"] for r in db.rows(Article).values()] == ["yes"]


def test_a_vetoed_update_keeps_the_row_and_the_loaded_value(db: Any) -> None:
    reg = PluginRegistry()

    @plugin("freeze", registry=reg)
    class Freeze:
        @hook("around:save")
        def around(self, instance: Any, proceed: Any) -> Any:
            if instance.title == "frozen-change":
                return None  # never proceeds: the write is taken out of the flush
            return proceed()

    Article = article_model(db, "freeze", registry=reg)
    with db.session() as session:
        a = Article(title="a")
        session.add(a)
        session.commit()
        a.title = "frozen-change"
        a.views = 3
        session.commit()
        assert (a.title, a.views) == ("a", 0)
    assert db.rows(Article)[a.id]["title"] == "a"


def test_a_vetoed_delete_keeps_the_object(db: Any) -> None:
    reg = PluginRegistry()

    @plugin("keep", registry=reg)
    class Keep:
        @hook("before:delete")
        def before(self) -> bool:
            return False

    Article = article_model(db, "keep", registry=reg)
    with db.session() as session:
        a = Article(title="a")
        session.add(a)
        session.commit()
        session.delete(a)
        session.commit()
        assert a in session and not inspect(a).deleted
        pk = a.id
    assert list(db.rows(Article)) == [pk]


def test_a_failed_flush_reaches_error_advice_and_not_after(db: Any) -> None:
    log: list[Any] = []
    Article = article_model(db, "spy", registry=spy_registry(log))
    with db.session() as session:
        session.add(Article(title="same"))
        session.commit()
        log.clear()
        session.add(Article(title="same"))
        with pytest.raises(IntegrityError):
            session.commit()
        session.rollback()
    assert ("error", "same", "IntegrityError") in log
    assert not any(e[0] in ("after", "around-out") for e in log)
    assert len(db.rows(Article)) == 1


def test_validation_refuses_the_whole_flush_and_writes_nothing(db: Any) -> None:
    Article = article_model(db, validation={"fields": {"title": {"min_length": 2}}})
    db.statements.clear()
    with db.session() as session:
        session.add_all([Article(title="fine"), Article(title="x")])
        with pytest.raises(ValidationFailed, match="title: must have at least 2"):
            session.commit()
        session.rollback()
    assert db.writes() == [] or all(w.upper().startswith("ROLLBACK") for w in db.writes())
    assert db.rows(Article) == {}


def test_validation_sees_the_column_defaults_of_a_new_object(db: Any) -> None:
    seen: list[Any] = []

    def is_valid(self: Any) -> bool:
        seen.append((self.title, self.views))
        return True

    Article = article_model(db)
    Article.is_valid = is_valid
    with_plugins("validation")(Article)
    with db.session() as session:
        session.add(Article())
        session.commit()
    assert seen == [("", 0)]


def test_trace_explain_toggle_and_unweave(db: Any) -> None:
    log: list[Any] = []
    reg = spy_registry(log)
    Article = article_model(db, "spy", registry=reg)
    assert "Article._earnorm_save)" in explain(Article)
    with trace() as t, db.session() as session:
        session.add(Article(title="a"))
        session.commit()
    assert {(r.plugin, r.kind, r.method) for r in t} >= {
        ("spy", "before", "_earnorm_save"),
        ("spy", "after", "_earnorm_save"),
    }
    with reg.disabled("spy"), db.session() as session:
        log.clear()
        session.add(Article(title="b"))
        session.commit()
    assert log == []
    unweave(Article, "spy")
    assert type(vars(Article)["_earnorm_save"]).__name__ == "function"
    with db.session() as session:
        session.add(Article(title="c"))
        session.commit()
    assert log == []


def test_timestamp_audit_and_softdelete_on_one_flush(db: Any) -> None:
    records: list[Any] = []
    Article = article_model(db, "timestamp", "softdelete", audit={"sink": records.append})
    with db.session(expire_on_commit=False) as session:
        a, b = Article(title="a"), Article(title="b")
        session.add_all([a, b])
        session.flush()
        assert a.created_at is not None and a.created_at == a.updated_at
        session.delete(b)
        a.views = 2
        session.commit()
    assert [(r.action, r.id) for r in records] == [
        ("create", a.id),
        ("create", b.id),
        ("update", a.id),
        ("soft_delete", b.id),
    ]
    assert records[2].changes["views"] == (0, 2)
    rows = db.rows(Article)
    assert rows[b.id]["deleted_at"] is not None and rows[a.id]["deleted_at"] is None


def test_relationship_children_are_woven_per_model(db: Any) -> None:
    log: list[Any] = []

    class Author(db.Base):
        __tablename__ = "author"
        id: Mapped[int] = mapped_column(primary_key=True)
        title: Mapped[str] = mapped_column(default="")

    class Book(db.Base):
        __tablename__ = "book"
        id: Mapped[int] = mapped_column(primary_key=True)
        title: Mapped[str] = mapped_column(default="")
        author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))

    with_plugins("spy", registry=spy_registry(log))(Book)
    db.create()
    with db.session() as session:
        author = Author(title="x")
        session.add(author)
        session.flush()
        session.add(Book(title="b", author_id=author.id))
        session.commit()
        assert session.scalars(select(Book)).one().title == "b"
    assert {e[2] for e in log} == {"b"}  # only Book's writes were advised


@pytest.mark.filterwarnings("ignore:Session's state has been changed on a non-active")
def test_a_flush_that_never_writes_ends_its_calls_with_an_error(db: Any) -> None:
    """After a failed flush the session refuses to flush until rolled back: nothing written."""
    log: list[Any] = []
    Article = article_model(db, "spy", registry=spy_registry(log))
    with db.session() as session:
        session.add(Article(title="same"))
        session.commit()
        session.add(Article(title="same"))
        with pytest.raises(IntegrityError):
            session.flush()
        log.clear()
        session.add(Article(title="other"))
        with pytest.raises(Exception, match="rolled back"):
            session.flush()  # before_flush ran; SQLAlchemy then refuses to begin
        assert ("around-in", "_earnorm_save", "other") in log
        session.rollback()
    assert ("error", "other", "FlushError") in log
    assert not any(e[0] in ("after", "around-out") and e[2] == "other" for e in log)
    assert [r["title"] for r in db.rows(Article).values()] == ["same"]


@pytest.mark.filterwarnings("ignore:The `objects` parameter of `Session.flush` is deprecated")
def test_flush_of_some_objects_advises_those_only(db: Any) -> None:
    """``Session.flush(objects)`` (deprecated, still there) writes and advises those only."""
    log: list[Any] = []
    Article = article_model(db, "spy", registry=spy_registry(log))
    with db.session() as session:
        a, b = Article(title="a"), Article(title="b")
        session.add_all([a, b])
        session.flush([a])
        assert {e[2] for e in log} == {"a"} and b in session.new
        session.commit()
    assert [e[2] for e in log if e[0] == "after"] == ["a", "b"]


def test_conditions_compare_with_the_state_before_the_flush(db: Any) -> None:
    """SQLAlchemy replaces the committed state at the flush; after advice still sees the write."""
    reg = PluginRegistry()
    seen: list[Any] = []

    @plugin("publish", registry=reg)
    class Publish:
        @hook("after:save", when="title", was="draft", is_now="published")
        def published(self, instance: Any, changes: dict[str, Any]) -> None:
            seen.append((instance.id, changes["title"]))

    Article = article_model(db, "publish", registry=reg)
    with db.session() as session:
        a = Article(title="draft")
        session.add(a)
        session.commit()
        a.title = "published"  # expired by the commit: the old value is read from the row
        session.commit()
        a.title = "draft"
        session.commit()
    assert seen == [(1, ("draft", "published"))]


def test_a_changed_loaded_value_is_known_without_reading_the_row_again(db: Any) -> None:
    """The old value of a changed attribute is the session's history: no SELECT at flush.

    Even when the row changed since it was loaded (another connection wrote),
    the record's old value is the one this session loaded and replaced.
    """
    from sqlalchemy import text

    records: list[Any] = []
    Article = article_model(db, audit={"sink": records.append})
    with db.session(expire_on_commit=False) as session:
        session.add(Article(title="a", views=1))
        session.commit()
    with db.session(expire_on_commit=False) as session:
        article = session.scalars(select(Article)).one()
        with db.engine.begin() as other:
            other.execute(text("UPDATE article SET title = 'elsewhere'"))
        article.title = "b"
        db.statements.clear()
        session.commit()
    assert records[-1].changes == {"title": ("a", "b")}
    assert not [s for s in db.statements if s.upper().startswith("SELECT")]
