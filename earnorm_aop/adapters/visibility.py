"""Rows plugins hide, and the block that shows them.

A plugin may hide rows from a model's default queryset (softdelete hides
soft-deleted ones, through ``visible_rows``).  Inside ``including_hidden()``
querysets built (and ``get``) show them again: the softdelete plugin's
``including_deleted()`` is this block, and an integration that must see every
row (Django's admin, SQLAlchemy's statements, EarnORM's id checks) opens it
without naming any plugin.  Context-local: other threads and tasks still see
the filtered queryset.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["including_hidden", "is_unfiltered"]

_UNFILTERED: ContextVar[bool] = ContextVar("earnorm_aop_unfiltered", default=False)


@contextmanager
def including_hidden() -> Iterator[None]:
    """Inside the block, querysets built include rows plugins hide (soft-deleted ones)."""
    token = _UNFILTERED.set(True)
    try:
        yield
    finally:
        _UNFILTERED.reset(token)


def is_unfiltered() -> bool:
    """Whether an [`including_hidden`][earnorm_aop.adapters.visibility.including_hidden] block is in
    force here."""
    return _UNFILTERED.get()
