"""The ``cached rows`` capability of EarnORM models: one database, hits rebuilt as records.

What the ``cache`` plugin needs of an ORM beyond the adapter (see
[`earnorm_aop.adapters.capabilities`][earnorm_aop.adapters.capabilities]), provided for
[`EarnORMAdapter`][earnorm_aop.integrations.earnorm.adapter.EarnORMAdapter] by the package's
``__init__``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from . import records

__all__ = ["EarnORMCachedRows"]


class EarnORMCachedRows:
    """Entries hold every field of a snapshot; a hit is the record rebuilt (no read)."""

    def __init__(self, adapter: Any) -> None:
        self.adapter = adapter

    def read_alias(self, model: type, subject: Any) -> str | None:
        """``None``: a model's records live in one database."""
        return None

    def cache_aliases(self, model: type, subject: Any) -> Sequence[str | None]:
        """The one database."""
        return (None,)

    def cache_misfit(self, model: type, values: Mapping[str, Any], pk: Any) -> str | None:
        """Every field of the model and no other (a snapshot's), and the key's ``id``."""
        names = self.adapter.field_names(model)
        if len(values) != len(names) or not all(n in values for n in names):
            return f"its fields are {sorted(map(str, values))}, not {sorted(names)}"
        if values["id"] != pk:
            return f"its id is {values['id']!r}, not the key's {pk!r}"
        return None

    def from_values(self, model: type, values: Mapping[str, Any], alias: str | None) -> Any:
        """The record ``values["id"]`` holding ``values`` (a cache hit: no read)."""
        return records.rebuilt(model, (values["id"],), dict(values))
