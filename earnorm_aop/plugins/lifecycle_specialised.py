"""The ``lifecycle`` plugin's instance-write advice, made for each model at weave time.

What [`LifecyclePlugin.changed`][earnorm_aop.plugins.lifecycle.LifecyclePlugin.changed]
and ``deleted`` decide per call in general is decided here once per woven
method (issue 17 point 3: a model with a listener pays little more than an
``after:save`` hook): the model's listeners are held in its
[`Listening`][earnorm_aop.weaving.state.Listening] (one attribute read per call,
kept current by every rebuild), the record is the adapter's own recorder for
the operation, whether the write is awaitable is the woven method's ``async
def``, and each handler's arguments are decided when the listeners change
([`prepare`][earnorm_aop.plugin_system.events.prepare]).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from ..adapters import tracking
from ..adapters.base import Adapter
from ..plugin_system.events import fire_prepared, prepare
from ..plugin_system.masking import redact_changes
from ..weaving.advice import Target
from ..weaving.planning import NO_HANDLERS, Handlers
from ..weaving.weaver import listening_to
from ._common import action_for, then

__all__ = ["CHANGE", "COMMITTED", "deleting", "saving"]

CHANGE = "after_change"
COMMITTED = "after_commit_change"
# The keys of an after_change payload (besides instance, model and event).
_PAYLOAD = ("changes", "action", "pk", "subject", "adapter")


def saving(
    plugin: Any, model: type, operation: str, adapter: Adapter, target: Target
) -> Callable[..., Any]:
    """``changed`` for one model's ``save`` / ``update``, with what weave time knows bound.

    The model's listeners are read from its [`Listening`][earnorm_aop.weaving.state.Listening] (one
    attribute read; every toggle rebuilds the table it holds), the record is the
    adapter's own recorder for the operation, and whether the write is
    awaitable is the woven method's ``async def``, not a test of each result.
    A call for another class (a subclass using this wrapper) takes the
    general path.
    """
    held = listening_to(model)
    record = tracking.instance_recorder(operation, adapter)
    saves_nothing = adapter.saves_nothing
    pk_of = adapter.pk
    fire_row = plugin._fire
    woven = model
    general = plugin.changed
    # The handlers last seen, with each one's arguments decided (events.prepare).
    prepared: list[Any] = [None, ()]

    if target.is_async:

        def changed_async(
            instance: Any,
            model: type,
            args: tuple[Any, ...],
            kwargs: dict[str, Any],
            proceed: Callable[..., Any],
            write: tracking.Write,
        ) -> Any:
            return general(instance, model, operation, args, kwargs, proceed, adapter, write)

        return changed_async

    def changed(
        instance: Any,
        model: type,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        proceed: Callable[..., Any],
        write: tracking.Write,
    ) -> Any:
        if model is not woven:
            return general(instance, model, operation, args, kwargs, proceed, adapter, write)
        table = held.table
        heard: tuple[Handlers, Handlers] = (
            table.get(CHANGE, NO_HANDLERS),
            table.get(COMMITTED, NO_HANDLERS),
        )
        if not (heard[0] or heard[1]) or saves_nothing(args, kwargs):
            return proceed()  # every listener switched off, or nothing written
        rec = write.record or record(model, instance, args, kwargs)  # a save's: the write's
        action = action_for(instance) or ("create" if rec.created else "update")
        result = proceed()
        handlers, committed = heard
        if committed or not handlers:  # commit-time listeners: the general path
            pk = pk_of(instance)
            fired = fire_row(
                adapter, model, instance, pk, action, rec.diff(), instance, False, heard
            )
            return result if fired is None else _after(fired, result)
        changes = rec.diff()  # as written (the record is shared by the write's advice)
        if not changes and action == "update":
            return result
        if handlers is not prepared[0]:  # the model's listeners changed: decide them again
            prepared[:] = [handlers, prepare(handlers, CHANGE, _PAYLOAD)]
        values = {
            "instance": instance,
            "model": type(instance),
            "event": CHANGE,
            "changes": redact_changes(model, changes),
            "action": action,
            "pk": pk_of(instance),
            "subject": instance,
            "adapter": adapter,
        }
        waiting = None
        for value in fire_prepared(instance, CHANGE, prepared[1], values):
            if value is not None and inspect.isawaitable(value):  # a write to await
                waiting = [*(waiting or ()), value]
        return result if waiting is None else _after(_gather(waiting), result)

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
