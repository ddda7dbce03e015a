"""Django's ``makemigrations``, which also backfills the fields plugins add to tables with rows.

Every option is Django's.  Before the migrations are written (or printed,
with ``--dry-run``), [`add_backfills`][earnorm_aop.integrations.django.backfills.add_backfills]
puts a ``BackfillField`` after each ``AddField`` of a plugin's field, as the
plugin's schema says.  Installed apps' commands take precedence over
Django's own, so ``INSTALLED_APPS += ["earnorm_aop.integrations.django"]``
is all it takes; an app listed before it with its own ``makemigrations``
wins (then write the operation by hand: docs/django.md).
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands import makemigrations

from ...backfills import add_backfills


class Command(makemigrations.Command):  # type: ignore[misc]
    help = (
        f"{makemigrations.Command.help} Fields that earnorm_aop plugins add to existing "
        "tables are backfilled as each plugin's schema says."
    )

    def write_migration_files(self, changes: Any, *args: Any, **kwargs: Any) -> Any:
        add_backfills(changes)
        return super().write_migration_files(changes, *args, **kwargs)

    def write_to_last_migration_files(self, changes: Any, *args: Any, **kwargs: Any) -> Any:
        """``--update``: the changes are merged into the latest migration, backfills included."""
        add_backfills(changes)
        return super().write_to_last_migration_files(changes, *args, **kwargs)
