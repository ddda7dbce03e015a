"""SQLAlchemy 2.x integration: plugins on mapped classes, with ``Session`` and ``AsyncSession``.

Importing this module registers
[`SQLAlchemyAdapter`][earnorm_aop.integrations.sqlalchemy.adapter.SQLAlchemyAdapter]
(``earnorm_aop`` also imports it on its own the first time it meets a mapped class) and, when a
model is first woven, installs the listeners on the ``Session`` class: the flush calls each object's
woven ``save`` / ``delete`` (``flush.py``), ORM statements run through the woven ``get_queryset`` /
``*_many`` (``statements.py``), and commit-aware work waits for the transaction
(``transactions.py``).  See ``docs/sqlalchemy.md``.
"""

from __future__ import annotations

from ...adapters.base import register_adapter
from ...adapters.capabilities import provide
from ...adapters.capability_keys import AUDIT_STORE, CACHED_ROWS
from .adapter import SQLAlchemyAdapter, adapter, install
from .audit import audit_metadata, audit_table
from .capabilities import SQLAlchemyAuditStore, SQLAlchemyCachedRows
from .declaration import PluginModel
from .fields import sqlalchemy_column
from .statements import INCLUDE_DELETED, RowSet

__all__ = [
    "INCLUDE_DELETED",
    "PluginModel",
    "RowSet",
    "SQLAlchemyAdapter",
    "adapter",
    "audit_metadata",
    "audit_table",
    "install",
    "sqlalchemy_column",
]

register_adapter(adapter)
# What only one plugin needs, provided under the name that plugin gives it.
provide(SQLAlchemyAdapter, CACHED_ROWS, SQLAlchemyCachedRows)
provide(SQLAlchemyAdapter, AUDIT_STORE, SQLAlchemyAuditStore)
