"""Commit-aware work on SQLAlchemy: an on-commit queue per session, tagged by transaction.

SQLAlchemy has no ``on_commit``.  [`defer`][earnorm_aop.integrations.sqlalchemy.transactions.defer]
keeps ``(transaction, on_commit, on_rollback, robust)`` entries in ``session.info``, the transaction
being the innermost one in force when the work was registered (a SAVEPOINT's
``SessionTransaction`` inside ``begin_nested()``, else the root).  Listeners on
the ``Session`` class (so ``AsyncSession`` too, through its ``sync_session``):

- ``after_commit`` fires for the root COMMIT and for a RELEASE SAVEPOINT; while
  it runs, the transaction committing is still the session's current one, so
  ``get_nested_transaction()`` tells them apart.  A released savepoint hands its
  entries to its parent; the root commit runs every ``on_commit``, in
  registration order, and forgets the ``on_rollback`` sides.
- ``after_soft_rollback`` gets the transaction closed.  What the database
  rolled back is that transaction if it is a savepoint or the root; for a
  flush's internal subtransaction, the nearest savepoint or root above it.
  The entries registered in it (or in a savepoint inside it) run their
  ``on_rollback`` and are dropped.

Outside a transaction (no session, or ``session.in_transaction()`` is false)
``on_commit`` runs at once and ``on_rollback`` never.  ``robust``: ``False``
lets an exception from ``on_commit`` propagate from ``session.commit()`` (the
data is committed) and skips the entries after it; ``True`` logs it and goes
on.  Rollback callbacks always run robustly.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

__all__ = ["defer", "install"]

log = logging.getLogger("earnorm_aop")

_KEY = "_earnorm_aop_on_commit"


@dataclass
class _Entry:
    transaction: Any
    on_commit: Callable[[], None] | None
    on_rollback: Callable[[], None] | None
    robust: bool


def defer(
    session: Session | None,
    on_commit: Callable[[], None] | None,
    on_rollback: Callable[[], None] | None,
    *,
    robust: bool = False,
) -> None:
    """Run ``on_commit`` when ``session``'s outermost transaction commits; else ``on_rollback``."""
    install()  # work can be deferred before any model is woven: the listeners must be there
    if session is None or not session.in_transaction():
        if on_commit is not None:
            on_commit()
        return
    transaction = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_KEY, []).append(_Entry(transaction, on_commit, on_rollback, robust))


def _after_commit(session: Session) -> None:
    entries: list[_Entry] = session.info.get(_KEY) or []
    if not entries:
        return
    nested = session.get_nested_transaction()
    if nested is not None:  # RELEASE SAVEPOINT: the work now belongs to the parent
        for entry in entries:
            if entry.transaction is nested:
                entry.transaction = nested.parent
        return
    session.info[_KEY] = []
    for index, entry in enumerate(entries):
        if entry.on_commit is None:
            continue
        try:
            entry.on_commit()
        except Exception:
            if not entry.robust:
                # The rest is never run, as with Django's non-robust on_commit.
                del entries[index:]
                raise
            log.exception("an on-commit callback (%r) failed", entry.on_commit)


def _after_soft_rollback(session: Session, previous: Any) -> None:
    entries: list[_Entry] = session.info.get(_KEY) or []
    if not entries:
        return
    boundary = previous
    while boundary.parent is not None and not boundary.nested:
        boundary = boundary.parent
    keep: list[_Entry] = []
    due: list[_Entry] = []
    for entry in entries:
        (due if _within(entry.transaction, boundary) else keep).append(entry)
    session.info[_KEY] = keep
    for entry in due:
        if entry.on_rollback is None:
            continue
        try:
            entry.on_rollback()
        except Exception:
            log.exception("a rollback callback (%r) failed", entry.on_rollback)


def _within(transaction: Any, boundary: Any) -> bool:
    while transaction is not None:
        if transaction is boundary:
            return True
        transaction = transaction.parent
    return False


@functools.cache  # once per process
def install() -> None:
    event.listen(Session, "after_commit", _after_commit)
    event.listen(Session, "after_soft_rollback", _after_soft_rollback)
