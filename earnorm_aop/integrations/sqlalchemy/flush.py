"""Instance writes at flush: the woven ``save`` / ``delete`` of each object span the flush.

SQLAlchemy writes instances when the session flushes, not when user code
calls a method, so the logical ``save`` and ``delete`` of a model are two
private methods installed on the mapped class (``_earnorm_save``,
``_earnorm_delete``) that the plugins weave like any other.  A ``before_flush``
listener, installed once on the ``Session`` class, calls them for each object
of a woven model in ``session.new``, ``session.dirty`` (really modified) and
``session.deleted``.

A call must keep its meaning across the flush: ``before`` advice and the first
half of ``around`` advice run before the SQL, ``after`` advice and the second
half of ``around`` advice after it (when the primary key of a new row is
known).  So each call runs in a greenlet of its own (one its thread keeps
from an earlier write: ``workers.py``): the original method body is a
*suspension point* that switches back to the flush, which goes on and emits
the SQL; ``after_flush_postexec`` resumes every suspended call (the body
returns ``None``) so its remaining advice runs.  If the flush fails, the
error is thrown into the suspended calls at the suspension point, so their
``error`` advice sees it and their ``after`` advice does not run.

A call that never reaches its body was vetoed (a ``before`` advice returned
``False``, an ``around`` advice did not proceed): the write is taken out of
the flush — a new object is expunged, a modified one gets its loaded values
back, a deleted one is added back (``session.add``), which is how the
softdelete plugin turns a delete into an update.  An exception from advice
before the SQL fails the flush with nothing written.

Each call runs in a copy of the context of the flush (``trace()``,
``disabled()``, ``audit.actor()``), or, for writes a plugin asked for through
the adapter (``restore()``, ``hard_delete()``, softdelete's update), in the
context captured when it asked, so its labels reach the flush.  On
``AsyncSession`` the flush runs in SQLAlchemy's own greenlet; a suspended call
doing I/O (the audit ``table`` sink) has its awaitables passed through to it.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import types
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import greenlet
from sqlalchemy import event, select
from sqlalchemy.orm import Session, attributes, object_session
from sqlalchemy.orm import exc as orm_exc
from sqlalchemy.orm.base import NEVER_SET, NO_VALUE, PassiveFlag, instance_state

from . import context, workers
from .workers import drive

__all__ = ["DELETE", "SAVE", "capture", "install", "is_original", "make_bodies", "suspend"]

SAVE = "_earnorm_save"
DELETE = "_earnorm_delete"

_KEY = "_earnorm_aop_flush"  # session.info key of the flush in progress
_NO_CHANGE = PassiveFlag.NO_CHANGE


@dataclass
class _Flush:
    """One flush of one session: the calls waiting for its end."""

    driver: greenlet.greenlet
    waiting: list[greenlet.greenlet] = field(default_factory=list)
    seen: set[tuple[int, str]] = field(default_factory=set)
    queued: list[tuple[Any, str]] = field(default_factory=list)
    only: set[int] | None = None  # flush(objects=...): the ids of those objects
    # The state before a queued save, read by the call that queued it on its own
    # object (a soft delete's): by id of the instance state -> (state, values).
    before: dict[int, tuple[Any, dict[str, Any] | None]] = field(default_factory=dict)


# Original bodies installed on mapped classes, to tell a woven method from one
# with no advice (skipped at flush at no cost).
_originals: weakref.WeakSet[Any] = weakref.WeakSet()

# The persisted state of each object whose woven write is in progress, by its
# instance state (see _start; the adapter's ``loaded_state`` reads it; outside a
# write: ``NOT_WRITING``).  A plain dict (no weak reference made per write): each
# entry is removed when its call ends, however it ends (``_start``'s ``finally``).
before_write: dict[Any, dict[str, Any] | None] = {}

NOT_WRITING = object()


def committed_state(instance: Any) -> dict[str, Any] | None:
    """``instance``'s values as committed (its history's old values); ``None``: never stored."""
    state = instance_state(instance)
    if state.key is None:
        return None
    out: dict[str, Any] = {}
    unknown = []
    # What each attribute's history would say (its deleted, else unchanged value),
    # read from the two dicts it is made of: the values before this transaction's
    # changes (``committed_state``) and the current ones.  No history object per
    # attribute: this runs for every object of every flush.
    committed = state.committed_state
    current = state.dict
    for attr in state.mapper.column_attrs:
        key = attr.key
        if key in committed:
            old = committed[key]
            if old is NO_VALUE or old is NEVER_SET:  # set without being loaded
                unknown.append(attr)
            else:
                out[key] = old
        elif key in current:
            out[key] = current[key]
        else:
            unknown.append(attr)
    if unknown and state.session is not None and state.identity is not None:
        # Expired (after a commit) or never loaded: set without loading, so the
        # session does not know the old value.  One SELECT on the session's
        # connection (no ORM event, no autoflush) reads what the row holds.
        out.update(_stored(state, unknown))
    return out


def _stored(state: Any, attrs: Sequence[Any]) -> dict[str, Any]:
    mapper = state.mapper
    columns = [a.columns[0] for a in attrs if len(a.columns) == 1]
    where = [c == v for c, v in zip(mapper.primary_key, state.identity, strict=True)]
    connection = state.session.connection(bind_arguments={"mapper": mapper})
    row = connection.execute(select(*columns).where(*where)).first()
    if row is None:
        return {}
    return {a.key: value for a, value in zip(attrs, row, strict=True)}


# Contexts captured for a pending write (restore(), hard_delete(), softdelete's
# update), by instance state; the flush runs that object's call in it.
# By ``id`` of the state in a plain dict (one C look-up per write, no weak reference made
# per write); an entry goes when its state does, or when the flush takes it.
_captured: dict[int, tuple[weakref.ref[Any], contextvars.Context]] = {}


def _forget(key: int, ref: weakref.ref[Any]) -> None:
    found = _captured.get(key)
    if found is not None and found[0] is ref:
        del _captured[key]


def make_bodies() -> dict[str, Callable[..., Any]]:
    """Fresh original functions for one model (each model weaves its own)."""

    def _earnorm_save(self: Any) -> None:
        """The flush writing this object (an INSERT or UPDATE), woven as ``save``."""
        suspend()

    def _earnorm_delete(self: Any) -> None:
        """The flush deleting this object's row, woven as ``delete``."""
        suspend()

    _originals.add(_earnorm_save)
    _originals.add(_earnorm_delete)
    return {SAVE: _earnorm_save, DELETE: _earnorm_delete}


