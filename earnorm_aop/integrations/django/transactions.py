"""Commit-aware work on Django: ``transaction.on_commit`` and its missing rollback twin.

The ``after_commit`` advice kind and the built-ins' commit-time work (cache
invalidation, audit delivery) are handed to
[`defer`][earnorm_aop.integrations.django.transactions.defer] with the object written (an instance,
a queryset, a manager), which names the database connection.  Inside an ``atomic`` block on that
connection the commit side is ``transaction.on_commit(func, using=alias, robust=robust)``: Django
runs it after the outermost block commits and drops it if the savepoint it was
registered in rolls back.  Outside one (autocommit), it runs at once.

Django has no ``on_rollback``.  The rollback side is kept beside Django's
list, with the savepoint ids in force when it was registered, on the
connection object itself (a thread's own, as Django's connections are):
rolling back a savepoint runs the callbacks registered inside it, rolling back
the outermost transaction (or closing the connection inside it) runs the rest,
and a commit forgets them.  The connection's ``commit``, ``rollback``,
``savepoint_rollback`` and ``close`` are wrapped, on that instance only, the
first time a rollback callback is registered on it.

``robust``: ``False`` (Django's default) lets an exception from the callback
propagate out of the ``atomic`` block's exit (the data is committed) and skips
the callbacks after it; ``True`` logs it and goes on.  Rollback callbacks
always run robustly (a failing one is logged on ``earnorm_aop``), since the
rollback they follow must not be hidden by their exception.  In a Django
``TestCase`` nothing commits: use ``self.captureOnCommitCallbacks(execute=True)``
or ``TransactionTestCase``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import connections, router, transaction

__all__ = ["alias_of", "defer"]

log = logging.getLogger("earnorm_aop")

_PENDING = "_earnorm_rollback_callbacks"  # [(savepoint ids, callback)] on the connection


def alias_of(model: type, subject: Any) -> str:
    """The database alias ``subject`` (instance, queryset or manager of ``model``) writes to."""
    state = getattr(subject, "_state", None)
    if state is not None and getattr(state, "db", None):
        return str(state.db)
    db = getattr(subject, "_db", None)
    if db:
        return str(db)
    if isinstance(subject, model):
        return str(router.db_for_write(model, instance=subject))
    hints = getattr(subject, "_hints", None) or {}
    return str(router.db_for_write(model, **hints))


def defer(
    alias: str,
    on_commit: Callable[[], None] | None,
    on_rollback: Callable[[], None] | None,
    *,
    robust: bool = False,
) -> None:
    """Run ``on_commit`` when ``alias``'s outermost transaction commits, ``on_rollback`` if not."""
    connection = connections[alias]
    if not connection.in_atomic_block:
        if on_commit is not None:
            on_commit()
        return
    if on_commit is not None:
        transaction.on_commit(on_commit, using=alias, robust=robust)
    if on_rollback is not None:
        _watch(connection)
        pending: list[tuple[set[str], Callable[[], None]]] = vars(connection)[_PENDING]
        pending.append((set(connection.savepoint_ids), on_rollback))


def _watch(connection: Any) -> None:
    """Wrap this connection's transaction ends once, to run and clear rollback callbacks."""
    if _PENDING in vars(connection):
        return
    vars(connection)[_PENDING] = []
    commit, rollback = connection.commit, connection.rollback
    savepoint_rollback, close = connection.savepoint_rollback, connection.close

    def committed() -> None:
        commit()
        vars(connection)[_PENDING] = []

    def rolled_back() -> None:
        try:
            rollback()
        finally:
            _run(connection, lambda sids: True)

    def savepoint_rolled_back(sid: str) -> None:
        savepoint_rollback(sid)
        _run(connection, lambda sids: sid in sids)

    def closed() -> None:
        in_transaction = connection.in_atomic_block
        try:
            close()
        finally:
            if in_transaction:
                _run(connection, lambda sids: True)
            else:
                vars(connection)[_PENDING] = []

    connection.commit = committed
    connection.rollback = rolled_back
    connection.savepoint_rollback = savepoint_rolled_back
    connection.close = closed


def _run(connection: Any, rolled_back: Callable[[set[str]], bool]) -> None:
    pending = vars(connection)[_PENDING]
    due = [func for sids, func in pending if rolled_back(sids)]
    vars(connection)[_PENDING] = [(s, f) for s, f in pending if not rolled_back(s)]
    for func in due:
        try:
            func()
        except Exception:
            log.exception("a rollback callback (%r) failed", func)
