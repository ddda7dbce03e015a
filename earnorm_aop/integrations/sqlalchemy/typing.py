"""Typed members for SQLAlchemy models with plugins: mixins type checkers read, mappers skip.

Plugins add columns and methods when they are woven (``created_at``,
``restore()``, ``with_deleted()``...), which no type checker can know from
``plugins = [...]``.  Add the matching mixin to the model's bases and mypy and
pyright see them with SQLAlchemy's own types (``Mapped[datetime | None]``:
``note.deleted_at`` is a ``datetime | None``, ``Note.deleted_at.is_(None)`` a
SQL expression); a misspelt one (``note.restor()``) stays an error::

    from earnorm_aop.integrations.sqlalchemy.typing import SoftDeletable, Timestamped

    class Note(SoftDeletable, Timestamped, Base):
        __tablename__ = "note"
        plugins = ["timestamp", "softdelete"]
        id: Mapped[int] = mapped_column(primary_key=True)

At run time each mixin is an empty class, which declarative mapping skips:
the plugins still add the columns.  ``with_deleted()`` is typed as
``select(Model)`` is in SQLAlchemy 2.1 (``Select[Model]``).  The mixins name the
plugins' default fields; a model that renames one annotates that name itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from sqlalchemy import Select
    from sqlalchemy.orm import Mapped

__all__ = ["SoftDeletable", "Timestamped"]


class Timestamped:
    """The ``timestamp`` plugin's columns: ``None`` until the first flush."""

    if TYPE_CHECKING:
        created_at: Mapped[datetime | None]
        updated_at: Mapped[datetime | None]


class SoftDeletable:
    """The ``softdelete`` plugin's column and methods."""

    if TYPE_CHECKING:
        deleted_at: Mapped[datetime | None]

        def restore(self) -> None:
            """Undo a soft delete: clear ``deleted_at`` (written at the next flush)."""
            ...

        def hard_delete(self) -> None:
            """Delete the row for real (at the next flush)."""
            ...

        @classmethod
        def with_deleted(cls) -> Select[Self]:
            """``select(Model)`` with soft-deleted rows included."""
            ...