def is_original(model: type, name: str) -> bool:
    """Whether ``model``'s ``name`` has no advice (or is not installed).

    Read from the class dicts along the MRO (what ``inspect.getattr_static``
    finds for a mapped class's method, without its general machinery: this is
    asked for every object of every flush).
    """
    found = None
    for klass in model.__mro__:
        if name in klass.__dict__:
            found = klass.__dict__[name]
            break
    # By type first: a woven wrapper compares and hashes as the function it wraps.
    return found is None or (type(found) is types.FunctionType and found in _originals)


def suspend() -> Any:
    """The body of a woven write: wait for the flush's end (outside a flush: nothing)."""
    flush = _CURRENT.get()
    if flush is None:
        return None
    # The call itself is what it sends to the flush: "suspended here".
    return flush.driver.switch(greenlet.getcurrent())


_CURRENT: contextvars.ContextVar[_Flush | None] = contextvars.ContextVar(
    "earnorm_aop_sqlalchemy_flush", default=None
)


def capture(instance: Any) -> None:
    """Run ``instance``'s next flush-time call in the current context (labels, hard delete)."""
    state = instance_state(instance)
    key = id(state)
    ref = weakref.ref(state, functools.partial(_forget, key))
    _captured[key] = (ref, contextvars.copy_context())


def _start(flush: _Flush, session: Session, obj: Any, name: str) -> bool:
    """Call ``obj``'s woven ``name`` until it suspends; ``False`` if it was vetoed."""
    state = instance_state(obj)
    if state.key is None:
        _apply_defaults(state)
    captured = _captured.pop(id(state), None)
    if captured is not None and captured[0]() is state:
        ctx = captured[1]
    else:
        ctx = contextvars.copy_context()
    method = getattr(obj, name)
    # The committed state SQLAlchemy replaces at the flush, kept for the whole
    # call: after advice and conditions compare with the values before the write.
    # A save queued by a call on the same object (a soft delete) takes what that
    # call read: nothing was stored between them, so the values are the same.
    known = flush.before.pop(id(state), None) if flush.before else None
    before = known[1] if known is not None and known[0] is state else committed_state(obj)

    def run() -> Any:
        _CURRENT.set(flush)
        context.SESSION.set(session)
        before_write[state] = before
        try:
            return method()
        finally:
            before_write.pop(state, None)

    # An idle worker of this thread, now a child of the flush's driver; or a new one
    # (taken here, not by a helper: this runs for every object of every flush).
    idle: list[workers.Worker] | None = getattr(workers.pools, "idle", None)
    if idle:
        call = idle.pop()
        call.parent = flush.driver
    else:
        call = workers.Worker(flush.driver)
    suspended, _ = drive(call, functools.partial(call.switch, functools.partial(ctx.run, run)))
    if suspended:
        flush.waiting.append(call)
        return True
    return False


