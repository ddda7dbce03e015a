"""Caching: what a cache needs from an ORM to key reads and rebuild instances.

A cached read must never answer a read from another database, and a hit must
return an instance that looks loaded (its persisted state recorded), as a
query's result would.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._persisted_state import AdapterPersistedState

__all__ = ["AdapterCaching"]


class AdapterCaching(AdapterPersistedState):
    """The cache-related methods of :class:`~earnorm_aop.adapters.base.Adapter`."""

    def read_alias(self, model: type, subject: Any) -> str | None:
        """The database a read on ``subject`` (what ``get`` was called on) uses.

        Part of a cache key, so a read from one database never answers a read
        from another.  Plain: ``None`` (one store).  Django: the manager's
        ``db`` (``db_manager("other")``, ``using()``, the router).
        """
        return None

    def cache_aliases(self, model: type, subject: Any) -> Sequence[str | None]:
        """Every database a cached read of ``model`` may come from (what a write invalidates).

        ``subject`` is what was written (an instance, a queryset): an ORM may
        name the database it was written to.
        """
        return (None,)

    def cache_misfit(self, model: type, values: Mapping[str, Any], pk: Any) -> str | None:
        """Why ``values`` (a cache entry) cannot stand for row ``pk`` of ``model``; None if it can.

        A cache is written by other processes, other versions of the code, or
        anyone with access to it: an entry is used only if it holds every
        field of the model (an ORM: and no other) and the primary key of the
        key it is under.  Plain: every field of :meth:`field_names` (a
        pydantic model: and no other; a plain class's public attributes are
        fields too), and an ``id``/``pk`` value, if it has one, equal to ``pk``.
        """
        names = self.field_names(model)
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
        """An instance of ``model`` loaded from ``values`` (a :meth:`snapshot`) read on ``alias``.

        What a cache hit returns: a new instance, recorded as loaded (its
        persisted state is ``values``).  Plain: pydantic's ``model_construct``,
        otherwise the class's ``__new__`` and one ``setattr`` per field.
        Django: ``Model.from_db(alias, names, values)``, as a query would.
        """
        data = dict(values)
        construct = getattr(model, "model_construct", None)
        if construct is not None:
            obj = construct(**data)
        else:
            new: Any = model.__new__
            obj = new(model)
            for name, value in data.items():
                setattr(obj, name, value)
        self.remember_state(obj, values)
        return obj
