"""The ``softdelete`` plugin: ``delete()`` marks a row deleted instead of removing it.

``delete()`` sets ``deleted_at`` and saves (the real delete is vetoed); the
model's default queryset hides rows whose ``deleted_at`` is set, so ``get``
and every query built from it (Django: ``Model.objects``, related managers)
no longer see them (a model's own ``get`` that bypasses the queryset, as a
plain class's dict lookup does, raises
[`SoftDeletedError`][earnorm_aop.plugins.softdelete.SoftDeletedError] for them); a bulk delete
(``delete_many``, Django's ``QuerySet.delete()``) becomes a bulk update of ``deleted_at``, going
through the ``update_many`` plugins (timestamp, cache, audit) like any other.

The model gains ``restore()``, ``hard_delete()`` and the classmethod
``with_deleted()`` (a queryset including deleted rows); for other code,
``with including_deleted():`` makes every queryset built inside include them
and ``with hard_deleting():`` makes deletes inside real.  ``visible_rows`` tells
the adapter which rows are shown, so lookups through relations hide deleted
rows too (Django: ``Author.objects.filter(articles__title="x")``).

A bulk update only touches the rows of the queryset it is called on: one built
from the default queryset cannot contain hidden rows, so they stay untouched;
one from ``with_deleted()`` contains them on purpose (a bulk restore is
``Model.with_deleted().filter(...).update(deleted_at=None)``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..adapters.base import Adapter, FieldSpec
from ..errors import PluginError
from ..plugin_system.schema import Schema
from ..plugin_system.spec import hook
from ._common import (
    CallableOption,
    acting,
    clock_of,
    including_hidden,
    is_unfiltered,
    then,
    within,
)

__all__ = [
    "NoQuerysetError",
    "SoftDeletePlugin",
    "SoftDeletedError",
    "hard_deleting",
    "including_deleted",
]

_HARD: ContextVar[bool] = ContextVar("earnorm_aop_hard_delete", default=False)


class SoftDeletedError(PluginError, LookupError):
    """``get`` found a soft-deleted row, which it does not return (a ``LookupError``: not found)."""


class NoQuerysetError(PluginError, TypeError):
    """``with_deleted()`` on a model that has no queryset to widen."""


@contextmanager
def including_deleted() -> Iterator[None]:
    """Querysets built inside the block (and ``get``) include soft-deleted rows.

    ``with including_deleted(): Model.get_queryset()`` (Django:
    ``Model.objects.all()``).  Context-local: other threads and tasks still see
    the filtered queryset.  Cached reads are bypassed inside the block.
    """
    with including_hidden():
        yield


@contextmanager
def hard_deleting() -> Iterator[None]:
    """Deletes inside the block (``delete()``, bulk deletes) really remove rows."""
    token = _HARD.set(True)
    try:
        yield
    finally:
        _HARD.reset(token)


class SoftDeletePlugin:
    """Soft deletion: ``delete()`` sets ``deleted_at``; the default queryset hides deleted rows."""

    # One instance serves every model with the same options (it keeps no per-model state).
    shared_by_models = True

    name = "softdelete"
    version = "1.0.0"
    reads_rows = False  # its bulk advice narrows the statement: no row is read for it
    # Before every plugin but validation: the veto of a delete must come first,
    # and its around advice must be outermost so a soft bulk delete never
    # reaches the delete advice of audit or cache.
    priority = 90

    class Config(BaseModel):
        """Options of the ``softdelete`` plugin."""

        model_config = ConfigDict(extra="forbid")

        field: str = Field(
            "deleted_at", description="Nullable datetime field: when the row was deleted."
        )
        clock: CallableOption | None = Field(
            None,
            description=(
                "Callable returning the current datetime, or its dotted import path; "
                "default: the adapter's now() (aware UTC; Django: timezone.now())."
            ),
        )

        @field_validator("field")
        @classmethod
        def _identifier(cls, value: str) -> str:
            if not value.isidentifier():
                raise ValueError(f"the field name must be an identifier, not {value!r}")
            return value

    config: Config

    def __init__(self) -> None:
        self._field = self.config.field
        self._now: Callable[[Adapter], datetime] = clock_of(self.config.clock)

    def schema(self) -> Schema:
        """``deleted_at``: nullable, indexed (each default query filters on it); old rows: empty."""
        return Schema(fields=(FieldSpec(self._field, datetime | None, None, index=True),))

    @property
    def hidden_while_set(self) -> str:
        """The field whose rows are hidden while it is set (``deleted_at``).

        What an integration's UI reads to show and filter the hidden rows
        (Django's admin), knowing the plugin by what it does, not its name.
        """
        return self._field

    def visible_rows(self, model: type) -> dict[str, Any]:
        """The rows shown: ``deleted_at`` unset (all of them inside ``including_deleted()``).

        Also what lookups through relations match (Django:
        ``Author.objects.filter(articles__title="x")`` skips deleted articles).
        """
        if is_unfiltered():
            return {}
        return {self._field: None}

    def model_methods(self) -> dict[str, Any]:
        return {
            "restore": self._restore,
            "hard_delete": self._hard_delete,
            "with_deleted": classmethod(self._with_deleted),
        }

    # -- contributed model methods ------------------------------------------------

    # Each takes the model's ``adapter``, given when the plugin is woven (contributions.py).

    def _restore(self, instance: Any, adapter: Adapter) -> Any:
        """Undo a soft delete: clear ``deleted_at`` and save (awaitable on an async model).

        The record's values are read first where nothing was read yet (an
        EarnORM record from ``browse()`` or ``search()``).
        """
        read = adapter.read_if_unknown(instance)
        return then(read, lambda _: self._restore_read(instance, adapter))

    def _restore_read(self, instance: Any, adapter: Adapter) -> Any:
        if adapter.get_field(instance, self._field) is None:
            return adapter.finished(type(instance), None)
        adapter.set_field(instance, self._field, None)
        saved = within(
            lambda: acting(instance, "restore"),
            lambda: adapter.save_instance(instance, [self._field]),
        )
        return then(saved, lambda _: None)

    def _hard_delete(self, instance: Any, adapter: Adapter) -> Any:
        """Delete the row for real (through the other plugins' delete advice)."""
        return within(hard_deleting, lambda: adapter.delete_instance(instance))

    def _with_deleted(self, model: type, adapter: Adapter) -> Any:
        """The model's default queryset, soft-deleted rows included."""
        if not adapter.has_queryset(model):
            name = model.__qualname__
            raise NoQuerysetError(
                f"{name}.with_deleted() returns {name}'s queryset with soft-deleted rows, "
                f"but {name} has no queryset: give it a classmethod get_queryset() returning "
                "its rows (softdelete hides deleted ones there, with_deleted() shows them), "
                f"or read a deleted row with 'with including_deleted(): {name}.get(pk)'"
            )
        return within(including_deleted, lambda: adapter.queryset(model))

    # -- advice ---------------------------------------------------------------------

    @hook("before:delete", optional=True)
    def soft_delete(self, instance: Any, model: type, adapter: Adapter) -> Any:
        """Set ``deleted_at`` and save instead of deleting (veto); a second delete is a no-op."""
        if _HARD.get():
            return None
        if adapter.pk(instance) is None:
            return None  # never saved: let the ORM's own delete say so
        if adapter.get_field(instance, self._field) is not None:
            return False
        adapter.set_field(instance, self._field, self._now(adapter))
        saved = within(
            lambda: acting(instance, "soft_delete"),
            lambda: adapter.save_instance(instance, [self._field]),
        )
        # On an async model the save is awaited before the veto takes effect.
        return then(saved, lambda _: False)

    @hook("chain:get_queryset", optional=True)
    def hide_deleted(self, queryset: Any, model: type, adapter: Adapter) -> Any:
        """The default queryset without soft-deleted rows (unless including_deleted())."""
        if is_unfiltered():
            return queryset
        return adapter.filter(queryset, **{self._field: None})

    @hook("chain:get", optional=True)
    def hide_deleted_row(self, row: Any, model: type, adapter: Adapter) -> Any:
        """``get`` never returns a deleted row, even one that does not read the default queryset.

        A plain class's own ``get`` (a dict lookup) bypasses ``get_queryset``;
        an ORM's reads through it and never finds one here.  Inside
        ``including_deleted()`` the row is returned.
        """
        if not isinstance(row, model) or is_unfiltered():
            return row
        if adapter.get_field(row, self._field) is None:
            return row
        name = model.__qualname__
        raise SoftDeletedError(
            f"{name} {adapter.pk(row)!r} is soft-deleted, so {name}.get() does not return it; "
            f"read it inside 'with including_deleted():', or restore() it"
        )

    @hook("around:delete_many", optional=True)
    def soft_delete_many(
        self,
        instance: Any,
        model: type,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        proceed: Callable[..., Any],
        adapter: Adapter,
    ) -> Any:
        """A bulk delete becomes an update of ``deleted_at`` on the rows not yet deleted."""
        if _HARD.get():
            return proceed()
        queryset = adapter.filter(
            adapter.bulk_queryset(instance, args, kwargs), **{self._field: None}
        )
        with acting(queryset, "soft_delete"):
            count = adapter.update_queryset(model, queryset, {self._field: self._now(adapter)})
        return adapter.deleted_result(model, int(count))
