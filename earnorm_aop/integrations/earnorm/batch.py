"""A ``write()`` is all or nothing: every record is checked before any is written.

EarnORM has no transactions, so once one record of a recordset is stored
nothing takes it back.  So the records' logical ``save`` operations run side
by side, one asyncio task each, and EarnORM's own write of each waits at a
*gate* ([`reach_gate`][earnorm_aop.integrations.earnorm.batch.reach_gate], called by the woven
operation just before it writes) until every record has reached it or ended: everything that can
refuse a record — validation, a plugin's ``before`` advice raising, an
``around`` advice before ``proceed()`` — has then run for all of them.  If
one was refused, the gate turns the others back
([`WriteAborted`][earnorm_aop.integrations.earnorm.batch.WriteAborted]) and nothing is written;
otherwise they are written one after the other, in the recordset's order, as a loop over the records
would write them.

A record whose write did not happen (refused, vetoed, turned back) gets back
the values it had pending before the call: the call's values are not left
on it for its next write.  Tasks copy the caller's context, so
``disabled()``, ``including_deleted()``, ``actor()`` and ``trace()`` hold in
each record's save as they do in the caller.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextvars import ContextVar
from typing import Any

from ...errors import PluginError
from .state import pending, set_pending, take_written

__all__ = ["WriteAborted", "reach_gate", "save_all"]


class WriteAborted(PluginError):
    """A record's write was not made: another record of the same ``write()`` was refused."""


# The gate of the task running one record's save, and that record.
_GATE: ContextVar[tuple[_Gate, Any] | None] = ContextVar("earnorm_aop_gate", default=None)


class _Gate:
    """Holds each record's write until every record of the call has reached it or ended.

    Once open, the records are written one after the other, in the
    recordset's order (each after the previous one's save has ended, its
    ``after`` advice included), as a loop over the records would.
    """

    def __init__(self, records: Sequence[Any]) -> None:
        loop = asyncio.get_running_loop()
        self._left = len(records)  # records neither at the gate nor ended
        self._refused = False
        self._at_gate: set[int] = set()
        self._opened: asyncio.Future[bool] = loop.create_future()
        self._index = {id(r): i for i, r in enumerate(records)}
        self._ended = [loop.create_future() for _ in records]

    def _one_less(self) -> None:
        self._left -= 1
        if self._left == 0:
            self._opened.set_result(not self._refused)

    async def save(self, record: Any) -> Any:
        """The record's logical save; an error before the gate refuses the whole call."""
        try:
            return await record._earnorm_aop_save(pending(record))
        except BaseException:
            if id(record) not in self._at_gate:
                self._refused = True
            raise
        finally:
            if id(record) not in self._at_gate:
                self._one_less()  # ended without reaching the gate (refused or vetoed)
            self._ended[self._index[id(record)]].set_result(None)

    async def reached(self, record: Any) -> None:
        self._at_gate.add(id(record))
        self._one_less()
        if not await self._opened:
            raise WriteAborted(
                f"{type(record).__qualname__} {record._ids[0]!r} was not written: "
                "another record of the same write() was refused"
            )
        index = self._index[id(record)]
        if index:
            await self._ended[index - 1]


async def reach_gate(record: Any) -> None:
    """Wait, in ``record``'s save within a ``write()`` of several records, until all may write."""
    held = _GATE.get()
    if held is not None and held[1] is record:
        _GATE.set(None)  # this task's later writes (after advice) are not held
        await held[0].reached(record)


async def save_all(records: Sequence[Any], vals: dict[str, Any]) -> None:
    """Run the logical save of each record with ``vals``, all or nothing (see the module doc)."""
    kept = [dict(pending(r)) for r in records]
    for record, before in zip(records, kept, strict=True):
        take_written(record)  # from an earlier save (a create): not this call's
        # Values assigned to the record's fields beforehand are written too.
        set_pending(record, {**before, **vals})
    if len(records) == 1:
        (record,) = records
        try:
            await record._earnorm_aop_save(pending(record))
        finally:
            if not take_written(record):
                set_pending(record, kept[0])
        return
    gate = _Gate(records)
    tasks = []
    for record in records:
        token = _GATE.set((gate, record))
        try:  # the task copies the context, gate included
            tasks.append(asyncio.ensure_future(gate.save(record)))
        finally:
            _GATE.reset(token)
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    error: BaseException | None = None
    for record, before, outcome in zip(records, kept, outcomes, strict=True):
        if not take_written(record):
            set_pending(record, before)
        if isinstance(outcome, BaseException) and not isinstance(outcome, WriteAborted):
            error = error or outcome  # the first record refused, in the recordset's order
    if error is not None:
        raise error
