"""The ``lifecycle`` plugin: the system's own events, fired on every write and fetch.

A model gets it by itself as soon as one of its plugins listens to a
lifecycle event
([`earnorm_aop.plugin_system.events.LIFECYCLE`][earnorm_aop.plugin_system.events.LIFECYCLE]): the
page's ``@hook("after_change") def log_change(self, instance, changes)`` is called after every write
that changes a record, on every adapter, without naming this plugin.  A model nobody listens on
never has it woven, so it pays nothing.

- ``after_change`` -- after each write that changes a row, inside the write's
  transaction: ``save`` (create or update), ``update``, ``delete``,
  ``save_many`` (each object a creation), ``update_many`` / ``delete_many``
  (once per affected row, from the shared read of the ``changes`` plugin),
  and the softdelete plugin's soft delete and restore.  Payload: ``instance``,
  ``changes`` (field -> ``(old, new)``, masked fields redacted), ``action``
  (``create``, ``update``, ``delete``, ``soft_delete``, ``restore``), ``pk``
  (read before a delete clears it) and ``subject`` (what the write was called
  on: the instance, or the queryset of a bulk write).  A save that changes
  nothing fires nothing.  A bulk write fires its rows' events inside one
  [`gathering`][earnorm_aop.plugin_system.gathering.gathering], where a
  listener may make its per-row writes at once (audit: one INSERT).
- ``after_commit_change`` -- the same, once the write's transaction commits
  (never for a rolled-back write; at once where there is no transaction), as
  ``after_commit:save`` advice is to ``after:save``.
- ``after_access`` -- after ``get`` returns a record (a cache hit too):
  ``instance``, ``user`` (the actor of [`earnorm_aop.context`][earnorm_aop.context]),
  ``context``.  Records a query loads do not fire it: loading 10,000 rows must
  not cost 10,000 handler calls nobody asked for.
- ``after_query_load`` -- for each record a query loads, for the handlers
  that ask: ``@hook("after_access", loads=True)`` listens to both events.
  Only on a model with such a handler does the adapter watch its loads
  (``Adapter.watch_loads``: Django's ``from_db``, SQLAlchemy's ``load`` event,
  the memory store's rows, EarnORM's ``search``); ``get`` loads quietly (it
  fires ``after_access``), and so do the library's own reads.

Each handler is one listener: with ``audit`` on the model too (itself an
``after_change`` listener), each runs once per write.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from ..adapters import loads, tracking
from ..adapters.base import Adapter
from ..plugin_system.conditions import per_model
from ..plugin_system.events import QUERY_LOAD, aemit, emit, emit_deferred, fire
from ..plugin_system.gathering import gathering
from ..plugin_system.masking import redact_changes
from ..plugin_system.services import LIFECYCLE_EVENTS
from ..plugin_system.spec import hook
from ..runtime.context import context
from ..weaving.planning import Handlers
from ..weaving.weaver import event_handlers
from ._common import action_for, call_with, settle, then
from .lifecycle_specialised import (
    CHANGE,
    COMMITTED,
    _after,
    _gather,
    deleting,
    rows_firing,
    saving,
)

__all__ = ["LifecyclePlugin"]

ACCESS = "after_access"


class LifecyclePlugin:
    """Fire ``after_change`` / ``after_commit_change`` on writes and ``after_access`` on get."""

    # One instance serves every model with the same options (it keeps no per-model state).
    shared_by_models = True

    name = "lifecycle"
    version = "1.0.0"
    serves = LIFECYCLE_EVENTS  # woven by the plugin layer wherever a model listens
    fires = (CHANGE, COMMITTED, ACCESS, QUERY_LOAD)  # what explain()'s diagrams draw as fired by it
    # Which advice fires which event: the diagrams' dotted "fires" edges from a chain.
    _WRITES = ("changed", "deleted", "created_many", "updated_many", "deleted_many")
    fires_from = dict.fromkeys(_WRITES, (CHANGE, COMMITTED)) | {"accessed": (ACCESS,)}
    requires = ("changes",)  # the diffs and bulk reads are the shared tracking's
    reads_rows = "written"  # bulk after_change diffs the written fields; others say more
    # Inside timestamp's around advice (50): the changes include the stamped times.
    priority = 10

    # -- firing ---------------------------------------------------------------------

    def _fire(
        self,
        adapter: Adapter,
        model: type,
        instance: Any,
        pk: Any,
        action: str,
        changes: dict[str, tuple[Any, Any]],
        subject: Any,
        asynchronous: bool,
        heard: tuple[Handlers, Handlers] | None = None,
    ) -> Any:
        """Fire the events of one changed row; an awaitable on an async model.

        ``heard``: the model's handlers of ``after_change`` and
        ``after_commit_change``, when the caller has looked them up already.
        """
        if not changes and action == "update":
            return None
        changes = redact_changes(model, changes)
        payload = {
            "changes": changes,
            "action": action,
            "pk": pk,
            "subject": subject,
            "adapter": adapter,
        }
        if heard is None:
            heard = (event_handlers(model, CHANGE), event_handlers(model, COMMITTED))
        handlers, committed = heard
        if committed:
            adapter.defer(
                model, subject, lambda: _fire_now(instance, COMMITTED, payload), robust=True
            )
        if not handlers:
            return None
        if asynchronous:
            return aemit(instance, CHANGE, **payload)
        waiting = None
        for value in fire(instance, CHANGE, handlers, payload):
            if inspect.isawaitable(value):  # a sync handler's write to await (EarnORM's table)
                waiting = [*(waiting or ()), value]
        return None if waiting is None else _gather(waiting)

    # -- single rows ------------------------------------------------------------------

    @hook("after:save|update", optional=True)
    @per_model(saving, target=True)
    def changed(
        self,
        instance: Any,
        model: type,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        adapter: Adapter,
        write: tracking.Write,
        asynchronous: bool = False,
    ) -> Any:
        """The write's changes: its record, made before the write, diffed once it is written.

        An ``after`` advice: the record (the write's, built by the dispatcher
        before any advice, so whether it creates the row is read before the
        write: a Django copy with ``pk = None`` is a creation, which only its
        state before the save tells) is all it needs of the time before.  On
        an async write it runs once the write has been awaited, and hands back
        the handlers' awaitable (``asynchronous``: the woven method is ``async
        def``, which the model's specialised advice knows).  Woven as
        [`saving`][earnorm_aop.plugins.lifecycle_specialised.saving] makes it
        for the model (this is what it does, for a call from elsewhere).
        """
        heard = (event_handlers(model, CHANGE), event_handlers(model, COMMITTED))
        if not (heard[0] or heard[1]) or adapter.saves_nothing(args, kwargs):
            return None  # every listener switched off, or nothing written
        rec = write.record  # built once for every advice of the write
        assert rec is not None  # a save's and an update's write have their record
        action = action_for(instance) or ("create" if rec.created else "update")
        pk = adapter.pk(instance)
        return self._fire(
            adapter,
            model,
            instance,
            pk,
            action,
            rec.diff(),
            instance,
            asynchronous,
            heard,
        )

    @hook("around:delete", optional=True)
    @per_model(deleting, target=True)
    def deleted(
        self,
        instance: Any,
        model: type,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        proceed: Callable[..., Any],
        adapter: Adapter,
    ) -> Any:
        """A delete, with the last values (the key is read first: a delete clears it).

        Woven as [`deleting`][earnorm_aop.plugins.lifecycle_specialised.deleting]
        makes it for the model.
        """
        if not _heard(model):
            return proceed()
        pk = adapter.pk(instance)
        rec = tracking.instance_record("delete", adapter, model, instance, args, kwargs)
        value = proceed()
        asynchronous = inspect.isawaitable(value)

        def fire(result: Any) -> Any:
            fired = self._fire(
                adapter, model, instance, pk, "delete", rec.changes, instance, asynchronous
            )
            return _after(fired, result)

        return then(value, fire)

    # -- bulk writes --------------------------------------------------------------------

    @hook("around:save_many", optional=True)
    def created_many(
        self,
        model: type,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        proceed: Callable[..., Any],
        adapter: Adapter,
    ) -> Any:
        """Each object of a bulk insert is a creation."""
        if not _heard(model):
            return proceed()
        objs, args, kwargs = adapter.bulk_objects(args, kwargs)
        value = call_with(proceed, args, kwargs)
        asynchronous = inspect.isawaitable(value)

        def fire(result: Any) -> Any:
            fire_row = rows_firing(self, adapter, model, None, asynchronous)
            fired = []
            with gathering() as written:  # audit's records: one INSERT (async: one each)
                for obj in objs:
                    changes = tracking.Record(adapter, obj, None).changes
                    fired.append(fire_row(obj, adapter.pk(obj), "create", changes))
            return settle([*fired, *written], result)

        return then(value, fire)

    @hook("around:update_many", optional=True)
    def updated_many(
        self,
        instance: Any,
        model: type,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        proceed: Callable[..., Any],
        adapter: Adapter,
        write: tracking.Write,
    ) -> Any:
        """Each matched row, with its values before and after the bulk update.

        The rows come from the shared read made before the write (the
        ``changes`` plugin's); a value added by a plugin inside (timestamp's
        ``updated_at``) is taken as written, and an expression added there is
        read back after the write (one more query).
        """
        if not _heard(model):
            return proceed()
        queryset = adapter.bulk_queryset(instance, args, kwargs)
        action = action_for(queryset) or "update"
        values = adapter.update_values(args, kwargs)
        frame = write.read()  # the rows read before the write (read now if nobody did)
        rows, known = frame.records, frame.values
        result = proceed()
        write.apply()  # the rows as stored, for the handlers
        late = [n for n, v in values.items() if adapter.is_expression(v) and n not in known]
        with loads.quiet():  # the library's own read
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
        fire_row = rows_firing(self, adapter, model, queryset, False)
        pk_of, unknown = adapter.pk_reader(model), tracking.UNKNOWN
        with gathering():  # the listeners' per-row writes at once (audit: one INSERT)
            for rec in rows:
                pk = pk_of(rec.instance)
                old = rec.old_values
                after = rec.new_values  # a bulk row's: what the update stores in it
                reread = stored.get(pk) if stored else None
                changes = {}
                for n in names:  # what it stores: read back, as given, or as the read saw it
                    if reread is not None and n in reread:
                        v = reread[n]
                    elif n in plain:
                        v = plain[n]
                    else:
                        v = rec.after(n) if after is None else after.get(n, unknown)
                    if v is not unknown and (was := old.get(n)) != v:
                        changes[n] = (was, v)
                fire_row(rec.instance, pk, action, changes)
        return result

    @hook("around:delete_many", optional=True)
    def deleted_many(
        self,
        instance: Any,
        model: type,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        proceed: Callable[..., Any],
        adapter: Adapter,
        write: tracking.Write,
    ) -> Any:
        """Each matched row of a bulk delete, with its last values (the shared read)."""
        if not _heard(model):
            return proceed()
        queryset = adapter.bulk_queryset(instance, args, kwargs)
        rows = write.read().records
        result = proceed()
        fire_row = rows_firing(self, adapter, model, queryset, False)
        with gathering():  # the listeners' per-row writes at once (audit: one INSERT)
            for rec in rows:
                fire_row(rec.instance, adapter.pk(rec.instance), "delete", rec.changes)
        return result

    # -- fetches ------------------------------------------------------------------------

    @hook("around:get", optional=True)
    def getting(self, model: type, proceed: Callable[..., Any]) -> Any:
        """A ``get`` loads its record quietly: it fires ``after_access``, not ``after_query_load``.

        One look-up where no handler asked for query loads.
        """
        if not event_handlers(model, QUERY_LOAD):
            return proceed()
        return _quietly(proceed)

    @hook("after:get", optional=True)
    def accessed(self, instance: Any, model: type) -> None:
        """``after_access`` on the record ``get`` returned (a cache hit too), with the actor."""
        if instance is None or not event_handlers(model, ACCESS):
            return
        current = context.current()
        emit(instance, ACCESS, user=current.actor, context=current)


def _quietly(proceed: Callable[..., Any]) -> Any:
    """``proceed()`` with query loads quiet, until its awaitable (an async get) settles."""
    with loads.quiet():
        result = proceed()
    if not inspect.isawaitable(result):
        return result

    async def settle() -> Any:
        with loads.quiet():
            return await result

    return settle()


def _heard(model: type) -> bool:
    """Whether a change of ``model`` has an enabled listener (two look-ups, nothing built)."""
    return bool(event_handlers(model, CHANGE) or event_handlers(model, COMMITTED))


def _fire_now(instance: Any, event: str, payload: dict[str, Any]) -> None:
    """A commit-time event: handlers run synchronously, from the commit (each its own streak)."""
    emit_deferred(instance, event, **payload)
