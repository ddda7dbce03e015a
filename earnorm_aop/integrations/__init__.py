"""ORM integrations: adapters that map logical operations onto an ORM's methods."""

from ..adapters.base import OPERATIONS, Adapter, FieldSpec, adapter_for, register_adapter
from . import _django_startup

_django_startup.install()  # a Django system check; imports no Django (see the module)

__all__ = ["OPERATIONS", "Adapter", "FieldSpec", "adapter_for", "register_adapter"]
