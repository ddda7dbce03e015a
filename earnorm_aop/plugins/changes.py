"""The ``changes`` plugin: the shared change tracking of a model's writes.

Woven (as a requirement) wherever a plugin needs to know what a write
changes: advice taking ``changes``, hooks with conditions, and the built-ins
``audit``, ``timestamp`` and ``cache``.  It runs first and ends last
(priority 1,000,000), so every other advice of a write sees the same
before-state:

- ``before`` a bulk update or delete: reads the rows the queryset matches,
  once, for every plugin, onto the write's state
  ([`Write.read`][earnorm_aop.adapters.tracking.Write.read]: the ``write`` every
  advice of that call is given);
- after a bulk update: the rows read get the values written (so ``after``
  advice sees each record as stored);
- ``after`` every successful write: what was written becomes the instance's
  persisted state (the next write's "before"); a delete forgets it.  A write
  that failed or was vetoed leaves the state as it was.

``update_fields=True`` (opt-in): a ``save()`` of a loaded instance writes only
the fields that changed (Django: ``save(update_fields=[...])``; none changed:
nothing is written, no signal is sent, timestamp does not stamp).  A plain
class's ``save`` always writes the whole object, so there it changes nothing.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..adapters import tracking
from ..adapters.base import Adapter, adapter_for
from ..adapters.capabilities import provided
from ..adapters.capability_keys import ONLY_FIELDS
from ..plugin_system.conditions import per_model
from ..plugin_system.contributions import contributed_fields
from ..plugin_system.events import LIFECYCLE
from ..plugin_system.services import TRACKING
from ..plugin_system.spec import hook
from ..weaving.aspect import Aspect
from ..weaving.pointcut import Pointcut, split_event
from ._common import call_with, then

__all__ = ["ONLY_FIELDS", "ChangesPlugin", "PlainOnlyFields"]

# The capability ``update_fields=True`` asks of an ORM: its key and protocol
# (``OnlyFields.with_only_fields``) are declared below the plugins
# (adapters/capability_keys.py), so an integration provides it, checked by mypy, without
# importing this module; PlainOnlyFields is the one for plain classes.


class PlainOnlyFields:
    """A plain class's ``save`` writes the whole object: the call is unchanged."""

    def __init__(self, adapter: Adapter) -> None:
        self.adapter = adapter

    def with_only_fields(
        self, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any], names: list[str]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return tuple(args), dict(kwargs)


class ChangesPlugin:
    """Track what each write changes (one read per bulk write, shared by every plugin)."""

    # One instance serves every model with the same options (it keeps no per-model state).
    shared_by_models = True

    name = "changes"
    version = "1.0.0"
    serves = TRACKING  # woven by the plugin layer wherever a model needs the tracking
    priority = 1_000_000  # first before, outermost around, last after

    class Config(BaseModel):
        """Options of the ``changes`` plugin."""

        model_config = ConfigDict(extra="forbid")

        update_fields: bool = Field(
            False,
            description=(
                "A save() of a loaded instance writes only the fields that changed "
                "(Django's update_fields); a save that changes nothing writes nothing."
            ),
        )

    config: Config

    @property
    def unused_hooks(self) -> frozenset[str]:
        """Without ``update_fields`` a save needs no ``around`` layer: it is not woven."""
        return frozenset() if self.config.update_fields else frozenset({"save_changed_only"})

    # -- bulk writes: one read before, shared -------------------------------------

    @hook("before:update_many|delete_many", optional=True)
    @per_model(lambda plugin, model, operation, adapter: _bulk_reader(model, operation))
    def read_before(self, write: tracking.Write) -> None:
        """Read the matched rows, and what an update stores in each, onto the write (one query).

        A failed or vetoed write leaves nothing behind: the rows live on the
        write's state, which lives as long as the call.
        """
        write.read()

    @hook("around:update_many", optional=True)
    def apply_update(self, proceed: Callable[..., Any], write: tracking.Write) -> Any:
        """After the write, the rows read hold the values written (for the ``after`` advice)."""

        def applied(result: Any) -> Any:
            write.apply()
            return result

        return then(proceed(), applied)  # an async write: once it has been awaited

    @hook("after:update_many|delete_many", optional=True)
    def remember_bulk(self, adapter: Adapter, write: tracking.Write) -> None:
        """The rows written are now as stored: remember that state; forget deleted ones."""
        frame = write.frame
        if frame is None:
            return
        if frame.deleting:
            for rec in frame.records:
                adapter.forget_state(rec.instance)
            return
        remember = adapter.remember_written  # every field of the row as it is now
        for rec in frame.records:
            remember(rec.instance)

    # -- instance writes ---------------------------------------------------------------

    @hook("around:save", optional=True)
    def save_changed_only(
        self,
        instance: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        proceed: Callable[..., Any],
        adapter: Adapter,
        write: tracking.Write,
    ) -> Any:
        """With ``update_fields=True``: restrict a full save of a loaded instance to its changes.

        Woven only with that option (``unused_hooks``).
        """
        rec = write.record
        assert rec is not None  # a save's write has its record
        if rec.created or rec.written is not None:
            return proceed()
        only = provided(adapter, ONLY_FIELDS, PlainOnlyFields)
        args, kwargs = only.with_only_fields(instance, args, kwargs, list(rec.diff()))
        return call_with(proceed, args, kwargs)

    @hook("after:save|update", optional=True)
    @per_model(
        lambda plugin, model, operation, adapter: _rememberer(operation, adapter), by_adapter=True
    )
    def remember_saved(
        self,
        instance: Any,
        model: type,
        method: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        adapter: Adapter,
    ) -> None:
        """What the write stored is the persisted state now (a restricted save: those fields).

        Woven as ``_rememberer`` makes it for the model's adapter and the
        operation (this method is what it does, for a call from elsewhere).
        """
        remember = _rememberer(method, adapter)
        if remember is not None:
            remember(instance, model, args, kwargs)

    @hook("after:delete", optional=True)
    def forget_deleted(self, instance: Any, model: type, adapter: Adapter) -> None:
        """A deleted record has no persisted state any more."""
        adapter.forget_state(instance)

    @hook("after:save_many", optional=True)
    def remember_created(
        self,
        model: type,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        result: Any,
        adapter: Adapter,
    ) -> None:
        """Each object of a bulk insert is persisted as it is now."""
        objs = tracking.created_objects(adapter, args, kwargs, result)
        for obj in objs:
            adapter.remember_state(obj)


