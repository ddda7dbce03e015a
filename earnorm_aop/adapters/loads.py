"""Records a query loads, for the ``after_query_load`` lifecycle event.

An adapter that sees its ORM build a record from a row (Django's
``from_db``, SQLAlchemy's ``load`` event, the memory store's rows, EarnORM's
``search``) calls the model's load watcher, installed by
[`watch_loads`][earnorm_aop.adapters.base.Adapter.watch_loads] only on a model where a
plugin asked for loads (``@hook("after_access", loads=True)``); on any other
model a load costs nothing more than it did.

Reads that are not a user's query do not count: the library's own reads
(the shared read before a bulk write, a re-read after one) and the record a
``get`` returns, which fires ``after_access`` itself.  They run inside
[`quiet`][earnorm_aop.adapters.loads.quiet].
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = ["ATTRIBUTE", "QUIET", "notify", "quiet"]

ATTRIBUTE = "_earnorm_aop_on_load"
"""The class attribute holding a watched model's watcher (``watcher(instance)``)."""

QUIET: ContextVar[bool] = ContextVar("earnorm_aop_quiet_loads", default=False)


@contextmanager
def quiet() -> Iterator[None]:
    """Loads inside the block fire nothing (the library's own reads, a ``get``)."""
    token = QUIET.set(True)
    try:
        yield
    finally:
        QUIET.reset(token)


def notify(model: type, instance: Any) -> None:
    """Call ``model``'s load watcher with ``instance``, if it has one (one attribute read)."""
    watcher: Callable[[Any], None] | None = getattr(model, ATTRIBUTE, None)
    if watcher is not None and not QUIET.get():
        watcher(instance)
