"""What the adapter knows of an EarnORM record: the values read last and those to write.

Three sets of values, all in the record's ``__dict__`` (EarnORM records have
one: models don't declare ``__slots__``), so they go away with the record:

- the *state*: the document as read last (before a write, by ``get``, or
  after a write: what was stored, where the write stored something; the
  fields it did not write keep the value read before it), which plugins
  read without ``await``;
- the *tracked* state: the document as loaded or last saved, the "before" of
  change tracking.  A read after a write does not replace it: until the
  write's ``after`` advice has run (the ``changes`` plugin's, last, makes the
  written values the tracked state), it is what the write changed from;
- the *pending* values: what the write in progress (or the next one) writes.

And a flag, set when a write used its pending values up, by which
``batch.py`` tells a record written from one refused or vetoed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from earnorm.base.model.base import BaseModel
from earnorm.base.model.descriptors import AsyncFieldDescriptor

__all__ = [
    "FieldValue",
    "RecordId",
    "is_record",
    "mark_written",
    "pending",
    "set_pending",
    "set_state",
    "set_tracked",
    "state",
    "take_written",
    "tracked",
]

STATE = "_earnorm_aop_state"
PENDING = "_earnorm_aop_pending"
TRACKED = "_earnorm_aop_tracked"
WRITTEN = "_earnorm_aop_written"


def is_record(obj: Any) -> bool:
    return isinstance(obj, BaseModel)


def state(record: Any) -> dict[str, Any] | None:
    """The stored values read last (or written last), or ``None`` if never read."""
    found: dict[str, Any] | None = vars(record).get(STATE)
    return found


def set_state(record: Any, values: Mapping[str, Any] | None, *, track: bool = True) -> None:
    """Remember ``values`` as read; ``track``: also as the tracked state (a load, not a re-read)."""
    own = vars(record)
    if values is None:
        own.pop(STATE, None)
        if track:
            own.pop(TRACKED, None)
        return
    own[STATE] = dict(values)
    if track:
        own[TRACKED] = own[STATE]  # never changed in place: shared, not copied


def tracked(record: Any) -> dict[str, Any] | None:
    """The values as loaded or last saved (change tracking's "before"), or ``None``."""
    found: dict[str, Any] | None = vars(record).get(TRACKED)
    return found


def set_tracked(record: Any, values: Mapping[str, Any] | None) -> None:
    """Make ``values`` the tracked state (after a write: what it stored)."""
    if values is None:
        vars(record).pop(TRACKED, None)
    else:
        vars(record)[TRACKED] = dict(values)


def pending(record: Any) -> dict[str, Any]:
    """The values the record's write in progress (or next ``save_instance``) writes."""
    found = vars(record).get(PENDING)
    if found is None:
        found = vars(record)[PENDING] = {}
    return found  # type: ignore[no-any-return]


def set_pending(record: Any, values: dict[str, Any]) -> None:
    vars(record)[PENDING] = values


def mark_written(record: Any) -> None:
    """The record's write went through (its pending values were used up)."""
    vars(record)[WRITTEN] = True


def take_written(record: Any) -> bool:
    """Whether the record was written since the last call (and forget it)."""
    return bool(vars(record).pop(WRITTEN, False))


class FieldValue(AsyncFieldDescriptor):  # type: ignore[misc]
    """EarnORM's field descriptor where ``record.field = value`` sets the value to write.

    EarnORM's own ``__set__`` is a coroutine function, so an assignment does
    nothing at all; advice written as the plugin page writes it
    (``instance.updated_at = datetime.now()`` in ``before_save``) needs it to set
    what the write in progress (or the record's next ``write``) stores.
    ``await record.field`` gives that value until it is written, else the value
    the adapter read last (by ``get``, before and after each write: what plugins
    saw), else reads it as EarnORM does.
    """

    def __get__(self, instance: Any, owner: Any) -> Any:
        if instance is not None:
            own = vars(instance)
            for values in (own.get(PENDING), own.get(STATE)):
                if values and self.name in values:
                    return _resolved(values[self.name])
        return super().__get__(instance, owner)

    def __set__(self, instance: Any, value: Any) -> None:
        pending(instance)[str(self.name)] = value


class RecordId(AsyncFieldDescriptor):  # type: ignore[misc]
    """``record.id`` as EarnORM's ``BaseModel.id`` property gives it: the id, or ``""``.

    EarnORM's metaclass puts an async field descriptor named ``id`` over its
    own sync ``id`` property, so ``record.id`` is a coroutine (and
    ``if not instance.id`` always false).  EarnORM's own code reads
    ``self.id`` without ``await``, as the plugin page's advice does
    (``f"{self.prefix}:{instance.id}"``): on a woven model it is the property again.
    """

    def __get__(self, instance: Any, owner: Any) -> Any:
        if instance is None:
            return self.field
        ids: tuple[str, ...] = instance._ids
        return ids[0] if ids else ""

    def __set__(self, instance: Any, value: Any) -> None:
        object.__setattr__(instance, "_ids", (value,))


async def _resolved(value: Any) -> Any:
    return value
