"""The methods the adapter gives an EarnORM model: public façades over woven operations.

EarnORM has no ``save`` / ``delete``; its writes are ``create`` (a
classmethod taking values) and ``write`` / ``unlink`` (on a recordset whose
field values are only known after a database read).  Plugins want one record
as the subject of a write, with its values readable without ``await``.  So
the adapter installs, on each model it weaves:

- façades ``create``, ``write`` and ``unlink`` with EarnORM's signatures,
  which read each record's stored values first (one read per record) and
  call, per record,
- the woven operations ``_earnorm_aop_save(self, values)`` (logical ``save``:
  the record, unsaved on a ``create``, and the values to write),
  ``_earnorm_aop_delete(self)`` (``delete``) and the classmethod
  ``_earnorm_aop_save_many(cls, records)`` (``save_many``: ``create`` of a list),
  which run EarnORM's own ``create`` / ``write`` / ``unlink``.

A record's stored values and the values pending for its write are kept by
``state.py``.
"""

from __future__ import annotations

import warnings
from collections.abc import Awaitable, Generator, Mapping
from contextvars import ContextVar
from typing import Any

from earnorm.base.model.base import BaseModel
from earnorm.base.model.descriptors import AsyncFieldDescriptor

from ...adapters import loads
from ...errors import PluginError
from .batch import reach_gate, save_all
from .fields import auto_fields, created_fields, store_as_given
from .queries import answering_keywords
from .state import (
    PENDING,
    FieldValue,
    RecordId,
    is_record,
    mark_written,
    pending,
    set_pending,
    set_state,
    set_tracked,
    state,
    take_written,
    tracked,
)

__all__ = [
    "FACADES",
    "FieldValue",
    "NotFound",
    "Save",
    "install",
    "is_record",
    "load",
    "pending",
    "rebuilt",
    "set_pending",
    "set_state",
    "set_tracked",
    "state",
    "then_saves",
    "tracked",
]


class NotFound(PluginError, LookupError):
    """``Model.get(id)`` of an id that has no document."""


# Values of EarnORM's automatic timestamps to store during a ``write()``, which
# refuses them (they are read-only) and would set both to "now": a plugin's
# ``updated_at``, and the stored ``created_at``.
_KEEP: ContextVar[Mapping[str, Any] | None] = ContextVar("earnorm_aop_keep", default=None)

# EarnORM's own implementations, called by the woven operations.
_create = vars(BaseModel)["create"].__func__
_write = vars(BaseModel)["write"]
_unlink = vars(BaseModel)["unlink"]
_convert_to_db = vars(BaseModel)["_convert_to_db"].__func__
_where_calc = vars(BaseModel)["_where_calc"].__func__
_search = vars(BaseModel)["search"].__func__

# The saves asked for (``record.save()``) while a façade's operation runs, and not
# awaited by whoever asked: the façade awaits them once its operation is done.
_ASKED: ContextVar[list[Save] | None] = ContextVar("earnorm_aop_saves", default=None)


async def load(record: Any, *, track: bool = True) -> None:
    """Read the record's document (not through the woven ``read``) and remember its values.

    ``track=False``: the read after a write, which leaves the tracked state
    (what the write changed from) to the ``changes`` plugin.
    """
    model = type(record)
    ids = record._ids
    if len(ids) != 1:
        set_state(record, None, track=track)
        return
    env = model._env
    doc = await env.adapter.read(model, ids[0], None)
    if doc is None:
        set_state(record, None, track=track)
        return
    backend = env.adapter.backend_type
    values: dict[str, Any] = {}
    for name, field in model.__fields__.items():
        raw = doc.get(name)
        values[name] = raw if name == "id" else await field.from_db(raw, backend)
    set_state(record, values, track=track)


def _records(recordset: Any) -> list[Any]:
    """The recordset itself when it holds one record (so its state stays with it), else each."""
    if len(recordset._ids) == 1:
        return [recordset]
    return list(recordset)


def _new(model: Any, values: Mapping[str, Any] | None) -> Any:
    record = model()
    set_pending(record, dict(values or {}))
    return record


# -- façades (EarnORM's signatures) ------------------------------------------------------


async def create(cls: Any, values: Any = None) -> Any:
    """EarnORM's ``create``; the logical ``save`` (a dict) or ``save_many`` (a list) runs."""
    if isinstance(values, list):
        records = [_new(cls, v) for v in values]
        await then_saves(cls._earnorm_aop_save_many(records))
        return cls._browse(cls._env, [r._ids[0] for r in records if r._ids])
    record = _new(cls, values)
    await then_saves(record._earnorm_aop_save(pending(record)))
    take_written(record)
    return record


