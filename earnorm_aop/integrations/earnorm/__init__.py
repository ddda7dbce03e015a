"""EarnORM integration: plugins on EarnORM's async MongoDB models.

Importing this module registers
[`EarnORMAdapter`][earnorm_aop.integrations.earnorm.adapter.EarnORMAdapter]; ``earnorm_aop`` imports
it on its own the first time it meets an EarnORM model, so ``class User(PluginModel, BaseModel)``
with ``class Meta: plugins = [...]`` or ``@with_plugins(...)`` on an EarnORM model is all a user
writes.  Needs the ``earnorm`` extra (Python 3.12+).  See ``docs/earnorm.md``.
"""

from __future__ import annotations

from ...adapters.base import register_adapter
from ...adapters.capabilities import provide
from ...adapters.capability_keys import AUDIT_STORE, CACHED_ROWS, ONLY_FIELDS, WRITE_STAMPS
from .adapter import EarnORMAdapter, adapter
from .backfill import backfill
from .capabilities import (
    EarnORMAuditStore,
    EarnORMCachedRows,
    EarnORMOnlyFields,
    EarnORMStamps,
)
from .database import use_mongomock
from .records import NotFound

__all__ = ["EarnORMAdapter", "NotFound", "adapter", "backfill", "use_mongomock"]

register_adapter(adapter)
# What only one plugin needs, provided under the name that plugin gives it.
provide(EarnORMAdapter, CACHED_ROWS, EarnORMCachedRows)
provide(EarnORMAdapter, ONLY_FIELDS, EarnORMOnlyFields)
provide(EarnORMAdapter, WRITE_STAMPS, EarnORMStamps)
provide(EarnORMAdapter, AUDIT_STORE, EarnORMAuditStore)
