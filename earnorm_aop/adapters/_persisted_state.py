"""Persisted state: what the database holds for an instance, as last loaded or saved.

Change tracking compares an instance with this state.  It is kept beside the
instance (weakly, never on it) so that recording it neither keeps an instance
alive nor adds attributes to user objects; instances that cannot be weakly
referenced are keyed by class and primary key instead.  A copy of an
instance (``copy.copy``, pydantic's ``model_copy``) with the same class and
primary key is the same row: until it is saved itself, it reads the state of
the live instance that last loaded or saved that row
([`same_row_state`][earnorm_aop.adapters._persisted_state.same_row_state]).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from ._fields import AdapterFields

__all__ = ["AdapterPersistedState"]


class AdapterPersistedState(AdapterFields):
    """``remember_state`` / ``loaded_state`` / ``forget_state`` of the adapter (module doc)."""

    # False: its models' objects carry their persisted state themselves (SQLAlchemy's
    # attribute history), so ``remember_state`` / ``remember_written`` do nothing for
    # them and the ``changes`` plugin weaves no ``after`` advice to call them after a save.
    remembers_saves: bool = True

    def remember_state(self, instance: Any, state: Mapping[str, Any] | None = None) -> None:
        """Record ``state`` (default: a snapshot now) as what the database holds for ``instance``.

        An adapter calls this when it *loads* an instance (its ORM's load hook),
        and the ``changes`` plugin after each successful write, so
        [`loaded_state`][earnorm_aop.adapters._persisted_state.AdapterPersistedState.loaded_state]
        (and the change tracking) can tell what changed since.  Plain classes have no load step:
        their state is known from their first save on.  Stored beside the instance (weakly), never
        on it.  An instance that cannot be weakly referenced (``__slots__`` without
        ``__weakref__``) is never kept alive: its state is kept per row, under
        its class and primary key (``pk`` or ``id``), or not at all without one.
        """
        snapshot = dict(self.snapshot(instance) if state is None else state)
        if not _weakly_referenceable(instance):
            row = _row_key(instance)
            if row is not None:
                with _state_lock:
                    _rows[row] = snapshot
            return
        key = id(instance)
        with _state_lock:
            known = _states.get(key)
            if known is None or known[0]() is not instance:
                ref: Callable[[], Any] = weakref.ref(instance, _dropper(key))
            else:
                ref = known[0]
            _states[key] = (ref, snapshot)
            _note_row(key, ref, instance)

    def remember_written(self, instance: Any) -> None:
        """After a save of every field: what ``instance`` holds now is what the database holds.

        What the ``changes`` plugin calls after each such save:
        [`remember_state`][earnorm_aop.adapters._persisted_state.AdapterPersistedState.remember_state]
        of a snapshot by default; an adapter may make it one call of its own.
        """
        self.remember_state(instance)

    def loaded_state(self, instance: Any) -> dict[str, Any] | None:
        """The field values recorded by
        [`remember_state`][earnorm_aop.adapters._persisted_state.AdapterPersistedState.remember_state]
        for ``instance``, or ``None``."""
        if not _weakly_referenceable(instance):
            row = _row_key(instance)
            found = None if row is None else _rows.get(row)
            return None if found is None else dict(found)
        known = _states.get(id(instance))
        if known is None or known[0]() is not instance:
            found = same_row_state(instance)
            return None if found is None else dict(found)
        return dict(known[1])

    def forget_state(self, instance: Any) -> None:
        """Drop what
        [`remember_state`][earnorm_aop.adapters._persisted_state.AdapterPersistedState.remember_state]
        recorded (after a delete)."""
        with _state_lock:
            if not _weakly_referenceable(instance):
                row = _row_key(instance)
                if row is not None:
                    _rows.pop(row, None)
                return
            known = _states.get(id(instance))
            if known is not None and known[0]() is instance:
                del _states[id(instance)]
                _drop_row(id(instance))


# id(instance) -> (reference to it, persisted state), for remember_state().  The
# lock is reentrant: a weakref callback (_dropper) may run while it is held.
_state_lock = threading.RLock()
_states: dict[int, tuple[Callable[[], Any], dict[str, Any]]] = {}


# (class, primary key) -> persisted state, for instances without weakref support.
_rows: dict[tuple[type, Any], dict[str, Any]] = {}

# A copy of a saved instance (``copy.copy``, pydantic's ``model_copy``) keeps
# its primary key: it is the same row, so until it is saved itself it starts
# from the state of that row, as a copied ORM instance does.  (class,
# primary key) -> the live instance whose state was recorded last for that
# row, and id(instance) -> its row, so the entry goes with the state.
_by_row: dict[tuple[type, Any], Callable[[], Any]] = {}
_row_of: dict[int, tuple[type, Any]] = {}


def same_row_state(instance: Any) -> dict[str, Any] | None:
    """The state recorded for another live instance of ``instance``'s row, if any (no copy).

    ``instance`` has no state of its own; one with the class and primary key
    (``pk`` or ``id``) of an instance that was loaded or saved is a copy of
    that row.  Without a primary key an instance is its own row: ``None``.
    """
    if not _by_row:
        return None
    row = _row_key(instance)
    ref = None if row is None else _by_row.get(row)
    other = None if ref is None else ref()
    if other is None or other is instance:
        return None
    known = _states.get(id(other))
    if known is None or known[0]() is not other:
        return None
    return known[1]


def _note_row(key: int, ref: Callable[[], Any], instance: Any) -> None:
    """``instance`` (``id`` ``key``) holds the state of its row now (under ``_state_lock``)."""
    row = _row_key(instance)
    old = _row_of.get(key)
    if old is not None and old != row:
        _drop_row(key)
    if row is not None:
        _by_row[row] = ref
        _row_of[key] = row


def _drop_row(key: int) -> None:
    """Forget the row of the instance ``key`` unless another live instance holds it now."""
    row = _row_of.pop(key, None)
    if row is None:
        return
    ref = _by_row.get(row)
    if ref is not None:
        holder = ref()
        if holder is None or id(holder) == key:
            del _by_row[row]


def _weakly_referenceable(instance: Any) -> bool:
    return type(instance).__weakrefoffset__ != 0


def _row_key(instance: Any) -> tuple[type, Any] | None:
    for attr in ("pk", "id"):
        value = getattr(instance, attr, None)
        if value is not None:
            try:
                hash(value)
            except TypeError:
                return None
            return type(instance), value
    return None


def _dropper(key: int) -> Callable[[Any], None]:
    """The weakref callback forgetting the state recorded under ``key``."""

    def drop(_ref: Any) -> None:
        with _state_lock:
            known = _states.get(key)
            if known is not None and known[0]() is None:
                del _states[key]
                _drop_row(key)

    return drop
