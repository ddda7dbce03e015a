"""ORM integrations: adapters that map logical operations onto an ORM's methods."""

from .base import OPERATIONS, Adapter, FieldSpec, adapter_for, register_adapter

__all__ = ["OPERATIONS", "Adapter", "FieldSpec", "adapter_for", "register_adapter"]
