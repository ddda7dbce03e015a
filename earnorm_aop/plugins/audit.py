"""The ``audit`` plugin: what changed, who changed it, when — for every write.

Each write produces one :class:`AuditRecord` per row: ``model`` (the adapter's
label), ``id``, ``action``, ``changes`` (field -> ``(old, new)``), ``actor``
and ``time``.  ``old`` is the value when the instance was loaded or last
saved (the adapter's :meth:`~earnorm_aop.integrations.base.Adapter.loaded_state`);
an instance with no such state is being created and every set field is a
change from ``None``.  Bulk writes are recorded row by row: ``save_many`` as
creations, ``update_many`` with the old values read just before the update
(one extra query) — and, for fields written with a database expression
(``F("views") + 1``, ``bulk_update()``), the new values read back just after
it (one more) — ``delete_many`` with the last values.  Actions are
``create``, ``update``, ``delete``, and ``soft_delete`` / ``restore`` for the
writes the softdelete plugin makes.

A save restricted to some fields (Django's ``update_fields``) records and
remembers only the fields it writes, and a save that writes nothing records
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
the record's ``extra``.  Masked fields (:mod:`earnorm_aop.masking`) are
recorded as changed, never with their values.  ``audit.actor(name)`` is the
former spelling of ``context(actor=name)``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..call_context import Context, context
from ..events import emit
from ..integrations.base import AUDIT_TABLE, Adapter, adapter_for
from ..masking import redact_changes
from ..plugin_spec import hook
from ._common import CallableOption, action_for, call_with, clock_of, settle, then

__all__ = ["TABLE", "AuditPlugin", "AuditRecord", "actor", "current_actor"]

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


class AuditPlugin:
    """Record every write (field -> (old, new), actor, time) and fire ``after_change``."""

    name = "audit"
    version = "1.0.0"
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

    # -- records --------------------------------------------------------------------

    def _removed(self, last: Mapping[str, Any]) -> dict[str, Any]:
        """The changes of a deletion: each set field's last value -> ``None``."""
        return {n: (v, None) for n, v in _set(last).items() if n not in self._exclude}

    def _diff(self, old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> dict[str, Any]:
        before = old or {}
        return {
            name: (before.get(name), value)
            for name, value in new.items()
            if name not in self._exclude and before.get(name) != value
        }

    def _record(
        self,
        adapter: Adapter,
        model: type,
        instance: Any,
        pk: Any,
        action: str,
        changes: dict[str, tuple[Any, Any]],
        subject: Any = None,
    ) -> Any:
        """Emit and deliver one record; an awaitable when the sink's write is (EarnORM's table)."""
        if not changes and action == "update" and not self.config.record_unchanged:
            return None
        # Masked fields (earnorm_aop.masking) never leave in clear: not in the
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
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        proceed: Callable[..., Any],
    ) -> Any:
        """Diff the fields the write writes against their loaded (or last saved) values.

        A save restricted to some fields (Django's ``update_fields``) records
        and remembers only those: the others keep their loaded value, so their
        own later write is recorded.  A save that writes nothing records nothing.
        """
        adapter = adapter_for(model)
        if adapter.saves_nothing(args, kwargs):
            return proceed()
        written = adapter.saved_fields(model, args, kwargs)
        old = adapter.loaded_state(instance)
        action = action_for(instance) or ("create" if old is None else "update")

        def record(result: Any) -> Any:
            new = adapter.snapshot(instance)
            if written is not None and old is not None:
                new = {n: v for n, v in new.items() if n in written}
                adapter.remember_state(instance, {**old, **new})
            else:
                adapter.remember_state(instance, new)
            changes = self._diff(old, new)
            stored = self._record(adapter, model, instance, adapter.pk(instance), action, changes)
            return settle([stored], result)

        # On an async model, recorded once the write has been awaited.
        return then(proceed(), record)

    @hook("around:delete", optional=True)
    def audit_delete(self, instance: Any, model: type, proceed: Callable[..., Any]) -> Any:
        """Record a delete with the last values (the key is read first: a delete clears it)."""
        adapter = adapter_for(model)
        pk = adapter.pk(instance)
        last = adapter.loaded_state(instance) or adapter.snapshot(instance)

        def record(result: Any) -> Any:
            adapter.forget_state(instance)
            stored = self._record(adapter, model, instance, pk, "delete", self._removed(last))
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
    ) -> Any:
        """Record each object of a bulk insert as a creation."""
        adapter = adapter_for(model)
        objs, args, kwargs = adapter.bulk_objects(args, kwargs)

        def record(result: Any) -> Any:
            stored = []
            for obj in objs:
                new = adapter.snapshot(obj)
                adapter.remember_state(obj, new)
                changes = self._diff(None, new)
                stored.append(self._record(adapter, model, obj, adapter.pk(obj), "create", changes))
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
    ) -> Any:
        """Record each matched row with its values before and after the bulk update."""
        adapter = adapter_for(model)
        queryset = adapter.bulk_queryset(instance, args, kwargs)
        action = action_for(queryset) or "update"
        rows = adapter.fetch(queryset)
        values = adapter.update_values(args, kwargs)
        result = proceed()
        # ``update(writer=obj)`` writes ``writer_id``: the name snapshots use.
        stored_as = {n: adapter.attname(model, n) for n in values}
        # What an expression (F("views") + 1, bulk_update's Case) wrote only the
        # database knows: those fields are read back by primary key (one more query).
        computed = [n for n, v in values.items() if adapter.is_expression(v)]
        stored = (
            adapter.reread(queryset, [adapter.pk(r) for r in rows], computed)
            if computed and rows
            else {}
        )
        for row in rows:
            old = adapter.snapshot(row)
            for name, value in values.items():
                if name not in computed:
                    adapter.set_field(row, name, value)
            written = stored.get(adapter.pk(row), {})
            for name, value in written.items():
                adapter.set_field(row, name, value)
            new = adapter.snapshot(row)
            adapter.remember_state(row, new)
            names = [*stored_as.values(), *written]
            changes = self._diff(old, {n: new[n] for n in names if n in new})
            self._record(adapter, model, row, adapter.pk(row), action, changes, queryset)
        return result

    @hook("around:delete_many", optional=True)
    def audit_delete_many(
        self,
        instance: Any,
        model: type,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        proceed: Callable[..., Any],
    ) -> Any:
        """Record each matched row of a bulk delete with its last values."""
        adapter = adapter_for(model)
        queryset = adapter.bulk_queryset(instance, args, kwargs)
        rows = adapter.fetch(queryset)
        result = proceed()
        for row in rows:
            last = adapter.snapshot(row)
            changes = self._removed(last)
            self._record(adapter, model, row, adapter.pk(row), "delete", changes, queryset)
        return result


def _context_extra(current: Context) -> dict[str, Any]:
    """The reason and request id of the context, for sinks that want more than the actor."""
    return {
        k: v
        for k, v in (("reason", current.reason), ("request_id", current.request_id))
        if v is not None
    }


def _set(values: Mapping[str, Any]) -> dict[str, Any]:
    """The fields that have a value (a creation reports those, not every ``None``)."""
    return {n: v for n, v in values.items() if v is not None}