async def write(self: Any, vals: dict[str, Any]) -> Any:
    """EarnORM's ``write``: the logical ``save`` of each record, after reading its values.

    All or nothing (``batch.py``): every record is checked before any is
    written, and a record whose write did not happen keeps no value of the call.
    """
    group = _records(self)
    for record in group:
        await load(record)
    await then_saves(save_all(group, vals))
    return self


async def unlink(self: Any) -> bool:
    """EarnORM's ``unlink``: the logical ``delete`` of each record, after reading its values.

    EarnORM's own ``unlink`` logs and returns ``False`` on a database error; a
    plugin's exception is not swallowed.  A delete vetoed by a plugin (soft
    delete) counts as done.
    """
    done = True
    for record in _records(self):
        await load(record)
        done = (await then_saves(record._earnorm_aop_delete())) is not False and done
    return done


def save(self: Any) -> Save:
    """The record's values set since it was read (``record.title = ...``), written.

    EarnORM's ``create`` for a record never created, else its ``write`` of those
    values, through the plugins either way; the awaitable gives the record.
    Advice written for Django (the plugin page's ``before_delete``:
    ``instance.deleted_at = ...; instance.save(); return False``) calls it
    without ``await``: while a façade's operation runs, a save nobody awaited
    is awaited by the façade once the operation is done (not if it failed).
    """
    asked = Save(self)
    collecting = _ASKED.get()
    if collecting is not None:
        collecting.append(asked)
    return asked


class Save:
    """What ``record.save()`` returns: the write, run when awaited (see
    [`save`][earnorm_aop.integrations.earnorm.records.save])."""

    __slots__ = ("_record", "_started")

    def __init__(self, record: Any) -> None:
        self._record = record
        self._started = False

    def __await__(self) -> Generator[Any, None, Any]:
        self._started = True
        return self._write().__await__()

    async def _write(self) -> Any:
        record = self._record
        if record._ids:
            await record.write(dict(pending(record)))
        else:
            await record._earnorm_aop_save(pending(record))
            take_written(record)
        return record

    def _drop(self) -> None:
        """Its operation failed: the save it asked for is not made (nothing warned)."""
        self._started = True

    def __del__(self) -> None:
        if not self._started:
            warnings.warn(
                f"{type(self._record).__qualname__}.save() was never awaited: write "
                "'await record.save()' (inside a plugin's advice the write in progress "
                "awaits it)",
                RuntimeWarning,
                stacklevel=1,
            )


async def then_saves(operation: Awaitable[Any]) -> Any:
    """Await ``operation``, then the saves its advice asked for and did not await."""
    asked: list[Save] = []
    token = _ASKED.set(asked)
    try:
        result = await operation
    except BaseException:
        for call in asked:
            call._drop()
        raise
    finally:
        _ASKED.reset(token)
    for call in asked:
        if not call._started:
            await call
    return result


@classmethod  # type: ignore[misc]
async def _convert_to_db_as_given(cls: Any, vals: dict[str, Any]) -> dict[str, Any]:
    """EarnORM's conversion, keeping given (and kept) values of its automatic timestamps."""
    db_vals: dict[str, Any] = await _convert_to_db(cls, vals)
    backend = cls._env.adapter.backend_type
    for name, value in {**(_KEEP.get() or {}), **vals}.items():
        field = cls.__fields__.get(name)
        automatic = getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
        if value is not None and name in db_vals and automatic:
            db_vals[name] = await store_as_given(field, value, backend)
    return db_vals


# -- the woven operations ------------------------------------------------------------------


