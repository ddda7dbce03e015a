"""What single plugins need of Django models, beyond the adapter: their capabilities.

Each is provided for [`DjangoAdapter`][earnorm_aop.integrations.django.adapter.DjangoAdapter]
by the package's ``__init__``, under the name the plugin that needs it gives it (see
[`earnorm_aop.adapters.capabilities`][earnorm_aop.adapters.capabilities]):

- ``cached rows`` (the cache): keys per database alias, a hit built by ``from_db``;
- ``saving only some fields`` (the ``changes`` plugin's ``update_fields`` mode):
  ``save(update_fields=...)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import router

from . import state as loading

__all__ = ["DjangoCachedRows", "DjangoOnlyFields"]


class DjangoCachedRows:
    """Keys per database alias; an entry is every concrete field by attname; a hit is a load."""

    def __init__(self, adapter: Any) -> None:
        self.adapter = adapter

    def read_alias(self, model: type, subject: Any) -> str | None:
        """``manager.db`` / ``queryset.db``: the router's read database unless ``using()`` said."""
        db = getattr(subject, "db", None)
        if isinstance(db, str):
            return db
        return str(router.db_for_read(model))

    def cache_aliases(self, model: type, subject: Any) -> Sequence[str | None]:
        """Every alias of ``DATABASES``: a write on the primary drops a replica's entry too."""
        from django.db import connections

        return tuple(connections)

    def cache_misfit(self, model: type, values: Mapping[str, Any], pk: Any) -> str | None:
        """Every concrete field by attname and no other, and the primary key of the key."""
        return loading.misfit(model._meta, values, pk)  # type: ignore[attr-defined]

    def from_values(self, model: type, values: Mapping[str, Any], alias: str | None) -> Any:
        """``from_db`` (a load: ``_state.db``, loaded state), by name in field order."""
        names = loading.attnames(model._meta)  # type: ignore[attr-defined]
        return model.from_db(alias, names, [values[n] for n in names])  # type: ignore[attr-defined]


class DjangoOnlyFields:
    """A full ``save()`` cut down to some fields: ``update_fields``."""

    def __init__(self, adapter: Any) -> None:
        self.adapter = adapter

    def with_only_fields(
        self, instance: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any], names: Sequence[str]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """``update_fields=names`` on a save that wrote every field (attnames are accepted).

        Empty: Django writes nothing and sends no signal.
        """
        kw = dict(kwargs)
        kw["update_fields"] = list(names)
        return tuple(args[:3]), kw