def _nothing_to_read() -> None:
    """A bulk write on a model whose plugins need no per-row value: no row is read."""


def _bulk_reader(model: type, operation: str) -> Callable[..., None]:
    """The read before a bulk write: nothing, some columns or every column, by ``model``'s plugins.

    Decided at weave time (any change of the model's plugins re-weaves it), by
    what each plugin of ``model`` declares as ``reads_rows``:

    - ``False`` (timestamp adds ``updated_at`` to the statement, softdelete
      narrows it, cache drops the matched keys, which it reads itself when no
      read is shared): every plugin says so, nothing is read here;
    - ``"written"`` (audit, the lifecycle plugin whose only listener is then
      audit): of an update, only the key, the written fields and the fields the
      model's plugins contribute (``updated_at``, ``deleted_at``) — all audit's
      diff compares — where the adapter's ``read_rows`` takes ``fields``; of a
      delete, every column (its audit record holds every last value);
    - not said (``True``): the fields its hooks' conditions name, when every hook of
      it that sees the rows on this operation is one whose condition names its fields
      (``when=``/``when_any=``, no ``condition=``) and that takes neither ``instance``,
      ``changes`` nor ``write``, or an ``after_change`` / ``after_commit_change``
      handler that is not given the row (no ``instance``, no ``**kwargs``: its
      ``changes``, ``pk``, ``action`` need the key and the written fields only);
      else (a hook taking ``changes``, a handler given the row, which may read any
      of its fields, and Django would fetch a deferred one per row; a plugin with
      no such hook) every column.

    Whatever is read is read once, shared by every plugin (the bulk frame).
    """
    from ..weaving.weaver import effective_aspects

    aspects = effective_aspects(model)
    reads = [
        "no" if getattr(a.plugin, "serves", None) == TRACKING else _reads(a, operation)
        for a in aspects
    ]
    if all(r == "no" for r in reads):
        return _nothing_to_read
    deleting = operation == "delete_many"
    fields: frozenset[str] | None = None
    if not deleting and "all" not in reads and _reads_fields(adapter_for(model)):
        fields = frozenset(
            spec.name for a in aspects for spec in contributed_fields(a.name, a.plugin)
        ).union(*(r for r in reads if isinstance(r, frozenset)))
    return _reading(deleting, fields)


def _reads(aspect: Aspect, operation: str) -> str | frozenset[str]:
    """What a plugin reads of a bulk write's rows: "no", "all", or besides the written
    fields, the fields named (empty: "written")."""
    declared = getattr(aspect.plugin, "reads_rows", True)
    if declared is False:
        return "no"
    if declared == "written":
        return frozenset()
    found = _condition_fields(aspect, operation)
    return "all" if found is None else found