async def _earnorm_aop_save(
    self: Any, values: dict[str, Any], *, changed_only: bool = False
) -> Any:
    """Logical ``save``: EarnORM's ``create`` for an unsaved record, else its ``write``.

    ``changed_only`` (the ``changes`` plugin's ``update_fields`` mode): ``values``
    are the fields that change, and none means no write at all.
    """
    from ...adapters.visibility import including_hidden

    model = type(self)
    if changed_only and not values and self._ids:
        vars(self).pop(PENDING, None)  # all as stored: nothing to write, nothing re-read
        mark_written(self)
        return self
    read_before = None
    if not self._ids:
        created = await _create(model, values)
        object.__setattr__(self, "_ids", created._ids)
    else:
        read_before = state(self)
        known = read_before or {}
        keep = {n: known[n] for n in created_fields(model) if known.get(n) is not None}
        automatic = auto_fields(model)
        keep.update({n: v for n, v in values.items() if n in automatic and v is not None})
        vals = {n: v for n, v in values.items() if n not in automatic}
        await reach_gate(self)  # a write() of several records: all checked before any is written
        # EarnORM's write() hands _clear_cache() a list, which fails unless the
        # record's field cache is empty (dict.pop returns early on an empty dict):
        # a field awaited before would fail the write.  The values are read again after.
        self._cache.clear()
        token = _KEEP.set(keep)
        try:
            if vals or keep:  # MongoDB refuses an empty $set: nothing to write
                with including_hidden():  # write() checks the ids exist through _where_calc
                    await _write(self, vals)
        finally:
            _KEEP.reset(token)
    vars(self).pop(PENDING, None)
    mark_written(self)
    await load(self, track=False)  # what was stored; the "before" stays until the after advice
    stored = state(self)
    if read_before is not None and stored is not None:
        # Fields the call did not write keep the value read before it: another
        # writer's change in between is not this write's (nor in its changes).
        written = {*values, *auto_fields(model)}
        set_state(
            self,
            {n: stored[n] if n in written else read_before.get(n) for n in stored},
            track=False,
        )
    return self


@classmethod  # type: ignore[misc]
async def get(cls: Any, record_id: str) -> Any:
    """The record ``record_id`` with its stored values (EarnORM's ``browse`` and a read).

    The logical ``get``: the record it returns is what ``after:get`` advice
    sees as ``instance``.  An id with no document raises
    [`NotFound`][earnorm_aop.integrations.earnorm.records.NotFound].
    """
    record = cls._browse(cls._env, [record_id])
    await load(record)
    if state(record) is None:
        raise NotFound(f"{cls.__qualname__} has no record {record_id!r} (collection {cls._name!r})")
    return record


@classmethod  # type: ignore[misc]
async def where_calc(cls: Any, domain: Any) -> Any:
    """EarnORM's ``_where_calc``, its query answering ``filter(**kwargs)`` (``queries.py``)."""
    return answering_keywords(await _where_calc(cls, domain))


@classmethod  # type: ignore[misc]
async def searching(cls: Any, *args: Any, **kwargs: Any) -> Any:
    """EarnORM's ``search``, each record it found reported as loaded (``watch_loads``)."""
    found = await _search(cls, *args, **kwargs)
    for record in found:
        loads.notify(cls, record)
    return found


def rebuilt(model: Any, ids: tuple[str, ...], values: dict[str, Any] | None) -> Any:
    """A record of ``model`` with ``ids`` whose stored values are known to be ``values``."""
    record = model._browse(model._env, list(ids))
    set_state(record, values)
    return record


async def _earnorm_aop_delete(self: Any) -> bool:
    """Logical ``delete``: EarnORM's ``unlink`` (its query must see hidden rows too)."""
    from ...adapters.visibility import including_hidden

    with including_hidden():
        done: bool = await _unlink(self)
    set_state(self, None)
    return done


@classmethod  # type: ignore[misc]
async def _earnorm_aop_save_many(cls: Any, records: list[Any]) -> list[Any]:
    """Logical ``save_many``: one EarnORM ``create`` of the records' values."""
    if records:
        created = await _create(cls, [pending(r) for r in records])
        for record, pk in zip(records, created._ids, strict=True):
            object.__setattr__(record, "_ids", (pk,))
            vars(record).pop(PENDING, None)
            await load(record, track=False)
    return records


FACADES: dict[str, Any] = {
    "create": classmethod(create),
    "write": write,
    "unlink": unlink,
    "get": get,
    "save": save,
    "_where_calc": where_calc,
    "_convert_to_db": _convert_to_db_as_given,
    "_earnorm_aop_save": _earnorm_aop_save,
    "_earnorm_aop_delete": _earnorm_aop_delete,
    "_earnorm_aop_save_many": _earnorm_aop_save_many,
}


def install(model: type) -> None:
    """Give ``model`` the façades and woven operations it lacks (its own methods win).

    Its field descriptors become [`FieldValue`][earnorm_aop.integrations.earnorm.records.FieldValue]
    ones, so assignments count.
    """
    for name, func in FACADES.items():
        if name not in vars(model):
            setattr(model, name, func)
    for name, value in list(vars(model).items()):
        if type(value) is AsyncFieldDescriptor:
            setattr(model, name, RecordId(value.field) if name == "id" else FieldValue(value.field))
