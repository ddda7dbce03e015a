"""SQLAlchemy on a real database for the SQLAlchemy integration tests.

Each test gets a :class:`Database`: a new SQLite file (or, with
``EARNORM_AOP_TEST_DB=postgres``, the private PostgreSQL cluster's database with
a fresh schema), a ``DeclarativeBase`` of its own and sessions on it.  Models
are declared in the test body; ``db.create()`` creates their tables.  Whatever
the test wove is unwoven by the root conftest's weaver check.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("sqlalchemy")

from sqlalchemy import create_engine, event, text
from sqlalchemy.orm import DeclarativeBase, Session

from earnorm_aop.integrations.sqlalchemy import audit_metadata
from earnorm_aop.testing._sqlalchemy import database_url, drop_database


class Database:
    """A database, a declarative base and the statements run on it (``statements``)."""

    def __init__(self, asynchronous: bool = False) -> None:
        self.url = database_url(asynchronous)
        self.asynchronous = asynchronous
        self.statements: list[str] = []
        if asynchronous:
            from sqlalchemy.ext.asyncio import create_async_engine

            self.async_engine = create_async_engine(self.url)
            self.engine = self.async_engine.sync_engine
        else:
            self.engine = create_engine(self.url)
        event.listen(self.engine, "before_cursor_execute", self._capture)

        class Base(DeclarativeBase):
            pass

        self.Base = Base
        if self.engine.dialect.name == "postgresql":
            self._sync(self._reset)
        self._sync(audit_metadata.create_all)

    @property
    def dialect(self) -> str:
        return str(self.engine.dialect.name)

    @staticmethod
    def _reset(conn: Any) -> None:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))

    def _capture(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.statements.append(statement.lstrip())

    def _sync(self, func: Any) -> Any:
        if self.asynchronous:

            async def go() -> Any:
                async with self.async_engine.begin() as conn:
                    return await conn.run_sync(func)

            return asyncio.run(go())
        with self.engine.begin() as conn:
            return func(conn)

    def create(self) -> None:
        """Create the tables of every model declared on ``Base`` so far."""
        self._sync(self.Base.metadata.create_all)

    def session(self, **options: Any) -> Session:
        return Session(self.engine, **options)

    def rows(self, model: Any) -> dict[Any, dict[str, Any]]:
        """Every row of ``model``'s table by ``id``, read with Core (no plugin sees it)."""
        table = model.__table__
        return self._sync(
            lambda conn: {r.id: dict(r._mapping) for r in conn.execute(table.select())}
        )

    def writes(self) -> list[str]:
        return [s for s in self.statements if not s.upper().startswith(("SELECT", "PRAGMA"))]

    def close(self) -> None:
        if self.asynchronous:
            asyncio.run(self.async_engine.dispose())
        else:
            self.engine.dispose()
        drop_database(self.url)


@pytest.fixture
def db() -> Iterator[Database]:
    database = Database()
    try:
        yield database
    finally:
        database.close()


@pytest.fixture
def adb() -> Iterator[Database]:
    """A database for ``AsyncSession`` (aiosqlite, or psycopg's async driver)."""
    pytest.importorskip("aiosqlite")
    database = Database(asynchronous=True)
    try:
        yield database
    finally:
        database.close()
