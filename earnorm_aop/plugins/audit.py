"""The ``audit`` plugin: what changed, who changed it, when — for every write.

Each write produces one [`AuditRecord`][earnorm_aop.plugins.audit.AuditRecord] per row: ``model``
(the adapter's label), ``id``, ``action``, ``changes`` (field -> ``(old, new)``), ``actor``
and ``time``.  The changes are the shared change tracking's
([`earnorm_aop.adapters.tracking`][earnorm_aop.adapters.tracking], run by the ``changes`` plugin,
which audit requires): ``old`` is the value when the instance was loaded or
last saved; an instance with no such state is being created and every set
field is a change from ``None``; a save that changes nothing records nothing.
Bulk writes are recorded row by row: ``save_many`` as creations,
``update_many`` with the rows read once just before the update (for every
plugin), database expressions (``F("views") + 1``, ``bulk_update()``)
evaluated in that read, ``delete_many`` with the last values; the records of
one bulk statement share its time and call context (one instant, one actor).  Actions are
``create``, ``update``, ``delete``, and ``soft_delete`` / ``restore`` for the
writes the softdelete plugin makes.

A save restricted to some fields (Django's ``update_fields``) records only
the fields it writes, and a save that writes nothing records
nothing; ``update(writer=obj)`` is recorded under ``writer_id``.

The plugin is one listener of the ``after_change`` event, which the
``lifecycle`` plugin fires once per changed row (woven by itself wherever a
plugin listens); with the page's own ``@hook("after_change")`` listener on the
model too, each runs once per write.  Each record goes to its sink:
``"table"`` — the model's own database through the ``audit store``
capability its integration provides
([`earnorm_aop.plugins.audit_store`][earnorm_aop.plugins.audit_store]; plain classes:
[`TABLE`][earnorm_aop.plugins.audit.TABLE], an in-memory list), in the write's transaction; a
bulk write's records together, through the store's ``write_audit_records`` (one multi-row INSERT
per statement: Django's ``bulk_create``, SQLAlchemy's ``executemany``; see
[`earnorm_aop.plugin_system.gathering`][earnorm_aop.plugin_system.gathering]) — or, once that
transaction commits (the adapter's ``defer``; never for a rolled-back write), the
``earnorm_aop.audit`` logger or a callable.

The actor is the one of [`earnorm_aop.context`][earnorm_aop.context] (``with context(actor="alice"):
note.save()``; Django: ``ContextMiddleware``); its request id, client address
(the extra ``client`` the middleware sets) and reason are fields of the record
too, carried by every sink (columns of the Django and SQLAlchemy tables).
Masked fields ([`earnorm_aop.plugin_system.masking`][earnorm_aop.plugin_system.masking]) are
recorded as changed, never with their values; a row whose primary key is masked is
named by a keyed hash of it (``"hmac:..."``), in every sink.  ``audit.actor(name)`` is the former
spelling of ``context(actor=name)``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..adapters import tracking
from ..adapters.base import Adapter, FieldSpec
from ..plugin_system.gathering import GATHERING, gather
from ..plugin_system.masking import redact_id
from ..plugin_system.schema import Index, Schema, Table
from ..plugin_system.spec import hook
from ..runtime.context import Context, context
from ._common import CallableOption, action_for, clock_of, settle, then
from .audit_store import TABLE, AuditStore, audit_store

__all__ = [
    "AUDIT_SCHEMA",
    "AUDIT_TABLE_NAME",
    "TABLE",
    "AuditPlugin",
    "AuditRecord",
    "actor",
    "current_actor",
]


@contextmanager
def actor(name: str | None) -> Iterator[None]:
    """``earnorm_aop.context(actor=name)``: kept for code written before the shared context."""
    with context(actor=name):
        yield


def current_actor() -> str | None:
    """The actor of the current [`earnorm_aop.context`][earnorm_aop.context], or ``None``."""
    return _actor_name(context.current())


def _actor_name(current: Context) -> str | None:
    # A record's actor is text: a user object set by middleware is written as str().
    who = current.actor
    return who if who is None or isinstance(who, str) else str(who)


@dataclass(frozen=True)
class AuditRecord:
    """One audited write of one row, with the call context it was made in."""

    model: str
    id: Any
    action: str
    changes: dict[str, tuple[Any, Any]]
    actor: str | None
    time: datetime
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    request_id: str | None = None
    client: str | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The columns of an audit table: what every sink carries (table, log, callable)."""
        return {
            "model": self.model,
            "id": self.id,
            "action": self.action,
            "changes": dict(self.changes),
            "actor": self.actor,
            "time": self.time,
            "request_id": self.request_id,
            "client": self.client,
            "reason": self.reason,
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
        # Of the call context (earnorm_aop.context): which request, from where, why.
        FieldSpec("request_id", str | None),
        FieldSpec("client", str | None),
        FieldSpec("reason", str | None),
    ),
    indexes=(Index(("model",)),),
)
"""What the audit table holds: who changed which row of which model how, and when."""


