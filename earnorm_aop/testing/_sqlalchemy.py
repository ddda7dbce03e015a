"""The ``sqlalchemy`` and ``sqlalchemy-async`` backends: a ``Session`` or an ``AsyncSession``.

``"sqlalchemy-async"`` drives an ``AsyncSession`` on aiosqlite (or psycopg's
async driver on PostgreSQL) from sync checks through a private event loop, so
every statement goes through SQLAlchemy's asyncio layer (greenlets) as in an
async application.

Each ``backend.model(...)`` is a new declarative class on the backend's own
``DeclarativeBase`` (``id``, ``title``, ``views`` and ``fields``), plugins
woven with ``with_plugins`` (columns added after mapping), its table created.
The class gets the record methods the checks call — ``save()`` (``session.add``
and commit), ``delete()`` (``session.delete`` and commit), ``refresh_from_db()``
— which are *not* logical operations on SQLAlchemy: the plugins see the
flush, as they do in an application.  Each write commits, as Django's
autocommit does, except inside
[`SQLAlchemyBackend.transaction`][earnorm_aop.testing._sqlalchemy.SQLAlchemyBackend.transaction],
where writes flush and the block's end commits or rolls back.  The database is SQLite (a file per
backend) unless ``EARNORM_AOP_TEST_DB=postgres``.
"""

from __future__ import annotations

import asyncio
import atexit
import itertools
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from inspect import CORO_CREATED, getcoroutinestate
from pathlib import Path
from typing import Any

from ..adapters.base import FieldSpec
from ..plugin_system.model import with_plugins
from ..plugin_system.registry import PluginRegistry
from ..weaving import weaver
from ._base import Backend, Fields, Methods

__all__ = ["SQLAlchemyBackend", "database_url", "drop_database"]

_names = itertools.count(1)


class NotFound(LookupError):
    """``Session.get`` returned ``None`` (what ``backend.get`` raises)."""


_postgres_url: str | None = None


def database_url(asynchronous: bool) -> str:
    """A database for one test: a new SQLite file, or a new database of the private cluster."""
    kind = os.environ.get("EARNORM_AOP_TEST_DB", "sqlite").strip().lower() or "sqlite"
    if kind == "postgres":
        global _postgres_url
        if _postgres_url is None:
            from . import _postgres

            server = _postgres.shared()
            _postgres_url = f"{server.user}@{server.host}:{server.port}/{server.database}"
        driver = "postgresql+psycopg_async" if asynchronous else "postgresql+psycopg"
        return f"{driver}://{_postgres_url}"
    driver = "sqlite+aiosqlite" if asynchronous else "sqlite"
    return f"{driver}:///{_sqlite_folder() / f'test-{next(_files)}.sqlite3'}"


_folder: Path | None = None
_files = itertools.count(1)


def _sqlite_folder() -> Path:
    """This process's folder of SQLite files: one, made on first use, removed at exit.

    (A folder per database left one behind for every test: thousands a run.)
    """
    global _folder
    if _folder is None:
        _folder = Path(tempfile.mkdtemp(prefix="earnorm-sqlalchemy-"))
        atexit.register(shutil.rmtree, _folder, ignore_errors=True)
    return _folder


def drop_database(url: str) -> None:
    """Remove the SQLite file of ``url`` (from
    [`database_url`][earnorm_aop.testing._sqlalchemy.database_url]), its engine disposed."""
    if url.startswith("sqlite") and _folder is not None:
        path = Path(url.split(":///", 1)[1])
        if path.parent == _folder:
            for leftover in (path, path.with_name(path.name + "-journal")):
                leftover.unlink(missing_ok=True)


