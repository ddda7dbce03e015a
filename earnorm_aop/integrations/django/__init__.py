"""Django integration: plugins on Django models, woven per model, on a real database.

Importing this module registers
[`DjangoAdapter`][earnorm_aop.integrations.django.adapter.DjangoAdapter] (``earnorm_aop`` also
imports it on its own the first time it meets a Django model) and starts reading ``plugins = [...]``
attributes of the model classes Django prepares. Add ``"earnorm_aop.integrations.django"`` to
``INSTALLED_APPS`` to have it imported before every ``models.py`` and to get the audit table;
without it, a model that declares ``plugins`` fails Django's system checks
(``earnorm_aop.E001``, see ``checks.py``).  See ``docs/django.md``.
"""

from __future__ import annotations

from ...adapters.base import register_adapter
from ...adapters.capabilities import provide
from ...adapters.capability_keys import AUDIT_STORE, CACHED_ROWS, ONLY_FIELDS
from ._audit_table import DjangoAuditStore
from .adapter import APP, DjangoAdapter, adapter
from .capabilities import DjangoCachedRows, DjangoOnlyFields
from .declaration import ATTRIBUTE, REGISTRY_ATTRIBUTE, declared_plugins
from .fields import django_field

__all__ = [
    "APP",
    "ATTRIBUTE",
    "REGISTRY_ATTRIBUTE",
    "DjangoAdapter",
    "adapter",
    "declared_plugins",
    "django_field",
]

register_adapter(adapter)
# What only one plugin needs, provided under the name that plugin gives it.
provide(DjangoAdapter, CACHED_ROWS, DjangoCachedRows)
provide(DjangoAdapter, ONLY_FIELDS, DjangoOnlyFields)
provide(DjangoAdapter, AUDIT_STORE, DjangoAuditStore)
