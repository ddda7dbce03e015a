"""Plugins on SQLAlchemy models, with a Session and an AsyncSession.

Run: ``python examples/sqlalchemy_quickstart.py`` (needs ``earnorm-aop[sqlalchemy]``
and, for the async half, ``aiosqlite``).  Every line it prints says what a plugin did.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from sqlalchemy import create_engine, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from earnorm_aop.integrations.sqlalchemy import PluginModel, audit_metadata
from earnorm_aop.integrations.sqlalchemy.typing import SoftDeletable, Timestamped
from earnorm_aop.plugins import audit
from earnorm_aop.plugins.softdelete import including_deleted
from earnorm_aop.plugins.validation import ValidationFailed


class Base(PluginModel, DeclarativeBase):
    pass


# The mixins only tell type checkers what the plugins add (docs/typing.md).
class Note(SoftDeletable, Timestamped, Base):
    __tablename__ = "note"
    plugins = {  # noqa: RUF012 - read once, when the class is created
        "timestamp": {},
        "softdelete": {},
        "audit": {"sink": "table"},
        "validation": {"fields": {"title": {"required": True, "max_length": 40}}},
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(default="")


def audit_log(session: Session) -> list[tuple[str, str]]:
    from earnorm_aop.integrations.sqlalchemy import audit_table

    rows = session.execute(select(audit_table.c.action, audit_table.c.object_id))
    return [(action, object_id) for action, object_id in rows]


def sync_part(url: str) -> None:
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    audit_metadata.create_all(engine)
    with Session(engine) as session, audit.actor("alice"):
        note, draft = Note(title="hello"), Note(title="draft")
        session.add_all([note, draft])
        session.commit()
        print(f"timestamp: created_at set at the flush -> {note.created_at is not None}")
        session.delete(draft)
        session.commit()
        visible = [n.title for n in session.scalars(select(Note))]
        print(f"softdelete: session.delete kept the row, select() hides it -> {visible}")
        with including_deleted():
            print(f"softdelete: including_deleted() -> {len(session.scalars(select(Note)).all())}")
        session.execute(update(Note).values(title="renamed"))
        session.execute(delete(Note))  # an UPDATE of deleted_at
        session.commit()
        print(f"softdelete: delete(Note) soft-deleted -> {session.scalars(select(Note)).all()}")
        session.add(Note(title=""))
        try:
            session.commit()
        except ValidationFailed as exc:
            session.rollback()
            print(f"validation: nothing flushed -> {exc.errors}")
        print(f"audit: rows in the same transaction -> {audit_log(session)}")
    engine.dispose()


async def async_part(url: str) -> None:
    engine = create_async_engine(url)
    async with AsyncSession(engine, expire_on_commit=False) as session:
        note = Note(title="async")
        session.add(note)
        await session.commit()
        print(f"async: key known to the after advice -> id={note.id}")
        await session.delete(note)
        await session.commit()
        found = await session.get(Note, note.id, populate_existing=True)
        print(f"async: soft-deleted, Session.get finds -> {found}")
    await engine.dispose()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="earnorm-sqlalchemy-example-") as name:
        folder = Path(name)
        sync_part(f"sqlite:///{folder / 'notes.sqlite3'}")
        try:
            import aiosqlite  # noqa: F401
        except ImportError:
            print("async: skipped (pip install aiosqlite)")
            return
        asyncio.run(async_part(f"sqlite+aiosqlite:///{folder / 'notes.sqlite3'}"))


if __name__ == "__main__":
    main()
