"""The ``lifecycle`` plugin's instance-write advice, made for each model at weave time.

What [`LifecyclePlugin.changed`][earnorm_aop.plugins.lifecycle.LifecyclePlugin.changed]
and ``deleted`` decide per call in general is decided here once per woven
method (issue 17 point 3: a model with a listener pays little more than an
``after:save`` hook): the model's listeners are held in its
[`Listening`][earnorm_aop.weaving.state.Listening] (one attribute read per call,
kept current by every rebuild), a save's record is the write's (made before
any advice, so ``changed`` is an ``after`` advice: no ``around`` level, no
``proceed``), whether the write is awaitable is the woven method's ``async
def``, and each handler's arguments are decided when the listeners change
([`prepare`][earnorm_aop.plugin_system.events.prepare]).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from ..adapters import tracking
from ..adapters.base import Adapter
from ..plugin_system.events import fire_prepared, prepare, prepared_for
from ..plugin_system.masking import masked_fields, redact_changes
from ..weaving.advice import Target
from ..weaving.planning import NO_HANDLERS
from ..weaving.weaver import event_handlers, listening_to
from ._common import current_action, then

__all__ = ["CHANGE", "COMMITTED", "deleting", "rows_firing", "saving"]

CHANGE = "after_change"
COMMITTED = "after_commit_change"
# The keys of an after_change payload (besides instance, model and event).
_PAYLOAD = ("changes", "action", "pk", "subject", "adapter")


def saving(
    plugin: Any, model: type, operation: str, adapter: Adapter, target: Target
) -> Callable[..., Any]:
    """``changed`` (``after`` a ``save`` / ``update``) for one model, with what weave time knows.

    The model's listeners are read from its [`Listening`][earnorm_aop.weaving.state.Listening] (one
    attribute read; every toggle rebuilds the table it holds), the record is the
    write's (made by the dispatcher before any advice), and whether the write is
    awaitable is the woven method's ``async def``: an async write takes the
    general path, once awaited, and hands back the handlers' awaitable.  A call
    for another class (a subclass using this wrapper) takes the general path.
    """
    general = plugin.changed
    asynchronous = target.is_async
    held = listening_to(model)
    saves_nothing = adapter.saves_nothing
    pk_of = adapter.pk_reader(model)  # of the woven class's instances: the others go general
    fire_row = plugin._fire
    woven = model
    # The handlers last seen, with each one's arguments decided (events.prepare).
    prepared: list[Any] = [None, ()]

    def changed(
        instance: Any,
        model: type,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        write: tracking.Write,
    ) -> Any:  # an async write's: the handlers' awaitable, which the dispatcher awaits
        if asynchronous or model is not woven:
            return general(instance, model, args, kwargs, adapter, write, asynchronous)
        table = held.table
        handlers = table.get(CHANGE, NO_HANDLERS)
        committed = table.get(COMMITTED, NO_HANDLERS)
        if not (handlers or committed) or ((args or kwargs) and saves_nothing(args, kwargs)):
            return None  # every listener switched off, or nothing written (a call without
            # arguments always writes: saves_nothing's contract)
        rec = write.record
        assert rec is not None  # a save's and an update's write have their record
        changes = rec.diff()  # as written (the record is shared by the write's advice)
        acting = current_action()  # action_for(instance), in place
        if acting is not None and acting[0] == id(instance):
            action = acting[1]
        else:
            action = "create" if rec.created else "update"
        if committed or not handlers:  # commit-time listeners: the general path
            pk, heard = pk_of(instance), (handlers, committed)
            fire_row(adapter, model, instance, pk, action, changes, instance, False, heard)
            return None
        if not changes and action == "update":
            return None
        if handlers is not prepared[0]:  # the model's listeners changed: decide them again
            prepared[:] = [handlers, prepare(handlers, CHANGE, _PAYLOAD)]
        values = {
            "instance": instance,
            "model": type(instance),
            "event": CHANGE,
            "changes": redact_changes(model, changes) if masked_fields(model) else changes,
            "action": action,
            "pk": pk_of(instance),
            "subject": instance,
            "adapter": adapter,
        }
        fire_prepared(instance, CHANGE, prepared[1], values)
        return None

    return changed


def deleting(
    plugin: Any, model: type, operation: str, adapter: Adapter, target: Target
) -> Callable[..., Any]:
    """``deleted`` for one model: its listeners held, its awaiting decided (see ``saving``)."""
    held = listening_to(model)
    record = tracking.instance_recorder(operation, adapter)
    pk_of = adapter.pk
    fire_row = plugin._fire
    woven = model
    general = plugin.deleted
    asynchronous = target.is_async

    def deleted(
        instance: Any,
        model: type,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        proceed: Callable[..., Any],
    ) -> Any:
        if model is not woven:
            return general(instance, model, args, kwargs, proceed, adapter)
        table = held.table
        if not (table.get(CHANGE) or table.get(COMMITTED)):
            return proceed()
        pk = pk_of(instance)
        rec = record(model, instance, args, kwargs)
        value = proceed()

        def fire(result: Any) -> Any:
            fired = fire_row(
                adapter, model, instance, pk, "delete", rec.changes, instance, asynchronous
            )
            return _after(fired, result)

        return then(value, fire) if asynchronous else fire(value)

    return deleted


def rows_firing(
    plugin: Any, adapter: Adapter, model: type, subject: Any, asynchronous: bool
) -> Callable[[Any, Any, str, dict[str, tuple[Any, Any]]], Any]:
    """``fire(instance, pk, action, changes)`` for each changed row of one bulk write.

    ``subject``: what the write was called on (its queryset); ``None``: each
    row is its own (a bulk insert's objects).

    What does not change from row to row is decided once per statement: the
    model's handlers (looked up once, not twice per row), each handler's
    arguments ([`prepared_for`][earnorm_aop.plugin_system.events.prepared_for],
    kept per set of handlers), whether any field is masked.  Commit-time
    listeners and async writes take the plugin's general ``_fire``.  Returns
    ``None``, or an awaitable of the handlers' writes to await (EarnORM's table).
    """
    heard = (event_handlers(model, CHANGE), event_handlers(model, COMMITTED))
    handlers, committed = heard
    if asynchronous or committed or not handlers:
        general = plugin._fire

        def fire_general(
            instance: Any, pk: Any, action: str, changes: dict[str, tuple[Any, Any]]
        ) -> Any:
            on = instance if subject is None else subject
            return general(adapter, model, instance, pk, action, changes, on, asynchronous, heard)

        return fire_general

    prepared = prepared_for(handlers, CHANGE, _PAYLOAD)
    hidden = bool(masked_fields(model))

    def fire_row(instance: Any, pk: Any, action: str, changes: dict[str, tuple[Any, Any]]) -> Any:
        if not changes and action == "update":
            return None
        values = {
            "instance": instance,
            "model": type(instance),
            "event": CHANGE,
            "changes": redact_changes(model, changes) if hidden else changes,
            "action": action,
            "pk": pk,
            "subject": instance if subject is None else subject,
            "adapter": adapter,
        }
        waiting = None
        for value in fire_prepared(instance, CHANGE, prepared, values):
            if value is not None and inspect.isawaitable(value):  # a write to await
                waiting = [*(waiting or ()), value]
        return None if waiting is None else _gather(waiting)

    return fire_row


def _after(fired: Any, result: Any) -> Any:
    """``result``, once ``fired`` (an awaitable of async handlers) has been awaited."""
    if fired is None or not inspect.isawaitable(fired):
        return result
    return _await_then(fired, result)


async def _gather(waiting: list[Any]) -> None:
    for value in waiting:
        await value


async def _await_then(fired: Any, result: Any) -> Any:
    await fired
    return result
