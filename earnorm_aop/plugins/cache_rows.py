"""The ``cache`` plugin's capability: which databases a row is cached for, and entries as rows.

What only the cache needs of an ORM (see
[`earnorm_aop.adapters.capabilities`][earnorm_aop.adapters.capabilities]): an integration
provides it for its adapter under the key
[`CACHED_ROWS`][earnorm_aop.adapters.capability_keys.CACHED_ROWS] (declared below the plugins,
re-exported here: ``provide(MyAdapter, CACHED_ROWS, MyCachedRows)``, the factory given the
adapter, checked by mypy), with the four methods of
[`CachedRows`][earnorm_aop.adapters.capability_keys.CachedRows]; an adapter
without one gets [`PlainCachedRows`][earnorm_aop.plugins.cache_rows.PlainCachedRows], right
for plain classes and pydantic models.

A cached read must never answer a read from another database, and a hit must
return an instance that looks loaded (its persisted state recorded), as a
query's result would.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..adapters.base import Adapter
from ..adapters.capabilities import provided
from ..adapters.capability_keys import CACHED_ROWS, CachedRows

__all__ = ["CACHED_ROWS", "CachedRows", "PlainCachedRows", "cached_rows"]


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
