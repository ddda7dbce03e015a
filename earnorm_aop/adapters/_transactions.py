"""Transactions: whether work happens inside one, and running code when it ends.

Commit-aware advice (``after_commit`` / ``after_rollback``) and the built-ins'
commit-time work go through these two methods, so each ORM maps them onto its
own transaction hooks; plain classes have no transactions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["AdapterTransactions"]


class AdapterTransactions:
    """The transaction methods of [`Adapter`][earnorm_aop.adapters.base.Adapter]."""

    def in_transaction(self, model: type, subject: Any) -> bool:
        """Whether work on ``subject`` now is inside a transaction (plain: never)."""
        return False

    def defer(
        self,
        model: type,
        subject: Any,
        on_commit: Callable[[], None] | None = None,
        on_rollback: Callable[[], None] | None = None,
        *,
        robust: bool = False,
    ) -> None:
        """Run ``on_commit`` when the transaction ``subject`` was written in commits.

        ``subject`` is the object an operation ran on (an instance, a queryset,
        a manager): it names the connection.  ``on_rollback`` runs instead if
        that transaction rolls back.  This is what ``after_commit`` /
        ``after_rollback`` advice and the built-ins' commit-time work use.
        Plain classes have no transactions: ``on_commit`` runs at once,
        ``on_rollback`` never.  An ORM maps them onto its own commit and
        rollback hooks, on the subject's connection.
        """
        if on_commit is not None:
            on_commit()
