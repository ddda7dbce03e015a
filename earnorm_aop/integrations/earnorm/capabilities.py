"""What single plugins need of EarnORM models, beyond the adapter: their capabilities.

Each is provided for [`EarnORMAdapter`][earnorm_aop.integrations.earnorm.adapter.EarnORMAdapter]
by the package's ``__init__``, under the name the plugin that needs it gives it (see
[`earnorm_aop.adapters.capabilities`][earnorm_aop.adapters.capabilities]):

- ``cached rows`` (the cache): one database, a hit rebuilt as a record;
- ``saving only some fields`` (the ``changes`` plugin's ``update_fields`` mode):
  the values written cut down;
- ``stamps on write`` (timestamp): EarnORM's own ``auto_now`` fields;
- ``audit store`` (audit): documents of the ``earnorm_aop_audit`` collection.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from . import records
from .adapter import AUDIT_COLLECTION

__all__ = ["EarnORMAuditStore", "EarnORMCachedRows", "EarnORMOnlyFields", "EarnORMStamps"]


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


class EarnORMOnlyFields:
    """A save cut down to some fields: only their values are written."""

    def __init__(self, adapter: Any) -> None:
        self.adapter = adapter

    def with_only_fields(
        self, instance: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any], names: Sequence[str]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The save's values cut down to ``names`` (the changed fields); none: nothing is written.

        ``changed_only=True`` tells the woven save (and the adapter's
        ``saves_nothing``) that an empty set of values means no ``write()`` at
        all, so EarnORM stamps nothing either.
        """
        kw = dict(kwargs)
        kw.pop("values", None)
        kw["changed_only"] = True
        values = {n: self.adapter.get_field(instance, n) for n in names}
        if records.is_record(instance):
            records.set_pending(instance, values)
        return (values, *args[1:]), kw


class EarnORMStamps:
    """The fields EarnORM itself sets on every write."""

    def __init__(self, adapter: Any) -> None:
        self.adapter = adapter

    def stamps_on_write(self, model: type, name: str) -> bool:
        """EarnORM's ``write()`` stamps its ``auto_now`` fields (``updated_at``) every time."""
        field = model.__fields__.get(name)  # type: ignore[attr-defined]
        return bool(getattr(field, "auto_now", False))


class EarnORMAuditStore:
    """Audit records as documents of the model database's ``earnorm_aop_audit`` collection."""

    def __init__(self, adapter: Any) -> None:
        self.adapter = adapter

    def write_audit_record(self, model: type, record: Mapping[str, Any]) -> Any:
        """An awaitable insert into the collection (the audit plugin awaits it)."""
        env = model._env  # type: ignore[attr-defined]
        collection = env.adapter._get_collection(AUDIT_COLLECTION)
        doc = dict(record)
        doc["id"] = None if doc.get("id") is None else str(doc["id"])
        return collection.insert_one(doc)

    def write_audit_records(self, model: type, records: Sequence[Mapping[str, Any]]) -> list[Any]:
        """One awaitable insert per record."""
        return [self.write_audit_record(model, r) for r in records]
