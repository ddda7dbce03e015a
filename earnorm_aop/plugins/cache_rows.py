"""The ``cache`` plugin's capability: which databases a row is cached for, and entries as rows.

What only the cache needs of an ORM (see
[`earnorm_aop.adapters.capabilities`][earnorm_aop.adapters.capabilities]): an integration
provides it for its adapter under [`CACHED_ROWS`][earnorm_aop.plugins.cache_rows.CACHED_ROWS]
(``provide(MyAdapter, "cached rows", MyCachedRows)``, the factory given the adapter), with
the four methods of [`CachedRows`][earnorm_aop.plugins.cache_rows.CachedRows]; an adapter
without one gets [`PlainCachedRows`][earnorm_aop.plugins.cache_rows.PlainCachedRows], right
for plain classes and pydantic models.

A cached read must never answer a read from another database, and a hit must
return an instance that looks loaded (its persisted state recorded), as a
query's result would.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from ..adapters.base import Adapter
from ..adapters.capabilities import provided

__all__ = ["CACHED_ROWS", "CachedRows", "PlainCachedRows", "cached_rows"]

CACHED_ROWS = "cached rows"
"""The name integrations provide this capability under."""


class CachedRows(Protocol):
    """What the cache asks of an ORM (one implementation per adapter)."""

    def read_alias(self, model: type, subject: Any) -> str | None:
        """The database a read on ``subject`` (what ``get`` was called on) uses.

        Part of a cache key, so a read from one database never answers a read
        from another.
        """

    def cache_aliases(self, model: type, subject: Any) -> Sequence[str | None]:
        """Every database a cached read of ``model`` may come from (what a write invalidates).

        ``subject`` is what was written (an instance, a queryset): an ORM may
        name the database it was written to.
        """

    def cache_misfit(self, model: type, values: Mapping[str, Any], pk: Any) -> str | None:
        """Why ``values`` (a cache entry) cannot stand for row ``pk`` of ``model``; None if it can.

        A cache is written by other processes, other versions of the code, or
        anyone with access to it: an entry is used only if it holds every
        field of the model (an ORM: and no other) and the primary key of the
        key it is under.
        """

    def from_values(self, model: type, values: Mapping[str, Any], alias: str | None) -> Any:
        """An instance of ``model`` loaded from ``values`` (a snapshot) read on ``alias``.

        What a cache hit returns: a new instance, recorded as loaded (its
        persisted state is ``values``), as a query's result would be.
        """


class PlainCachedRows:
    """The capability for plain classes and pydantic models: one store, built by ``__new__``."""

    def __init__(self, adapter: Adapter) -> None:
        self.adapter = adapter

    def read_alias(self, model: type, subject: Any) -> str | None:
        """``None``: one store."""
        return None

    def cache_aliases(self, model: type, subject: Any) -> Sequence[str | None]:
        """The one store."""
        return (None,)

    def cache_misfit(self, model: type, values: Mapping[str, Any], pk: Any) -> str | None:
        """Every field of ``field_names`` (a pydantic model: and no other), and the key's id.

        A plain class's public attributes are fields too; an ``id``/``pk``
        value, if the entry has one, must equal ``pk``.
        """
        names = self.adapter.field_names(model)
        missing = [n for n in names if n not in values]
        if missing:
            return f"it lacks the field(s) {', '.join(missing)}"
        if isinstance(getattr(model, "model_fields", None), Mapping) and len(values) != len(names):
            return f"it has fields the model has not: {sorted(set(values) - set(names))}"
        for name in ("pk", "id"):
            value = values.get(name)
            if value is not None:
                return None if value == pk else f"its {name} is {value!r}, not the key's {pk!r}"
        return None

    def from_values(self, model: type, values: Mapping[str, Any], alias: str | None) -> Any:
        """pydantic's ``model_construct``, otherwise ``__new__`` and one ``setattr`` per field."""
        data = dict(values)
        construct = getattr(model, "model_construct", None)
        if construct is not None:
            obj = construct(**data)
        else:
            new: Any = model.__new__
            obj = new(model)
            for name, value in data.items():
                setattr(obj, name, value)
        self.adapter.remember_state(obj, values)
        return obj


def cached_rows(adapter: Adapter) -> CachedRows:
    """The capability of ``adapter``: its integration's, else the plain one."""
    found: CachedRows = provided(adapter, CACHED_ROWS, PlainCachedRows)
    return found
