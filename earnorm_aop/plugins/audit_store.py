"""The ``audit`` plugin's capability: where the ``table`` sink stores its records.

What only audit needs of an ORM (see
[`earnorm_aop.adapters.capabilities`][earnorm_aop.adapters.capabilities]): an integration
provides it for its adapter under the key
[`AUDIT_STORE`][earnorm_aop.adapters.capability_keys.AUDIT_STORE] (declared below the plugins,
re-exported here: ``provide(MyAdapter, AUDIT_STORE, MyAuditStore)``, the factory given the
adapter, checked by mypy), with the two methods of
[`AuditStore`][earnorm_aop.adapters.capability_keys.AuditStore]: a table of the
model's own database, written in the write's transaction.  An adapter without one gets
[`PlainAuditStore`][earnorm_aop.plugins.audit_store.PlainAuditStore]: the in-memory list
[`TABLE`][earnorm_aop.plugins.audit_store.TABLE] (or, for an adapter written before
capabilities, its own ``write_audit_record`` method).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from ..adapters.base import Adapter
from ..adapters.capabilities import provided
from ..adapters.capability_keys import AUDIT_STORE, AuditStore

__all__ = ["AUDIT_STORE", "TABLE", "AuditStore", "PlainAuditStore", "audit_store"]

TABLE: list[dict[str, Any]] = []
"""The audit records of plain classes (the ``table`` sink without an ORM): an in-memory list."""

_lock = threading.Lock()


class PlainAuditStore:
    """Plain classes: [`TABLE`][earnorm_aop.plugins.audit_store.TABLE], one record at a time."""

    def __init__(self, adapter: Adapter) -> None:
        self.adapter = adapter

    def write_audit_record(self, model: type, record: Mapping[str, Any]) -> Any:
        with _lock:
            TABLE.append(dict(record))

    def write_audit_records(self, model: type, records: Sequence[Mapping[str, Any]]) -> list[Any]:
        return [self.write_audit_record(model, r) for r in records]


class _AdapterMethods(PlainAuditStore):
    """An adapter written before capabilities, with its own ``write_audit_record`` method."""

    def write_audit_record(self, model: type, record: Mapping[str, Any]) -> Any:
        return self.adapter.write_audit_record(model, record)  # type: ignore[attr-defined]

    def write_audit_records(self, model: type, records: Sequence[Mapping[str, Any]]) -> list[Any]:
        many = getattr(self.adapter, "write_audit_records", None)
        if callable(many):
            return list(many(model, records))
        return super().write_audit_records(model, records)


def _plain(adapter: Adapter) -> AuditStore:
    if callable(getattr(adapter, "write_audit_record", None)):
        return _AdapterMethods(adapter)
    return PlainAuditStore(adapter)


def audit_store(adapter: Adapter) -> AuditStore:
    """The capability of ``adapter``: its integration's, else the plain one."""
    found: AuditStore = provided(adapter, AUDIT_STORE, _plain)
    return found
