"""The built-in plugins' capabilities: a typed key each, with the protocol it implements.

What one plugin needs of an ORM is that plugin's capability
([`earnorm_aop.adapters.capabilities`][earnorm_aop.adapters.capabilities]): the plugin says
what it does and gives the plain implementation.  The key and its protocol are declared here,
below the plugins, so that an integration, which never imports a plugin, names the key and
mypy checks its class against the protocol::

    provide(DjangoAdapter, AUDIT_STORE, DjangoAuditStore)   # DjangoAuditStore: an AuditStore?

Each plugin re-exports its own (``earnorm_aop.plugins.audit_store.AUDIT_STORE``):

- [`CACHED_ROWS`][earnorm_aop.adapters.capability_keys.CACHED_ROWS]: the cache's database
  aliases and entry decoding (plain: ``earnorm_aop.plugins.cache_rows.PlainCachedRows``);
- [`AUDIT_STORE`][earnorm_aop.adapters.capability_keys.AUDIT_STORE]: where audit's ``table``
  sink writes (plain: ``earnorm_aop.plugins.audit_store.PlainAuditStore``);
- [`ONLY_FIELDS`][earnorm_aop.adapters.capability_keys.ONLY_FIELDS]: a save rewritten to write
  some fields, for ``update_fields=True`` (plain: ``earnorm_aop.plugins.changes.PlainOnlyFields``);
- [`WRITE_STAMPS`][earnorm_aop.adapters.capability_keys.WRITE_STAMPS]: which fields the ORM
  sets on every write itself (plain: ``earnorm_aop.plugins.timestamp.PlainStamps``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from .capabilities import Capability

__all__ = [
    "AUDIT_STORE",
    "CACHED_ROWS",
    "ONLY_FIELDS",
    "WRITE_STAMPS",
    "AuditStore",
    "CachedRows",
    "OnlyFields",
    "Stamps",
]


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


class AuditStore(Protocol):
    """Where the audit ``table`` sink writes (one implementation per adapter)."""

    def write_audit_record(self, model: type, record: Mapping[str, Any]) -> Any:
        """Store one audit record of ``model`` in a table of the same database.

        ``record`` has ``model`` (label), ``id``, ``action``, ``changes``
        (field -> ``[old, new]``), ``actor``, ``time`` (aware UTC datetime),
        ``request_id``, ``client`` and ``reason``.  What it returns is awaited
        by the audit plugin when it is awaitable (an async ORM's insert).
        """

    def write_audit_records(self, model: type, records: Sequence[Mapping[str, Any]]) -> list[Any]:
        """Store the records of one bulk write, in one statement where the ORM can.

        Returns what the writes return (awaitables, on an async ORM).
        """


class OnlyFields(Protocol):
    """What ``update_fields=True`` (the shared change tracking's option) asks of an ORM."""

    def with_only_fields(
        self, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any], names: list[str]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The call of a full ``save`` rewritten to write only the fields ``names`` (none:
        nothing is written); Django: ``update_fields=names``."""


class Stamps(Protocol):
    """What timestamp asks of an ORM that sets some fields itself."""

    def stamps_on_write(self, model: type, name: str) -> bool:
        """Whether the ORM sets field ``name`` on every write, whatever the values (EarnORM's
        ``auto_now``): then a save that changes nothing still changes it."""


CACHED_ROWS: Capability[CachedRows] = Capability("cached rows", CachedRows)
"""The cache's capability: [`CachedRows`][earnorm_aop.adapters.capability_keys.CachedRows]."""

AUDIT_STORE: Capability[AuditStore] = Capability("audit store", AuditStore)
"""Audit's capability: [`AuditStore`][earnorm_aop.adapters.capability_keys.AuditStore]."""

ONLY_FIELDS: Capability[OnlyFields] = Capability("saving only some fields", OnlyFields)
"""update_fields' capability: [`OnlyFields`][earnorm_aop.adapters.capability_keys.OnlyFields]."""

WRITE_STAMPS: Capability[Stamps] = Capability("stamps on write", Stamps)
"""Timestamp's capability ([`Stamps`][earnorm_aop.adapters.capability_keys.Stamps])."""
