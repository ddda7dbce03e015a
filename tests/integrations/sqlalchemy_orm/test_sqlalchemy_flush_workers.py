"""The greenlets woven writes run in at flush: made once per thread, reused by later writes.

Issue 18 point 5: making a greenlet, entering it the first time and letting it
die cost more than a one-object save's advice, so a call's greenlet (a worker)
waits in its thread's pool once its call has ended.  Reuse must change nothing
a plugin sees: each call still runs in its own context, errors still reach the
flush, an idle worker keeps nothing alive, and a thread never gets a worker of
another (a greenlet cannot switch across threads).
"""

from __future__ import annotations

import contextvars
import gc
import threading
import weakref
from typing import Any

import greenlet
import pytest
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from earnorm_aop import PluginRegistry, hook, plugin, with_plugins

_LABEL: contextvars.ContextVar[str] = contextvars.ContextVar("flush_workers_label", default="")


def greenlet_spy(seen: list[Any]) -> PluginRegistry:
    """Plugin ``spy``: records the greenlet each save runs in, before and after the SQL."""
    reg = PluginRegistry()

    @plugin("spy", registry=reg)
    class Spy:
        @hook("around:save")
        def around(self, instance: Any, proceed: Any) -> Any:
            running = greenlet.getcurrent()
            label = _LABEL.get()
            _LABEL.set(f"set by {instance.title}")  # stays in this call's context
            result = proceed()
            assert greenlet.getcurrent() is running  # resumed in the greenlet it paused in
            seen.append((instance.title, running, label, _LABEL.get()))
            return result

        @hook("after:save")
        def fail(self, instance: Any) -> None:
            if instance.title == "boom":
                raise RuntimeError("after advice failed")

    return reg


def article_model(db: Any, registry: PluginRegistry) -> Any:
    class Article(db.Base):
        __tablename__ = "article"
        id: Mapped[int] = mapped_column(primary_key=True)
        title: Mapped[str] = mapped_column(String(50), default="")

    with_plugins("spy", registry=registry)(Article)
    db.create()
    return Article


def test_the_next_flush_runs_its_writes_in_the_greenlets_of_the_last(db: Any) -> None:
    seen: list[Any] = []
    Article = article_model(db, greenlet_spy(seen))
    with db.session() as session:
        session.add_all([Article(title=f"a{i}") for i in range(3)])
        session.commit()
        first = {running for _, running, _, _ in seen}
        assert len(first) == 3  # paused together: one greenlet each
        seen.clear()
        session.add_all([Article(title=f"b{i}") for i in range(3)])
        session.commit()
    assert {running for _, running, _, _ in seen} == first
    # Each call began in a fresh copy of the flush's context: nothing a previous
    # call of the same greenlet set is seen.
    assert [(title, label, after) for title, _, label, after in seen] == [
        (f"b{i}", "", f"set by b{i}") for i in range(3)
    ]
    assert _LABEL.get() == ""  # nor does it leak into the flush's caller


def test_a_failing_call_still_fails_the_flush_and_its_greenlet_is_reused(db: Any) -> None:
    seen: list[Any] = []
    Article = article_model(db, greenlet_spy(seen))
    with db.session() as session:
        session.add(Article(title="boom"))
        with pytest.raises(RuntimeError, match="after advice failed"):
            session.commit()
        session.rollback()
        failed = seen[-1][1]
        session.add(Article(title="fine"))
        session.commit()
    assert seen[-1][0] == "fine"
    assert seen[-1][1] is failed
    assert [row["title"] for row in db.rows(Article).values()] == ["fine"]


def test_an_idle_greenlet_keeps_no_object_or_session_alive(db: Any) -> None:
    seen: list[Any] = []
    Article = article_model(db, greenlet_spy(seen))
    session = db.session()
    obj = Article(title="gone")
    session.add(obj)
    session.commit()
    refs = [weakref.ref(obj), weakref.ref(session)]
    seen.clear()  # the spy's own references
    session.close()
    del obj, session
    gc.collect()
    assert [ref() for ref in refs] == [None, None]


def test_each_thread_runs_its_writes_in_its_own_greenlets(db: Any) -> None:
    seen: list[Any] = []
    Article = article_model(db, greenlet_spy(seen))
    with db.session() as session:
        session.add(Article(title="main"))
        session.commit()
    errors: list[BaseException] = []

    def other() -> None:
        try:
            with db.session() as session:
                session.add(Article(title="thread"))
                session.commit()
        except BaseException as exc:  # reported below: a thread's error is lost otherwise
            errors.append(exc)

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert errors == []
    (_, main, _, _), (_, in_thread, _, _) = seen
    assert in_thread is not main
    assert sorted(row["title"] for row in db.rows(Article).values()) == ["main", "thread"]


def test_an_idle_greenlet_keeps_nothing_of_a_failed_call(db: Any) -> None:
    """The error of the last call (its traceback holds the call's frames) goes with it."""
    seen: list[Any] = []
    Article = article_model(db, greenlet_spy(seen))
    session = db.session()
    obj = Article(title="boom")
    session.add(obj)
    with pytest.raises(RuntimeError, match="after advice failed"):
        session.commit()
    session.rollback()
    refs = [weakref.ref(obj), weakref.ref(session)]
    seen.clear()
    session.close()
    del obj, session
    gc.collect()
    assert [ref() for ref in refs] == [None, None]


def test_a_full_pool_lets_the_extra_worker_end(db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """More writes in one flush than the pool keeps: each runs, the pool stays at its size."""
    from earnorm_aop.integrations.sqlalchemy import workers

    monkeypatch.setattr(workers, "POOL_SIZE", 2)
    monkeypatch.setattr(workers.pools, "idle", [], raising=False)
    seen: list[Any] = []
    Article = article_model(db, greenlet_spy(seen))
    with db.session() as session:
        session.add_all([Article(title=f"t{i}") for i in range(5)])
        session.commit()
        assert sorted(title for title, *_ in seen) == [f"t{i}" for i in range(5)]
        assert len({running for _, running, *_ in seen}) == 5  # paused together: five workers
        assert len(workers.pools.idle) == 2
        assert session.query(Article).count() == 5