class SQLAlchemyBackend(Backend):
    """Models on a fresh database, driven through a Session (or an AsyncSession)."""

    NotFound = NotFound
    transactional = True
    saves_unchanged = False
    """SQLAlchemy flushes nothing for an object with no change: no save, nothing recorded."""
    identity_map = True
    """One object per row in a session: two ``get`` of a row return the same object."""
    clears_pk_on_delete = False
    """After a real delete the object keeps its key (Django sets ``pk`` to ``None``)."""

    def __init__(self, asynchronous: bool = False) -> None:
        from sqlalchemy import create_engine, event
        from sqlalchemy.orm import DeclarativeBase, Session

        self.name = "sqlalchemy-async" if asynchronous else "sqlalchemy"
        self.asynchronous = asynchronous
        url = self.url = database_url(asynchronous)
        self._statements: list[list[str]] = []
        self._models: list[Any] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._transactions = 0  # open transaction() blocks: writes flush, the block commits
        if asynchronous:
            from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

            self._loop = asyncio.new_event_loop()
            self.async_engine = create_async_engine(url)
            self.engine = self.async_engine.sync_engine
            self.async_session = AsyncSession(self.async_engine, expire_on_commit=False)
            self.session: Any = self.async_session.sync_session
        else:
            self.engine = create_engine(url)
            self.session = Session(self.engine, expire_on_commit=False)
        event.listen(self.engine, "before_cursor_execute", self._capture)
        if self.engine.dialect.name == "postgresql":
            self._reset_postgres()
        from ..integrations.sqlalchemy import audit_metadata

        self.run(audit_metadata.create_all)

        class Base(DeclarativeBase):
            pass

        self.Base = Base

    def _reset_postgres(self) -> None:
        from sqlalchemy import text

        def reset(connection: Any) -> None:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))

        self.run(reset, transaction=True)

    # -- driving the session ------------------------------------------------------------

    def wait(self, awaitable: Any) -> Any:
        """Run a coroutine of the async session to its end (async backend only).

        Called from inside a session operation (a record's ``save()`` run by a
        plugin inside the delete's flush), the loop is already running it and
        cannot run another: the coroutine is closed unstarted, not left for the
        garbage collector to report as never awaited in whatever test runs
        next, and the error says what happened.
        """
        loop = self._loop
        assert loop is not None
        if loop.is_running():
            awaitable.close()
            raise RuntimeError(
                f"the {self.name} backend cannot run {awaitable.__qualname__}() inside another "
                "session operation (a write made inside a flush); write it after the flush"
            )
        try:
            return loop.run_until_complete(awaitable)
        finally:
            if getcoroutinestate(awaitable) == CORO_CREATED:
                awaitable.close()  # the loop refused it (closed): nothing of it ran

    def commit(self) -> None:
        if self.asynchronous:
            self.wait(self.async_session.commit())
        else:
            self.session.commit()

    def rollback(self) -> None:
        if self.asynchronous:
            self.wait(self.async_session.rollback())
        else:
            self.session.rollback()

    def flush(self) -> None:
        if self.asynchronous:
            self.wait(self.async_session.flush())
        else:
            self.session.flush()

    def execute(self, statement: Any, params: Any = None) -> Any:
        """``session.execute`` (awaited on the async session); a buffered result."""
        if self.asynchronous:
            return self.wait(self.async_session.execute(statement, params))
        return self.session.execute(statement, params)

    def scalars(self, statement: Any) -> list[Any]:
        if self.asynchronous:
            return list(self.wait(self.async_session.scalars(statement)).all())
        return list(self.session.scalars(statement).all())

    def run(self, func: Callable[[Any], Any], *, transaction: bool = False) -> Any:
        """``func(connection)`` on a connection of its own (plugins never see it)."""
        if self.asynchronous:

            async def go() -> Any:
                async with self.async_engine.begin() as conn:
                    return await conn.run_sync(func)

            return self.wait(go())
        with self.engine.begin() as conn:
            return func(conn)

    # -- models -----------------------------------------------------------------------

    def model(
        self,
        *plugins: str,
        fields: Fields | None = None,
        methods: Methods | None = None,
        registry: PluginRegistry | None = None,
        **configured: Any,
    ) -> Any:
        from sqlalchemy import Integer, String
        from sqlalchemy.orm import mapped_column

        from ..integrations.sqlalchemy import sqlalchemy_column

        name = f"SQLAlchemyArticle{next(_names)}"
        backend = self
        body: dict[str, Any] = {
            "__module__": __name__,
            "__qualname__": name,
            "__tablename__": name.lower(),
            "id": mapped_column(Integer, primary_key=True),
            "title": mapped_column(String(200), default=""),
            "views": mapped_column(Integer, default=0),
            "save": lambda obj: backend._save(obj),
            "delete": lambda obj: backend._delete(obj),
            "refresh_from_db": lambda obj: backend._refresh(obj),
            # softdelete's with_deleted() returns a Select (include_deleted=True); the
            # shared tests filter and iterate it as a queryset.
            "with_deleted": classmethod(lambda cls: backend._with_deleted(cls)),
            # A new row never reuses the key of a deleted one (as Django's tables).
            "__table_args__": {"sqlite_autoincrement": True},
            **(methods or {}),
        }
        for field, (annotation, default) in (fields or {}).items():
            body[field] = sqlalchemy_column(FieldSpec(field, annotation, default))
        model = type(name, (self.Base,), body)
        setattr(sys.modules[__name__], name, model)
        self._models.append(model)
        with_plugins(*plugins, registry=registry, **configured)(model)
        for method in ("restore", "hard_delete"):
            # Contributed by softdelete: the write happens at the session's flush; the
            # shared tests expect it committed on return, as Django's autocommit does.
            contributed = vars(model).get(method)
            if contributed is not None and method not in (methods or {}):
                setattr(model, method, _committing(contributed, self))
        self.run(lambda conn: model.__table__.create(conn))  # type: ignore[attr-defined]
        return model

    def close(self) -> None:
        """Unweave the models, close the session and dispose of the engine."""
        try:
            for model in reversed(self._models):
                weaver.unweave(model)
                vars(sys.modules[__name__]).pop(model.__qualname__, None)
            if self.asynchronous:
                self.wait(self.async_session.close())
                self.wait(self.async_engine.dispose())
            else:
                self.session.close()
                self.engine.dispose()
        finally:
            self._models.clear()
            if self._loop is not None:
                self._loop.close()
            drop_database(self.url)

    # -- record methods of the test models -----------------------------------------------

    def _commit_or_roll_back(self) -> None:
        """Commit (flush inside a transaction); on an error roll back, as ``session.begin()``."""
        try:
            if self._transactions:
                self.flush()
            else:
                self.commit()
        except BaseException:
            if not self._transactions:
                self.rollback()
            raise

    def _written(self) -> None:
        """A bulk write is done: commit it, unless a transaction() block will."""
        if not self._transactions:
            self.commit()

    @contextmanager
    def transaction(self, *, rollback: bool = False) -> Iterator[None]:
        self.commit()  # what came before is not part of it
        self._transactions += 1
        try:
            yield
        except BaseException:
            self._transactions -= 1
            self._roll_back_block()
            raise
        self._transactions -= 1
        if rollback:
            self._roll_back_block()
        else:
            self._commit_or_roll_back()

    def _roll_back_block(self) -> None:
        """Roll back; an async session reloads the records the rollback expired.

        They were committed before the block, and an ``AsyncSession`` cannot
        load an expired attribute on access, as a sync one does.
        """
        self.rollback()
        if self.asynchronous:
            for obj in list(self.session.identity_map.values()):
                self.wait(self.async_session.refresh(obj))

    def _save(self, obj: Any) -> None:
        from sqlalchemy import inspect

        self.session.add(obj)
        if self._flushing():
            # Called by advice inside a flush (the page's before_delete saves, then
            # vetoes): the write joins the flush in progress, which commits as it would.
            return
        try:
            self._commit_or_roll_back()
        except BaseException:
            if self.asynchronous and inspect(obj).persistent:
                # The rollback expired it; an async session cannot load on access.
                self.wait(self.async_session.refresh(obj))
            raise

    def _flushing(self) -> bool:
        return bool(self.session._flushing)  # the sync session (an AsyncSession's too)

    def _delete(self, obj: Any) -> None:
        from sqlalchemy import inspect

        if inspect(obj).key is None:
            # What Django says for an unsaved instance (SQLAlchemy: "not persisted").
            raise ValueError(f"{type(obj).__qualname__} is not persisted, so it can't be deleted")
        if self.asynchronous:
            self.wait(self.async_session.delete(obj))
        else:
            self.session.delete(obj)
        try:
            self._commit_or_roll_back()
        except BaseException:
            if self.asynchronous and inspect(obj).persistent:
                # The rollback expired it; an async session cannot load on access.
                self.wait(self.async_session.refresh(obj))
            raise

    def _with_deleted(self, model: type) -> Any:
        from ..adapters.base import adapter_for
        from ..plugins.softdelete import including_deleted

        with including_deleted():
            statement = adapter_for(model).queryset(model)
        return _Query(self, model, statement)

    def _refresh(self, obj: Any) -> None:
        if self.asynchronous:
            self.wait(self.async_session.refresh(obj))
        else:
            self.session.refresh(obj)

    # -- instances ------------------------------------------------------------------------

    def new(self, model: type, **values: Any) -> Any:
        return model(**values)

    def create(self, model: type, **values: Any) -> Any:
        obj = model(**values)
        self._save(obj)
        return obj

    def get(self, model: type, pk: Any) -> Any:
        """``Session.get``; ``NotFound`` for ``None`` (a hidden row is not found)."""
        # Read the row, not the identity map (an object soft-deleted in this session
        # is still in the map; see docs/sqlalchemy.md), as populate_existing=True
        # would, but through the woven get (a refreshing read is never answered by
        # the cache): the session's object is taken out of the map for the read,
        # then put back holding what was read — one object per row, as before.
        session = self.async_session.sync_session if self.asynchronous else self.session
        existing = session.identity_map.get(session.identity_key(model, pk))
        if existing is not None:
            session.expunge(existing)
        try:
            if self.asynchronous:
                found = self.wait(self.async_session.get(model, pk))
            else:
                found = self.session.get(model, pk)
        finally:
            if existing is not None:
                _take_back(session, existing, model, pk)
        if existing is not None and found is not None:
            found = existing
        if found is None:
            raise NotFound(f"{model.__qualname__} {pk!r}")
        return found

    def update(self, obj: Any, **values: Any) -> Any:
        import pytest

        pytest.skip("a SQLAlchemy model has no instance-level update operation (a save is)")

    # -- querysets ------------------------------------------------------------------------

    def queryset(self, model: type) -> Any:
        from sqlalchemy import select

        return _Query(self, model, select(model))

    def query(self, model: type, **conditions: Any) -> Any:
        return self.queryset(model).filter(**conditions)

    def visible(self, model: type) -> list[Any]:
        return sorted(o.id for o in self.queryset(model))

    def bulk_create(self, model: type, objs: Any) -> Any:
        from sqlalchemy import insert

        rows = [dict(o) if isinstance(o, dict) else _values_of(o) for o in objs]
        result = self.execute(insert(model), rows)
        self._written()
        return result

    def bulk_update(self, queryset: Any, **values: Any) -> Any:
        from sqlalchemy import update

        # Like Django's QuerySet.update(), records already loaded are left as they are.
        statement = (
            update(queryset.model)
            .where(*queryset.criteria)
            .values(**values)
            .execution_options(**queryset.statement.get_execution_options())
            .execution_options(synchronize_session=False)
        )
        count = self.execute(statement).rowcount
        self._written()
        return count

    def bulk_delete(self, queryset: Any) -> Any:
        from sqlalchemy import delete

        statement = (
            delete(queryset.model)
            .where(*queryset.criteria)
            .execution_options(**queryset.statement.get_execution_options())
        )
        count = self.execute(statement.execution_options(synchronize_session=False)).rowcount
        self._written()
        return count

    # -- the database underneath -----------------------------------------------------------

    def rows(self, model: Any) -> dict[Any, dict[str, Any]]:
        """Every row by primary key, on a connection of its own after the session committed.

        Inside a [`transaction`][earnorm_aop.testing._sqlalchemy.SQLAlchemyBackend.transaction]
        block: the session's own rows, flushed, uncommitted.
        """
        from sqlalchemy import select

        self.flush()
        table = model.__table__
        if self._transactions:
            found = [dict(r._mapping) for r in self.execute(select(table))]
            return {row["id"]: _aware(row) for row in found}
        self.commit()
        found = self.run(lambda conn: [dict(r._mapping) for r in conn.execute(select(table))])
        return {row["id"]: _aware(row) for row in found}

    def raw_delete(self, model: Any, pk: Any) -> None:
        table = model.__table__
        self.run(lambda conn: conn.execute(table.delete().where(table.c.id == pk)))

    def raw_update(self, model: Any, pk: Any, **values: Any) -> None:
        table = model.__table__
        self.run(lambda conn: conn.execute(table.update().where(table.c.id == pk).values(**values)))

    def _capture(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        for sink in self._statements:
            sink.append(statement.lstrip())

    @contextmanager
    def queries(self) -> Iterator[list[str]]:
        statements: list[str] = []
        self._statements.append(statements)
        try:
            yield statements
        finally:
            self._statements.remove(statements)

    def audit_rows(self, model: Any) -> list[dict[str, Any]]:
        from sqlalchemy import select

        from ..adapters.base import adapter_for
        from ..integrations.sqlalchemy import audit_table

        label = adapter_for(model).model_label(model)
        self.commit()
        rows = self.run(
            lambda conn: [
                dict(r._mapping)
                for r in conn.execute(
                    select(audit_table)
                    .where(audit_table.c.model == label)
                    .order_by(audit_table.c.pk)
                )
            ]
        )
        return [
            {
                "model": row["model"],
                # A masked key's hash ("hmac:...") stays text.
                "id": int(row["object_id"])
                if row["object_id"].isdigit()
                else row["object_id"] or None,
                "action": row["action"],
                "changes": {name: tuple(pair) for name, pair in row["changes"].items()},
                "actor": row["actor"],
                "time": _aware({"time": row["time"]})["time"],
                "request_id": row["request_id"],
                "client": row["client"],
                "reason": row["reason"],
            }
            for row in rows
        ]


class _Query:
    """A ``select(model)`` the shared tests can filter, iterate and hand to bulk writes."""

    def __init__(self, backend: SQLAlchemyBackend, model: type, statement: Any) -> None:
        self.backend = backend
        self.model = model
        self.statement = statement
        self.criteria: tuple[Any, ...] = ()

    def filter(self, **conditions: Any) -> _Query:
        criteria = tuple(getattr(self.model, k) == v for k, v in conditions.items())
        out = _Query(self.backend, self.model, self.statement.where(*criteria))
        out.criteria = self.criteria + criteria
        return out

    def __iter__(self) -> Iterator[Any]:
        return iter(self.backend.scalars(self.statement))

    def __len__(self) -> int:
        return len(self.backend.scalars(self.statement))

    def update(self, **values: Any) -> Any:
        return self.backend.bulk_update(self, **values)

    def delete(self) -> Any:
        return self.backend.bulk_delete(self)


def _committing(method: Callable[..., Any], backend: SQLAlchemyBackend) -> Callable[..., Any]:
    def call(obj: Any) -> Any:
        result = method(obj)
        backend._commit_or_roll_back()
        return result

    return call


def _values_of(obj: Any) -> dict[str, Any]:
    from sqlalchemy import inspect

    state = inspect(obj)
    return {a.key: state.dict[a.key] for a in state.mapper.column_attrs if a.key in state.dict}


def _aware(row: dict[str, Any]) -> dict[str, Any]:
    """SQLite returns naive datetimes for ``DateTime(timezone=True)``: they were UTC."""
    from datetime import UTC, datetime

    return {
        k: v.replace(tzinfo=UTC) if isinstance(v, datetime) and v.tzinfo is None else v
        for k, v in row.items()
    }


def _take_back(session: Any, existing: Any, model: type, pk: Any) -> None:
    """Put ``existing`` back in ``session`` in place of what a read loaded for its row."""
    from sqlalchemy import inspect
    from sqlalchemy.orm import attributes

    loaded = session.identity_map.get(session.identity_key(model, pk))
    if loaded is not None and loaded is not existing:
        values = inspect(loaded).dict
        session.expunge(loaded)
        mapper: Any = inspect(model)
        for attr in mapper.column_attrs:
            if attr.key in values:
                attributes.set_committed_value(existing, attr.key, values[attr.key])
    session.add(existing)
