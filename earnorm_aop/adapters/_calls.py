"""What an operation's call means: reading and rewriting the calls of the logical operations.

The built-in plugins read and rewrite the calls of ``save``, ``update``,
``save_many``, ... through these methods of
[`Adapter`][earnorm_aop.adapters.base.Adapter], never through one ORM's
signatures; an ORM's adapter overrides what its signatures do differently.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ._fields import AdapterFields

__all__ = ["AdapterCalls"]


class AdapterCalls(AdapterFields):
    """The call methods of the adapter; the defaults are a plain class's conventions."""

    # -- what an operation's call means ----------------------------------------
    #
    # The built-in plugins read and rewrite the calls of the logical operations
    # through these methods, never through one ORM's signatures.  The plain
    # convention (followed by earnorm_aop.integrations.memory) is:
    # ``save(self)``, ``delete(self)``, ``update(self, **values)`` on instances;
    # ``get(cls, pk)``, ``get_queryset(cls)``, ``save_many(cls, objs)``,
    # ``update_many(cls, queryset, **values)`` and ``delete_many(cls, queryset)``
    # as classmethods.

    def now(self) -> datetime:
        """The current time as the ORM stores it (plain: timezone-aware UTC)."""
        return datetime.now(UTC)

    def model_label(self, model: type) -> str:
        """A stable name of ``model`` for cache keys and audit records (an ORM's own label)."""
        return f"{model.__module__}.{model.__qualname__}"

    def watch_loads(self, model: type, watcher: Callable[[Any], None]) -> bool:
        """Call ``watcher(instance)`` for each instance of ``model`` a query loads; whether it can.

        Installed once per model, only where a plugin asked for loads
        (``@hook("after_access", loads=True)``), so a model nobody asked for pays
        nothing per row.  The adapter calls
        [`earnorm_aop.adapters.loads.notify`][earnorm_aop.adapters.loads.notify] where its ORM
        builds a record from a row (its load hook).  Plain classes: no (their queries are their own
        code); the memory models do.
        """
        return False

    def has_queryset(self, model: type) -> bool:
        """Whether ``model`` has a default queryset (plain: a ``get_queryset`` method)."""
        return callable(getattr(model, "get_queryset", None))

    def queryset(self, model: type) -> Any:
        """The default queryset, through the woven ``get_queryset``."""
        return getattr(model, "get_queryset")()  # noqa: B009 - plain classes only by convention

    def lookup_pk(self, model: type, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
        """The primary key a ``get`` call looks up, or ``None`` if it is not a lookup by key.

        Plain: ``get(pk)``, ``get(pk=...)`` or ``get(id=...)``; anything else
        (several conditions, another field) is not a primary-key lookup.
        """
        if len(args) == 1 and not kwargs:
            return args[0]
        if not args and len(kwargs) == 1:
            ((key, value),) = kwargs.items()
            if key in ("pk", "id", "pk__exact", "id__exact"):
                return value
        return None

    def bulk_objects(
        self, args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> tuple[list[Any], tuple[Any, ...], dict[str, Any]]:
        """The objects of a ``save_many`` call as a list, and the call rewritten to pass that list.

        Plain: the first positional argument or ``objs=`` (an ORM's bulk insert
        says where its objects are).  The rewritten call passes the very list returned,
        so a generator is consumed once and every plugin sees the same objects.
        """
        kw = dict(kwargs)
        if args:
            objs = list(args[0])
            return objs, (objs, *args[1:]), kw
        for key in ("objs", "objects"):
            if key in kw:
                objs = list(kw[key])
                kw[key] = objs
                return objs, tuple(args), kw
        return [], tuple(args), kw

    def bulk_queryset(self, instance: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
        """The queryset an ``update_many`` / ``delete_many`` call acts on.

        Plain: the first argument (``update_many(cls, queryset, **values)``); an
        ORM whose queryset has its own ``update()`` / ``delete()``: ``instance``.
        """
        if args:
            return args[0]
        return kwargs.get("queryset")

    def update_values(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """The field values an ``update`` / ``update_many`` call writes (keywords or a dict)."""
        values: dict[str, Any] = {}
        for arg in args:
            if isinstance(arg, Mapping):
                values.update(arg)
        values.update(kwargs)
        return values

    def is_expression(self, value: Any) -> bool:
        """Whether ``value`` (of an ``update`` / ``update_many`` call) is computed by the database.

        Plain: never.  An ORM with query expressions (``F("views") + 1``): any
        of them, whose result only the database knows; plugins must not treat
        it as the value written.
        """
        return False

    def evaluate(self, queryset: Any, values: Mapping[str, Any]) -> dict[Any, dict[str, Any]]:
        """What ``update_many(queryset, **values)`` would write, row by row, without writing.

        Returns primary key -> field -> value for every row ``queryset``
        matches.  Plain: the values as given (a plain value is its own
        result).  An ORM with expressions evaluates them in one read of the rows.
        """
        return {self.pk(item): dict(values) for item in self.fetch(queryset)}

    def reread(
        self, queryset: Any, pks: Sequence[Any], names: Sequence[str]
    ) -> dict[Any, dict[str, Any]]:
        """The stored values of ``names`` of the rows ``pks`` (after a write): pk -> field -> value.

        Rows are found by primary key, whether ``queryset`` still matches them
        or not.  Plain: the items of ``queryset``.  An ORM: one read of those
        rows by key, unfiltered, keyed by
        [`attname`][earnorm_aop.adapters._calls.AdapterCalls.attname].
        """
        wanted = set(pks)
        return {
            pk: {n: self.get_field(item, n) for n in names}
            for item in self.fetch(queryset)
            if (pk := self.pk(item)) in wanted
        }

    def with_update_values(
        self, args: tuple[Any, ...], kwargs: Mapping[str, Any], values: Mapping[str, Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The ``update`` / ``update_many`` call rewritten to write ``values`` (as keywords)."""
        return tuple(a for a in args if not isinstance(a, Mapping)), dict(values)

    def with_save_fields(
        self, instance: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any], names: Sequence[str]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The ``save`` call rewritten so the fields ``names`` are written too.

        Plain: a save writes every field, so the call is unchanged.  An ORM
        whose save can be restricted to some fields adds ``names`` to them.
        """
        return tuple(args), dict(kwargs)

    def saves_nothing(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> bool:
        """Whether this ``save`` call writes no field at all (a save restricted to none).

        A call without arguments always writes: the change tracking asks only
        when there are some.
        """
        return False

    def finished(self, model: type, value: Any) -> Any:
        """What a model method a plugin contributes returns when it has nothing to do.

        Plain: ``value``.  An async ORM, whose model methods are all awaited:
        an awaitable of ``value``.
        """
        return value

    def read_if_unknown(self, instance: Any) -> Any:
        """Make ``instance``'s stored values known to
        [`get_field`][earnorm_aop.adapters._calls.AdapterCalls.get_field]; ``None`` when they are.

        A model method a plugin contributes (softdelete's ``restore()``) decides
        from the instance's values.  Plain: nothing to do (an attribute).  An
        ORM whose records may have read nothing yet: an awaitable that reads
        them first.
        """
        return None

    def saved_fields(
        self, model: type, args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> frozenset[str] | None:
        """The fields this ``save`` call writes, as snapshots name them; ``None``: every field.

        Plain: a save writes every field.  An ORM whose save can be restricted:
        those fields, by [`attname`][earnorm_aop.adapters._calls.AdapterCalls.attname].
        A call without arguments writes every field: the change tracking asks
        only when there are some.
        """
        return None

    def attname(self, model: type, name: str) -> str:
        """The name [`snapshot`][earnorm_aop.adapters._calls.AdapterCalls.snapshot] gives field
        ``name`` (a foreign key's column name)."""
        return name

    def save_instance(self, instance: Any, fields: Sequence[str] | None = None) -> Any:
        """Save ``instance`` through its woven ``save`` (``fields`` only, where the ORM can)."""
        return instance.save()

    def delete_instance(self, instance: Any) -> Any:
        """Delete ``instance`` through its woven ``delete``."""
        return instance.delete()

    def update_queryset(self, model: type, queryset: Any, values: Mapping[str, Any]) -> Any:
        """Run the woven ``update_many`` on ``queryset``; return its result (the row count).

        Plain: ``model.update_many(queryset, **values)``; an ORM: its queryset's update.
        """
        return getattr(model, "update_many")(queryset, **values)  # noqa: B009

    def deleted_result(self, model: type, count: int) -> Any:
        """What ``delete_many`` returns for ``count`` rows.

        Plain: ``count``; an ORM: what its own bulk delete returns.
        """
        return count

    def fetch(self, queryset: Any) -> list[Any]:
        """The instances ``queryset`` matches now, leaving ``queryset`` itself untouched.

        An ORM whose querysets cache their rows reads a copy, leaving that cache empty.
        """
        return list(queryset)

    def pks(self, queryset: Any) -> list[Any]:
        """Primary keys ``queryset`` matches (an ORM: reading only the keys)."""
        return [self.pk(item) for item in self.fetch(queryset)]
