"""ORM integrations: adapters that map logical operations onto an ORM's methods."""

from . import _django_startup
from .base import OPERATIONS, Adapter, FieldSpec, adapter_for, register_adapter

_django_startup.install()  # a Django system check; imports no Django (see the module)

__all__ = ["OPERATIONS", "Adapter", "FieldSpec", "adapter_for", "register_adapter"]
