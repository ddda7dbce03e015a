"""The ``audit`` plugin: what changed, who changed it, when — for every write.

Each write produces one :class:`AuditRecord` per row: ``model`` (the adapter's
label), ``id``, ``action``, ``changes`` (field -> ``(old, new)``), ``actor``
and ``time``.  The changes are the shared change tracking's
(:mod:`earnorm_aop.adapters.tracking`, run by the ``changes`` plugin,
which audit requires): ``old`` is the value when the instance was loaded or
last saved; an instance with no such state is being created and every set
field is a change from ``None``; a save that changes nothing records nothing.
Bulk writes are recorded row by row: ``save_many`` as creations,
``update_many`` with the rows read once just before the update (for every
plugin), database expressions (``F("views") + 1``, ``bulk_update()``)
evaluated in that read, ``delete_many`` with the last values.  Actions are
``create``, ``update``, ``delete``, and ``soft_delete`` / ``restore`` for the
writes the softdelete plugin makes.

A save restricted to some fields (Django's ``update_fields``) records only
the fields it writes, and a save that writes nothing records
nothing; ``update(writer=obj)`` is recorded under ``writer_id``.

For each record the plugin fires the ``after_change`` event on the instance
(``emit(instance, "after_change", changes=..., action=..., record=...)``), then
writes the record to its sink: ``"table"`` — the model's own database through
the adapter's ``write_audit_record`` (plain classes: :data:`TABLE`, an
in-memory list), in the write's transaction — or, once that transaction
commits (the adapter's ``defer``; never for a rolled-back write), the
``earnorm_aop.audit`` logger or a callable.

The actor is the one of :data:`earnorm_aop.context` (``with context(actor="alice"):
note.save()``; Django: ``ContextMiddleware``); its reason and request id go in
the record's ``extra``.  Masked fields (:mod:`earnorm_aop.plugin_system.masking`) are
recorded as changed, never with their values.  ``audit.actor(name)`` is the
former spelling of ``context(actor=name)``.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..adapters import tracking
from ..adapters.base import AUDIT_TABLE, Adapter, FieldSpec
from ..plugin_system.events import emit
from ..plugin_system.masking import redact_changes
from ..plugin_system.schema import Index, Schema, Table
from ..plugin_system.spec import hook
from ..runtime.context import Context, context
from ._common import CallableOption, action_for, call_with, clock_of, settle, then

__all__ = [
    "AUDIT_SCHEMA",
    "AUDIT_TABLE_NAME",
    "TABLE",
    "AuditPlugin",
    "AuditRecord",
    "actor",
    "current_actor",
]

TABLE = AUDIT_TABLE
"""The in-memory audit table of plain classes (the ``table`` sink without an ORM)."""


@contextmanager
def actor(name: str | None) -> Iterator[None]:
    """``earnorm_aop.context(actor=name)``: kept for code written before the shared context."""
    with context(actor=name):
        yield


def current_actor() -> str | None:
    """The actor of the current :data:`earnorm_aop.context`, or ``None``."""
    return _actor_name(context.current())


def _actor_name(current: Context) -> str | None:
    # A record's actor is text: a user object set by middleware is written as str().
    who = current.actor
    return who if who is None or isinstance(who, str) else str(who)


@dataclass(frozen=True)
class AuditRecord:
    """One audited write of one row."""

    model: str
    id: Any
    action: str
    changes: dict[str, tuple[Any, Any]]
    actor: str | None
    time: datetime
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def as_dict(self) -> dict[str, Any]:
        """The six columns of an audit table."""
        return {
            "model": self.model,
            "id": self.id,
            "action": self.action,
            "changes": dict(self.changes),
            "actor": self.actor,
            "time": self.time,
        }


AUDIT_TABLE_NAME = "earnorm_aop_audit"
"""The table (EarnORM: collection) of the ``table`` sink."""

AUDIT_SCHEMA = Table(
    AUDIT_TABLE_NAME,
    columns=(
        FieldSpec("model", str),
        FieldSpec("object_id", str),
        FieldSpec("action", str),
        FieldSpec("changes", dict[str, Any]),
        FieldSpec("actor", str | None),
        FieldSpec("time", datetime),
    ),
    indexes=(Index(("model",)),),
)
"""What the audit table holds: who changed which row of which model how, and when."""


class AuditPlugin:
    """Record every write (field -> (old, new), actor, time) and fire ``after_change``."""

    name = "audit"
    version = "1.0.0"
    requires = ("changes",)  # its diffs and bulk reads are the shared tracking's
    fires = ("after_change",)  # what explain()'s diagrams draw as fired by this plugin
    # Below timestamp (50): its around advice is inside timestamp's, so the
    # values it records include the stamped times.
    priority = 10

    class Config(BaseModel):
        """Options of the ``audit`` plugin."""

        model_config = ConfigDict(extra="forbid")

        sink: Literal["logging", "table"] | CallableOption = Field(
            "logging",
            description=(
                "'logging': the logger named by 'logger'; 'table': the model's own "
                "database (adapter.write_audit_record); or a callable taking an "
                "AuditRecord, or its dotted import path."
            ),
        )
        logger: str = Field("earnorm_aop.audit", description="Logger of the 'logging' sink.")
        exclude: list[str] = Field(
            default_factory=list,
            description="Fields never reported as changes (e.g. ['updated_at']).",
        )
        record_unchanged: bool = Field(
            False, description="Also record (and emit) saves that changed no field."
        )
        clock: CallableOption | None = Field(
            None,
            description=(
                "Callable returning the record time; "
                "default: the adapter's now() (aware UTC; Django: timezone.now())."
            ),
        )

    config: Config

    def __init__(self) -> None:
        cfg = self.config
        self._exclude = frozenset(cfg.exclude)
        self._now: Callable[[Adapter], datetime] = clock_of(cfg.clock)
        self._log = logging.getLogger(cfg.logger)

    def schema(self) -> Schema:
        """With the ``table`` sink: the shared table :data:`AUDIT_TABLE_NAME` (one row per record).

        Integrations that define it (Django's ``AuditRecord`` model,
        SQLAlchemy's ``audit_table``) use their own definition; the columns
        here say what it holds.  Other sinks store nothing.
        """
        if self.config.sink != "table":
            return Schema()
        return Schema(tables=(AUDIT_SCHEMA,))

    # -- records --------------------------------------------------------------------

    def _kept(self, changes: Mapping[str, tuple[Any, Any]]) -> dict[str, tuple[Any, Any]]:
        """``changes`` without the excluded fields."""
        return {n: c for n, c in changes.items() if n not in self._exclude}

    def _record(
        self,
        adapter: Adapter,
        model: type,
        instance: Any,
        pk: Any,
        action: str,
        changes: dict[str, tuple[Any, Any]],
        subject: Any = None,
        batch: list[dict[str, Any]] | None = None,
    ) -> Any:
        """Emit and deliver one record; an awaitable when the sink's write is (EarnORM's table).

        ``batch``: a bulk write's records for the ``table`` sink, written
        together by :meth:`_write_batch` (one statement) instead of one by one.
        """
        if not changes and action == "update" and not self.config.record_unchanged:
            return None
        # Masked fields (earnorm_aop.plugin_system.masking) never leave in clear: not in the
        # record, its log line, nor the after_change payload.
        changes = redact_changes(model, changes)
        current = context.current()
        record = AuditRecord(
            model=adapter.model_label(model),
            id=pk,
            action=action,
            changes=changes,
            actor=_actor_name(current),
            time=self._now(adapter),
            extra=_context_extra(current),
        )
        emit(instance, "after_change", changes=changes, action=action, record=record)
        sink = self.config.sink
        if sink == "table":
            # In the same transaction as the data: it commits or rolls back with it.
            if batch is not None:
                batch.append(record.as_dict())
                return None
            return adapter.write_audit_record(model, record.as_dict())
        # The log and a callable are outside the database: they hear of the
        # write once it is committed, never of one that is rolled back.
        deliver = self._to_log if sink == "logging" else sink
        adapter.defer(
            model,
            instance if subject is None else subject,
            lambda: deliver(record),
            robust=True,
        )
        return None

    def _batch(self) -> list[dict[str, Any]] | None:
        """A list collecting a bulk write's records for the ``table`` sink, else ``None``."""
        return [] if self.config.sink == "table" else None

    @staticmethod
    def _write_batch(
        adapter: Adapter, model: type, batch: list[dict[str, Any]] | None
    ) -> list[Any]:
        """Write a bulk write's records at once (Django: bulk_create; SQLAlchemy: executemany)."""
        if not batch:
            return []
        return list(adapter.write_audit_records(model, batch))

    def _settled(
        self, adapter: Adapter, model: type, batch: list[dict[str, Any]] | None, result: Any
    ) -> Any:
        """Write the batch; the result (awaiting the records' writes where they are async)."""
        stored = self._write_batch(adapter, model, batch)
        return result if inspect.isawaitable(result) else settle(stored, result)

    def _to_log(self, record: AuditRecord) -> None:
        self._log.info(
            "%s %s id=%r by %s: %s",
            record.action,
            record.model,
            record.id,
            record.actor or "(no actor)",
            record.changes,
            extra={"audit": record.as_dict()},
        )

    # -- single rows ------------------------------------------------------------------

    @hook("around:save|update", optional=True)
    def audit_save(
        self,
        instance: Any,
        model: type,
        method: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        proceed: Callable[..., Any],
        adapter: Adapter,
    ) -> Any:
        """Record the write's changes from the shared tracking (diffed after the write).

        A save restricted to some fields (Django's ``update_fields``) records only
        those: the others keep their loaded value, so their own later write is
        recorded.  A save that writes nothing records nothing.
        """
        if adapter.saves_nothing(args, kwargs):
            return proceed()
        operation = "update" if method == "update" else "save"
        rec = tracking.instance_record(operation, adapter, model, instance, args, kwargs)
        action = action_for(instance) or ("create" if rec.created else "update")

        def record(result: Any) -> Any:
            changes = self._kept(rec.changes)
            stored = self._record(adapter, model, instance, adapter.pk(instance), action, changes)
            return settle([stored], result)

        # On an async model, recorded once the write has been awaited.
        return then(proceed(), record)

    @hook("around:delete", optional=True)
    def audit_delete(
        self,
        instance: Any,
        model: type,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        proceed: Callable[..., Any],
        adapter: Adapter,
    ) -> Any:
        """Record a delete with the last values (the key is read first: a delete clears it)."""
        pk = adapter.pk(instance)
        rec = tracking.instance_record("delete", adapter, model, instance, args, kwargs)

        def record(result: Any) -> Any:
            stored = self._record(adapter, model, instance, pk, "delete", self._kept(rec.changes))
            return settle([stored], result)

        return then(proceed(), record)

    # -- bulk writes --------------------------------------------------------------------

    @hook("around:save_many", optional=True)
    def audit_save_many(
        self,
        model: type,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        proceed: Callable[..., Any],
        adapter: Adapter,
    ) -> Any:
        """Record each object of a bulk insert as a creation."""
        objs, args, kwargs = adapter.bulk_objects(args, kwargs)

        def record(result: Any) -> Any:
            stored = []
            batch = self._batch()
            for obj in objs:
                changes = self._kept(tracking.Record(adapter, obj, None).changes)
                pk = adapter.pk(obj)
                stored.append(self._record(adapter, model, obj, pk, "create", changes, None, batch))
            stored += self._write_batch(adapter, model, batch)
            return settle(stored, result)

        return then(call_with(proceed, args, kwargs), record)

    @hook("around:update_many", optional=True)
    def audit_update_many(
        self,
        instance: Any,
        model: type,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        proceed: Callable[..., Any],
        adapter: Adapter,
    ) -> Any:
        """Record each matched row with its values before and after the bulk update.

        The rows come from the shared read made before the write (the
        ``changes`` plugin's), expressions evaluated by it; a value added by a
        plugin inside (timestamp's ``updated_at``) is taken as written, and an
        expression added there is read back after the write (one more query).
        """
        queryset = adapter.bulk_queryset(instance, args, kwargs)
        action = action_for(queryset) or "update"
        values = adapter.update_values(args, kwargs)
        rows = tracking.records("update_many", adapter, model, queryset, args, kwargs)
        frame = tracking.bulk_frame(queryset)
        known = frame.values if frame is not None else values
        result = proceed()
        if frame is not None:
            tracking.apply(frame)  # the rows as stored, for after_change handlers
        late = [n for n, v in values.items() if adapter.is_expression(v) and n not in known]
        stored = (
            adapter.reread(queryset, [adapter.pk(r.instance) for r in rows], late)
            if late and rows
            else {}
        )
        plain = {
            adapter.attname(model, n): adapter.stored_value(model, n, v)
            for n, v in values.items()
            if not adapter.is_expression(v)
        }
        names = {adapter.attname(model, n) for n in values}
        batch = self._batch()
        for rec in rows:
            old = rec.old_values
            new = {n: rec.after(n) for n in names}
            new.update(plain)
            new.update(stored.get(adapter.pk(rec.instance), {}))
            changes = {
                n: (old.get(n), v)
                for n, v in new.items()
                if n not in self._exclude and v is not tracking.UNKNOWN and old.get(n) != v
            }
            pk = adapter.pk(rec.instance)
            self._record(adapter, model, rec.instance, pk, action, changes, queryset, batch)
        return self._settled(adapter, model, batch, result)

    @hook("around:delete_many", optional=True)
    def audit_delete_many(
        self,
        instance: Any,
        model: type,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        proceed: Callable[..., Any],
        adapter: Adapter,
    ) -> Any:
        """Record each matched row of a bulk delete with its last values (the shared read)."""
        queryset = adapter.bulk_queryset(instance, args, kwargs)
        rows = tracking.records("delete_many", adapter, model, queryset, args, kwargs)
        result = proceed()
        batch = self._batch()
        for rec in rows:
            changes = self._kept(rec.changes)
            pk = adapter.pk(rec.instance)
            self._record(adapter, model, rec.instance, pk, "delete", changes, queryset, batch)
        return self._settled(adapter, model, batch, result)


def _context_extra(current: Context) -> dict[str, Any]:
    """The reason and request id of the context, for sinks that want more than the actor."""
    return {
        k: v
        for k, v in (("reason", current.reason), ("request_id", current.request_id))
        if v is not None
    }
