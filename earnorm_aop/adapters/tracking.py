"""Change tracking: what one write changes, record by record, on every ORM.

Every plugin that asks what a write changes (advice taking ``changes``, hook
conditions, audit's diff, timestamp's no-op check, cache invalidation) asks
here, so a write is looked at once, whatever the number of plugins.

A [`Record`][earnorm_aop.adapters.tracking.Record] is one row a write touches: its field values
*before* (as loaded, or as last saved) and *after* (as about to be written, or as
written).  Where they come from is the adapter's business (see "Change
tracking" in [`Adapter`][earnorm_aop.adapters.base.Adapter]):

- an instance write (``save``, ``update``, ``delete``): before is the
  adapter's [`loaded_state`][earnorm_aop.adapters.base.Adapter.loaded_state]
  (``None`` for a record never loaded or saved: every value was "nothing"),
  after is the instance's values now (``update``: with the values it writes);
- ``save_many``: each object is a creation;
- ``update_many`` / ``delete_many``: the rows the queryset matches, read once
  just before the write by [`read_rows`][earnorm_aop.adapters.base.Adapter.read_rows],
  each with what the write will store (database expressions such as
  ``F("views") + 1`` evaluated by that same read).

Each write's state is a [`Write`][earnorm_aop.adapters.tracking.Write], which the dispatcher
makes once per call of a write operation and gives to every advice that asks
for ``write`` (as SQLAlchemy gives ``flush_context`` to each ``before_flush``
listener): the
save's record, built once for every plugin; a bulk write's rows, read once (by
the tracking service's ``before`` advice) and kept on the write, with the
values plugins add.  It lives as long as the call: a vetoed or failed write
leaves nothing behind.

A field the adapter does not know the value of (a field its ORM deferred,
``only()``/``defer()``, and never loaded) is [`UNKNOWN`][earnorm_aop.adapters.tracking.UNKNOWN]:
never in ``changes``, and a condition on it is false — never guessed, never queried.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import loads
from ._change_tracking import changed_values
from ._unknown import UNKNOWN

if TYPE_CHECKING:
    from .base import Adapter

__all__ = [
    "BULK",
    "INSTANCE",
    "UNKNOWN",
    "WRITES",
    "BulkFrame",
    "Record",
    "Write",
    "apply",
    "changed_values",
    "created_objects",
    "instance_record",
    "instance_recorder",
    "read_bulk",
    "records",
]


INSTANCE = frozenset({"save", "update", "delete"})
BULK = frozenset({"save_many", "update_many", "delete_many"})
WRITES = INSTANCE | BULK


class Record:
    """One row of a write: its values before and after, and what changed.

    ``before(name)`` / ``after(name)`` are one dictionary look-up (or one
    attribute read of the live instance), so a condition that fails costs no
    more; ``changes`` (field -> ``(old, new)``, only the fields whose value
    differs, unknown fields left out) is built on first use and then kept.
    """

    __slots__ = ("_changes", "_new", "_old", "adapter", "created", "deleted", "instance", "written")

    def __init__(
        self,
        adapter: Adapter,
        instance: Any,
        old: Mapping[str, Any] | None,
        new: Mapping[str, Any] | None = None,
        written: frozenset[str] | None = None,
        deleted: bool = False,
    ) -> None:
        self.adapter = adapter
        self.instance = instance
        self.created = old is None and not deleted
        self.deleted = deleted
        self._old: Mapping[str, Any] = {} if old is None else old
        # ``None``: the instance itself holds the new values (read live).
        self._new = new
        # The fields a restricted save writes (by attname); ``None``: every field.
        self.written = written
        self._changes: dict[str, tuple[Any, Any]] | None = None

    def before(self, name: str) -> Any:
        """The value of field ``name`` (attname) before the write; ``None`` for a creation."""
        if self.created:
            return None
        return self._old.get(name, self.adapter.unloaded)

    def after(self, name: str) -> Any:
        """The value the write stores in ``name`` (``None`` for a deletion)."""
        if self.deleted:
            return None
        new = self._new
        if new is not None:
            return new.get(name, UNKNOWN)
        if self.written is not None and name not in self.written:
            return self.before(name)  # a restricted save leaves it as it was
        return self.adapter.current_value(self.instance, name)

    def values(self, name: str) -> tuple[Any, Any]:
        """``(before(name), after(name))`` in one call: what a condition on one field reads.

        When the value before is [`UNKNOWN`][earnorm_aop.adapters.tracking.UNKNOWN], so is the one
        after (not read: a condition on the field is false either way).
        """
        if self.created:
            old = None
        else:
            old = self._old.get(name, self.adapter.unloaded)
            if old is UNKNOWN:
                return old, old
        if self.deleted:
            return old, None
        new = self._new
        if new is not None:
            return old, new.get(name, UNKNOWN)
        live = self.written
        if live is not None and name not in live:
            return old, old  # a restricted save leaves it as it was
        return old, self.adapter.current_value(self.instance, name)

    @property
    def old_values(self) -> Mapping[str, Any]:
        """The values before the write, by attname, as kept (read them, never change them).

        Empty for a creation.  What a plugin compares the written values with
        when it computes its own diff (audit's bulk update).
        """
        return self._old

    @property
    def new_values(self) -> Mapping[str, Any] | None:
        """The values the write stores, by attname; ``None`` when the live instance holds them."""
        return self._new

    def store(self, values: Mapping[str, Any]) -> None:
        """The write also stores ``values`` (attname -> value): ``after`` and ``changes`` see them.

        For a record whose new values are a mapping (a bulk update's rows);
        a live instance's values are read from the instance itself.
        """
        new = self._new
        if isinstance(new, dict):
            new.update(values)
            self._changes = None

    def writes_also(self, names: Iterable[str]) -> None:
        """A restricted save writes ``names`` (attnames) too: an advice added them to it.

        Timestamp adds its stamps to ``update_fields``; the record's ``after``
        and ``changes`` then see them.  A save of every field is unchanged.
        """
        if self.written is not None:
            self.written = self.written | frozenset(names)
            self._changes = None

    @property
    def changes(self) -> dict[str, tuple[Any, Any]]:
        """Field -> ``(old, new)`` for every known field the write changes (kept once built)."""
        found = self._changes
        if found is None:
            found = self._changes = self.diff()
        return found

    def diff(self) -> dict[str, tuple[Any, Any]]:
        """``changes`` as the values are now, not kept.

        For a record shared by the advice of one write
        ([`Write.record`][earnorm_aop.adapters.tracking.Write]): an advice that asks before the
        write (timestamp's no-op check) must not fix what one asking after it
        (the ``after_change`` event) sees.
        """
        if self.deleted:
            return {n: (v, None) for n, v in self._old.items() if v is not None}
        new = self._new
        if new is None:
            if not self.created:  # a loaded instance saved: the adapter compares in one pass
                return self.adapter.changes_since(self.instance, self._old, self.written)
            new = self.adapter.snapshot(self.instance)
            if self.written is not None:
                new = {n: v for n, v in new.items() if n in self.written}
        if self.created:
            return {n: (None, v) for n, v in new.items() if v is not None}
        return changed_values(self._old, new, self.adapter.unloaded)

    def __repr__(self) -> str:
        return f"<Record {type(self.instance).__name__} changes={self.changes!r}>"


@dataclass(eq=False, slots=True)
class BulkFrame:
    """The rows one ``update_many`` / ``delete_many`` touches, read once before it runs.

    ``stored``: the fields (by attname) the write stores in each row, the only
    ones whose value after it may differ from the value before.
    """

    subject: Any
    records: list[Record]
    values: dict[str, Any]
    deleting: bool
    stored: tuple[str, ...] = ()
    applied: bool = False


def read_bulk(
    adapter: Adapter,
    model: type,
    queryset: Any,
    values: Mapping[str, Any] | None,
    fields: Collection[str] | None = None,
) -> BulkFrame:
    """Read the rows ``queryset`` matches (one query): the frame of one bulk write.

    ``values`` is what an ``update_many`` writes; ``None`` for a ``delete_many``.
    ``fields``: read only these, the key and the written fields (the adapter's
    ``read_rows(..., fields=)``; the others are
    [`UNKNOWN`][earnorm_aop.adapters.tracking.UNKNOWN]); ``None``: every field.
    """
    deleting = values is None
    written = dict(values or {})
    with loads.quiet():  # the library's own read: not a query's load (after_query_load)
        if fields is None:
            rows = adapter.read_rows(model, queryset, written)
        else:
            rows = adapter.read_rows(model, queryset, written, fields=fields)
    recs = [
        Record(adapter, row, old, None if deleting else {**old, **new}, deleted=deleting)
        for row, old, new in rows
    ]
    stored = tuple(rows[0][2]) if rows and not deleting else ()  # every row's has the same keys
    return BulkFrame(queryset, recs, written, deleting, stored)


class Write:
    """One write in progress: its record or rows, made once per call, given to its advice.

    The dispatcher makes it (the engine's ``per_call`` extension point, filled
    by [`write_maker`][earnorm_aop.adapters.tracking.write_maker]) before any advice of a
    write operation runs, and hands the same object to each advice taking a
    ``write`` parameter, ``before``, ``around``, ``after`` and ``error`` alike.

    - ``record``: a ``save``'s or an instance ``update``'s
      [`Record`][earnorm_aop.adapters.tracking.Record], built here once, before the
      write (``None`` for other operations: ``records()`` builds theirs);
    - ``read()``: a bulk write's rows, read once, the first time anyone asks
      (the tracking service asks in its ``before`` advice, before the write
      changes them); ``frame``: those rows if read, else ``None``;
    - ``note_values(values)``: a bulk update also stores ``values`` (timestamp's
      ``updated_at``): its rows' ``after`` values include them;
    - ``apply()``: after a bulk update, its rows hold the values it stored.
    """

    __slots__ = ("adapter", "args", "frame", "instance", "kwargs", "model", "operation", "record")

    def __init__(
        self,
        adapter: Adapter,
        model: type,
        operation: str,
        instance: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        self.adapter = adapter
        self.model = model
        self.operation = operation
        self.instance = instance  # what the write was called on (wrapt's instance)
        self.args = args
        self.kwargs = kwargs
        self.frame: BulkFrame | None = None
        # A save (what most writes are): its record now, for every advice; a call
        # without arguments writes every field (``saved_fields``'s contract).
        if operation == "save":
            self.record: Record | None = Record(
                adapter,
                instance,
                adapter.persisted_values(instance),
                None,
                adapter.saved_fields(model, args, kwargs) if args or kwargs else None,
            )
        elif operation == "update":  # update(**values): with the values it writes
            self.record = instance_record(operation, adapter, model, instance, args, kwargs)
        else:
            self.record = None

    def instance_record(self) -> Record:
        """The record of an instance write (``save``, ``update``, ``delete``), made once.

        A save's is ``record``, built with the write; another's is built on the first
        ask and kept there, so every advice asking after it reads the same one.
        """
        rec = self.record
        if rec is None:
            rec = self.record = instance_record(
                self.operation, self.adapter, self.model, self.instance, self.args, self.kwargs
            )
        return rec

    @property
    def queryset(self) -> Any:
        """What a bulk update or delete acts on."""
        return self.adapter.bulk_queryset(self.instance, self.args, self.kwargs)

    def read(self, fields: Collection[str] | None = None) -> BulkFrame:
        """The rows of a bulk update or delete: read now (one query) unless read already.

        ``fields``: of an update, read only these besides the key and the written
        fields (the others are ``UNKNOWN``); ``None``: every column.  The first
        read decides (the tracking service's, made per model at weave time).
        """
        frame = self.frame
        if frame is None:
            adapter = self.adapter
            deleting = self.operation == "delete_many"
            values = None if deleting else adapter.update_values(self.args, self.kwargs)
            frame = self.frame = read_bulk(adapter, self.model, self.queryset, values, fields)
        return frame

    def note_values(self, values: Mapping[str, Any]) -> None:
        """The bulk update also stores ``values`` (timestamp's ``updated_at``).

        Its rows' ``after`` values include them, so advice after the write sees
        what was really stored.  Database expressions are not evaluated here:
        frame.stored = (*frame.stored, *(n for n in plain if n not in frame.stored))
        only plain values are noted.  Before the rows are read, nothing to do:
        the read evaluates what the statement stores.
        """
        frame = self.frame
        if frame is None or frame.deleting:
            return
        adapter, model = self.adapter, self.model
        plain = {
            adapter.attname(model, n): adapter.stored_value(model, n, v)
            for n, v in values.items()
            if not adapter.is_expression(v)
        }
        frame.values.update(values)
        for rec in frame.records:
            rec.store(plain)

    def apply(self) -> None:
        """After a bulk update: its rows hold the values it stored (once)."""
        if self.frame is not None:
            apply(self.frame)

    def records(self, result: Any = None) -> Sequence[Record]:
        """The records the write touches (the ``instance`` of its per-record advice).

        ``update_many`` / ``delete_many``: its rows (read now if nobody read
        them: a write advised without the tracking service).
        """
        operation = self.operation
        if operation in BULK and operation != "save_many":
            return self.read().records
        subject = self.instance
        if operation == "save_many":
            subject = created_objects(self.adapter, self.args, self.kwargs)
        return records(operation, self.adapter, self.model, subject, self.args, self.kwargs, result)


def write_maker(
    model: type, operation: str, target: Any
) -> Callable[[Any, tuple[Any, ...], dict[str, Any]], Write] | None:
    """The engine's ``per_call`` point for ``write``: its maker on a write operation, else None.

    Decided at weave time: the model's adapter and the operation are fixed in
    the maker (a ``functools.partial`` of ``Write``: one call per write).
    stored = frame.stored  # only these may differ from the values before
    """
    if operation not in WRITES:
        return None
    from .base import adapter_for

    return functools.partial(Write, adapter_for(model), model, operation)


def apply(frame: BulkFrame) -> None:
    """Give the rows of ``frame`` the values its update stored (once; after the write)."""
    if frame.deleting or frame.applied:
        return
    frame.applied = True
    stored = frame.stored  # only these may differ from the values before
    for rec in frame.records:
        new = rec.new_values
        if new is None:
            continue
        old = rec.old_values
        for name in stored:
            value = new.get(name, UNKNOWN)
            if value is not UNKNOWN and old.get(name, UNKNOWN) != value:
                rec.adapter.set_field(rec.instance, name, value)


def created_objects(
    adapter: Adapter, args: tuple[Any, ...], kwargs: Mapping[str, Any], result: Any = None
) -> list[Any]:
    """The objects a ``save_many`` inserted: its result when that is the list, else its argument."""
    if isinstance(result, list | tuple):
        return list(result)
    objs, _, _ = adapter.bulk_objects(args, kwargs)
    return objs


def records(
    operation: str,
    adapter: Adapter,
    model: type,
    subject: Any,
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    result: Any = None,
) -> Sequence[Record]:
    """The records a write on ``subject`` touches (the ``instance`` of its advice).

    For ``update_many`` / ``delete_many`` the rows ``subject`` (the queryset)
    matches, read now; [`Write.records`][earnorm_aop.adapters.tracking.Write.records] keeps
    them for the whole write.
    """
    if operation in INSTANCE:
        return (instance_record(operation, adapter, model, subject, args, kwargs),)
    if operation == "save_many":
        if isinstance(result, list | tuple):
            objs = list(result)
        else:
            objs = list(subject) if isinstance(subject, list | tuple) else list(subject or ())
        return [Record(adapter, obj, None) for obj in objs]
    values = None if operation == "delete_many" else adapter.update_values(args, kwargs)
    return read_bulk(adapter, model, subject, values).records


def instance_recorder(operation: str, adapter: Adapter) -> Callable[..., Record]:
    """[`instance_record`][earnorm_aop.adapters.tracking.instance_record] for one operation of one
    adapter's models, made at weave time.

    ``recorder(model, instance, args, kwargs)``.  A ``save`` (what most writes
    are) calls the adapter's two methods, bound here, and nothing else.
    """
    if operation != "save":
        return functools.partial(instance_record, operation, adapter)
    values_of = adapter.persisted_values
    saved_fields = adapter.saved_fields

    def save_record(
        model: type, instance: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> Record:
        return Record(
            adapter, instance, values_of(instance), None, saved_fields(model, args, kwargs)
        )

    return save_record


def instance_record(
    operation: str,
    adapter: Adapter,
    model: type,
    instance: Any,
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
) -> Record:
    """The record of a ``save`` / ``update`` / ``delete`` of ``instance``."""
    if operation == "delete":  # its changes list every old value: a state to iterate
        old = adapter.persisted_state(instance)
        return Record(adapter, instance, old or adapter.snapshot(instance), deleted=True)
    old = adapter.persisted_values(instance)  # read by name only (Record.before / diff)
    if operation == "update":
        values = adapter.update_values(args, kwargs)
        new = adapter.snapshot(instance)
        new.update(
            {
                adapter.attname(model, n): adapter.stored_value(model, n, v)
                for n, v in values.items()
            }
        )
        return Record(adapter, instance, old, new)
    return Record(adapter, instance, old, None, adapter.saved_fields(model, args, kwargs))