def _condition_fields(aspect: Aspect, operation: str) -> frozenset[str] | None:
    """The fields the conditions of ``aspect``'s hooks on ``operation`` read, when that is
    all its hooks read of the rows (see ``_bulk_reader``); None: any field."""
    if getattr(aspect.plugin, "tracks_changes", False) is True:
        return None  # it reads the tracking itself
    named: set[str] = set()
    listens = False
    for spec in aspect.advices:
        target = spec.target
        if isinstance(target, Pointcut):
            if not target.matches(operation):
                continue
        elif target in _ROW_EVENTS:  # the after_change of each row
            if _takes_the_row(spec.func):
                return None  # the row itself: any of its fields may be read
            listens = True  # changes, pk, action...: the key and the written fields
            condition = getattr(spec, "condition", None)
            if condition is None:
                continue
            if condition.condition is not None or not condition.fields():
                return None
            named.update(condition.fields())  # and the fields its condition names
            continue
        else:
            split = split_event(target)
            if split is None or target in LIFECYCLE:
                continue  # a custom event (emit only) or after_access: fired for no row
            if split[1] not in tracking.WRITES:
                return None  # advice by its name on a method: it may read the rows
            if split[1] != operation:
                continue
        condition = getattr(spec, "condition", None)
        sees = _ROW_PARAMETERS.intersection(inspect.signature(spec.func).parameters)
        if condition is None and not sees:
            continue  # sees the statement, not its rows
        if condition is None or sees or condition.condition is not None:
            return None
        if not condition.fields():
            return None  # has_changed of the whole row
        named.update(condition.fields())
    return frozenset(named) if named or listens else None


_ROW_PARAMETERS = frozenset({"instance", "changes", "write"})
# The lifecycle events a bulk write fires for each of its rows.
_ROW_EVENTS = frozenset({"after_change", "after_commit_change"})


def _takes_the_row(func: Callable[..., Any]) -> bool:
    """Whether an event handler is given the row itself (``instance``, or ``**kwargs``)."""
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.name == "instance" or p.kind is p.VAR_KEYWORD for p in params)


def _reads_fields(adapter: Adapter) -> bool:
    """Whether ``adapter.read_rows`` reads only some columns when asked (``fields=``)."""
    try:
        return "fields" in inspect.signature(adapter.read_rows).parameters
    except (TypeError, ValueError):
        return False


def _reading(deleting: bool, fields: frozenset[str] | None) -> Callable[..., None]:
    """The read before an update (the rows and what it stores) or a delete (the rows).

    ``fields``: besides the key and the written fields, the columns to read;
    ``None``: every column.  Onto the write's state, shared by every plugin.
    """

    def read(write: tracking.Write) -> None:
        write.read(None if deleting else fields)

    return read


# The rememberers made, by adapter and operation: what one does depends on
# nothing else, so every model of an adapter shares one per operation (one
# function, and so one signature read and one parameter tuple, not one per
# model woven).  The entry holds its adapter (an id is only a key while it lives).
_rememberers: dict[tuple[int, str], tuple[Adapter, Callable[..., None]]] = {}


def _rememberer(operation: str, adapter: Adapter) -> Callable[..., None] | None:
    """``remember_saved`` for one operation of one adapter's models, made once for both.

    ``None`` (not woven) where the adapter remembers nothing after a save (SQLAlchemy).
    """
    if not adapter.remembers_saves:
        return None
    found = _rememberers.get((id(adapter), operation))
    if found is not None and found[0] is adapter:
        return found[1]
    made = _make_rememberer(operation, adapter)
    _rememberers[id(adapter), operation] = (adapter, made)
    return made


def _make_rememberer(operation: str, adapter: Adapter) -> Callable[..., None]:
    """``remember_saved`` for one operation of one adapter's models (made at weave time).

    Runs after every save of a tracked model, so a full save called without
    arguments (the common case) is one call: ``remember_written``.
    """
    saved_fields = adapter.saved_fields
    remember = adapter.remember_state
    remember_written = adapter.remember_written

    def restricted(instance: Any, model: type, written: frozenset[str]) -> None:
        if not written:
            return  # save(update_fields=[]) writes nothing
        old = adapter.persisted_state(instance)
        new = adapter.snapshot(instance)
        if old is not None:
            new = {**old, **{n: v for n, v in new.items() if n in written}}
        remember(instance, new)

    if operation == "update":  # update(**values) writes those fields

        def remember_updated(
            instance: Any, model: type, args: tuple[Any, ...], kwargs: dict[str, Any]
        ) -> None:
            values = adapter.update_values(args, kwargs)
            restricted(instance, model, frozenset(adapter.attname(model, n) for n in values))

        return remember_updated

    def remember_saved(
        instance: Any, model: type, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        # A call without arguments writes every field (``saved_fields``'s contract).
        written = saved_fields(model, args, kwargs) if args or kwargs else None
        if written is None:  # every field was written
            remember_written(instance)
        else:
            restricted(instance, model, written)

    return remember_saved
