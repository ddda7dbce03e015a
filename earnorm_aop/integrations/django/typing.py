"""Typed members for Django models with plugins: mixins a type checker reads, Django never sees.

Plugins add members when they are woven (``created_at``, ``restore()``,
``with_deleted()``...), which no type checker can know from ``plugins =
[...]``.  Add the matching mixin to the model's bases and mypy (with
django-stubs) and pyright see them, typed; a misspelt one (``article.restor()``)
stays an error::

    from earnorm_aop.integrations.django.typing import SoftDeletable, Timestamped

    class Article(SoftDeletable, Timestamped, models.Model):
        title = models.CharField(max_length=200)
        plugins = ["timestamp", "softdelete"]

At run time each mixin is an empty class: the plugins still add the
members, the fields and migrations are unchanged.  For a type checker it
derives from ``Model`` so ``with_deleted()`` can return ``QuerySet[Self]``.
The mixins name the plugins' default fields; a model that renames one
(``softdelete={"field": "removed_at"}``) annotates that name itself.  With
django-stubs' mypy plugin, list
[`earnorm_aop.integrations.django.mypy`][earnorm_aop.integrations.django.mypy] before it so it
resolves the models' managers (docs/typing.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from django.db.models import Model as _Base
    from django.db.models import QuerySet
else:
    _Base = object

__all__ = ["SoftDeletable", "Timestamped"]


class Timestamped(_Base):  # type: ignore[misc]
    """The ``timestamp`` plugin's fields: ``None`` until the first save."""

    if TYPE_CHECKING:
        created_at: datetime | None
        updated_at: datetime | None


class SoftDeletable(_Base):  # type: ignore[misc]
    """The ``softdelete`` plugin's field and methods."""

    if TYPE_CHECKING:
        deleted_at: datetime | None

        def restore(self) -> None:
            """Undo a soft delete (clear ``deleted_at`` and save)."""
            ...

        def hard_delete(self) -> tuple[int, dict[str, int]]:
            """Delete the row for real; Django's ``delete()`` result."""
            ...

        @classmethod
        def with_deleted(cls) -> QuerySet[Self]:
            """The default queryset with soft-deleted rows included."""
            ...
