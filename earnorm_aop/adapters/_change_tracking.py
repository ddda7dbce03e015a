"""Change tracking: what the adapter tells ``tracking`` of a write's before and after.

The part of [`Adapter`][earnorm_aop.adapters.base.Adapter] that
[`earnorm_aop.adapters.tracking`][earnorm_aop.adapters.tracking] reads: the persisted state
of an instance, a field's value now, what a value stores, and the one read of
the rows before a bulk write.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from ._calls import AdapterCalls
from ._persisted_state import (
    AdapterPersistedState,
    _row_key,
    _rows,
    _states,
    _weakly_referenceable,
    same_row_state,
)
from ._unknown import UNKNOWN

__all__ = ["AdapterChangeTracking", "changed_values"]


class AdapterChangeTracking(AdapterCalls, AdapterPersistedState):
    """The change-tracking methods of the adapter (see the comment below)."""

    # What a field absent from the persisted state was: plain objects gain
    # attributes as they go, so one not there before had none (``None``); an
    # ORM that defers fields says ``tracking.UNKNOWN`` (never guessed).
    unloaded: Any = None

    # -- change tracking -----------------------------------------------------------
    #
    # What ``changes``, hook conditions and the built-ins know of a write
    # (earnorm_aop.adapters.tracking) comes from five methods; an adapter
    # for another ORM implements these (and records loads with
    # ``remember_state``, from its load hook):
    #
    # - ``persisted_state(instance)``: the values as loaded or last saved,
    #   without a copy (``None``: never loaded nor saved, a creation);
    #   ``persisted_values(instance)`` may give the same to read by name only;
    # - ``current_value(instance, name)``: one field's value now, or
    #   ``tracking.UNKNOWN`` when it was never loaded (never a query);
    # - ``snapshot(instance)``: every known field now (by the names above);
    #   ``changes_since(instance, old, written)`` may compare it with a state
    #   in one pass (what a save's diff asks);
    # - ``saved_fields(model, args, kwargs)``: what a ``save`` call writes;
    # - ``read_rows(model, queryset, values, fields=None)``: the one read before
    #   a bulk write: each row with its values and what ``values`` store in it
    #   (``fields``: only those columns are needed, with the key and ``values``'s).

    def persisted_state(self, instance: Any) -> Mapping[str, Any] | None:
        """[`loaded_state`][earnorm_aop.adapters._change_tracking.AdapterChangeTracking.loaded_state]
        without the copy (read it, never change it): one look-up a field.

        An adapter that keeps the state its own way (overriding
        [`remember_state`][earnorm_aop.adapters._change_tracking.AdapterChangeTracking.remember_state]
        /
        [`loaded_state`][earnorm_aop.adapters._change_tracking.AdapterChangeTracking.loaded_state])
        is asked through ``loaded_state`` until it overrides this too.
        """
        if type(self).loaded_state is not AdapterPersistedState.loaded_state:
            return self.loaded_state(instance)
        if not _weakly_referenceable(instance):
            row = _row_key(instance)
            return None if row is None else _rows.get(row)
        known = _states.get(id(instance))
        if known is None or known[0]() is not instance:
            return same_row_state(instance)  # a copy of a saved instance, or None
        return known[1]

    def persisted_values(self, instance: Any) -> Mapping[str, Any] | None:
        """The persisted state to read fields from by name (``.get(name)``), never to iterate.

        What an instance write's "before" is read from, on every tracked
        write.  An adapter may hand back something cheaper to keep than
        [`persisted_state`][earnorm_aop.adapters._change_tracking.AdapterChangeTracking.persisted_state]
        (the instance's own attributes as its last full save left them, other keys and all).
        Default:
        [`persisted_state`][earnorm_aop.adapters._change_tracking.AdapterChangeTracking.persisted_state].
        """
        return self.persisted_state(instance)

    def current_value(self, instance: Any, name: str) -> Any:
        """Field ``name`` of ``instance`` now; ``tracking.UNKNOWN`` if it has none.

        Plain: the attribute.  An ORM that defers fields: unknown rather than
        fetched.
        """
        return getattr(instance, name, UNKNOWN)

    def changes_since(
        self, instance: Any, old: Mapping[str, Any], written: frozenset[str] | None = None
    ) -> dict[str, tuple[Any, Any]]:
        """Field -> ``(old, new)`` of each known field of ``instance`` whose value differs from
        ``old``'s (the persisted state); ``written``: only those fields (a restricted save).

        The diff of every save of a loaded instance, right after the write (the
        ``after_change`` event's ``changes``).  Default: the
        [`snapshot`][earnorm_aop.adapters._fields.AdapterFields.snapshot] compared with ``old``;
        an ORM may compare its instance's values in place, in one pass.
        """
        new = self.snapshot(instance)
        if written is not None:
            new = {n: v for n, v in new.items() if n in written}
        return changed_values(old, new, self.unloaded)

    def stored_value(self, model: type, name: str, value: Any) -> Any:
        """What writing ``value`` to ``name`` stores (a related object's key for a foreign key)."""
        return value

    def read_rows(
        self,
        model: type,
        queryset: Any,
        values: Mapping[str, Any],
        fields: Collection[str] | None = None,
    ) -> list[tuple[Any, dict[str, Any], dict[str, Any]]]:
        """The rows ``queryset`` matches now, read once before a bulk write.

        Each is ``(instance, values now, what values store)``, both by the names
        [`snapshot`][earnorm_aop.adapters._change_tracking.AdapterChangeTracking.snapshot] uses.
        Plain: the fetched items with the values as given. An ORM with expressions: one read of the
        rows, each expression evaluated by the database for each row in that same query.
        ``fields``: the plugins need only these, the key and the written fields (an ORM may read
        only those columns); plain reads every field all the same.
        """
        written = {
            self.attname(model, n): self.stored_value(model, n, v) for n, v in values.items()
        }
        return [(row, self.snapshot(row), dict(written)) for row in self.fetch(queryset)]


def changed_values(
    old: Mapping[str, Any], new: Mapping[str, Any], unloaded: Any
) -> dict[str, tuple[Any, Any]]:
    """Field -> ``(old, new)`` for each field of ``new`` whose value differs from ``old``'s.

    A field missing from ``old`` was ``unloaded``; a value
    [`UNKNOWN`][earnorm_aop.adapters.tracking.UNKNOWN] on either side is never a change.
    """
    out = {}
    for n, v in new.items():
        was = old.get(n, unloaded)
        if v is not UNKNOWN and was is not UNKNOWN and was != v:
            out[n] = (was, v)
    return out