class AuditPlugin:
    """Record every write (field -> (old, new), actor, time): a listener of ``after_change``."""

    # One instance serves every model with the same options (it keeps no per-model state).
    shared_by_models = True

    name = "audit"
    version = "1.0.0"
    requires = ("changes", "lifecycle")  # it listens to after_change, which lifecycle fires
    # Of a bulk update's rows its diff compares only the written fields (and the
    # plugins' own, updated_at): only those columns are read for it.
    reads_rows = "written"
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
                "database (its integration's audit store); or a callable taking an "
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
        # The audit store of each adapter met (one: a plugin instance serves one model).
        self._stores: dict[Adapter, AuditStore] = {}

    @property
    def history_sink(self) -> str:
        """Where the records go: ``"table"`` (a history to show), ``"logging"`` or ``"callable"``.

        What an integration's UI reads (Django's admin "History" page), knowing
        the plugin by what it does, not its name.
        """
        sink = self.config.sink
        return sink if isinstance(sink, str) else "callable"

    def schema(self) -> Schema:
        """With the ``table`` sink: the shared table
        [`AUDIT_TABLE_NAME`][earnorm_aop.plugins.audit.AUDIT_TABLE_NAME] (one row per record).

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
    ) -> Any:
        """Deliver one record; an awaitable when the sink's write is (EarnORM's table).

        Masked fields (earnorm_aop.plugin_system.masking) never leave in clear:
        the ``after_change`` payload has them redacted already (the lifecycle
        plugin does it), so the record, its log line and its row do too.
        """
        if not changes and action == "update" and not self.config.record_unchanged:
            return None
        sink = self.config.sink
        open_ = GATHERING.get() if sink == "table" else None
        if open_ is not None:
            # A bulk write's row: its records go out together, one multi-row INSERT.
            # One statement, one instant, one context: the first record's are the others'.
            store = self._stores.get(adapter) or self._stores.setdefault(
                adapter, audit_store(adapter)
            )
            rows = gather(open_, (self, model), store.write_audit_records, model)
            if rows:
                row = dict(rows[0])
                row.update(id=redact_id(model, pk), action=action, changes=changes)
                rows.append(row)
                return None
        current = context.current()
        record = AuditRecord(
            model=adapter.model_label(model),
            id=redact_id(model, pk),  # a masked key: its keyed hash (masking.redact_id)
            action=action,
            changes=changes,
            actor=_actor_name(current),
            time=self._now(adapter),
            extra=_context_extra(current),
            request_id=current.request_id,
            client=None if (client := current.extra.get("client")) is None else str(client),
            reason=current.reason,
        )
        if open_ is not None:
            rows.append(record.as_dict())  # the first of its statement
            return None
        if sink == "table":
            # In the same transaction as the data: it commits or rolls back with it.
            store = self._stores.get(adapter) or self._stores.setdefault(
                adapter, audit_store(adapter)
            )
            return store.write_audit_record(model, record.as_dict())
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

    # -- the listener -----------------------------------------------------------------

    @hook("after_change")
    def record_change(
        self,
        instance: Any,
        model: type,
        changes: dict[str, tuple[Any, Any]],
        action: str,
        pk: Any,
        subject: Any,
        adapter: Adapter,
    ) -> Any:
        """One record per changed row (the ``lifecycle`` plugin fires it, once per row)."""
        return self._record(adapter, model, instance, pk, action, self._kept(changes), subject)

    @property
    def unused_hooks(self) -> frozenset[str]:
        """Saves that change nothing are seen only with ``record_unchanged``: woven only then."""
        return frozenset() if self.config.record_unchanged else frozenset({"record_unchanged"})

    @hook("around:save|update", optional=True)
    def record_unchanged(
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
        """With ``record_unchanged``: a save of a loaded record that changed nothing is recorded.

        ``after_change`` does not fire for it (nothing changed), so this advice
        records it itself, reading the write's record (a save's, shared with the
        write's other advice).
        """
        if adapter.saves_nothing(args, kwargs):
            return proceed()
        rec = write.instance_record()
        if rec.created or action_for(instance) is not None:
            return proceed()

        def record(result: Any) -> Any:
            if rec.diff():  # as written (the record is the write's, not this advice's)
                return result  # a change: recorded as the listener of after_change
            stored = self._record(adapter, model, instance, adapter.pk(instance), "update", {})
            return settle([stored], result)

        return then(proceed(), record)


def _context_extra(current: Context) -> dict[str, Any]:
    """The reason and request id of the context, for sinks that want more than the actor."""
    return {
        k: v
        for k, v in (("reason", current.reason), ("request_id", current.request_id))
        if v is not None
    }
