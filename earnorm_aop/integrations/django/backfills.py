"""Plugin schemas in the migrations ``makemigrations`` writes: a backfill after each new field.

Django's autodetector sees a plugin's fields as any other (they are real
fields of the model) and writes an ``AddField`` for each when the plugin is
added to a model whose table exists.  The fields are nullable, so the
migration applies to a table with rows without asking for a default; what
the rows then hold is the plugin's to say, in its schema's
[`Backfill`][earnorm_aop.plugin_system.schema.Backfill] (``timestamp``: now, or
the field ``backfill_created_from`` names).
[`add_backfills`][earnorm_aop.integrations.django.backfills.add_backfills] puts a
[`BackfillField`][earnorm_aop.integrations.django.operations.BackfillField] after each such
``AddField``, and the app's ``makemigrations`` command (``management/commands/makemigrations.py``)
calls it on the changes before they are written.  A new model
(``CreateModel``) has no rows and gets none; removing the plugin gives
Django's own ``RemoveField`` operations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.apps import apps as global_apps
from django.core.exceptions import FieldDoesNotExist
from django.core.management.base import CommandError
from django.db.migrations import AddField

from ...plugin_system.schema import NOW, model_backfill
from .operations import BackfillField

__all__ = ["add_backfills", "operation_for"]


def add_backfills(changes: Mapping[str, Sequence[Any]], apps: Any = global_apps) -> int:
    """Put a [`BackfillField`][earnorm_aop.integrations.django.operations.BackfillField] after each
    ``AddField`` of a plugin field; return how many."""
    added = 0
    for app_label, migrations in changes.items():
        for migration in migrations:
            operations: list[Any] = []
            for operation in migration.operations:
                operations.append(operation)
                if isinstance(operation, AddField):
                    extra = operation_for(apps, app_label, operation)
                    if extra is not None:
                        operations.append(extra)
                        added += 1
            migration.operations = operations
    return added


def operation_for(apps: Any, app_label: str, operation: Any) -> BackfillField | None:
    """The backfill of the field ``operation`` adds, if a plugin woven on its model declares one."""
    try:
        model = apps.get_model(app_label, operation.model_name)
    except LookupError:
        return None
    backfill = model_backfill(model, operation.name)
    if backfill is None:
        return None
    if backfill.from_field is not None:
        _check_source(model, operation.name, backfill.from_field)
        return BackfillField(operation.model_name, operation.name, from_field=backfill.from_field)
    if backfill.value is NOW:
        return BackfillField(operation.model_name, operation.name)
    if operation.field.has_default() and operation.field.get_default() == backfill.value:
        return None  # AddField already gives the rows the field's default
    return BackfillField(operation.model_name, operation.name, value=backfill.value)


def _check_source(model: Any, name: str, source: str) -> None:
    try:
        model._meta.get_field(source)
    except FieldDoesNotExist:
        label = model._meta.label
        known = ", ".join(f.name for f in model._meta.concrete_fields)
        raise CommandError(
            f"{label}.{name}: its plugin backfills existing rows from the field {source!r}, "
            f"which {label} does not have (its fields: {known}); set the plugin's option "
            "(timestamp: backfill_created_from / backfill_updated_from) to one of them"
        ) from None