def _apply_defaults(state: Any) -> None:
    """Give a new object the scalar Python-side column defaults it will be inserted with.

    SQLAlchemy applies them in the INSERT, after ``before_flush``; setting them
    first lets ``save`` advice (validation, audit) see the values written.
    """
    mapper = state.mapper
    known = state.manager.info.get(_DEFAULTS)
    if known is None or known[0] is not mapper.column_attrs:
        known = _scalar_defaults(state.manager, mapper)
    values = state.dict
    for key, value in known[1]:
        if key not in values:
            setattr(state.obj(), key, value)


_DEFAULTS = "_earnorm_aop_scalar_defaults"  # key in the class manager's ``info``


def _scalar_defaults(manager: Any, mapper: Any) -> tuple[Any, tuple[tuple[str, Any], ...]]:
    """The mapper's scalar column defaults, kept in its class manager's ``info``.

    With the column list they were read from: SQLAlchemy makes a new one when
    a column is added to the mapper, and then they are read again.
    """
    attrs = mapper.column_attrs
    pairs = []
    for attr in attrs:
        if len(attr.columns) != 1:
            continue
        default = getattr(attr.columns[0], "default", None)
        if default is not None and getattr(default, "is_scalar", False):
            pairs.append((attr.key, default.arg))
    known = (attrs, tuple(pairs))
    manager.info[_DEFAULTS] = known
    return known


def _veto(session: Session, obj: Any, name: str) -> None:
    """Take ``obj``'s write out of this flush: the data stays as it was."""
    if name == DELETE:
        if obj in session.deleted:
            session.add(obj)
        return
    if obj in session.new:
        session.expunge(obj)
        return
    state = instance_state(obj)
    for attr in state.mapper.column_attrs:
        history = state.attrs[attr.key].history
        if history.has_changes():
            if history.deleted:
                attributes.set_committed_value(obj, attr.key, history.deleted[0])
            else:
                session.expire(obj, [attr.key])


def _pending(session: Session, flush: _Flush) -> list[tuple[Any, str]]:
    """Objects of woven models this flush writes whose call has not run yet.

    In this order: saves queued by advice, new objects, modified ones, deleted
    ones.  Each object's model is asked once whether it is woven, and the
    history of an attribute is read only for an object whose save may still
    run (a flush reads these lists once per batch).
    """
    seen = flush.seen
    only = flush.only
    out: list[tuple[Any, str]] = []
    found: list[tuple[Any, str]] = []
    queued = flush.queued
    if queued:
        found += queued
        queued.clear()
    for obj in list(session.new):
        found.append((obj, SAVE))
    for obj, name in found:
        key = (id(obj), name)
        if key in seen or is_original(type(obj), name):
            continue
        if only is not None and id(obj) not in only:
            continue  # session.flush(objects=[...]) leaves it for a later flush
        seen.add(key)
        out.append((obj, name))
    for obj in list(session.dirty):
        key = (id(obj), SAVE)
        if key in seen or is_original(type(obj), SAVE):
            continue  # queued or new above, or written already in this flush
        if only is not None and id(obj) not in only:
            continue
        if _modified(instance_state(obj)):
            seen.add(key)
            out.append((obj, SAVE))
    for obj in list(session.deleted):
        key = (id(obj), DELETE)
        if key in seen or is_original(type(obj), DELETE):
            continue
        if only is not None and id(obj) not in only:
            continue
        seen.add(key)
        out.append((obj, DELETE))
    return out


def _modified(state: Any) -> bool:
    """``session.is_modified(obj, include_collections=False)``, asked of the changed attributes.

    An attribute can differ from its loaded value only if a set recorded that
    value in ``state.committed_state``; SQLAlchemy's own check reads the
    history of every attribute of the class.
    """
    committed = state.committed_state
    if not committed:
        return False
    current = state.dict
    manager = state.manager
    for key in list(committed):
        impl = manager[key].impl
        if hasattr(impl, "get_collection") or not hasattr(impl, "get_history"):
            continue
        added, _, deleted = impl.get_history(state, current, passive=_NO_CHANGE)
        if added or deleted:
            return True
    return False


