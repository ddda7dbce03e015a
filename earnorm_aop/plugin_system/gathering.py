"""Writes gathered over one bulk write's events: one multi-row INSERT, not one per row.

The ``lifecycle`` plugin fires ``after_change`` once per row of a bulk write
(``save_many``, ``update_many``, ``delete_many``), and a listener that writes
something per row (audit's ``table`` sink) would send one INSERT per row:
100 rows, 100 statements, each compiled on its own.  So the firing loop of
one bulk write runs inside
[`gathering`][earnorm_aop.plugin_system.gathering.gathering]; a listener that
finds [`GATHERING`][earnorm_aop.plugin_system.gathering.GATHERING] set
appends what it would write to the list
[`gather`][earnorm_aop.plugin_system.gathering.gather] gives it (one per
listener and model), and when the loop ends each list goes out in one call
(the audit store's ``write_audit_records``: Django's ``bulk_create``,
SQLAlchemy's ``executemany``) — inside the write, in its transaction, exactly
where the per-row writes went before.  Outside a bulk write ``GATHERING`` is
``None`` and the listener writes at once (a ``save`` pays one
``ContextVar.get``, no Python call).

A bulk write inside another one's gathering (a listener's own
``update_many``; the rows of SQLAlchemy's bulk UPDATE by primary key, one
woven ``update_many`` each, gathered over the user's one statement) adds to
the open gathering: its writes go out with the outer ones, at its end.  What
was gathered is written also when a listener raises (those rows are written:
their records must not be lost), the error then going on.

Why a context variable: the listeners are called by the event dispatcher with
the event's payload only, and the payload is public API (``instance``,
``changes``, ``action``, ``pk``, ``subject``); a variable scoped to the loop
adds nothing to it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = ["GATHERING", "Gathered", "gather", "gathering"]

Gathered = dict[Hashable, tuple[Callable[[Any, list[Any]], Any], Any, list[Any]]]
"""Per listener key: the function writing its items at once, its first argument, the items."""

GATHERING: ContextVar[Gathered | None] = ContextVar("earnorm_aop_gathering", default=None)
"""Set while a bulk write's events fire: what the listeners gathered so far."""


def gather(
    open_: Gathered, key: Hashable, write: Callable[[Any, list[Any]], Any], first: Any
) -> list[Any]:
    """The list ``key``'s items go to in ``open_``; ``write(first, items)`` runs at its end."""
    found = open_.get(key)
    if found is None:
        found = open_[key] = (write, first, [])
    return found[2]


@contextmanager
def gathering() -> Iterator[list[Any]]:
    """Around one bulk write's per-row events: at the end, each listener's gathered write.

    Gives the list that then holds what each write returned (an awaitable
    among them is for the caller to await, like a handler's); inside a
    gathering already, it stays empty: the outer one's end writes.
    """
    written: list[Any] = []
    if GATHERING.get() is not None:
        yield written
        return
    open_: Gathered = {}
    token = GATHERING.set(open_)
    try:
        yield written
    finally:
        GATHERING.reset(token)
        written.extend(write(first, items) for write, first, items in open_.values() if items)
