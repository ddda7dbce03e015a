"""The ``timestamp`` plugin: ``created_at`` on the first save, ``updated_at`` on every write.

Every write path is stamped, not only ``save``: ``update`` sets
``updated_at`` with the values it writes, ``save_many`` (Django's
``bulk_create``) stamps each object, and ``update_many`` (Django's
``QuerySet.update``) adds ``updated_at`` to the values, so rows changed in bulk
are not left with a stale time.  Times come from the adapter's ``now()``
(timezone-aware UTC; Django: ``timezone.now()``) unless ``clock`` says
otherwise.  The plugin contributes both fields to models that lack them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..adapters import tracking
from ..adapters.base import Adapter, FieldSpec
from ..adapters.capabilities import provided
from ..adapters.capability_keys import WRITE_STAMPS
from ..plugin_system.conditions import per_model
from ..plugin_system.schema import Backfill, Schema
from ..plugin_system.spec import hook
from ._common import CallableOption, call_with, clock_of

__all__ = ["WRITE_STAMPS", "PlainStamps", "TimestampPlugin"]

# What timestamp asks of an ORM that sets some fields itself (a capability): whether the ORM
# sets a field on every write, whatever the values; then a save that changes nothing still
# changes it, and the no-op rule cannot hold for it.  Its key and protocol
# (``Stamps.stamps_on_write``) are declared below the plugins (adapters/capability_keys.py);
# EarnORM provides it (its ``auto_now`` ``updated_at``), PlainStamps says never.


class PlainStamps:
    """Plain classes (and Django, SQLAlchemy): the ORM stamps nothing by itself."""

    def __init__(self, adapter: Adapter) -> None:
        self.adapter = adapter

    def stamps_on_write(self, model: type, name: str) -> bool:
        return False


class TimestampPlugin:
    """Stamp ``created_at`` once and ``updated_at`` on every save and bulk write."""

    # One instance serves every model with the same options (it keeps no per-model state).
    shared_by_models = True

    name = "timestamp"
    version = "1.0.0"
    reads_rows = False  # its bulk advice adds updated_at to the statement: no row is read for it
    requires = ("changes",)  # a save that changes nothing is told by the shared tracking
    priority = 50  # after validation (100) and softdelete (90): stamp only what is written

    class Config(BaseModel):
        """Options of the ``timestamp`` plugin."""

        model_config = ConfigDict(extra="forbid")

        created_field: str = Field(
            "created_at", description="Field set once, on the first save (when it is empty)."
        )
        updated_field: str = Field(
            "updated_at", description="Field set on every save, update and bulk write."
        )
        touch_on_noop: bool = Field(
            False,
            description=(
                "Also bump updated_field on a save of a loaded instance that changes "
                "no other field (default: such a save keeps its time)."
            ),
        )
        clock: CallableOption | None = Field(
            None,
            description=(
                "Callable returning the current datetime, or its dotted import path; "
                "default: the adapter's now() (aware UTC; Django: timezone.now())."
            ),
        )
        backfill_created_from: str | None = Field(
            None,
            description=(
                "When the plugin is added to a table that has rows, the field whose value "
                "they get in created_field (e.g. an existing 'published' date); default: "
                "the time the migration runs."
            ),
        )
        backfill_updated_from: str | None = Field(
            None,
            description=("The same for updated_field; default: the time the migration runs."),
        )

        @model_validator(mode="after")
        def _distinct(self) -> TimestampPlugin.Config:
            names = (self.created_field, self.updated_field)
            sources = (self.backfill_created_from, self.backfill_updated_from)
            for value in names + tuple(s for s in sources if s is not None):
                if not value.isidentifier():
                    raise ValueError(f"field names must be identifiers, not {value!r}")
            if self.created_field == self.updated_field:
                raise ValueError("created_field and updated_field must differ")
            return self

    config: Config

    def __init__(self) -> None:
        self._created = self.config.created_field
        self._updated = self.config.updated_field
        self._now: Callable[[Adapter], datetime] = clock_of(self.config.clock)
        self._touch = self.config.touch_on_noop

    def schema(self) -> Schema:
        """Both timestamps, nullable (``None`` until the first save); old rows get now.

        Or the value of the fields ``backfill_created_from`` /
        ``backfill_updated_from`` name, so a table with a ``published`` date
        keeps its history.
        """
        config = self.config
        return Schema(
            fields=(
                FieldSpec(self._created, datetime | None, None),
                FieldSpec(self._updated, datetime | None, None),
            ),
            backfills=(
                Backfill(self._created, from_field=config.backfill_created_from),
                Backfill(self._updated, from_field=config.backfill_updated_from),
            ),
        )

    @staticmethod
    def _unchanged(rec: tracking.Record, own: frozenset[str]) -> bool:
        """Whether this save of a persisted instance changes no field but ``own`` (the stamps).

        Asked of the write's record as the values are now (``diff``), so the
        ``after_change`` event, asked after the write, sees the stamps too.
        """
        if rec.created:
            return False
        return all(name in own for name in rec.diff())

    def _save_stamper(self, model: type, adapter: Adapter) -> Callable[..., Any]:
        """[`stamp_save`][earnorm_aop.plugins.timestamp.TimestampPlugin.stamp_save] for ``model``,
        with what its ORM and fields decide taken now.

        Whether a save that changes nothing keeps its time (not with
        ``touch_on_noop``, nor where the ORM restamps ``updated_at`` itself:
        the ``stamps on write`` capability), and the stamps' names as a
        record names them.
        """
        stamps = provided(adapter, WRITE_STAMPS, PlainStamps)
        check = not self._touch and not stamps.stamps_on_write(model, self._updated)
        own = frozenset(
            {adapter.attname(model, self._created), adapter.attname(model, self._updated)}
        )
        unchanged = self._unchanged
        stamp = self._stamp
        now = self._now

        def stamp_save(
            instance: Any,
            args: tuple[Any, ...],
            kwargs: dict[str, Any],
            proceed: Callable[..., Any],
            adapter: Adapter,
            write: tracking.Write,
        ) -> Any:
            if adapter.saves_nothing(args, kwargs):
                return proceed()  # nothing is written, so nothing is stamped
            rec = write.record
            assert rec is not None  # a save's write has its record
            if check and unchanged(rec, own):
                return proceed()
            names = stamp(adapter, instance, now(adapter))
            args, kwargs = adapter.with_save_fields(instance, args, kwargs, names)
            if rec.written is not None:  # a restricted save: it writes the stamps too
                rec.writes_also(own)
            return call_with(proceed, args, kwargs)

        return stamp_save

    def _stamp(self, adapter: Any, obj: Any, now: datetime) -> list[str]:
        """Set the timestamps of ``obj`` about to be saved; return the fields set."""
        adapter.set_field(obj, self._updated, now)
        if adapter.get_field(obj, self._created) is None:
            adapter.set_field(obj, self._created, now)
            return [self._updated, self._created]
        return [self._updated]

    @hook("around:save", optional=True)
    @per_model(lambda plugin, model, operation, adapter: plugin._save_stamper(model, adapter))
    def stamp_save(
        self,
        instance: Any,
        model: type,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        proceed: Callable[..., Any],
        adapter: Adapter,
        write: tracking.Write,
    ) -> Any:
        """created_at if empty, updated_at on a save that changes something.

        Both are added to a restricted save's fields.  A save of a loaded (or
        saved) instance whose fields are all unchanged keeps its ``updated_at``
        unless ``touch_on_noop``.  Woven as ``_save_stamper`` makes it for
        the model (this method is what it does, for a call from elsewhere).
        """
        stamp_save = self._save_stamper(model, adapter)
        return stamp_save(instance, args, kwargs, proceed, adapter, write)

    @hook("around:update|update_many", optional=True)
    def stamp_update(
        self,
        instance: Any,
        model: type,
        method: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        proceed: Callable[..., Any],
        adapter: Adapter,
        write: tracking.Write,
    ) -> Any:
        """Write updated_at with the values, unless the caller sets it explicitly."""
        values = adapter.update_values(args, kwargs)
        if self._updated in values:
            return proceed()
        stamp = {self._updated: self._now(adapter)}
        values.update(stamp)
        if not isinstance(instance, model):  # a bulk update: its records store the stamp too
            write.note_values(stamp)
        elif write.record is not None:  # the instance's record (made before): the stamp too
            name = self._updated
            write.record.store(
                {adapter.attname(model, name): adapter.stored_value(model, name, stamp[name])}
            )
        args, kwargs = adapter.with_update_values(args, kwargs, values)
        return call_with(proceed, args, kwargs)

    @hook("around:save_many", optional=True)
    def stamp_save_many(
        self,
        model: type,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        proceed: Callable[..., Any],
        adapter: Adapter,
    ) -> Any:
        """Stamp every object of a bulk insert with one time."""
        objs, args, kwargs = adapter.bulk_objects(args, kwargs)
        now = self._now(adapter)
        for obj in objs:
            self._stamp(adapter, obj, now)
        return call_with(proceed, args, kwargs)