def _before_flush(session: Session, flush_context: Any, instances: Any) -> None:
    _finish_stale(session)
    flush = _Flush(driver=greenlet.getcurrent())
    if instances is not None:
        flush.only = {id(o) for o in instances}
    session.info[_KEY] = flush
    try:
        while batch := _pending(session, flush):
            for obj, name in batch:
                if not _start(flush, session, obj, name):
                    _veto(session, obj, name)
    except BaseException as exc:
        _fail(session, exc)
        raise


def queue_save(session: Session, instance: Any) -> bool:
    """Inside ``session``'s flush: write ``instance`` in it too (it was deleted: undo that)."""
    flush = session.info.get(_KEY)
    if flush is None or flush.driver.dead:
        return False
    if instance in session.deleted:
        session.add(instance)
    state = instance_state(instance)
    during = before_write.get(state, NOT_WRITING)
    if during is not NOT_WRITING:  # queued by its own running call: what it read
        flush.before[id(state)] = (state, during)
    flush.seen.discard((id(instance), SAVE))
    flush.queued.append((instance, SAVE))
    return True


def _after_flush_postexec(session: Session, flush_context: Any) -> None:
    flush = session.info.pop(_KEY, None)
    if flush is None:
        return
    flush.before.clear()  # a queued save that did not run: nothing kept past the flush
    error: BaseException | None = None
    records: list[Mapping[str, Any]] = []
    session.info[RECORDS] = records
    try:
        for call in flush.waiting:
            if call.dead:
                continue
            try:
                if error is None:
                    drive(call, functools.partial(call.switch, None))
                else:
                    drive(call, functools.partial(call.throw, error))
            except BaseException as exc:
                if error is None:
                    error = exc
    finally:
        session.info.pop(RECORDS, None)
    if error is not None:
        raise error
    if records:
        from .audit import write

        write(session, *records)  # the flush's audit records: one executemany


RECORDS = "_earnorm_aop_flush_records"  # session.info key: audit records of the flush's end


def flush_records(session: Session) -> list[Mapping[str, Any]] | None:
    """The audit records the ending flush of ``session`` writes together, if it is ending.

    The ``after`` advice of the flush's writes runs as it ends: the audit
    ``table`` sink adds its rows here and the flush inserts them at once.
    """
    found: list[Mapping[str, Any]] | None = session.info.get(RECORDS)
    return found


def _fail(session: Session, error: BaseException) -> None:
    """The flush failed: throw ``error`` into every suspended call (its error advice runs)."""
    flush = session.info.pop(_KEY, None)
    if flush is None:
        return
    flush.before.clear()
    for call in flush.waiting:
        if call.dead:
            continue
        with contextlib.suppress(BaseException):
            drive(call, functools.partial(call.throw, error))


def _finish_stale(session: Session) -> None:
    """End the calls of a flush that stopped between ``before_flush`` and its SQL.

    SQLAlchemy can leave a flush after ``before_flush`` without a word: nothing
    left to write, or a transaction it cannot begin (``PendingRollbackError``
    after an earlier failure).  Nothing was written for those calls, so they
    end with an error (their ``error`` advice runs, ``after`` advice does not),
    at the next flush or when the transaction ends.
    """
    if _KEY in session.info:
        _fail(session, orm_exc.FlushError("the flush ended before writing this object"))


def _after_soft_rollback(session: Session, previous: Any) -> None:
    import sys

    error = sys.exc_info()[1]
    if error is None:
        error = orm_exc.FlushError("the flush was rolled back")
    _fail(session, error)


def _after_transaction_end(session: Session, transaction: Any) -> None:
    if _KEY in session.info and transaction.parent is None:
        _finish_stale(session)


@functools.cache  # once per process
def install() -> None:
    """Listen on every ``Session`` (and so every ``AsyncSession``) once."""
    event.listen(Session, "before_flush", _before_flush)
    event.listen(Session, "after_flush_postexec", _after_flush_postexec)
    event.listen(Session, "after_soft_rollback", _after_soft_rollback)
    event.listen(Session, "after_transaction_end", _after_transaction_end)


def session_of(instance: Any) -> Session | None:
    return object_session(instance)
