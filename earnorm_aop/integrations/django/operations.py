"""``BackfillField``: the migration operation that fills a plugin's new field on existing rows.

``AddField`` gives a new nullable column to a table that has rows; the rows
are left empty.  A plugin says what they should hold instead
([`Backfill`][earnorm_aop.plugin_system.schema.Backfill]: the time the migration
runs, a constant, or another field of the row, now where that is empty), and
``makemigrations`` writes this operation after the ``AddField`` (see
[`backfills`][earnorm_aop.integrations.django.backfills]).  It is a plain operation, importable by
path, so a
migration written by hand can use it too::

    operations = [
        migrations.AddField("article", "created_at", models.DateTimeField(null=True, ...)),
        BackfillField("article", "created_at", from_field="published"),
    ]

It updates only rows whose field is empty (``IS NULL``), through the
historical model of the migration state, so it runs no plugin advice and is
idempotent.  Going backwards it does nothing: reversing the ``AddField``
before it drops the column with its values.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.migrations.operations.base import Operation
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

__all__ = ["BackfillField"]


class BackfillField(Operation):  # type: ignore[misc]
    """Fill ``name`` of ``model_name`` where it is empty: with now, ``value`` or ``from_field``."""

    reversible = True
    reduces_to_sql = False  # the time is taken when it runs
    elidable = True  # a squash may drop it: the rows it filled keep their values

    def __init__(
        self,
        model_name: str,
        name: str,
        # Not keyword-only: Django 4.2's migration writer writes only the
        # positional-or-keyword parameters of an operation's __init__.
        from_field: str | None = None,
        value: Any = None,
    ) -> None:
        if from_field is not None and value is not None:
            raise ValueError(f"BackfillField {name!r}: give from_field= or value=, not both")
        self.model_name = model_name
        self.name = name
        self.from_field = from_field
        self.value = value

    @property
    def model_name_lower(self) -> str:
        return self.model_name.lower()

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        kwargs: dict[str, Any] = {}
        if self.from_field is not None:
            kwargs["from_field"] = self.from_field
        if self.value is not None:
            kwargs["value"] = self.value
        return (self.__class__.__qualname__, [self.model_name, self.name], kwargs)

    def state_forwards(self, app_label: str, state: Any) -> None:
        """Data only: the model state is unchanged."""

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        model = to_state.apps.get_model(app_label, self.model_name)
        alias = schema_editor.connection.alias
        if not self.allow_migrate_model(alias, model):
            return
        target = model._meta.get_field(self.name)
        empty = model._base_manager.using(alias).filter(**{f"{target.attname}__isnull": True})
        empty.update(**{target.attname: self._value(model, target, schema_editor)})

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        """Nothing to undo: the column goes with the ``AddField`` reversed next."""

    def _value(self, model: Any, target: Any, schema_editor: Any) -> Any:
        if self.from_field is None:
            return _now(schema_editor) if self.value is None else self.value
        source = model._meta.get_field(self.from_field)
        expression: Any = models.F(source.attname)
        if source.get_internal_type() != target.get_internal_type():
            # A date into a datetime column: converted by the database, not stored as text.
            expression = Cast(expression, output_field=target.clone())
        if not source.null:
            return expression
        # A row whose source is empty gets what a row without a source would.
        return Coalesce(expression, models.Value(_now(schema_editor), output_field=target.clone()))

    def describe(self) -> str:
        if self.from_field is not None:
            what = f"the value of {self.from_field} (now where it is empty)"
        else:
            what = "now" if self.value is None else repr(self.value)
        return f"Backfill {self.name} on {self.model_name} with {what}"

    @property
    def migration_name_fragment(self) -> str:
        return f"backfill_{self.model_name_lower}_{self.name.lower()}"

    def references_model(self, name: str, app_label: str) -> bool:
        return name.lower() == self.model_name_lower

    def references_field(self, model_name: str, name: str, app_label: str) -> bool:
        return model_name.lower() == self.model_name_lower and name.lower() in {
            self.name.lower(),
            (self.from_field or "").lower(),
        }


def _now(schema_editor: Any) -> Any:
    """One time per migration (Django applies each with its own schema editor).

    So the rows a migration backfills with ``created_at`` and ``updated_at``
    get the same value in both, as a first save gives them.
    """
    now = getattr(schema_editor, _NOW_ATTRIBUTE, None)
    if now is None:
        now = timezone.now()
        setattr(schema_editor, _NOW_ATTRIBUTE, now)
    return now


_NOW_ATTRIBUTE = "_earnorm_aop_backfill_now"
